// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

/** Per-frame curves of a line (mien.v1 AnimationTrack) and how they are sampled between frames. */
namespace MienCore
{
	/** Suffix of channels that are rotations in degrees (eyes, head), not blend-shape weights. */
	constexpr const char* DegreeSuffix = "_deg";

	/** True when Name ends with "_deg". */
	bool IsDegreeChannel(const std::string& Name);

	/**
	 * Values at TimeS of frame-major Values (FrameCount x NumChannels at Fps), linearly interpolated
	 * between the two nearest frames and held at the first/last frame outside the track. Writes
	 * NumChannels floats to Out; returns false (Out untouched) when there is no frame.
	 */
	bool SampleFrames(
		const float* Values, int32_t FrameCount, int32_t NumChannels, double Fps, double TimeS, float* Out);

	struct FTrack
	{
		std::vector<std::string> ChannelNames;
		double Fps = 60.0;
		int32_t FrameCount = 0;
		std::vector<float> Values;
		/** False while a streamed track still receives frames. */
		bool bComplete = true;

		int32_t NumChannels() const { return static_cast<int32_t>(ChannelNames.size()); }
		/** Seconds covered by the frames so far: the time of the last frame plus one frame. */
		double DurationS() const { return Fps > 0.0 ? FrameCount / Fps : 0.0; }
		/** Index of a channel by exact name, -1 when absent. */
		int32_t IndexOf(const std::string& Name) const;
		/** Values at TimeS (see SampleFrames); empty before the first frame. */
		std::vector<float> Sample(double TimeS) const;
		/** Appends a streamed batch; false (nothing changed) unless it is the next contiguous, whole batch. */
		bool AppendFrames(int32_t FirstFrame, int32_t BatchCount, const std::vector<float>& BatchValues);
		/** Empty when consistent, else what is wrong (no names, empty or duplicate name, fps, size). */
		std::string Validate() const;
	};
}  // namespace MienCore
