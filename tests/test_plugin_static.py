"""Static checks of the engine plugins: the Godot addon and the Unreal plugin are not compiled in CI.

* lint/format: ``gdlint`` + ``gdformat --check`` on every .gd file, ``clang-format --dry-run --Werror``
  + ``cpplint`` on every .h/.cpp (each skipped, with the reason, only when its tool is not installed;
  CI installs gdtoolkit==4.5.0, clang-format==23.1.5, cpplint==2.0.2);
* structure: plugin.cfg keys, the .uplugin JSON and its two modules, Build.cs dependencies, the
  runtime/editor API the brief fixes (settings class, Blueprint functions, delegates, log category);
* conformance fixtures: each is referenced by the plugin source that sends it, is a valid proto3 JSON
  request of mien.v1 (parsed with the generated descriptors), uses only keys the source writes, and
  lists response fields that exist in the response message with the declared type.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine_plugins"))
from fixture_tools import (
    FIXTURE_DIRS,
    PLUGINS,
    REQUIRED_FIXTURES,
    expand,
    expand_messages,
    load_fixtures,
)

GODOT_ADDON = PLUGINS / "godot" / "addons" / "mien"
UNREAL = PLUGINS / "unreal" / "Mien"
GD_FILES = sorted(GODOT_ADDON.rglob("*.gd"))
CPP_FILES = sorted([*UNREAL.rglob("*.h"), *UNREAL.rglob("*.cpp")])
CORE_TEST_FILES = sorted((PLUGINS / "core_tests").glob("*.cpp"))
SOURCES = {
    "godot": sorted([*GD_FILES, *GODOT_ADDON.rglob("*.tscn")]),
    "unreal": CPP_FILES,
}
RPC_PATHS = {
    "/mien.v1.FaceAnimation/AnimateLine": "AnimateLineRequest",
    "/mien.v1.FaceAnimation/Describe": "DescribeRequest",
    "/mien.v1.FaceAnimation/StreamAnimate": "StreamAnimateRequest",
    "/healthz": None,
}


REQUIRE_LINTERS = os.environ.get("MIEN_REQUIRE_PLUGIN_LINTERS", "") == "1"
"""CI (`make test`) sets it: a missing linter fails the test instead of skipping it."""


def _tool(name: str, package: str) -> str:
    """The tool on PATH, or next to this Python (a venv's bin/); else skip, or fail under CI."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    message = f"{name} not installed (pip install {package}; it is in the dev extra)"
    if REQUIRE_LINTERS:
        pytest.fail("MIEN_REQUIRE_PLUGIN_LINTERS=1 but " + message)
    pytest.skip(message)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def _source_text(plugin: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SOURCES[plugin])


def _quoted(plugin: str, key: str) -> str:
    """How a JSON key appears as a literal in the plugin's source."""
    return f'"{key}"'


# --- lint and format -------------------------------------------------------------------------


def test_sources_exist() -> None:
    assert len(GD_FILES) >= 7, GD_FILES
    assert len(CPP_FILES) >= 15, CPP_FILES


def test_gdlint() -> None:
    tool = _tool("gdlint", "gdtoolkit==4.5.0")
    result = _run([tool, *map(str, GD_FILES)], cwd=PLUGINS / "godot")
    assert result.returncode == 0, result.stdout + result.stderr


def test_gdformat() -> None:
    tool = _tool("gdformat", "gdtoolkit==4.5.0")
    result = _run([tool, "--check", *map(str, GD_FILES)], cwd=PLUGINS / "godot")
    assert result.returncode == 0, result.stdout + result.stderr


def test_clang_format() -> None:
    tool = _tool("clang-format", "clang-format==23.1.5")
    result = _run([tool, "--dry-run", "--Werror", "--style=file", *map(str, CPP_FILES + CORE_TEST_FILES)], cwd=PLUGINS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cpplint() -> None:
    tool = _tool("cpplint", "cpplint==2.0.2")
    result = _run([tool, "--quiet", *map(str, CPP_FILES + CORE_TEST_FILES)], cwd=PLUGINS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_configs_present() -> None:
    assert (PLUGINS / "godot" / "gdlintrc").is_file()
    assert "BreakBeforeBraces: Allman" in (PLUGINS / ".clang-format").read_text()
    assert "set noparent" in (PLUGINS / "CPPLINT.cfg").read_text()


# --- Godot structure -------------------------------------------------------------------------


def test_plugin_cfg() -> None:
    parser = configparser.ConfigParser()
    parser.read(GODOT_ADDON / "plugin.cfg", encoding="utf-8")
    assert parser.sections() == ["plugin"]
    plugin = parser["plugin"]
    for key in ("name", "description", "author", "version", "script"):
        value = plugin.get(key, "")
        assert value.startswith('"') and value.endswith('"') and len(value) > 2, f"plugin.cfg {key}={value!r}"
    script = plugin["script"].strip('"')
    assert (GODOT_ADDON / script).is_file()
    assert re.search(r"^extends EditorPlugin$", (GODOT_ADDON / script).read_text(), re.M)


def _code_lines(path: Path) -> str:
    """The GDScript source without comment lines and string contents (they name classes freely)."""
    code = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("#"))
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)


def test_godot_classes_and_api() -> None:
    names: dict[str, Path] = {}
    for path in GD_FILES:
        for match in re.finditer(r"^class_name (\w+)$", path.read_text(), re.M):
            assert match.group(1) not in names, f"duplicate class_name {match.group(1)}"
            names[match.group(1)] = path
    assert {
        "MienTalker",
        "MienClient",
        "MienResult",
        "MienTrack",
        "MienAudio",
        "MienStream",
        "MienConfig",
        "MienPacer",
        "MienProtocol",
        "MienStreamReceiver",
        "MienChannelMap",
        "MienChannelRule",
        "MienRotation",
        "MienBoneDriver",
    } <= set(names)
    talker = (GODOT_ADDON / "mien_talker.gd").read_text()
    for signal in ("signal line_started(", "signal line_finished", "signal line_failed(result: ResultScript)"):
        assert signal in talker
    for export in (
        "server_url",
        "mesh_path",
        "audio_player_path",
        "rig",
        "fps",
        "npc_id",
        "use_streaming",
        "channel_map",
        "animation_mixer_path",
        "influence",
    ):
        assert re.search(rf"^@export\S* *(\([^)]*\))? var {export}\b", talker, re.M), export
    assert re.search(r"^func say\(stream: AudioStream, text: String = \"\", emotion: Dictionary = \{\}\)", talker, re.M)
    for function in ("func begin_stream(", "func push_pcm(pcm: PackedByteArray)", "func end_stream()"):
        assert function in talker, function
    assert "get_playback_position()" in talker and "get_time_since_last_mix()" in talker


def test_godot_token_never_saved_in_scenes_or_project() -> None:
    """The token is no exported property (scenes would store it) and no project setting."""
    for path in GD_FILES:
        code = _code_lines(path)
        assert not re.search(r"@export[^\n]*\bvar \w*token", code, re.I), f"{path.name} exports a token"
        assert not re.search(r"ProjectSettings\.set_setting\([^)]*token", code, re.I), path.name


def test_godot_output_latency_read_in_one_cached_place() -> None:
    callers = [p.name for p in GD_FILES if "get_output_latency()" in _code_lines(p)]
    assert callers == ["mien_config.gd"], callers
    assert "LATENCY_REFRESH_S" in (GODOT_ADDON / "mien_config.gd").read_text()


def test_godot_scripts_never_name_other_global_classes() -> None:
    """A fresh clone has no global class cache yet: scripts refer to each other by preload()."""
    names = {m.group(1): p for p in GD_FILES for m in re.finditer(r"^class_name (\w+)$", p.read_text(), re.M)}
    for path in GD_FILES:
        code = _code_lines(path)
        own = re.search(r"^class_name (\w+)$", code, re.M)
        for name in names:
            if own and name == own.group(1):
                continue
            assert not re.search(rf"\b{name}\b", code), f"{path.name} names the global class {name}"
        uncommented = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("#"))
        for target in re.findall(r'preload\("([^"]+)"\)', uncommented):
            assert target.startswith("res://addons/mien/"), f"{path.name}: preload {target}"
            assert (GODOT_ADDON / target.removeprefix("res://addons/mien/")).is_file(), target


