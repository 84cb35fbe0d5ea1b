// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienTypes.h"
#include "MienCore/MienCoreTrack.h"

FString FMienTrack::Validate() const
{
	if (ChannelNames.Num() == 0)
	{
		return TEXT("no channel names");
	}
	for (const FName& Name : ChannelNames)
	{
		if (Name.IsNone())
		{
			return TEXT("empty channel name");
		}
	}
	if (Fps <= 0.f)
	{
		return FString::Printf(TEXT("fps must be > 0, got %f"), Fps);
	}
	if (Values.Num() != FrameCount * ChannelNames.Num())
	{
		return FString::Printf(TEXT("values has %d entries, expected frameCount %d x %d channels"), Values.Num(),
			FrameCount, ChannelNames.Num());
	}
	return FString();
}

void FMienTrack::Sample(double TimeS, TArray<float>& OutValues) const
{
	const int32 Channels = NumChannels();
	OutValues.SetNumUninitialized(Channels);
	if (Values.Num() != FrameCount * Channels ||
		!MienCore::SampleFrames(Values.GetData(), FrameCount, Channels, Fps, TimeS, OutValues.GetData()))
	{
		OutValues.Reset();
	}
}

bool FMienTrack::AppendFrames(int32 FirstFrame, int32 BatchCount, const TArray<float>& BatchValues)
{
	if (FirstFrame != FrameCount || BatchValues.Num() != BatchCount * NumChannels())
	{
		return false;
	}
	Values.Append(BatchValues);
	FrameCount += BatchCount;
	return true;
}
