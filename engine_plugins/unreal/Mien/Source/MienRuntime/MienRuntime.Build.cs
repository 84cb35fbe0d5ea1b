// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

using UnrealBuildTool;

public class MienRuntime : ModuleRules
{
	public MienRuntime(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"DeveloperSettings",
			"MienCore",
		});

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"HTTP",
			"WebSockets",
			"LiveLinkInterface",
		});
	}
}
