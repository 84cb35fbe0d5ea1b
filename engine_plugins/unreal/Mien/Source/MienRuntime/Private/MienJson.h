// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Dom/JsonObject.h"
#include "MienTypes.h"

/**
 * The proto3 JSON mapping of the mien.v1 messages the plugin sends and reads: camelCase field names,
 * bytes as base64, enums by name, uint64 as strings. The exact requests are recorded in the plugin's
 * conformance/*.json fixtures, which the project's tests replay against a live gateway.
 */
namespace MienJson
{
	/** mien.v1 EmotionSpec for an emotion; nullptr = neutral (the field is left out). */
	TSharedPtr<FJsonObject> MakeEmotionSpec(const FMienEmotion& Emotion, const FString& NpcId);

	/** mien.v1 EmotionValue of a category at an intensity. */
	TSharedRef<FJsonObject> MakeCategoryValue(const FString& Category, float Intensity);

	/** mien.v1 EmotionKeyframe messages of the emotion's keyframes in [StartS, EndS) (all when EndS < 0). */
	TArray<TSharedPtr<FJsonValue>> MakeKeyframes(const FMienEmotion& Emotion, float StartS, float EndS);

	/** mien.v1 AnimationOptions. */
	TSharedRef<FJsonObject> MakeOptions(float ExpressionScale, float BlinkScale, float GazeScale);

	/** Body of an AnimateLine request (a spoken line, or an idle track when IdleDurationS > 0). */
	TSharedRef<FJsonObject> BuildAnimateLineBody(const FMienLineRequest& Request);

	/** The header message of a StreamAnimate stream. */
	TSharedRef<FJsonObject> BuildStreamHeader(const FMienLineRequest& Request, int32 SampleRateHz, int32 NumChannels);

	/** {"audio": {"data": ..., "emotionKeyframes": [...]}} */
	TSharedRef<FJsonObject> BuildStreamAudio(
		const TArray<uint8>& PcmChunk, const TArray<TSharedPtr<FJsonValue>>& Keyframes);

	/** Serializes without whitespace. */
	FString ToString(const TSharedRef<FJsonObject>& Object);

	/** Parses a JSON object; nullptr when Text is not one. */
	TSharedPtr<FJsonObject> Parse(const FString& Text);

	/** Parses an AnimationTrack response; false with OutProblem when it is malformed. */
	bool ParseTrack(const FJsonObject& Body, FMienTrack& OutTrack, FString& OutProblem);

	/** Parses a ServiceInfo (Describe) response. */
	bool ParseServiceInfo(const FJsonObject& Body, FMienServiceInfo& OutInfo, FString& OutProblem);

	/** A gateway error body {"code": "...", "message": "..."} as a failed result. */
	FMienResult ParseError(int32 HttpStatus, const FString& BodyText);
}  // namespace MienJson
