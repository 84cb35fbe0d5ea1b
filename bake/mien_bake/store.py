"""The shared line store: baked lines by content hash, for bakes on many machines (``mien bake --cache DIR``).

A line's content hash (:meth:`runner._Bake.line_digest`: its audio, transcript, resolved emotion, options, rig,
mesh and the engine fingerprint) determines its files byte for byte, so any machine that baked a line can hand its
files to any other. A store is a folder (a network share, or a CI cache/artifact copied between agents)::

    DIR/lines/<hash[:2]>/<hash>/entry.json     what the line made: file names, sizes, sha256, mode, warnings
    DIR/lines/<hash[:2]>/<hash>/<format file>  glb, csv, json, livelinkface.csv, clip.npy (for per-character files)
    DIR/tmp/                                   entries being written (renamed into place whole)

An entry appears atomically (its folder is built under ``tmp`` and renamed), so a reader never sees half a line;
two machines writing the same line race harmlessly (the second rename finds the first one's identical entry).
Reading checks every file's size and sha256: a damaged entry is ignored (the line is baked again) and reported.

Sharding (``mien bake --shard I/N``) splits the manifest's lines into N groups that independent machines bake into
their own stores; a last bake with every store (``--cache`` once per store, ``--cached-only``) restores every line
and writes the per-character files: the output is byte-identical to a bake of the whole manifest on one machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STORE_FORMAT", "LineStore", "StoredLine", "shard_of", "parse_shard"]

STORE_FORMAT = 1
_ENTRY = "entry.json"
CLIP_FILE = "clip.npy"
_HASH_CHARS = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class StoredLine:
    """A line's files as a store holds them: ``files`` by format (``glb``, ...), the clip's ``.npy`` bytes."""

    digest: str
    files: Mapping[str, bytes]
    clip_npy: bytes | None
    mode: str
    warnings: tuple[str, ...]
    audio_s: float


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LineStore:
    """One store folder. ``get`` never raises for a missing or damaged entry (None, and :attr:`problems`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.problems: list[str] = []
        """Entries that were found damaged (each then baked again)."""

    def _dir(self, digest: str) -> Path:
        if len(digest) != 64 or not set(digest) <= _HASH_CHARS:
            raise ValueError(f"not a sha256 content hash: {digest[:80]!r}")
        return self.root / "lines" / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return (self._dir(digest) / _ENTRY).is_file()

    def get(self, digest: str, formats: Sequence[str], *, want_clip: bool) -> StoredLine | None:
        """The line with this hash, if the store has it whole (every one of ``formats``, the clip if wanted)."""
        folder = self._dir(digest)
        try:
            entry = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.problems.append(f"{folder}: unreadable entry ({exc})")
            return None
        try:
            if entry.get("format") != STORE_FORMAT or entry.get("digest") != digest:
                return None
            declared: Mapping[str, Any] = entry["files"]
            wanted = [*formats, *([CLIP_FILE] if want_clip else [])]
            if any(name not in declared for name in wanted):
                return None  # baked with other formats: not this line's files
            data: dict[str, bytes] = {}
            for name in wanted:
                blob = (folder / name).read_bytes()
                if len(blob) != int(declared[name]["size"]) or _sha(blob) != declared[name]["sha256"]:
                    self.problems.append(f"{folder / name}: size or sha256 differs from its entry (damaged)")
                    return None
                data[name] = blob
            clip = data.pop(CLIP_FILE, None)
            return StoredLine(digest, data, clip, str(entry["mode"]), tuple(entry["warnings"]),
                              float(entry["audio_s"]))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            self.problems.append(f"{folder}: damaged entry ({type(exc).__name__}: {exc})")
            return None

    def put(self, line: StoredLine, line_id: str) -> bool:
        """Add a line (atomically); False when the store already had it. OSError when the store cannot be written."""
        final = self._dir(line.digest)
        if (final / _ENTRY).is_file():
            return False
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{line.digest[:16]}.", dir=tmp_root))
        try:
            blobs = dict(line.files)
            if line.clip_npy is not None:
                blobs[CLIP_FILE] = line.clip_npy
            for name, blob in blobs.items():
                (building / name).write_bytes(blob)
            entry = {"format": STORE_FORMAT, "digest": line.digest, "line_id": line_id, "mode": line.mode,
                     "warnings": list(line.warnings), "audio_s": line.audio_s,
                     "files": {name: {"size": len(blob), "sha256": _sha(blob)} for name, blob in sorted(blobs.items())}}
            (building / _ENTRY).write_text(json.dumps(entry, indent=1, sort_keys=True), encoding="utf-8")
            os.chmod(building, 0o755)  # mkdtemp makes 0700 folders; other machines' users read the store
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(building, final)
            except OSError:
                if (final / _ENTRY).is_file():  # another machine stored the same line meanwhile
                    return False
                raise
            return True
        finally:
            if building.exists():
                shutil.rmtree(building, ignore_errors=True)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (1 <= I <= N) -> (I, N); ValueError naming what is accepted."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: accepted: I/N with whole numbers, e.g. 1/4 (the first of four)") from None
    if not 1 <= index <= count <= 10_000:
        raise ValueError(f"--shard {text!r}: accepted: I/N with 1 <= I <= N <= 10000")
    return index, count


def shard_of(weights: Mapping[str, float], count: int) -> dict[str, int]:
    """Line id -> shard (1..count): the heaviest lines first, each to the least loaded shard (ties: the lowest
    shard, then line ids in order). Depends only on the manifest, so every machine computes the same split."""
    load = [0.0] * count
    out: dict[str, int] = {}
    for line_id, weight in sorted(weights.items(), key=lambda item: (-item[1], item[0])):
        shard = min(range(count), key=lambda s: (load[s], s))
        load[shard] += weight
        out[line_id] = shard + 1
    return out
