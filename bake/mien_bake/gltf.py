"""Binary glTF 2.0 (.glb) writer and reader for baked facial animation.

:func:`write_glb` writes one or more :class:`Clip` s (named curves at a frame rate) as glTF
animations that drive morph-target weights:

* **No face mesh**: a minimal mesh (one triangle) is generated whose morph targets are the
  clips' channels, as named zero-delta ``POSITION`` targets (``mesh.extras.targetNames``), on one
  node. An engine retargets the animation onto its own character by target name.
* **With the character's face mesh** (a self-contained ``.glb``): the file is copied and every
  mesh with ``extras.targetNames`` is matched to the clip channels *by name*, whatever the target
  order; one animation per clip drives the weights of each node using a matched mesh. Channels
  without a target are reported (:attr:`GlbReport.unmatched_channels`); targets without a channel
  are keyed at 0. A mesh file with no matching name at all is an :class:`InvalidArgument` that
  says how to fix it.

Several clips give several named animations in one file (the per-character ``.glb``).

Animation layout (glTF 2.0 §3.11): per clip one ``input`` accessor of float32 times in seconds
(``min``/``max`` set, as the spec requires), and per animated node one ``output`` accessor of
float32 weights, ``frames x targets`` values, sampled ``LINEAR``.

Bytes are deterministic: identical inputs give identical files (fixed JSON key order, no
timestamps, no random ids). The writer uses only :mod:`struct`, :mod:`json` and numpy; chunks
follow the GLB rules (4-byte aligned, the JSON chunk padded with spaces, the BIN chunk with
zeros; ``bufferView.target`` only on vertex data; no ``byteStride`` since nothing is interleaved).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from mien.errors import InvalidArgument

__all__ = [
    "Clip",
    "GlbReport",
    "build_glb",
    "read_glb",
    "read_glb_animation",
    "write_glb",
]

_GLB_MAGIC = 0x46546C67  # "glTF"
_GLB_VERSION = 2
_CHUNK_JSON = 0x4E4F534A  # "JSON"
_CHUNK_BIN = 0x004E4942  # "BIN\0"
_FLOAT = 5126
_ARRAY_BUFFER = 34962
_TRIANGLES = 4
_FIELD = "gltf"
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


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


# --------------------------------------------------------------------------------------------
# GLB container
# --------------------------------------------------------------------------------------------


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def _pack_glb(doc: Mapping[str, Any], binary: bytes) -> bytes:
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    json_bytes = text.encode("utf-8")
    json_bytes += b" " * (_pad4(len(json_bytes)) - len(json_bytes))
    parts = [struct.pack("<II", len(json_bytes), _CHUNK_JSON), json_bytes]
    if binary:
        bin_bytes = binary + b"\x00" * (_pad4(len(binary)) - len(binary))
        parts += [struct.pack("<II", len(bin_bytes), _CHUNK_BIN), bin_bytes]
    body = b"".join(parts)
    return struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, 12 + len(body)) + body


def read_glb(data: bytes | str | os.PathLike[str], source: str | None = None) -> tuple[dict[str, Any], bytes]:
    """Parse a ``.glb`` (bytes or a path) into its JSON document and BIN chunk (``b""`` if none)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        where = source or "<glb bytes>"
    else:
        where = source or str(data)
        try:
            raw = Path(data).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"{where}: cannot read the .glb ({exc})", field=_FIELD) from exc
    if len(raw) < 20:
        raise InvalidArgument(f"{where}: not a binary glTF (.glb) file: only {len(raw)} bytes",
                              field=_FIELD)
    magic, version, length = struct.unpack_from("<III", raw, 0)
    if magic != _GLB_MAGIC:
        raise InvalidArgument(
            f"{where}: not a binary glTF (.glb) file (bad magic). A .gltf text file must be converted "
            "to a self-contained .glb first (e.g. gltf-transform copy in.gltf out.glb)",
            field=_FIELD,
        )
    if version != _GLB_VERSION:
        raise InvalidArgument(f"{where}: glTF container version {version}; only glTF 2.0 is supported",
                              field=_FIELD)
    if length > len(raw):
        raise InvalidArgument(f"{where}: truncated .glb ({len(raw)} of {length} bytes)", field=_FIELD)
    offset = 12
    doc: dict[str, Any] | None = None
    binary = b""
    while offset + 8 <= length:
        chunk_len, chunk_type = struct.unpack_from("<II", raw, offset)
        start, end = offset + 8, offset + 8 + chunk_len
        if end > length:
            raise InvalidArgument(f"{where}: truncated chunk at byte {offset}", field=_FIELD)
        if doc is None:
            if chunk_type != _CHUNK_JSON:
                raise InvalidArgument(f"{where}: the first chunk is not JSON", field=_FIELD)
            try:
                parsed = json.loads(raw[start:end].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidArgument(f"{where}: the JSON chunk is not valid JSON ({exc})",
                                      field=_FIELD) from exc
            if not isinstance(parsed, dict):
                raise InvalidArgument(f"{where}: the JSON chunk is not an object", field=_FIELD)
            doc = parsed
        elif chunk_type == _CHUNK_BIN and not binary:
            binary = raw[start:end]
        offset = _pad4(end)
    if doc is None:
        raise InvalidArgument(f"{where}: no JSON chunk", field=_FIELD)
    return doc, binary


# --------------------------------------------------------------------------------------------
# Building the document
# --------------------------------------------------------------------------------------------


class _Builder:
    """Appends aligned data to the GLB buffer (buffer 0) and records views and accessors."""

    def __init__(self, doc: dict[str, Any], binary: bytes) -> None:
        self.doc = doc
        self.data = bytearray(binary)

    def _view(self, payload: bytes, target: int | None) -> int:
        start = _pad4(len(self.data))
        self.data.extend(b"\x00" * (start - len(self.data)))
        self.data.extend(payload)
        view: dict[str, Any] = {"buffer": 0, "byteOffset": start, "byteLength": len(payload)}
        if target is not None:
            view["target"] = target
        views = self.doc.setdefault("bufferViews", [])
        views.append(view)
        return len(views) - 1

    def accessor(self, array: np.ndarray, kind: str, *, target: int | None = None,
                 min_max: bool = False) -> int:
        arr = np.ascontiguousarray(array, dtype="<f4")
        width = _COMPONENTS[kind]
        count = arr.size // width
        accessor: dict[str, Any] = {
            "bufferView": self._view(arr.tobytes(), target),
            "componentType": _FLOAT,
            "count": count,
            "type": kind,
        }
        if min_max:
            flat = arr.reshape(count, width)
            accessor["min"] = [float(v) for v in flat.min(axis=0)]
            accessor["max"] = [float(v) for v in flat.max(axis=0)]
        accessors = self.doc.setdefault("accessors", [])
        accessors.append(accessor)
        return len(accessors) - 1

    def finish(self) -> bytes:
        data = bytes(self.data) + b"\x00" * (_pad4(len(self.data)) - len(self.data))
        self.doc["buffers"][0]["byteLength"] = len(data)
        return data


@dataclass
class _Target:
    """One animatable node: its mesh's target names and the nodes that use the mesh."""

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
                "increasing float32 key times; lower the frame rate or split the clip",
                field="clips",
            )


