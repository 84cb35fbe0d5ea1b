"""The .glb writer: round trip, matching by target name, errors, determinism, layout, validation.

Every .glb a test writes goes through ``gltf-transform validate`` (via scripts/validate_gltf.py,
strict: 0 errors and 0 warnings) when the CLI is installed. Without it those checks are skipped
and ``test_gltf_validator_is_installed`` says so; ``MIEN_REQUIRE_GLTF_VALIDATOR=1`` (CI) makes a
missing CLI a failure. The test face mesh is built here with pygltflib, independently of the
writer under test.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pygltflib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mien.channels import CHANNELS, INDEX
from mien.errors import InvalidArgument
from mien.rig import load_rig
from mien.track import Track
from mien_bake.gltf import Clip, build_glb, head_quaternions, read_glb, read_glb_animation, read_glb_rotation, write_glb

ROOT = Path(__file__).resolve().parents[1]
VALIDATE_SCRIPT = ROOT / "scripts" / "validate_gltf.py"
sys.path.insert(0, str(VALIDATE_SCRIPT.parent))
import validate_gltf  # noqa: E402  (scripts/ is not a package)

REQUIRE_VALIDATOR = os.environ.get("MIEN_REQUIRE_GLTF_VALIDATOR", "") == "1"
ARKIT_SUBSET = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "eyeBlinkLeft", "eyeBlinkRight",
                "mouthSmileLeft", "mouthSmileRight", "browInnerUp", "tongueOut")


def assert_validates(*paths: Path) -> None:
    """Strict Khronos validation of written files (no-op when the CLI is absent, see module doc)."""
    if validate_gltf.find_cli() is None:
        if REQUIRE_VALIDATOR:
            pytest.fail(f"gltf-transform is required but not installed; {validate_gltf.INSTALL_HINT}")
        return
    proc = subprocess.run(
        [sys.executable, str(VALIDATE_SCRIPT), "--strict", *map(str, paths)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": 0 errors, 0 warnings") == len(paths), proc.stdout


def random_clip(name: str, channels: Sequence[str], frames: int = 40, fps: float = 30.0,
                seed: int = 0) -> Clip:
    values = np.random.default_rng(seed).random((frames, len(channels)), dtype=np.float32)
    return Clip(name=name, channel_names=tuple(channels), fps=fps, values=values)


def make_face_mesh(face_targets: Sequence[str], teeth_targets: Sequence[str] = ()) -> bytes:
    """A small character .glb: a 'face' quad with named morph targets, an optional 'teeth'
    triangle with its own targets, a 'body' triangle without targets, and an idle animation."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="mien-tests"))
    blob = bytearray()

    def view(payload: bytes, target: int | None) -> int:
        blob.extend(b"\x00" * (-len(blob) % 4))
        gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(blob),
                                                     byteLength=len(payload), target=target))
        blob.extend(payload)
        return len(gltf.bufferViews) - 1

    def accessor(arr: np.ndarray, kind: str, component: int = pygltflib.FLOAT,
                 target: int | None = pygltflib.ARRAY_BUFFER, bounds: bool = True) -> int:
        width = {"SCALAR": 1, "VEC3": 3}[kind]
        flat = arr.reshape(-1, width)
        acc = pygltflib.Accessor(bufferView=view(arr.tobytes(), target), componentType=component,
                                 count=flat.shape[0], type=kind)
        if bounds:
            acc.min = [float(v) for v in flat.min(axis=0)]
            acc.max = [float(v) for v in flat.max(axis=0)]
        gltf.accessors.append(acc)
        return len(gltf.accessors) - 1

    def mesh(name: str, positions: np.ndarray, targets: Sequence[str], indices: np.ndarray | None) -> int:
        pos = accessor(positions.astype(np.float32), "VEC3")
        idx = None if indices is None else accessor(
            indices.astype(np.uint16), "SCALAR", pygltflib.UNSIGNED_SHORT,
            pygltflib.ELEMENT_ARRAY_BUFFER, bounds=False)
        morphs = []
        for k, _ in enumerate(targets):
            delta = np.zeros_like(positions, dtype=np.float32)
            delta[:, 2] = 0.001 * (k + 1) * np.arange(1, len(positions) + 1)
            morphs.append(pygltflib.Attributes(POSITION=accessor(delta, "VEC3")))
        prim = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=pos), indices=idx,
                                   targets=morphs)
        gltf.meshes.append(pygltflib.Mesh(name=name, primitives=[prim],
                                          extras={"targetNames": list(targets)} if targets else {}))
        return len(gltf.meshes) - 1

    quad = np.array([[0, 0, 0], [0.2, 0, 0], [0.2, 0.2, 0], [0, 0.2, 0]], dtype=np.float32)
    tri = np.array([[0, 0, 0], [0.05, 0, 0], [0, 0.05, 0]], dtype=np.float32)
    nodes = [pygltflib.Node(name="face", mesh=mesh("face", quad, face_targets, np.array([0, 1, 2, 0, 2, 3])))]
    if teeth_targets:
        nodes.append(pygltflib.Node(name="teeth", mesh=mesh("teeth", tri, teeth_targets, None),
                                    translation=[0, -0.05, 0.01]))
    nodes.append(pygltflib.Node(name="body", mesh=mesh("body", tri, (), None)))
    gltf.nodes = nodes
    gltf.scenes = [pygltflib.Scene(nodes=list(range(len(nodes))))]
    gltf.scene = 0
    # An existing animation that the bake must keep.
    times = accessor(np.array([0.0, 1.0], dtype=np.float32), "SCALAR", target=None)
    moves = accessor(np.array([[0, 0, 0], [0, 0.01, 0]], dtype=np.float32), "VEC3", target=None,
                     bounds=False)
    gltf.animations = [pygltflib.Animation(
        name="idle",
        samplers=[pygltflib.AnimationSampler(input=times, output=moves, interpolation="LINEAR")],
        channels=[pygltflib.AnimationChannel(sampler=0, target=pygltflib.AnimationChannelTarget(
            node=len(nodes) - 1, path="translation"))],
    )]
    gltf.buffers = [pygltflib.Buffer(byteLength=len(blob))]
    gltf.set_binary_blob(bytes(blob))
    return b"".join(gltf.save_to_bytes())


