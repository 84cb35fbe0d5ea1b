"""Binary glTF 2.0 (.glb) files of baked facial animation, built with pygltflib.

:func:`write_glb` writes one or more :class:`Clip` s (named curves at a frame rate) as glTF
animations:

* **Morph-target weights** by channel name. With no face mesh a minimal mesh (one triangle) is
  generated whose morph targets are the clips' channels, as named zero-delta ``POSITION`` targets
  (``mesh.extras.targetNames``); with the character's face mesh (a self-contained ``.glb``) the
  file is loaded and every mesh with ``extras.targetNames`` is matched to the channels *by name*,
  whatever the target order. Channels without a target are reported; targets without a channel
  are keyed at 0; a face mesh with no matching name at all is an :class:`InvalidArgument`.
* **Head rotation** as a ``rotation`` channel of the head node, beside the weights, when the clip
  carries the head angles (``headYaw_deg``/``headPitch_deg``/``headRoll_deg``, or the Live Link
  curves ``HeadYaw``/``HeadPitch``/``HeadRoll`` = degrees / 180 of the metahuman profile). The
  head node is the face mesh's node named ``head`` (any case; VRM's ``J_Bip_C_Head`` too) or
  ``head_node``; without one (and always for the minimal mesh) a ``head`` node is added as the
  parent of the animated mesh nodes that are scene roots. Angles follow :mod:`mien.channels`
  (yaw about +Y toward the character's left, +X; pitch chin up; roll toward the left), composed
  yaw x pitch x roll after the node's rest rotation, in glTF's frame (+Y up, the face toward +Z).

Layout (glTF 2.0 §3.11): per clip one ``input`` accessor of float32 times (``min``/``max`` set),
per animated node one float32 ``output`` accessor (weights: frames x targets; rotation: frames x
VEC4 unit quaternions ``[x, y, z, w]``), ``LINEAR``. Bytes are deterministic: identical inputs give
identical files (no timestamps, no random ids; pygltflib's JSON has a fixed key order), and the
GLB chunks follow the container rules (4-byte aligned data, ``bufferView.target`` on vertex data
only, no ``byteStride``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pygltflib

from mien.errors import InvalidArgument

__all__ = [
    "Clip",
    "GlbReport",
    "build_glb",
    "head_angles_deg",
    "head_quaternions",
    "read_glb",
    "read_glb_animation",
    "read_glb_rotation",
    "write_glb",
]

_FIELD = "gltf"
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_HEAD_DEG = ("headYaw_deg", "headPitch_deg", "headRoll_deg")
_HEAD_LIVE_LINK = ("HeadYaw", "HeadPitch", "HeadRoll")  # degrees / 180 (the metahuman profile)
_HEAD_NODE_NAMES = ("head", "j_bip_c_head")


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One animation: ``values[frame, channel]`` weights, frame ``i`` at ``i / fps`` seconds."""

    name: str
    channel_names: tuple[str, ...]
    fps: float
    values: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgument("a clip needs a non-empty name (it becomes the animation's name)",
                                  field="clip")
        names = tuple(self.channel_names)
        object.__setattr__(self, "channel_names", names)
        if not names or any(not isinstance(n, str) or not n for n in names):
            raise InvalidArgument(f"clip {self.name!r}: channel names must be non-empty strings",
                                  field="clip")
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise InvalidArgument(f"clip {self.name!r}: duplicate channel names {dups}", field="clip")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not (
            math.isfinite(self.fps) and self.fps > 0
        ):
            raise InvalidArgument(f"clip {self.name!r}: fps must be a positive number, got {self.fps!r}",
                                  field="clip")
        values = np.ascontiguousarray(self.values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != len(names) or values.shape[0] < 1:
            raise InvalidArgument(
                f"clip {self.name!r}: values must be (frames >= 1, {len(names)}), got {values.shape}",
                field="clip",
            )
        if not np.isfinite(values).all():
            raise InvalidArgument(f"clip {self.name!r}: values contain NaN or infinity", field="clip")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    def times(self) -> np.ndarray:
        """Keyframe times in seconds as float32 (what the file stores)."""
        return (np.arange(self.n_frames, dtype=np.float64) / float(self.fps)).astype(np.float32)

    @classmethod
    def from_track(cls, track: Any, name: str) -> Clip:
        """A clip from a :class:`mien.track.Track` (already retargeted to the rig you want)."""
        return cls(name=name, channel_names=tuple(track.channel_names), fps=float(track.fps),
                   values=track.values)


@dataclass(frozen=True)
class GlbReport:
    """What :func:`write_glb` wrote."""

    path: str
    """The output path, or ``""`` when written to a file object."""
    n_bytes: int
    sha256: str
    animations: tuple[str, ...]
    animated_nodes: tuple[str, ...]
    """Names of the nodes whose weights are animated (``node<i>`` when unnamed)."""
    matched_channels: tuple[str, ...]
    """Clip channels that drive at least one morph target."""
    unmatched_channels: tuple[str, ...]
    """Clip channels with no morph target of that name on any animated mesh (dropped)."""
    unanimated_targets: tuple[str, ...]
    """Morph targets of the animated meshes that no channel drives (keyed at weight 0)."""
    minimal_mesh: bool
    """True when the file carries the generated minimal mesh instead of the character's."""
    head_node: str = ""
    """The node whose rotation the head angles animate ("" when the clips carry no head angles)."""


# --------------------------------------------------------------------------------------------
# Head rotation
# --------------------------------------------------------------------------------------------


def head_angles_deg(channel_names: Sequence[str], values: np.ndarray) -> np.ndarray | None:
    """(frames, 3) yaw, pitch, roll in degrees from a clip's channels, or None when it has none."""
    names = list(channel_names)
    if all(n in names for n in _HEAD_DEG):
        return np.stack([values[:, names.index(n)] for n in _HEAD_DEG], axis=1).astype(np.float64)
    if all(n in names for n in _HEAD_LIVE_LINK):
        return 180.0 * np.stack([values[:, names.index(n)] for n in _HEAD_LIVE_LINK], axis=1).astype(np.float64)
    return None


def _axis_quaternion(axis: int, angle_rad: np.ndarray) -> np.ndarray:
    q = np.zeros((len(angle_rad), 4))
    q[:, axis] = np.sin(0.5 * angle_rad)
    q[:, 3] = np.cos(0.5 * angle_rad)
    return q


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of [x, y, z, w] quaternions (rows)."""
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=-1)


def head_quaternions(angles_deg: np.ndarray, rest: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
    """Unit quaternions [x, y, z, w] of the head: rest x yaw(+Y) x pitch(-X: chin up) x roll(-Z: top toward +X)."""
    rad = np.radians(np.asarray(angles_deg, dtype=np.float64))
    q = _qmul(_qmul(_axis_quaternion(1, rad[:, 0]), _axis_quaternion(0, -rad[:, 1])), _axis_quaternion(2, -rad[:, 2]))
    q = _qmul(np.broadcast_to(np.asarray(rest, dtype=np.float64), q.shape), q)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    # one hemisphere for neighbouring keys, so LINEAR (slerp) takes the short way
    flip = np.cumsum(np.r_[0, (np.einsum("ij,ij->i", q[1:], q[:-1]) < 0)]) % 2 == 1
    q[flip] *= -1.0
    return q


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _load(data: bytes | str | os.PathLike[str], source: str | None = None) -> tuple[pygltflib.GLTF2, str]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw, where = bytes(data), source or "<glb bytes>"
    else:
        where = source or str(data)
        try:
            raw = Path(data).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"{where}: cannot read the .glb ({exc})", field=_FIELD) from exc
    if len(raw) < 20:
        raise InvalidArgument(f"{where}: not a binary glTF (.glb) file: only {len(raw)} bytes", field=_FIELD)
    magic, version, length = struct.unpack_from("<4sII", raw, 0)
    if magic != b"glTF":
        raise InvalidArgument(
            f"{where}: not a binary glTF (.glb) file (bad magic). A .gltf text file must be converted "
            "to a self-contained .glb first (e.g. gltf-transform copy in.gltf out.glb)", field=_FIELD)
    if version != 2:
        raise InvalidArgument(f"{where}: glTF container version {version}; only glTF 2.0 is supported",
                              field=_FIELD)
    if length > len(raw):
        raise InvalidArgument(f"{where}: truncated .glb ({len(raw)} of {length} bytes)", field=_FIELD)
    try:
        gltf = pygltflib.GLTF2.load_from_bytes(raw[:length])
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{where}: not a readable .glb ({type(exc).__name__}: {exc})", field=_FIELD) from exc
    if gltf is None:
        raise InvalidArgument(f"{where}: not a readable .glb", field=_FIELD)
    return gltf, where


def read_glb(data: bytes | str | os.PathLike[str], source: str | None = None) -> tuple[dict[str, Any], bytes]:
    """Parse a ``.glb`` (bytes or a path) into its JSON document and BIN chunk (``b""`` if none)."""
    gltf, _ = _load(data, source)
    doc = json.loads(gltf.gltf_to_json(separators=(",", ":"), indent=None))  # the JSON as a file carries it
    return doc, bytes(gltf.binary_blob() or b"")


def _accessor(gltf: pygltflib.GLTF2, blob: bytes, index: int, where: str) -> np.ndarray:
    acc = gltf.accessors[index]
    if acc.componentType != pygltflib.FLOAT:
        raise InvalidArgument(f"{where}: accessor {index} is not float32 (componentType {acc.componentType}); "
                              "only float accessors are read", field=_FIELD)
    width = _COMPONENTS[acc.type]
    if acc.bufferView is None:
        return np.zeros((acc.count, width), dtype=np.float32)
    view = gltf.bufferViews[acc.bufferView]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    stride = view.byteStride or 4 * width
    rows = np.ndarray((acc.count, width), dtype="<f4", buffer=blob, offset=start, strides=(stride, 4))
    return np.array(rows, dtype=np.float32)


def _animation(gltf: pygltflib.GLTF2, animation: str | int, where: str) -> pygltflib.Animation:
    names = [a.name or f"animation{i}" for i, a in enumerate(gltf.animations)]
    if isinstance(animation, str):
        if animation not in names:
            raise InvalidArgument(f"{where}: no animation named {animation!r}; animations: {names}", field=_FIELD)
        return gltf.animations[names.index(animation)]
    if not 0 <= animation < len(names):
        raise InvalidArgument(f"{where}: no animation #{animation}; the file has {len(names)}", field=_FIELD)
    return gltf.animations[animation]


def read_glb_animation(
    path: str | os.PathLike[str] | bytes, animation: str | int = 0, node: str | int | None = None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """One animation's morph-weight curves: ``(target names, times (T,), weights (T, targets))``.

    ``animation`` is an index or a name; ``node`` picks the animated node (index or name) when
    several are animated, else the first ``weights`` channel is read. Target names come from the
    node's ``mesh.extras.targetNames`` (``target<i>`` when absent). For tests and tools.
    """
    gltf, where = _load(path)
    blob = bytes(gltf.binary_blob() or b"")
    anim = _animation(gltf, animation, where)
    chosen = None
    for channel in anim.channels:
        n = channel.target.node
        if channel.target.path != "weights" or n is None:
            continue
        if node is None or node == n or node == gltf.nodes[n].name:
            chosen = channel
            break
    if chosen is None:
        raise InvalidArgument(f"{where}: animation {animation!r} has no morph-weight channel"
                              + (f" for node {node!r}" if node is not None else ""), field=_FIELD)
    sampler = anim.samplers[chosen.sampler]
    mesh = gltf.meshes[gltf.nodes[chosen.target.node].mesh]
    n_targets = len(mesh.primitives[0].targets or [])
    extras = mesh.extras if isinstance(mesh.extras, dict) else {}
    target_names = tuple(extras.get("targetNames") or (f"target{i}" for i in range(n_targets)))
    times = _accessor(gltf, blob, sampler.input, where)[:, 0]
    flat = _accessor(gltf, blob, sampler.output, where)[:, 0]
    if sampler.interpolation == "CUBICSPLINE":
        weights = flat.reshape(len(times), 3, n_targets)[:, 1, :]
    else:
        weights = flat.reshape(len(times), n_targets)
    return target_names, times, weights


def read_glb_rotation(path: str | os.PathLike[str] | bytes, animation: str | int = 0) -> tuple[
        str, np.ndarray, np.ndarray]:
    """The animation's node rotation (the head): ``(node name, times (T,), quaternions (T, 4) [x, y, z, w])``."""
    gltf, where = _load(path)
    blob = bytes(gltf.binary_blob() or b"")
    anim = _animation(gltf, animation, where)
    for channel in anim.channels:
        if channel.target.path == "rotation" and channel.target.node is not None:
            sampler = anim.samplers[channel.sampler]
            return (gltf.nodes[channel.target.node].name or f"node{channel.target.node}",
                    _accessor(gltf, blob, sampler.input, where)[:, 0], _accessor(gltf, blob, sampler.output, where))
    raise InvalidArgument(f"{where}: animation {animation!r} has no rotation channel", field=_FIELD)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


class _Blob:
    """The GLB buffer (buffer 0): appends 4-byte aligned data and records views and accessors."""

    def __init__(self, gltf: pygltflib.GLTF2, data: bytes) -> None:
        self.gltf = gltf
        self.data = bytearray(data)

    def accessor(self, array: np.ndarray, kind: str, *, vertex: bool = False, min_max: bool = False) -> int:
        arr = np.ascontiguousarray(array, dtype="<f4")
        width = _COMPONENTS[kind]
        count = arr.size // width
        start = (len(self.data) + 3) & ~3
        self.data.extend(b"\x00" * (start - len(self.data)))
        self.data.extend(arr.tobytes())
        self.gltf.bufferViews.append(pygltflib.BufferView(
            buffer=0, byteOffset=start, byteLength=arr.nbytes, target=pygltflib.ARRAY_BUFFER if vertex else None))
        flat = arr.reshape(count, width)
        self.gltf.accessors.append(pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1, componentType=pygltflib.FLOAT, count=count, type=kind,
            min=[float(v) for v in flat.min(axis=0)] if min_max else None,
            max=[float(v) for v in flat.max(axis=0)] if min_max else None))
        return len(self.gltf.accessors) - 1

    def finish(self) -> None:
        self.data.extend(b"\x00" * (((len(self.data) + 3) & ~3) - len(self.data)))
        self.gltf.buffers = [pygltflib.Buffer(byteLength=len(self.data)), *self.gltf.buffers[1:]]
        self.gltf.set_binary_blob(bytes(self.data))


