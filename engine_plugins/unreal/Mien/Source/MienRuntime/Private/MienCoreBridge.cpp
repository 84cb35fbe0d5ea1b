// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCoreBridge.h"
#include "Containers/StringConv.h"
#include "MienChannelMap.h"

namespace MienBridge
{
	std::string ToUtf8(const FString& Text)
	{
		const FTCHARToUTF8 Converted(*Text);
		return std::string(Converted.Get(), static_cast<size_t>(Converted.Length()));
	}

	FString FromUtf8(const std::string& Text)
	{
		const FUTF8ToTCHAR Converted(Text.data(), static_cast<int32>(Text.size()));
		return FString(Converted.Length(), Converted.Get());
	}

	FString ToWire(const MienCore::FJson& Message)
	{
		return FromUtf8(Message.Serialize());
	}

	static MienCore::FEmotionValue CategoryValue(const FString& Category, float Intensity)
	{
		MienCore::FEmotionValue Value;
		Value.Kind = MienCore::FEmotionValue::EKind::Category;
		Value.Category = ToUtf8(Category.IsEmpty() ? FString(TEXT("neutral")) : Category);
		Value.Intensity = Intensity;
		return Value;
	}

	MienCore::FEmotion ToCoreEmotion(const FMienEmotion& Emotion)
	{
		MienCore::FEmotion Out;
		Out.GameTimeS = Emotion.GameTimeS;
		switch (Emotion.Kind)
		{
			case EMienEmotionKind::Category:
				Out.Kind = MienCore::FEmotion::EKind::Constant;
				Out.Constant = CategoryValue(Emotion.Category, Emotion.Intensity);
				break;
			case EMienEmotionKind::Vad:
				Out.Kind = MienCore::FEmotion::EKind::Constant;
				Out.Constant.Kind = MienCore::FEmotionValue::EKind::Vad;
				Out.Constant.Valence = static_cast<float>(Emotion.Vad.X);
				Out.Constant.Arousal = static_cast<float>(Emotion.Vad.Y);
				Out.Constant.Dominance = static_cast<float>(Emotion.Vad.Z);
				break;
			case EMienEmotionKind::Keyframes:
				// conformance/animate_line_pcm.json: keyframed emotion
				Out.Kind = MienCore::FEmotion::EKind::Keyframes;
				for (const FMienEmotionKeyframe& Keyframe : Emotion.Keyframes)
				{
					MienCore::FEmotionKeyframe& Key = Out.Keyframes.emplace_back();
					Key.TimeS = Keyframe.TimeS;
					Key.Value = CategoryValue(Keyframe.Category, Keyframe.Intensity);
				}
				break;
			case EMienEmotionKind::Auto:
				Out.Kind = MienCore::FEmotion::EKind::Auto;
				break;
			case EMienEmotionKind::Default:
			default:
				Out.Kind = MienCore::FEmotion::EKind::Default;
				break;
		}
		return Out;
	}

	MienCore::FRequestSettings ToCoreSettings(const FMienLineRequest& Request)
	{
		MienCore::FRequestSettings Settings;
		Settings.Fps = Request.Fps;
		Settings.Rig = ToUtf8(Request.Rig);
		Settings.NpcId = ToUtf8(Request.NpcId);
		Settings.Seed = Request.Seed;
		Settings.ExpressionScale = Request.ExpressionScale;
		Settings.BlinkScale = Request.BlinkScale;
		Settings.GazeScale = Request.GazeScale;
		return Settings;
	}

	MienCore::FChannelMapSpec ToCoreMap(const UMienChannelMap* Map)
	{
		MienCore::FChannelMapSpec Spec;
		if (Map == nullptr)
		{
			return Spec;
		}
		Spec.bPassThroughUnmapped = Map->bPassThroughUnmapped;
		for (const FMienChannelRule& Rule : Map->Rules)
		{
			MienCore::FChannelRule& Out = Spec.Rules.emplace_back();
			Out.Source = Rule.Source.IsNone() ? std::string() : ToUtf8(Rule.Source.ToString());
			Out.Target = Rule.Target.IsNone() ? std::string() : ToUtf8(Rule.Target.ToString());
			Out.Gain = Rule.Gain;
			Out.Offset = Rule.Offset;
			Out.bClamp = Rule.bClamp;
			Out.ClampMin = Rule.ClampMin;
			Out.ClampMax = Rule.ClampMax;
		}
		return Spec;
	}