@pytest.fixture
def face_glb(tmp_path: Path) -> tuple[Path, list[str]]:
    """A face mesh whose targets are ARKit names in shuffled order plus one custom target."""
    names = [*ARKIT_SUBSET[:-1], "customBlush"]  # tongueOut is missing, customBlush is extra
    random.Random(1234).shuffle(names)
    assert names != sorted(names) and names[: len(ARKIT_SUBSET) - 1] != list(ARKIT_SUBSET[:-1])
    path = tmp_path / "npc_face.glb"
    path.write_bytes(make_face_mesh(names, teeth_targets=("jawOpen", "tongueOut")))
    return path, names


# ---------------------------------------------------------------------------------------------
# Round trip
# ---------------------------------------------------------------------------------------------


def test_minimal_mesh_round_trip(tmp_path: Path) -> None:
    clip = random_clip("line_001", ARKIT_SUBSET, frames=75, fps=60.0)
    path = tmp_path / "line_001.glb"
    report = write_glb(path, [clip])
    assert report.path == str(path) and report.minimal_mesh
    assert report.n_bytes == path.stat().st_size
    assert report.animations == ("line_001",) and report.animated_nodes == ("face",)
    assert report.matched_channels == ARKIT_SUBSET and report.unmatched_channels == ()
    names, times, weights = read_glb_animation(path, "line_001")
    assert names == ARKIT_SUBSET
    assert np.max(np.abs(times - np.arange(75) / 60.0)) <= 1e-6
    assert weights.shape == (75, len(ARKIT_SUBSET))
    assert np.max(np.abs(weights - clip.values)) <= 1e-6
    assert_validates(path)


