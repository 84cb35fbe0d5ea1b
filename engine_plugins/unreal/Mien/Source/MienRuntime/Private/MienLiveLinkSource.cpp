// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienLiveLinkSource.h"
#include "Features/IModularFeatures.h"
#include "ILiveLinkClient.h"
#include "LiveLinkSourceSettings.h"
#include "LiveLinkTypes.h"
#include "Roles/LiveLinkBasicRole.h"
#include "Roles/LiveLinkBasicTypes.h"

#define LOCTEXT_NAMESPACE "MienLiveLink"

TSharedPtr<FMienLiveLinkSource> FMienLiveLinkSource::Get()
{
	static TWeakPtr<FMienLiveLinkSource> Shared;
	if (TSharedPtr<FMienLiveLinkSource> Existing = Shared.Pin())
	{
		if (Existing->Client != nullptr)
		{
			return Existing;
		}
	}
	IModularFeatures& Features = IModularFeatures::Get();
	if (!Features.IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		return nullptr;
	}
	ILiveLinkClient& LiveLink = Features.GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName);
	TSharedPtr<FMienLiveLinkSource> Source = MakeShared<FMienLiveLinkSource>();
	LiveLink.AddSource(Source);  // calls ReceiveClient; the client keeps the source alive
	Shared = Source;
	return Source;
}

void FMienLiveLinkSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	Client = InClient;
	SourceGuid = InSourceGuid;
}

void FMienLiveLinkSource::InitializeSettings(ULiveLinkSourceSettings* Settings)
{
	// Frames are pushed at the game's own tick, already in sync with the audio: evaluate the latest one.
	if (Settings != nullptr)
	{
		Settings->Mode = ELiveLinkSourceMode::Latest;
	}
}

bool FMienLiveLinkSource::RequestSourceShutdown()
{
	Client = nullptr;
	return true;
}

FText FMienLiveLinkSource::GetSourceType() const
{
	return LOCTEXT("MienSourceType", "Mien");
}

FText FMienLiveLinkSource::GetSourceMachineName() const
{
	return LOCTEXT("MienSourceMachine", "this process");
}

FText FMienLiveLinkSource::GetSourceStatus() const
{
	return Client != nullptr ? LOCTEXT("MienActive", "Active") : LOCTEXT("MienInactive", "Inactive");
}

void FMienLiveLinkSource::PushStatic(FName Subject, const TArray<FName>& PropertyNames)
{
	if (Client == nullptr)
	{
		return;
	}
	FLiveLinkStaticDataStruct StaticData(FLiveLinkBaseStaticData::StaticStruct());
	StaticData.Cast<FLiveLinkBaseStaticData>()->PropertyNames = PropertyNames;
	Client->PushSubjectStaticData_AnyThread(
		FLiveLinkSubjectKey(SourceGuid, Subject), ULiveLinkBasicRole::StaticClass(), MoveTemp(StaticData));
}

void FMienLiveLinkSource::PushFrame(FName Subject, const TArray<float>& Values)
{
	if (Client == nullptr)
	{
		return;
	}
	FLiveLinkFrameDataStruct FrameData(FLiveLinkBaseFrameData::StaticStruct());
	FLiveLinkBaseFrameData* Frame = FrameData.Cast<FLiveLinkBaseFrameData>();
	Frame->WorldTime = FLiveLinkWorldTime(FPlatformTime::Seconds());
	Frame->PropertyValues = Values;
	Client->PushSubjectFrameData_AnyThread(FLiveLinkSubjectKey(SourceGuid, Subject), MoveTemp(FrameData));
}

void FMienLiveLinkSource::RemoveSubject(FName Subject)
{
	if (Client != nullptr)
	{
		Client->RemoveSubject_AnyThread(FLiveLinkSubjectKey(SourceGuid, Subject));
	}
}

#undef LOCTEXT_NAMESPACE