def test_godot_runtime_scripts_are_tool_scripts() -> None:
    for path in GD_FILES:
        if path.name in {"mien_talker.gd"} or path.parent.name == "tests":
            continue
        assert path.read_text().startswith("@tool\n"), f"{path.name} must be @tool"
    # No channel names are hard-coded: the addon never names a rig's shape.
    for path in GD_FILES:
        if path.parent.name == "tests":
            continue
        assert not re.search(r'"(jawOpen|eyeBlinkLeft|mouthClose|CTRL_C_jaw|eyeYawLeft_deg)', path.read_text()), (
            path.name
        )


def test_gdscript_analyser_checks() -> None:
    """What Godot's analyser rejects or warns about and gdlint does not (engine_plugins/gd_checks.py):
    a member declared twice (mien_stream_receiver.gd had two _on_end: the addon did not load), `:=`
    from an untyped value, preload cycles, and shadowed members, base-class members (a local
    `rotation` in the bone driver shadowed Node3D.rotation) and built-ins."""
    from gd_checks import check_scripts

    findings = check_scripts(GD_FILES, GODOT_ADDON)
    assert not findings, "\n".join(map(str, findings))


def test_gdscript_checks_catch_what_they_claim(tmp_path: Path) -> None:
    """The checker itself: each kind of finding on a script made to have it."""
    from gd_checks import check_scripts

    (tmp_path / "a.gd").write_text(
        'extends Node3D\nconst B := preload("res://addons/mien/b.gd")\nvar fps := 1.0\n'
        'func f(seed: int) -> void:\n\tvar d := {}\n\tvar x := d["k"]\n\tvar y := d.get("k")\n'
        "\tvar fps := 2\n\tvar rotation := 1\n\tvar fine: Dictionary = {}\n\tvar z := fine.size()\n"
        "func f() -> void:\n\tpass\n",
        encoding="utf-8",
    )
    cyclic = 'extends RefCounted\nconst A := preload("res://addons/mien/a.gd")\n'
    (tmp_path / "b.gd").write_text(cyclic, encoding="utf-8")
    text = "\n".join(map(str, check_scripts(sorted(tmp_path.glob("*.gd")), tmp_path)))
    for expected in (
        "function f is declared twice",
        "cannot infer the type of x",
        "cannot infer the type of y",
        "SHADOWED_VARIABLE: fps",
        "SHADOWED_VARIABLE_BASE_CLASS: rotation of Node3D",
        "SHADOWED_GLOBAL_IDENTIFIER: seed",
        "preload cycle: a.gd -> b.gd -> a.gd",
    ):
        assert expected in text, (expected, text)
    assert "of z" not in text


