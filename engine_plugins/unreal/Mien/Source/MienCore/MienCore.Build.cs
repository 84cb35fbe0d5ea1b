// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

using UnrealBuildTool;

/**
 * The plugin's engine-independent logic (JSON, track sampling, the StreamAnimate protocol, chunk
 * pacing, channel mapping, eye/head rotations, retry schedule). Only MienCore.cpp (the module wrapper) includes
 * engine headers; every other file is standard C++17 so that the project's CI compiles and
 * unit-tests it with the system compiler (engine_plugins/core_tests/).
 */
public class MienCore : ModuleRules
{
	public MienCore(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.NoPCHs;
		bUseUnity = false;
		PublicDependencyModuleNames.AddRange(new string[] { "Core" });
	}
}
