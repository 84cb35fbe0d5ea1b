// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienFaceComponent.h"
#include "Components/AudioComponent.h"
#include "Containers/Ticker.h"
#include "Components/SkeletalMeshComponent.h"
#include "Engine/SkeletalMesh.h"
#include "Engine/World.h"
#include "GameFramework/Actor.h"
#include "Misc/Guid.h"
#include "MienAudioUtils.h"
#include "MienChannelMap.h"
#include "MienClient.h"
#include "MienCore/MienCorePacing.h"
#include "MienCoreBridge.h"
#include "MienLineAsset.h"
#include "MienLiveLinkSource.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "MienStreamSession.h"
#include "Sound/SoundWave.h"
#include "Sound/SoundWaveProcedural.h"
#include "UObject/UObjectGlobals.h"

namespace
{
	/** A random seed in [0, 2^62). (A 0..MAX_int32 RandRange overflows its range to 0: every NPC blinked alike.) */
	int64 RandomSeed()
	{
		const FGuid Guid = FGuid::NewGuid();
		return (static_cast<int64>(Guid.A & 0x7FFFFFFFu) << 31) ^ static_cast<int64>(Guid.B);
	}
}  // namespace

UMienFaceComponent::UMienFaceComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.TickGroup = TG_PrePhysics;
}

