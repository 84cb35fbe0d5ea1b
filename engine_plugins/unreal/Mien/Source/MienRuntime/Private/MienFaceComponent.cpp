// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienFaceComponent.h"
#include "Components/AudioComponent.h"
#include "Components/SkeletalMeshComponent.h"
#include "Engine/SkeletalMesh.h"
#include "Engine/World.h"
#include "GameFramework/Actor.h"
#include "MienAudioUtils.h"
#include "MienClient.h"
#include "MienJson.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "MienStreamSession.h"
#include "Sound/SoundWave.h"
#include "Sound/SoundWaveProcedural.h"

UMienFaceComponent::UMienFaceComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.TickGroup = TG_PrePhysics;
}

void UMienFaceComponent::BeginPlay()
{
	Super::BeginPlay();
	Client = NewObject<UMienClient>(this);
	AActor* Owner = GetOwner();
	if (FaceMesh == nullptr && Owner != nullptr)
	{
		TArray<USkeletalMeshComponent*> Meshes;
		Owner->GetComponents<USkeletalMeshComponent>(Meshes);
		for (USkeletalMeshComponent* Mesh : Meshes)
		{
			if (Mesh->GetFName() == FaceMeshName)
			{
				FaceMesh = Mesh;
			}
		}
		if (FaceMesh == nullptr && Meshes.Num() > 0)
		{
			FaceMesh = Meshes[0];
		}
	}
	if (VoiceAudio == nullptr && Owner != nullptr)
	{
		VoiceAudio = NewObject<UAudioComponent>(Owner, TEXT("MienVoice"));
		VoiceAudio->bAutoActivate = false;
		VoiceAudio->bAutoDestroy = false;
		if (USceneComponent* Parent = FaceMesh != nullptr ? FaceMesh.Get() : Owner->GetRootComponent())
		{
			VoiceAudio->SetupAttachment(Parent);
		}
		VoiceAudio->RegisterComponent();
	}
	if (VoiceAudio != nullptr)
	{
		VoiceAudio->OnAudioPlaybackPercentNative.AddUObject(this, &UMienFaceComponent::HandlePlaybackPercent);
		VoiceAudio->OnAudioFinishedNative.AddUObject(this, &UMienFaceComponent::HandleAudioFinished);
	}
	if (bIdleEnabled)
	{
		RequestIdle();
	}
}

void UMienFaceComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	++LineId;
	CloseStream();
	if (VoiceAudio != nullptr)
	{
		VoiceAudio->OnAudioPlaybackPercentNative.RemoveAll(this);
		VoiceAudio->OnAudioFinishedNative.RemoveAll(this);
	}
	Super::EndPlay(EndPlayReason);
}

void UMienFaceComponent::SetFaceMesh(USkeletalMeshComponent* Mesh)
{
	FaceMesh = Mesh;
	BindChannels(TArray<FName>(ChannelNames));
}

FMienLineRequest UMienFaceComponent::MakeRequest(const FString& Text, const FMienEmotion& Emotion) const
{
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	FMienLineRequest Request;
	Request.Transcript = Text;
	Request.Emotion = Emotion;
	Request.Fps = Fps > 0.f ? Fps : Settings->Fps;
	Request.Rig = Rig.IsEmpty() ? Settings->DefaultRig : Rig;
	Request.NpcId = NpcId;
	Request.Seed = Seed;
	Request.ExpressionScale = ExpressionScale;
	Request.BlinkScale = BlinkScale;
	Request.GazeScale = GazeScale;
	return Request;
}

void UMienFaceComponent::Say(USoundWave* Sound, const FString& Text, FMienEmotion Emotion)
{
	FMienAudio Audio;
	const FMienResult AudioResult = FMienAudioUtils::GetSoundWaveAudio(Sound, Audio);
	if (!AudioResult.bOk)
	{
		FailLine(AudioResult);
		return;
	}
	Speak(Sound, Audio, Text, Emotion);
}