def test_godot_runtime_fixes() -> None:
    """Regressions of the review (engine_plugins/REVIEW.md)."""
    talker = _code_lines(GODOT_ADDON / "mien_talker.gd")
    # A pushed-PCM line ends when the generator has drained plus the output latency (comparing the
    # heard time, latency subtracted, with the total never succeeded), and the player is stopped.
    assert "_generator_drained_usec" in talker and "_stop_player()" in talker
    assert "_playback_time() >= float(_generator_frames)" not in talker
    # A stopped AnimationPlayer emits no mixer_applied: the face is then applied from _process.
    assert "func _mixer_applies_face()" in talker and "if not _mixer_applies_face():" in talker
    stream = _code_lines(GODOT_ADDON / "mien_stream.gd")
    assert "get_current_outbound_buffered_amount()" in stream, "send_text on a full buffer prints errors"
    driver = _code_lines(GODOT_ADDON / "mien_bone_driver.gd")
    assert driver.count("Engine.is_editor_hint()") >= 2, "the talker is no tool script: no calls in the editor"
    assert "func _process_modification()" in driver and "func _process_modification_with_delta(" in driver
    plugin_cfg = (GODOT_ADDON / "plugin.cfg").read_text(encoding="utf-8")
    assert "4.2" not in plugin_cfg and "4.3+" in plugin_cfg


