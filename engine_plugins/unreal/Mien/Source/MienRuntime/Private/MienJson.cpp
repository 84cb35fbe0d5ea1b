// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienJson.h"
#include "Misc/Base64.h"
#include "Policies/CondensedJsonPrintPolicy.h"
#include "Serialization/JsonReader.h"
#include "Serialization/JsonSerializer.h"
#include "Serialization/JsonWriter.h"

namespace MienJson
{
	static const TCHAR* EncodingS16 = TEXT("PCM_ENCODING_S16LE");

	TSharedRef<FJsonObject> MakeCategoryValue(const FString& Category, float Intensity)
	{
		TSharedRef<FJsonObject> CategoryObject = MakeShared<FJsonObject>();
		CategoryObject->SetStringField(TEXT("name"), Category);
		CategoryObject->SetNumberField(TEXT("intensity"), Intensity);
		TSharedRef<FJsonObject> Value = MakeShared<FJsonObject>();
		Value->SetObjectField(TEXT("category"), CategoryObject);
		return Value;
	}

	TArray<TSharedPtr<FJsonValue>> MakeKeyframes(const FMienEmotion& Emotion, float StartS, float EndS)
	{
		TArray<TSharedPtr<FJsonValue>> Out;
		if (Emotion.Kind != EMienEmotionKind::Keyframes)
		{
			return Out;
		}
		for (const FMienEmotionKeyframe& Keyframe : Emotion.Keyframes)
		{
			const bool bInChunk = EndS < 0.f || (Keyframe.TimeS >= StartS && Keyframe.TimeS < EndS);
			if (!bInChunk)
			{
				continue;
			}
			TSharedRef<FJsonObject> Entry = MakeShared<FJsonObject>();
			Entry->SetNumberField(TEXT("timeS"), Keyframe.TimeS);
			Entry->SetObjectField(TEXT("value"), MakeCategoryValue(Keyframe.Category, Keyframe.Intensity));
			Out.Add(MakeShared<FJsonValueObject>(Entry));
		}
		return Out;
	}

	TSharedPtr<FJsonObject> MakeEmotionSpec(const FMienEmotion& Emotion, const FString& NpcId)
	{
		TSharedRef<FJsonObject> Spec = MakeShared<FJsonObject>();
		const bool bAuto =
			Emotion.Kind == EMienEmotionKind::Auto || (Emotion.Kind == EMienEmotionKind::Default && !NpcId.IsEmpty());
		if (bAuto)
		{
			TSharedRef<FJsonObject> Auto = MakeShared<FJsonObject>();
			if (Emotion.GameTimeS >= 0.f)
			{
				Auto->SetNumberField(TEXT("gameTimeS"), Emotion.GameTimeS);
			}
			Spec->SetObjectField(TEXT("auto"), Auto);
			return Spec;
		}
		switch (Emotion.Kind)
		{
			case EMienEmotionKind::Category:
				Spec->SetObjectField(TEXT("constant"), MakeCategoryValue(Emotion.Category, Emotion.Intensity));
				return Spec;
			case EMienEmotionKind::Vad:
			{
				TSharedRef<FJsonObject> Vad = MakeShared<FJsonObject>();
				Vad->SetNumberField(TEXT("valence"), Emotion.Vad.X);
				Vad->SetNumberField(TEXT("arousal"), Emotion.Vad.Y);
				Vad->SetNumberField(TEXT("dominance"), Emotion.Vad.Z);
				TSharedRef<FJsonObject> Value = MakeShared<FJsonObject>();
				Value->SetObjectField(TEXT("vad"), Vad);
				Spec->SetObjectField(TEXT("constant"), Value);
				return Spec;
			}
			case EMienEmotionKind::Keyframes:
			{
				TSharedRef<FJsonObject> Keyframes = MakeShared<FJsonObject>();
				Keyframes->SetArrayField(TEXT("keyframes"), MakeKeyframes(Emotion, 0.f, -1.f));
				Spec->SetObjectField(TEXT("keyframes"), Keyframes);
				return Spec;
			}
			default:
				return nullptr;
		}
	}

