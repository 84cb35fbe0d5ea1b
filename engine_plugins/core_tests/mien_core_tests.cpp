// Copyright Mien developers. Licensed under the Apache License, Version 2.0.
//
// Conformance runner of the engine-independent C++ core (Source/MienCore): runs every case file in
// the folder given on the command line (the same JSON cases the GDScript twin is checked against by
// addons/mien/tests/run_core_cases.gd) and prints one line per failure, then "N passed, M failed".
// Built and run by tests/test_plugin_core.py with the system compiler; not part of the plugin.

#include "MienCore/MienCoreJson.h"
#include "MienCore/MienCoreMapping.h"
#include "MienCore/MienCorePacing.h"
#include "MienCore/MienCoreProtocol.h"
#include "MienCore/MienCoreTrack.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using MienCore::FJson;

namespace
{
	int Passed = 0;
	int Failed = 0;

	void Report(bool bOk, const std::string& Where, const std::string& What)
	{
		if (bOk)
		{
			++Passed;
			return;
		}
		++Failed;
		std::printf("FAIL %s: %s\n", Where.c_str(), What.c_str());
	}

	const FJson& Get(const FJson& Object, const char* Key)
	{
		static const FJson Null;
		const FJson* Value = Object.Find(Key);
		return Value != nullptr ? *Value : Null;
	}

	double Num(const FJson& Object, const char* Key, double Default = 0.0)
	{
		const FJson& Value = Get(Object, Key);
		return Value.IsNumber() ? Value.AsNumber() : Default;
	}

	std::string Str(const FJson& Object, const char* Key)
	{
		const FJson& Value = Get(Object, Key);
		return Value.IsString() ? Value.AsString() : std::string();
	}

	bool Bool(const FJson& Object, const char* Key, bool bDefault)
	{
		const FJson& Value = Get(Object, Key);
		return Value.IsBool() ? Value.AsBool() : bDefault;
	}

	std::vector<std::string> Strings(const FJson& Value)
	{
		std::vector<std::string> Out;
		for (const FJson& Item : Value.Items())
		{
			Out.push_back(Item.AsString());
		}
		return Out;
	}

	std::vector<float> Floats(const FJson& Value)
	{
		std::vector<float> Out;
		for (const FJson& Item : Value.Items())
		{
			Out.push_back(static_cast<float>(Item.AsNumber()));
		}
		return Out;
	}

	bool Near(double A, double B, double Tolerance = 1e-5)
	{
		return std::fabs(A - B) <= Tolerance * (1.0 + std::fabs(B));
	}

	std::string Join(const std::vector<std::string>& Items)
	{
		std::string Out;
		for (const std::string& Item : Items)
		{
			Out += (Out.empty() ? "" : ",") + Item;
		}
		return "[" + Out + "]";
	}

	std::string JoinFloats(const std::vector<float>& Items)
	{
		std::string Out;
		for (const float Item : Items)
		{
			Out += (Out.empty() ? "" : ",") + MienCore::FormatFloat(Item);
		}
		return "[" + Out + "]";
	}

	bool FloatsNear(const std::vector<float>& A, const std::vector<float>& B)
	{
		if (A.size() != B.size())
		{
			return false;
		}
		for (size_t Index = 0; Index < A.size(); ++Index)
		{
			if (!Near(A[Index], B[Index]))
			{
				return false;
			}
		}
		return true;
	}

