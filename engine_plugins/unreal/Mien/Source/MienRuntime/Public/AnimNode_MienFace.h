// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "Animation/AnimNodeBase.h"
#include "CoreMinimal.h"
#include "UObject/WeakObjectPtrTemplates.h"
#include "AnimNode_MienFace.generated.h"

class UAnimInstance;
class UMienFaceComponent;

/**
 * The "Mien Face" AnimGraph node: writes the curves of the owning actor's UMienFaceComponent (its channels after the
 * channel map and the idle/line blend, the values GetCurves returns) into the pose that passes through it, weighted
 * by Alpha over the curves coming in. Put it in the face mesh's Animation Blueprint after the body or face
 * animation; any rig whose morph targets (or Control Rig / pose-asset curves) carry the sidecar's channel names
 * then follows Mien with no Blueprint wiring, in the editor and in packaged builds.
 *
 * Threading: PreUpdate (game thread, after the component has ticked: the face mesh has a tick prerequisite on it)
 * copies the values; Update_AnyThread / Evaluate_AnyThread only read that copy.
 */
USTRUCT(BlueprintInternalUseOnly)
struct MIENRUNTIME_API FAnimNode_MienFace : public FAnimNode_Base
{
	GENERATED_BODY()

	/** The incoming pose and curves. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = Links)
	FPoseLink Source;

	/** Weight of Mien's curves over the incoming ones (0 = the source's, 1 = Mien's). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = Settings,
		meta = (PinShownByDefault, ClampMin = "0", ClampMax = "1"))
	float Alpha = 1.f;

	/**
	 * Flag the written curves as morph-target curves, so they drive the morph targets of the same name even when the
	 * skeleton has no curve metadata for them. Off when a Control Rig or pose asset reads them (metahuman face board).
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = Settings)
	bool bDriveMorphTargets = true;

	/** Also write the rotation channels (eyeYawLeft_deg, headPitch_deg, ...: degrees) as curves. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = Settings)
	bool bIncludeRotationCurves = false;

	/** Name of the Mien Face component to read; None = the first one on the owning actor. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = Settings)
	FName ComponentName;

	// FAnimNode_Base
	void Initialize_AnyThread(const FAnimationInitializeContext& Context) override;
	void CacheBones_AnyThread(const FAnimationCacheBonesContext& Context) override;
	void Update_AnyThread(const FAnimationUpdateContext& Context) override;
	void Evaluate_AnyThread(FPoseContext& Output) override;
	void GatherDebugData(FNodeDebugData& DebugData) override;
	bool HasPreUpdate() const override { return true; }
	void PreUpdate(const UAnimInstance* InAnimInstance) override;

private:
	TWeakObjectPtr<const UMienFaceComponent> Face;
	TArray<FName> AllNames;
	TArray<float> AllValues;
	/** The curves written this frame (rotation channels left out unless bIncludeRotationCurves). */
	TArray<FName> CurveNames;
	TArray<float> CurveValues;
	TArray<bool> CurveIsRotation;
	float EffectiveAlpha = 0.f;
};