void UMienFaceComponent::SayPcm(
	const TArray<uint8>& Pcm16, int32 SampleRate, int32 NumChannels, const FString& Text, FMienEmotion Emotion)
{
	if (Pcm16.Num() == 0 || SampleRate <= 0)
	{
		FailLine(FMienResult::Failure(TEXT("unsupported_audio"), TEXT("SayPcm needs samples and a sample rate")));
		return;
	}
	FMienAudio Audio;
	Audio.Pcm16 = Pcm16;
	Audio.SampleRateHz = SampleRate;
	Audio.NumChannels = FMath::Max(NumChannels, 1);
	Speak(FMienAudioUtils::MakeProceduralSound(this, Pcm16, SampleRate, NumChannels), Audio, Text, Emotion);
}

void UMienFaceComponent::RequestTrack(USoundWave* Sound, const FString& Text, FMienEmotion Emotion)
{
	FMienLineRequest Request = MakeRequest(Text, Emotion);
	const FMienResult AudioResult = FMienAudioUtils::GetSoundWaveAudio(Sound, Request.Audio);
	if (!AudioResult.bOk)
	{
		OnLineFailed.Broadcast(AudioResult);
		return;
	}
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[WeakThis](const FMienResult& Result, const FMienTrack& Track)
			{
				if (UMienFaceComponent* This = WeakThis.Get())
				{
					if (Result.bOk)
					{
						This->OnTrackReceived.Broadcast(Track);
					}
					else
					{
						This->OnLineFailed.Broadcast(Result);
					}
				}
			}));
}

void UMienFaceComponent::Speak(
	USoundBase* Sound, const FMienAudio& Audio, const FString& Text, const FMienEmotion& Emotion)
{
	StopLine();
	State = EState::Requesting;
	if (bUseStreaming)
	{
		if (Audio.Pcm16.Num() == 0)
		{
			FailLine(FMienResult::Failure(TEXT("unsupported_audio"), TEXT("streaming needs raw PCM")));
			return;
		}
		OpenStream(Sound, Audio, Emotion);
		return;
	}
	FMienLineRequest Request = MakeRequest(Text, Emotion);
	Request.Audio = Audio;
	const int32 MyLine = LineId;
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	const TWeakObjectPtr<USoundBase> WeakSound(Sound);
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[WeakThis, WeakSound, MyLine](const FMienResult& Result, const FMienTrack& Track)
			{
				UMienFaceComponent* This = WeakThis.Get();
				if (This == nullptr || This->LineId != MyLine)
				{
					return;
				}
				if (!Result.bOk)
				{
					This->FailLine(Result);
					return;
				}
				This->LineTrack = Track;
				This->StartLine(WeakSound.Get());
			}));
}

void UMienFaceComponent::OpenStream(USoundBase* Sound, const FMienAudio& Audio, const FMienEmotion& Emotion)
{
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	const FMienLineRequest Request = MakeRequest(FString(), Emotion);
	PendingSound = Sound;
	Stream = MakeShared<FMienStreamSession>();
	const int32 MyLine = LineId;
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	Stream->OnHeader.BindLambda(
		[WeakThis, MyLine](const FMienTrack& EmptyTrack)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine)
			{
				This->LineTrack = EmptyTrack;
			}
		});
	Stream->OnFrames.BindLambda(
		[WeakThis, MyLine](int32 FirstFrame, int32 Count, const TArray<float>& Values)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This == nullptr || This->LineId != MyLine)
			{
				return;
			}
			if (!This->LineTrack.AppendFrames(FirstFrame, Count, Values))
			{
				This->FailLine(
					FMienResult::Failure(TEXT("bad_response"), TEXT("frame batch out of order or mis-sized")));
				return;
			}
			if (This->State == EState::Requesting)
			{
				This->StartLine(This->PendingSound);
			}
		});
	Stream->OnEnd.BindLambda(
		[WeakThis, MyLine](int32, float)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine)
			{
				This->LineTrack.bComplete = true;
			}
		});
	Stream->OnClosed.BindLambda(
		[WeakThis, MyLine](const FMienResult& Result)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine && !Result.bOk)
			{
				This->FailLine(Result);
			}
		});
	Stream->Open(
		Client->ServerUrl, Client->Token, MienJson::BuildStreamHeader(Request, Audio.SampleRateHz, Audio.NumChannels));
	TArray<TArray<uint8>> Chunks;
	const int32 ChunkMs = Settings->StreamChunkMs;
	FMienAudioUtils::ChunkPcm(Audio.Pcm16, Audio.SampleRateHz, Audio.NumChannels, ChunkMs, Chunks);
	for (int32 Index = 0; Index < Chunks.Num(); ++Index)
	{
		const float ChunkStart = Index * ChunkMs / 1000.f;
		const float ChunkEnd = ChunkStart + ChunkMs / 1000.f;
		// Keyframes travel on the chunk covering their time (the first chunk also takes earlier ones).
		Stream->SendAudio(Chunks[Index], MienJson::MakeKeyframes(Emotion, Index == 0 ? -1.f : ChunkStart, ChunkEnd));
	}
	Stream->EndAudio();
}

