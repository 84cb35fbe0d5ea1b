"""The plugins' engine-independent logic, compiled and run here.

* ``engine_plugins/unreal/Mien/Source/MienCore`` (standard C++17, no engine headers) is compiled with
  the system compiler under the warnings Unreal treats as errors (shadowing, conversions) and with
  exceptions and RTTI off, as UnrealBuildTool builds it; ``engine_plugins/core_tests/mien_core_tests.cpp``
  runs every case file of ``engine_plugins/godot/addons/mien/tests/cases/`` against it.
* The same case files are the GDScript twin's conformance suite: ``addons/mien/tests/run_core_cases.gd``
  runs them inside Godot (no Godot here); this module checks that the runner covers every case kind.
* Encoding cases marked ``conformanceFixture`` must equal the request recorded in that plugin's
  ``conformance/*.json`` (the requests the live-gateway test replays).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "engine_plugins"
CORE = PLUGINS / "unreal" / "Mien" / "Source" / "MienCore"
CASES = PLUGINS / "godot" / "addons" / "mien" / "tests" / "cases"
GODOT_RUNNER = PLUGINS / "godot" / "addons" / "mien" / "tests" / "run_core_cases.gd"
CORE_SOURCES = sorted((CORE / "Private").glob("MienCore[A-Z]*.cpp"))

sys.path.insert(0, str(PLUGINS))
from fixture_tools import FIXTURE_DIRS, build_core_program  # noqa: E402


@pytest.fixture(scope="module")
def core_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_core_program("mien_core_tests.cpp", tmp_path_factory.mktemp("core"))


def test_core_has_no_engine_headers() -> None:
    """Only the module wrapper includes engine headers; everything else is testable here."""
    for path in [*CORE_SOURCES, *sorted((CORE / "Public").rglob("*.h"))]:
        for include in re.findall(r'#include\s+[<"]([^>"]+)[>"]', path.read_text(encoding="utf-8")):
            assert include.startswith("MienCore/") or "." not in include, f"{path.name} includes {include}"


def test_case_files_exist() -> None:
    kinds = {json.loads(p.read_text(encoding="utf-8"))["kind"] for p in CASES.glob("*.json")}
    assert kinds >= {
        "track_sample",
        "track_decode",
        "describe_decode",
        "error_decode",
        "stream_receive",
        "channel_map",
        "rotation",
        "retry",
        "pacer",
        "command",
        "encode",
        "json",
    }


@pytest.mark.parametrize("case_file", sorted(p.name for p in CASES.glob("*.json")))
def test_cpp_core_conformance(core_tests: Path, case_file: str) -> None:
    result = subprocess.run(
        [str(core_tests), str(CASES), case_file], capture_output=True, text=True, timeout=120, check=False
    )
    summary = result.stdout.strip().splitlines()[-1]
    passed, failed = map(int, re.fullmatch(r"(\d+) passed, (\d+) failed", summary).groups())
    assert result.returncode == 0 and failed == 0, result.stdout
    assert passed > 0


def test_gdscript_runner_covers_every_kind() -> None:
    """The Godot-side runner (run inside Godot, not here) handles every case kind the C++ runner does."""
    text = GODOT_RUNNER.read_text(encoding="utf-8")
    for path in CASES.glob("*.json"):
        kind = json.loads(path.read_text(encoding="utf-8"))["kind"]
        assert f'"{kind}"' in text, f"run_core_cases.gd does not run {kind} cases"


def test_encode_cases_equal_the_conformance_fixtures() -> None:
    """What the core encoder builds is what the live-gateway fixtures send."""
    cases = json.loads((CASES / "encode.json").read_text(encoding="utf-8"))["cases"]
    checked = 0
    for case in cases:
        reference = case.get("conformanceFixture")
        if not reference:
            continue
        plugin, name = reference.split("/")
        fixture = json.loads((FIXTURE_DIRS[plugin] / f"{name}.json").read_text(encoding="utf-8"))
        request = fixture["request"]
        sent = request["messages"][0] if fixture["transport"] == "websocket" else request["body"]
        assert sent == case["expected"], f"{case['name']} differs from {reference}"
        checked += 1
    assert checked >= 4


def test_gdscript_constants_match_the_core() -> None:
    """Chunk size, look-ahead lead and start buffer are the same in both plugins."""
    header = (CORE / "Public" / "MienCore" / "MienCorePacing.h").read_text(encoding="utf-8")
    gd = (PLUGINS / "godot" / "addons" / "mien" / "core" / "mien_pacer.gd").read_text(encoding="utf-8")
    for cpp_name, gd_name in [
        ("DefaultChunkMs", "DEFAULT_CHUNK_MS"),
        ("DefaultLeadS", "DEFAULT_LEAD_S"),
        ("DefaultStartBufferS", "DEFAULT_START_BUFFER_S"),
        ("DefaultPushStartBufferS", "DEFAULT_PUSH_START_BUFFER_S"),
    ]:
        cpp_value = float(re.search(rf"{cpp_name} = ([0-9.]+);", header).group(1))
        gd_value = float(re.search(rf"const {gd_name} := ([0-9.]+)", gd).group(1))
        assert cpp_value == gd_value, (cpp_name, cpp_value, gd_value)
