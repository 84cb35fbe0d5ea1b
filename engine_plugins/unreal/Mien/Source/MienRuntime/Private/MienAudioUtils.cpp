// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienAudioUtils.h"
#include "Sound/SoundWave.h"

FMienResult FMienAudioUtils::GetSoundWaveAudio(USoundWave* Sound, FMienAudio& OutAudio)
{
	if (Sound == nullptr)
	{
		return FMienResult::Failure(TEXT("unsupported_audio"), TEXT("no SoundWave given"));
	}
#if WITH_EDITOR
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
		FString::Printf(TEXT("%s: cooked SoundWaves carry no raw PCM; bake the line (Generate Facial Animation (Mien), "
							 "then add it to "
							 "the component's Baked Lines or call Say Line) or stream the TTS PCM with Begin Stream"),
			*Sound->GetPathName()));
#endif
}
