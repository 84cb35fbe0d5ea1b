// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "ILiveLinkSource.h"

class ILiveLinkClient;

/**
 * A Live Link source inside the game: each UMienFaceComponent with a LiveLinkSubject publishes its mapped
 * channels as a subject of ULiveLinkBasicRole (property names = channel names, as Apple's ARKit face source
 * does), so a stock MetaHuman's face Animation Blueprint, pointed at that subject (LLink Face Subj), follows
 * Mien with no graph edits. One source is shared by every component of the process.
 */
class FMienLiveLinkSource : public ILiveLinkSource
{
public:
	/** The shared source, added to the Live Link client on first use; nullptr when Live Link is not loaded. */
	static TSharedPtr<FMienLiveLinkSource> Get();

	/** Declares (or re-declares) a subject's property names. */
	void PushStatic(FName Subject, const TArray<FName>& PropertyNames);
	/** Publishes one frame of a subject (values in the order of its property names). */
	void PushFrame(FName Subject, const TArray<float>& Values);
	void RemoveSubject(FName Subject);

	// ILiveLinkSource
	void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	void InitializeSettings(ULiveLinkSourceSettings* Settings) override;
	bool IsSourceStillValid() const override { return Client != nullptr; }
	bool RequestSourceShutdown() override;
	FText GetSourceType() const override;
	FText GetSourceMachineName() const override;
	FText GetSourceStatus() const override;

private:
	ILiveLinkClient* Client = nullptr;
	FGuid SourceGuid;
};
