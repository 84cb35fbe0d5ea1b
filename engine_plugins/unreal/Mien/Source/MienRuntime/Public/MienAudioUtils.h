// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienTypes.h"

class USoundWave;

/** Audio helpers: the request audio of a SoundWave. */
struct MIENRUNTIME_API FMienAudioUtils
{
	/**
	 * The audio of an imported SoundWave. Editor builds (editor, PIE, commandlets) read the imported 16-bit PCM
	 * (USoundWave::GetImportedSoundWaveData, which exists only WITH_EDITOR). Cooked builds strip it: there this
	 * fails with "unsupported_audio" naming the two ways that work in a packaged game, a baked UMienLineAsset
	 * (Content Browser > Generate Facial Animation (Mien)) or streaming the TTS PCM (BeginStream / PushPcm / EndStream,
	 * SayPcm).
	 */
	static FMienResult GetSoundWaveAudio(USoundWave* Sound, FMienAudio& OutAudio);
};
