// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "Engine/EngineTypes.h"
#include "MienCore/MienCoreMapping.h"
#include "MienTypes.h"
#include "MienFaceComponent.generated.h"

class UAudioComponent;
class UMienChannelMap;
class UMienClient;
class UMienLineAsset;
class USkeletalMeshComponent;
class USoundBase;
class USoundWave;
class USoundWaveProcedural;
class FMienStreamSession;
class FMienLiveLinkSource;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienLineStarted, const FMienTrack&, Track);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FOnMienLineFinished);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienLineFailed, const FMienResult&, Result);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienTrackReceived, const FMienTrack&, Track);

/**
 * Speaks dialogue lines with Mien facial animation and applies the curves in sync with the audio as it plays:
 * as morph targets of the face mesh, as named curves (GetCurves / GetCurveValue, for an AnimBP), as a Live Link
 * subject (a stock MetaHuman's face AnimBP follows it), and as rotations by group (GetRotationDegrees: eyes,
 * head) for bone nodes. Between lines it loops an idle track. Channel names always come from the sidecar; an
 * optional UMienChannelMap renames, scales, offsets and clamps them per character.
 *
 * Audio: BeginStream / PushPcm / EndStream take PCM as a TTS produces it (streamed at production pace, played
 * through a USoundWaveProcedural that ends when its audio has played); SayPcm is that with one push; Say plays
 * a SoundWave using its baked UMienLineAsset (cooked builds: no sidecar needed) or, in editor builds, its
 * imported PCM. Calls are retried with back-off; a line that still fails plays with the idle face.
 */
