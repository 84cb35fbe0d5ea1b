// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienTypes.h"
#include "UObject/WeakObjectPtrTemplates.h"

class UAnimSequence;
class UMienLineAsset;
class USkeleton;
class USoundWave;

/** Options of the "Generate Facial Animation (Mien)" action. */
struct MIENEDITOR_API FMienBakeOptions
{
	/** Weak: the options outlive the dialog in an asynchronous request, and this struct is not seen by the GC. */
	TWeakObjectPtr<USkeleton> Skeleton;
	FString Rig = TEXT("arkit52");
	FMienEmotion Emotion;
	int32 Fps = 30;
	/** Mark the curves as morph-target curves on the skeleton (ARKit/VRM/viseme profiles; off for metahuman). */
	bool bCurvesDriveMorphTargets = true;
};

/** Bakes SoundWaves into AnimSequences with one float curve per channel of the sidecar's track. */
struct MIENEDITOR_API FMienAnimSequenceBaker
{
	/**
	 * Requests the track of Sound (source file bytes when the imported file still exists, else the
	 * imported PCM; transcript from a .txt beside the source file) and saves <Sound>_Mien next to the
	 * SoundWave asset: <Sound>_MienLine (a UMienLineAsset, what packaged games play) and, when a skeleton is
	 * picked, <Sound>_Mien (an AnimSequence with one float curve per channel). Re-baking updates both in place.
	 * Reports the outcome as an editor notification. Asynchronous.
	 */
	static void BakeAsync(USoundWave* Sound, const FMienBakeOptions& Options);

	/**
	 * Creates (or, when it exists, updates in place) and saves the AnimSequence PackagePath/AssetName from a
	 * track; an asset of another class with that name is an error, never replaced.
	 */
	static UAnimSequence* CreateAnimSequence(const FMienTrack& Track, const FMienBakeOptions& Options,
		const FString& PackagePath, const FString& AssetName, FString& OutError);

	/** Creates or updates the baked line (SoundWave + track) a packaged game plays with SayLine / Say. */
	static UMienLineAsset* CreateLineAsset(USoundWave* Sound, const FMienTrack& Track, const FMienBakeOptions& Options,
		const FString& PackagePath, const FString& AssetName, FString& OutError);
};
