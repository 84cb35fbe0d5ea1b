// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Logging/LogMacros.h"

/** The plugin's one log category. */
MIENRUNTIME_API DECLARE_LOG_CATEGORY_EXTERN(LogMien, Log, All);