	MienCore::FJson BuildAnimateLineBody(const FMienLineRequest& Request)
	{
		const MienCore::FEmotion Emotion = ToCoreEmotion(Request.Emotion);
		const MienCore::FRequestSettings Settings = ToCoreSettings(Request);
		if (Request.IdleDurationS > 0.f)
		{
			// Idle (listening) track: conformance/animate_line_idle.json
			return MienCore::BuildIdleBody(Request.IdleDurationS, Emotion, Settings);
		}
		const FMienAudio& Audio = Request.Audio;
		// Whole file: conformance/animate_line_file.json, conformance/animate_line_npc_auto.json;
		// raw PCM (SayPcm, imported SoundWave data): conformance/animate_line_pcm.json
		MienCore::FJson AudioJson = Audio.FileBytes.Num() > 0
			? MienCore::BuildFileAudio(Audio.FileBytes.GetData(), static_cast<size_t>(Audio.FileBytes.Num()))
			: MienCore::BuildPcmAudio(
				  Audio.Pcm16.GetData(), static_cast<size_t>(Audio.Pcm16.Num()), Audio.SampleRateHz, Audio.NumChannels);
		return MienCore::BuildAnimateLineBody(std::move(AudioJson), ToUtf8(Request.Transcript), Emotion, Settings);
	}

	void ToUnrealTrack(const MienCore::FDecodedTrack& Decoded, FMienTrack& OutTrack)
	{
		OutTrack = FMienTrack();
		for (const std::string& Name : Decoded.Track.ChannelNames)
		{
			OutTrack.ChannelNames.Add(FName(*FromUtf8(Name)));
		}
		OutTrack.Fps = static_cast<float>(Decoded.Track.Fps);
		OutTrack.FrameCount = Decoded.Track.FrameCount;
		OutTrack.Values.Append(Decoded.Track.Values.data(), static_cast<int32>(Decoded.Track.Values.size()));
		OutTrack.bComplete = Decoded.Track.bComplete;
		OutTrack.Mode = FromUtf8(Decoded.Mode);
		for (const std::string& Warning : Decoded.Warnings)
		{
			OutTrack.Warnings.Add(FromUtf8(Warning));
		}
		OutTrack.AudioDurationS = static_cast<float>(Decoded.AudioDurationS);
		OutTrack.Seed = FromUtf8(Decoded.Seed);
		OutTrack.Rig = FromUtf8(Decoded.Rig);
		OutTrack.RequestId = FromUtf8(Decoded.RequestId);
		for (const std::pair<std::string, double>& Weight : Decoded.Emotion)
		{
			OutTrack.Emotion.Add(FromUtf8(Weight.first), static_cast<float>(Weight.second));
		}
		for (const MienCore::FPhone& Phone : Decoded.Phones)
		{
			FMienPhone& Out = OutTrack.Phones.AddDefaulted_GetRef();
			Out.StartS = static_cast<float>(Phone.StartS);
			Out.EndS = static_cast<float>(Phone.EndS);
			Out.Phone = FromUtf8(Phone.Phone);
			Out.Word = FromUtf8(Phone.Word);
			Out.Viseme = FromUtf8(Phone.Viseme);
		}
	}

	void ToUnrealServiceInfo(const MienCore::FServiceInfo& Info, FMienServiceInfo& OutInfo)
	{
		OutInfo = FMienServiceInfo();
		for (const MienCore::FRigInfo& Rig : Info.Rigs)
		{
			FMienRigInfo& Out = OutInfo.Rigs.AddDefaulted_GetRef();
			Out.Name = FromUtf8(Rig.Name);
			for (const std::string& Name : Rig.ChannelNames)
			{
				Out.ChannelNames.Add(FName(*FromUtf8(Name)));
			}
		}
		OutInfo.DefaultRig = FromUtf8(Info.DefaultRig);
		for (const std::string& Emotion : Info.Emotions)
		{
			OutInfo.Emotions.Add(FromUtf8(Emotion));
		}
		OutInfo.DefaultFps = static_cast<float>(Info.DefaultFps);
		OutInfo.MaxAudioS = static_cast<float>(Info.MaxAudioS);
		OutInfo.MinFps = static_cast<float>(Info.MinFps);
		OutInfo.MaxFps = static_cast<float>(Info.MaxFps);
	}

	FMienResult ToResult(const MienCore::FFailure& Failure, int32 HttpStatus)
	{
		return FMienResult::Failure(FromUtf8(Failure.Code), FromUtf8(Failure.Message), HttpStatus);
	}
}  // namespace MienBridge
