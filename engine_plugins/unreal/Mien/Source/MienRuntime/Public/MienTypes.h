// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienTypes.generated.h"

/** Suffix of channels that are rotations in degrees (eyes, head), not morph targets. */
#define MIEN_DEGREE_SUFFIX TEXT("_deg")

/** How a line's emotion is given. */
UENUM(BlueprintType)
enum class EMienEmotionKind : uint8
{
	/** Neutral, or the NPC's state (auto) when the line has an NPC id. */
	Default UMETA(DisplayName = "Default (auto with NPC id, else neutral)"),
	/** One category at an intensity for the whole line. */
	Category,
	/** A valence/arousal/dominance point for the whole line. */
	Vad UMETA(DisplayName = "Valence/Arousal/Dominance"),
	/** Category keyframes over the line. */
	Keyframes,
	/** The NPC's current emotion held by the sidecar (requires an NPC id). */
	Auto,
};

/** One emotion keyframe: a category at an intensity at a time of the line. */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienEmotionKeyframe
{
	GENERATED_BODY()

	/** Seconds from the start of the line (>= 0, strictly increasing). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	float TimeS = 0.f;

	/** Category name (neutral, happy, sad, angry, fear, disgust, surprise or an alias). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString Category = TEXT("neutral");

	/** Intensity 0..1. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (ClampMin = "0", ClampMax = "1"))
	float Intensity = 1.f;
};

/** The emotion of a line (maps to mien.v1 EmotionSpec). */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienEmotion
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	EMienEmotionKind Kind = EMienEmotionKind::Default;

	/** Category name for Kind = Category. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString Category = TEXT("neutral");

	/** Intensity 0..1 for Kind = Category. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (ClampMin = "0", ClampMax = "1"))
	float Intensity = 1.f;

	/** Valence, arousal, dominance in [-1, 1] for Kind = Vad. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FVector Vad = FVector::ZeroVector;

	/** Keyframes for Kind = Keyframes. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TArray<FMienEmotionKeyframe> Keyframes;

	/** Game time of the line for mood decay (Kind = Auto); < 0 = unset. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	float GameTimeS = -1.f;

	static FMienEmotion MakeCategory(const FString& InCategory, float InIntensity)
	{
		FMienEmotion Emotion;
		Emotion.Kind = EMienEmotionKind::Category;
		Emotion.Category = InCategory;
		Emotion.Intensity = InIntensity;
		return Emotion;
	}
};

/** Outcome of a request: ok, or an error code and message (the plugin never throws). */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienResult
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	bool bOk = false;

	/**
	 * Error code: the gateway's (invalid_argument, not_found, failed_precondition, resource_exhausted,
	 * deadline_exceeded, unauthenticated, internal) or the plugin's own (transport_error, timeout,
	 * bad_response, unsupported_audio, cancelled, no_target). Empty on success.
	 */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Code;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Message;

	/** HTTP status (0 when no response arrived). */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	int32 HttpStatus = 0;

	static FMienResult Success(int32 InStatus = 200)
	{
		FMienResult Result;
		Result.bOk = true;
		Result.HttpStatus = InStatus;
		return Result;
	}

	static FMienResult Failure(const FString& InCode, const FString& InMessage, int32 InStatus = 0)
	{
		FMienResult Result;
		Result.Code = InCode;
		Result.Message = InMessage;
		Result.HttpStatus = InStatus;
		return Result;
	}

	FString ToString() const { return bOk ? FString(TEXT("ok")) : FString::Printf(TEXT("%s: %s"), *Code, *Message); }
};

/** One phone of the line with its viseme. */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienPhone
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float StartS = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float EndS = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Phone;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Word;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Viseme;
};

/** Per-frame facial curves of one line (mien.v1 AnimationTrack). Channel names come from the sidecar. */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienTrack
{
	GENERATED_BODY()

	/** Ordered channel names: morph targets / AnimBP curves of the rig profile. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FName> ChannelNames;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float Fps = 60.f;

	/** Frames received so far. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	int32 FrameCount = 0;

	/** Frame-major values: Values[Frame * ChannelNames.Num() + Channel]. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<float> Values;

	/** Path the sidecar took: aligned, recognized, neural or idle. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Mode;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FString> Warnings;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float AudioDurationS = 0.f;

	/** The seed used (uint64 as a decimal string). */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Seed;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Rig;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString RequestId;

	/** The emotion used, as category weights. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TMap<FString, float> Emotion;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FMienPhone> Phones;

	/** False while a streamed track is still receiving frames. */
	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	bool bComplete = true;

	int32 NumChannels() const { return ChannelNames.Num(); }

	float Duration() const { return Fps > 0.f ? static_cast<float>(FrameCount) / Fps : 0.f; }

	/** Empty when consistent, else what is wrong. */
	FString Validate() const;

	/** Values at TimeS, linearly interpolated, held outside the track (MienCore::SampleFrames). Empty before the
	 * first frame. */
	void Sample(double TimeS, TArray<float>& OutValues) const;

	/** Appends a streamed batch; false (nothing changed) unless it is the next contiguous batch. */
	bool AppendFrames(int32 FirstFrame, int32 BatchCount, const TArray<float>& BatchValues);
};

/** A rig profile offered by the sidecar (Describe). */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienRigInfo
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString Name;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FName> ChannelNames;
};

/** What the sidecar offers (the fields of mien.v1 ServiceInfo the plugin uses). */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienServiceInfo
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FMienRigInfo> Rigs;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	FString DefaultRig;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	TArray<FString> Emotions;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float DefaultFps = 60.f;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float MaxAudioS = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float MinFps = 1.f;

	UPROPERTY(BlueprintReadOnly, Category = "Mien")
	float MaxFps = 240.f;
};

/** Audio of a line: a complete file (WAV/OGG/FLAC/MP3...) or raw s16le PCM. */
struct MIENRUNTIME_API FMienAudio
{
	/** Complete audio file bytes; used when not empty. */
	TArray<uint8> FileBytes;
	/** Signed 16-bit little-endian interleaved samples; used when FileBytes is empty. */
	TArray<uint8> Pcm16;
	int32 SampleRateHz = 16000;
	int32 NumChannels = 1;

	bool IsEmpty() const { return FileBytes.Num() == 0 && Pcm16.Num() == 0; }
};

/** Everything an AnimateLine request carries (mien.v1 AnimateLineRequest). */
struct MIENRUNTIME_API FMienLineRequest
{
	FMienAudio Audio;
	FString Transcript;
	FMienEmotion Emotion;
	float Fps = 60.f;
	FString Rig = TEXT("arkit52");
	FString NpcId;
	/** < 0 = unset. */
	int64 Seed = -1;
	float ExpressionScale = 1.f;
	float BlinkScale = 1.f;
	float GazeScale = 1.f;
	/** > 0 requests an idle track of this many seconds (Audio must be empty). */
	float IdleDurationS = 0.f;
};

/** One output of a channel map: Target = clamp(Offset + Gain * Source). */
USTRUCT(BlueprintType)
struct MIENRUNTIME_API FMienChannelRule
{
	GENERATED_BODY()

	/** The sidecar channel read (see Describe or the track), e.g. jawOpen or headYaw_deg. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FName Source;

	/** The morph target / curve written; None keeps the source's name. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FName Target;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	float Gain = 1.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	float Offset = 0.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	bool bClamp = false;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (EditCondition = "bClamp"))
	float ClampMin = 0.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (EditCondition = "bClamp"))
	float ClampMax = 1.f;
};
