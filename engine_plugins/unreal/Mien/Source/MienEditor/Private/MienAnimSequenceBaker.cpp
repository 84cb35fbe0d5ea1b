// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienAnimSequenceBaker.h"
#include "Animation/AnimData/CurveIdentifier.h"
#include "Animation/AnimData/IAnimationDataController.h"
#include "Animation/AnimSequence.h"
#include "Animation/Skeleton.h"
#include "AssetRegistry/AssetRegistryModule.h"
#include "EditorFramework/AssetImportData.h"
#include "Framework/Notifications/NotificationManager.h"
#include "HAL/FileManager.h"
#include "Misc/FileHelper.h"
#include "Misc/PackageName.h"
#include "Misc/Paths.h"
#include "MienAudioUtils.h"
#include "MienClient.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "Sound/SoundWave.h"
#include "UObject/Package.h"
#include "UObject/SavePackage.h"
#include "Widgets/Notifications/SNotificationList.h"

#define LOCTEXT_NAMESPACE "MienEditor"

namespace
{
	void Notify(const FText& Text, bool bSuccess)
	{
		FNotificationInfo Info(Text);
		Info.ExpireDuration = bSuccess ? 4.f : 8.f;
		Info.bUseSuccessFailIcons = true;
		const TSharedPtr<SNotificationItem> Item = FSlateNotificationManager::Get().AddNotification(Info);
		if (Item.IsValid())
		{
			Item->SetCompletionState(bSuccess ? SNotificationItem::CS_Success : SNotificationItem::CS_Fail);
		}
	}

	/** The imported source file of a SoundWave, "" when unknown or gone. */
	FString SourceFileOf(const USoundWave* Sound)
	{
		if (Sound->AssetImportData == nullptr)
		{
			return FString();
		}
		const FString Source = Sound->AssetImportData->GetFirstFilename();
		return !Source.IsEmpty() && FPaths::FileExists(Source) ? Source : FString();
	}
}  // namespace

void FMienAnimSequenceBaker::BakeAsync(USoundWave* Sound, const FMienBakeOptions& Options)
{
	if (Sound == nullptr || Options.Skeleton == nullptr)
	{
		Notify(LOCTEXT("MienNoInput", "Mien: pick a SoundWave and a skeleton."), false);
		return;
	}
	FMienLineRequest Request;
	Request.Rig = Options.Rig;
	Request.Emotion = Options.Emotion;
	Request.Fps = static_cast<float>(Options.Fps);
	const FString Source = SourceFileOf(Sound);
	if (!Source.IsEmpty() && FFileHelper::LoadFileToArray(Request.Audio.FileBytes, *Source))
	{
		const FString TranscriptFile = FPaths::ChangeExtension(Source, TEXT("txt"));
		if (FPaths::FileExists(TranscriptFile))
		{
			FFileHelper::LoadFileToString(Request.Transcript, *TranscriptFile);
			Request.Transcript.TrimStartAndEndInline();
		}
	}
	else
	{
		const FMienResult AudioResult = FMienAudioUtils::GetSoundWaveAudio(Sound, Request.Audio);
		if (!AudioResult.bOk)
		{
			Notify(FText::FromString(TEXT("Mien: ") + AudioResult.ToString()), false);
			return;
		}
	}
	UMienClient* Client = NewObject<UMienClient>();
	Client->AddToRoot();
	const FString PackagePath = FPackageName::GetLongPackagePath(Sound->GetOutermost()->GetName());
	const FString AssetName = Sound->GetName() + TEXT("_Mien");
	const FString SoundName = Sound->GetName();
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[Client, Options, PackagePath, AssetName, SoundName](const FMienResult& Result, const FMienTrack& Track)
			{
				Client->RemoveFromRoot();
				if (!Result.bOk)
				{
					Notify(FText::Format(LOCTEXT("MienFailed", "Mien: {0}: {1}"), FText::FromString(SoundName),
							   FText::FromString(Result.ToString())),
						false);
					return;
				}
				FString Error;
				if (CreateAnimSequence(Track, Options, PackagePath, AssetName, Error) == nullptr)
				{
					Notify(FText::Format(LOCTEXT("MienSaveFailed", "Mien: {0}: {1}"), FText::FromString(SoundName),
							   FText::FromString(Error)),
						false);
					return;
				}
				Notify(FText::Format(LOCTEXT("MienDone", "Mien: created {0} ({1} curves, {2} frames)"),
						   FText::FromString(PackagePath / AssetName), FText::AsNumber(Track.NumChannels()),
						   FText::AsNumber(Track.FrameCount)),
					true);
			}));
}