	TSharedRef<FJsonObject> MakeOptions(float ExpressionScale, float BlinkScale, float GazeScale)
	{
		TSharedRef<FJsonObject> Options = MakeShared<FJsonObject>();
		Options->SetNumberField(TEXT("expressionScale"), ExpressionScale);
		Options->SetNumberField(TEXT("blinkScale"), BlinkScale);
		Options->SetNumberField(TEXT("gazeScale"), GazeScale);
		return Options;
	}

	static void SetCommonFields(FJsonObject& Body, const FMienLineRequest& Request)
	{
		Body.SetNumberField(TEXT("fps"), Request.Fps);
		Body.SetStringField(TEXT("rig"), Request.Rig);
		if (!Request.NpcId.IsEmpty())
		{
			Body.SetStringField(TEXT("npcId"), Request.NpcId);
		}
		if (Request.Seed >= 0)
		{
			Body.SetStringField(TEXT("seed"), FString::Printf(TEXT("%lld"), Request.Seed));
		}
		Body.SetObjectField(
			TEXT("options"), MakeOptions(Request.ExpressionScale, Request.BlinkScale, Request.GazeScale));
	}

	TSharedRef<FJsonObject> BuildAnimateLineBody(const FMienLineRequest& Request)
	{
		TSharedRef<FJsonObject> Body = MakeShared<FJsonObject>();
		if (Request.IdleDurationS > 0.f)
		{
			// Idle (listening) track: conformance/animate_line_idle.json
			Body->SetNumberField(TEXT("idleDurationS"), Request.IdleDurationS);
		}
		else
		{
			TSharedRef<FJsonObject> Audio = MakeShared<FJsonObject>();
			if (Request.Audio.FileBytes.Num() > 0)
			{
				// Whole file: conformance/animate_line_file.json, conformance/animate_line_npc_auto.json
				Audio->SetStringField(TEXT("file"), FBase64::Encode(Request.Audio.FileBytes));
			}
			else
			{
				// Raw PCM (SayPcm, imported SoundWave data): conformance/animate_line_pcm.json
				TSharedRef<FJsonObject> Pcm = MakeShared<FJsonObject>();
				Pcm->SetStringField(TEXT("data"), FBase64::Encode(Request.Audio.Pcm16));
				Pcm->SetNumberField(TEXT("sampleRateHz"), Request.Audio.SampleRateHz);
				Pcm->SetStringField(TEXT("encoding"), EncodingS16);
				Pcm->SetNumberField(TEXT("channels"), Request.Audio.NumChannels);
				Audio->SetObjectField(TEXT("pcm"), Pcm);
			}
			Body->SetObjectField(TEXT("audio"), Audio);
			if (!Request.Transcript.IsEmpty())
			{
				Body->SetStringField(TEXT("transcript"), Request.Transcript);
			}
			Body->SetStringField(TEXT("mode"), TEXT("ANIMATION_MODE_AUTO"));
		}
		if (const TSharedPtr<FJsonObject> Emotion = MakeEmotionSpec(Request.Emotion, Request.NpcId))
		{
			Body->SetObjectField(TEXT("emotion"), Emotion);
		}
		SetCommonFields(*Body, Request);
		return Body;
	}

	TSharedRef<FJsonObject> BuildStreamHeader(const FMienLineRequest& Request, int32 SampleRateHz, int32 NumChannels)
	{
		// StreamAnimate header: conformance/stream_animate.json
		TSharedRef<FJsonObject> Header = MakeShared<FJsonObject>();
		Header->SetNumberField(TEXT("sampleRateHz"), SampleRateHz);
		Header->SetStringField(TEXT("encoding"), EncodingS16);
		Header->SetNumberField(TEXT("channels"), NumChannels);
		FMienEmotion StartEmotion = Request.Emotion;
		if (Request.Emotion.Kind == EMienEmotionKind::Keyframes)
		{
			// The header holds the first keyframe's value; keyframes travel on the audio chunks.
			const FMienEmotionKeyframe First =
				Request.Emotion.Keyframes.Num() > 0 ? Request.Emotion.Keyframes[0] : FMienEmotionKeyframe();
			StartEmotion = FMienEmotion::MakeCategory(First.Category, First.Intensity);
		}
		if (const TSharedPtr<FJsonObject> Emotion = MakeEmotionSpec(StartEmotion, Request.NpcId))
		{
			Header->SetObjectField(TEXT("emotion"), Emotion);
		}
		SetCommonFields(*Header, Request);
		TSharedRef<FJsonObject> Message = MakeShared<FJsonObject>();
		Message->SetObjectField(TEXT("header"), Header);
		return Message;
	}

