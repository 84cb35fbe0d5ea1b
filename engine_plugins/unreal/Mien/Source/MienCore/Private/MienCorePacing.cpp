// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCore/MienCorePacing.h"

#include <cmath>

namespace MienCore
{
	FChunkPacer::FChunkPacer(const FPacerConfig& InConfig)
		: Config(InConfig)
	{
		Config.SampleRateHz = Config.SampleRateHz > 0 ? Config.SampleRateHz : 16000;
		Config.NumChannels = Config.NumChannels > 0 ? Config.NumChannels : 1;
		Config.BytesPerSample = Config.BytesPerSample > 0 ? Config.BytesPerSample : 2;
		Config.ChunkMs = Config.ChunkMs > 0 ? Config.ChunkMs : 100;
		const int32_t FrameBytes = Config.BytesPerSample * Config.NumChannels;
		const int64_t FramesPerChunk = static_cast<int64_t>(Config.SampleRateHz) * Config.ChunkMs / 1000;
		ChunkSize = static_cast<int32_t>(FramesPerChunk > 0 ? FramesPerChunk * FrameBytes : FrameBytes);
	}

	double FChunkPacer::BytesPerSecond() const
	{
		return static_cast<double>(Config.SampleRateHz) * Config.NumChannels * Config.BytesPerSample;
	}

	double FChunkPacer::PushedS() const
	{
		return static_cast<double>(Pushed) / BytesPerSecond();
	}

	void FChunkPacer::Push(const uint8_t* Data, size_t Size)
	{
		if (bFinished || Data == nullptr || Size == 0)
		{
			return;
		}
		Pending.insert(Pending.end(), Data, Data + Size);
		Pushed += static_cast<int64_t>(Size);
	}

	void FChunkPacer::Finish()
	{
		bFinished = true;
	}

	double FChunkPacer::NextDueS() const
	{
		if (bEndSent)
		{
			return 1e300;
		}
		if (!bStarted)
		{
			return 0.0;
		}
		const bool bHasChunk = static_cast<int64_t>(Pending.size()) >= ChunkSize || (bFinished && !Pending.empty());
		if (bHasChunk)
		{
			return StartS + static_cast<double>(Sent) / BytesPerSecond() - Config.LeadS;
		}
		return bFinished ? StartS : 1e300;
	}

	void FChunkPacer::Poll(double NowS, std::vector<FPacedChunk>& Out, bool& bOutEnd)
	{
		bOutEnd = false;
		if (bEndSent)
		{
			return;
		}
		if (!bStarted)
		{
			bStarted = true;
			StartS = NowS;
		}
		size_t Consumed = 0;
		while (true)
		{
			const size_t Available = Pending.size() - Consumed;
			size_t Take = 0;
			if (Available >= static_cast<size_t>(ChunkSize))
			{
				Take = static_cast<size_t>(ChunkSize);
			}
			else if (bFinished && Available > 0)
			{
				Take = Available;
			}
			if (Take == 0)
			{
				break;
			}
			const double AudioStartS = static_cast<double>(Sent) / BytesPerSecond();
			if (NowS + 1e-9 < StartS + AudioStartS - Config.LeadS)
			{
				break;
			}
			FPacedChunk Chunk;
			Chunk.Index = NextIndex++;
			Chunk.ByteOffset = Sent;
			Chunk.Data.assign(Pending.begin() + static_cast<std::ptrdiff_t>(Consumed),
				Pending.begin() + static_cast<std::ptrdiff_t>(Consumed + Take));
			Chunk.AudioStartS = AudioStartS;
			Sent += static_cast<int64_t>(Take);
			Chunk.AudioEndS = static_cast<double>(Sent) / BytesPerSecond();
			Consumed += Take;
			Out.push_back(std::move(Chunk));
		}
		if (Consumed > 0)
		{
			Pending.erase(Pending.begin(), Pending.begin() + static_cast<std::ptrdiff_t>(Consumed));
		}
		if (bFinished && Pending.empty())
		{
			bEndSent = true;
			bOutEnd = true;
		}
	}

