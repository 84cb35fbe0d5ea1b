// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCore/MienCoreMapping.h"

#include "MienCore/MienCoreTrack.h"

#include <cmath>
#include <set>

namespace MienCore
{
	std::vector<std::string> ValidateChannelMap(const FChannelMapSpec& Spec)
	{
		std::vector<std::string> Problems;
		std::set<std::string> Targets;
		for (size_t Index = 0; Index < Spec.Rules.size(); ++Index)
		{
			const FChannelRule& Rule = Spec.Rules[Index];
			const std::string Where = "rules[" + std::to_string(Index) + "]";
			if (Rule.Source.empty())
			{
				Problems.push_back(Where + ": source is empty (name a channel of the track, e.g. from Describe)");
				continue;
			}
			const std::string Target = Rule.Target.empty() ? Rule.Source : Rule.Target;
			if (!Targets.insert(Target).second)
			{
				Problems.push_back(Where + ": target " + Target + " is written by another rule");
			}
			if (Rule.bClamp && Rule.ClampMin > Rule.ClampMax)
			{
				Problems.push_back(Where + ": clamp min is greater than clamp max");
			}
		}
		return Problems;
	}

	void FChannelMapping::Bind(const FChannelMapSpec& Spec, const std::vector<std::string>& Channels)
	{
		Names.clear();
		Outputs.clear();
		Missing.clear();
		std::set<std::string> Read;
		std::set<std::string> Written;
		for (const FChannelRule& Rule : Spec.Rules)
		{
			if (Rule.Source.empty())
			{
				continue;
			}
			const std::string Target = Rule.Target.empty() ? Rule.Source : Rule.Target;
			int32_t Input = -1;
			for (size_t Index = 0; Index < Channels.size(); ++Index)
			{
				if (Channels[Index] == Rule.Source)
				{
					Input = static_cast<int32_t>(Index);
					break;
				}
			}
			Read.insert(Rule.Source);
			if (Input < 0)
			{
				Missing.push_back(Rule.Source);
				continue;
			}
			if (!Written.insert(Target).second)
			{
				continue;  // the first rule writing a target wins (ValidateChannelMap reports the others)
			}
			FBound Bound;
			Bound.Input = Input;
			Bound.Gain = Rule.Gain;
			Bound.Offset = Rule.Offset;
			Bound.bClamp = Rule.bClamp && Rule.ClampMin <= Rule.ClampMax;
			Bound.ClampMin = Rule.ClampMin;
			Bound.ClampMax = Rule.ClampMax;
			Names.push_back(Target);
			Outputs.push_back(Bound);
		}
		if (!Spec.bPassThroughUnmapped)
		{
			return;
		}
		for (size_t Index = 0; Index < Channels.size(); ++Index)
		{
			const std::string& Name = Channels[Index];
			if (Read.count(Name) > 0 || Written.count(Name) > 0)
			{
				continue;
			}
			Written.insert(Name);
			FBound Bound;
			Bound.Input = static_cast<int32_t>(Index);
			Names.push_back(Name);
			Outputs.push_back(Bound);
		}
	}

	int32_t FChannelMapping::IndexOf(const std::string& Name) const
	{
		for (size_t Index = 0; Index < Names.size(); ++Index)
		{
			if (Names[Index] == Name)
			{
				return static_cast<int32_t>(Index);
			}
		}
		return -1;
	}

	void FChannelMapping::Apply(const float* In, float* Out) const
	{
		for (size_t Index = 0; Index < Outputs.size(); ++Index)
		{
			const FBound& Bound = Outputs[Index];
			float Value = Bound.Offset + Bound.Gain * In[Bound.Input];
			if (Bound.bClamp)
			{
				Value = Value < Bound.ClampMin ? Bound.ClampMin : (Value > Bound.ClampMax ? Bound.ClampMax : Value);
			}
			Out[Index] = Value;
		}
	}

	bool ParseRotationChannel(const std::string& Name, std::string& OutGroup, std::string& OutAxis)
	{
		if (!IsDegreeChannel(Name))
		{
			return false;
		}
		const std::string Stem = Name.substr(0, Name.size() - 4);
		static const char* Axes[] = {"Yaw", "Pitch", "Roll"};
		size_t Best = std::string::npos;
		std::string BestAxis;
		for (const char* Axis : Axes)
		{
			const size_t Found = Stem.find(Axis, 1);
			if (Found != std::string::npos && (Best == std::string::npos || Found < Best))
			{
				Best = Found;
				BestAxis = Axis;
			}
		}
		if (Best == std::string::npos)
		{
			return false;
		}
		OutAxis = BestAxis;
		OutGroup = Stem.substr(0, Best) + Stem.substr(Best + BestAxis.size());
		return true;
	}

	std::vector<FRotationGroup> FindRotationGroups(const std::vector<std::string>& Names)
	{
		std::vector<FRotationGroup> Groups;
		for (size_t Index = 0; Index < Names.size(); ++Index)
		{
			std::string Group;
			std::string Axis;
			if (!ParseRotationChannel(Names[Index], Group, Axis))
			{
				continue;
			}
			FRotationGroup* Found = nullptr;
			for (FRotationGroup& Existing : Groups)
			{
				if (Existing.Group == Group)
				{
					Found = &Existing;
				}
			}
			if (Found == nullptr)
			{
				Groups.push_back(FRotationGroup());
				Found = &Groups.back();
				Found->Group = Group;
			}
			int32_t& Slot = Axis == "Yaw" ? Found->Yaw : (Axis == "Pitch" ? Found->Pitch : Found->Roll);
			if (Slot < 0)
			{
				Slot = static_cast<int32_t>(Index);
			}
		}
		return Groups;
	}

	FQuat QuatFromAxisAngle(const double Axis[3], double AngleDeg)
	{
		const double Length = std::sqrt(Axis[0] * Axis[0] + Axis[1] * Axis[1] + Axis[2] * Axis[2]);
		FQuat Out;
		if (!(Length > 0.0))
		{
			return Out;
		}
		const double Half = AngleDeg * 3.14159265358979323846 / 360.0;
		const double Sine = std::sin(Half) / Length;
		Out.X = Axis[0] * Sine;
		Out.Y = Axis[1] * Sine;
		Out.Z = Axis[2] * Sine;
		Out.W = std::cos(Half);
		return Out;
	}

	FQuat QuatMultiply(const FQuat& A, const FQuat& B)
	{
		FQuat Out;
		Out.W = A.W * B.W - A.X * B.X - A.Y * B.Y - A.Z * B.Z;
		Out.X = A.W * B.X + A.X * B.W + A.Y * B.Z - A.Z * B.Y;
		Out.Y = A.W * B.Y - A.X * B.Z + A.Y * B.W + A.Z * B.X;
		Out.Z = A.W * B.Z + A.X * B.Y - A.Y * B.X + A.Z * B.W;
		return Out;
	}

	FQuat QuatFromYawPitchRoll(double YawDeg, double PitchDeg, double RollDeg, const double YawAxis[3],
		const double PitchAxis[3], const double RollAxis[3])
	{
		return QuatMultiply(QuatMultiply(QuatFromAxisAngle(YawAxis, YawDeg), QuatFromAxisAngle(PitchAxis, PitchDeg)),
			QuatFromAxisAngle(RollAxis, RollDeg));
	}
}  // namespace MienCore