	TSharedRef<FJsonObject> BuildStreamAudio(
		const TArray<uint8>& PcmChunk, const TArray<TSharedPtr<FJsonValue>>& Keyframes)
	{
		TSharedRef<FJsonObject> Audio = MakeShared<FJsonObject>();
		Audio->SetStringField(TEXT("data"), FBase64::Encode(PcmChunk));
		if (Keyframes.Num() > 0)
		{
			Audio->SetArrayField(TEXT("emotionKeyframes"), Keyframes);
		}
		TSharedRef<FJsonObject> Message = MakeShared<FJsonObject>();
		Message->SetObjectField(TEXT("audio"), Audio);
		return Message;
	}

	FString ToString(const TSharedRef<FJsonObject>& Object)
	{
		FString Out;
		const TSharedRef<TJsonWriter<TCHAR, TCondensedJsonPrintPolicy<TCHAR>>> Writer =
			TJsonWriterFactory<TCHAR, TCondensedJsonPrintPolicy<TCHAR>>::Create(&Out);
		FJsonSerializer::Serialize(Object, Writer);
		return Out;
	}

	TSharedPtr<FJsonObject> Parse(const FString& Text)
	{
		TSharedPtr<FJsonObject> Object;
		const TSharedRef<TJsonReader<TCHAR>> Reader = TJsonReaderFactory<TCHAR>::Create(Text);
		if (!FJsonSerializer::Deserialize(Reader, Object))
		{
			return nullptr;
		}
		return Object;
	}

	static void ReadNames(const FJsonObject& Object, const TCHAR* Field, TArray<FName>& Out)
	{
		const TArray<TSharedPtr<FJsonValue>>* Array = nullptr;
		if (Object.TryGetArrayField(Field, Array))
		{
			Out.Reserve(Array->Num());
			for (const TSharedPtr<FJsonValue>& Value : *Array)
			{
				Out.Add(FName(*Value->AsString()));
			}
		}
	}

	static void ReadStrings(const FJsonObject& Object, const TCHAR* Field, TArray<FString>& Out)
	{
		const TArray<TSharedPtr<FJsonValue>>* Array = nullptr;
		if (Object.TryGetArrayField(Field, Array))
		{
			for (const TSharedPtr<FJsonValue>& Value : *Array)
			{
				Out.Add(Value->AsString());
			}
		}
	}

	static float ReadNumber(const FJsonObject& Object, const TCHAR* Field, float Default = 0.f)
	{
		double Value = Default;
		Object.TryGetNumberField(Field, Value);
		return static_cast<float>(Value);
	}

