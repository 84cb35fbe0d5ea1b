// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

using UnrealBuildTool;

/**
 * The AnimGraph editor node of FAnimNode_MienFace ("Mien Face"). UncookedOnly, like Epic's LiveLinkGraphNode: it is
 * loaded by the editor and uncooked -game runs (which load Animation Blueprints with their graphs) and never cooked.
 */
public class MienAnimGraph : ModuleRules
{
	public MienAnimGraph(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"AnimGraph",
			"BlueprintGraph",
			"MienRuntime",
		});
	}
}