def test_dock_scene() -> None:
    scene = (GODOT_ADDON / "mien_dock.tscn").read_text()
    match = re.search(r'path="res://addons/mien/([^"]+)"', scene)
    assert match and (GODOT_ADDON / match.group(1)).is_file()
    assert 'preload("res://addons/mien/mien_dock.tscn")' in (GODOT_ADDON / "plugin.gd").read_text()


# --- Unreal structure ------------------------------------------------------------------------


def test_uplugin() -> None:
    data = json.loads((UNREAL / "Mien.uplugin").read_text(encoding="utf-8"))
    assert data["FileVersion"] == 3
    assert str(data["EngineVersion"]).startswith("5.4")
    modules = {m["Name"]: m for m in data["Modules"]}
    assert set(modules) == {"MienCore", "MienRuntime", "MienEditor", "MienAnimGraph"}
    assert modules["MienCore"]["Type"] == "Runtime" and modules["MienRuntime"]["Type"] == "Runtime"
    assert modules["MienEditor"]["Type"] == "Editor"
    # AnimGraph editor nodes live in an UncookedOnly module (as Epic's LiveLinkGraphNode): loaded by the editor
    # and uncooked -game runs that load Animation Blueprints with their graphs, never cooked.
    assert modules["MienAnimGraph"]["Type"] == "UncookedOnly"
    assert {"Name": "LiveLink", "Enabled": True} in data["Plugins"]
    for module in modules.values():
        assert module["LoadingPhase"] in {"Default", "PostEngineInit", "PreDefault"}
        build = UNREAL / "Source" / module["Name"] / f"{module['Name']}.Build.cs"
        assert build.is_file(), build
        assert f"public class {module['Name']} : ModuleRules" in build.read_text()


def _build_deps(module: str) -> set[str]:
    text = (UNREAL / "Source" / module / f"{module}.Build.cs").read_text()
    return set(re.findall(r'"(\w+)"', text))


def test_build_cs_dependencies() -> None:
    assert {
        "Core",
        "CoreUObject",
        "Engine",
        "HTTP",
        "WebSockets",
        "DeveloperSettings",
        "MienCore",
        "LiveLinkInterface",
    } <= (_build_deps("MienRuntime"))
    assert {
        "UnrealEd",
        "ToolMenus",
        "ContentBrowser",
        "AssetTools",
        "MienRuntime",
        "MienCore",
        "Slate",
        "SlateCore",
    } <= (_build_deps("MienEditor"))
    assert _build_deps("MienCore") == {"Core"}
    assert {"AnimGraph", "BlueprintGraph", "MienRuntime", "Engine"} <= _build_deps("MienAnimGraph")
    assert "AnimGraph" not in _build_deps("MienRuntime"), "a runtime module cannot depend on an editor module"


def _read(relative: str) -> str:
    return (UNREAL / "Source" / relative).read_text(encoding="utf-8")


