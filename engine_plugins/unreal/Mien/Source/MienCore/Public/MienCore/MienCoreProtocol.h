// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "MienCore/MienCoreJson.h"
#include "MienCore/MienCoreTrack.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

/**
 * The mien.v1 messages the plugins send and read over the sidecar's HTTP/JSON + WebSocket gateway
 * (proto3 JSON: camelCase names, bytes as base64, enums by name, uint64 as strings), and the client
 * side of the StreamAnimate exchange as a state machine.
 */
namespace MienCore
{
	// --- requests ----------------------------------------------------------------------------

	/** One emotion value (mien.v1 EmotionValue): a category at an intensity, a VAD point or a blend. */
	struct FEmotionValue
	{
		enum class EKind : uint8_t
		{
			Category,
			Vad,
			Blend,
		};
		EKind Kind = EKind::Category;
		std::string Category = "neutral";
		/** < 0 = unset (the sidecar's default, 1). */
		float Intensity = -1.f;
		float Valence = 0.f;
		float Arousal = 0.f;
		float Dominance = 0.f;
		std::vector<std::pair<std::string, float>> Blend;
	};

	struct FEmotionKeyframe
	{
		double TimeS = 0.0;
		FEmotionValue Value;
	};

	/** How a line's emotion is given (mien.v1 EmotionSpec). */
	struct FEmotion
	{
		enum class EKind : uint8_t
		{
			/** Neutral, or the NPC's state (auto) when the request has an NPC id. */
			Default,
			Constant,
			Keyframes,
			Auto,
		};
		EKind Kind = EKind::Default;
		FEmotionValue Constant;
		std::vector<FEmotionKeyframe> Keyframes;
		/** Game time of the line for mood decay (Auto); < 0 = unset. */
		double GameTimeS = -1.0;
	};

	/** The per-request settings every AnimateLine / StreamAnimate request carries. */
	struct FRequestSettings
	{
		double Fps = 60.0;
		std::string Rig = "arkit52";
		std::string NpcId;
		/** < 0 = unset. */
		int64_t Seed = -1;
		float ExpressionScale = 1.f;
		float BlinkScale = 1.f;
		float GazeScale = 1.f;
		std::string RequestId;
	};

	/** mien.v1 EmotionValue. */
	FJson BuildEmotionValue(const FEmotionValue& Value);
	/** mien.v1 EmotionSpec; a null FJson when the field is to be left out (neutral). */
	FJson BuildEmotionSpec(const FEmotion& Emotion, const std::string& NpcId);
	/** {"file": base64} (a complete audio file the sidecar decodes). */
	FJson BuildFileAudio(const uint8_t* FileBytes, size_t Size);
	/** {"pcm": {"data", "sampleRateHz", "encoding": "PCM_ENCODING_S16LE", "channels"}}. */
	FJson BuildPcmAudio(const uint8_t* Pcm16, size_t Size, int32_t SampleRateHz, int32_t NumChannels);
	/** AnimateLine body of a spoken line (conformance/animate_line_{file,pcm,npc_auto}.json). */
	FJson BuildAnimateLineBody(
		FJson Audio, const std::string& Transcript, const FEmotion& Emotion, const FRequestSettings& Settings);
	/** AnimateLine body of an idle (listening) track (conformance/animate_line_idle.json). */
	FJson BuildIdleBody(double DurationS, const FEmotion& Emotion, const FRequestSettings& Settings);
	/**
	 * {"header": StreamHeader} (conformance/stream_animate.json). With keyframed emotion the header
	 * carries the first keyframe's value; the keyframes travel on the audio chunks.
	 */
	FJson BuildStreamHeader(
		int32_t SampleRateHz, int32_t NumChannels, const FEmotion& Emotion, const FRequestSettings& Settings);
	/** {"audio": {"data": base64, "emotionKeyframes": [...]}}. */
	FJson BuildStreamAudio(const uint8_t* Pcm, size_t Size, const std::vector<FEmotionKeyframe>& Keyframes);
	/** {"end": {}}. */
	FJson BuildStreamEnd();
	/** The keyframes of a keyframed emotion whose time is in [StartS, EndS); the first chunk also takes earlier ones.
	 */
	std::vector<FEmotionKeyframe> KeyframesInChunk(
		const FEmotion& Emotion, double StartS, double EndS, bool bFirstChunk);

	// --- responses ---------------------------------------------------------------------------

	struct FPhone
	{
		double StartS = 0.0;
		double EndS = 0.0;
		std::string Phone;
		std::string Word;
		std::string Viseme;
	};