def test_minimal_mesh_read_back_with_pygltflib(tmp_path: Path) -> None:
    clip = random_clip("hello", ("jawOpen", "mouthClose"), frames=12, fps=24.0)
    path = tmp_path / "hello.glb"
    write_glb(path, [clip], face_mesh_name="npc_head", generator="Mien test")
    gltf = pygltflib.GLTF2().load(str(path))
    assert gltf.asset.generator == "Mien test"
    mesh = gltf.meshes[0]
    assert mesh.name == "npc_head" and gltf.nodes[0].name == "npc_head"
    assert mesh.extras["targetNames"] == ["jawOpen", "mouthClose"]
    assert len(mesh.primitives[0].targets) == 2 and mesh.weights == [0.0, 0.0]
    (anim,) = gltf.animations
    assert anim.name == "hello"
    (sampler,) = anim.samplers
    assert sampler.interpolation == "LINEAR"
    assert anim.channels[0].target.path == "weights" and anim.channels[0].target.node == 0
    times_acc = gltf.accessors[sampler.input]
    assert times_acc.min == [0.0] and times_acc.max == [pytest.approx(11 / 24.0, abs=1e-6)]
    assert gltf.accessors[sampler.output].count == 12 * 2
    blob = gltf.binary_blob()
    view = gltf.bufferViews[gltf.accessors[sampler.output].bufferView]
    data = np.frombuffer(blob, dtype="<f4", count=24, offset=view.byteOffset).reshape(12, 2)
    assert np.max(np.abs(data - clip.values)) <= 1e-6
    assert_validates(path)


@settings(max_examples=25, deadline=None)
@given(frames=st.integers(1, 90), channels=st.integers(1, 12), fps=st.sampled_from([24.0, 25.0, 30.0, 60.0]),
       seed=st.integers(0, 2**31))
def test_round_trip_property(frames: int, channels: int, fps: float, seed: int) -> None:
    names = [f"ch{i}" for i in range(channels)]
    rng = np.random.default_rng(seed)
    clip = Clip("clip", tuple(names), fps, (rng.random((frames, channels)) * 2 - 0.5).astype(np.float32))
    glb, _ = build_glb([clip])
    got_names, times, weights = read_glb_animation(glb)
    assert got_names == tuple(names)
    assert np.max(np.abs(times - np.arange(frames) / fps)) <= 1e-6
    assert np.max(np.abs(weights - clip.values)) <= 1e-6


def test_several_clips_are_named_animations_in_one_file(tmp_path: Path) -> None:
    first = random_clip("greeting", ("jawOpen", "mouthClose", "eyeBlinkLeft"), frames=30, seed=1)
    second = random_clip("farewell", ("jawOpen", "mouthPucker"), frames=45, fps=25.0, seed=2)
    path = tmp_path / "npc_guard.glb"
    report = write_glb(path, [first, second])
    assert report.animations == ("greeting", "farewell")
    names, _, w1 = read_glb_animation(path, "greeting")
    assert names == ("jawOpen", "mouthClose", "eyeBlinkLeft", "mouthPucker")
    assert np.max(np.abs(w1[:, :3] - first.values)) <= 1e-6 and not w1[:, 3].any()
    names, times, w2 = read_glb_animation(path, 1)
    assert len(times) == 45 and times[-1] == pytest.approx(44 / 25.0, abs=1e-6)
    assert np.max(np.abs(w2[:, [0, 3]] - second.values)) <= 1e-6
    assert not w2[:, 1:3].any()
    assert_validates(path)


def test_track_through_a_rig_profile_into_a_glb(tmp_path: Path) -> None:
    values = np.zeros((90, len(CHANNELS)), dtype=np.float32)
    values[:, INDEX["jawOpen"]] = np.linspace(0, 0.6, 90)
    values[:, INDEX["eyeYawLeft_deg"]] = np.linspace(-20, 20, 90)
    track = load_rig("metahuman").apply(Track(CHANNELS, 60.0, values))
    path = tmp_path / "metahuman_line.glb"
    write_glb(path, [Clip.from_track(track, "line")])
    names, _, weights = read_glb_animation(path)
    assert names == track.channel_names and len(names) == 177
    assert np.max(np.abs(weights - track.values)) <= 1e-6
    assert_validates(path)


