// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienLog.h"
#include "Modules/ModuleManager.h"
#include "WebSocketsModule.h"

DEFINE_LOG_CATEGORY(LogMien);

/** Runtime module: makes sure the WebSockets module is loaded before any stream opens. */
class FMienRuntimeModule : public IModuleInterface
{
public:
	void StartupModule() override { FModuleManager::LoadModuleChecked<FWebSocketsModule>(TEXT("WebSockets")); }
};

IMPLEMENT_MODULE(FMienRuntimeModule, MienRuntime)
