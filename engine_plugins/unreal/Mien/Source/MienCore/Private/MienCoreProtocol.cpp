// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCore/MienCoreProtocol.h"

#include <cmath>
#include <set>

namespace MienCore
{
	namespace ProtocolDetail
	{
		const char* EncodingS16 = "PCM_ENCODING_S16LE";

		double NumberOr(const FJson& Object, const char* Key, double Default)
		{
			const FJson* Value = Object.Find(Key);
			return Value != nullptr && Value->IsNumber() ? Value->AsNumber() : Default;
		}

		std::string StringOr(const FJson& Object, const char* Key, const std::string& Default = std::string())
		{
			const FJson* Value = Object.Find(Key);
			return Value != nullptr && Value->IsString() ? Value->AsString() : Default;
		}

		/** A uint64 field: proto3 JSON writes it as a decimal string (numbers are accepted too). */
		std::string Uint64Or(const FJson& Object, const char* Key)
		{
			const FJson* Value = Object.Find(Key);
			if (Value == nullptr)
			{
				return "0";
			}
			if (Value->IsString())
			{
				return Value->AsString();
			}
			if (Value->IsNumber() && Value->AsNumber() >= 0.0)
			{
				return FormatDouble(std::floor(Value->AsNumber()));
			}
			return "0";
		}

		bool ReadStrings(const FJson& Object, const char* Key, std::vector<std::string>& Out, bool bRequired,
			std::string& OutProblem)
		{
			Out.clear();
			const FJson* Value = Object.Find(Key);
			if (Value == nullptr)
			{
				if (bRequired)
				{
					OutProblem = std::string(Key) + " missing";
				}
				return !bRequired;
			}
			if (!Value->IsArray())
			{
				OutProblem = std::string(Key) + " is not an array";
				return false;
			}
			for (const FJson& Item : Value->Items())
			{
				if (!Item.IsString())
				{
					OutProblem = std::string(Key) + " holds a non-string";
					return false;
				}
				Out.push_back(Item.AsString());
			}
			return true;
		}

		bool ReadFloats(const FJson& Value, const char* Key, std::vector<float>& Out, std::string& OutProblem)
		{
			Out.clear();
			if (!Value.IsArray())
			{
				OutProblem = std::string(Key) + " is not an array";
				return false;
			}
			Out.reserve(Value.Items().size());
			for (const FJson& Item : Value.Items())
			{
				if (!Item.IsNumber())
				{
					OutProblem = std::string(Key) + " holds a non-number";
					return false;
				}
				Out.push_back(static_cast<float>(Item.AsNumber()));
			}
			return true;
		}

		bool ReadCount(const FJson& Object, const char* Key, int32_t& Out, std::string& OutProblem)
		{
			const FJson* Value = Object.Find(Key);
			if (Value == nullptr || !Value->IsNumber())
			{
				OutProblem = std::string(Key) + " missing";
				return false;
			}
			const double Number = Value->AsNumber();
			if (Number < 0.0 || Number > 2147483647.0 || Number != std::floor(Number))
			{
				OutProblem = std::string(Key) + " is not a count";
				return false;
			}
			Out = static_cast<int32_t>(Number);
			return true;
		}

		bool CheckNames(const std::vector<std::string>& Names, std::string& OutProblem)
		{
			if (Names.empty())
			{
				OutProblem = "no channel names";
				return false;
			}
			std::set<std::string> Seen;
			for (const std::string& Name : Names)
			{
				if (Name.empty() || !Seen.insert(Name).second)
				{
					OutProblem = Name.empty() ? "empty channel name" : "duplicate channel name " + Name;
					return false;
				}
			}
			return true;
		}
	}  // namespace ProtocolDetail

	using ProtocolDetail::CheckNames;
	using ProtocolDetail::EncodingS16;
	using ProtocolDetail::NumberOr;
	using ProtocolDetail::ReadCount;
	using ProtocolDetail::ReadFloats;
	using ProtocolDetail::ReadStrings;
	using ProtocolDetail::StringOr;
	using ProtocolDetail::Uint64Or;