def _minimal_document(clips: Sequence[Clip], mesh_name: str, generator: str) -> tuple[
        dict[str, Any], _Builder, list[_Target]]:
    target_names: list[str] = []
    seen: set[str] = set()
    for clip in clips:
        for name in clip.channel_names:
            if name not in seen:
                seen.add(name)
                target_names.append(name)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": generator},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": mesh_name, "mesh": 0}],
        "meshes": [],
        "buffers": [{"byteLength": 0}],
    }
    builder = _Builder(doc, b"")
    # One small triangle (10 cm) so engines have a real primitive to hang the targets on.
    positions = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0]], dtype=np.float32)
    normals = np.array([[0.0, 0.0, 1.0]] * 3, dtype=np.float32)
    pos = builder.accessor(positions, "VEC3", target=_ARRAY_BUFFER, min_max=True)
    nrm = builder.accessor(normals, "VEC3", target=_ARRAY_BUFFER)
    # Every target has zero deltas, so all of them share one accessor.
    zero = builder.accessor(np.zeros((3, 3), dtype=np.float32), "VEC3", target=_ARRAY_BUFFER,
                            min_max=True)
    doc["meshes"].append({
        "name": mesh_name,
        "primitives": [{
            "attributes": {"POSITION": pos, "NORMAL": nrm},
            "targets": [{"POSITION": zero} for _ in target_names],
            "mode": _TRIANGLES,
        }],
        "weights": [0.0] * len(target_names),
        "extras": {"targetNames": list(target_names)},
    })
    return doc, builder, [_Target(mesh=0, names=tuple(target_names), nodes=[0])]