	/** Structural equality of two JSON values, numbers within a tolerance, object member order ignored. */
	bool JsonEqual(const FJson& A, const FJson& B, std::string& OutWhere, const std::string& Path = "$")
	{
		if (A.Kind() != B.Kind())
		{
			OutWhere = Path + ": kinds differ";
			return false;
		}
		switch (A.Kind())
		{
			case FJson::EKind::Number:
				if (!Near(A.AsNumber(), B.AsNumber(), 1e-6))
				{
					OutWhere = Path + ": " + MienCore::FormatDouble(A.AsNumber()) +
						" != " + MienCore::FormatDouble(B.AsNumber());
					return false;
				}
				return true;
			case FJson::EKind::String:
				if (A.AsString() != B.AsString())
				{
					OutWhere = Path + ": \"" + A.AsString() + "\" != \"" + B.AsString() + "\"";
					return false;
				}
				return true;
			case FJson::EKind::Bool:
				return A.AsBool() == B.AsBool();
			case FJson::EKind::Array:
				if (A.Items().size() != B.Items().size())
				{
					OutWhere = Path + ": lengths differ";
					return false;
				}
				for (size_t Index = 0; Index < A.Items().size(); ++Index)
				{
					if (!JsonEqual(
							A.Items()[Index], B.Items()[Index], OutWhere, Path + "[" + std::to_string(Index) + "]"))
					{
						return false;
					}
				}
				return true;
			case FJson::EKind::Object:
				if (A.Members().size() != B.Members().size())
				{
					OutWhere = Path + ": members differ (" + A.Serialize() + " vs " + B.Serialize() + ")";
					return false;
				}
				for (const std::pair<std::string, FJson>& Member : A.Members())
				{
					const FJson* Other = B.Find(Member.first);
					if (Other == nullptr)
					{
						OutWhere = Path + ": " + Member.first + " missing";
						return false;
					}
					if (!JsonEqual(Member.second, *Other, OutWhere, Path + "." + Member.first))
					{
						return false;
					}
				}
				return true;
			case FJson::EKind::Null:
			default:
				return true;
		}
	}

	/** A message given in a case as an object (serialized here) or as raw text. */
	std::string MessageText(const FJson& Message)
	{
		return Message.IsString() ? Message.AsString() : Message.Serialize();
	}

	// --- case kinds --------------------------------------------------------------------------

	MienCore::FTrack TrackOf(const FJson& Spec)
	{
		MienCore::FTrack Track;
		Track.ChannelNames = Strings(Get(Spec, "channelNames"));
		Track.Fps = Num(Spec, "fps", 60.0);
		Track.FrameCount = static_cast<int32_t>(Num(Spec, "frameCount"));
		Track.Values = Floats(Get(Spec, "values"));
		return Track;
	}

	void RunTrackSample(const FJson& Case, const std::string& Where)
	{
		const MienCore::FTrack Track = TrackOf(Get(Case, "track"));
		for (const FJson& Sample : Get(Case, "samples").Items())
		{
			const std::vector<float> Got = Track.Sample(Num(Sample, "timeS"));
			const std::vector<float> Want = Floats(Get(Sample, "expected"));
			Report(FloatsNear(Got, Want), Where + " t=" + MienCore::FormatDouble(Num(Sample, "timeS")),
				JoinFloats(Got) + " != " + JoinFloats(Want));
		}
		for (const FJson& Append : Get(Case, "appends").Items())
		{
			MienCore::FTrack Grown = Track;
			const bool bOk = Grown.AppendFrames(static_cast<int32_t>(Num(Append, "firstFrame")),
				static_cast<int32_t>(Num(Append, "frameCount")), Floats(Get(Append, "values")));
			Report(bOk == Bool(Append, "expected", false), Where + " append", "AppendFrames returned the wrong result");
		}
	}

	void RunTrackDecode(const FJson& Case, const std::string& Where)
	{
		MienCore::FDecodedTrack Track;
		std::string Problem;
		const bool bOk = MienCore::DecodeAnimationTrackText(MessageText(Get(Case, "body")), Track, Problem);
		const FJson& Want = Get(Case, "expected");
		if (!Bool(Want, "ok", false))
		{
			Report(!bOk && Problem.find(Str(Want, "problem")) != std::string::npos, Where,
				"expected a problem containing '" + Str(Want, "problem") + "', got '" + Problem + "'");
			return;
		}
		Report(bOk, Where, "decode failed: " + Problem);
		if (!bOk)
		{
			return;
		}
		Report(Track.Track.ChannelNames == Strings(Get(Want, "channelNames")), Where + " channelNames",
			Join(Track.Track.ChannelNames));
		Report(Track.Track.FrameCount == static_cast<int32_t>(Num(Want, "frameCount")), Where + " frameCount",
			std::to_string(Track.Track.FrameCount));
		Report(Near(Track.Track.Fps, Num(Want, "fps")), Where + " fps", MienCore::FormatDouble(Track.Track.Fps));
		Report(Track.Mode == Str(Want, "mode"), Where + " mode", Track.Mode);
		Report(Track.Seed == Str(Want, "seed"), Where + " seed", Track.Seed);
		Report(Track.Warnings == Strings(Get(Want, "warnings")), Where + " warnings", Join(Track.Warnings));
		Report(static_cast<int32_t>(Track.Phones.size()) == static_cast<int32_t>(Num(Want, "phones")),
			Where + " phones", std::to_string(Track.Phones.size()));
	}