void UMienFaceComponent::BeginPlay()
{
	Super::BeginPlay();
	if (Client == nullptr)
	{
		Client = NewObject<UMienClient>(this);
	}
	AActor* Owner = GetOwner();
	USkeletalMeshComponent* Mesh = Cast<USkeletalMeshComponent>(FaceMesh.GetComponent(Owner));
	if (Mesh == nullptr && Owner != nullptr)
	{
		TArray<USkeletalMeshComponent*> Meshes;
		Owner->GetComponents<USkeletalMeshComponent>(Meshes);
		for (USkeletalMeshComponent* Candidate : Meshes)
		{
			if (Candidate->GetFName() == FaceMeshName)
			{
				Mesh = Candidate;
			}
		}
		if (Mesh == nullptr && Meshes.Num() > 0)
		{
			Mesh = Meshes[0];
		}
	}
	SetFaceMesh(Mesh);
	ResolvedVoice = Cast<UAudioComponent>(VoiceAudio.GetComponent(Owner));
	if (ResolvedVoice == nullptr && Owner != nullptr)
	{
		// A unique name: NewObject with a name already used in the same outer (a second Mien Face, or BeginPlay
		// again after EndPlay) is a fatal error.
		ResolvedVoice = NewObject<UAudioComponent>(
			Owner, MakeUniqueObjectName(Owner, UAudioComponent::StaticClass(), FName(TEXT("MienVoice"))));
		ResolvedVoice->bAutoActivate = false;
		ResolvedVoice->bAutoDestroy = false;
		if (USceneComponent* Parent = Mesh != nullptr ? static_cast<USceneComponent*>(Mesh) : Owner->GetRootComponent())
		{
			ResolvedVoice->SetupAttachment(Parent);
		}
		ResolvedVoice->RegisterComponent();
	}
	if (ResolvedVoice != nullptr)
	{
		ResolvedVoice->OnAudioPlaybackPercentNative.AddUObject(this, &UMienFaceComponent::HandlePlaybackPercent);
		ResolvedVoice->OnAudioFinishedNative.AddUObject(this, &UMienFaceComponent::HandleAudioFinished);
	}
	if (!LiveLinkSubject.IsNone())
	{
		LiveLink = FMienLiveLinkSource::Get();
		if (!LiveLink.IsValid())
		{
			UE_LOG(LogMien, Warning, TEXT("%s: Live Link is not available (enable the Live Link plugin)"),
				*GetNameSafe(Owner));
		}
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
	if (ResolvedVoice != nullptr)
	{
		ResolvedVoice->OnAudioPlaybackPercentNative.RemoveAll(this);
		ResolvedVoice->OnAudioFinishedNative.RemoveAll(this);
	}
	if (LiveLink.IsValid())
	{
		LiveLink->RemoveSubject(LiveLinkSubject);
		LiveLink.Reset();
	}
	Super::EndPlay(EndPlayReason);
}

void UMienFaceComponent::SetFaceMesh(USkeletalMeshComponent* Mesh)
{
	if (ResolvedFaceMesh != nullptr && ResolvedFaceMesh != Mesh)
	{
		ResolvedFaceMesh->RemoveTickPrerequisiteComponent(this);
	}
	ResolvedFaceMesh = Mesh;
	if (Mesh != nullptr)
	{
		// The mesh evaluates its pose (morph targets, AnimBP curves) after this component has set this frame's values.
		Mesh->AddTickPrerequisiteComponent(this);
	}
	SourceNames.Reset();
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
	for (UMienLineAsset* Line : BakedLines)
	{
		if (Line != nullptr && Sound != nullptr && Line->Sound == Sound)
		{
			SayLine(Line);
			return;
		}
	}
	FMienAudio Audio;
	const FMienResult AudioResult = FMienAudioUtils::GetSoundWaveAudio(Sound, Audio);
	if (!AudioResult.bOk)
	{
		BeginLine(Sound, Emotion);
		FailLine(AudioResult);
		return;
	}
	Speak(Sound, Audio, Text, Emotion);
}

void UMienFaceComponent::SayLine(UMienLineAsset* Line)
{
	if (Line == nullptr)
	{
		BeginLine(nullptr, FMienEmotion());
		FailLine(FMienResult::Failure(TEXT("no_target"), TEXT("SayLine needs a Mien line asset")));
		return;
	}
	PlayTrack(Line->Sound, Line->Track);
}

void UMienFaceComponent::SayPcm(
	const TArray<uint8>& Pcm16, int32 SampleRate, int32 NumChannels, const FString& /*Text*/, FMienEmotion Emotion)
{
	if (BeginStream(SampleRate, NumChannels, Emotion))
	{
		PushPcm(Pcm16);
		EndStream();
	}
}

bool UMienFaceComponent::BeginStream(int32 SampleRate, int32 NumChannels, FMienEmotion Emotion)
{
	if (SampleRate < 4000 || NumChannels < 1)
	{
		BeginLine(nullptr, Emotion);
		FailLine(FMienResult::Failure(
			TEXT("unsupported_audio"), TEXT("BeginStream needs a sample rate >= 4000 Hz and >= 1 channel")));
		return false;
	}
	BeginLine(nullptr, Emotion);
	StreamRate = SampleRate;
	StreamChannels = NumChannels;
	bPushedAudio = true;
	OpenStream();
	return true;
}

void UMienFaceComponent::PushPcm(const TArray<uint8>& Pcm16)
{
	if (State == EState::Idle || bStreamInputEnded || Pcm16.Num() == 0)
	{
		return;
	}
	StreamPcm.Append(Pcm16);
	if (Stream.IsValid())
	{
		Stream->Push(Pcm16.GetData(), Pcm16.Num());
	}
	FeedProcedural();
}

void UMienFaceComponent::EndStream()
{
	if (State == EState::Idle || bStreamInputEnded)
	{
		return;
	}
	bStreamInputEnded = true;
	if (Stream.IsValid())
	{
		Stream->Finish();
	}
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
	if (Client == nullptr)
	{
		Client = NewObject<UMienClient>(this);
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

void UMienFaceComponent::BeginLine(USoundBase* Sound, const FMienEmotion& Emotion)
{
	if (Client == nullptr)
	{
		Client = NewObject<UMienClient>(this);  // a line asked for before BeginPlay (another actor's BeginPlay)
	}
	StopLine();
	LineSound = Sound;
	LineEmotion = Emotion;
	StreamPcm.Reset();
	StreamAttempt = 0;
	bStreamInputEnded = false;
	bStreamEnded = false;
	bPushedAudio = false;
	QueuedBytes = 0;
	bHasLineTrack = false;
	State = EState::Requesting;
}

void UMienFaceComponent::Speak(
	USoundBase* Sound, const FMienAudio& Audio, const FString& Text, const FMienEmotion& Emotion)
{
	BeginLine(Sound, Emotion);
	if (bUseStreaming && Audio.Pcm16.Num() > 0)
	{
		// Say of a whole clip is the streaming case with one push: paced, played when frames are in.
		StreamRate = Audio.SampleRateHz;
		StreamChannels = Audio.NumChannels;
		StreamPcm = Audio.Pcm16;
		bStreamInputEnded = true;
		OpenStream();
		return;
	}
	FMienLineRequest Request = MakeRequest(Text, Emotion);
	Request.Audio = Audio;
	const int32 MyLine = LineId;
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[WeakThis, MyLine](const FMienResult& Result, const FMienTrack& Track)
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
				This->bHasLineTrack = true;
				This->StartLine();
			}));
}