	// --- requests ----------------------------------------------------------------------------

	FJson BuildEmotionValue(const FEmotionValue& Value)
	{
		FJson Out = FJson::MakeObject();
		switch (Value.Kind)
		{
			case FEmotionValue::EKind::Vad:
			{
				FJson Vad = FJson::MakeObject();
				Vad.Set("valence", FJson::MakeFloat(Value.Valence));
				Vad.Set("arousal", FJson::MakeFloat(Value.Arousal));
				Vad.Set("dominance", FJson::MakeFloat(Value.Dominance));
				Out.Set("vad", std::move(Vad));
				break;
			}
			case FEmotionValue::EKind::Blend:
			{
				FJson Weights = FJson::MakeObject();
				for (const std::pair<std::string, float>& Weight : Value.Blend)
				{
					Weights.Set(Weight.first, FJson::MakeFloat(Weight.second));
				}
				FJson Blend = FJson::MakeObject();
				Blend.Set("weights", std::move(Weights));
				Out.Set("blend", std::move(Blend));
				break;
			}
			case FEmotionValue::EKind::Category:
			default:
			{
				FJson Category = FJson::MakeObject();
				Category.Set("name", FJson::MakeString(Value.Category.empty() ? "neutral" : Value.Category));
				if (Value.Intensity >= 0.f)
				{
					Category.Set("intensity", FJson::MakeFloat(Value.Intensity));
				}
				Out.Set("category", std::move(Category));
				break;
			}
		}
		return Out;
	}

	static FJson BuildKeyframe(const FEmotionKeyframe& Keyframe)
	{
		FJson Out = FJson::MakeObject();
		Out.Set("timeS", FJson::MakeNumber(Keyframe.TimeS));
		Out.Set("value", BuildEmotionValue(Keyframe.Value));
		return Out;
	}

	FJson BuildEmotionSpec(const FEmotion& Emotion, const std::string& NpcId)
	{
		const bool bAuto =
			Emotion.Kind == FEmotion::EKind::Auto || (Emotion.Kind == FEmotion::EKind::Default && !NpcId.empty());
		FJson Spec = FJson::MakeObject();
		if (bAuto)
		{
			FJson Auto = FJson::MakeObject();
			if (Emotion.GameTimeS >= 0.0)
			{
				Auto.Set("gameTimeS", FJson::MakeNumber(Emotion.GameTimeS));
			}
			Spec.Set("auto", std::move(Auto));
			return Spec;
		}
		if (Emotion.Kind == FEmotion::EKind::Constant)
		{
			Spec.Set("constant", BuildEmotionValue(Emotion.Constant));
			return Spec;
		}
		if (Emotion.Kind == FEmotion::EKind::Keyframes)
		{
			FJson List = FJson::MakeArray();
			for (const FEmotionKeyframe& Keyframe : Emotion.Keyframes)
			{
				List.Add(BuildKeyframe(Keyframe));
			}
			FJson Keyframes = FJson::MakeObject();
			Keyframes.Set("keyframes", std::move(List));
			Spec.Set("keyframes", std::move(Keyframes));
			return Spec;
		}
		return FJson();
	}

	FJson BuildFileAudio(const uint8_t* FileBytes, size_t Size)
	{
		FJson Audio = FJson::MakeObject();
		Audio.Set("file", FJson::MakeString(Base64Encode(FileBytes, Size)));
		return Audio;
	}

	FJson BuildPcmAudio(const uint8_t* Pcm16, size_t Size, int32_t SampleRateHz, int32_t NumChannels)
	{
		FJson Pcm = FJson::MakeObject();
		Pcm.Set("data", FJson::MakeString(Base64Encode(Pcm16, Size)));
		Pcm.Set("sampleRateHz", FJson::MakeNumber(SampleRateHz));
		Pcm.Set("encoding", FJson::MakeString(EncodingS16));
		Pcm.Set("channels", FJson::MakeNumber(NumChannels));
		FJson Audio = FJson::MakeObject();
		Audio.Set("pcm", std::move(Pcm));
		return Audio;
	}

