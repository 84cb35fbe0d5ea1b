// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "ContentBrowserMenuContexts.h"
#include "MienAnimSequenceBaker.h"
#include "MienSidecarMonitor.h"
#include "Modules/ModuleManager.h"
#include "SMienGenerateDialog.h"
#include "Sound/SoundWave.h"
#include "ToolMenus.h"

#define LOCTEXT_NAMESPACE "MienEditor"

/**
 * Editor module: adds "Generate Facial Animation (Mien)" to the Content Browser context menu of
 * SoundWave assets (UToolMenus extension of ContentBrowser.AssetContextMenu.SoundWave, the 5.x
 * replacement of FContentBrowserModule menu extenders), and a level-editor toolbar entry showing the sidecar's
 * status with Start / Stop (FMienSidecarMonitor starts the sidecar when it is not running).
 */
class FMienEditorModule : public IModuleInterface
{
public:
	void StartupModule() override
	{
		Monitor = MakeShared<FMienSidecarMonitor>();
		UToolMenus::RegisterStartupCallback(
			FSimpleMulticastDelegate::FDelegate::CreateRaw(this, &FMienEditorModule::RegisterMenus));
	}

	void ShutdownModule() override
	{
		UToolMenus::UnRegisterStartupCallback(this);
		UToolMenus::UnregisterOwner(this);
		Monitor.Reset();
	}

private:
	/** Shared so the toolbar's callbacks hold it weakly: a toolbar widget can outlive ShutdownModule. */
	TSharedPtr<FMienSidecarMonitor> Monitor;

	void RegisterMenus()
	{
		FToolMenuOwnerScoped OwnerScoped(this);
		UToolMenu* Toolbar = UToolMenus::Get()->ExtendMenu(TEXT("LevelEditor.LevelEditorToolBar.User"));
		FToolMenuSection& Status = Toolbar->FindOrAddSection(TEXT("Mien"));
		const TWeakPtr<FMienSidecarMonitor> WeakSidecar = Monitor;
		Status.AddEntry(FToolMenuEntry::InitToolBarButton(TEXT("MienSidecarStatus"),
			FUIAction(FExecuteAction::CreateLambda(
				[WeakSidecar]()
				{
					const TSharedPtr<FMienSidecarMonitor> Sidecar = WeakSidecar.Pin();
					if (!Sidecar.IsValid())
					{
						return;
					}
					if (Sidecar->IsRunning())
					{
						Sidecar->StopSidecar();
					}
					else
					{
						Sidecar->StartSidecar();
					}
				})),
			TAttribute<FText>::CreateLambda(
				[WeakSidecar]()
				{
					const TSharedPtr<FMienSidecarMonitor> Sidecar = WeakSidecar.Pin();
					return Sidecar.IsValid() ? Sidecar->GetStatusText() : FText::GetEmpty();
				}),
			LOCTEXT("MienStatusTooltip",
				"The Mien sidecar's status. Click to start it (command: Editor Preferences > Plugins > Mien) or to "
				"stop the one the editor started."),
			FSlateIcon()));

		UToolMenu* Menu = UToolMenus::Get()->ExtendMenu(TEXT("ContentBrowser.AssetContextMenu.SoundWave"));
		FToolMenuSection& Section = Menu->FindOrAddSection(TEXT("GetAssetActions"));
		Section.AddDynamicEntry(TEXT("MienGenerateFacialAnimation"),
			FNewToolMenuSectionDelegate::CreateLambda(
				[](FToolMenuSection& InSection)
				{
					const UContentBrowserAssetContextMenuContext* Context =
						UContentBrowserAssetContextMenuContext::FindContextWithAssets(InSection);
					if (Context == nullptr)
					{
						return;
					}
					InSection.AddMenuEntry(TEXT("Mien_GenerateFacialAnimation"),
						LOCTEXT("MienMenuLabel", "Generate Facial Animation (Mien)"),
						LOCTEXT("MienMenuTooltip",
							"Send the selected sound waves to the Mien sidecar and save an AnimSequence with its "
							"facial curves next to each."),
						FSlateIcon(), FToolMenuExecuteAction::CreateStatic(&FMienEditorModule::ExecuteGenerate));
				}));
	}

	static void ExecuteGenerate(const FToolMenuContext& MenuContext)
	{
		const UContentBrowserAssetContextMenuContext* Context =
			UContentBrowserAssetContextMenuContext::FindContextWithAssets(MenuContext);
		if (Context == nullptr)
		{
			return;
		}
		const TArray<USoundWave*> Sounds = Context->LoadSelectedObjects<USoundWave>(TSet<FName>());
		if (Sounds.Num() == 0)
		{
			return;
		}
		FMienBakeOptions Options;
		if (!SMienGenerateDialog::ShowModal(Sounds.Num(), Options))
		{
			return;
		}
		for (USoundWave* Sound : Sounds)
		{
			FMienAnimSequenceBaker::BakeAsync(Sound, Options);
		}
	}
};

#undef LOCTEXT_NAMESPACE

IMPLEMENT_MODULE(FMienEditorModule, MienEditor)
