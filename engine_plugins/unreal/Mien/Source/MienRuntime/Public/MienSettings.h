// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "MienSettings.generated.h"

/**
 * Project Settings > Plugins > Mien: where the sidecar is and the defaults of every request. Saved in
 * Config/DefaultGame.ini, which is committed and packaged: it holds no secret. The bearer token lives in
 * UMienUserSettings (per user, editor only) or comes from the command line / environment at runtime.
 */
UCLASS(config = Game, defaultconfig, meta = (DisplayName = "Mien"))
class MIENRUNTIME_API UMienSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	/** Base URL of the Mien gateway (HTTP/JSON + WebSocket). -MienUrl=... on the command line overrides it. */
	UPROPERTY(config, EditAnywhere, Category = "Server")
	FString ServerUrl = TEXT("http://127.0.0.1:8080");

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
	UPROPERTY(config, EditAnywhere, Category = "Streaming", meta = (ClampMin = "20", ClampMax = "1000"))
	int32 StreamChunkMs = 100;

	/** Seconds of audio streamed ahead of real time (at least the model's look-ahead). */
	UPROPERTY(config, EditAnywhere, Category = "Streaming", meta = (ClampMin = "0.1", ClampMax = "5"))
	float StreamLeadS = 0.5f;

	/** Attempts of a call to the sidecar (the first included) when it is unreachable, busy or restarting. */
	UPROPERTY(config, EditAnywhere, Category = "Server", meta = (ClampMin = "1", ClampMax = "10"))
	int32 MaxAttempts = 4;

	FName GetCategoryName() const override { return FName(TEXT("Plugins")); }

	/** ServerUrl, or -MienUrl=... from the command line. */
	FString GetEffectiveServerUrl() const;

	/**
	 * The bearer token ("" = none), in order: SetRuntimeToken (your game's secure storage), -MienToken=...
	 * on the command line, the MIEN_TOKEN environment variable, and in editor builds UMienUserSettings.
	 */
	static FString ResolveToken();

	/** Sets the token for every Mien call of this process. */
	static void SetRuntimeToken(const FString& Token);
};

/**
 * Editor Preferences > Plugins > Mien: settings of this user on this machine, saved in
 * Saved/Config/<Platform>Editor/EditorPerProjectUserSettings.ini (neither committed nor packaged).
 */
UCLASS(config = EditorPerProjectUserSettings, meta = (DisplayName = "Mien (this user)"))
class MIENRUNTIME_API UMienUserSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	/** Bearer token of the sidecar's gateway, for the editor and Play In Editor. */
	UPROPERTY(config, EditAnywhere, Category = "Server", meta = (PasswordField = true))
	FString Token;

	/** Command the editor runs when the sidecar is not running (quotes group arguments). */
	UPROPERTY(config, EditAnywhere, Category = "Sidecar")
	FString SidecarCommand = TEXT("mien serve --http-port 8080");

	/** Start the sidecar when the editor finds it is not running (local URLs only). */
	UPROPERTY(config, EditAnywhere, Category = "Sidecar")
	bool bStartSidecar = true;

	/** Stop the sidecar the editor started when the editor closes. */
	UPROPERTY(config, EditAnywhere, Category = "Sidecar")
	bool bStopSidecarOnExit = true;

	FName GetContainerName() const override { return FName(TEXT("Editor")); }
	FName GetCategoryName() const override { return FName(TEXT("Plugins")); }
};