	static void SetCommon(FJson& Body, const FEmotion& Emotion, const FRequestSettings& Settings)
	{
		FJson Spec = BuildEmotionSpec(Emotion, Settings.NpcId);
		if (!Spec.IsNull())
		{
			Body.Set("emotion", std::move(Spec));
		}
		Body.Set("fps", FJson::MakeNumber(Settings.Fps));
		Body.Set("rig", FJson::MakeString(Settings.Rig));
		if (!Settings.NpcId.empty())
		{
			Body.Set("npcId", FJson::MakeString(Settings.NpcId));
		}
		if (Settings.Seed >= 0)
		{
			Body.Set("seed", FJson::MakeString(std::to_string(Settings.Seed)));
		}
		FJson Options = FJson::MakeObject();
		Options.Set("expressionScale", FJson::MakeFloat(Settings.ExpressionScale));
		Options.Set("blinkScale", FJson::MakeFloat(Settings.BlinkScale));
		Options.Set("gazeScale", FJson::MakeFloat(Settings.GazeScale));
		Body.Set("options", std::move(Options));
		if (!Settings.RequestId.empty())
		{
			Body.Set("requestId", FJson::MakeString(Settings.RequestId));
		}
	}

	FJson BuildAnimateLineBody(
		FJson Audio, const std::string& Transcript, const FEmotion& Emotion, const FRequestSettings& Settings)
	{
		FJson Body = FJson::MakeObject();
		Body.Set("audio", std::move(Audio));
		if (!Transcript.empty())
		{
			Body.Set("transcript", FJson::MakeString(Transcript));
		}
		SetCommon(Body, Emotion, Settings);
		Body.Set("mode", FJson::MakeString("ANIMATION_MODE_AUTO"));
		return Body;
	}

	FJson BuildIdleBody(double DurationS, const FEmotion& Emotion, const FRequestSettings& Settings)
	{
		FJson Body = FJson::MakeObject();
		Body.Set("idleDurationS", FJson::MakeNumber(DurationS));
		SetCommon(Body, Emotion, Settings);
		return Body;
	}

	FJson BuildStreamHeader(
		int32_t SampleRateHz, int32_t NumChannels, const FEmotion& Emotion, const FRequestSettings& Settings)
	{
		FJson Header = FJson::MakeObject();
		Header.Set("sampleRateHz", FJson::MakeNumber(SampleRateHz));
		Header.Set("encoding", FJson::MakeString(EncodingS16));
		Header.Set("channels", FJson::MakeNumber(NumChannels));
		FEmotion Start = Emotion;
		if (Emotion.Kind == FEmotion::EKind::Keyframes)
		{
			Start.Kind = FEmotion::EKind::Constant;
			Start.Constant = Emotion.Keyframes.empty() ? FEmotionValue() : Emotion.Keyframes.front().Value;
		}
		SetCommon(Header, Start, Settings);
		FJson Message = FJson::MakeObject();
		Message.Set("header", std::move(Header));
		return Message;
	}

	FJson BuildStreamAudio(const uint8_t* Pcm, size_t Size, const std::vector<FEmotionKeyframe>& Keyframes)
	{
		FJson Audio = FJson::MakeObject();
		Audio.Set("data", FJson::MakeString(Base64Encode(Pcm, Size)));
		if (!Keyframes.empty())
		{
			FJson List = FJson::MakeArray();
			for (const FEmotionKeyframe& Keyframe : Keyframes)
			{
				List.Add(BuildKeyframe(Keyframe));
			}
			Audio.Set("emotionKeyframes", std::move(List));
		}
		FJson Message = FJson::MakeObject();
		Message.Set("audio", std::move(Audio));
		return Message;
	}

	FJson BuildStreamEnd()
	{
		FJson Message = FJson::MakeObject();
		Message.Set("end", FJson::MakeObject());
		return Message;
	}

