// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

/**
 * Per-character mapping of the sidecar's channels onto a rig (rename, gain, offset, clamp), and the
 * rotation channels (eyes, head) found by name in any track: "<part><Yaw|Pitch|Roll><side>_deg",
 * e.g. eyeYawLeft_deg (group eyeLeft), headPitch_deg (group head). Nothing here knows a channel list.
 */
namespace MienCore
{
	/** One output: Target = clamp(Offset + Gain * Source). An empty Target keeps the source's name. */
	struct FChannelRule
	{
		std::string Source;
		std::string Target;
		float Gain = 1.f;
		float Offset = 0.f;
		bool bClamp = false;
		float ClampMin = 0.f;
		float ClampMax = 1.f;
	};

	struct FChannelMapSpec
	{
		std::vector<FChannelRule> Rules;
		/** Channels no rule reads are output unchanged under their own name. */
		bool bPassThroughUnmapped = true;
	};

	/** Problems of a mapping (empty source, a target written twice, clamp min > max), one per entry. */
	std::vector<std::string> ValidateChannelMap(const FChannelMapSpec& Spec);

	/** A mapping bound to one track's channel names: which input feeds each output. */
	class FChannelMapping
	{
	public:
		/** Binds Spec to Channels (the track's names). Rules whose source the track lacks are skipped and listed. */
		void Bind(const FChannelMapSpec& Spec, const std::vector<std::string>& Channels);
		const std::vector<std::string>& OutputNames() const { return Names; }
		/** Sources named by rules that the track does not have. */
		const std::vector<std::string>& MissingSources() const { return Missing; }
		int32_t NumOutputs() const { return static_cast<int32_t>(Names.size()); }
		/** Index of an output by name, -1 when absent. */
		int32_t IndexOf(const std::string& Name) const;
		/** Maps one frame: In has the bound track's channel count, Out gets NumOutputs() values. */
		void Apply(const float* In, float* Out) const;

	private:
		struct FBound
		{
			int32_t Input = -1;
			float Gain = 1.f;
			float Offset = 0.f;
			bool bClamp = false;
			float ClampMin = 0.f;
			float ClampMax = 1.f;
		};
		std::vector<std::string> Names;
		std::vector<FBound> Outputs;
		std::vector<std::string> Missing;
	};

	/** The channels of one rotation group (-1 = the track has no such axis). */
	struct FRotationGroup
	{
		std::string Group;
		int32_t Yaw = -1;
		int32_t Pitch = -1;
		int32_t Roll = -1;
	};

	/** Splits a rotation channel name into group and axis ("Yaw", "Pitch", "Roll"); false for other names. */
	bool ParseRotationChannel(const std::string& Name, std::string& OutGroup, std::string& OutAxis);
	/** Every rotation group of Names, in order of first appearance. */
	std::vector<FRotationGroup> FindRotationGroups(const std::vector<std::string>& Names);

	struct FQuat
	{
		double X = 0.0;
		double Y = 0.0;
		double Z = 0.0;
		double W = 1.0;
	};

	FQuat QuatFromAxisAngle(const double Axis[3], double AngleDeg);
	FQuat QuatMultiply(const FQuat& A, const FQuat& B);
	/**
	 * The rotation of a bone for yaw, pitch and roll in degrees about the given bone-local axes
	 * (normalised here), applied yaw, then pitch, then roll: Yaw * Pitch * Roll.
	 */
	FQuat QuatFromYawPitchRoll(double YawDeg, double PitchDeg, double RollDeg, const double YawAxis[3],
		const double PitchAxis[3], const double RollAxis[3]);
}  // namespace MienCore