def _external_uris(doc: Mapping[str, Any]) -> list[str]:
    out = []
    for kind in ("buffers", "images"):
        for i, item in enumerate(doc.get(kind, [])):
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith("data:"):
                out.append(f"{kind}[{i}] -> {uri}")
    return out


def _ensure_glb_buffer(doc: dict[str, Any], binary: bytes) -> bytes:
    """Make ``buffers[0]`` the GLB-stored buffer (no uri), shifting references if one is inserted."""
    buffers = doc.setdefault("buffers", [])
    if buffers and "uri" not in buffers[0]:
        return binary
    buffers.insert(0, {"byteLength": 0})
    for view in doc.get("bufferViews", []):
        view["buffer"] = int(view.get("buffer", 0)) + 1
        ext = view.get("extensions", {})
        for value in ext.values() if isinstance(ext, dict) else ():
            if isinstance(value, dict) and "buffer" in value:
                value["buffer"] = int(value["buffer"]) + 1
    return b""


def _face_document(face: bytes, source: str, mesh_name: str, generator: str) -> tuple[
        dict[str, Any], _Builder, list[_Target]]:
    doc, binary = read_glb(face, source)  # a fresh document, ours to modify
    external = _external_uris(doc)
    if external:
        raise InvalidArgument(
            f"{source}: the face mesh refers to external files ({', '.join(external[:3])}); the baked "
            ".glb would lose them. Export the face mesh as a single self-contained .glb "
            "(e.g. gltf-transform copy in.gltf out.glb)",
            field="face_mesh",
        )
    binary = _ensure_glb_buffer(doc, binary)
    declared = int(doc["buffers"][0].get("byteLength", 0))
    if declared > len(binary):
        raise InvalidArgument(
            f"{source}: buffer 0 declares {declared} bytes but the BIN chunk holds {len(binary)}; the "
            "file is truncated or damaged. Re-export the face mesh",
            field="face_mesh",
        )
    meshes = doc.get("meshes", [])
    all_mesh_names = [m.get("name", f"mesh{i}") for i, m in enumerate(meshes)]
    if mesh_name and mesh_name not in all_mesh_names:
        raise InvalidArgument(
            f"{source}: no mesh named {mesh_name!r}; meshes in the file: "
            f"{', '.join(repr(n) for n in all_mesh_names) or 'none'}. Pass one of them as the face "
            "mesh name, or leave it empty to use every mesh with morph target names",
            field="face_mesh_name",
        )
    targets: list[_Target] = []
    for i, mesh in enumerate(meshes):
        if mesh_name and mesh.get("name", f"mesh{i}") != mesh_name:
            continue
        extras = mesh.get("extras")
        names = extras.get("targetNames") if isinstance(extras, dict) else None
        if not isinstance(names, list) or not names:
            continue
        prims = mesh.get("primitives", [])
        counts = {len(p.get("targets", [])) for p in prims}
        if counts != {len(names)}:
            raise InvalidArgument(
                f"{source}: mesh {mesh.get('name', i)!r} lists {len(names)} targetNames but its "
                f"primitives have {sorted(counts)} morph targets; re-export the mesh so the names "
                "match its targets",
                field="face_mesh",
            )
        nodes = [n for n, node in enumerate(doc.get("nodes", [])) if node.get("mesh") == i]
        if nodes:
            targets.append(_Target(mesh=i, names=tuple(str(n) for n in names), nodes=nodes))
    if not targets:
        raise InvalidArgument(
            f"{source}: no mesh{f' named {mesh_name!r}' if mesh_name else ''} has named morph "
            "targets (mesh.extras.targetNames) on a node, so nothing can be animated by name. "
            "Export the face mesh with its shape keys / morph targets and their names (Blender's "
            "glTF exporter writes them by default), or bake without a face mesh",
            field="face_mesh",
        )
    asset = doc.setdefault("asset", {"version": "2.0"})
    previous = asset.get("generator")
    asset["generator"] = f"{generator}; {previous}" if previous else generator
    return doc, _Builder(doc, binary), targets