	std::vector<FEmotionKeyframe> KeyframesInChunk(
		const FEmotion& Emotion, double StartS, double EndS, bool bFirstChunk)
	{
		std::vector<FEmotionKeyframe> Out;
		if (Emotion.Kind != FEmotion::EKind::Keyframes)
		{
			return Out;
		}
		for (const FEmotionKeyframe& Keyframe : Emotion.Keyframes)
		{
			if ((Keyframe.TimeS >= StartS || bFirstChunk) && Keyframe.TimeS < EndS)
			{
				Out.push_back(Keyframe);
			}
		}
		return Out;
	}

	// --- responses ---------------------------------------------------------------------------

	bool DecodeAnimationTrack(const FJson& Body, FDecodedTrack& Out, std::string& OutProblem)
	{
		Out = FDecodedTrack();
		if (!Body.IsObject())
		{
			OutProblem = "response is not a JSON object";
			return false;
		}
		FTrack& Track = Out.Track;
		if (!ReadStrings(Body, "channelNames", Track.ChannelNames, true, OutProblem) ||
			!CheckNames(Track.ChannelNames, OutProblem))
		{
			return false;
		}
		const FJson* Values = Body.Find("values");
		if (Values == nullptr)
		{
			OutProblem = "values missing";
			return false;
		}
		if (!ReadFloats(*Values, "values", Track.Values, OutProblem) ||
			!ReadCount(Body, "frameCount", Track.FrameCount, OutProblem))
		{
			return false;
		}
		Track.Fps = NumberOr(Body, "fps", 0.0);
		Track.bComplete = true;
		OutProblem = Track.Validate();
		if (!OutProblem.empty())
		{
			return false;
		}
		if (const FJson* Metadata = Body.Find("metadata"))
		{
			Out.Mode = StringOr(*Metadata, "mode");
			std::string Ignored;
			ReadStrings(*Metadata, "warnings", Out.Warnings, false, Ignored);
			Out.AudioDurationS = NumberOr(*Metadata, "audioDurationS", 0.0);
			Out.Seed = Uint64Or(*Metadata, "seed");
			Out.Rig = StringOr(*Metadata, "rig");
			Out.RequestId = StringOr(*Metadata, "requestId");
			if (const FJson* Emotion = Metadata->Find("emotion"))
			{
				for (const std::pair<std::string, FJson>& Member : Emotion->Members())
				{
					if (Member.second.IsNumber())
					{
						Out.Emotion.emplace_back(Member.first, Member.second.AsNumber());
					}
				}
			}
		}
		if (const FJson* Phones = Body.Find("phones"))
		{
			for (const FJson& Segment : Phones->Items())
			{
				if (!Segment.IsObject())
				{
					continue;
				}
				FPhone Phone;
				Phone.StartS = NumberOr(Segment, "startS", 0.0);
				Phone.EndS = NumberOr(Segment, "endS", 0.0);
				Phone.Phone = StringOr(Segment, "phone");
				Phone.Word = StringOr(Segment, "word");
				Phone.Viseme = StringOr(Segment, "viseme");
				Out.Phones.push_back(Phone);
			}
		}
		return true;
	}

	bool DecodeAnimationTrackText(const std::string& Text, FDecodedTrack& Out, std::string& OutProblem)
	{
		FJson Body;
		if (!FJson::Parse(Text, Body, OutProblem))
		{
			OutProblem = "response is not JSON: " + OutProblem;
			return false;
		}
		return DecodeAnimationTrack(Body, Out, OutProblem);
	}

	const std::vector<std::string>* FServiceInfo::RigChannels(const std::string& Rig) const
	{
		for (const FRigInfo& Info : Rigs)
		{
			if (Info.Name == Rig)
			{
				return &Info.ChannelNames;
			}
		}
		return nullptr;
	}