	struct FDecodedTrack
	{
		FTrack Track;
		std::string Mode;
		std::vector<std::string> Warnings;
		double AudioDurationS = 0.0;
		/** uint64 as a decimal string. */
		std::string Seed;
		std::string Rig;
		std::string RequestId;
		std::vector<std::pair<std::string, double>> Emotion;
		std::vector<FPhone> Phones;
	};

	/** An AnimationTrack response; false with OutProblem when a field is missing, mistyped or inconsistent. */
	bool DecodeAnimationTrack(const FJson& Body, FDecodedTrack& Out, std::string& OutProblem);
	/** The same from the response text. */
	bool DecodeAnimationTrackText(const std::string& Text, FDecodedTrack& Out, std::string& OutProblem);

	struct FRigInfo
	{
		std::string Name;
		std::vector<std::string> ChannelNames;
	};

	/** The fields of mien.v1 ServiceInfo (Describe) the plugins use. */
	struct FServiceInfo
	{
		std::vector<FRigInfo> Rigs;
		std::string DefaultRig;
		std::vector<std::string> Emotions;
		std::vector<std::string> Modes;
		double DefaultFps = 60.0;
		double MaxAudioS = 0.0;
		double MaxChunkS = 0.0;
		double StreamStallTimeoutS = 0.0;
		double MinFps = 1.0;
		double MaxFps = 240.0;
		/** Look-ahead of the neural (streaming) model in ms; 0 when no neural model is listed. */
		double StreamLookaheadMs = 0.0;

		/** Channel names of a rig; nullptr when the sidecar does not offer it. */
		const std::vector<std::string>* RigChannels(const std::string& Rig) const;
	};

	bool DecodeServiceInfo(const FJson& Body, FServiceInfo& Out, std::string& OutProblem);
	bool DecodeServiceInfoText(const std::string& Text, FServiceInfo& Out, std::string& OutProblem);

	/** A failed call: the gateway's error code and message, or one of the plugin's own codes. */
	struct FFailure
	{
		std::string Code;
		std::string Message;
	};

	/** A gateway error body {"code", "message"}; bad_response when the body is not one. */
	FFailure DecodeErrorBody(int32_t HttpStatus, const std::string& Text);

	// --- StreamAnimate, client side ----------------------------------------------------------

	/** What the server sent, checked and decoded. */
	struct FStreamEvent
	{
		enum class EKind : uint8_t
		{
			/** Channel names, fps and look-ahead of the stream. */
			Header,
			/** FirstFrame, FrameCount, Values (frame-major). */
			Frames,
			/** All frames are sent: FrameCount, AudioDurationS. */
			End,
			/** The stream is over: Code "ok" or the error (status frame, protocol error or closed socket). */
			Finished,
		};
		EKind Kind = EKind::Header;
		std::vector<std::string> ChannelNames;
		double Fps = 0.0;
		double LookaheadMs = 0.0;
		int32_t FirstFrame = 0;
		int32_t FrameCount = 0;
		std::vector<float> Values;
		double AudioDurationS = 0.0;
		std::string Code;
		std::string Message;
	};

	/**
	 * Checks the order and shape of the server's StreamAnimate messages: one header first, frame
	 * batches contiguous and of the header's width, one end whose count matches, then the status.
	 * Anything else finishes the stream with bad_response; a socket closed before the status finishes
	 * it with transport_error (never connected), unauthenticated (1008), resource_exhausted (1009) or
	 * unavailable. Exactly one Finished event is ever produced; later input is ignored.
	 */
	class FStreamReceiver
	{
	public:
		void OnConnected() { bConnected = true; }
		void OnMessage(const std::string& Text, std::vector<FStreamEvent>& OutEvents);
		void OnClosed(int32_t CloseCode, const std::string& Reason, std::vector<FStreamEvent>& OutEvents);
		/** Finishes with Code (e.g. "cancelled" when the client closes). */
		void Abort(const std::string& Code, const std::string& Message, std::vector<FStreamEvent>& OutEvents);

		bool IsConnected() const { return bConnected; }
		bool IsFinished() const { return bFinished; }
		bool HasHeader() const { return bHeader; }
		bool HasEnd() const { return bEnd; }
		int32_t FramesReceived() const { return Frames; }
		const std::vector<std::string>& ChannelNames() const { return Names; }

	private:
		void Finish(const std::string& Code, const std::string& Message, std::vector<FStreamEvent>& OutEvents);

		bool bConnected = false;
		bool bHeader = false;
		bool bEnd = false;
		bool bFinished = false;
		int32_t Frames = 0;
		std::vector<std::string> Names;
	};
}  // namespace MienCore