void UMienFaceComponent::OpenStream()
{
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	const FMienLineRequest Request = MakeRequest(FString(), LineEmotion);
	++StreamAttempt;
	Stream = MakeShared<FMienStreamSession>();
	const int32 MyLine = LineId;
	const TWeakObjectPtr<UMienFaceComponent> WeakThis(this);
	Stream->OnHeader.BindLambda(
		[WeakThis, MyLine](const FMienTrack& EmptyTrack, float /*LookaheadMs*/)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine)
			{
				This->LineTrack = EmptyTrack;
				This->bHasLineTrack = true;
			}
		});
	Stream->OnFrames.BindLambda(
		[WeakThis, MyLine](int32 FirstFrame, int32 Count, const TArray<float>& Values)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine && This->bHasLineTrack)
			{
				This->LineTrack.AppendFrames(FirstFrame, Count, Values);
				if (This->State == EState::Requesting)
				{
					This->State = EState::Buffering;
				}
			}
		});
	Stream->OnEnd.BindLambda(
		[WeakThis, MyLine](int32, float)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This != nullptr && This->LineId == MyLine)
			{
				This->LineTrack.bComplete = true;
				This->bStreamEnded = true;
				if (This->State == EState::Requesting)
				{
					This->State = EState::Buffering;
				}
			}
		});
	Stream->OnClosed.BindLambda(
		[WeakThis, MyLine](const FMienResult& Result)
		{
			UMienFaceComponent* This = WeakThis.Get();
			if (This == nullptr || This->LineId != MyLine || Result.bOk)
			{
				return;
			}
			const bool bBeforePlayback = This->State == EState::Requesting || This->State == EState::Buffering;
			MienCore::FRetryPolicy Policy;
			Policy.MaxAttempts = This->Client != nullptr ? This->Client->MaxAttempts : 1;
			if (bBeforePlayback && MienCore::ShouldRetry(Policy, MienBridge::ToUtf8(Result.Code), This->StreamAttempt))
			{
				const float Delay = static_cast<float>(MienCore::RetryDelayS(
					Policy, This->StreamAttempt, This->Client != nullptr ? This->Client->RetrySeed : 0));
				UE_LOG(LogMien, Warning, TEXT("stream failed (%s); retry in %.1f s"), *Result.ToString(), Delay);
				This->Stream.Reset();
				This->bHasLineTrack = false;
				This->State = EState::Requesting;
				FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateLambda(
														 [WeakThis, MyLine](float)
														 {
															 UMienFaceComponent* Retry = WeakThis.Get();
															 if (Retry != nullptr && Retry->LineId == MyLine)
															 {
																 Retry->OpenStream();
															 }
															 return false;
														 }),
					Delay);
				return;
			}
			if (This->State == EState::Speaking)
			{
				// The audio goes on; the face falls back to idle for the rest of the line.
				This->BeginBlend();
				This->bHasLineTrack = false;
				This->Stream.Reset();
				This->OnLineFailed.Broadcast(Result);
				return;
			}
			This->FailLine(Result);
		});
	MienCore::FPacerConfig Pacing;
	Pacing.SampleRateHz = StreamRate;
	Pacing.NumChannels = StreamChannels;
	Pacing.ChunkMs = Settings->StreamChunkMs;
	Pacing.LeadS = Settings->StreamLeadS;
	const MienCore::FEmotion Emotion = MienBridge::ToCoreEmotion(LineEmotion);
	const FString Header = MienBridge::ToWire(
		MienCore::BuildStreamHeader(StreamRate, StreamChannels, Emotion, MienBridge::ToCoreSettings(Request)));
	Stream->Open(Client->ServerUrl, Client->Token, Header, Pacing, Emotion);
	// A retried stream re-sends everything produced so far.
	Stream->Push(StreamPcm.GetData(), StreamPcm.Num());
	if (bStreamInputEnded)
	{
		Stream->Finish();
	}
}

void UMienFaceComponent::TickStream()
{
	if (const TSharedPtr<FMienStreamSession> Session = Stream)
	{
		// A local reference: Tick may end the stream (no WebSockets on the platform), and the handlers then reset
		// Stream, which must not destroy the session while its Tick is still running.
		Session->Tick(FPlatformTime::Seconds());
	}
	if (State == EState::Buffering && bHasLineTrack)
	{
		const double Buffer = bPushedAudio ? PushStartBufferS : StartBufferS;
		if (MienCore::ShouldStartPlayback(LineTrack.FrameCount, LineTrack.Fps, bStreamEnded, Buffer))
		{
			StartLine();
		}
	}
	FeedProcedural();
}

void UMienFaceComponent::PlayTrack(USoundBase* Sound, const FMienTrack& Track)
{
	BeginLine(Sound, FMienEmotion());
	LineTrack = Track;
	bHasLineTrack = true;
	StartLine();
}