	bool ShouldStartPlayback(int32_t FramesReceived, double Fps, bool bStreamEnded, double StartBufferS)
	{
		if (bStreamEnded)
		{
			return true;
		}
		return Fps > 0.0 && FramesReceived > 0 && static_cast<double>(FramesReceived) / Fps >= StartBufferS;
	}

	double RetryDelayS(const FRetryPolicy& Policy, int32_t Attempt, uint32_t Seed)
	{
		const int32_t Step = Attempt < 1 ? 0 : Attempt - 1;
		double Delay = Policy.BaseDelayS * std::pow(Policy.Factor, static_cast<double>(Step));
		Delay = Delay < Policy.MaxDelayS ? Delay : Policy.MaxDelayS;
		// Deterministic jitter in [1 - J, 1 + J): a multiplicative hash of (seed, attempt), same in GDScript.
		const uint64_t Mixed =
			((static_cast<uint64_t>(Seed & 0x7FFFFFFFu) * 2654435761ull) + static_cast<uint64_t>(Attempt) * 40503ull) &
			0xFFFFFFFFull;
		const double Fraction = static_cast<double>(Mixed) / 4294967296.0;
		return Delay * (1.0 - Policy.Jitter + 2.0 * Policy.Jitter * Fraction);
	}

	bool IsRetryableCode(const std::string& Code)
	{
		return Code == "transport_error" || Code == "timeout" || Code == "unavailable" ||
			Code == "resource_exhausted" || Code == "deadline_exceeded";
	}

	bool ShouldRetry(const FRetryPolicy& Policy, const std::string& Code, int32_t AttemptsMade)
	{
		return IsRetryableCode(Code) && AttemptsMade < Policy.MaxAttempts;
	}

	double HeardTimeS(int64_t FramesConsumed, int32_t SampleRateHz, double OutputLatencyS)
	{
		if (SampleRateHz <= 0 || FramesConsumed <= 0)
		{
			return 0.0;
		}
		const double Heard = static_cast<double>(FramesConsumed) / SampleRateHz - OutputLatencyS;
		return Heard > 0.0 ? Heard : 0.0;
	}

	bool SplitCommandLine(const std::string& Command, std::vector<std::string>& OutArgs, std::string& OutProblem)
	{
		OutArgs.clear();
		std::string Current;
		bool bInToken = false;
		char Quote = '\0';
		for (size_t Index = 0; Index < Command.size(); ++Index)
		{
			const char Char = Command[Index];
			if (Quote == '\'')
			{
				if (Char == '\'')
				{
					Quote = '\0';
				}
				else
				{
					Current.push_back(Char);
				}
				continue;
			}
			if (Quote == '"')
			{
				if (Char == '"')
				{
					Quote = '\0';
				}
				else if (Char == '\\' && Index + 1 < Command.size() &&
					(Command[Index + 1] == '"' || Command[Index + 1] == '\\'))
				{
					Current.push_back(Command[++Index]);
				}
				else
				{
					Current.push_back(Char);
				}
				continue;
			}
			if (Char == ' ' || Char == '\t' || Char == '\n' || Char == '\r')
			{
				if (bInToken)
				{
					OutArgs.push_back(Current);
					Current.clear();
					bInToken = false;
				}
				continue;
			}
			bInToken = true;
			if (Char == '"' || Char == '\'')
			{
				Quote = Char;
			}
			else
			{
				Current.push_back(Char);
			}
		}
		if (Quote != '\0')
		{
			OutProblem = std::string("unterminated ") + (Quote == '"' ? "double" : "single") + " quote in the command";
			OutArgs.clear();
			return false;
		}
		if (bInToken)
		{
			OutArgs.push_back(Current);
		}
		if (OutArgs.empty())
		{
			OutProblem = "empty command";
			return false;
		}
		return true;
	}
}  // namespace MienCore