void UMienFaceComponent::PlayTrack(USoundBase* Sound, const FMienTrack& Track)
{
	StopLine();
	LineTrack = Track;
	StartLine(Sound);
}

void UMienFaceComponent::StartLine(USoundBase* Sound)
{
	BeginBlend();
	State = EState::Speaking;
	LineStartS = NowS();
	LastPercentStampS = -1.0;
	bHasAudio = Sound != nullptr && VoiceAudio != nullptr;
	if (bHasAudio)
	{
		VoiceAudio->SetSound(Sound);
		VoiceAudio->Play();
	}
	OnLineStarted.Broadcast(LineTrack);
}

void UMienFaceComponent::StopLine()
{
	++LineId;
	CloseStream();
	if (State == EState::Speaking)
	{
		BeginBlend();
	}
	State = EState::Idle;
	if (bHasAudio && VoiceAudio != nullptr)
	{
		bHasAudio = false;
		VoiceAudio->Stop();
	}
}

void UMienFaceComponent::EndLine()
{
	if (State != EState::Speaking)
	{
		return;
	}
	BeginBlend();
	State = EState::Idle;
	bHasAudio = false;
	OnLineFinished.Broadcast();
	if (bIdleEnabled)
	{
		RequestIdle();
	}
}

void UMienFaceComponent::FailLine(const FMienResult& Result)
{
	UE_LOG(LogMien, Warning, TEXT("%s: line failed: %s"), *GetNameSafe(GetOwner()), *Result.ToString());
	CloseStream();
	if (State == EState::Speaking)
	{
		BeginBlend();
	}
	State = EState::Idle;
	OnLineFailed.Broadcast(Result);
}

void UMienFaceComponent::CloseStream()
{
	if (Stream.IsValid())
	{
		Stream->Close();
		Stream.Reset();
	}
	PendingSound = nullptr;
}

void UMienFaceComponent::RequestIdle()
{
	if (bIdleRequesting || Client == nullptr)
	{
		return;
	}
	bIdleRequesting = true;
	FMienLineRequest Request = MakeRequest(FString(), IdleEmotion);
	Request.IdleDurationS = IdleDurationS;
	if (Request.Seed < 0)
	{
		Request.Seed = FMath::RandRange(0, MAX_int32);
	}
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[WeakThis](const FMienResult& Result, const FMienTrack& Track)
			{
				UMienFaceComponent* This = WeakThis.Get();
				if (This == nullptr)
				{
					return;
				}
				This->bIdleRequesting = false;
				if (!Result.bOk)
				{
					UE_LOG(LogMien, Warning, TEXT("idle track failed: %s"), *Result.ToString());
					return;
				}
				if (This->State == EState::Idle)
				{
					This->BeginBlend();
				}
				This->IdleTrack = Track;
				This->bHasIdle = Track.FrameCount > 0;
				This->IdleStartS = This->NowS();
			}));
}