@dataclass
class _Target:
    """One animatable mesh: its target names and the nodes that use it."""

    mesh: int
    names: tuple[str, ...]
    nodes: list[int]


def _clip_checks(clips: Sequence[Clip]) -> None:
    if not clips:
        raise InvalidArgument("write_glb needs at least one clip", field="clips")
    for clip in clips:
        if not isinstance(clip, Clip):
            raise InvalidArgument(f"clips must be Clip objects, got {type(clip).__name__}", field="clips")
    names = [c.name for c in clips]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InvalidArgument(f"clip names must be unique (they name the animations); repeated: {dups}",
                              field="clips")
    for clip in clips:
        t = clip.times()
        if clip.n_frames > 1 and not bool(np.all(np.diff(t) > 0)):
            raise InvalidArgument(
                f"clip {clip.name!r}: {clip.n_frames} frames at {clip.fps} fps do not give strictly "
                "increasing float32 key times; lower the frame rate or split the clip", field="clips")


def _minimal_document(clips: Sequence[Clip], mesh_name: str, generator: str) -> tuple[
        pygltflib.GLTF2, _Blob, list[_Target]]:
    target_names: list[str] = []
    for clip in clips:
        target_names.extend(n for n in clip.channel_names if n not in target_names)
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator=generator), scene=0,
                           scenes=[pygltflib.Scene(nodes=[0])], nodes=[pygltflib.Node(name=mesh_name, mesh=0)],
                           buffers=[pygltflib.Buffer(byteLength=0)])
    blob = _Blob(gltf, b"")
    # One small triangle (10 cm) so engines have a real primitive to hang the targets on.
    positions = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0]], dtype=np.float32)
    pos = blob.accessor(positions, "VEC3", vertex=True, min_max=True)
    nrm = blob.accessor(np.array([[0.0, 0.0, 1.0]] * 3, dtype=np.float32), "VEC3", vertex=True)
    zero = blob.accessor(np.zeros((3, 3), dtype=np.float32), "VEC3", vertex=True, min_max=True)  # shared by all
    gltf.meshes.append(pygltflib.Mesh(
        name=mesh_name,
        primitives=[pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=pos, NORMAL=nrm),
                                        targets=[{"POSITION": zero} for _ in target_names], mode=pygltflib.TRIANGLES)],
        weights=[0.0] * len(target_names), extras={"targetNames": list(target_names)}))
    return gltf, blob, [_Target(mesh=0, names=tuple(target_names), nodes=[0])]


