// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienAnimSequenceBaker.h"
#include "Widgets/SCompoundWidget.h"

class SWindow;
struct FAssetData;

/** Modal options of "Generate Facial Animation (Mien)": target skeleton, rig profile, emotion, fps. */
class SMienGenerateDialog : public SCompoundWidget
{
public:
	SLATE_BEGIN_ARGS(SMienGenerateDialog)
	{
	}
	SLATE_ARGUMENT(TSharedPtr<SWindow>, ParentWindow)
	SLATE_ARGUMENT(FText, IntroText)
	SLATE_END_ARGS()

	void Construct(const FArguments& InArgs);

	/** Shows the dialog modally; true with OutOptions when the user pressed Generate. */
	static bool ShowModal(int32 NumSounds, FMienBakeOptions& OutOptions);

private:
	FReply OnGenerate();
	FReply OnCancel();
	void OnSkeletonSelected(const FAssetData& Asset);
	bool CanGenerate() const;

	TWeakPtr<SWindow> ParentWindow;
	FMienBakeOptions Options;
	bool bConfirmed = false;
};