def _node_label(doc: Mapping[str, Any], index: int) -> str:
    node = doc.get("nodes", [])[index]
    name = node.get("name") if isinstance(node, dict) else None
    return str(name) if name else f"node{index}"


def build_glb(
    clips: Sequence[Clip],
    *,
    face_mesh: bytes | str | os.PathLike[str] | None = None,
    face_mesh_name: str = "",
    generator: str = "Mien",
    face_mesh_source: str | None = None,
) -> tuple[bytes, GlbReport]:
    """The ``.glb`` bytes and report :func:`write_glb` would write (``report.path`` is ``""``)."""
    clips = list(clips)
    _clip_checks(clips)
    if face_mesh is None:
        source = "<generated mesh>"
        doc, builder, targets = _minimal_document(clips, face_mesh_name or "face", generator)
        minimal = True
    else:
        if isinstance(face_mesh, (bytes, bytearray, memoryview)):
            data, source = bytes(face_mesh), face_mesh_source or "<face mesh bytes>"
        else:
            source = face_mesh_source or str(face_mesh)
            try:
                data = Path(face_mesh).read_bytes()
            except OSError as exc:
                raise InvalidArgument(f"{source}: cannot read the face mesh ({exc})",
                                      field="face_mesh") from exc
        doc, builder, targets = _face_document(data, source, face_mesh_name, generator)
        minimal = False

    matched: set[str] = set()
    driven_targets: dict[int, set[int]] = {}
    animated_nodes: list[int] = []
    plans: list[list[tuple[_Target, np.ndarray]]] = []
    for clip in clips:
        index = {name: j for j, name in enumerate(clip.channel_names)}
        plan = []
        for tgt in targets:
            # Selection: column j of the clip -> every target slot with that name.
            sel = np.zeros((len(clip.channel_names), len(tgt.names)), dtype=np.float32)
            hit = False
            for k, tname in enumerate(tgt.names):
                j = index.get(tname)
                if j is not None:
                    sel[j, k] = 1.0
                    matched.add(tname)
                    driven_targets.setdefault(tgt.mesh, set()).add(k)
                    hit = True
            if hit:
                plan.append((tgt, sel))
        if not plan:
            raise _no_match_error(clip, targets, source)
        plans.append(plan)

    animations = doc.setdefault("animations", [])
    for clip, plan in zip(clips, plans, strict=True):
        times = builder.accessor(clip.times(), "SCALAR", min_max=True)
        samplers: list[dict[str, Any]] = []
        channels: list[dict[str, Any]] = []
        for tgt, sel in plan:
            weights = clip.values @ sel  # (frames, targets) by name; unmatched targets stay 0
            output = builder.accessor(weights, "SCALAR")
            for node in tgt.nodes:
                samplers.append({"input": times, "interpolation": "LINEAR", "output": output})
                channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "weights"}})
                if node not in animated_nodes:
                    animated_nodes.append(node)
        animations.append({"name": clip.name, "channels": channels, "samplers": samplers})

    binary = builder.finish()
    glb = _pack_glb(doc, binary)
    all_channels: list[str] = []
    for clip in clips:
        all_channels.extend(n for n in clip.channel_names if n not in all_channels)
    unanimated: list[str] = []
    for tgt in targets:
        if tgt.mesh in driven_targets:
            unanimated.extend(n for k, n in enumerate(tgt.names)
                              if k not in driven_targets[tgt.mesh] and n not in unanimated)
    report = GlbReport(
        path="",
        n_bytes=len(glb),
        sha256=hashlib.sha256(glb).hexdigest(),
        animations=tuple(c.name for c in clips),
        animated_nodes=tuple(_node_label(doc, n) for n in animated_nodes),
        matched_channels=tuple(n for n in all_channels if n in matched),
        unmatched_channels=tuple(n for n in all_channels if n not in matched),
        unanimated_targets=tuple(unanimated),
        minimal_mesh=minimal,
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
        "rename the mesh's morph targets",
        field="face_mesh",
    )


