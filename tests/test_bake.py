"""The offline bake (``mien bake``): manifest validation, outputs, determinism, cache, auto emotions,
failures, and a SIGKILL in the middle of a parallel bake.

Every ``.glb`` the bake writes here is validated with 0 errors and 0 warnings by the Khronos
validator exactly as ``gltf-transform validate`` runs it (the CLI's own ``gltf-validator`` module,
``validateBytes`` with the CLI's default options), all files of a test in one Node process, each
distinct file once (one ``gltf-transform validate`` process per file would take ~2 s each, and
the module makes ~50); representative files of each kind also go through the
``gltf-transform validate`` command itself (scripts/validate_gltf.py --strict), and a broken file
shows both report the same error. ``MIEN_REQUIRE_GLTF_VALIDATOR=1`` (CI) makes a missing CLI a
failure. Curves are read back with pygltflib (independently of the bake's reader).
Audio: the real speech fixtures (short clips), copied into temporary manifest folders where a test
needs its own manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pygltflib
import pytest

from mien import AnimationOptions, Animator, livelinkface
from mien.channels import ARKIT52
from mien.config import Config
from mien.emotion import Emotion
from mien.emotion_state import EmotionStateConfig, EmotionStateEngine
from mien.errors import MienError
from mien.rig import load_rig
from mien_bake import BakeOptions, bake, load_manifest, read_glb, runner
from mien_bake.cache import BakeCache
from mien_bake.emotions import resolve_emotions
from mien_bake.gltf import head_angles_deg, head_quaternions, read_glb_rotation
from mien_bake.runner import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, REPORT_FILE

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
SAMPLE = SPEECH / "bake_sample.yaml"
VALIDATE_SCRIPT = ROOT / "scripts" / "validate_gltf.py"
REQUIRE_VALIDATOR = os.environ.get("MIEN_REQUIRE_GLTF_VALIDATOR", "") == "1"
SHORT_CLIPS = ("cards_001", "cards_003", "cards_004")
"""1.1 to 1.6 s each: enough speech to animate, cheap to bake."""


def _load_script(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


validate_gltf = _load_script(VALIDATE_SCRIPT, "validate_gltf_for_bake")
sample_face = _load_script(ROOT / "bake" / "examples" / "make_sample_face.py", "make_sample_face")


# The call `gltf-transform validate` makes (its cli.mjs: validateBytes with --limit 1e7, --ignore []), for
# many files in one process. argv: [node, <a path inside the CLI package>, files...].
_BATCH_VALIDATE_JS = """
const { createRequire } = require("module");
const fs = require("fs");
const validator = createRequire(process.argv[1])("gltf-validator");
(async () => {
  const out = [];
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)),
                                                 { maxIssues: 1e7, ignoredIssues: [] });
    out.push({ file, errors: report.issues.numErrors, warnings: report.issues.numWarnings,
               messages: report.issues.messages.filter((m) => m.severity <= 1) });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(2); });
