// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "Containers/Ticker.h"
#include "CoreMinimal.h"
#include "HAL/PlatformProcess.h"
#include "UObject/StrongObjectPtr.h"

class UMienClient;

/**
 * The editor's view of the sidecar: polls GET /healthz every few seconds, shows the status (toolbar entry),
 * starts UMienUserSettings::SidecarCommand when the sidecar is not running (local URLs only, when
 * bStartSidecar), reconnects when it comes back after a restart, and stops the process it started when the
 * editor closes (bStopSidecarOnExit; off, the sidecar is started detached and outlives the editor).
 *
 * The process is started with FPlatformProcess::CreateProc, not FMonitoredProcess: destroying an FMonitoredProcess
 * kills its process (~FMonitoredProcess calls Cancel(true)), so a sidecar that should outlive the editor cannot be
 * one. Its output is read from a pipe on the editor's tick and logged (LogMien) when the editor will stop it; a
 * detached sidecar gets no pipe (it would write into a closed pipe once the editor has exited).
 */
class FMienSidecarMonitor
{
public:
	FMienSidecarMonitor();
	~FMienSidecarMonitor();

	FText GetStatusText() const { return Status; }
	bool IsRunning() const { return bUp; }
	/** Starts the configured command unless the sidecar is up or a process of ours is running. */
	void StartSidecar();
	/** Stops the process the editor started (if any). */
	void StopSidecar();

private:
	bool Tick(float DeltaTime);
	void Poll();
	bool IsOursRunning();
	void DrainOutput(bool bFlush);
	void ReleaseProcess();

	/** Expires with the monitor, so a late HTTP callback does nothing. */
	TSharedPtr<bool> AliveToken = MakeShared<bool>(true);
	FTSTicker::FDelegateHandle TickerHandle;
	TStrongObjectPtr<UMienClient> Client;
	FProcHandle Process;
	void* ReadPipe = nullptr;
	void* WritePipe = nullptr;
	FString PendingOutput;
	FText Status;
	double StartedAt = 0.0;
	double NextPollAt = 0.0;
	bool bPolling = false;
	bool bUp = false;
};
