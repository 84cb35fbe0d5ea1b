// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "AnimNode_MienFace.h"
#include "Animation/AnimCurveElementFlags.h"
#include "Animation/AnimInstance.h"
#include "GameFramework/Actor.h"
#include "MienFaceComponent.h"
#include "MienTypes.h"

void FAnimNode_MienFace::Initialize_AnyThread(const FAnimationInitializeContext& Context)
{
	FAnimNode_Base::Initialize_AnyThread(Context);
	Source.Initialize(Context);
}

void FAnimNode_MienFace::CacheBones_AnyThread(const FAnimationCacheBonesContext& Context)
{
	Source.CacheBones(Context);
}

void FAnimNode_MienFace::PreUpdate(const UAnimInstance* InAnimInstance)
{
	const UMienFaceComponent* Component = Face.Get();
	const AActor* Owner = InAnimInstance != nullptr ? InAnimInstance->GetOwningActor() : nullptr;
	if ((Component == nullptr || Component->GetOwner() != Owner) && Owner != nullptr)
	{
		Component = nullptr;
		TArray<UMienFaceComponent*> Faces;
		Owner->GetComponents<UMienFaceComponent>(Faces);
		for (const UMienFaceComponent* Candidate : Faces)
		{
			if (ComponentName.IsNone() || Candidate->GetFName() == ComponentName)
			{
				Component = Candidate;
				break;
			}
		}
		Face = Component;
	}
	CurveNames.Reset();
	CurveValues.Reset();
	CurveIsRotation.Reset();
	if (Component == nullptr)
	{
		return;
	}
	Component->GetAppliedCurves(AllNames, AllValues);
	for (int32 Index = 0; Index < AllNames.Num() && Index < AllValues.Num(); ++Index)
	{
		const bool bRotation = AllNames[Index].ToString().EndsWith(MIEN_DEGREE_SUFFIX);
		if (bRotation && !bIncludeRotationCurves)
		{
			continue;
		}
		CurveNames.Add(AllNames[Index]);
		CurveValues.Add(AllValues[Index]);
		CurveIsRotation.Add(bRotation);
	}
}

void FAnimNode_MienFace::Update_AnyThread(const FAnimationUpdateContext& Context)
{
	GetEvaluateGraphExposedInputs().Execute(Context);
	Source.Update(Context);
	EffectiveAlpha = FMath::Clamp(Alpha, 0.f, 1.f);
}

void FAnimNode_MienFace::Evaluate_AnyThread(FPoseContext& Output)
{
	Source.Evaluate(Output);
	if (EffectiveAlpha <= 0.f)
	{
		return;
	}
	for (int32 Index = 0; Index < CurveNames.Num(); ++Index)
	{
		const FName Name = CurveNames[Index];
		float Value = CurveValues[Index];
		if (EffectiveAlpha < 1.f)
		{
			Value = FMath::Lerp(Output.Curve.Get(Name), Value, EffectiveAlpha);
		}
		Output.Curve.Set(Name, Value);
		if (bDriveMorphTargets && !CurveIsRotation[Index])
		{
			// Morph targets follow curves flagged MorphTarget (FAnimInstanceProxy::UpdateCurvesToEvaluationContext);
			// the flag normally comes from the skeleton's curve metadata, which a runtime channel may not have.
			Output.Curve.SetFlags(Name, Output.Curve.GetFlags(Name) | UE::Anim::ECurveElementFlags::MorphTarget);
		}
	}
}

void FAnimNode_MienFace::GatherDebugData(FNodeDebugData& DebugData)
{
	FString DebugLine = DebugData.GetNodeName(this);
	DebugLine += FString::Printf(TEXT("(%d curves, alpha %.2f%s)"), CurveNames.Num(), EffectiveAlpha,
		Face.IsValid() ? TEXT("") : TEXT(", no Mien Face on the owner"));
	DebugData.AddDebugItem(DebugLine);
	Source.GatherDebugData(DebugData);
}