void UMienFaceComponent::StartLine()
{
	BeginBlend();
	State = EState::Speaking;
	LineStartS = NowS();
	LastPercentStampS = -1.0;
	bHasAudio = ResolvedVoice != nullptr && (LineSound != nullptr || bPushedAudio);
	if (bHasAudio && bPushedAudio)
	{
		// Pushed PCM plays through a procedural wave fed as it arrives; it has no fixed length, and TickComponent
		// stops it once everything queued has been played (a drained USoundWaveProcedural plays silence forever).
		StreamSound = NewObject<USoundWaveProcedural>(this);
		StreamSound->SetSampleRate(StreamRate);
		StreamSound->NumChannels = StreamChannels;
		StreamSound->Duration = INDEFINITELY_LOOPING_DURATION;
		StreamSound->SoundGroup = SOUNDGROUP_Voice;
		StreamSound->bLooping = false;
		QueuedBytes = 0;
		FeedProcedural();
		ResolvedVoice->SetSound(StreamSound);
		ResolvedVoice->Play();
	}
	else if (bHasAudio)
	{
		ResolvedVoice->SetSound(LineSound);
		ResolvedVoice->Play();
	}
	OnLineStarted.Broadcast(LineTrack);
}

void UMienFaceComponent::FeedProcedural()
{
	if (StreamSound == nullptr || State != EState::Speaking)
	{
		return;
	}
	// QueueAudio drops (with an ensure) a buffer that is not a whole number of samples; whole frames keep the
	// channels interleaved in step, so a piece of PCM pushed mid-frame waits for its other half.
	const int64 FrameBytes = 2 * static_cast<int64>(StreamChannels);
	const int64 Ready = (static_cast<int64>(StreamPcm.Num()) - QueuedBytes) / FrameBytes * FrameBytes;
	if (Ready > 0)
	{
		StreamSound->QueueAudio(StreamPcm.GetData() + QueuedBytes, static_cast<int32>(Ready));
		QueuedBytes += Ready;
	}
	if (bStreamInputEnded && StreamSound->GetAvailableAudioByteCount() == 0)
	{
		const double TotalS = static_cast<double>(QueuedBytes) / (2.0 * StreamChannels * StreamRate);
		if (PlaybackTimeS() >= TotalS)
		{
			if (ResolvedVoice != nullptr)
			{
				ResolvedVoice->Stop();
			}
			EndLine();
		}
	}
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
	bHasLineTrack = false;
	if (bHasAudio && ResolvedVoice != nullptr)
	{
		bHasAudio = false;
		ResolvedVoice->Stop();
	}
	StreamSound = nullptr;
}

void UMienFaceComponent::EndLine()
{
	if (State != EState::Speaking)
	{
		return;
	}
	BeginBlend();
	CloseStream();
	State = EState::Idle;
	bHasAudio = false;
	bHasLineTrack = false;
	StreamSound = nullptr;
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
	bHasLineTrack = false;
	OnLineFailed.Broadcast(Result);
	const bool bCanPlay = bPlayAudioOnFailure && ResolvedVoice != nullptr && (LineSound != nullptr || bPushedAudio);
	if (bCanPlay && State != EState::Speaking)
	{
		// The line's audio still plays, with the idle face; OnLineFinished follows when it ends.
		StartLine();
		return;
	}
	if (!bCanPlay)
	{
		State = EState::Idle;
	}
}

void UMienFaceComponent::CloseStream()
{
	if (Stream.IsValid())
	{
		Stream->Close();
		Stream.Reset();
	}
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
		Request.Seed = RandomSeed();
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
	TickStream();
	if (State == EState::Speaking && bHasLineTrack && LineTrack.FrameCount > 0)
	{
		const double TimeS = PlaybackTimeS();
		ApplyTrackAt(LineTrack, TimeS);
		if (!bHasAudio && LineTrack.bComplete && TimeS >= LineTrack.Duration())
		{
			EndLine();
		}
	}
	else if (bHasIdle)
	{
		const double Length = FMath::Max(static_cast<double>(IdleTrack.Duration()), 1e-3);
		ApplyTrackAt(IdleTrack, FMath::Fmod(NowS() - IdleStartS, Length));
	}
	if (State == EState::Speaking && !bHasLineTrack && !bHasAudio)
	{
		EndLine();
	}
}

double UMienFaceComponent::NowS() const
{
	const UWorld* World = GetWorld();
	return World != nullptr ? World->GetAudioTimeSeconds() : FPlatformTime::Seconds();
}

