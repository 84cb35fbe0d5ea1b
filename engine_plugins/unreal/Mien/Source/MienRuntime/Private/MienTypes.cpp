// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienTypes.h"

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

void FMienTrack::Sample(float TimeS, TArray<float>& OutValues) const
{
	const int32 Channels = NumChannels();
	OutValues.Reset();
	if (FrameCount == 0 || Channels == 0)
	{
		return;
	}
	OutValues.SetNumUninitialized(Channels);
	const float Position = FMath::Clamp(TimeS * Fps, 0.f, static_cast<float>(FrameCount - 1));
	const int32 FrameA = FMath::FloorToInt32(Position);
	const int32 FrameB = FMath::Min(FrameA + 1, FrameCount - 1);
	const float Weight = Position - static_cast<float>(FrameA);
	for (int32 Channel = 0; Channel < Channels; ++Channel)
	{
		OutValues[Channel] =
			FMath::Lerp(Values[FrameA * Channels + Channel], Values[FrameB * Channels + Channel], Weight);
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