def test_unreal_runtime_api() -> None:
    settings = _read("MienRuntime/Public/MienSettings.h")
    assert 'UCLASS(config = Game, defaultconfig, meta = (DisplayName = "Mien"))' in settings
    assert "class MIENRUNTIME_API UMienSettings : public UDeveloperSettings" in settings
    for prop in ("ServerUrl", "DefaultRig", "Fps", "RequestTimeout", "StreamChunkMs", "StreamLeadS", "MaxAttempts"):
        assert re.search(rf"UPROPERTY\(config[^\n]*\)\n\s*\w+ {prop}\b", settings), prop
    game_settings = settings[: settings.index("class MIENRUNTIME_API UMienUserSettings")]
    assert "Token;" not in game_settings, "the token must not be saved in DefaultGame.ini"
    assert "UCLASS(config = EditorPerProjectUserSettings" in settings
    face = re.sub(r"\(\s+", "(", re.sub(r"\s+", " ", _read("MienRuntime/Public/MienFaceComponent.h")))
    assert "class MIENRUNTIME_API UMienFaceComponent : public UActorComponent" in face
    for function in (
        "void Say(USoundWave* Sound, const FString& Text, FMienEmotion Emotion)",
        "void SayLine(UMienLineAsset* Line)",
        "void SayPcm(const TArray<uint8>& Pcm16, int32 SampleRate, int32 NumChannels",
        "bool BeginStream(int32 SampleRate, int32 NumChannels, FMienEmotion Emotion)",
        "void PushPcm(const TArray<uint8>& Pcm16)",
        "void EndStream()",
        "void RequestTrack(",
        "void ApplyFrame(const TArray<float>& Values)",
        "TMap<FName, float> GetCurves() const",
        "float GetCurveValue(FName Channel) const",
        "FVector GetRotationDegrees(FName Group) const",
    ):
        index = face.find(function)
        assert index > 0, function
        assert "UFUNCTION(Blueprint" in face[max(0, index - 160) : index], f"{function} is not a UFUNCTION"
    for picker in ("FComponentReference FaceMesh;", "FComponentReference VoiceAudio;"):
        index = face.find(picker)
        assert index > 0 and "UseComponentPicker" in face[max(0, index - 200) : index], picker
    assert (
        "TObjectPtr<USkeletalMeshComponent> FaceMesh;" not in face
        and "TObjectPtr<UAudioComponent> VoiceAudio;" not in face
    )
    for delegate in ("FOnMienLineFinished", "FOnMienLineFailed"):
        assert re.search(rf"DECLARE_DYNAMIC_MULTICAST_DELEGATE\w*\({delegate}\b", face), delegate
        assert re.search(rf"UPROPERTY\(BlueprintAssignable[^;]*?\) {delegate} ", face), delegate
    component = _read("MienRuntime/Private/MienFaceComponent.cpp")
    assert "SetMorphTarget(" in component
    assert "AddTickPrerequisiteComponent(this)" in component, "the face mesh must tick after the component"
    assert "RandRange(0, MAX_int32)" not in component
    assert "GetAvailableAudioByteCount()" in component and "INDEFINITELY_LOOPING_DURATION" in component
    client = "".join(
        _read(f"MienRuntime/Private/{name}")
        for name in ("MienClient.cpp", "MienStreamSession.cpp", "MienStreamSession.h")
    )
    assert "FHttpModule::Get().CreateRequest()" in client
    assert "FWebSocketsModule::Get().CreateWebSocket(" in client
    assert "MienCore::FChunkPacer" in client and "MienCore::FStreamReceiver" in client
    audio = _read("MienRuntime/Private/MienAudioUtils.cpp")
    assert "#if WITH_EDITOR" in audio and "WITH_EDITORONLY_DATA" not in audio
    live_link = _read("MienRuntime/Private/MienLiveLinkSource.cpp")
    for call in (
        "PushSubjectStaticData_AnyThread(",
        "PushSubjectFrameData_AnyThread(",
        "ULiveLinkBasicRole::StaticClass()",
    ):
        assert call in live_link, call


def test_unreal_log_category_and_generated_includes() -> None:
    text = {p: p.read_text(encoding="utf-8") for p in CPP_FILES}
    declared = [p for p, t in text.items() if "DECLARE_LOG_CATEGORY_EXTERN(LogMien" in t]
    defined = [p for p, t in text.items() if "DEFINE_LOG_CATEGORY(LogMien)" in t]
    assert len(declared) == 1 and len(defined) == 1
    assert not any(re.search(r"DECLARE_LOG_CATEGORY_EXTERN\((?!LogMien)", t) for t in text.values())
    for path, body in text.items():
        includes = re.findall(r'^#include "([^"]+)"', body, re.M)
        if path.suffix == ".h" and re.search(r"^(UCLASS|USTRUCT|UENUM)\(", body, re.M):
            assert includes and includes[-1] == f"{path.stem}.generated.h", f"{path.name}: .generated.h last"