# ---------------------------------------------------------------------------------------------
# The character's face mesh
# ---------------------------------------------------------------------------------------------


def test_targets_match_by_name_in_shuffled_order(face_glb: tuple[Path, list[str]], tmp_path: Path) -> None:
    mesh_path, face_names = face_glb
    assert_validates(mesh_path)
    clip = random_clip("line", ARKIT_SUBSET, frames=50, seed=9)
    out_path = tmp_path / "baked.glb"
    report = write_glb(out_path, [clip], face_mesh=mesh_path)
    assert not report.minimal_mesh
    assert report.animated_nodes == ("face", "teeth")
    assert report.unmatched_channels == ()  # tongueOut is on the teeth
    assert report.unanimated_targets == ("customBlush",)
    names, _, weights = read_glb_animation(out_path, "line", node="face")
    assert list(names) == face_names  # the mesh's own (shuffled) order is kept
    for j, channel in enumerate(clip.channel_names):
        if channel in names:
            assert np.max(np.abs(weights[:, names.index(channel)] - clip.values[:, j])) <= 1e-6, channel
    assert not weights[:, names.index("customBlush")].any()
    teeth_names, _, teeth = read_glb_animation(out_path, "line", node="teeth")
    assert teeth_names == ("jawOpen", "tongueOut")
    assert np.max(np.abs(teeth - clip.values[:, [ARKIT_SUBSET.index("jawOpen"),
                                                  ARKIT_SUBSET.index("tongueOut")]])) <= 1e-6
    assert_validates(out_path)


def test_face_mesh_content_and_animations_are_kept(face_glb: tuple[Path, list[str]], tmp_path: Path) -> None:
    mesh_path, _ = face_glb
    out_path = tmp_path / "baked.glb"
    write_glb(out_path, [random_clip("line", ARKIT_SUBSET)], face_mesh=mesh_path.read_bytes())
    before = pygltflib.GLTF2().load(str(mesh_path))
    after = pygltflib.GLTF2().load(str(out_path))
    assert [a.name for a in after.animations] == ["idle", "line"]
    assert [m.name for m in after.meshes] == [m.name for m in before.meshes]
    assert after.asset.generator == "Mien; mien-tests"
    old_blob, new_blob = before.binary_blob(), after.binary_blob()
    assert new_blob[: len(old_blob)] == old_blob  # original data untouched, ours appended
    for old, new in zip(before.accessors, after.accessors, strict=False):
        assert (old.bufferView, old.count, old.type) == (new.bufferView, new.count, new.type)
    assert_validates(out_path)


def test_unmatched_channels_are_reported(face_glb: tuple[Path, list[str]], tmp_path: Path) -> None:
    mesh_path, _ = face_glb
    clip = random_clip("line", ("jawOpen", "notAShape", "mouthClose", "alsoMissing"))
    report = write_glb(tmp_path / "out.glb", [clip], face_mesh=mesh_path, face_mesh_name="face")
    assert report.animated_nodes == ("face",)
    assert report.matched_channels == ("jawOpen", "mouthClose")
    assert report.unmatched_channels == ("notAShape", "alsoMissing")
    assert_validates(tmp_path / "out.glb")


def test_no_matching_target_name_is_an_error_naming_file_and_fix(tmp_path: Path) -> None:
    mesh_path = tmp_path / "hero_face.glb"
    mesh_path.write_bytes(make_face_mesh(["Brow_Raise_L", "Jaw_Open_CC", "Mouth_Smile_L"]))
    clip = random_clip("line", ARKIT_SUBSET)
    with pytest.raises(InvalidArgument) as err:
        write_glb(tmp_path / "out.glb", [clip], face_mesh=mesh_path)
    message = str(err.value)
    assert str(mesh_path) in message
    assert "Jaw_Open_CC" in message and "jawOpen" in message
    assert "rig profile" in message and "rename" in message
    assert not (tmp_path / "out.glb").exists()
    with pytest.raises(InvalidArgument, match=r"hero_face\.glb"):
        build_glb([clip], face_mesh=mesh_path.read_bytes(), face_mesh_source="hero_face.glb")


