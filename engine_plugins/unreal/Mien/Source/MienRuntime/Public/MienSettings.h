// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "MienSettings.generated.h"

/** Project Settings > Plugins > Mien: where the sidecar is and the defaults of every request. */
UCLASS(config = Game, defaultconfig, meta = (DisplayName = "Mien"))
class MIENRUNTIME_API UMienSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	/** Base URL of the Mien gateway (HTTP/JSON + WebSocket). */
	UPROPERTY(config, EditAnywhere, Category = "Server")
	FString ServerUrl = TEXT("http://127.0.0.1:8080");

	/**
	 * Bearer token; empty = none. Stored in DefaultGame.ini: leave it empty in shared projects and set
	 * the MIEN_TOKEN environment variable instead (used when this is empty).
	 */
	UPROPERTY(config, EditAnywhere, Category = "Server")
	FString Token;

	/** Rig profile used when a component does not name one (see the sidecar's Describe). */
	UPROPERTY(config, EditAnywhere, Category = "Animation")
	FString DefaultRig = TEXT("arkit52");

	/** Frames per second requested from the sidecar. */
	UPROPERTY(config, EditAnywhere, Category = "Animation", meta = (ClampMin = "1", ClampMax = "240"))
	float Fps = 60.f;

	/** Seconds before a request fails with "timeout". */
	UPROPERTY(config, EditAnywhere, Category = "Server", meta = (ClampMin = "1"))
	float RequestTimeout = 30.f;

	/** Milliseconds of audio per streamed chunk (20-100 recommended). */
	UPROPERTY(config, EditAnywhere, Category = "Server", meta = (ClampMin = "20", ClampMax = "1000"))
	int32 StreamChunkMs = 100;

	FName GetCategoryName() const override { return FName(TEXT("Plugins")); }

	/** Token, or the MIEN_TOKEN environment variable when Token is empty. */
	FString GetEffectiveToken() const;
};