UAnimSequence* FMienAnimSequenceBaker::CreateAnimSequence(const FMienTrack& Track, const FMienBakeOptions& Options,
	const FString& PackagePath, const FString& AssetName, FString& OutError)
{
	const FString PackageName = PackagePath / AssetName;
	UPackage* Package = CreatePackage(*PackageName);
	UAnimSequence* Sequence =
		NewObject<UAnimSequence>(Package, *AssetName, RF_Public | RF_Standalone | RF_Transactional);
	Sequence->SetSkeleton(Options.Skeleton);

	IAnimationDataController& Controller = Sequence->GetController();
	Controller.OpenBracket(LOCTEXT("MienBakeBracket", "Mien facial animation"), false);
	Controller.InitializeModel();
	Controller.SetFrameRate(FFrameRate(FMath::Max(FMath::RoundToInt32(Track.Fps), 1), 1), false);
	Controller.SetNumberOfFrames(FFrameNumber(FMath::Max(Track.FrameCount - 1, 1)), false);
	const int32 Channels = Track.NumChannels();
	for (int32 Channel = 0; Channel < Channels; ++Channel)
	{
		const FName CurveName = Track.ChannelNames[Channel];
		const FAnimationCurveIdentifier CurveId(CurveName, ERawCurveTrackTypes::RCT_Float);
		if (!Controller.AddCurve(CurveId, AACF_Editable, false))
		{
			OutError = FString::Printf(TEXT("cannot add curve %s"), *CurveName.ToString());
			Controller.CloseBracket(false);
			return nullptr;
		}
		TArray<FRichCurveKey> Keys;
		Keys.Reserve(Track.FrameCount);
		for (int32 Frame = 0; Frame < Track.FrameCount; ++Frame)
		{
			FRichCurveKey& Key = Keys.Emplace_GetRef(Frame / Track.Fps, Track.Values[Frame * Channels + Channel]);
			Key.InterpMode = RCIM_Linear;
		}
		Controller.SetCurveKeys(CurveId, Keys, false);
		const bool bDegrees = CurveName.ToString().EndsWith(MIEN_DEGREE_SUFFIX);
		if (Options.bCurvesDriveMorphTargets && !bDegrees)
		{
			Options.Skeleton->AccumulateCurveMetaData(CurveName, false, true);
		}
	}
	Controller.NotifyPopulated();
	Controller.CloseBracket(false);

	FAssetRegistryModule::AssetCreated(Sequence);
	Sequence->MarkPackageDirty();
	const FString Filename =
		FPackageName::LongPackageNameToFilename(PackageName, FPackageName::GetAssetPackageExtension());
	FSavePackageArgs SaveArgs;
	SaveArgs.TopLevelFlags = RF_Public | RF_Standalone;
	SaveArgs.SaveFlags = SAVE_NoError;
	if (!UPackage::SavePackage(Package, Sequence, *Filename, SaveArgs))
	{
		OutError = FString::Printf(TEXT("cannot save %s"), *Filename);
		return nullptr;
	}
	UE_LOG(LogMien, Log, TEXT("Baked %s: %d curves, %d frames at %.1f fps (mode %s)"), *PackageName, Channels,
		Track.FrameCount, Track.Fps, *Track.Mode);
	return Sequence;
}

#undef LOCTEXT_NAMESPACE
