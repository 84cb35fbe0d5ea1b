// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienTypes.h"

class USoundWave;
class USoundWaveProcedural;

/** Audio helpers: SoundWave to request audio, PCM chunking, procedural playback of TTS PCM. */
struct MIENRUNTIME_API FMienAudioUtils
{
	/**
	 * The audio of an imported SoundWave. In editor builds (editor, PIE, commandlets) this is the
	 * imported 16-bit PCM (USoundWave::GetImportedSoundWaveData). Cooked builds strip that data, so
	 * this fails there with "unsupported_audio": pass the PCM your TTS produced to SayPcm instead.
	 */
	static FMienResult GetSoundWaveAudio(USoundWave* Sound, FMienAudio& OutAudio);

	/** Splits s16le PCM into chunks of ChunkMs milliseconds (whole sample frames). */
	static void ChunkPcm(const TArray<uint8>& Pcm16, int32 SampleRateHz, int32 NumChannels, int32 ChunkMs,
		TArray<TArray<uint8>>& OutChunks);

	/** A procedural SoundWave that plays the given s16le PCM once (for SayPcm). */
	static USoundWaveProcedural* MakeProceduralSound(
		UObject* Outer, const TArray<uint8>& Pcm16, int32 SampleRateHz, int32 NumChannels);
};