def _face_document(face: bytes, source: str, mesh_name: str, generator: str) -> tuple[
        pygltflib.GLTF2, _Blob, list[_Target]]:
    gltf, _ = _load(face, source)
    external = [f"{kind}[{i}] -> {item.uri}" for kind in ("buffers", "images")
                for i, item in enumerate(getattr(gltf, kind)) if item.uri and not item.uri.startswith("data:")]
    if external:
        raise InvalidArgument(
            f"{source}: the face mesh refers to external files ({', '.join(external[:3])}); the baked "
            ".glb would lose them. Export the face mesh as a single self-contained .glb "
            "(e.g. gltf-transform copy in.gltf out.glb)", field="face_mesh")
    if any(b.uri for b in gltf.buffers):  # data: URIs into the GLB buffer
        gltf.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)
    binary = bytes(gltf.binary_blob() or b"")
    declared = gltf.buffers[0].byteLength if gltf.buffers else 0
    if declared > len(binary):
        raise InvalidArgument(
            f"{source}: buffer 0 declares {declared} bytes but the BIN chunk holds {len(binary)}; the "
            "file is truncated or damaged. Re-export the face mesh", field="face_mesh")
    if not gltf.buffers:
        gltf.buffers = [pygltflib.Buffer(byteLength=0)]
    all_mesh_names = [m.name or f"mesh{i}" for i, m in enumerate(gltf.meshes)]
    if mesh_name and mesh_name not in all_mesh_names:
        raise InvalidArgument(
            f"{source}: no mesh named {mesh_name!r}; meshes in the file: "
            f"{', '.join(repr(n) for n in all_mesh_names) or 'none'}. Pass one of them as the face "
            "mesh name, or leave it empty to use every mesh with morph target names", field="face_mesh_name")
    targets: list[_Target] = []
    for i, mesh in enumerate(gltf.meshes):
        if mesh_name and (mesh.name or f"mesh{i}") != mesh_name:
            continue
        names = mesh.extras.get("targetNames") if isinstance(mesh.extras, dict) else None
        if not isinstance(names, list) or not names:
            continue
        counts = {len(p.targets or []) for p in mesh.primitives}
        if counts != {len(names)}:
            raise InvalidArgument(
                f"{source}: mesh {mesh.name or i!r} lists {len(names)} targetNames but its primitives have "
                f"{sorted(counts)} morph targets; re-export the mesh so the names match its targets", field="face_mesh")
        nodes = [n for n, node in enumerate(gltf.nodes) if node.mesh == i]
        if nodes:
            targets.append(_Target(mesh=i, names=tuple(str(n) for n in names), nodes=nodes))
    if not targets:
        raise InvalidArgument(
            f"{source}: no mesh{f' named {mesh_name!r}' if mesh_name else ''} has named morph "
            "targets (mesh.extras.targetNames) on a node, so nothing can be animated by name. "
            "Export the face mesh with its shape keys / morph targets and their names (Blender's "
            "glTF exporter writes them by default), or bake without a face mesh", field="face_mesh")
    previous = gltf.asset.generator
    gltf.asset.generator = f"{generator}; {previous}" if previous else generator
    return gltf, _Blob(gltf, binary), targets


