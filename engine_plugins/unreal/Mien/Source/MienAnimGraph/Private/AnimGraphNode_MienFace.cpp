// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "AnimGraphNode_MienFace.h"

#define LOCTEXT_NAMESPACE "MienAnimGraph"

FText UAnimGraphNode_MienFace::GetNodeTitle(ENodeTitleType::Type /*TitleType*/) const
{
	return LOCTEXT("MienFaceTitle", "Mien Face");
}

FText UAnimGraphNode_MienFace::GetTooltipText() const
{
	return LOCTEXT("MienFaceTooltip",
		"Writes the curves of the owner's Mien Face component (lip-sync, expression, blinks, gaze; after its channel "
		"map) into the pose, weighted by Alpha. Morph targets with the channels' names follow them.");
}

FText UAnimGraphNode_MienFace::GetMenuCategory() const
{
	return LOCTEXT("MienFaceCategory", "Mien");
}

#undef LOCTEXT_NAMESPACE
