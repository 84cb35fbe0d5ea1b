// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCore/MienCoreTrack.h"

#include <cmath>
#include <set>

namespace MienCore
{
	bool IsDegreeChannel(const std::string& Name)
	{
		const std::string Suffix = DegreeSuffix;
		return Name.size() > Suffix.size() && Name.compare(Name.size() - Suffix.size(), Suffix.size(), Suffix) == 0;
	}

	bool SampleFrames(
		const float* Values, int32_t FrameCount, int32_t NumChannels, double Fps, double TimeS, float* Out)
	{
		if (Values == nullptr || FrameCount <= 0 || NumChannels <= 0 || !(Fps > 0.0))
		{
			return false;
		}
		double Position = std::isfinite(TimeS) ? TimeS * Fps : 0.0;
		const double Last = static_cast<double>(FrameCount - 1);
		Position = Position < 0.0 ? 0.0 : (Position > Last ? Last : Position);
		const int32_t FrameA = static_cast<int32_t>(std::floor(Position));
		const int32_t FrameB = FrameA + 1 < FrameCount ? FrameA + 1 : FrameCount - 1;
		const float Weight = static_cast<float>(Position - FrameA);
		const float* RowA = Values + static_cast<int64_t>(FrameA) * NumChannels;
		const float* RowB = Values + static_cast<int64_t>(FrameB) * NumChannels;
		for (int32_t Channel = 0; Channel < NumChannels; ++Channel)
		{
			Out[Channel] = RowA[Channel] + (RowB[Channel] - RowA[Channel]) * Weight;
		}
		return true;
	}

	int32_t FTrack::IndexOf(const std::string& Name) const
	{
		for (size_t Index = 0; Index < ChannelNames.size(); ++Index)
		{
			if (ChannelNames[Index] == Name)
			{
				return static_cast<int32_t>(Index);
			}
		}
		return -1;
	}

	std::vector<float> FTrack::Sample(double TimeS) const
	{
		std::vector<float> Out(ChannelNames.size());
		if (!SampleFrames(Values.data(), FrameCount, NumChannels(), Fps, TimeS, Out.data()))
		{
			Out.clear();
		}
		return Out;
	}

	bool FTrack::AppendFrames(int32_t FirstFrame, int32_t BatchCount, const std::vector<float>& BatchValues)
	{
		if (FirstFrame != FrameCount || BatchCount < 0 ||
			BatchValues.size() != static_cast<size_t>(BatchCount) * ChannelNames.size())
		{
			return false;
		}
		Values.insert(Values.end(), BatchValues.begin(), BatchValues.end());
		FrameCount += BatchCount;
		return true;
	}

	std::string FTrack::Validate() const
	{
		if (ChannelNames.empty())
		{
			return "no channel names";
		}
		std::set<std::string> Seen;
		for (const std::string& Name : ChannelNames)
		{
			if (Name.empty())
			{
				return "empty channel name";
			}
			if (!Seen.insert(Name).second)
			{
				return "duplicate channel name " + Name;
			}
		}
		if (!(Fps > 0.0) || !std::isfinite(Fps))
		{
			return "fps must be > 0";
		}
		if (FrameCount < 0 || Values.size() != static_cast<size_t>(FrameCount) * ChannelNames.size())
		{
			return "values has " + std::to_string(Values.size()) + " entries, expected frameCount " +
				std::to_string(FrameCount) + " x " + std::to_string(ChannelNames.size()) + " channels";
		}
		return std::string();
	}
}  // namespace MienCore
