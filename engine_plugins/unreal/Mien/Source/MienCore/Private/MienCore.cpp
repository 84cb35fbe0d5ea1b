// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "Modules/ModuleManager.h"

// The only engine-facing file of MienCore: the rest of the module is engine-independent C++.
IMPLEMENT_MODULE(FDefaultModuleImpl, MienCore)