	bool DecodeServiceInfo(const FJson& Body, FServiceInfo& Out, std::string& OutProblem)
	{
		Out = FServiceInfo();
		if (!Body.IsObject())
		{
			OutProblem = "response is not a JSON object";
			return false;
		}
		const FJson* Rigs = Body.Find("rigs");
		if (Rigs == nullptr || !Rigs->IsArray())
		{
			OutProblem = "rigs missing";
			return false;
		}
		for (const FJson& Rig : Rigs->Items())
		{
			FRigInfo Info;
			Info.Name = StringOr(Rig, "name");
			if (Info.Name.empty() || !ReadStrings(Rig, "channelNames", Info.ChannelNames, true, OutProblem))
			{
				if (OutProblem.empty())
				{
					OutProblem = "a rig without a name";
				}
				return false;
			}
			Out.Rigs.push_back(Info);
		}
		Out.DefaultRig = StringOr(Body, "defaultRig");
		std::string Ignored;
		ReadStrings(Body, "emotions", Out.Emotions, false, Ignored);
		ReadStrings(Body, "modes", Out.Modes, false, Ignored);
		Out.DefaultFps = NumberOr(Body, "defaultFps", 60.0);
		if (const FJson* Limits = Body.Find("limits"))
		{
			Out.MaxAudioS = NumberOr(*Limits, "maxAudioS", 0.0);
			Out.MaxChunkS = NumberOr(*Limits, "maxChunkS", 0.0);
			Out.StreamStallTimeoutS = NumberOr(*Limits, "streamStallTimeoutS", 0.0);
			Out.MinFps = NumberOr(*Limits, "minFps", 1.0);
			Out.MaxFps = NumberOr(*Limits, "maxFps", 240.0);
		}
		if (const FJson* Models = Body.Find("models"))
		{
			for (const FJson& Model : Models->Items())
			{
				Out.StreamLookaheadMs = std::fmax(Out.StreamLookaheadMs, NumberOr(Model, "lookaheadMs", 0.0));
			}
		}
		return true;
	}

	bool DecodeServiceInfoText(const std::string& Text, FServiceInfo& Out, std::string& OutProblem)
	{
		FJson Body;
		if (!FJson::Parse(Text, Body, OutProblem))
		{
			OutProblem = "response is not JSON: " + OutProblem;
			return false;
		}
		return DecodeServiceInfo(Body, Out, OutProblem);
	}

	FFailure DecodeErrorBody(int32_t HttpStatus, const std::string& Text)
	{
		FJson Body;
		std::string Problem;
		if (FJson::Parse(Text, Body, Problem) && Body.IsObject())
		{
			const std::string Code = StringOr(Body, "code");
			if (!Code.empty())
			{
				return FFailure{Code, StringOr(Body, "message")};
			}
		}
		return FFailure{"bad_response", "HTTP " + std::to_string(HttpStatus) + " with an unparsable error body"};
	}

	// --- StreamAnimate -----------------------------------------------------------------------

	void FStreamReceiver::Finish(
		const std::string& Code, const std::string& Message, std::vector<FStreamEvent>& OutEvents)
	{
		if (bFinished)
		{
			return;
		}
		bFinished = true;
		FStreamEvent Event;
		Event.Kind = FStreamEvent::EKind::Finished;
		Event.Code = Code;
		Event.Message = Message;
		OutEvents.push_back(std::move(Event));
	}

	void FStreamReceiver::Abort(
		const std::string& Code, const std::string& Message, std::vector<FStreamEvent>& OutEvents)
	{
		Finish(Code, Message, OutEvents);
	}

