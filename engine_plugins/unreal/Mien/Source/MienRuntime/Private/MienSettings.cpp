// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienSettings.h"
#include "HAL/PlatformMisc.h"
#include "Misc/CommandLine.h"
#include "Misc/Parse.h"

namespace
{
	FString& RuntimeToken()
	{
		static FString Token;
		return Token;
	}
}  // namespace

FString UMienSettings::GetEffectiveServerUrl() const
{
	FString Url;
	if (FParse::Value(FCommandLine::Get(), TEXT("MienUrl="), Url) && !Url.IsEmpty())
	{
		return Url;
	}
	return ServerUrl;
}

void UMienSettings::SetRuntimeToken(const FString& Token)
{
	RuntimeToken() = Token;
}

FString UMienSettings::ResolveToken()
{
	if (!RuntimeToken().IsEmpty())
	{
		return RuntimeToken();
	}
	FString Token;
	if (FParse::Value(FCommandLine::Get(), TEXT("MienToken="), Token) && !Token.IsEmpty())
	{
		return Token;
	}
	Token = FPlatformMisc::GetEnvironmentVariable(TEXT("MIEN_TOKEN"));
	if (!Token.IsEmpty())
	{
		return Token;
	}
#if WITH_EDITOR
	return GetDefault<UMienUserSettings>()->Token;
#else
	return FString();
#endif
}