double UMienFaceComponent::PlaybackTimeS()
{
	if (StreamSound != nullptr)
	{
		// Pushed PCM: what the audio renderer has consumed from the procedural wave.
		const int64 Available = StreamSound->GetAvailableAudioByteCount();
		return MienCore::HeardTimeS((QueuedBytes - Available) / (2 * StreamChannels), StreamRate, 0.0);
	}
	const double Now = NowS();
	if (LastPercentStampS >= 0.0)
	{
		// The audio renderer reports the heard position; extrapolate between its callbacks.
		return LastPercentTimeS + (Now - LastPercentStampS);
	}
	return Now - LineStartS;
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
	if (State == EState::Speaking && bHasAudio && StreamSound == nullptr)
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
	SourceNames = Names;
	std::vector<std::string> Channels;
	Channels.reserve(Names.Num());
	for (const FName& Name : Names)
	{
		Channels.push_back(MienBridge::ToUtf8(Name.ToString()));
	}
	Mapping.Bind(MienBridge::ToCoreMap(ChannelMap), Channels);
	for (const std::string& Missing : Mapping.MissingSources())
	{
		UE_LOG(LogMien, Warning, TEXT("%s: channel map source %s is not in the track"), *GetNameSafe(GetOwner()),
			*MienBridge::FromUtf8(Missing));
	}
	OutputNames.Reset(Mapping.NumOutputs());
	for (const std::string& Name : Mapping.OutputNames())
	{
		OutputNames.Add(FName(*MienBridge::FromUtf8(Name)));
	}
	MappedValues.SetNumZeroed(OutputNames.Num());
	RotationGroups.Reset();
	for (const MienCore::FRotationGroup& Group : MienCore::FindRotationGroups(Mapping.OutputNames()))
	{
		RotationGroups.Add(FName(*MienBridge::FromUtf8(Group.Group)), FIntVector(Group.Yaw, Group.Pitch, Group.Roll));
	}
	if (LiveLink.IsValid())
	{
		LiveLink->PushStatic(LiveLinkSubject, OutputNames);
	}
}

void UMienFaceComponent::ApplyTrackAt(const FMienTrack& Track, double TimeS)
{
	if (Track.FrameCount == 0)
	{
		return;
	}
	if (Track.ChannelNames != SourceNames)
	{
		BindChannels(Track.ChannelNames);
	}
	Track.Sample(TimeS, SampleScratch);
	ApplyFrame(SampleScratch);
}

void UMienFaceComponent::ApplyFrame(const TArray<float>& Values)
{
	if (Values.Num() != SourceNames.Num() || Values.Num() == 0)
	{
		return;
	}
	Mapping.Apply(Values.GetData(), MappedValues.GetData());
	const double Weight = BlendTimeS > 0.f ? FMath::Clamp((NowS() - BlendStartS) / BlendTimeS, 0.0, 1.0) : 1.0;
	const bool bMorphs = bApplyMorphTargets && ResolvedFaceMesh != nullptr;
	for (int32 Index = 0; Index < OutputNames.Num(); ++Index)
	{
		float Value = MappedValues[Index];
		if (Weight < 1.0)
		{
			const float* From = BlendFrom.Find(OutputNames[Index]);
			Value = FMath::Lerp(From != nullptr ? *From : 0.f, Value, static_cast<float>(Weight));
		}
		MappedValues[Index] = Value;
		Curves.Add(OutputNames[Index], Value);
		if (bMorphs && !OutputNames[Index].ToString().EndsWith(MIEN_DEGREE_SUFFIX))
		{
			ResolvedFaceMesh->SetMorphTarget(OutputNames[Index], Value, false);
		}
	}
	if (LiveLink.IsValid())
	{
		LiveLink->PushFrame(LiveLinkSubject, MappedValues);
	}
}

float UMienFaceComponent::GetCurveValue(FName Channel) const
{
	const float* Value = Curves.Find(Channel);
	return Value != nullptr ? *Value : 0.f;
}

FVector UMienFaceComponent::GetRotationDegrees(FName Group) const
{
	const FIntVector* Axes = RotationGroups.Find(Group);
	if (Axes == nullptr)
	{
		return FVector::ZeroVector;
	}
	const auto Axis = [this](int32 Index)
	{
		return MappedValues.IsValidIndex(Index) ? static_cast<double>(MappedValues[Index]) : 0.0;
	};
	return FVector(Axis(Axes->X), Axis(Axes->Y), Axis(Axes->Z));
}

TArray<FName> UMienFaceComponent::GetRotationGroups() const
{
	TArray<FName> Groups;
	RotationGroups.GetKeys(Groups);
	return Groups;
}
