// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "AnimGraphNode_Base.h"
#include "AnimNode_MienFace.h"
#include "CoreMinimal.h"
#include "AnimGraphNode_MienFace.generated.h"

/** Editor node of FAnimNode_MienFace: Animation Blueprint > right-click > Mien > Mien Face. */
UCLASS()
class MIENANIMGRAPH_API UAnimGraphNode_MienFace : public UAnimGraphNode_Base
{
	GENERATED_BODY()

public:
	UPROPERTY(EditAnywhere, Category = Settings)
	FAnimNode_MienFace Node;

	// UEdGraphNode
	FText GetNodeTitle(ENodeTitleType::Type TitleType) const override;
	FText GetTooltipText() const override;
	// UK2Node
	FText GetMenuCategory() const override;
};