	bool ParseTrack(const FJsonObject& Body, FMienTrack& OutTrack, FString& OutProblem)
	{
		const TArray<TSharedPtr<FJsonValue>>* Values = nullptr;
		if (!Body.HasTypedField<EJson::Array>(TEXT("channelNames")) || !Body.TryGetArrayField(TEXT("values"), Values))
		{
			OutProblem = TEXT("channelNames or values missing");
			return false;
		}
		ReadNames(Body, TEXT("channelNames"), OutTrack.ChannelNames);
		OutTrack.Fps = ReadNumber(Body, TEXT("fps"));
		OutTrack.FrameCount = static_cast<int32>(ReadNumber(Body, TEXT("frameCount")));
		OutTrack.Values.Reset(Values->Num());
		for (const TSharedPtr<FJsonValue>& Value : *Values)
		{
			OutTrack.Values.Add(static_cast<float>(Value->AsNumber()));
		}
		const TSharedPtr<FJsonObject>* Metadata = nullptr;
		if (Body.TryGetObjectField(TEXT("metadata"), Metadata))
		{
			const FJsonObject& Meta = **Metadata;
			Meta.TryGetStringField(TEXT("mode"), OutTrack.Mode);
			ReadStrings(Meta, TEXT("warnings"), OutTrack.Warnings);
			OutTrack.AudioDurationS = ReadNumber(Meta, TEXT("audioDurationS"));
			Meta.TryGetStringField(TEXT("seed"), OutTrack.Seed);
			Meta.TryGetStringField(TEXT("rig"), OutTrack.Rig);
			Meta.TryGetStringField(TEXT("requestId"), OutTrack.RequestId);
			const TSharedPtr<FJsonObject>* Emotion = nullptr;
			if (Meta.TryGetObjectField(TEXT("emotion"), Emotion))
			{
				for (const TPair<FString, TSharedPtr<FJsonValue>>& Pair : (*Emotion)->Values)
				{
					OutTrack.Emotion.Add(Pair.Key, static_cast<float>(Pair.Value->AsNumber()));
				}
			}
		}
		const TArray<TSharedPtr<FJsonValue>>* Phones = nullptr;
		if (Body.TryGetArrayField(TEXT("phones"), Phones))
		{
			for (const TSharedPtr<FJsonValue>& Value : *Phones)
			{
				const TSharedPtr<FJsonObject> Segment = Value->AsObject();
				if (!Segment.IsValid())
				{
					continue;
				}
				FMienPhone& Phone = OutTrack.Phones.AddDefaulted_GetRef();
				Phone.StartS = ReadNumber(*Segment, TEXT("startS"));
				Phone.EndS = ReadNumber(*Segment, TEXT("endS"));
				Segment->TryGetStringField(TEXT("phone"), Phone.Phone);
				Segment->TryGetStringField(TEXT("word"), Phone.Word);
				Segment->TryGetStringField(TEXT("viseme"), Phone.Viseme);
			}
		}
		OutTrack.bComplete = true;
		OutProblem = OutTrack.Validate();
		return OutProblem.IsEmpty();
	}

	bool ParseServiceInfo(const FJsonObject& Body, FMienServiceInfo& OutInfo, FString& OutProblem)
	{
		const TArray<TSharedPtr<FJsonValue>>* Rigs = nullptr;
		if (!Body.TryGetArrayField(TEXT("rigs"), Rigs))
		{
			OutProblem = TEXT("rigs missing");
			return false;
		}
		for (const TSharedPtr<FJsonValue>& Value : *Rigs)
		{
			const TSharedPtr<FJsonObject> RigObject = Value->AsObject();
			if (RigObject.IsValid())
			{
				FMienRigInfo& Rig = OutInfo.Rigs.AddDefaulted_GetRef();
				RigObject->TryGetStringField(TEXT("name"), Rig.Name);
				ReadNames(*RigObject, TEXT("channelNames"), Rig.ChannelNames);
			}
		}
		Body.TryGetStringField(TEXT("defaultRig"), OutInfo.DefaultRig);
		ReadStrings(Body, TEXT("emotions"), OutInfo.Emotions);
		OutInfo.DefaultFps = ReadNumber(Body, TEXT("defaultFps"), 60.f);
		const TSharedPtr<FJsonObject>* Limits = nullptr;
		if (Body.TryGetObjectField(TEXT("limits"), Limits))
		{
			OutInfo.MaxAudioS = ReadNumber(**Limits, TEXT("maxAudioS"));
			OutInfo.MinFps = ReadNumber(**Limits, TEXT("minFps"), 1.f);
			OutInfo.MaxFps = ReadNumber(**Limits, TEXT("maxFps"), 240.f);
		}
		return true;
	}

	FMienResult ParseError(int32 HttpStatus, const FString& BodyText)
	{
		// Error responses: conformance/animate_line_invalid.json
		const TSharedPtr<FJsonObject> Body = Parse(BodyText);
		FString Code;
		FString Message;
		if (Body.IsValid() && Body->TryGetStringField(TEXT("code"), Code) && !Code.IsEmpty())
		{
			Body->TryGetStringField(TEXT("message"), Message);
			return FMienResult::Failure(Code, Message, HttpStatus);
		}
		return FMienResult::Failure(TEXT("bad_response"),
			FString::Printf(TEXT("HTTP %d with an unparsable error body"), HttpStatus), HttpStatus);
	}
}  // namespace MienJson
