// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DataAsset.h"
#include "MienTypes.h"
#include "MienLineAsset.generated.h"

class USoundWave;

/**
 * A baked line: a SoundWave and its Mien track, made in the editor (Content Browser > Generate Facial Animation (Mien))
 * and cooked with the game. Cooked builds strip SoundWaves' raw PCM, so this is how scripted lines get their face in a
 * packaged game with no sidecar at all: UMienFaceComponent::SayLine, or Say with a sound that has one.
 */
UCLASS(BlueprintType)
class MIENRUNTIME_API UMienLineAsset : public UPrimaryDataAsset
{
	GENERATED_BODY()

public:
	UPROPERTY(EditAnywhere, BlueprintReadOnly, Category = "Mien")
	TObjectPtr<USoundWave> Sound;

	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "Mien")
	FMienTrack Track;

	/** What was requested (rig, emotion) when it was baked, for people. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "Mien")
	FString BakedWith;
};
