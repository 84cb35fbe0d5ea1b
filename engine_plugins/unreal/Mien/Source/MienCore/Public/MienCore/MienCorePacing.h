// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

/**
 * Streaming input: PCM pushed as a TTS (or a decoder) produces it is cut into fixed chunks and sent
 * at production pace, never more than LeadS of audio ahead of the stream's real-time clock; a whole
 * clip is the special case of one push followed by Finish. Also the retry schedule of calls to the
 * sidecar and the audio clock the face follows.
 */
namespace MienCore
{
	/** Defaults both plugins use (the conformance test streams with exactly these). */
	constexpr int32_t DefaultChunkMs = 100;
	constexpr double DefaultLeadS = 0.5;
	/** Seconds of frames a line waits for before its audio starts (a playback buffer). */
	constexpr double DefaultStartBufferS = 0.1;
	/**
	 * The same for audio pushed by a TTS: a producer at real time cannot run ahead, so the buffer
	 * also covers the model's look-ahead, one chunk and the sidecar's end-of-stream flush.
	 */
	constexpr double DefaultPushStartBufferS = 0.4;

	/**
	 * Whether a streamed line's audio may start: frames for StartBufferS are there, or the stream
	 * has ended (a short line), so the face never starts behind the voice.
	 */
	bool ShouldStartPlayback(int32_t FramesReceived, double Fps, bool bStreamEnded, double StartBufferS);

	struct FPacerConfig
	{
		int32_t SampleRateHz = 16000;
		int32_t NumChannels = 1;
		/** Bytes per sample of one channel (2 for s16le). */
		int32_t BytesPerSample = 2;
		/** Milliseconds of audio per chunk (the protocol recommends 20-100). */
		int32_t ChunkMs = DefaultChunkMs;
		/** How far ahead of real time audio may be sent, seconds (>= the model's look-ahead). */
		double LeadS = DefaultLeadS;
	};

	struct FPacedChunk
	{
		int32_t Index = 0;
		int64_t ByteOffset = 0;
		std::vector<uint8_t> Data;
		double AudioStartS = 0.0;
		double AudioEndS = 0.0;
	};

	class FChunkPacer
	{
	public:
		explicit FChunkPacer(const FPacerConfig& InConfig);

		/** Bytes of one chunk: whole sample frames, at least one. */
		int32_t ChunkBytes() const { return ChunkSize; }
		double BytesPerSecond() const;
		/** Appends produced PCM (any size; whole frames are kept together across pushes). */
		void Push(const uint8_t* Data, size_t Size);
		/** No more audio: the last partial chunk becomes sendable, then the end. */
		void Finish();
		/**
		 * The chunks sendable at NowS (any monotonic clock in seconds; the first call starts the
		 * stream's clock), appended to Out in order. bOutEnd becomes true exactly once: after Finish,
		 * when every chunk has been handed out.
		 */
		void Poll(double NowS, std::vector<FPacedChunk>& Out, bool& bOutEnd);
		/** When the next chunk may go (clock of Poll); a large number when it waits for data or is done. */
		double NextDueS() const;
		bool IsFinished() const { return bFinished; }
		bool IsDone() const { return bEndSent; }
		int64_t BytesPushed() const { return Pushed; }
		int64_t BytesSent() const { return Sent; }
		/** Seconds of audio pushed so far. */
		double PushedS() const;

	private:
		FPacerConfig Config;
		int32_t ChunkSize = 2;
		std::vector<uint8_t> Pending;
		int64_t Pushed = 0;
		int64_t Sent = 0;
		int32_t NextIndex = 0;
		bool bStarted = false;
		double StartS = 0.0;
		bool bFinished = false;
		bool bEndSent = false;
	};

	/** Back-off of retried calls: BaseDelayS * Factor^(attempt - 1), capped, with a deterministic jitter. */
	struct FRetryPolicy
	{
		double BaseDelayS = 0.5;
		double Factor = 2.0;
		double MaxDelayS = 8.0;
		/** Fraction of each delay drawn from [-Jitter, +Jitter] (so NPCs do not retry in lockstep). */
		double Jitter = 0.2;
		/** Attempts in all, the first included. */
		int32_t MaxAttempts = 4;
	};

	/** Delay before attempt Attempt + 1 after Attempt failed (Attempt >= 1); Seed varies the jitter per caller. */
	double RetryDelayS(const FRetryPolicy& Policy, int32_t Attempt, uint32_t Seed);
	/** Whether a failure with Code is worth retrying: the sidecar not reachable, busy or restarting. */
	bool IsRetryableCode(const std::string& Code);
	/** Whether to try again after AttemptsMade attempts ended with Code. */
	bool ShouldRetry(const FRetryPolicy& Policy, const std::string& Code, int32_t AttemptsMade);

	/**
	 * Seconds of a line heard so far: frames the audio device has consumed, minus the output latency
	 * (the audio still in the driver's buffers), never negative.
	 */
	double HeardTimeS(int64_t FramesConsumed, int32_t SampleRateHz, double OutputLatencyS);

	/**
	 * Splits a command line into the program and its arguments: whitespace separates, "double" and
	 * 'single' quotes group (backslash escapes " and \ inside double quotes). False with OutProblem
	 * for an empty command or an unterminated quote.
	 */
	bool SplitCommandLine(const std::string& Command, std::vector<std::string>& OutArgs, std::string& OutProblem);
}  // namespace MienCore
