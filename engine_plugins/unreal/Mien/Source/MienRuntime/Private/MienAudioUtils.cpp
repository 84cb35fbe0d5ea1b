// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienAudioUtils.h"
#include "Sound/SoundWave.h"
#include "Sound/SoundWaveProcedural.h"

FMienResult FMienAudioUtils::GetSoundWaveAudio(USoundWave* Sound, FMienAudio& OutAudio)
{
	if (Sound == nullptr)
	{
		return FMienResult::Failure(TEXT("unsupported_audio"), TEXT("no SoundWave given"));
	}
#if WITH_EDITORONLY_DATA
	TArray<uint8> Pcm;
	uint32 SampleRate = 0;
	uint16 NumChannels = 0;
	if (Sound->GetImportedSoundWaveData(Pcm, SampleRate, NumChannels) && Pcm.Num() > 0 && SampleRate > 0)
	{
		OutAudio.FileBytes.Reset();
		OutAudio.Pcm16 = MoveTemp(Pcm);
		OutAudio.SampleRateHz = static_cast<int32>(SampleRate);
		OutAudio.NumChannels = FMath::Max<int32>(NumChannels, 1);
		return FMienResult::Success();
	}
	return FMienResult::Failure(
		TEXT("unsupported_audio"), FString::Printf(TEXT("%s has no imported PCM data"), *Sound->GetPathName()));
#else
	return FMienResult::Failure(TEXT("unsupported_audio"),
		FString::Printf(TEXT("%s: cooked SoundWaves carry no raw PCM; use SayPcm with your TTS buffer or bake the "
							 "animation in the editor"),
			*Sound->GetPathName()));
#endif
}

void FMienAudioUtils::ChunkPcm(
	const TArray<uint8>& Pcm16, int32 SampleRateHz, int32 NumChannels, int32 ChunkMs, TArray<TArray<uint8>>& OutChunks)
{
	const int32 FrameBytes = 2 * FMath::Max(NumChannels, 1);
	const int32 ChunkBytes = FMath::Max(static_cast<int32>(SampleRateHz * ChunkMs / 1000) * FrameBytes, FrameBytes);
	OutChunks.Reset();
	for (int32 Offset = 0; Offset < Pcm16.Num(); Offset += ChunkBytes)
	{
		const int32 Size = FMath::Min(ChunkBytes, Pcm16.Num() - Offset);
		OutChunks.Emplace(Pcm16.GetData() + Offset, Size);
	}
}

USoundWaveProcedural* FMienAudioUtils::MakeProceduralSound(
	UObject* Outer, const TArray<uint8>& Pcm16, int32 SampleRateHz, int32 NumChannels)
{
	USoundWaveProcedural* Sound = NewObject<USoundWaveProcedural>(Outer);
	Sound->SetSampleRate(SampleRateHz);
	Sound->NumChannels = FMath::Max(NumChannels, 1);
	Sound->Duration = static_cast<float>(Pcm16.Num()) / (2.f * Sound->NumChannels * SampleRateHz);
	Sound->SoundGroup = SOUNDGROUP_Voice;
	Sound->bLooping = false;
	Sound->QueueAudio(Pcm16.GetData(), Pcm16.Num());
	return Sound;
}
