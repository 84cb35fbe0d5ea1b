// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienSidecarMonitor.h"
#include "HAL/PlatformTime.h"
#include "MienClient.h"
#include "MienCore/MienCorePacing.h"
#include "Containers/StringConv.h"
#include "MienLog.h"
#include "MienSettings.h"
#include "UObject/UObjectGlobals.h"

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
	// The module may shut down after the UObject system: no settings object then, and the default applies.
	const bool bStop = !UObjectInitialized() || GetDefault<UMienUserSettings>()->bStopSidecarOnExit;
	if (bStop)
	{
		StopSidecar();
	}
	ReleaseProcess();
}

bool FMienSidecarMonitor::IsOursRunning()
{
	return Process.IsValid() && FPlatformProcess::IsProcRunning(Process);
}

void FMienSidecarMonitor::DrainOutput(bool bFlush)
{
	if (ReadPipe == nullptr)
	{
		return;
	}
	PendingOutput += FPlatformProcess::ReadPipe(ReadPipe);
	int32 Newline = INDEX_NONE;
	while (PendingOutput.FindChar(TEXT('\n'), Newline))
	{
		UE_LOG(LogMien, Log, TEXT("sidecar: %s"), *PendingOutput.Left(Newline).TrimEnd());
		PendingOutput.RightChopInline(Newline + 1);
	}
	if (bFlush && !PendingOutput.IsEmpty())
	{
		UE_LOG(LogMien, Log, TEXT("sidecar: %s"), *PendingOutput.TrimEnd());
		PendingOutput.Reset();
	}
}

void FMienSidecarMonitor::ReleaseProcess()
{
	DrainOutput(true);
	if (Process.IsValid())
	{
		FPlatformProcess::CloseProc(Process);  // the handle only: a detached sidecar keeps running
	}
	if (ReadPipe != nullptr || WritePipe != nullptr)
	{
		FPlatformProcess::ClosePipe(ReadPipe, WritePipe);
		ReadPipe = nullptr;
		WritePipe = nullptr;
	}
}

bool FMienSidecarMonitor::Tick(float /*DeltaTime*/)
{
	const double Now = FPlatformTime::Seconds();
	DrainOutput(false);
	if (Process.IsValid() && !FPlatformProcess::IsProcRunning(Process))
	{
		int32 ReturnCode = 0;
		FPlatformProcess::GetProcReturnCode(Process, &ReturnCode);
		UE_LOG(LogMien, Warning, TEXT("The Mien sidecar the editor started exited with code %d"), ReturnCode);
		ReleaseProcess();
	}
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
			const bool bOurs = IsOursRunning();
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
	if (bUp || IsOursRunning())
	{
		return;
	}
	ReleaseProcess();
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
	const bool bDetached = !GetDefault<UMienUserSettings>()->bStopSidecarOnExit;
	if (!bDetached && !FPlatformProcess::CreatePipe(ReadPipe, WritePipe))
	{
		ReadPipe = nullptr;
		WritePipe = nullptr;
	}
	uint32 ProcessId = 0;
	Process = FPlatformProcess::CreateProc(
		*Program, *Params, bDetached, true, true, &ProcessId, 0, nullptr, WritePipe, nullptr);
	if (!Process.IsValid())
	{
		Status = FText::Format(
			LOCTEXT("MienCannotStart", "Mien: cannot start {0} (is it on PATH?)"), FText::FromString(Program));
		ReleaseProcess();
		return;
	}
	StartedAt = FPlatformTime::Seconds();
	Status = LOCTEXT("MienStarting", "Mien: starting…");
	UE_LOG(LogMien, Log, TEXT("Started the Mien sidecar (pid %u%s): %s %s"), ProcessId,
		bDetached ? TEXT(", detached") : TEXT(""), *Program, *Params);
}

void FMienSidecarMonitor::StopSidecar()
{
	if (IsOursRunning())
	{
		FPlatformProcess::TerminateProc(Process, true);
	}
	ReleaseProcess();
}

#undef LOCTEXT_NAMESPACE
