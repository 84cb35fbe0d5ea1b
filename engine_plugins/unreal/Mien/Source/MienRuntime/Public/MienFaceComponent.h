// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "MienTypes.h"
#include "MienFaceComponent.generated.h"

class UAudioComponent;
class UMienClient;
class USkeletalMeshComponent;
class USoundBase;
class USoundWave;
class FMienStreamSession;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienLineStarted, const FMienTrack&, Track);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FOnMienLineFinished);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienLineFailed, const FMienResult&, Result);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnMienTrackReceived, const FMienTrack&, Track);

/**
 * Speaks dialogue lines with Mien facial animation. Say() sends the line to the sidecar, plays the
 * audio on an AudioComponent and applies the returned curves in sync with it: as morph targets on the
 * face mesh (SetMorphTarget) and/or as named curves the AnimBP reads with GetCurves() (e.g. into a
 * Modify Curve node's Curve Map; this is how the MetaHuman face board is driven with the "metahuman"
 * rig profile). Between lines it loops an idle track (blinks, gaze, mood) from the sidecar.
 * Channel names always come from the sidecar's response.
 */
UCLASS(ClassGroup = (Animation), meta = (BlueprintSpawnableComponent), DisplayName = "Mien Face")
class MIENRUNTIME_API UMienFaceComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UMienFaceComponent();

	/** Face mesh whose morph targets are driven. None = the owner's component named FaceMeshName, else its first
	 * skeletal mesh. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TObjectPtr<USkeletalMeshComponent> FaceMesh;

	/** Name of the face mesh component to look up when FaceMesh is not set (MetaHumans call it "Face"). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FName FaceMeshName = TEXT("Face");

	/** Audio component that plays the lines; None = one is created and attached to the face mesh. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TObjectPtr<UAudioComponent> VoiceAudio;

	/** Rig profile ("" = the project default): arkit52, metahuman, vrm, oculus15 or a custom one. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString Rig;

	/** Frames per second requested (0 = the project default). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (ClampMin = "0", ClampMax = "240"))
	float Fps = 0.f;

	/** The speaking NPC. With Emotion Kind = Default, lines and idle use its state held by the sidecar (auto). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString NpcId;

	/** Stream the audio over WebSocket (neural mode, no transcript; lower latency on long lines). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	bool bUseStreaming = false;

	/** Seed of blinks, gaze and micro-motion; < 0 = unset (idle tracks then use a random seed). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	int64 Seed = -1;

	/** Apply channels as morph targets of FaceMesh (turn off when the AnimBP consumes GetCurves()). */
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
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien", meta = (ClampMin = "0", ClampMax = "1"))
	float BlendTimeS = 0.15f;

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
	 * Speaks a SoundWave: requests its track (transcript Text, "" = none) and plays both in sync.
	 * Needs the imported PCM (editor, PIE); in cooked builds use SayPcm. Failures go to OnLineFailed.
	 */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void Say(USoundWave* Sound, const FString& Text, FMienEmotion Emotion);

	/** Speaks raw signed 16-bit little-endian PCM (e.g. from a TTS engine), played via a procedural sound. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void SayPcm(
		const TArray<uint8>& Pcm16, int32 SampleRate, int32 NumChannels, const FString& Text, FMienEmotion Emotion);

	/** Requests the track of a line without playing it; the result arrives in OnTrackReceived or OnLineFailed. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void RequestTrack(USoundWave* Sound, const FString& Text, FMienEmotion Emotion);

	/** Plays Sound (may be None) and applies Track in sync with it. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void PlayTrack(USoundBase* Sound, const FMienTrack& Track);

	/** Stops the current line and returns to idle (no OnLineFinished). */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void StopLine();

	/** Applies one frame of values, in the order of the current channel names. */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	void ApplyFrame(const TArray<float>& Values);

	/** The last applied value of every channel, by name (feed it to a Modify Curve node's Curve Map). */
	UFUNCTION(BlueprintPure, Category = "Mien")
	TMap<FName, float> GetCurves() const { return Curves; }

	/** The last applied value of a channel (0 when unknown). */
	UFUNCTION(BlueprintPure, Category = "Mien")
	float GetCurveValue(FName Channel) const;

	UFUNCTION(BlueprintPure, Category = "Mien")
	bool IsSpeaking() const { return State != EState::Idle; }

	/** Sets the face mesh and rebinds channels. */
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
		Speaking,
	};

	FMienLineRequest MakeRequest(const FString& Text, const FMienEmotion& Emotion) const;
	void Speak(USoundBase* Sound, const FMienAudio& Audio, const FString& Text, const FMienEmotion& Emotion);
	void OpenStream(USoundBase* Sound, const FMienAudio& Audio, const FMienEmotion& Emotion);
	void StartLine(USoundBase* Sound);
	void EndLine();
	void FailLine(const FMienResult& Result);
	void CloseStream();
	void RequestIdle();
	void BeginBlend();
	void ApplyTrackAt(const FMienTrack& Track, float TimeS);
	void BindChannels(const TArray<FName>& Names);
	float PlaybackTimeS() const;
	double NowS() const;
	void HandlePlaybackPercent(const UAudioComponent* Component, const USoundWave* Wave, const float Percent);
	void HandleAudioFinished(UAudioComponent* Component);

	UPROPERTY(Transient)
	TObjectPtr<UMienClient> Client;

	EState State = EState::Idle;
	int32 LineId = 0;
	FMienTrack LineTrack;
	FMienTrack IdleTrack;
	bool bHasIdle = false;
	bool bIdleRequesting = false;
	double IdleStartS = 0.0;
	double LineStartS = 0.0;
	double LastPercentStampS = -1.0;
	float LastPercentTimeS = 0.f;
	bool bHasAudio = false;
	TSharedPtr<FMienStreamSession> Stream;

	UPROPERTY(Transient)
	TObjectPtr<USoundBase> PendingSound;

	TArray<FName> ChannelNames;
	TArray<FName> MorphNames;
	TArray<float> CurrentValues;
	TArray<float> SampleScratch;
	TMap<FName, float> Curves;
	TMap<FName, float> BlendFrom;
	double BlendStartS = 0.0;
};