def _head_node(gltf: pygltflib.GLTF2, wanted: str, animated: Sequence[int]) -> int | None:
    """The node to rotate: ``wanted`` or a node named like a head; else a new ``head`` parent of the animated
    nodes that are scene roots (None when they are all nested in other nodes)."""
    for i, node in enumerate(gltf.nodes):
        name = (node.name or "").lower()
        if (wanted and node.name == wanted) or (not wanted and name in _HEAD_NODE_NAMES):
            return i
    if wanted:
        raise InvalidArgument(f"no node named {wanted!r} for the head rotation; nodes: "
                              f"{', '.join(repr(n.name) for n in gltf.nodes if n.name) or 'none named'}",
                              field="head_node")
    scene = gltf.scenes[gltf.scene or 0] if gltf.scenes else None
    if scene is None:
        return None
    roots = [n for n in animated if n in scene.nodes]
    if not roots:
        return None
    gltf.nodes.append(pygltflib.Node(name="head", children=roots))
    head = len(gltf.nodes) - 1
    scene.nodes = [n for n in scene.nodes if n not in roots] + [head]
    return head


def _node_label(gltf: pygltflib.GLTF2, index: int) -> str:
    return gltf.nodes[index].name or f"node{index}"


def build_glb(
    clips: Sequence[Clip],
    *,
    face_mesh: bytes | str | os.PathLike[str] | None = None,
    face_mesh_name: str = "",
    generator: str = "Mien",
    face_mesh_source: str | None = None,
    head_node: str = "",
) -> tuple[bytes, GlbReport]:
    """The ``.glb`` bytes and report :func:`write_glb` would write (``report.path`` is ``""``)."""
    clips = list(clips)
    _clip_checks(clips)
    if face_mesh is None:
        source = "<generated mesh>"
        gltf, blob, targets = _minimal_document(clips, face_mesh_name or "face", generator)
        minimal = True
    else:
        if isinstance(face_mesh, (bytes, bytearray, memoryview)):
            data, source = bytes(face_mesh), face_mesh_source or "<face mesh bytes>"
        else:
            source = face_mesh_source or str(face_mesh)
            try:
                data = Path(face_mesh).read_bytes()
            except OSError as exc:
                raise InvalidArgument(f"{source}: cannot read the face mesh ({exc})", field="face_mesh") from exc
        gltf, blob, targets = _face_document(data, source, face_mesh_name, generator)
        minimal = False

    matched: set[str] = set()
    driven: dict[int, set[int]] = {}
    animated_nodes: list[int] = []
    plans: list[list[tuple[_Target, np.ndarray]]] = []
    for clip in clips:
        index = {name: j for j, name in enumerate(clip.channel_names)}
        plan = []
        for tgt in targets:
            sel = np.zeros((len(clip.channel_names), len(tgt.names)), dtype=np.float32)  # column j -> its targets
            hit = False
            for k, tname in enumerate(tgt.names):
                j = index.get(tname)
                if j is not None:
                    sel[j, k] = 1.0
                    matched.add(tname)
                    driven.setdefault(tgt.mesh, set()).add(k)
                    hit = True
            if hit:
                plan.append((tgt, sel))
        if not plan:
            raise _no_match_error(clip, targets, source)
        plans.append(plan)
        for tgt, _ in plan:
            animated_nodes.extend(n for n in tgt.nodes if n not in animated_nodes)

    heads = [head_angles_deg(c.channel_names, c.values) for c in clips]
    head = _head_node(gltf, head_node, animated_nodes) if any(h is not None for h in heads) else None
    rest = tuple(gltf.nodes[head].rotation or (0.0, 0.0, 0.0, 1.0)) if head is not None else (0.0, 0.0, 0.0, 1.0)
    for clip, plan, angles in zip(clips, plans, heads, strict=True):
        times = blob.accessor(clip.times(), "SCALAR", min_max=True)
        samplers: list[pygltflib.AnimationSampler] = []
        channels: list[pygltflib.AnimationChannel] = []
        for tgt, sel in plan:
            output = blob.accessor(clip.values @ sel, "SCALAR")  # (frames, targets) by name; others stay 0
            for node in tgt.nodes:
                samplers.append(pygltflib.AnimationSampler(input=times, interpolation="LINEAR", output=output))
                channels.append(pygltflib.AnimationChannel(
                    sampler=len(samplers) - 1, target=pygltflib.AnimationChannelTarget(node=node, path="weights")))
        if head is not None and angles is not None:
            output = blob.accessor(head_quaternions(angles, rest), "VEC4")
            samplers.append(pygltflib.AnimationSampler(input=times, interpolation="LINEAR", output=output))
            channels.append(pygltflib.AnimationChannel(
                sampler=len(samplers) - 1, target=pygltflib.AnimationChannelTarget(node=head, path="rotation")))
        gltf.animations.append(pygltflib.Animation(name=clip.name, channels=channels, samplers=samplers))

    blob.finish()
    glb = b"".join(gltf.save_to_bytes())
    all_channels: list[str] = []
    for clip in clips:
        all_channels.extend(n for n in clip.channel_names if n not in all_channels)
    unanimated: list[str] = []
    for tgt in targets:
        if tgt.mesh in driven:
            unanimated.extend(n for k, n in enumerate(tgt.names) if k not in driven[tgt.mesh] and n not in unanimated)
    report = GlbReport(
        path="", n_bytes=len(glb), sha256=hashlib.sha256(glb).hexdigest(), animations=tuple(c.name for c in clips),
        animated_nodes=tuple(_node_label(gltf, n) for n in animated_nodes),
        matched_channels=tuple(n for n in all_channels if n in matched),
        unmatched_channels=tuple(n for n in all_channels if n not in matched),
        unanimated_targets=tuple(unanimated), minimal_mesh=minimal,
        head_node=_node_label(gltf, head) if head is not None else "",
    )
    return glb, report


