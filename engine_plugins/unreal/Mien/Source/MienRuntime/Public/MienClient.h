// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienTypes.h"
#include "UObject/Object.h"
#include "MienClient.generated.h"

DECLARE_DELEGATE_TwoParams(FMienTrackCallback, const FMienResult&, const FMienTrack&);
DECLARE_DELEGATE_TwoParams(FMienServiceInfoCallback, const FMienResult&, const FMienServiceInfo&);
DECLARE_DELEGATE_OneParam(FMienResultCallback, const FMienResult&);

/**
 * Unary HTTP/JSON client of the Mien gateway (Connect-style POST /mien.v1.FaceAnimation/<Rpc>).
 * Callbacks run on the game thread. Server URL, token and timeout default to UMienSettings.
 */
UCLASS(BlueprintType)
class MIENRUNTIME_API UMienClient : public UObject
{
	GENERATED_BODY()

public:
	UMienClient();

	/** Base URL of the gateway: scheme (http or https), host and port of the sidecar gateway. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString ServerUrl;

	/** Bearer token ("" = none). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	FString Token;

	/** Seconds before a request fails with "timeout". */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	float TimeoutS = 30.f;

	/** Attempts of a call (the first included) when the sidecar is unreachable, busy or restarting. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Mien")
	int32 MaxAttempts = 4;

	/** Varies the retry jitter between clients, so NPCs do not retry in lockstep. */
	uint32 RetrySeed = 0;

	/** AnimateLine: the whole track of one line (or an idle track); retried with back-off when bRetry. */
	void AnimateLine(const FMienLineRequest& Request, FMienTrackCallback Callback, bool bRetry = true);

	/** Describe: rigs and their channel names, emotions, limits. */
	void Describe(FMienServiceInfoCallback Callback, bool bRetry = false);

	/** GET /healthz (conformance/healthz.json). */
	void Health(FMienResultCallback Callback);

	/** WebSocket URL of a path (http -> ws, https -> wss). */
	static FString WebSocketUrl(const FString& BaseUrl, const FString& Path);

	static const TCHAR* AnimateLinePath;
	static const TCHAR* DescribePath;
	static const TCHAR* StreamAnimatePath;
	static const TCHAR* HealthPath;

private:
	using FDone = TFunction<void(const FMienResult&, const TArray<uint8>&)>;
	void Send(const FString& Verb, const FString& Path, const FString& Body, bool bRetry, FDone OnDone);
	void SendAttempt(
		const FString& Verb, const FString& Path, const FString& Body, bool bRetry, int32 Attempt, FDone OnDone);
};