	void RunDescribeDecode(const FJson& Case, const std::string& Where)
	{
		MienCore::FServiceInfo Info;
		std::string Problem;
		const bool bOk = MienCore::DecodeServiceInfoText(MessageText(Get(Case, "body")), Info, Problem);
		const FJson& Want = Get(Case, "expected");
		if (!Bool(Want, "ok", false))
		{
			Report(!bOk && Problem.find(Str(Want, "problem")) != std::string::npos, Where,
				"expected a problem containing '" + Str(Want, "problem") + "', got '" + Problem + "'");
			return;
		}
		Report(bOk, Where, "decode failed: " + Problem);
		std::vector<std::string> RigNames;
		for (const MienCore::FRigInfo& Rig : Info.Rigs)
		{
			RigNames.push_back(Rig.Name);
		}
		Report(RigNames == Strings(Get(Want, "rigs")), Where + " rigs", Join(RigNames));
		Report(Info.DefaultRig == Str(Want, "defaultRig"), Where + " defaultRig", Info.DefaultRig);
		Report(
			Near(Info.MaxChunkS, Num(Want, "maxChunkS")), Where + " maxChunkS", MienCore::FormatDouble(Info.MaxChunkS));
		Report(Near(Info.StreamLookaheadMs, Num(Want, "streamLookaheadMs")), Where + " streamLookaheadMs",
			MienCore::FormatDouble(Info.StreamLookaheadMs));
		Report(Near(Info.StreamStallTimeoutS, Num(Want, "streamStallTimeoutS")), Where + " streamStallTimeoutS",
			MienCore::FormatDouble(Info.StreamStallTimeoutS));
		const std::vector<std::string>* Channels = Info.RigChannels(Str(Want, "rigWithChannels"));
		Report(Channels != nullptr && static_cast<double>(Channels->size()) == Num(Want, "rigChannelCount"),
			Where + " rig channels", Channels == nullptr ? "missing" : std::to_string(Channels->size()));
	}

	void RunErrorDecode(const FJson& Case, const std::string& Where)
	{
		const MienCore::FFailure Failure =
			MienCore::DecodeErrorBody(static_cast<int32_t>(Num(Case, "status")), MessageText(Get(Case, "body")));
		const FJson& Want = Get(Case, "expected");
		Report(Failure.Code == Str(Want, "code"), Where + " code", Failure.Code);
		Report(Failure.Message.find(Str(Want, "message")) != std::string::npos, Where + " message", Failure.Message);
	}

	const char* KindName(MienCore::FStreamEvent::EKind Kind)
	{
		switch (Kind)
		{
			case MienCore::FStreamEvent::EKind::Header:
				return "header";
			case MienCore::FStreamEvent::EKind::Frames:
				return "frames";
			case MienCore::FStreamEvent::EKind::End:
				return "end";
			case MienCore::FStreamEvent::EKind::Finished:
			default:
				return "finished";
		}
	}