def write_glb(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    clips: Sequence[Clip],
    *,
    face_mesh: bytes | str | os.PathLike[str] | None = None,
    face_mesh_name: str = "",
    generator: str = "Mien",
    face_mesh_source: str | None = None,
) -> GlbReport:
    """Write ``clips`` as a ``.glb`` (see the module docstring); returns what was written.

    ``face_mesh`` is the character's face mesh as ``.glb`` bytes or a path (``None``: generate
    the minimal mesh). ``face_mesh_name`` restricts matching to the mesh of that name (with no
    face mesh it names the generated mesh and node; default ``face``). ``face_mesh_source`` names
    the face mesh file in error messages when it is passed as bytes. A path is written atomically
    (temporary file + rename).
    """
    glb, report = build_glb(clips, face_mesh=face_mesh, face_mesh_name=face_mesh_name,
                            generator=generator, face_mesh_source=face_mesh_source)
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


# --------------------------------------------------------------------------------------------
# Reading animations back
# --------------------------------------------------------------------------------------------


def _read_accessor(doc: Mapping[str, Any], binary: bytes, index: int, where: str) -> np.ndarray:
    acc = doc["accessors"][index]
    if acc.get("componentType") != _FLOAT:
        raise InvalidArgument(f"{where}: accessor {index} is not float32 (componentType "
                              f"{acc.get('componentType')}); only float accessors are read", field=_FIELD)
    width = _COMPONENTS[acc["type"]]
    count = int(acc["count"])
    if "bufferView" not in acc:
        return np.zeros((count, width), dtype=np.float32)
    view = doc["bufferViews"][acc["bufferView"]]
    if int(view.get("buffer", 0)) != 0 or "uri" in doc["buffers"][0]:
        raise InvalidArgument(f"{where}: accessor {index} is not in the GLB buffer", field=_FIELD)
    start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
    stride = int(view.get("byteStride", 4 * width))
    rows = np.ndarray((count, width), dtype="<f4", buffer=binary, offset=start, strides=(stride, 4))
    return np.array(rows, dtype=np.float32)


def read_glb_animation(
    path: str | os.PathLike[str] | bytes, animation: str | int = 0, node: str | int | None = None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """One animation's morph-weight curves: ``(target names, times (T,), weights (T, targets))``.

    ``animation`` is an index or a name; ``node`` picks the animated node (index or name) when
    several are animated, else the first ``weights`` channel is read. Target names come from the
    node's ``mesh.extras.targetNames`` (``target<i>`` when absent). For tests and tools.
    """
    doc, binary = read_glb(path)
    where = "<glb bytes>" if isinstance(path, bytes) else str(path)
    anims = doc.get("animations", [])
    names = [a.get("name", f"animation{i}") for i, a in enumerate(anims)]
    if isinstance(animation, str):
        if animation not in names:
            raise InvalidArgument(f"{where}: no animation named {animation!r}; animations: {names}",
                                  field=_FIELD)
        anim = anims[names.index(animation)]
    else:
        if not 0 <= animation < len(anims):
            raise InvalidArgument(f"{where}: no animation #{animation}; the file has {len(anims)}",
                                  field=_FIELD)
        anim = anims[animation]
    chosen = None
    for channel in anim.get("channels", []):
        target = channel.get("target", {})
        if target.get("path") != "weights" or "node" not in target:
            continue
        n = int(target["node"])
        if node is None or node == n or node == doc["nodes"][n].get("name"):
            chosen = channel
            break
    if chosen is None:
        raise InvalidArgument(f"{where}: animation {animation!r} has no morph-weight channel"
                              + (f" for node {node!r}" if node is not None else ""), field=_FIELD)
    node_index = int(chosen["target"]["node"])
    sampler = anim["samplers"][chosen["sampler"]]
    mesh = doc["meshes"][doc["nodes"][node_index]["mesh"]]
    n_targets = len(mesh["primitives"][0].get("targets", []))
    extras = mesh.get("extras") if isinstance(mesh.get("extras"), dict) else {}
    target_names = tuple(extras.get("targetNames") or (f"target{i}" for i in range(n_targets)))
    times = _read_accessor(doc, binary, sampler["input"], where)[:, 0]
    flat = _read_accessor(doc, binary, sampler["output"], where)[:, 0]
    if sampler.get("interpolation") == "CUBICSPLINE":
        weights = flat.reshape(len(times), 3, n_targets)[:, 1, :]
    else:
        weights = flat.reshape(len(times), n_targets)
    return target_names, times, weights