def test_mesh_without_target_names_is_an_error(tmp_path: Path) -> None:
    mesh_path = tmp_path / "plain.glb"
    mesh_path.write_bytes(make_face_mesh([]))
    with pytest.raises(InvalidArgument, match=r"plain\.glb.*targetNames"):
        write_glb(tmp_path / "out.glb", [random_clip("line", ARKIT_SUBSET)], face_mesh=mesh_path)


def test_unknown_face_mesh_name_lists_the_meshes(face_glb: tuple[Path, list[str]], tmp_path: Path) -> None:
    mesh_path, _ = face_glb
    with pytest.raises(InvalidArgument) as err:
        write_glb(tmp_path / "out.glb", [random_clip("line", ARKIT_SUBSET)], face_mesh=mesh_path,
                  face_mesh_name="Head")
    assert "'face'" in str(err.value) and "'teeth'" in str(err.value) and "'Head'" in str(err.value)


def test_not_a_glb_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "face.gltf"
    bogus.write_text('{"asset": {"version": "2.0"}}', encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"face\.gltf.*not a binary glTF"):
        write_glb(tmp_path / "out.glb", [random_clip("line", ARKIT_SUBSET)], face_mesh=bogus)


# ---------------------------------------------------------------------------------------------
# Determinism and layout
# ---------------------------------------------------------------------------------------------


def test_same_inputs_give_identical_bytes(face_glb: tuple[Path, list[str]], tmp_path: Path) -> None:
    mesh_path, _ = face_glb
    clips = [random_clip("a", ARKIT_SUBSET, seed=4), random_clip("b", ARKIT_SUBSET[:4], seed=5)]
    for face in (None, mesh_path):
        first, second = tmp_path / "first.glb", tmp_path / "second.glb"
        r1 = write_glb(first, clips, face_mesh=face)
        again = [random_clip("a", ARKIT_SUBSET, seed=4), random_clip("b", ARKIT_SUBSET[:4], seed=5)]
        r2 = write_glb(second, again, face_mesh=face)
        assert first.read_bytes() == second.read_bytes()
        assert r1.sha256 == r2.sha256
        changed = [random_clip("a", ARKIT_SUBSET, seed=6)]
        different = write_glb(tmp_path / "third.glb", changed, face_mesh=face)
        assert different.sha256 != r1.sha256
        assert_validates(first, tmp_path / "third.glb")


def test_write_to_a_file_object() -> None:
    buffer = io.BytesIO()
    clip = random_clip("line", ARKIT_SUBSET)
    report = write_glb(buffer, [clip])
    assert report.path == "" and report.n_bytes == len(buffer.getvalue())
    assert buffer.getvalue() == build_glb([clip])[0]