	void RunStreamReceive(const FJson& Case, const std::string& Where)
	{
		MienCore::FStreamReceiver Receiver;
		std::vector<MienCore::FStreamEvent> Events;
		if (Bool(Case, "connected", true))
		{
			Receiver.OnConnected();
		}
		for (const FJson& Message : Get(Case, "messages").Items())
		{
			Receiver.OnMessage(MessageText(Message), Events);
		}
		const FJson& Close = Get(Case, "close");
		if (Close.IsObject())
		{
			Receiver.OnClosed(static_cast<int32_t>(Num(Close, "code")), Str(Close, "reason"), Events);
		}
		const FJson& Want = Get(Case, "expected");
		Report(Events.size() == Want.Items().size(), Where + " event count",
			std::to_string(Events.size()) + " != " + std::to_string(Want.Items().size()));
		for (size_t Index = 0; Index < Events.size() && Index < Want.Items().size(); ++Index)
		{
			const MienCore::FStreamEvent& Event = Events[Index];
			const FJson& Expected = Want.Items()[Index];
			const std::string At = Where + " event " + std::to_string(Index);
			Report(Str(Expected, "kind") == KindName(Event.Kind), At + " kind", KindName(Event.Kind));
			if (Event.Kind == MienCore::FStreamEvent::EKind::Header)
			{
				Report(Event.ChannelNames == Strings(Get(Expected, "channelNames")), At + " names",
					Join(Event.ChannelNames));
				Report(Near(Event.Fps, Num(Expected, "fps")), At + " fps", MienCore::FormatDouble(Event.Fps));
			}
			else if (Event.Kind == MienCore::FStreamEvent::EKind::Frames)
			{
				Report(Event.FirstFrame == static_cast<int32_t>(Num(Expected, "firstFrame")) &&
						Event.FrameCount == static_cast<int32_t>(Num(Expected, "frameCount")),
					At + " frames", std::to_string(Event.FirstFrame) + "+" + std::to_string(Event.FrameCount));
			}
			else if (Event.Kind == MienCore::FStreamEvent::EKind::End)
			{
				Report(Event.FrameCount == static_cast<int32_t>(Num(Expected, "frameCount")), At + " end",
					std::to_string(Event.FrameCount));
			}
			else
			{
				Report(Event.Code == Str(Expected, "code"), At + " code", Event.Code + ": " + Event.Message);
			}
		}
	}

	MienCore::FChannelMapSpec MapOf(const FJson& Spec)
	{
		MienCore::FChannelMapSpec Map;
		Map.bPassThroughUnmapped = Bool(Spec, "passThroughUnmapped", true);
		for (const FJson& Rule : Get(Spec, "rules").Items())
		{
			MienCore::FChannelRule Out;
			Out.Source = Str(Rule, "source");
			Out.Target = Str(Rule, "target");
			Out.Gain = static_cast<float>(Num(Rule, "gain", 1.0));
			Out.Offset = static_cast<float>(Num(Rule, "offset", 0.0));
			const FJson& Clamp = Get(Rule, "clamp");
			if (Clamp.IsArray() && Clamp.Items().size() == 2)
			{
				Out.bClamp = true;
				Out.ClampMin = static_cast<float>(Clamp.Items()[0].AsNumber());
				Out.ClampMax = static_cast<float>(Clamp.Items()[1].AsNumber());
			}
			Map.Rules.push_back(Out);
		}
		return Map;
	}

	void RunChannelMap(const FJson& Case, const std::string& Where)
	{
		const MienCore::FChannelMapSpec Spec = MapOf(Get(Case, "map"));
		const FJson& Want = Get(Case, "expected");
		const std::vector<std::string> Problems = MienCore::ValidateChannelMap(Spec);
		Report(static_cast<double>(Problems.size()) == Num(Want, "problems"), Where + " problems", Join(Problems));
		MienCore::FChannelMapping Mapping;
		Mapping.Bind(Spec, Strings(Get(Case, "channels")));
		Report(Mapping.OutputNames() == Strings(Get(Want, "names")), Where + " names", Join(Mapping.OutputNames()));
		Report(Mapping.MissingSources() == Strings(Get(Want, "missing")), Where + " missing",
			Join(Mapping.MissingSources()));
		const std::vector<FJson>& Frames = Get(Case, "frames").Items();
		const std::vector<FJson>& WantFrames = Get(Want, "frames").Items();
		for (size_t Index = 0; Index < Frames.size() && Index < WantFrames.size(); ++Index)
		{
			const std::vector<float> In = Floats(Frames[Index]);
			std::vector<float> Out(static_cast<size_t>(Mapping.NumOutputs()));
			Mapping.Apply(In.data(), Out.data());
			Report(
				FloatsNear(Out, Floats(WantFrames[Index])), Where + " frame " + std::to_string(Index), JoinFloats(Out));
		}
	}

	void Axis(const FJson& Value, double Out[3])
	{
		for (size_t Index = 0; Index < 3; ++Index)
		{
			Out[Index] = Index < Value.Items().size() ? Value.Items()[Index].AsNumber() : 0.0;
		}
	}