def _no_match_error(clip: Clip, targets: Sequence[_Target], source: str) -> InvalidArgument:
    target_names: list[str] = []
    for tgt in targets:
        target_names.extend(n for n in tgt.names if n not in target_names)
    shown_t = ", ".join(target_names[:6]) + (" ..." if len(target_names) > 6 else "")
    shown_c = ", ".join(clip.channel_names[:6]) + (" ..." if len(clip.channel_names) > 6 else "")
    return InvalidArgument(
        f"{source}: none of the face mesh's {len(target_names)} morph target names matches a channel "
        f"of clip {clip.name!r} (targets: {shown_t}; channels: {shown_c}). Choose the rig profile "
        "whose channel names are the mesh's target names (e.g. arkit52 for ARKit-named shape keys), "
        "write a custom rig profile that renames the channels to these targets (docs/rigs.md), or "
        "rename the mesh's morph targets", field="face_mesh")


def write_glb(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    clips: Sequence[Clip],
    *,
    face_mesh: bytes | str | os.PathLike[str] | None = None,
    face_mesh_name: str = "",
    generator: str = "Mien",
    face_mesh_source: str | None = None,
    head_node: str = "",
) -> GlbReport:
    """Write ``clips`` as a ``.glb`` (see the module docstring); returns what was written.

    ``face_mesh`` is the character's face mesh as ``.glb`` bytes or a path (``None``: generate
    the minimal mesh). ``face_mesh_name`` restricts matching to the mesh of that name (with no
    face mesh it names the generated mesh and node; default ``face``). ``face_mesh_source`` names
    the face mesh file in error messages when it is passed as bytes; ``head_node`` names the node
    the head rotation animates. A path is written atomically (temporary file + rename).
    """
    glb, report = build_glb(clips, face_mesh=face_mesh, face_mesh_name=face_mesh_name, generator=generator,
                            face_mesh_source=face_mesh_source, head_node=head_node)
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(glb)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # only still there if the write or the rename failed
        return replace(report, path=str(path))
    path_or_file.write(glb)
    return report