@pytest.mark.parametrize("with_mesh", [False, True])
def test_glb_layout_rules(with_mesh: bool, face_glb: tuple[Path, list[str]]) -> None:
    mesh_path, _ = face_glb
    glb, _ = build_glb([random_clip("line", ARKIT_SUBSET, frames=7)],
                       face_mesh=mesh_path if with_mesh else None)
    magic, version, length = struct.unpack_from("<III", glb, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(glb)) and length % 4 == 0
    json_len, json_type = struct.unpack_from("<II", glb, 12)
    assert json_type == 0x4E4F534A and json_len % 4 == 0
    json_chunk = glb[20: 20 + json_len]
    assert json_chunk.rstrip(b" ").endswith(b"}")  # padded with spaces
    bin_len, bin_type = struct.unpack_from("<II", glb, 20 + json_len)
    assert bin_type == 0x004E4942 and bin_len % 4 == 0
    assert 20 + json_len + 8 + bin_len == len(glb)
    doc, binary = read_glb(glb)
    assert doc["buffers"][0]["byteLength"] <= bin_len and "uri" not in doc["buffers"][0]
    assert doc["buffers"][0]["byteLength"] == len(binary) or with_mesh
    animation_accessors = {
        sampler[key] for a in doc["animations"] for sampler in a["samplers"] for key in ("input", "output")
    }
    for i, acc in enumerate(doc["accessors"]):
        view = doc["bufferViews"][acc["bufferView"]]
        assert view["byteOffset"] % 4 == 0
        assert "byteStride" not in view
        if i in animation_accessors:
            assert "target" not in view  # target only for vertex data
    for animation in doc["animations"][-1:]:
        for sampler in animation["samplers"]:
            times = doc["accessors"][sampler["input"]]
            assert "min" in times and "max" in times
            assert sampler["interpolation"] == "LINEAR"
    if not with_mesh:
        for view in doc["bufferViews"][:3]:
            assert view["target"] == 34962
        assert json.loads(json_chunk.decode())["meshes"][0]["extras"]["targetNames"] == list(ARKIT_SUBSET)
        assert binary[doc["buffers"][0]["byteLength"]:] == b""


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------


def test_clip_validation() -> None:
    ok = np.zeros((3, 2), np.float32)
    with pytest.raises(InvalidArgument, match="NaN"):
        Clip("c", ("a", "b"), 30.0, np.array([[0, np.nan]] * 3, np.float32))
    with pytest.raises(InvalidArgument, match="fps"):
        Clip("c", ("a", "b"), 0.0, ok)
    with pytest.raises(InvalidArgument, match=r"\(frames >= 1, 3\)"):
        Clip("c", ("a", "b", "c"), 30.0, ok)
    with pytest.raises(InvalidArgument, match="duplicate"):
        Clip("c", ("a", "a"), 30.0, ok)
    with pytest.raises(InvalidArgument, match="name"):
        Clip("", ("a", "b"), 30.0, ok)
    with pytest.raises(InvalidArgument, match="unique"):
        build_glb([Clip("c", ("a", "b"), 30.0, ok), Clip("c", ("a", "b"), 30.0, ok)])
    with pytest.raises(InvalidArgument, match="at least one clip"):
        build_glb([])


def test_single_frame_clip(tmp_path: Path) -> None:
    path = tmp_path / "one.glb"
    write_glb(path, [Clip("still", ("jawOpen",), 30.0, np.array([[0.25]], np.float32))])
    names, times, weights = read_glb_animation(path)
    assert names == ("jawOpen",) and times.tolist() == [0.0] and weights.tolist() == [[0.25]]
    assert_validates(path)


# ---------------------------------------------------------------------------------------------
# The validator itself
# ---------------------------------------------------------------------------------------------


def test_gltf_validator_is_installed() -> None:
    if validate_gltf.find_cli() is None:
        if REQUIRE_VALIDATOR:
            pytest.fail("MIEN_REQUIRE_GLTF_VALIDATOR=1 but gltf-transform is missing; "
                        + validate_gltf.INSTALL_HINT)
        pytest.skip("gltf-transform CLI not installed, so the .glb files were not validated; "
                    + validate_gltf.INSTALL_HINT)