	void RunRotation(const FJson& Case, const std::string& Where)
	{
		if (Case.Find("channels") != nullptr)
		{
			const std::vector<MienCore::FRotationGroup> Groups =
				MienCore::FindRotationGroups(Strings(Get(Case, "channels")));
			const std::vector<FJson>& Want = Get(Case, "expected").Items();
			Report(Groups.size() == Want.size(), Where + " group count", std::to_string(Groups.size()));
			for (size_t Index = 0; Index < Groups.size() && Index < Want.size(); ++Index)
			{
				const FJson& Expected = Want[Index];
				const MienCore::FRotationGroup& Group = Groups[Index];
				Report(Group.Group == Str(Expected, "group") &&
						Group.Yaw == static_cast<int32_t>(Num(Expected, "yaw")) &&
						Group.Pitch == static_cast<int32_t>(Num(Expected, "pitch")) &&
						Group.Roll == static_cast<int32_t>(Num(Expected, "roll")),
					Where + " group " + std::to_string(Index),
					Group.Group + " " + std::to_string(Group.Yaw) + "/" + std::to_string(Group.Pitch) + "/" +
						std::to_string(Group.Roll));
			}
			return;
		}
		double YawAxis[3];
		double PitchAxis[3];
		double RollAxis[3];
		Axis(Get(Case, "yawAxis"), YawAxis);
		Axis(Get(Case, "pitchAxis"), PitchAxis);
		Axis(Get(Case, "rollAxis"), RollAxis);
		const MienCore::FQuat Quat = MienCore::QuatFromYawPitchRoll(
			Num(Case, "yawDeg"), Num(Case, "pitchDeg"), Num(Case, "rollDeg"), YawAxis, PitchAxis, RollAxis);
		const std::vector<float> Got = {static_cast<float>(Quat.X), static_cast<float>(Quat.Y),
			static_cast<float>(Quat.Z), static_cast<float>(Quat.W)};
		Report(FloatsNear(Got, Floats(Get(Case, "expected"))), Where, JoinFloats(Got));
	}

	void RunRetry(const FJson& Case, const std::string& Where)
	{
		const FJson& Spec = Get(Case, "policy");
		MienCore::FRetryPolicy Policy;
		Policy.BaseDelayS = Num(Spec, "baseDelayS", Policy.BaseDelayS);
		Policy.Factor = Num(Spec, "factor", Policy.Factor);
		Policy.MaxDelayS = Num(Spec, "maxDelayS", Policy.MaxDelayS);
		Policy.Jitter = Num(Spec, "jitter", Policy.Jitter);
		Policy.MaxAttempts = static_cast<int32_t>(Num(Spec, "maxAttempts", Policy.MaxAttempts));
		const uint32_t Seed = static_cast<uint32_t>(Num(Case, "seed"));
		for (const FJson& Delay : Get(Case, "delays").Items())
		{
			const double Got = MienCore::RetryDelayS(Policy, static_cast<int32_t>(Num(Delay, "attempt")), Seed);
			Report(Near(Got, Num(Delay, "delayS"), 1e-9),
				Where + " attempt " + MienCore::FormatDouble(Num(Delay, "attempt")), MienCore::FormatDouble(Got));
		}
		for (const FJson& Check : Get(Case, "shouldRetry").Items())
		{
			const bool bGot =
				MienCore::ShouldRetry(Policy, Str(Check, "code"), static_cast<int32_t>(Num(Check, "attemptsMade")));
			Report(bGot == Bool(Check, "expected", false), Where + " shouldRetry " + Str(Check, "code"),
				bGot ? "true" : "false");
		}
		for (const FJson& Check : Get(Case, "startPlayback").Items())
		{
			const bool bGot = MienCore::ShouldStartPlayback(static_cast<int32_t>(Num(Check, "frames")),
				Num(Check, "fps"), Bool(Check, "ended", false), Num(Check, "startBufferS"));
			Report(bGot == Bool(Check, "expected", false), Where + " startPlayback", bGot ? "true" : "false");
		}
		for (const FJson& Check : Get(Case, "heard").Items())
		{
			const double Got = MienCore::HeardTimeS(static_cast<int64_t>(Num(Check, "frames")),
				static_cast<int32_t>(Num(Check, "sampleRateHz")), Num(Check, "latencyS"));
			Report(Near(Got, Num(Check, "expected"), 1e-9), Where + " heard", MienCore::FormatDouble(Got));
		}
	}

