// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienSidecarMonitor.h"
#include "HAL/PlatformTime.h"
#include "MienClient.h"
#include "MienCore/MienCorePacing.h"
#include "Containers/StringConv.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "Misc/MonitoredProcess.h"

#define LOCTEXT_NAMESPACE "MienEditor"

namespace
{
	constexpr double PollPeriodS = 2.0;
	constexpr double StartGraceS = 60.0;

	bool IsLocal(const FString& Url)
	{
		return Url.Contains(TEXT("://127.0.0.1")) || Url.Contains(TEXT("://localhost")) ||
			Url.Contains(TEXT("://[::1]"));
	}

	std::string ToUtf8(const FString& Text)
	{
		const FTCHARToUTF8 Converted(*Text);
		return std::string(Converted.Get(), static_cast<size_t>(Converted.Length()));
	}

	FString FromUtf8(const std::string& Text)
	{
		const FUTF8ToTCHAR Converted(Text.data(), static_cast<int32>(Text.size()));
		return FString(Converted.Length(), Converted.Get());
	}

	FString QuoteArgument(const FString& Argument)
	{
		return Argument.Contains(TEXT(" ")) || Argument.IsEmpty() ? TEXT("\"") + Argument + TEXT("\"") : Argument;
	}
}  // namespace

FMienSidecarMonitor::FMienSidecarMonitor()
	: Client(NewObject<UMienClient>())
	, Status(LOCTEXT("MienChecking", "Mien: checking…"))
{
	TickerHandle =
		FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateRaw(this, &FMienSidecarMonitor::Tick), 0.5f);
}

FMienSidecarMonitor::~FMienSidecarMonitor()
{
	FTSTicker::GetCoreTicker().RemoveTicker(TickerHandle);
	if (GetDefault<UMienUserSettings>()->bStopSidecarOnExit)
	{
		StopSidecar();
	}
}

bool FMienSidecarMonitor::Tick(float /*DeltaTime*/)
{
	const double Now = FPlatformTime::Seconds();
	if (!bPolling && Now >= NextPollAt)
	{
		NextPollAt = Now + PollPeriodS;
		Poll();
	}
	return true;
}

void FMienSidecarMonitor::Poll()
{
	bPolling = true;
	Client->ServerUrl = GetDefault<UMienSettings>()->GetEffectiveServerUrl();
	Client->Token = UMienSettings::ResolveToken();
	const TWeakPtr<bool> Alive = AliveToken;
	Client->Health(FMienResultCallback::CreateLambda(
		[this, Alive](const FMienResult& Result)
		{
			if (!Alive.IsValid())
			{
				return;  // the editor is closing
			}
			bPolling = false;
			const bool bOurs = Process.IsValid() && Process->IsRunning();
			if (Result.bOk)
			{
				if (!bUp)
				{
					UE_LOG(LogMien, Log, TEXT("Mien sidecar is up at %s"), *Client->ServerUrl);
				}
				bUp = true;
				Status = FText::Format(LOCTEXT("MienUp", "Mien: running{0}"),
					bOurs ? LOCTEXT("MienOurs", " (started by the editor)") : FText::GetEmpty());
				return;
			}
			bUp = false;
			if (bOurs && FPlatformTime::Seconds() - StartedAt < StartGraceS)
			{
				Status = LOCTEXT("MienStarting", "Mien: starting…");
				return;
			}
			Status = FText::Format(LOCTEXT("MienDown", "Mien: not reachable ({0})"), FText::FromString(Result.Code));
			const UMienUserSettings* User = GetDefault<UMienUserSettings>();
			if (User->bStartSidecar && !bOurs && IsLocal(Client->ServerUrl))
			{
				StartSidecar();
			}
		}));
}

void FMienSidecarMonitor::StartSidecar()
{
	if (bUp || (Process.IsValid() && Process->IsRunning()))
	{
		return;
	}
	std::vector<std::string> Args;
	std::string Problem;
	if (!MienCore::SplitCommandLine(ToUtf8(GetDefault<UMienUserSettings>()->SidecarCommand), Args, Problem))
	{
		Status = FText::Format(
			LOCTEXT("MienBadCommand", "Mien: sidecar command: {0}"), FText::FromString(FromUtf8(Problem)));
		return;
	}
	FString Params;
	for (size_t Index = 1; Index < Args.size(); ++Index)
	{
		Params += (Params.IsEmpty() ? TEXT("") : TEXT(" ")) + QuoteArgument(FromUtf8(Args[Index]));
	}
	const FString Program = FromUtf8(Args[0]);
	Process = MakeShared<FMonitoredProcess>(Program, Params, true, true);
	Process->OnOutput().BindLambda(
		[](const FString& Line)
		{
			UE_LOG(LogMien, Log, TEXT("sidecar: %s"), *Line);
		});
	if (!Process->Launch())
	{
		Status = FText::Format(
			LOCTEXT("MienCannotStart", "Mien: cannot start {0} (is it on PATH?)"), FText::FromString(Program));
		Process.Reset();
		return;
	}
	StartedAt = FPlatformTime::Seconds();
	Status = LOCTEXT("MienStarting", "Mien: starting…");
	UE_LOG(LogMien, Log, TEXT("Started the Mien sidecar: %s %s"), *Program, *Params);
}

void FMienSidecarMonitor::StopSidecar()
{
	if (Process.IsValid())
	{
		Process->Cancel(true);
		Process.Reset();
	}
}

#undef LOCTEXT_NAMESPACE
