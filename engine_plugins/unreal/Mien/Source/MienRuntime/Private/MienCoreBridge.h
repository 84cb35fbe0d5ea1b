// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienCore/MienCoreMapping.h"
#include "MienCore/MienCoreProtocol.h"
#include "MienTypes.h"

#include <string>

class UMienChannelMap;

/**
 * Converts between the plugin's Unreal types and the engine-independent core (MienCore, unit-tested in the
 * project's CI): strings (UTF-8), emotions and request settings, decoded tracks, channel maps. Every
 * request body and response the plugin handles goes through the core's encoder and decoder.
 */
namespace MienBridge
{
	std::string ToUtf8(const FString& Text);
	FString FromUtf8(const std::string& Text);
	/** A JSON text for the wire (UTF-8 bytes as an FString for IHttpRequest / IWebSocket). */
	FString ToWire(const MienCore::FJson& Message);

	MienCore::FEmotion ToCoreEmotion(const FMienEmotion& Emotion);
	MienCore::FRequestSettings ToCoreSettings(const FMienLineRequest& Request);
	MienCore::FChannelMapSpec ToCoreMap(const UMienChannelMap* Map);

	/** Body of an AnimateLine request: a spoken line, or an idle track when Request.IdleDurationS > 0. */
	MienCore::FJson BuildAnimateLineBody(const FMienLineRequest& Request);

	/** A decoded AnimationTrack (or stream header) as the Blueprint-facing FMienTrack. */
	void ToUnrealTrack(const MienCore::FDecodedTrack& Decoded, FMienTrack& OutTrack);
	void ToUnrealServiceInfo(const MienCore::FServiceInfo& Info, FMienServiceInfo& OutInfo);
	FMienResult ToResult(const MienCore::FFailure& Failure, int32 HttpStatus = 0);
}  // namespace MienBridge