def test_unreal_editor_menu() -> None:
    module = _read("MienEditor/Private/MienEditorModule.cpp")
    assert 'ExtendMenu(TEXT("ContentBrowser.AssetContextMenu.SoundWave"))' in module
    assert "UContentBrowserAssetContextMenuContext::FindContextWithAssets" in module
    assert "Generate Facial Animation (Mien)" in module
    baker = _read("MienEditor/Private/MienAnimSequenceBaker.cpp")
    for call in (
        "GetController()",
        "AddCurve(",
        "SetCurveKeys(",
        "FAnimationCurveIdentifier",
        "SavePackage(",
        "StaticFindObject(",
        "RemoveAllCurvesOfType(",
    ):
        assert call in baker, call
    monitor = _read("MienEditor/Private/MienSidecarMonitor.cpp")
    assert "FPlatformProcess::CreateProc(" in monitor and "SplitCommandLine(" in monitor
    # ~FMonitoredProcess kills its process: a sidecar that outlives the editor (bStopSidecarOnExit off) cannot be one.
    assert "FMonitoredProcess" not in monitor + _read("MienEditor/Private/MienSidecarMonitor.h").split("*/", 1)[1]
    assert "bStopSidecarOnExit" in monitor and "TerminateProc(Process, true)" in monitor


def _code(relative: str) -> str:
    """A C++ source without comments."""
    text = _read(relative)
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


def test_unreal_review_fixes() -> None:
    """Regressions of the review against the engine sources (engine_plugins/REVIEW.md)."""
    client = _code("MienRuntime/Private/MienClient.cpp")
    # ProcessRequest() == false also completes through OnProcessRequestComplete (FinishRequestNotInHttpManager):
    # one report per request, never two.
    assert "bReported" in client and "if (!Request->ProcessRequest() && !*bReported)" in client
    face = _code("MienRuntime/Private/MienFaceComponent.cpp")
    # USoundWaveProcedural::QueueAudio ensure()s whole samples: queue whole frames only.
    assert "/ FrameBytes * FrameBytes" in face and "QueuedBytes = StreamPcm.Num()" not in face
    assert "MakeUniqueObjectName(Owner, UAudioComponent::StaticClass()" in face
    session = _code("MienRuntime/Private/MienStreamSession.cpp")
    close = session[session.index("void FMienStreamSession::Close()") :]
    close = close[: close.index("\n}\n")]
    assert "if (Socket->IsConnected())" not in close, "a connecting socket must be closed too"
    assert "AddTicker" in close, "the socket is released on the next tick, not inside its own handler"
    baker = _code("MienEditor/Private/MienAnimSequenceBaker.cpp")
    assert "SaveAsset(Skeleton, false, OutError)" in baker, "AccumulateCurveMetaData only dirties the skeleton"
    assert "TWeakObjectPtr<USkeleton> Skeleton;" in _read("MienEditor/Public/MienAnimSequenceBaker.h")
    module = _code("MienEditor/Private/MienEditorModule.cpp")
    assert "TSharedPtr<FMienSidecarMonitor> Monitor;" in module and "WeakSidecar.Pin()" in module
    assert "[Sidecar]" not in module and "this]" not in module


def test_unreal_anim_graph_node() -> None:
    """FAnimNode_MienFace (runtime) and UAnimGraphNode_MienFace (UncookedOnly), against FAnimNode_Base's virtuals
    as Epic's FAnimNode_LiveLinkPose declares them."""
    node = re.sub(r"\s+", " ", _read("MienRuntime/Public/AnimNode_MienFace.h"))
    assert "USTRUCT(BlueprintInternalUseOnly) struct MIENRUNTIME_API FAnimNode_MienFace : public FAnimNode_Base" in node
    assert re.search(r"UPROPERTY\([^)]*\) FPoseLink Source;", node)
    for signature in (
        "void Initialize_AnyThread(const FAnimationInitializeContext& Context) override;",
        "void CacheBones_AnyThread(const FAnimationCacheBonesContext& Context) override;",
        "void Update_AnyThread(const FAnimationUpdateContext& Context) override;",
        "void Evaluate_AnyThread(FPoseContext& Output) override;",
        "void GatherDebugData(FNodeDebugData& DebugData) override;",
        "bool HasPreUpdate() const override { return true; }",
        "void PreUpdate(const UAnimInstance* InAnimInstance) override;",
    ):
        assert signature in node, signature
    body = _code("MienRuntime/Private/AnimNode_MienFace.cpp")
    for call in (
        "Source.Initialize(Context)",
        "Source.CacheBones(Context)",
        "GetEvaluateGraphExposedInputs().Execute(Context)",
        "Source.Update(Context)",
        "Source.Evaluate(Output)",
        "Output.Curve.Set(Name, Value)",
        "Output.Curve.SetFlags(Name, Output.Curve.GetFlags(Name) | UE::Anim::ECurveElementFlags::MorphTarget)",
        "Source.GatherDebugData(DebugData)",
        "GetAppliedCurves(",
    ):
        assert call in body, call
    # The component is read on the game thread only (PreUpdate), never from the anim worker thread.
    evaluate = body[body.index("::Evaluate_AnyThread") : body.index("::GatherDebugData")]
    assert "Face" not in evaluate.replace("FAnimNode_MienFace", "")
    graph = re.sub(r"\s+", " ", _read("MienAnimGraph/Public/AnimGraphNode_MienFace.h"))
    assert "class MIENANIMGRAPH_API UAnimGraphNode_MienFace : public UAnimGraphNode_Base" in graph
    assert "UPROPERTY(EditAnywhere, Category = Settings) FAnimNode_MienFace Node;" in graph
    assert '#include "AnimGraphNode_Base.h"' in graph
    for signature in (
        "FText GetNodeTitle(ENodeTitleType::Type TitleType) const override;",
        "FText GetTooltipText() const override;",
        "FText GetMenuCategory() const override;",
    ):
        assert signature in graph, signature