void UMienFaceComponent::TickComponent(
	float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	if (Stream.IsValid() && !Stream->IsActive())
	{
		Stream.Reset();
	}
	if (State == EState::Speaking)
	{
		const float TimeS = PlaybackTimeS();
		ApplyTrackAt(LineTrack, TimeS);
		if (!bHasAudio && LineTrack.bComplete && TimeS >= LineTrack.Duration())
		{
			EndLine();
		}
	}
	else if (bHasIdle)
	{
		const float Length = FMath::Max(IdleTrack.Duration(), KINDA_SMALL_NUMBER);
		ApplyTrackAt(IdleTrack, FMath::Fmod(static_cast<float>(NowS() - IdleStartS), Length));
	}
}

double UMienFaceComponent::NowS() const
{
	const UWorld* World = GetWorld();
	return World != nullptr ? World->GetAudioTimeSeconds() : FPlatformTime::Seconds();
}

float UMienFaceComponent::PlaybackTimeS() const
{
	const double Now = NowS();
	if (LastPercentStampS >= 0.0)
	{
		// The audio renderer reports the heard position; extrapolate between its callbacks.
		return LastPercentTimeS + static_cast<float>(Now - LastPercentStampS);
	}
	return static_cast<float>(Now - LineStartS);
}

void UMienFaceComponent::HandlePlaybackPercent(
	const UAudioComponent* /*Component*/, const USoundWave* Wave, const float Percent)
{
	if (State != EState::Speaking || Wave == nullptr || Wave->IsA<USoundWaveProcedural>())
	{
		return;
	}
	const float WaveDuration = Wave->GetDuration();
	if (WaveDuration > 0.f && WaveDuration < INDEFINITELY_LOOPING_DURATION)
	{
		LastPercentTimeS = Percent * WaveDuration;
		LastPercentStampS = NowS();
	}
}

void UMienFaceComponent::HandleAudioFinished(UAudioComponent* /*Component*/)
{
	if (State == EState::Speaking && bHasAudio)
	{
		EndLine();
	}
}

void UMienFaceComponent::BeginBlend()
{
	BlendFrom = Curves;
	BlendStartS = NowS();
}

void UMienFaceComponent::BindChannels(const TArray<FName>& Names)
{
	ChannelNames = Names;
	MorphNames.Reset(Names.Num());
	CurrentValues.SetNumZeroed(Names.Num());
	const USkeletalMesh* Asset = FaceMesh != nullptr ? FaceMesh->GetSkeletalMeshAsset() : nullptr;
	for (const FName& Name : Names)
	{
		const bool bDegrees = Name.ToString().EndsWith(MIEN_DEGREE_SUFFIX);
		const bool bIsMorph = Asset != nullptr && !bDegrees && Asset->FindMorphTarget(Name) != nullptr;
		MorphNames.Add(bIsMorph ? Name : NAME_None);
	}
}

void UMienFaceComponent::ApplyTrackAt(const FMienTrack& Track, float TimeS)
{
	if (Track.FrameCount == 0)
	{
		return;
	}
	if (Track.ChannelNames != ChannelNames)
	{
		BindChannels(Track.ChannelNames);
	}
	Track.Sample(TimeS, SampleScratch);
	ApplyFrame(SampleScratch);
}

void UMienFaceComponent::ApplyFrame(const TArray<float>& Values)
{
	const float Weight =
		BlendTimeS > 0.f ? FMath::Clamp(static_cast<float>(NowS() - BlendStartS) / BlendTimeS, 0.f, 1.f) : 1.f;
	const int32 Count = FMath::Min(Values.Num(), ChannelNames.Num());
	for (int32 Index = 0; Index < Count; ++Index)
	{
		float Value = Values[Index];
		if (Weight < 1.f)
		{
			const float* From = BlendFrom.Find(ChannelNames[Index]);
			Value = FMath::Lerp(From != nullptr ? *From : 0.f, Value, Weight);
		}
		CurrentValues[Index] = Value;
		Curves.Add(ChannelNames[Index], Value);
		if (bApplyMorphTargets && FaceMesh != nullptr && !MorphNames[Index].IsNone())
		{
			FaceMesh->SetMorphTarget(MorphNames[Index], Value, false);
		}
	}
}

float UMienFaceComponent::GetCurveValue(FName Channel) const
{
	const float* Value = Curves.Find(Channel);
	return Value != nullptr ? *Value : 0.f;
}