	void RunPacer(const FJson& Case, const std::string& Where)
	{
		const FJson& Spec = Get(Case, "config");
		MienCore::FPacerConfig Config;
		Config.SampleRateHz = static_cast<int32_t>(Num(Spec, "sampleRateHz", 16000));
		Config.NumChannels = static_cast<int32_t>(Num(Spec, "channels", 1));
		Config.ChunkMs = static_cast<int32_t>(Num(Spec, "chunkMs", 100));
		Config.LeadS = Num(Spec, "leadS", 0.5);
		MienCore::FChunkPacer Pacer(Config);
		std::vector<std::string> Got;
		int32_t Produced = 0;
		for (const FJson& Event : Get(Case, "events").Items())
		{
			const double Now = Num(Event, "t");
			if (Event.Find("push") != nullptr)
			{
				std::vector<uint8_t> Bytes(static_cast<size_t>(Num(Event, "push")));
				for (uint8_t& Byte : Bytes)
				{
					Byte = static_cast<uint8_t>(Produced++ & 0xFF);
				}
				Pacer.Push(Bytes.data(), Bytes.size());
			}
			if (Bool(Event, "finish", false))
			{
				Pacer.Finish();
			}
			std::vector<MienCore::FPacedChunk> Chunks;
			bool bEnd = false;
			Pacer.Poll(Now, Chunks, bEnd);
			for (const MienCore::FPacedChunk& Chunk : Chunks)
			{
				bool bContentOk = true;
				for (size_t Index = 0; Index < Chunk.Data.size(); ++Index)
				{
					bContentOk &= Chunk.Data[Index] == static_cast<uint8_t>((Chunk.ByteOffset + Index) & 0xFF);
				}
				Got.push_back(MienCore::FormatDouble(Now) + ":chunk" + std::to_string(Chunk.Index) + "@" +
					std::to_string(Chunk.ByteOffset) + "+" + std::to_string(Chunk.Data.size()) +
					(bContentOk ? "" : "!"));
			}
			if (bEnd)
			{
				Got.push_back(MienCore::FormatDouble(Now) + ":end");
			}
		}
		std::vector<std::string> Want;
		for (const FJson& Item : Get(Case, "expected").Items())
		{
			if (Bool(Item, "end", false))
			{
				Want.push_back(MienCore::FormatDouble(Num(Item, "t")) + ":end");
			}
			else
			{
				Want.push_back(MienCore::FormatDouble(Num(Item, "t")) + ":chunk" +
					MienCore::FormatDouble(Num(Item, "index")) + "@" + MienCore::FormatDouble(Num(Item, "offset")) +
					"+" + MienCore::FormatDouble(Num(Item, "bytes")));
			}
		}
		Report(Got == Want, Where, Join(Got) + " != " + Join(Want));
		if (Case.Find("chunkBytes") != nullptr)
		{
			Report(Pacer.ChunkBytes() == static_cast<int32_t>(Num(Case, "chunkBytes")), Where + " chunkBytes",
				std::to_string(Pacer.ChunkBytes()));
		}
	}

	void RunCommand(const FJson& Case, const std::string& Where)
	{
		std::vector<std::string> Args;
		std::string Problem;
		const bool bOk = MienCore::SplitCommandLine(Str(Case, "command"), Args, Problem);
		if (Case.Find("problem") != nullptr)
		{
			Report(!bOk && Problem.find(Str(Case, "problem")) != std::string::npos, Where, Problem);
			return;
		}
		Report(bOk && Args == Strings(Get(Case, "expected")), Where, Join(Args) + " " + Problem);
	}

