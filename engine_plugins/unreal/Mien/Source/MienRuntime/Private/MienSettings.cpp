// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienSettings.h"
#include "HAL/PlatformMisc.h"

FString UMienSettings::GetEffectiveToken() const
{
	if (!Token.IsEmpty())
	{
		return Token;
	}
	return FPlatformMisc::GetEnvironmentVariable(TEXT("MIEN_TOKEN"));
}