def test_validator_catches_a_broken_file(tmp_path: Path) -> None:
    """The validation above can fail: an input accessor without min/max is rejected."""
    if validate_gltf.find_cli() is None:
        pytest.skip("gltf-transform CLI not installed")
    glb, _ = build_glb([random_clip("line", ARKIT_SUBSET)])
    doc, binary = read_glb(glb)
    del doc["accessors"][doc["animations"][0]["samplers"][0]["input"]]["min"]
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = (struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(binary), 0x004E4942) + binary)
    broken = tmp_path / "broken.glb"
    broken.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    proc = subprocess.run([sys.executable, str(VALIDATE_SCRIPT), str(broken)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ANIMATION_SAMPLER_INPUT_ACCESSOR_WITHOUT_BOUNDS" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Head rotation (issue 16): a node rotation animation beside the weights
# ---------------------------------------------------------------------------------------------


def head_clip(name: str = "line", frames: int = 90) -> Clip:
    rng = np.random.default_rng(5)
    channels = (*ARKIT_SUBSET, "headYaw_deg", "headPitch_deg", "headRoll_deg")
    values = rng.random((frames, len(channels))).astype(np.float32)
    values[:, -3:] = (rng.random((frames, 3)) - 0.5) * np.array([40.0, 30.0, 20.0], np.float32)
    return Clip(name, channels, 60.0, values)


def test_head_angles_become_a_validated_rotation_of_a_head_node(tmp_path: Path) -> None:
    clip = head_clip()
    path = tmp_path / "head.glb"
    report = write_glb(path, [clip])
    assert report.head_node == "head" and report.animated_nodes == ("face",)
    assert_validates(path)
    node, times, quats = read_glb_rotation(path)
    assert node == "head" and np.abs(times - clip.times()).max() == 0
    angles = clip.values[:, -3:].astype(np.float64)
    assert np.abs(quats - head_quaternions(angles)).max() <= 1e-6
    assert np.abs(np.linalg.norm(quats, axis=1) - 1).max() <= 1e-6
    gltf = pygltflib.GLTF2().load(str(path))
    head = next(n for n in gltf.nodes if n.name == "head")
    assert head.children == [0] and gltf.scenes[0].nodes == [1]  # the face hangs under the head
    # the weights are untouched by the head
    names, _, weights = read_glb_animation(path)
    assert np.abs(weights[:, names.index("jawOpen")] - clip.values[:, 0]).max() == 0


def test_head_rotation_conventions() -> None:
    """yaw > 0 turns the face (+Z) toward +X (the character's left), pitch > 0 up (+Y), roll > 0 tips +Y toward +X."""
    def rotate(q: np.ndarray, v: tuple[float, float, float]) -> np.ndarray:
        x, y, z, w = q
        u = np.array([x, y, z])
        return 2 * u.dot(v) * u + (w * w - u.dot(u)) * np.array(v) + 2 * w * np.cross(u, v)

    yaw, pitch, roll = (head_quaternions(np.array([a]))[0] for a in ([20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]))
    assert rotate(yaw, (0, 0, 1))[0] > 0.3
    assert rotate(pitch, (0, 0, 1))[1] > 0.3
    assert rotate(roll, (0, 1, 0))[0] > 0.3


def test_a_face_mesh_head_node_is_used_with_its_rest_rotation(tmp_path: Path) -> None:
    gltf = pygltflib.GLTF2().load_from_bytes(make_face_mesh(list(ARKIT_SUBSET)))
    rest = [0.0, 0.0, 0.38268343, 0.92387953]  # 45 degrees about Z
    gltf.nodes.append(pygltflib.Node(name="Head", rotation=rest, children=[0]))
    gltf.scenes[0].nodes = [n for n in gltf.scenes[0].nodes if n != 0] + [len(gltf.nodes) - 1]
    mesh = tmp_path / "with_head.glb"
    mesh.write_bytes(b"".join(gltf.save_to_bytes()))
    out = tmp_path / "out.glb"
    clip = head_clip()
    report = write_glb(out, [clip], face_mesh=mesh)
    assert report.head_node == "Head"
    assert_validates(out)
    _, _, quats = read_glb_rotation(out, "line")
    assert np.abs(quats - head_quaternions(clip.values[:, -3:].astype(np.float64), rest)).max() <= 1e-6
    with pytest.raises(InvalidArgument, match="no node named 'neck'"):
        build_glb([clip], face_mesh=mesh, head_node="neck")


def test_clips_without_head_angles_have_no_rotation(tmp_path: Path) -> None:
    glb, report = build_glb([random_clip("line", ARKIT_SUBSET)])
    assert report.head_node == ""
    with pytest.raises(InvalidArgument, match="no rotation channel"):
        read_glb_rotation(glb)
