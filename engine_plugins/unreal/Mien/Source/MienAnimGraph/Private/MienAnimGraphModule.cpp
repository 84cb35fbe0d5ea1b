// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "Modules/ModuleManager.h"

IMPLEMENT_MODULE(FDefaultModuleImpl, MienAnimGraph)
