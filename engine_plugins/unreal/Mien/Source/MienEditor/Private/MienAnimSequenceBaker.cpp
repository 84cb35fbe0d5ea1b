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
#include "MienLineAsset.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "Sound/SoundWave.h"
#include "UObject/Package.h"
#include "UObject/UObjectGlobals.h"
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
	if (Sound == nullptr)
	{
		Notify(LOCTEXT("MienNoInput", "Mien: pick a SoundWave."), false);
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
	const TWeakObjectPtr<USoundWave> WeakSound(Sound);
	Client->AnimateLine(Request,
		FMienTrackCallback::CreateLambda(
			[Client, Options, PackagePath, AssetName, SoundName, WeakSound](
				const FMienResult& Result, const FMienTrack& Track)
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
				USoundWave* BakedSound = WeakSound.Get();
				if (CreateLineAsset(BakedSound, Track, Options, PackagePath, SoundName + TEXT("_MienLine"), Error) ==
						nullptr ||
					(Options.Skeleton.IsValid() &&
						CreateAnimSequence(Track, Options, PackagePath, AssetName, Error) == nullptr))
				{
					Notify(FText::Format(LOCTEXT("MienSaveFailed", "Mien: {0}: {1}"), FText::FromString(SoundName),
							   FText::FromString(Error)),
						false);
					return;
				}
				Notify(FText::Format(LOCTEXT("MienDone", "Mien: baked {0} ({1} curves, {2} frames)"),
						   FText::FromString(PackagePath / SoundName), FText::AsNumber(Track.NumChannels()),
						   FText::AsNumber(Track.FrameCount)),
					true);
			}));
}

namespace
{
	/**
	 * The asset PackagePath/AssetName of class T: the existing one when the line was baked before (re-baking
	 * updates it in place, so references to it stay valid), else a new one. nullptr with OutError when an asset
	 * of another class has that name.
	 */
	template <typename T>
	T* FindOrCreateAsset(const FString& PackagePath, const FString& AssetName, bool& bOutCreated, FString& OutError)
	{
		const FString PackageName = PackagePath / AssetName;
		UPackage* Package = FindPackage(nullptr, *PackageName);
		if (Package == nullptr && FPackageName::DoesPackageExist(PackageName))
		{
			Package = LoadPackage(nullptr, *PackageName, LOAD_None);
		}
		if (Package == nullptr)
		{
			Package = CreatePackage(*PackageName);
		}
		Package->FullyLoad();
		bOutCreated = false;
		if (UObject* Existing = StaticFindObject(UObject::StaticClass(), Package, *AssetName))
		{
			T* Typed = Cast<T>(Existing);
			if (Typed == nullptr)
			{
				OutError = FString::Printf(TEXT("%s exists and is a %s, not a %s"), *PackageName,
					*Existing->GetClass()->GetName(), *T::StaticClass()->GetName());
				return nullptr;
			}
			Typed->Modify();
			return Typed;
		}
		bOutCreated = true;
		return NewObject<T>(Package, *AssetName, RF_Public | RF_Standalone | RF_Transactional);
	}

	bool SaveAsset(UObject* Asset, bool bCreated, FString& OutError)
	{
		UPackage* Package = Asset->GetOutermost();
		if (bCreated)
		{
			FAssetRegistryModule::AssetCreated(Asset);
		}
		Asset->MarkPackageDirty();
		const FString Filename =
			FPackageName::LongPackageNameToFilename(Package->GetName(), FPackageName::GetAssetPackageExtension());
		FSavePackageArgs SaveArgs;
		SaveArgs.TopLevelFlags = RF_Public | RF_Standalone;
		SaveArgs.SaveFlags = SAVE_NoError;
		if (!UPackage::SavePackage(Package, Asset, *Filename, SaveArgs))
		{
			OutError = FString::Printf(TEXT("cannot save %s"), *Filename);
			return false;
		}
		return true;
	}
}  // namespace

UAnimSequence* FMienAnimSequenceBaker::CreateAnimSequence(const FMienTrack& Track, const FMienBakeOptions& Options,
	const FString& PackagePath, const FString& AssetName, FString& OutError)
{
	USkeleton* Skeleton = Options.Skeleton.Get();
	if (Skeleton == nullptr)
	{
		OutError = TEXT("the target skeleton is no longer loaded");
		return nullptr;
	}
	bool bCreated = false;
	UAnimSequence* Sequence = FindOrCreateAsset<UAnimSequence>(PackagePath, AssetName, bCreated, OutError);
	if (Sequence == nullptr)
	{
		return nullptr;
	}
	Sequence->SetSkeleton(Skeleton);

	IAnimationDataController& Controller = Sequence->GetController();
	Controller.OpenBracket(LOCTEXT("MienBakeBracket", "Mien facial animation"), false);
	if (bCreated)
	{
		Controller.InitializeModel();
	}
	else
	{
		Controller.RemoveAllCurvesOfType(ERawCurveTrackTypes::RCT_Float, false);
	}
	Controller.SetFrameRate(FFrameRate(FMath::Max(FMath::RoundToInt32(Track.Fps), 1), 1), false);
	Controller.SetNumberOfFrames(FFrameNumber(FMath::Max(Track.FrameCount - 1, 1)), false);
	const int32 Channels = Track.NumChannels();
	bool bMorphCurves = false;
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
			Skeleton->AccumulateCurveMetaData(CurveName, false, true);
			bMorphCurves = true;
		}
	}
	Controller.NotifyPopulated();
	Controller.CloseBracket(false);
	if (!SaveAsset(Sequence, bCreated, OutError))
	{
		return nullptr;
	}
	// Only the skeleton's curve metadata makes a curve drive a morph target (FBoneContainer sets
	// ECurveElementFlags::MorphTarget from it); AccumulateCurveMetaData only marks the skeleton dirty, and unsaved
	// the flags are gone after an editor restart: the curves would then play and move no morph target.
	if (bMorphCurves && !SaveAsset(Skeleton, false, OutError))
	{
		return nullptr;
	}
	UE_LOG(LogMien, Log, TEXT("Baked %s/%s: %d curves, %d frames at %.1f fps (mode %s)"), *PackagePath, *AssetName,
		Channels, Track.FrameCount, Track.Fps, *Track.Mode);
	return Sequence;
}

UMienLineAsset* FMienAnimSequenceBaker::CreateLineAsset(USoundWave* Sound, const FMienTrack& Track,
	const FMienBakeOptions& Options, const FString& PackagePath, const FString& AssetName, FString& OutError)
{
	bool bCreated = false;
	UMienLineAsset* Line = FindOrCreateAsset<UMienLineAsset>(PackagePath, AssetName, bCreated, OutError);
	if (Line == nullptr)
	{
		return nullptr;
	}
	Line->Sound = Sound;
	Line->Track = Track;
	Line->BakedWith = FString::Printf(TEXT("rig %s, emotion %s %.2f, %d fps, mode %s"), *Options.Rig,
		*Options.Emotion.Category, Options.Emotion.Intensity, Options.Fps, *Track.Mode);
	return SaveAsset(Line, bCreated, OutError) ? Line : nullptr;
}

#undef LOCTEXT_NAMESPACE
