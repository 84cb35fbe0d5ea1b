// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienChannelMap.h"
#include "MienCoreBridge.h"
#include "MienCore/MienCoreMapping.h"
#if WITH_EDITOR
#include "Misc/DataValidation.h"
#endif

UMienChannelMap* UMienChannelMap::MakeMetaHumanLiveLinkMap(UObject* Outer)
{
	UMienChannelMap* Map = NewObject<UMienChannelMap>(Outer != nullptr ? Outer : GetTransientPackage());
	Map->bPassThroughUnmapped = true;
	const TCHAR* Pairs[][2] = {
		{TEXT("headYaw_deg"), TEXT("HeadYaw")},
		{TEXT("headPitch_deg"), TEXT("HeadPitch")},
		{TEXT("headRoll_deg"), TEXT("HeadRoll")},
	};
	for (const auto& Pair : Pairs)
	{
		FMienChannelRule& Rule = Map->Rules.AddDefaulted_GetRef();
		Rule.Source = FName(Pair[0]);
		Rule.Target = FName(Pair[1]);
		Rule.Gain = 1.f / 180.f;
		Rule.bClamp = true;
		Rule.ClampMin = -1.f;
		Rule.ClampMax = 1.f;
	}
	return Map;
}

#if WITH_EDITOR
EDataValidationResult UMienChannelMap::IsDataValid(FDataValidationContext& Context) const
{
	const std::vector<std::string> Problems = MienCore::ValidateChannelMap(MienBridge::ToCoreMap(this));
	for (const std::string& Problem : Problems)
	{
		Context.AddError(FText::FromString(MienBridge::FromUtf8(Problem)));
	}
	return Problems.empty() ? EDataValidationResult::Valid : EDataValidationResult::Invalid;
}
#endif
