// Copyright Mien developers. Licensed under the Apache License, Version 2.0.
//
// Prints, one JSON object per line, the StreamAnimate messages the plugins send for a WAV file and
// when (seconds from the start of the stream), computed by the plugin core itself (FChunkPacer,
// BuildStreamHeader/Audio/End). tests/test_plugin_conformance.py replays them against a live
// gateway at those times. Not part of the plugin.
//
//   mien_stream_plan <file.wav> whole            Say of a whole clip (one push, then end)
//   mien_stream_plan <file.wav> tts <rate> <ms>  a TTS producing <ms> pushes at <rate> x real time

#include "MienCore/MienCorePacing.h"
#include "MienCore/MienCoreProtocol.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace
{
	uint32_t ReadU32(const std::vector<uint8_t>& Bytes, size_t At)
	{
		return static_cast<uint32_t>(Bytes[At]) | (static_cast<uint32_t>(Bytes[At + 1]) << 8) |
			(static_cast<uint32_t>(Bytes[At + 2]) << 16) | (static_cast<uint32_t>(Bytes[At + 3]) << 24);
	}

	uint16_t ReadU16(const std::vector<uint8_t>& Bytes, size_t At)
	{
		return static_cast<uint16_t>(Bytes[At] | (Bytes[At + 1] << 8));
	}

	bool ReadWav(const char* Path, std::vector<uint8_t>& Pcm, int32_t& Rate, int32_t& Channels)
	{
		std::ifstream Stream(Path, std::ios::binary);
		const std::vector<uint8_t> Bytes((std::istreambuf_iterator<char>(Stream)), std::istreambuf_iterator<char>());
		if (Bytes.size() < 12 || std::memcmp(Bytes.data(), "RIFF", 4) != 0)
		{
			return false;
		}
		size_t At = 12;
		while (At + 8 <= Bytes.size())
		{
			const uint32_t Size = ReadU32(Bytes, At + 4);
			if (std::memcmp(Bytes.data() + At, "fmt ", 4) == 0)
			{
				Channels = ReadU16(Bytes, At + 10);
				Rate = static_cast<int32_t>(ReadU32(Bytes, At + 12));
			}
			else if (std::memcmp(Bytes.data() + At, "data", 4) == 0)
			{
				const size_t End = At + 8 + Size < Bytes.size() ? At + 8 + Size : Bytes.size();
				Pcm.assign(Bytes.begin() + static_cast<std::ptrdiff_t>(At + 8),
					Bytes.begin() + static_cast<std::ptrdiff_t>(End));
				return Rate > 0 && Channels > 0;
			}
			At += 8 + Size + (Size & 1);
		}
		return false;
	}

	void Emit(double TimeS, const MienCore::FJson& Message)
	{
		MienCore::FJson Line = MienCore::FJson::MakeObject();
		Line.Set("t", MienCore::FJson::MakeNumber(TimeS));
		Line.Set("message", Message);
		std::printf("%s\n", Line.Serialize().c_str());
	}
}  // namespace

int main(int ArgCount, char** Args)
{
	if (ArgCount < 3)
	{
		std::fprintf(stderr, "usage: mien_stream_plan <file.wav> whole | tts <rate> <push_ms>\n");
		return 2;
	}
	std::vector<uint8_t> Pcm;
	int32_t Rate = 0;
	int32_t Channels = 0;
	if (!ReadWav(Args[1], Pcm, Rate, Channels))
	{
		std::fprintf(stderr, "%s: not a 16-bit PCM WAV\n", Args[1]);
		return 2;
	}
	const bool bTts = std::strcmp(Args[2], "tts") == 0 && ArgCount >= 5;
	const double ProductionRate = bTts ? std::atof(Args[3]) : 0.0;
	const int32_t PushMs = bTts ? std::atoi(Args[4]) : 0;

	MienCore::FEmotion Emotion;
	Emotion.Kind = MienCore::FEmotion::EKind::Constant;
	MienCore::FRequestSettings Settings;
	MienCore::FPacerConfig Config;
	Config.SampleRateHz = Rate;
	Config.NumChannels = Channels;
	MienCore::FChunkPacer Pacer(Config);
	Emit(0.0, MienCore::BuildStreamHeader(Rate, Channels, Emotion, Settings));

	const size_t FrameBytes = static_cast<size_t>(2 * Channels);
	const size_t PushBytes =
		bTts ? static_cast<size_t>(Rate) * static_cast<size_t>(PushMs) / 1000 * FrameBytes : Pcm.size();
	size_t Produced = 0;
	double Now = 0.0;
	bool bFirstChunk = true;
	while (true)
	{
		// Next event: the next production step (TTS) or the pacer's next due time.
		const double ProduceAt = Produced < Pcm.size()
			? (bTts ? static_cast<double>(Produced + PushBytes < Pcm.size() ? Produced + PushBytes : Pcm.size()) /
						  static_cast<double>(FrameBytes) / Rate / ProductionRate
					: 0.0)
			: 1e300;
		const double DueAt = Pacer.NextDueS();
		Now = ProduceAt < DueAt ? ProduceAt : (DueAt > Now ? DueAt : Now);
		if (ProduceAt <= Now && Produced < Pcm.size())
		{
			const size_t Take = PushBytes < Pcm.size() - Produced ? PushBytes : Pcm.size() - Produced;
			Pacer.Push(Pcm.data() + Produced, Take);
			Produced += Take;
			if (Produced == Pcm.size())
			{
				Pacer.Finish();
			}
		}
		std::vector<MienCore::FPacedChunk> Chunks;
		bool bEnd = false;
		Pacer.Poll(Now, Chunks, bEnd);
		for (const MienCore::FPacedChunk& Chunk : Chunks)
		{
			const std::vector<MienCore::FEmotionKeyframe> Keyframes =
				MienCore::KeyframesInChunk(Emotion, Chunk.AudioStartS, Chunk.AudioEndS, bFirstChunk);
			bFirstChunk = false;
			Emit(Now, MienCore::BuildStreamAudio(Chunk.Data.data(), Chunk.Data.size(), Keyframes));
		}
		if (bEnd)
		{
			Emit(Now, MienCore::BuildStreamEnd());
			break;
		}
	}
	return 0;
}