	MienCore::FEmotionValue ValueOf(const FJson& Spec)
	{
		MienCore::FEmotionValue Value;
		if (Spec.Find("vad") != nullptr)
		{
			const std::vector<float> Vad = Floats(Get(Spec, "vad"));
			Value.Kind = MienCore::FEmotionValue::EKind::Vad;
			Value.Valence = Vad.size() > 0 ? Vad[0] : 0.f;
			Value.Arousal = Vad.size() > 1 ? Vad[1] : 0.f;
			Value.Dominance = Vad.size() > 2 ? Vad[2] : 0.f;
		}
		else if (Spec.Find("blend") != nullptr)
		{
			Value.Kind = MienCore::FEmotionValue::EKind::Blend;
			for (const std::pair<std::string, FJson>& Member : Get(Spec, "blend").Members())
			{
				Value.Blend.emplace_back(Member.first, static_cast<float>(Member.second.AsNumber()));
			}
		}
		else
		{
			Value.Category = Str(Spec, "category").empty() ? "neutral" : Str(Spec, "category");
			Value.Intensity = static_cast<float>(Num(Spec, "intensity", -1.0));
		}
		return Value;
	}

	MienCore::FEmotion EmotionOf(const FJson& Spec)
	{
		MienCore::FEmotion Emotion;
		const std::string Kind = Str(Spec, "kind");
		Emotion.Kind = Kind == "constant" ? MienCore::FEmotion::EKind::Constant
			: Kind == "keyframes"         ? MienCore::FEmotion::EKind::Keyframes
			: Kind == "auto"              ? MienCore::FEmotion::EKind::Auto
										  : MienCore::FEmotion::EKind::Default;
		Emotion.Constant = ValueOf(Get(Spec, "value"));
		Emotion.GameTimeS = Num(Spec, "gameTimeS", -1.0);
		for (const FJson& Keyframe : Get(Spec, "keyframes").Items())
		{
			MienCore::FEmotionKeyframe Out;
			Out.TimeS = Num(Keyframe, "timeS");
			Out.Value = ValueOf(Get(Keyframe, "value"));
			Emotion.Keyframes.push_back(Out);
		}
		return Emotion;
	}

	MienCore::FRequestSettings SettingsOf(const FJson& Spec)
	{
		MienCore::FRequestSettings Settings;
		Settings.Fps = Num(Spec, "fps", 60.0);
		Settings.Rig = Str(Spec, "rig").empty() ? "arkit52" : Str(Spec, "rig");
		Settings.NpcId = Str(Spec, "npcId");
		Settings.Seed = static_cast<int64_t>(Num(Spec, "seed", -1.0));
		Settings.ExpressionScale = static_cast<float>(Num(Spec, "expressionScale", 1.0));
		Settings.BlinkScale = static_cast<float>(Num(Spec, "blinkScale", 1.0));
		Settings.GazeScale = static_cast<float>(Num(Spec, "gazeScale", 1.0));
		return Settings;
	}

	void RunEncode(const FJson& Case, const std::string& Where)
	{
		const std::string Kind = Str(Case, "kind");
		const MienCore::FEmotion Emotion = EmotionOf(Get(Case, "emotion"));
		const MienCore::FRequestSettings Settings = SettingsOf(Get(Case, "settings"));
		FJson Got;
		if (Kind == "streamHeader")
		{
			Got = MienCore::BuildStreamHeader(static_cast<int32_t>(Num(Case, "sampleRateHz")),
				static_cast<int32_t>(Num(Case, "channels", 1)), Emotion, Settings);
		}
		else if (Kind == "idle")
		{
			Got = MienCore::BuildIdleBody(Num(Case, "durationS"), Emotion, Settings);
		}
		else if (Kind == "animateLinePcm")
		{
			std::vector<uint8_t> Pcm;
			MienCore::Base64Decode(Str(Case, "pcmBase64"), Pcm);
			Got = MienCore::BuildAnimateLineBody(
				MienCore::BuildPcmAudio(Pcm.data(), Pcm.size(), static_cast<int32_t>(Num(Case, "sampleRateHz")),
					static_cast<int32_t>(Num(Case, "channels", 1))),
				Str(Case, "transcript"), Emotion, Settings);
		}
		else if (Kind == "chunkKeyframes")
		{
			Got = FJson::MakeArray();
			for (const MienCore::FEmotionKeyframe& Keyframe : MienCore::KeyframesInChunk(
					 Emotion, Num(Case, "startS"), Num(Case, "endS"), Bool(Case, "firstChunk", false)))
			{
				Got.Add(FJson::MakeNumber(Keyframe.TimeS));
			}
		}
		else if (Kind == "streamEnd")
		{
			Got = MienCore::BuildStreamEnd();
		}
		std::string Difference;
		const bool bEqual = JsonEqual(Got, Get(Case, "expected"), Difference);
		Report(bEqual, Where, Difference + " in " + Got.Serialize());
		// What the plugin sends must also read back through the parser unchanged.
		FJson Reparsed;
		std::string Problem;
		Report(FJson::Parse(Got.Serialize(), Reparsed, Problem) && JsonEqual(Reparsed, Got, Difference),
			Where + " round trip", Problem + Difference);
	}

