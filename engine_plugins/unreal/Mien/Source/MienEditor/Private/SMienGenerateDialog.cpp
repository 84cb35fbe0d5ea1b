// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "SMienGenerateDialog.h"
#include "Animation/Skeleton.h"
#include "AssetRegistry/AssetData.h"
#include "ContentBrowserModule.h"
#include "Editor.h"
#include "IContentBrowserSingleton.h"
#include "MienSettings.h"
#include "Modules/ModuleManager.h"
#include "Widgets/Input/SButton.h"
#include "Widgets/Input/SCheckBox.h"
#include "Widgets/Input/SEditableTextBox.h"
#include "Widgets/Input/SSpinBox.h"
#include "Widgets/Layout/SBox.h"
#include "Widgets/SBoxPanel.h"
#include "Widgets/SWindow.h"
#include "Widgets/Text/STextBlock.h"

#define LOCTEXT_NAMESPACE "MienEditor"

bool SMienGenerateDialog::ShowModal(int32 NumSounds, FMienBakeOptions& OutOptions)
{
	const TSharedRef<SWindow> Window = SNew(SWindow)
										   .Title(LOCTEXT("MienDialogTitle", "Generate Facial Animation (Mien)"))
										   .ClientSize(FVector2D(520, 640))
										   .SupportsMinimize(false)
										   .SupportsMaximize(false);
	const TSharedRef<SMienGenerateDialog> Dialog =
		SNew(SMienGenerateDialog)
			.ParentWindow(Window)
			.IntroText(FText::Format(LOCTEXT("MienDialogIntro",
										 "Bake {0} sound wave(s) into Mien line assets (played by packaged games) and, "
										 "with a skeleton, AnimSequences with one float curve per channel."),
				FText::AsNumber(NumSounds)));
	Window->SetContent(Dialog);
	GEditor->EditorAddModalWindow(Window);
	if (!Dialog->bConfirmed)
	{
		return false;
	}
	OutOptions = Dialog->Options;
	return true;
}

void SMienGenerateDialog::Construct(const FArguments& InArgs)
{
	ParentWindow = InArgs._ParentWindow;
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	Options.Rig = Settings->DefaultRig;
	Options.Fps = FMath::RoundToInt32(Settings->Fps);
	Options.Emotion = FMienEmotion::MakeCategory(TEXT("neutral"), 1.f);
	Options.bCurvesDriveMorphTargets = Options.Rig != TEXT("metahuman");

	FAssetPickerConfig PickerConfig;
	PickerConfig.Filter.ClassPaths.Add(USkeleton::StaticClass()->GetClassPathName());
	PickerConfig.SelectionMode = ESelectionMode::Single;
	PickerConfig.InitialAssetViewType = EAssetViewType::List;
	PickerConfig.bAllowNullSelection = true;
	PickerConfig.OnAssetSelected = FOnAssetSelected::CreateSP(this, &SMienGenerateDialog::OnSkeletonSelected);
	FContentBrowserModule& ContentBrowser =
		FModuleManager::LoadModuleChecked<FContentBrowserModule>(TEXT("ContentBrowser"));

	ChildSlot
	[
		SNew(SVerticalBox)
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(STextBlock).Text(InArgs._IntroText).AutoWrapText(true)
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(STextBlock).Text(LOCTEXT("MienSkeleton", "Target skeleton (optional: also bake an AnimSequence of the curves)"))
		]
		+ SVerticalBox::Slot().FillHeight(1.f).Padding(6)
		[
			ContentBrowser.Get().CreateAssetPicker(PickerConfig)
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(0.35f)[SNew(STextBlock).Text(LOCTEXT("MienRig", "Rig profile"))]
			+ SHorizontalBox::Slot().FillWidth(0.65f)
			[
				SNew(SEditableTextBox)
				.Text(FText::FromString(Options.Rig))
				.OnTextChanged_Lambda([this](const FText& Text) { Options.Rig = Text.ToString(); })
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(0.35f)[SNew(STextBlock).Text(LOCTEXT("MienEmotion", "Emotion"))]
			+ SHorizontalBox::Slot().FillWidth(0.65f)
			[
				SNew(SEditableTextBox)
				.Text(FText::FromString(Options.Emotion.Category))
				.OnTextChanged_Lambda([this](const FText& Text) { Options.Emotion.Category = Text.ToString(); })
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(0.35f)[SNew(STextBlock).Text(LOCTEXT("MienIntensity", "Intensity"))]
			+ SHorizontalBox::Slot().FillWidth(0.65f)
			[
				SNew(SSpinBox<float>)
				.MinValue(0.f)
				.MaxValue(1.f)
				.Delta(0.05f)
				.Value_Lambda([this]() { return Options.Emotion.Intensity; })
				.OnValueChanged_Lambda([this](float Value) { Options.Emotion.Intensity = Value; })
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(0.35f)[SNew(STextBlock).Text(LOCTEXT("MienFps", "Frames per second"))]
			+ SHorizontalBox::Slot().FillWidth(0.65f)
			[
				SNew(SSpinBox<int32>)
				.MinValue(1)
				.MaxValue(240)
				.Value_Lambda([this]() { return Options.Fps; })
				.OnValueChanged_Lambda([this](int32 Value) { Options.Fps = Value; })
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(6)
		[
			SNew(SCheckBox)
			.IsChecked_Lambda([this]()
				{ return Options.bCurvesDriveMorphTargets ? ECheckBoxState::Checked : ECheckBoxState::Unchecked; })
			.OnCheckStateChanged_Lambda(
				[this](ECheckBoxState State) { Options.bCurvesDriveMorphTargets = State == ECheckBoxState::Checked; })
			[
				SNew(STextBlock).Text(LOCTEXT("MienMorph", "Curves drive morph targets (off for the metahuman profile)"))
			]
		]
		+ SVerticalBox::Slot().AutoHeight().HAlign(HAlign_Right).Padding(6)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().AutoWidth().Padding(2)
			[
				SNew(SButton)
				.Text(LOCTEXT("MienGenerate", "Generate"))
				.IsEnabled(this, &SMienGenerateDialog::CanGenerate)
				.OnClicked(this, &SMienGenerateDialog::OnGenerate)
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(2)
			[
				SNew(SButton).Text(LOCTEXT("MienCancel", "Cancel")).OnClicked(this, &SMienGenerateDialog::OnCancel)
			]
		]
	];
}

void SMienGenerateDialog::OnSkeletonSelected(const FAssetData& Asset)
{
	Options.Skeleton = Cast<USkeleton>(Asset.GetAsset());
}

bool SMienGenerateDialog::CanGenerate() const
{
	return !Options.Rig.IsEmpty() && !Options.Emotion.Category.IsEmpty();
}

FReply SMienGenerateDialog::OnGenerate()
{
	bConfirmed = true;
	if (const TSharedPtr<SWindow> Window = ParentWindow.Pin())
	{
		Window->RequestDestroyWindow();
	}
	return FReply::Handled();
}

FReply SMienGenerateDialog::OnCancel()
{
	bConfirmed = false;
	if (const TSharedPtr<SWindow> Window = ParentWindow.Pin())
	{
		Window->RequestDestroyWindow();
	}
	return FReply::Handled();
}

#undef LOCTEXT_NAMESPACE