	void FStreamReceiver::OnMessage(const std::string& Text, std::vector<FStreamEvent>& OutEvents)
	{
		if (bFinished)
		{
			return;
		}
		FJson Message;
		std::string Problem;
		if (!FJson::Parse(Text, Message, Problem) || !Message.IsObject() || Message.Members().size() != 1)
		{
			Finish("bad_response", "stream message is not a JSON object with one member", OutEvents);
			return;
		}
		const std::string& Kind = Message.Members().front().first;
		const FJson& Part = Message.Members().front().second;
		if (!Part.IsObject())
		{
			Finish("bad_response", "stream message " + Kind + " is not an object", OutEvents);
			return;
		}
		if (Kind == "status")
		{
			const std::string Code = StringOr(Part, "code");
			if (Code == "ok" && !bEnd)
			{
				Finish("bad_response", "status ok before the end message", OutEvents);
				return;
			}
			Finish(Code.empty() ? "bad_response" : Code, StringOr(Part, "message"), OutEvents);
			return;
		}
		if (bEnd)
		{
			Finish("bad_response", "stream message " + Kind + " after the end message", OutEvents);
			return;
		}
		FStreamEvent Event;
		if (Kind == "header")
		{
			if (bHeader)
			{
				Finish("bad_response", "a second stream header", OutEvents);
				return;
			}
			if (!ReadStrings(Part, "channelNames", Event.ChannelNames, true, Problem) ||
				!CheckNames(Event.ChannelNames, Problem))
			{
				Finish("bad_response", "stream header: " + Problem, OutEvents);
				return;
			}
			Event.Kind = FStreamEvent::EKind::Header;
			Event.Fps = NumberOr(Part, "fps", 0.0);
			Event.LookaheadMs = NumberOr(Part, "lookaheadMs", 0.0);
			if (!(Event.Fps > 0.0))
			{
				Finish("bad_response", "stream header: fps must be > 0", OutEvents);
				return;
			}
			bHeader = true;
			Names = Event.ChannelNames;
			OutEvents.push_back(std::move(Event));
			return;
		}
		if (!bHeader)
		{
			Finish("bad_response", "stream message " + Kind + " before the header", OutEvents);
			return;
		}
		if (Kind == "frames")
		{
			Event.Kind = FStreamEvent::EKind::Frames;
			const FJson* Values = Part.Find("values");
			if (!ReadCount(Part, "firstFrame", Event.FirstFrame, Problem) ||
				!ReadCount(Part, "frameCount", Event.FrameCount, Problem) || Values == nullptr ||
				!ReadFloats(*Values, "values", Event.Values, Problem))
			{
				Finish("bad_response", "frames: " + (Problem.empty() ? std::string("values missing") : Problem),
					OutEvents);
				return;
			}
			if (Event.FirstFrame != Frames)
			{
				Finish("bad_response",
					"frames: batch starts at frame " + std::to_string(Event.FirstFrame) + ", expected " +
						std::to_string(Frames),
					OutEvents);
				return;
			}
			if (Event.Values.size() != static_cast<size_t>(Event.FrameCount) * Names.size())
			{
				Finish("bad_response", "frames: values do not match frameCount x channels", OutEvents);
				return;
			}
			Frames += Event.FrameCount;
			OutEvents.push_back(std::move(Event));
			return;
		}
		if (Kind == "end")
		{
			Event.Kind = FStreamEvent::EKind::End;
			if (!ReadCount(Part, "frameCount", Event.FrameCount, Problem) || Event.FrameCount != Frames)
			{
				Finish("bad_response", "end: frameCount does not match the frames received", OutEvents);
				return;
			}
			Event.AudioDurationS = NumberOr(Part, "audioDurationS", 0.0);
			bEnd = true;
			OutEvents.push_back(std::move(Event));
			return;
		}
		Finish("bad_response", "unknown stream message " + Kind, OutEvents);
	}

	void FStreamReceiver::OnClosed(int32_t CloseCode, const std::string& Reason, std::vector<FStreamEvent>& OutEvents)
	{
		if (bFinished)
		{
			return;
		}
		const std::string Detail = "StreamAnimate closed before a status (code " + std::to_string(CloseCode) +
			(Reason.empty() ? std::string() : ", " + Reason) + ")";
		if (!bConnected)
		{
			Finish("transport_error", Detail, OutEvents);
		}
		else if (CloseCode == 1008)
		{
			Finish("unauthenticated", Detail, OutEvents);
		}
		else if (CloseCode == 1009)
		{
			Finish("resource_exhausted", Detail, OutEvents);
		}
		else
		{
			Finish("unavailable", Detail, OutEvents);
		}
	}
}  // namespace MienCore