	void RunJson(const FJson& Case, const std::string& Where)
	{
		const std::string Text = Str(Case, "text");
		if (Case.Find("base64") != nullptr)
		{
			const std::string Encoded =
				MienCore::Base64Encode(reinterpret_cast<const uint8_t*>(Text.data()), Text.size());
			std::vector<uint8_t> Decoded;
			Report(Encoded == Str(Case, "base64") && MienCore::Base64Decode(Encoded, Decoded) &&
					std::string(Decoded.begin(), Decoded.end()) == Text,
				Where + " base64", Encoded);
			return;
		}
		FJson Value;
		std::string Problem;
		const bool bOk = FJson::Parse(Text, Value, Problem);
		if (Case.Find("problem") != nullptr)
		{
			Report(!bOk && Problem.find(Str(Case, "problem")) != std::string::npos, Where, "got '" + Problem + "'");
			return;
		}
		Report(bOk, Where, Problem);
		if (bOk && Case.Find("serialized") != nullptr)
		{
			Report(Value.Serialize() == Str(Case, "serialized"), Where + " serialized", Value.Serialize());
		}
	}

	bool ReadFile(const std::string& Path, std::string& Out)
	{
		std::ifstream Stream(Path, std::ios::binary);
		if (!Stream)
		{
			return false;
		}
		std::ostringstream Buffer;
		Buffer << Stream.rdbuf();
		Out = Buffer.str();
		return true;
	}
}  // namespace

int main(int ArgCount, char** Args)
{
	if (ArgCount < 3)
	{
		std::printf("usage: mien_core_tests <cases dir> <case file>...\n");
		return 2;
	}
	const std::string Dir = Args[1];
	for (int Index = 2; Index < ArgCount; ++Index)
	{
		const std::string Name = Args[Index];
		std::string Text;
		FJson Document;
		std::string Problem;
		if (!ReadFile(Dir + "/" + Name, Text) || !FJson::Parse(Text, Document, Problem))
		{
			Report(false, Name, "cannot read or parse: " + Problem);
			continue;
		}
		const std::string Kind = Str(Document, "kind");
		for (const FJson& Case : Get(Document, "cases").Items())
		{
			const std::string Where = Name + "/" + Str(Case, "name");
			if (Kind == "track_sample")
			{
				RunTrackSample(Case, Where);
			}
			else if (Kind == "track_decode")
			{
				RunTrackDecode(Case, Where);
			}
			else if (Kind == "describe_decode")
			{
				RunDescribeDecode(Case, Where);
			}
			else if (Kind == "error_decode")
			{
				RunErrorDecode(Case, Where);
			}
			else if (Kind == "stream_receive")
			{
				RunStreamReceive(Case, Where);
			}
			else if (Kind == "channel_map")
			{
				RunChannelMap(Case, Where);
			}
			else if (Kind == "rotation")
			{
				RunRotation(Case, Where);
			}
			else if (Kind == "retry")
			{
				RunRetry(Case, Where);
			}
			else if (Kind == "pacer")
			{
				RunPacer(Case, Where);
			}
			else if (Kind == "command")
			{
				RunCommand(Case, Where);
			}
			else if (Kind == "encode")
			{
				RunEncode(Case, Where);
			}
			else if (Kind == "json")
			{
				RunJson(Case, Where);
			}
			else
			{
				Report(false, Where, "unknown case kind " + Kind);
			}
		}
	}
	std::printf("%d passed, %d failed\n", Passed, Failed);
	return Failed == 0 ? 0 : 1;
}