# --- conformance fixtures --------------------------------------------------------------------


def _descriptors() -> Any:
    try:
        from mien.v1 import face_animation_pb2
    except ImportError as error:  # the sidecar package is not installed
        pytest.skip(f"mien.v1 descriptors not importable: {error}")
    return face_animation_pb2


def _walk_keys(value: Any, descriptor: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Collects (json key, path) of a request value, skipping map keys (data, not field names)."""
    if not isinstance(value, dict) or descriptor is None:
        return
    fields = {f.json_name: f for f in descriptor.fields}
    for key, item in value.items():
        out.append((key, f"{path}.{key}"))
        field = fields.get(key)
        if field is None or field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        items = item if isinstance(item, list) else [item]
        for element in items:
            _walk_keys(element, field.message_type, f"{path}.{key}", out)


def _fixture_ids() -> list[tuple[str, str]]:
    return [(plugin, path.stem) for plugin, folder in FIXTURE_DIRS.items() for path in sorted(folder.glob("*.json"))]


@pytest.mark.parametrize("plugin", sorted(FIXTURE_DIRS))
def test_required_fixtures(plugin: str) -> None:
    names = {f["name"] for f in load_fixtures(plugin)}
    assert names >= REQUIRED_FIXTURES, sorted(REQUIRED_FIXTURES - names)


@pytest.mark.parametrize(("plugin", "name"), _fixture_ids())
def test_fixture_matches_source(plugin: str, name: str) -> None:
    from google.protobuf import json_format

    pb = _descriptors()
    fixture = next(f for f in load_fixtures(plugin) if f["_path"].stem == name)
    assert fixture["name"] == name
    source = _source_text(plugin)
    assert f"conformance/{name}.json" in source, f"no {plugin} source names conformance/{name}.json"
    request = fixture["request"]
    message_name = RPC_PATHS[request["path"]]
    assert request["path"] in source or request["path"].rsplit("/", 1)[-1] in source

    keys: list[tuple[str, str]] = []
    if fixture["transport"] == "http":
        assert request["method"] in {"GET", "POST"}
        if message_name is not None:
            body = expand(request["body"])
            json_format.ParseDict(body, getattr(pb, message_name)(), ignore_unknown_fields=False)
            _walk_keys(request["body"], getattr(pb, message_name).DESCRIPTOR, "body", keys)
    else:
        assert fixture["transport"] == "websocket"
        messages = expand_messages(request["messages"])
        assert list(messages[0]) == ["header"] and list(messages[-1]) == ["end"]
        assert all(list(m) == ["audio"] for m in messages[1:-1]) and len(messages) > 3
        for message in messages:
            json_format.ParseDict(message, pb.StreamAnimateRequest(), ignore_unknown_fields=False)
        keyed = [m for m in messages if "emotionKeyframes" in m.get("audio", {})] or messages[1:2]
        for message in [messages[0], keyed[0], messages[-1]]:
            _walk_keys(message, pb.StreamAnimateRequest.DESCRIPTOR, "message", keys)
    for key, where in keys:
        assert _quoted(plugin, key) in source, f"{where}: the {plugin} source never writes {_quoted(plugin, key)}"
    for header in request.get("headers", {}):
        assert header in source, f"header {header} not set by the {plugin} source"


def _check_response_paths(descriptor: Any, fields: dict[str, str], plugin: str, source: str) -> None:
    """Each parsed field path exists in the response message with the declared JSON type, and the
    plugin source reads every name on the path."""
    from google.protobuf.descriptor import FieldDescriptor as Fd

    numeric = {Fd.TYPE_FLOAT, Fd.TYPE_DOUBLE, Fd.TYPE_INT32, Fd.TYPE_UINT32, Fd.TYPE_SINT32, Fd.TYPE_FIXED32}
    for path, kind in fields.items():
        segments = path.split(".")
        current = descriptor
        field = None
        for position, segment in enumerate(segments):
            name = segment.removesuffix("[]")
            assert _quoted(plugin, name) in source, f"{path}: the {plugin} source never reads {_quoted(plugin, name)}"
            if current is None:
                continue
            by_json = {f.json_name: f for f in current.fields}
            assert name in by_json, f"{path}: {current.full_name} has no field {name}"
            field = by_json[name]
            if position < len(segments) - 1:
                assert field.message_type is not None, f"{path}: {name} is not a message"
                assert segment.endswith("[]") == field.is_repeated, f"{path}: write {name}[] for repeated fields"
            current = field.message_type
        if field is None or descriptor is None:
            continue
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        repeated = field.is_repeated and not is_map
        if kind == "object":
            assert is_map or (field.message_type is not None and not repeated), path
        elif kind == "uint64":
            assert field.type in {Fd.TYPE_UINT64, Fd.TYPE_INT64, Fd.TYPE_FIXED64} and not repeated, path
        elif kind.endswith("[]"):
            assert repeated, f"{path} is not repeated"
            assert (field.type == Fd.TYPE_STRING) if kind == "string[]" else (field.type in numeric), path
        else:
            assert not repeated, f"{path} is repeated"
            assert (field.type == Fd.TYPE_STRING) if kind == "string" else (field.type in numeric), path


@pytest.mark.parametrize(("plugin", "name"), _fixture_ids())
def test_fixture_response_fields(plugin: str, name: str) -> None:
    pb = _descriptors()
    fixture = next(f for f in load_fixtures(plugin) if f["_path"].stem == name)
    source = _source_text(plugin)
    response = fixture["response"]
    if fixture["transport"] == "websocket":
        kinds = {"header": pb.TrackHeader, "frames": pb.FrameBatch, "end": pb.StreamEnd, "status": None}
        assert set(response["messages"]) == set(kinds)
        for kind, fields in response["messages"].items():
            assert _quoted(plugin, kind) in source
            descriptor = kinds[kind].DESCRIPTOR if kinds[kind] is not None else None
            _check_response_paths(descriptor, fields, plugin, source)
        return
    message = response["message"]
    descriptor = None
    if message.startswith("mien.v1."):
        descriptor = getattr(pb, message.removeprefix("mien.v1.")).DESCRIPTOR
    else:
        assert message in {"error", "none"}
    if message == "error":
        assert response["status"] >= 400 and response["error_code"]
        assert set(response["parsed_fields"]) == {"code", "message"}
    _check_response_paths(descriptor, response["parsed_fields"], plugin, source)
    accept = response.get("accept_errors")
    if accept:
        assert accept["codes"] and set(accept["fields"]) == {"code", "message"} and accept["reason"]


def test_fixture_expansion_is_deterministic() -> None:
    fixture = next(f for f in load_fixtures("godot") if f["name"] == "stream_animate")
    first = expand_messages(fixture["request"]["messages"], token="t")
    second = expand_messages(fixture["request"]["messages"], token="t")
    assert first == second
    keyframed = [m for m in first if "emotionKeyframes" in m.get("audio", {})]
    assert keyframed and keyframed[0] is first[1]
