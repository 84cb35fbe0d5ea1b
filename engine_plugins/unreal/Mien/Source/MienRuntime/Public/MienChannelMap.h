// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DataAsset.h"
#include "MienTypes.h"
#include "MienChannelMap.generated.h"

/**
 * Per-character mapping of the sidecar's channels onto a rig, as a data asset shared by every NPC with that
 * face: rename, gain, offset and clamp per channel (MienCore::FChannelMapping does the work). Channels no rule
 * reads pass through under their own name unless bPassThroughUnmapped is off.
 */
UCLASS(BlueprintType)
class MIENRUNTIME_API UMienChannelMap : public UDataAsset
{
	GENERATED_BODY()

public:
	/** The rules, in output order. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	TArray<FMienChannelRule> Rules;

	/** Output channels no rule reads unchanged. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	bool bPassThroughUnmapped = true;

	/**
	 * The mapping a stock MetaHuman's face Animation Blueprint reads through Live Link (ARKit curve names pass
	 * through, FNames match case-insensitively; head rotations in degrees become HeadYaw/HeadPitch/HeadRoll in
	 * the -1..1 = -180..180 degree range the ARKit Live Link source uses).
	 */
	UFUNCTION(BlueprintCallable, Category = "Mien")
	static UMienChannelMap* MakeMetaHumanLiveLinkMap(UObject* Outer);

#if WITH_EDITOR
	EDataValidationResult IsDataValid(class FDataValidationContext& Context) const override;
#endif
};