"""
_VALIDATED: set[str] = set()
"""sha256 of every .glb content validated so far (identical files are validated once)."""


def _validator_cli() -> str | None:
    cli = validate_gltf.find_cli()
    if cli is None and REQUIRE_VALIDATOR:
        pytest.fail(f"gltf-transform is required but not installed; {validate_gltf.INSTALL_HINT}")
    return cli


def batch_validate(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The Khronos validator's verdict on each file, as gltf-transform validate runs it."""
    cli = _validator_cli()
    assert cli is not None
    package_file = Path(shutil.which(cli) or cli).resolve()
    proc = subprocess.run(["node", "-e", _BATCH_VALIDATE_JS, str(package_file), *map(str, paths)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    verdicts: list[dict[str, Any]] = json.loads(proc.stdout)
    assert [v["file"] for v in verdicts] == [str(p) for p in paths]
    return verdicts


def assert_valid_glbs(folder: Path) -> int:
    """Validate every .glb under ``folder`` (outputs and character files); returns how many there are."""
    paths = sorted(p for p in folder.rglob("*.glb") if ".mien-bake" not in p.parts)
    assert paths, f"no .glb under {folder}"
    if _validator_cli() is None:
        return len(paths)
    fresh: dict[str, Path] = {}
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in _VALIDATED:
            fresh.setdefault(digest, path)
    if fresh:
        for verdict in batch_validate(list(fresh.values())):
            assert verdict["errors"] == 0 and verdict["warnings"] == 0, verdict
        _VALIDATED.update(fresh)
    return len(paths)


def assert_cli_validates(paths: Sequence[Path]) -> None:
    """``gltf-transform validate`` itself (strict: 0 errors, 0 warnings), one process per file."""
    if _validator_cli() is None:
        return
    proc = subprocess.run([sys.executable, str(VALIDATE_SCRIPT), "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": 0 errors, 0 warnings") == len(paths), proc.stdout


def test_gltf_validator_is_available_for_the_bake_tests() -> None:
    if validate_gltf.find_cli() is None:
        if REQUIRE_VALIDATOR:
            pytest.fail("MIEN_REQUIRE_GLTF_VALIDATOR=1 but gltf-transform is missing; " + validate_gltf.INSTALL_HINT)
        pytest.skip("gltf-transform CLI not installed, so baked .glb files were not validated; "
                    + validate_gltf.INSTALL_HINT)


def test_batch_validator_and_gltf_transform_reject_the_same_broken_file(sample_out: Path, tmp_path: Path) -> None:
    """The validation can fail: an animation input accessor without min/max is an error for both."""
    if _validator_cli() is None:
        pytest.skip("gltf-transform CLI not installed")
    doc, binary = read_glb((sample_out / "guard_001.glb").read_bytes())
    del doc["accessors"][doc["animations"][0]["samplers"][0]["input"]]["min"]
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    broken = tmp_path / "broken.glb"
    broken.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    (verdict,) = batch_validate([broken])
    assert verdict["errors"] >= 1
    assert "ANIMATION_SAMPLER_INPUT_ACCESSOR_WITHOUT_BOUNDS" in {m["code"] for m in verdict["messages"]}
    proc = subprocess.run([sys.executable, str(VALIDATE_SCRIPT), str(broken)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 1 and "ANIMATION_SAMPLER_INPUT_ACCESSOR_WITHOUT_BOUNDS" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def read_animations(path: Path) -> dict[str, dict[str, tuple[list[str], np.ndarray, np.ndarray]]]:
    """animation name -> node name -> (target names, times, weights (T, targets)), with pygltflib."""
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    assert blob is not None

    def accessor(index: int) -> np.ndarray:
        acc = gltf.accessors[index]
        assert acc.componentType == pygltflib.FLOAT and acc.bufferView is not None
        view = gltf.bufferViews[acc.bufferView]
        width = {"SCALAR": 1, "VEC3": 3}[acc.type]
        offset = (view.byteOffset or 0) + (acc.byteOffset or 0)
        return np.frombuffer(blob, dtype="<f4", count=acc.count * width, offset=offset).reshape(acc.count, width)

    out: dict[str, dict[str, tuple[list[str], np.ndarray, np.ndarray]]] = {}
    for anim in gltf.animations:
        nodes = {}
        for channel in anim.channels:
            assert channel.target.path in ("weights", "rotation")
            if channel.target.path == "rotation":  # the head node (read by read_glb_rotation)
                continue
            sampler = anim.samplers[channel.sampler]
            assert sampler.interpolation == "LINEAR"
            node = gltf.nodes[channel.target.node]
            names = list(gltf.meshes[node.mesh].extras["targetNames"])
            times = accessor(sampler.input)[:, 0]
            weights = accessor(sampler.output).reshape(len(times), len(names))
            nodes[node.name] = (names, times, weights)
        out[anim.name] = nodes
    return out


def read_csv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    assert header[0] == "time"
    return header[1:], table[:, 0], table[:, 1:]


def visible_files(folder: Path) -> dict[str, bytes]:
    """Every output a game would import: files outside .mien-bake, except the run's report."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not rel.startswith(".mien-bake/") and rel != REPORT_FILE:
            out[rel] = path.read_bytes()
    return out


def manifest_folder(tmp_path: Path, clips: Sequence[str] = SHORT_CLIPS) -> Path:
    """A manifest folder holding copies of some speech fixtures (audio/<name>.wav + .txt)."""
    folder = tmp_path / "project"
    (folder / "audio").mkdir(parents=True)
    for name in clips:
        for ext in (".wav", ".txt"):
            shutil.copy(SPEECH / f"{name}{ext}", folder / "audio" / f"{name}{ext}")
    return folder


def write_manifest(folder: Path, text: str, name: str = "lines.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_bake(manifest: Path, out: Path, animator: Animator, **options: Any) -> Any:
    options.setdefault("jobs", 1)
    options.setdefault("progress", "none")
    return bake(manifest, out, BakeOptions(**options), animator=animator)


# ---------------------------------------------------------------------------------------------
# The sample manifest (README): outputs, validation, round trip, matching by name, determinism
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory: pytest.TempPathFactory, animator: Animator) -> Path:
    out = tmp_path_factory.mktemp("sample") / "out"
    result = run_bake(SAMPLE, out, animator)
    assert result.exit_code == EXIT_OK, result.summary
    return out


def test_sample_manifest_is_valid() -> None:
    manifest = load_manifest(SAMPLE)
    assert manifest.problems == ()
    assert [line.id for line in manifest.lines] == list(manifest.declared_line_ids)
    assert set(manifest.characters) == {"dealer", "guard", "narrator"}
    dealer = manifest.characters["dealer"]
    # the sample mesh has every ARKit target but no eye- or head-rotation channels (the head is a node rotation)
    assert dealer.unmatched_channels == ("eyeYawLeft_deg", "eyePitchLeft_deg", "eyeYawRight_deg", "eyePitchRight_deg",
                                         "headYaw_deg", "headPitch_deg", "headRoll_deg")
    assert all(line.audio.is_relative_to(SPEECH) for line in manifest.lines)


def test_sample_face_mesh_is_what_its_script_writes() -> None:
    names = sample_face.target_names()
    assert sorted(names[:-1]) == sorted(ARKIT52) and names[:-1] != list(ARKIT52)  # shuffled
    assert (SPEECH / "bake_sample_face.glb").read_bytes() == sample_face.build(names)


def test_sample_bake_writes_valid_files_for_every_line(sample_out: Path) -> None:
    manifest = load_manifest(SAMPLE)
    for line in manifest.lines:
        for fmt in ("glb", "csv", "json", "livelinkface.csv"):
            assert (sample_out / f"{line.id}.{fmt}").is_file(), f"{line.id}.{fmt}"
    characters = sorted((sample_out / "characters").glob("*.glb"))
    assert [p.stem for p in characters] == ["dealer", "guard", "narrator"]
    assert assert_valid_glbs(sample_out) == len(manifest.lines) + len(characters)
    # the command itself on one file of each kind: face mesh, generated mesh (two rigs), per character
    assert_cli_validates([sample_out / "dealer_002.glb", sample_out / "guard_001.glb",
                          sample_out / "narrator_002.glb", sample_out / "characters" / "dealer.glb"])
    report = json.loads((sample_out / REPORT_FILE).read_text())
    assert report["exit_code"] == 0 and report["counts"]["done"] == len(manifest.lines)
    assert not list((sample_out / ".mien-bake" / "tmp").iterdir())


def test_glb_round_trip_matches_csv_json_and_source_curves(sample_out: Path) -> None:
    for line in load_manifest(SAMPLE).lines:
        names, times_csv, values_csv = read_csv(sample_out / f"{line.id}.csv")
        exact = np.load(sample_out / ".mien-bake" / "clips" / f"{line.id}.npy")
        assert exact.shape == values_csv.shape
        assert np.max(np.abs(exact - values_csv)) <= 1e-6
        (nodes,) = read_animations(sample_out / f"{line.id}.glb").values()
        for targets, times, weights in nodes.values():
            assert np.max(np.abs(times - times_csv)) <= 1e-6
            for k, target in enumerate(targets):
                if target in names:
                    column = names.index(target)
                    assert np.max(np.abs(weights[:, k] - exact[:, column])) <= 1e-6, (line.id, target)
                    assert np.max(np.abs(weights[:, k] - values_csv[:, column])) <= 1e-6, (line.id, target)
                else:
                    assert not weights[:, k].any(), f"{line.id}: target {target} has no channel but moves"
        doc = json.loads((sample_out / f"{line.id}.json").read_text())
        assert doc["channel_names"] == names
        assert np.max(np.abs(np.array(doc["values"]) - exact)) <= 1e-6
        assert doc["bake"]["line_id"] == line.id and doc["bake"]["character"] == line.character


def test_glb_head_rotation_and_live_link_face_csv_read_back_equal_to_the_track(sample_out: Path) -> None:
    """Round trip of issue 16: every baked line's head rotation (glTF node rotation) and Live Link Face take
    read back equal to the track (<= 1e-6)."""
    for line in load_manifest(SAMPLE).lines:
        names, times_csv, values_csv = read_csv(sample_out / f"{line.id}.csv")
        angles = head_angles_deg(names, values_csv)
        assert angles is not None and np.abs(angles).max() > 0.1, line.id
        node, times, quaternions = read_glb_rotation(sample_out / f"{line.id}.glb")
        assert node == "head" and np.max(np.abs(times - times_csv)) <= 1e-6
        assert np.max(np.abs(quaternions - head_quaternions(angles))) <= 1e-6, line.id
        take = (sample_out / f"{line.id}.livelinkface.csv").read_text()
        assert take.splitlines()[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft,")
        llf_times, columns = livelinkface.read_csv(take, 60.0)
        assert np.max(np.abs(llf_times - times_csv)) <= 1e-6
        if line.character == "dealer":  # arkit52: the track's own channels
            for name in ("jawOpen", "mouthClose", "eyeBlinkLeft", "mouthLeft", "jawRight"):
                assert np.max(np.abs(columns[name[0].upper() + name[1:]] - values_csv[:, names.index(name)])) <= 1e-6
            assert np.max(np.abs(columns["HeadPitch"] * 180.0 - angles[:, 1])) <= 1e-6
            assert np.max(np.abs(columns["LeftEyeYaw"] * 180.0 - values_csv[:, names.index("eyeYawLeft_deg")])) <= 1e-6


def test_face_mesh_targets_are_driven_by_name_whatever_their_order(sample_out: Path) -> None:
    mesh_names = sample_face.target_names()
    names, _, values = read_csv(sample_out / "dealer_001.csv")
    (nodes,) = read_animations(sample_out / "dealer_001.glb").values()
    assert set(nodes) == {"head"}  # the hat has no morph targets: not animated
    targets, _, weights = nodes["head"]
    assert targets == mesh_names  # the file's own (shuffled) order is kept
    moving = 0
    for k, target in enumerate(targets):
        if target == sample_face.EXTRA_TARGET:
            assert not weights[:, k].any()
            continue
        column = values[:, names.index(target)]
        assert np.max(np.abs(weights[:, k] - column)) <= 1e-6, target
        moving += int(column.any())
    assert moving >= 10  # a speaking face moves many targets, so a name mix-up would show


def test_minimal_mesh_carries_the_rig_channels_as_named_targets(sample_out: Path) -> None:
    for line_id, rig in (("guard_001", "metahuman"), ("narrator_001", "vrm")):
        (nodes,) = read_animations(sample_out / f"{line_id}.glb").values()
        ((targets, _, _),) = nodes.values()
        assert targets == list(load_rig(rig).channel_names)


def test_per_character_glb_holds_every_line_as_a_named_animation(sample_out: Path) -> None:
    manifest = load_manifest(SAMPLE)
    for cid in manifest.characters:
        animations = read_animations(sample_out / "characters" / f"{cid}.glb")
        expected = [line.id for line in manifest.lines if line.character == cid]
        assert list(animations) == expected
        for line_id in expected:
            (single,) = read_animations(sample_out / f"{line_id}.glb").values()
            for node, (targets, times, weights) in animations[line_id].items():
                assert single[node][0] == targets
                assert np.array_equal(single[node][1], times) and np.array_equal(single[node][2], weights)


def test_same_manifest_gives_byte_identical_files_and_a_warm_rerun_skips_everything(
        sample_out: Path, tmp_path: Path, animator: Animator) -> None:
    again = tmp_path / "again"
    result = run_bake(SAMPLE, again, animator)
    assert result.exit_code == EXIT_OK
    first, second = visible_files(sample_out), visible_files(again)
    assert list(first) == list(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two bakes of the same manifest"
    warm = run_bake(SAMPLE, again, animator)
    assert warm.exit_code == EXIT_OK
    assert {o.status for o in warm.lines.values()} == {"skipped"}
    assert {c["status"] for c in warm.report["characters"]} == {"skipped"}
    assert visible_files(again) == second


def test_auto_emotions_in_the_sample_come_from_the_replayed_npc_state(sample_out: Path) -> None:
    manifest = load_manifest(SAMPLE)
    engine = EmotionStateEngine(EmotionStateConfig(db_path=":memory:"))
    engine.set_persona("guard", preset="hotheaded_mercenary")
    for line in (x for x in manifest.lines if x.character == "guard"):
        if line.heard:
            engine.observe("guard", "other", line.heard, game_time_s=line.game_time_s)
        expected = engine.observe("guard", "self", line.transcript or "", game_time_s=line.game_time_s).response
        doc = json.loads((sample_out / f"{line.id}.json").read_text())
        assert doc["bake"]["emotion"] == "auto"
        assert doc["bake"]["emotion_resolved"] == dict(sorted(expected.weights.items())), line.id
    engine.close()


# ---------------------------------------------------------------------------------------------
# Incremental bakes
# ---------------------------------------------------------------------------------------------


LINES_YAML = """\
version: 1
defaults: {{fps: 30, per_character_glb: true}}
characters:
  hero: {{rig: arkit52}}
lines:
  - {{id: a, character: hero, audio: audio/cards_001.wav, transcript_file: audio/cards_001.txt, emotion: {a}}}
  - {{id: b, character: hero, audio: audio/cards_003.wav, transcript_file: audio/cards_003.txt, emotion: happy}}
"""


def test_only_changed_lines_are_rebaked(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path)
    manifest = write_manifest(folder, LINES_YAML.format(a="angry:0.5"))
    out = tmp_path / "out"
    assert run_bake(manifest, out, animator).exit_code == EXIT_OK
    assert_valid_glbs(out)
    before = visible_files(out)
    write_manifest(folder, LINES_YAML.format(a="sad:0.5"))
    result = run_bake(manifest, out, animator)
    assert {k: o.status for k, o in result.lines.items()} == {"a": "done", "b": "skipped"}
    assert result.report["characters"][0]["status"] == "done"
    assert_valid_glbs(out)
    after = visible_files(out)
    assert after["b.csv"] == before["b.csv"] and after["a.csv"] != before["a.csv"]
    assert after["characters/hero.glb"] != before["characters/hero.glb"]
    # a deleted output is noticed and rebuilt; --force rebakes everything
    (out / "b.json").unlink()
    result = run_bake(manifest, out, animator)
    assert {k: o.status for k, o in result.lines.items()} == {"a": "skipped", "b": "done"}
    assert visible_files(out) == after
    forced = run_bake(manifest, out, animator, force=True)
    assert {o.status for o in forced.lines.values()} == {"done"}
    assert visible_files(out) == after


# ---------------------------------------------------------------------------------------------
# Rigs: a user profile, and a face mesh matched to its names
# ---------------------------------------------------------------------------------------------


CUSTOM_RIG = """\
format: 1
name: hero_face
version: "2.0.0"
description: Test profile with its own names.
channels:
  - {name: Mouth_Open, terms: {jawOpen: 1.0, mouthClose: -1.0}}
  - {name: Blink_L, from: eyeBlinkLeft}
  - {name: Blink_R, from: eyeBlinkRight}
  - {name: Smile, terms: {mouthSmileLeft: 0.5, mouthSmileRight: 0.5}}
  - {name: Eye_Yaw_L, from: eyeYawLeft_deg, gain: 0.02857, clamp: [-1, 1]}
"""


def test_user_rig_profile_and_a_mesh_with_its_names(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    (folder / "rigs").mkdir()
    (folder / "rigs" / "hero.yaml").write_text(CUSTOM_RIG)
    mesh_names = ["Smile", "Blink_R", "Unused_Target", "Mouth_Open", "Blink_L"]
    (folder / "hero.glb").write_bytes(sample_face.build(mesh_names))
    manifest = write_manifest(folder, """\
version: 1
characters:
  hero: {rig: rigs/hero.yaml, face_mesh: hero.glb}
lines:
  - {id: hero_1, character: hero, audio: audio/cards_001.wav, transcript_file: audio/cards_001.txt, emotion: happy}
""")
    out = tmp_path / "out"
    result = run_bake(manifest, out, animator)
    assert result.exit_code == EXIT_OK, result.summary
    names, _, values = read_csv(out / "hero_1.csv")
    assert names == ["Mouth_Open", "Blink_L", "Blink_R", "Smile", "Eye_Yaw_L"]
    assert values[:, 0].max() > 0.05 and values[:, 3].max() > 0.05  # speaks, smiles
    doc = json.loads((out / "hero_1.json").read_text())
    assert doc["info"]["rig"] == "hero_face" and doc["info"]["versions"]["rig"] == "hero_face@2.0.0"
    (nodes,) = read_animations(out / "hero_1.glb").values()
    targets, _, weights = nodes["head"]
    assert targets == mesh_names
    for k, target in enumerate(targets):
        expected = values[:, names.index(target)] if target in names else np.zeros(len(values))
        assert np.max(np.abs(weights[:, k] - expected)) <= 1e-6, target
    assert_valid_glbs(out)
    assert_cli_validates([out / "hero_1.glb"])


# ---------------------------------------------------------------------------------------------
# Bad manifests: every problem named with file, line, key and fix; the other lines still bake
# ---------------------------------------------------------------------------------------------


GOOD_LINE = "  - {id: ok, character: hero, audio: audio/cards_001.wav, transcript_file: audio/cards_001.txt}\n"
HEADER = "version: 1\ncharacters:\n  hero: {rig: arkit52}\nlines:\n"

BAD_LINES = [
    # (the bad line, expected key, a fragment of the message)
    ("  - {id: x, character: hero, audio: audio/cards_001.wav, transcipt: hi}\n", "lines[1].transcipt",
     "did you mean 'transcript'"),
    ("  - {id: x, character: hero}\n", "lines[1].audio", "has no audio"),
    ("  - {id: x, character: villain, audio: audio/cards_001.wav}\n", "lines[1].character", "unknown character"),
    ("  - {id: x, character: hero, audio: audio/cards_001.wav, emotion: angy}\n", "lines[1].emotion",
     "unknown emotion 'angy'"),
    ("  - {id: x, character: hero, audio: audio/card_001.wav}\n", "lines[1].audio",
     "did you mean 'audio/cards_001.wav'"),
    ("  - {id: x, character: hero, audio: ../outside.wav}\n", "lines[1].audio", "leaves the manifest's folder"),
    ("  - {id: x, character: hero, audio: /etc/passwd}\n", "lines[1].audio", "absolute path"),
    ("  - {id: x, character: hero, audio: audio/cards_001.wav, emotion: auto}\n", "lines[1].emotion",
     "needs a personality"),
    ("  - {id: ok, character: hero, audio: audio/cards_001.wav}\n", "lines[1].id", "already used"),
    ("  - {id: 'bad/id', character: hero, audio: audio/cards_001.wav}\n", "lines[1].id", "not a safe file name"),
    ("  - {id: x, character: hero, audio: audio/cards_001.wav, mode: aligned}\n", "lines[1].mode",
     "needs a transcript"),
    ("  - {id: x, character: hero, audio: audio/cards_001.wav, emotion: '2:happy;1:sad'}\n", "lines[1].emotion",
     "increasing"),
]


@pytest.mark.parametrize(("bad", "key", "fragment"), BAD_LINES)
def test_a_bad_line_is_reported_with_file_line_key_and_fix(tmp_path: Path, bad: str, key: str,
                                                           fragment: str) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    last = "  - {id: z, character: hero, audio: audio/cards_001.wav}\n"
    path = write_manifest(folder, HEADER + GOOD_LINE + bad + last)
    manifest = load_manifest(path)
    assert not manifest.fatal
    (problem,) = manifest.problems
    text = str(problem)
    assert problem.key == key and fragment in problem.message, text
    assert text.startswith(f"{path}:6: {key}: ") and "Fix: " in text, text  # the bad line is line 6
    assert [line.id for line in manifest.lines] == ["ok", "z"]  # the other lines still bake


BAD_CHARACTERS = [
    ("{rig: arkit25}", "characters.hero.rig", "Did you mean 'arkit52'"),
    ("{rig: rigs/missing.yaml}", "characters.hero.rig", "does not exist"),
    ("{rig: arkit52, persona: grumpy}", "characters.hero.persona", "unknown persona"),
    ("{rig: arkit52, ocean: [0.5, 0.5]}", "characters.hero.ocean", "exactly 5"),
    ("{rig: arkit52, colour: red}", "characters.hero.colour", "unknown key"),
    ("{rig: metahuman, face_mesh: face.glb}", "characters.hero.face_mesh", "none of the face mesh's"),
]


@pytest.mark.parametrize(("body", "key", "fragment"), BAD_CHARACTERS)
def test_a_bad_character_stops_only_its_lines(tmp_path: Path, body: str, key: str, fragment: str) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    (folder / "face.glb").write_bytes(sample_face.build(sample_face.target_names()))  # ARKit names only
    path = write_manifest(folder, f"""\
version: 1
characters:
  hero: {body}
  other: {{rig: vrm}}
lines:
  - {{id: h, character: hero, audio: audio/cards_001.wav}}
  - {{id: o, character: other, audio: audio/cards_001.wav}}
""")
    manifest = load_manifest(path)
    assert not manifest.fatal
    first = manifest.problems[0]
    assert first.key == key and fragment in first.message, str(first)
    assert str(first).startswith(f"{path}:3: {key}: ") and "Fix: " in str(first)
    assert [line.id for line in manifest.lines] == ["o"] and manifest.failed_line_ids == ("h",)
    assert any(p.key == "lines[0].character" and "has errors" in p.message for p in manifest.problems)


FATAL = [
    ("version: 1\ncharacters: {hero: {rig: arkit52}\nlines: []\n", "yaml", 3),
    ("characters: {}\nlines: []\n", "version", 1),
    ("version: 2\ncharacters: {}\nlines: []\n", "version", 1),
    ("version: 1\ncharacters: {}\nlines: []\nlinez: []\n", "linez", 4),
    ("version: 1\ndefaults: {fps: 0}\ncharacters: {}\nlines: []\n", "defaults.fps", 2),
    ("version: 1\ndefaults: {formats: [glb, fbx]}\ncharacters: {}\nlines: []\n", "defaults.formats", 2),
    ("version: 1\ncharacters: {}\n", "lines", 1),
    ("version: 1\ncharacters: {}\ncharacters: {}\nlines: []\n", "yaml", 3),
]


@pytest.mark.parametrize(("text", "key", "line"), FATAL)
def test_an_unusable_manifest_bakes_nothing_and_exits_2(tmp_path: Path, text: str, key: str, line: int) -> None:
    path = write_manifest(tmp_path, text)
    result = bake(path, tmp_path / "out", BakeOptions(progress="none"))
    assert result.exit_code == EXIT_UNUSABLE
    problems = load_manifest(path).problems
    assert any(p.key == key and p.line == line and p.fatal for p in problems), [str(p) for p in problems]
    assert str(path) in result.summary and "Fix: " in result.summary
    assert not (tmp_path / "out").exists()


def test_invalid_lines_fail_the_bake_but_the_others_are_written(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    (folder / "audio" / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really audio")
    manifest = write_manifest(folder, HEADER + GOOD_LINE + """\
  - {id: typo, character: hero, audio: audio/cards_001.wav, emotion: hapy}
  - {id: broken, character: hero, audio: audio/broken.wav}
  - {id: last, character: hero, audio: audio/cards_001.wav, emotion: sad}
""")
    out = tmp_path / "out"
    result = run_bake(manifest, out, animator)
    assert result.exit_code == EXIT_FAILED
    status = {k: o.status for k, o in result.lines.items()}
    assert status == {"ok": "done", "typo": "failed", "broken": "failed", "last": "done"}
    assert "lines[1].emotion" in result.lines["typo"].error and "Fix: " in result.lines["typo"].error
    assert "audio" in result.lines["broken"].error.lower()
    assert (out / "ok.glb").is_file() and (out / "last.glb").is_file() and not (out / "broken.glb").exists()
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["counts"]["failed"] == 2 and len(report["problems"]) == 1
    assert "broken" in result.summary and "typo" in result.summary
    assert_valid_glbs(out)
    # --fail-fast: a manifest problem stops the bake before anything is baked ...
    stopped = run_bake(manifest, tmp_path / "fast", animator, fail_fast=True)
    assert stopped.exit_code == EXIT_FAILED
    assert {k: o.status for k, o in stopped.lines.items()} == {
        "ok": "cancelled", "typo": "failed", "broken": "cancelled", "last": "cancelled"}
    # ... and a line that fails to bake stops the rest
    fixed = write_manifest(folder, manifest.read_text().replace("emotion: hapy", "emotion: happy"), "fixed.yaml")
    stopped = run_bake(fixed, tmp_path / "fast2", animator, fail_fast=True)
    assert {k: o.status for k, o in stopped.lines.items()} == {
        "ok": "done", "typo": "done", "broken": "failed", "last": "cancelled"}
    assert_valid_glbs(tmp_path / "fast2")


# ---------------------------------------------------------------------------------------------
# auto emotions: a deterministic replay of each character's lines, cached
# ---------------------------------------------------------------------------------------------


AUTO_YAML = """\
version: 1
characters:
  smith: {{persona: grumpy_blacksmith}}
  quiet: {{ocean: [0.2, 0.9, 0.2, 0.8, 0.1]}}
lines:
  - {{id: s1, character: smith, audio: audio/cards_001.wav, transcript: "What do you want?", game_time_s: 0}}
  - {{id: q1, character: quiet, audio: audio/cards_001.wav, heard: "Hello there!"}}
  - {{id: s2, character: smith, audio: audio/cards_001.wav, heard: "{insult}", game_time_s: 5}}
  - {{id: s3, character: smith, audio: audio/cards_001.wav, emotion: happy:0.9, transcript: "Ha!", game_time_s: 6}}
  - {{id: s4, character: smith, audio: audio/cards_001.wav, emotion: auto, transcript: "Now go.", game_time_s: 60}}
"""


def _expected_smith(insult: str) -> dict[str, Emotion]:
    engine = EmotionStateEngine(EmotionStateConfig(db_path=":memory:"))
    engine.set_persona("smith", preset="grumpy_blacksmith")
    out = {"s1": engine.observe("smith", "self", "What do you want?", game_time_s=0).response}
    engine.observe("smith", "other", insult, game_time_s=5)
    out["s2"] = engine.observe("smith", "self", "", game_time_s=5).response
    engine.observe("smith", "self", "Ha!", emotion=Emotion.of("happy", 0.9), game_time_s=6)  # a writer's tag
    out["s4"] = engine.observe("smith", "self", "Now go.", game_time_s=60).response
    engine.close()
    return out


def test_auto_emotions_replay_each_characters_lines_in_order_and_are_cached(tmp_path: Path) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    insult = "Your swords are rubbish and you are a thief!"
    manifest = load_manifest(write_manifest(folder, AUTO_YAML.format(insult=insult)))
    assert manifest.problems == ()
    cache: dict[str, Any] = {}
    made: list[EmotionStateEngine] = []

    def factory() -> EmotionStateEngine:
        made.append(EmotionStateEngine(EmotionStateConfig(db_path=":memory:")))
        return made[-1]

    first = resolve_emotions(manifest, cache, factory)
    assert first.engine_loaded and len(made) == 1 and not first.failures
    expected = _expected_smith(insult)
    for line_id, emotion in expected.items():
        assert first.by_line[line_id] == emotion, line_id
    assert first.by_line["s3"] == Emotion.of("happy", 0.9)
    assert isinstance(first.by_line["q1"], Emotion)
    # same manifest, same emotions, and the engine is not even loaded when the replay is cached
    again = resolve_emotions(load_manifest(manifest.path), dict(cache), lambda: pytest.fail("engine loaded"))
    assert again.by_line == first.by_line and not again.engine_loaded
    fresh = resolve_emotions(load_manifest(manifest.path), {}, factory)
    assert fresh.by_line == first.by_line
    # changing an earlier line replays that character again (and only that one)
    gentle = "Thank you, these are fine swords."
    changed = load_manifest(write_manifest(folder, AUTO_YAML.format(insult=gentle)))
    replay = resolve_emotions(changed, cache, factory)
    assert replay.engine_loaded
    for line_id, emotion in _expected_smith(gentle).items():
        assert replay.by_line[line_id] == emotion
    assert replay.by_line["q1"] == first.by_line["q1"]


def _broken_engine() -> EmotionStateEngine:
    raise ValueError("transition_head.npz: not a transition head")


def test_without_an_emotion_engine_only_the_auto_lines_fail(tmp_path: Path) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    manifest = load_manifest(write_manifest(folder, AUTO_YAML.format(insult="Hello")))
    resolved = resolve_emotions(manifest, {}, _broken_engine)
    assert sorted(resolved.failures) == ["q1", "s1", "s2", "s4"]
    assert "cannot start" in resolved.failures["s1"] and "transition_head" in resolved.failures["s1"]
    assert resolved.by_line == {"s3": Emotion.of("happy", 0.9)}


# ---------------------------------------------------------------------------------------------
# The command: parallel workers, JSON progress, SIGKILL midway and resume
# ---------------------------------------------------------------------------------------------


KILL_EMOTIONS = ("neutral", "happy:0.7", "sad:0.6", "angry:0.8", "surprise", "fear:0.5", "disgust:0.4", "0:happy;1:sad")


def _kill_manifest(folder: Path, n_lines: int) -> Path:
    rows = ["version: 1", "defaults: {per_character_glb: true}", "characters:", "  npc: {rig: arkit52}", "lines:"]
    for i in range(n_lines):
        clip = SHORT_CLIPS[i % len(SHORT_CLIPS)]
        rows.append(f"  - {{id: line_{i:03d}, character: npc, audio: audio/{clip}.wav, "
                    f"transcript_file: audio/{clip}.txt, emotion: '{KILL_EMOTIONS[i % len(KILL_EMOTIONS)]}'}}")
    return write_manifest(folder, "\n".join(rows) + "\n")


def _bake_command(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mien_bake.cli", str(manifest), "-o", str(out), *extra]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.is_file() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _cached_lines(out: Path) -> set[str]:
    """Lines the bake has recorded as finished (read as the bake itself would on a rerun)."""
    cache = BakeCache(out)
    cache.load()
    assert not cache.warning, cache.warning
    return set(cache.lines)


@pytest.fixture
def kill_setup(tmp_path: Path, animator: Animator) -> Iterator[tuple[Path, Path, int]]:
    folder = manifest_folder(tmp_path)
    n_lines = 24
    manifest = _kill_manifest(folder, n_lines)
    clean = tmp_path / "clean"
    result = run_bake(manifest, clean, animator)  # in this process, one job: the reference
    assert result.exit_code == EXIT_OK, result.summary
    assert assert_valid_glbs(clean) == n_lines + 1
    yield manifest, clean, n_lines


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to watch the worker processes")
def test_sigkill_midway_leaves_no_partial_output_and_the_rerun_resumes(
        tmp_path: Path, kill_setup: tuple[Path, Path, int]) -> None:
    manifest, clean, n_lines = kill_setup
    reference = visible_files(clean)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_bake_command(manifest, out, "--jobs", "2", "--progress", "json"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(_cached_lines(out)) < 3:
            assert proc.poll() is None, "the bake ended before it could be killed"
            assert time.monotonic() < deadline, "no line finished within 120 s"
            workers.update(_children(proc.pid))
            time.sleep(0.01)
        workers.update(_children(proc.pid))
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = _cached_lines(out)
    assert 3 <= len(finished) < n_lines, "the kill did not land midway"
    assert len(workers) == 2, workers
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers):
        assert time.monotonic() < deadline, "worker processes outlived the killed bake"
        time.sleep(0.05)

    # Only complete files are visible: each is byte-identical to the uninterrupted bake's.
    partial = visible_files(out)
    assert partial, "no output was written before the kill"
    for name, data in partial.items():
        assert name in reference, f"unexpected file {name}"
        assert data == reference[name], f"{name} is partial or differs"
    for line_id in finished:
        for fmt in ("glb", "csv", "json"):
            assert f"{line_id}.{fmt}" in partial

    rerun = subprocess.run(_bake_command(manifest, out, "--jobs", "2", "--progress", "json"), capture_output=True,
                           text=True, timeout=300, env=env, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    events = [json.loads(row) for row in rerun.stderr.splitlines() if row.strip()]  # every row is JSON
    assert events[0]["event"] == "start" and events[0]["total"] == n_lines
    assert events[0]["to_bake"] == n_lines - len({e["id"] for e in events
                                                    if e["event"] == "line" and e["status"] == "skipped"})
    lines = [e for e in events if e["event"] == "line"]
    assert [e["done"] for e in lines] == list(range(1, n_lines + 1))
    assert {e["status"] for e in lines} <= {"done", "skipped"}
    skipped = {e["id"] for e in lines if e["status"] == "skipped"}
    assert finished <= skipped, "lines finished before the kill were baked again"
    assert next(e for e in events if e["event"] == "character")["status"] == "done"
    summary = events[-1]
    assert summary["event"] == "summary" and summary["exit_code"] == 0 and summary["counts"]["failed"] == 0
    assert visible_files(out) == reference
    assert not list((out / ".mien-bake" / "tmp").iterdir())
    assert "0 failed" in rerun.stdout


_STUCK_WORKERS = """
import sys, time
import mien_bake.runner as runner
# Workers as stuck as a native call holding the GIL can make them: no watchdog, a line that never ends.
runner._watch_parent = lambda parent_pid: None
runner._Worker.bake = lambda self, job: time.sleep(300)
from mien_bake.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to watch the worker processes")
def test_the_lock_dies_with_the_bake_even_when_its_workers_are_stuck(tmp_path: Path) -> None:
    """SIGKILL of the bake: the output folder is free that instant (the workers never held its lock), and the
    workers die with it (PR_SET_PDEATHSIG) even when they could not run their watchdog."""
    folder = manifest_folder(tmp_path, ("cards_001",))
    manifest = _kill_manifest(folder, 4)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _STUCK_WORKERS, str(manifest), "-o", str(out), "--jobs", "2",
                             "--progress", "none"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers := _children(proc.pid)) < 2:
            assert proc.poll() is None, "the bake ended before its workers started"
            assert time.monotonic() < deadline, "the workers did not start within 120 s"
            time.sleep(0.02)
        time.sleep(0.5)  # the workers are in their (endless) lines
        with pytest.raises(MienError, match="another mien bake is writing"), runner._locked(BakeCache(out)):
            pass  # while the bake runs, its folder is locked
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with runner._locked(BakeCache(out)):  # at once: no retry, no wait
            pass
        deadline = time.monotonic() + 2
        while alive := [w for w in workers if _alive(w)]:
            assert time.monotonic() < deadline, f"workers {alive} outlived the killed bake"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)


def test_dry_run_plans_without_writing(tmp_path: Path) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    manifest = write_manifest(folder, HEADER + GOOD_LINE)
    result = bake(manifest, tmp_path / "out", BakeOptions(dry_run=True, progress="none"))
    assert result.exit_code == EXIT_OK and result.report["would_bake"] == ["ok"]
    assert not (tmp_path / "out").exists()


def test_the_mien_front_end_dispatches_bake(tmp_path: Path) -> None:
    from mien import cli

    folder = manifest_folder(tmp_path, ("cards_001",))
    manifest = write_manifest(folder, HEADER + GOOD_LINE)
    code = cli.main(["bake", str(manifest), "-o", str(tmp_path / "out"), "--dry-run", "--progress", "none"])
    assert code == EXIT_OK


def test_random_line_order_does_not_change_a_lines_files(tmp_path: Path, animator: Animator) -> None:
    """A line's files depend on its own inputs only (not on its neighbours or the order)."""
    folder = manifest_folder(tmp_path, ("cards_001", "cards_003"))
    rows = [
        "  - {id: one, character: hero, audio: audio/cards_001.wav, transcript_file: audio/cards_001.txt}",
        "  - {id: two, character: hero, audio: audio/cards_003.wav, emotion: angry}",
    ]
    forward = write_manifest(folder, HEADER + "\n".join(rows) + "\n", "forward.yaml")
    random.Random(3).shuffle(rows)
    rows.reverse()
    backward = write_manifest(folder, HEADER + "\n".join(rows) + "\n", "backward.yaml")
    run_bake(forward, tmp_path / "f", animator)
    run_bake(backward, tmp_path / "b", animator)
    assert visible_files(tmp_path / "f") == visible_files(tmp_path / "b")
    assert_valid_glbs(tmp_path / "f")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fake worker is inherited through fork")
def test_a_crashing_worker_fails_only_the_line_it_was_baking(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies is replaced; the lines in flight are retried alone; only the culprit fails."""
    def fake_init(self: runner._Worker, setup: runner._Setup, animator: Animator | None = None) -> None:
        self.setup = setup

    def fake_bake(self: runner._Worker, job: runner._Job) -> runner._Baked:
        if job.line_id == "crash":
            os._exit(1)  # what a native crash looks like to the pool
        time.sleep(0.05)
        return runner._Baked(job.line_id, {}, None, "aligned", (), 1.0, 0.0)

    monkeypatch.setattr(runner._Worker, "__init__", fake_init)
    monkeypatch.setattr(runner._Worker, "bake", fake_bake)
    setup = runner._Setup(Config(), None, {}, {}, None, os.getpid())
    ids = ["a", "b", "crash", "c", "d", "e"]
    jobs = [runner._Job(i, "npc", "", "", None, Emotion.neutral(), 60.0, 0, "auto", AnimationOptions(), (), False,
                        {}) for i in ids]
    outcomes: dict[str, Any] = {}

    def handle(job: runner._Job, outcome: Any) -> bool:
        assert job.line_id not in outcomes
        outcomes[job.line_id] = outcome
        return True

    assert runner._Scheduler(setup, 2).run(jobs, handle) == []
    assert sorted(outcomes) == sorted(ids)
    assert isinstance(outcomes["crash"], runner._Failed) and "died" in outcomes["crash"].error
    assert all(isinstance(outcomes[i], runner._Baked) for i in ids if i != "crash")


# ---------------------------------------------------------------------------------------------
# Trust rules: ids vs the report, outputs vs inputs, links leaving the folder, odd and huge inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lid", ["bake_report", "BAKE_REPORT", "Bake_Report"])
def test_a_line_id_that_names_the_report_is_refused(tmp_path: Path, animator: Animator, lid: str) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    manifest = write_manifest(folder, HEADER + GOOD_LINE + f"  - {{id: {lid}, character: hero, "
                              "audio: audio/cards_001.wav}\n")
    parsed = load_manifest(manifest)
    (problem,) = parsed.problems
    assert problem.key == "lines[1].id" and "the bake's own report" in problem.message and problem.line == 6
    assert [line.id for line in parsed.lines] == ["ok"]
    result = run_bake(manifest, tmp_path / "out", animator)
    assert result.exit_code == EXIT_FAILED and result.lines[lid].status == "failed"
    json.loads((tmp_path / "out" / REPORT_FILE).read_text())  # the report is the report
    # without json among the formats the id writes no such file, and is fine
    other = write_manifest(folder, HEADER.replace("version: 1\n", "version: 1\ndefaults: {formats: [glb, csv]}\n")
                           + f"  - {{id: {lid}, character: hero, audio: audio/cards_001.wav}}\n", "other.yaml")
    assert not load_manifest(other).problems


def _linked_project(tmp_path: Path) -> Path:
    """A project whose audio/outside.wav is a symlink to a file outside it, and audio/shared/ a linked folder."""
    folder = manifest_folder(tmp_path, ("cards_001",))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SPEECH / "cards_003.wav", elsewhere / "secret.wav")
    (folder / "audio" / "outside.wav").symlink_to(elsewhere / "secret.wav")
    (folder / "audio" / "shared").symlink_to(elsewhere, target_is_directory=True)
    (folder / "audio" / "inside.wav").symlink_to("cards_001.wav")  # a link that stays inside is fine
    return write_manifest(folder, HEADER + GOOD_LINE
                          + "  - {id: outside, character: hero, audio: audio/outside.wav}\n"
                          + "  - {id: shared, character: hero, audio: audio/shared/secret.wav}\n"
                          + "  - {id: inside, character: hero, audio: audio/inside.wav}\n")


def test_symlinked_inputs_that_leave_the_folder_are_refused_unless_allowed(tmp_path: Path,
                                                                           animator: Animator) -> None:
    manifest = _linked_project(tmp_path)
    parsed = load_manifest(manifest)
    assert [line.id for line in parsed.lines] == ["ok", "inside"]
    assert {p.key for p in parsed.problems} == {"lines[1].audio", "lines[2].audio"}
    for problem in parsed.problems:
        assert "symbolic link" in problem.message and "outside the manifest's folder" in problem.message
        assert "--allow-outside-inputs" in problem.fix
    result = run_bake(manifest, tmp_path / "out", animator)
    assert result.exit_code == EXIT_FAILED and not (tmp_path / "out" / "outside.csv").exists()
    allowed = run_bake(manifest, tmp_path / "allowed", animator, allow_outside_inputs=True)
    assert allowed.exit_code == EXIT_OK, allowed.summary
    assert {o.status for o in allowed.lines.values()} == {"done"}


def test_the_cli_flag_allows_outside_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mien.cli import main

    manifest = _linked_project(tmp_path)
    assert main(["bake", str(manifest), "-o", str(tmp_path / "a"), "--jobs", "1", "--progress", "none"]) == 1
    assert main(["bake", str(manifest), "-o", str(tmp_path / "b"), "--jobs", "1", "--progress", "none",
                 "--allow-outside-inputs"]) == 0
    assert "--allow-outside-inputs" in capsys.readouterr().out


def test_outputs_that_would_land_on_inputs_are_refused_before_any_work(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    shutil.copy(SPEECH / "bake_sample_face.glb", folder / "guard.glb")
    (folder / "characters").mkdir()
    shutil.copy(SPEECH / "bake_sample_face.glb", folder / "characters" / "hero.glb")
    manifest = write_manifest(folder, "version: 1\ndefaults: {per_character_glb: true}\ncharacters:\n"
                              "  hero: {rig: arkit52, face_mesh: characters/hero.glb}\n"
                              "  guard: {rig: arkit52, face_mesh: guard.glb}\nlines:\n"
                              "  - {id: guard, character: hero, audio: audio/cards_001.wav}\n"
                              "  - {id: x, character: guard, audio: audio/cards_001.wav}\n")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    result = run_bake(manifest, folder, animator)  # into the manifest's own folder
    assert result.exit_code == EXIT_UNUSABLE, result.summary
    assert "guard.glb (line guard) would replace the input" in result.summary
    assert "hero.glb (character hero) would replace the input" in result.summary
    assert "nothing was baked" in result.summary and "Fix:" in result.summary
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not (folder / ".mien-bake").exists()
    dry = bake(manifest, folder, BakeOptions(dry_run=True, progress="none"), animator=animator)
    assert dry.exit_code == EXIT_UNUSABLE
    assert run_bake(manifest, tmp_path / "elsewhere", animator).exit_code == EXIT_OK


def test_inputs_inside_the_cache_folder_are_refused(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    (folder / ".mien-bake" / "tmp").mkdir(parents=True)
    shutil.copy(SPEECH / "cards_001.wav", folder / ".mien-bake" / "tmp" / "line.wav")
    manifest = write_manifest(folder, HEADER + "  - {id: a, character: hero, audio: .mien-bake/tmp/line.wav}\n")
    result = run_bake(manifest, folder, animator)
    assert result.exit_code == EXIT_UNUSABLE and "inside the bake's cache folder" in result.summary
    assert (folder / ".mien-bake" / "tmp" / "line.wav").is_file()  # the leftover-cleaning never ran


def test_prune_never_deletes_a_file_that_is_now_an_input(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    out = folder / "out"
    first = write_manifest(folder, HEADER + GOOD_LINE + "  - {id: old, character: hero, audio: audio/cards_001.wav}\n")
    assert run_bake(first, out, animator).exit_code == EXIT_OK
    shutil.copy(SPEECH / "bake_sample_face.glb", out / "old.glb")  # the user reuses the name for a mesh
    second = write_manifest(folder, "version: 1\ncharacters:\n  hero: {rig: arkit52, face_mesh: out/old.glb}\n"
                            "lines:\n" + GOOD_LINE, "second.yaml")
    result = run_bake(second, out, animator, prune=True)
    assert result.exit_code == EXIT_OK, result.summary
    assert (out / "old.glb").read_bytes() == (SPEECH / "bake_sample_face.glb").read_bytes()
    assert not (out / "old.csv").exists() and "--prune kept old.glb" in result.summary


def test_inputs_that_are_not_regular_files_are_refused_without_blocking(tmp_path: Path) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    os.mkfifo(folder / "audio" / "pipe.wav")
    (folder / "audio" / "dir.wav").mkdir()
    (folder / "audio" / "device.wav").symlink_to("/dev/zero")
    (folder / "audio" / "loop.wav").symlink_to("loop.wav")
    manifest = write_manifest(folder, HEADER + GOOD_LINE + "".join(
        f"  - {{id: {name}, character: hero, audio: audio/{name}.wav}}\n" for name in ("pipe", "dir", "device", "loop"))
        + "  - {id: t, character: hero, audio: audio/cards_001.wav, transcript_file: audio/pipe.wav}\n")
    parsed = load_manifest(manifest, allow_outside_inputs=True)
    messages = {p.key: p.message for p in parsed.problems}
    assert "a named pipe" in messages["lines[1].audio"] and "a folder" in messages["lines[2].audio"]
    assert "a character device" in messages["lines[3].audio"]
    assert "cannot be opened" in messages["lines[4].audio"] and "a named pipe" in messages["lines[5].transcript_file"]
    assert [line.id for line in parsed.lines] == ["ok"]
    assert not load_manifest(folder / "audio" / "pipe.wav").lines  # a manifest that is a pipe: refused unread


def test_inputs_are_bounded_by_the_request_limit(tmp_path: Path, animator: Animator) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    (folder / "audio" / "long.txt").write_text("word " * 2000)
    manifest = write_manifest(folder, HEADER + GOOD_LINE
                              + "  - {id: long, character: hero, audio: audio/cards_001.wav, "
                              "transcript_file: audio/long.txt}\n")
    problem = next(p for p in load_manifest(manifest).problems if p.key == "lines[1].transcript_file")
    assert "the maximum is 5000" in problem.message and "limits.max_text_chars" in problem.message
    small = Config(limits=dataclasses.replace(Config().limits, max_message_bytes=4096))
    result = bake(manifest, tmp_path / "out", BakeOptions(jobs=1, progress="none"), config=small,
                  animator=Animator(small))
    assert result.lines["ok"].status == "failed" and "larger than 4096 bytes" in result.lines["ok"].error


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc")
def test_a_huge_manifest_sharing_one_audio_file_validates_in_bounded_time_and_memory(tmp_path: Path) -> None:
    folder = manifest_folder(tmp_path, ("cards_001",))
    n = 5000
    rows = [f"  - {{id: l{i:05d}, character: hero, audio: audio/cards_001.wav, transcript: hello}}"
            for i in range(n)]
    manifest = write_manifest(folder, HEADER + "\n".join(rows) + "\n")
    # the peak RSS of the process itself (VmHWM; ru_maxrss would count the forked pytest)
    script = ("import re, sys, time\nfrom mien_bake import BakeOptions, bake\nstarted = time.monotonic()\n"
              "r = bake(sys.argv[1], sys.argv[2], BakeOptions(dry_run=True, progress='none'))\n"
              "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]\n"
              "print(len(r.report['would_bake']), round(time.monotonic() - started, 1), int(peak) // 1024)\n")
    done = subprocess.run([sys.executable, "-c", script, str(manifest), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    planned, seconds, rss_mb = done.stdout.split()
    print(f"{n} lines: planned in {seconds} s, peak RSS {rss_mb} MB")
    assert int(planned) == n and int(rss_mb) < 150  # no line holds its audio: 5000 x 35 kB would be 175 MB


def test_the_worker_refuses_audio_that_changed_since_planning(tmp_path: Path, animator: Animator) -> None:
    audio = tmp_path / "a.wav"
    shutil.copy(SPEECH / "cards_001.wav", audio)
    setup = runner._Setup(Config(), None, {"npc": runner._RigSpec(True, "arkit52")}, {}, None, os.getpid())
    job = runner._Job("a", "npc", str(audio), hashlib.sha256(b"other bytes").hexdigest(), None, Emotion.neutral(),
                      60.0, 0, "auto", AnimationOptions(), ("csv",), False, {"audio": "a.wav"})
    outcome = runner._Worker(setup, animator).bake(job)
    assert isinstance(outcome, runner._Failed) and "changed while the bake was running" in outcome.error