UCLASS(ClassGroup = (Animation), meta = (BlueprintSpawnableComponent), DisplayName = "Mien Face")
class MIENRUNTIME_API UMienFaceComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UMienFaceComponent();

	/** Face mesh whose morph targets are driven. Empty = the owner's component named FaceMeshName, else its first
	 * skeletal mesh. It ticks after this component (a tick prerequisite), so each frame's values reach its pose. */
	UPROPERTY(EditAnywhere, Category = "Mien",
		meta = (UseComponentPicker, AllowedClasses = "/Script/Engine.SkeletalMeshComponent"))
	FComponentReference FaceMesh;

	/** Name of the face mesh component to look up when FaceMesh is empty (MetaHumans call it "Face"). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FName FaceMeshName = TEXT("Face");

	/** Audio component that plays the lines; empty = one is created and attached to the face mesh. */
	UPROPERTY(
		EditAnywhere, Category = "Mien", meta = (UseComponentPicker, AllowedClasses = "/Script/Engine.AudioComponent"))
	FComponentReference VoiceAudio;

	/** Per-character rename / gain / offset / clamp of the sidecar's channels (optional). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TObjectPtr<UMienChannelMap> ChannelMap;

	/** Baked lines (SoundWave + track) Say looks up first: what a packaged game uses for scripted lines. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TArray<TObjectPtr<UMienLineAsset>> BakedLines;

	/** Publish the face as this Live Link subject (None = off); set a MetaHuman's LLink Face Subj to it. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Live Link")
	FName LiveLinkSubject;

	/** Rig profile ("" = the project default): arkit52, metahuman, vrm, oculus15 or a custom one. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString Rig;

	/** Frames per second requested (0 = the project default). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (ClampMin = "0", ClampMax = "240"))
	float Fps = 0.f;

	/** The speaking NPC. With Emotion Kind = Default, lines and idle use its state held by the sidecar (auto). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString NpcId;

	/** Stream Say's audio over WebSocket (neural mode, starts sooner, no transcript). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	bool bUseStreaming = false;

	/** Seed of blinks, gaze and micro-motion; < 0 = unset (idle tracks then use a random seed). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	int64 Seed = -1;

	/** Apply channels as morph targets of the face mesh (off when an AnimBP or Live Link consumes them). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	bool bApplyMorphTargets = true;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Layers", meta = (ClampMin = "0", ClampMax = "2"))
	float ExpressionScale = 1.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Layers", meta = (ClampMin = "0", ClampMax = "2"))
	float BlinkScale = 1.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Layers", meta = (ClampMin = "0", ClampMax = "2"))
	float GazeScale = 1.f;

	/** Loop an idle track between lines. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Idle")
	bool bIdleEnabled = true;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Idle", meta = (ClampMin = "1", ClampMax = "60"))
	float IdleDurationS = 8.f;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Idle")
	FMienEmotion IdleEmotion;

	/** Seconds of cross-fade between idle and a line. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Timing", meta = (ClampMin = "0", ClampMax = "1"))
	float BlendTimeS = 0.15f;

	/** Seconds of frames a streamed Say waits for before its audio starts. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Timing", meta = (ClampMin = "0", ClampMax = "1"))
	float StartBufferS = 0.1f;

	/** The same for PCM pushed with PushPcm (covers a real-time TTS's look-ahead and tail). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Timing", meta = (ClampMin = "0", ClampMax = "2"))
	float PushStartBufferS = 0.4f;

	/** Play a line's audio (with the idle face) when it cannot be animated. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien|Timing")
	bool bPlayAudioOnFailure = true;

	UPROPERTY(BlueprintAssignable, Category = "Mien")
	FOnMienLineStarted OnLineStarted;

	UPROPERTY(BlueprintAssignable, Category = "Mien")
	FOnMienLineFinished OnLineFinished;

	UPROPERTY(BlueprintAssignable, Category = "Mien")
	FOnMienLineFailed OnLineFailed;

	/** Fired by RequestTrack when the track has arrived. */
	UPROPERTY(BlueprintAssignable, Category = "Mien")
	FOnMienTrackReceived OnTrackReceived;

	/**
	 * Speaks a SoundWave (transcript Text, "" = none): its baked UMienLineAsset from BakedLines when there is one
	 * (any build, no sidecar); else, in editor builds, its imported PCM sent to the sidecar. Cooked SoundWaves
	 * carry no PCM: without a baked line the audio plays with the idle face and OnLineFailed says why.
	 */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void Say(USoundWave* Sound, const FString& Text, FMienEmotion Emotion);

	/** Plays a baked line (its SoundWave and track); works in packaged games with no sidecar. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void SayLine(UMienLineAsset* Line);

	/** Speaks a whole buffer of signed 16-bit little-endian PCM: BeginStream, one PushPcm, EndStream. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void SayPcm(
		const TArray<uint8>& Pcm16, int32 SampleRate, int32 NumChannels, const FString& Text, FMienEmotion Emotion);

	/**
	 * Starts a line whose audio arrives while it plays (a TTS): s16le PCM at SampleRate with NumChannels
	 * interleaved. Then PushPcm each piece as produced and EndStream after the last. The audio starts once frames
	 * for PushStartBufferS are in; the face follows what has been played. False (and OnLineFailed) on bad input.
	 */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	bool BeginStream(int32 SampleRate, int32 NumChannels, FMienEmotion Emotion);

	/** Adds produced PCM to the line started by BeginStream. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void PushPcm(const TArray<uint8>& Pcm16);

	/** Ends the audio of the line started by BeginStream. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void EndStream();

	/** Requests the track of a line without playing it; the result arrives in OnTrackReceived or OnLineFailed. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void RequestTrack(USoundWave* Sound, const FString& Text, FMienEmotion Emotion);

	/** Plays Sound (may be None) and applies Track in sync with it. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void PlayTrack(USoundBase* Sound, const FMienTrack& Track);

	/** Stops the current line and returns to idle (no OnLineFinished). */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void StopLine();

	/** Applies one frame of values, in the order of the track's channel names (before the channel map). */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void ApplyFrame(const TArray<float>& Values);

	/** The last applied value of every channel (after the channel map), by name: feed it to a Modify Curve node. */
	UFUNCTION(BlueprintPure, Category = "Mien")
	TMap<FName, float> GetCurves() const { return Curves; }

	/** The last applied value of a channel (0 when unknown). */
	UFUNCTION(BlueprintPure, Category = "Mien")
	float GetCurveValue(FName Channel) const;

	/**
	 * Yaw (X), pitch (Y) and roll (Z) in degrees of a rotation group as last applied: groups come from channel
	 * names like eyeYawLeft_deg (eyeLeft) or headPitch_deg (head); zero when the track has no such channels.
	 * Feed them to Transform (Modify) Bone nodes for eye and head bones.
	 */
	UFUNCTION(BlueprintPure, Category = "Mien")
	FVector GetRotationDegrees(FName Group) const;

	/**
	 * The channels and values as last applied (after the channel map and the idle/line blend), in one order: what
	 * the Mien Face AnimGraph node (FAnimNode_MienFace) writes as curves. Game thread.
	 */
	void GetAppliedCurves(TArray<FName>& OutNames, TArray<float>& OutValues) const
	{
		OutNames = OutputNames;
		OutValues = MappedValues;
	}

	/** The rotation groups of the current channels. */
	UFUNCTION(BlueprintPure, Category = "Mien")
	TArray<FName> GetRotationGroups() const;

	UFUNCTION(BlueprintPure, Category = "Mien")
	bool IsSpeaking() const { return State != EState::Idle; }

	/** Sets the face mesh (and its tick prerequisite) and rebinds channels. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void SetFaceMesh(USkeletalMeshComponent* Mesh);

	void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

protected:
	void BeginPlay() override;
	void EndPlay(const EEndPlayReason::Type EndPlayReason) override;

private:
	enum class EState : uint8
	{
		Idle,
		Requesting,
		Buffering,
		Speaking,
	};

	FMienLineRequest MakeRequest(const FString& Text, const FMienEmotion& Emotion) const;
	void BeginLine(USoundBase* Sound, const FMienEmotion& Emotion);
	void Speak(USoundBase* Sound, const FMienAudio& Audio, const FString& Text, const FMienEmotion& Emotion);
	void OpenStream();
	void TickStream();
	void StartLine();
	void EndLine();
	void FailLine(const FMienResult& Result);
	void CloseStream();
	void RequestIdle();
	void BeginBlend();
	void ApplyTrackAt(const FMienTrack& Track, double TimeS);
	void BindChannels(const TArray<FName>& Names);
	void FeedProcedural();
	double PlaybackTimeS();
	double NowS() const;
	void HandlePlaybackPercent(const UAudioComponent* Component, const USoundWave* Wave, const float Percent);
	void HandleAudioFinished(UAudioComponent* Component);

	UPROPERTY(Transient)
	TObjectPtr<UMienClient> Client;

	UPROPERTY(Transient)
	TObjectPtr<USkeletalMeshComponent> ResolvedFaceMesh;

	UPROPERTY(Transient)
	TObjectPtr<UAudioComponent> ResolvedVoice;

	UPROPERTY(Transient)
	TObjectPtr<USoundBase> LineSound;

	UPROPERTY(Transient)
	TObjectPtr<USoundWaveProcedural> StreamSound;

	EState State = EState::Idle;
	int32 LineId = 0;
	FMienTrack LineTrack;
	bool bHasLineTrack = false;
	FMienTrack IdleTrack;
	bool bHasIdle = false;
	bool bIdleRequesting = false;
	double IdleStartS = 0.0;
	double LineStartS = 0.0;
	double LastPercentStampS = -1.0;
	double LastPercentTimeS = 0.0;
	bool bHasAudio = false;

	// Streaming of the current line.
	TSharedPtr<FMienStreamSession> Stream;
	FMienEmotion LineEmotion;
	TArray<uint8> StreamPcm;
	int32 StreamRate = 16000;
	int32 StreamChannels = 1;
	int32 StreamAttempt = 0;
	bool bStreamInputEnded = false;
	bool bStreamEnded = false;
	bool bPushedAudio = false;
	int64 QueuedBytes = 0;

	// Application.
	TArray<FName> SourceNames;
	TArray<FName> OutputNames;
	TArray<float> SampleScratch;
	TArray<float> MappedValues;
	TMap<FName, float> Curves;
	TMap<FName, float> BlendFrom;
	TMap<FName, FIntVector> RotationGroups;
	double BlendStartS = 0.0;
	MienCore::FChannelMapping Mapping;
	TSharedPtr<FMienLiveLinkSource> LiveLink;
};
