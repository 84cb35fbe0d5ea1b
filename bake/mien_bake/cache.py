"""Content hashes, the incremental-bake cache and atomic file writes.

A line is skipped when the hash of everything that determines its files matches the hash recorded
with them and every file it should have exists with the recorded size. The hash covers:

* the audio file's bytes, the transcript, the resolved emotion (``auto`` lines: the emotion the
  replay produced), fps, seed, mode and options;
* the rig profile's content (names, gains, offsets, clamps) and the face mesh's bytes;
* the *engine fingerprint*: the Mien and bake source and data files that shape an animation, the
  configuration sections that do, the neural model file (when one is used), and the versions of
  the numeric libraries. Upgrading Mien or editing its code therefore re-bakes everything.

The cache lives in ``OUT_DIR/.mien-bake/``: ``cache.json`` (replaced whole: temporary file + rename)
plus ``journal.jsonl``, to which one line is appended per finished line *after* its outputs are in
place (constant cost per line, whatever the size of the game). Loading reads both (a torn last
journal line, which only a power loss could leave, is ignored); the end of a bake folds the
journal into ``cache.json`` and deletes it. Temporary files are created in
``OUT_DIR/.mien-bake/tmp/`` (never next to the outputs) and renamed into place, so an interrupted
bake leaves no partial output visible, and a rerun deletes the leftovers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import mien
from mien.config import Config
from mien.emotion import Emotion, EmotionKeyframe
from mien.rig import RigProfile

__all__ = [
    "BAKE_FORMAT",
    "CACHE_DIR",
    "BakeCache",
    "CacheEntry",
    "atomic_write",
    "canonical_json",
    "emotion_json",
    "emotion_state_fingerprint",
    "engine_fingerprint",
    "rig_fingerprint",
    "sha256_hex",
]

BAKE_FORMAT = 1
"""Bumped whenever what the bake writes changes for the same inputs (invalidates every cache)."""
CACHE_DIR = ".mien-bake"
_CACHE_FILE = "cache.json"
_JOURNAL_FILE = "journal.jsonl"
_TMP_DIR = "tmp"
_LIBRARIES = ("numpy", "scipy", "soundfile", "pocketsphinx", "onnxruntime", "tokenizers", "pyyaml")
# Parts of the mien package that never shape a baked animation (transports, the preview page) or that
# are covered separately (the emotion state: auto emotions are hashed by their resolved value).
_NOT_ANIMATION = ("server", "v1", "emotion_state", "data/emotion_state", "data/preview")
_CONFIG_NOT_ANIMATION = ("server", "limits", "state", "emotion_state")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
                      default=str).encode("ascii")


def _tree_digest(root: Path, *, skip: Iterable[str] = ()) -> str:
    """sha256 over the relative paths and bytes of every file below ``root`` (sorted; caches skipped)."""
    skipped = tuple(skip)
    h = hashlib.sha256()
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") or not path.is_file():
            continue
        if any(rel == s or rel.startswith(s + "/") for s in skipped):
            continue
        files.append((rel, path))
    for rel, path in sorted(files):
        h.update(rel.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _library_versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = ""
    return out


def engine_fingerprint(config: Config, speech_model: Path | None) -> dict[str, Any]:
    """What, besides a line's own inputs, determines its files (see the module docstring)."""
    mien_dir = Path(mien.__file__).resolve().parent
    bake_dir = Path(__file__).resolve().parent
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in _CONFIG_NOT_ANIMATION}
    model: dict[str, str] = {}
    if speech_model is not None:
        meta = speech_model.with_name(speech_model.name + ".json")
        model = {"onnx": sha256_hex(speech_model.read_bytes()),
                 "json": sha256_hex(meta.read_bytes()) if meta.is_file() else ""}
    return {
        "bake_format": BAKE_FORMAT,
        "mien": mien.__version__,
        "mien_code": _tree_digest(mien_dir, skip=_NOT_ANIMATION),
        "bake_code": _tree_digest(bake_dir),
        "config": sha256_hex(canonical_json(settings)),
        "speech_model": model,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "libraries": _library_versions(),
    }


def emotion_state_fingerprint() -> str:
    """The emotion-state engine's code and data (the auto-emotion replay's cache key)."""
    mien_dir = Path(mien.__file__).resolve().parent
    return sha256_hex(canonical_json({
        "code": _tree_digest(mien_dir / "emotion_state"),
        "data": _tree_digest(mien_dir / "data" / "emotion_state"),
        "libraries": _library_versions(),
    }))


def rig_fingerprint(rig: RigProfile) -> str:
    """The profile's content: what it maps, not where it was read from."""
    h = hashlib.sha256()
    h.update(canonical_json({"name": rig.name, "version": rig.version, "channels": list(rig.channel_names)}))
    h.update(np.ascontiguousarray(rig.matrix, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(rig.clamps, dtype="<f4").tobytes())
    h.update(canonical_json([ch.offset for ch in rig.channels]))
    return h.hexdigest()


def emotion_json(emotion: Emotion | tuple[EmotionKeyframe, ...]) -> Any:
    """A JSON form of a resolved emotion that round-trips exactly (weights as Python floats)."""
    if isinstance(emotion, Emotion):
        return {k: float(v) for k, v in sorted(emotion.weights.items())}
    return [[float(k.time_s), {c: float(v) for c, v in sorted(k.emotion.weights.items())}] for k in emotion]


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _file_mode()


def atomic_write(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write ``data`` to ``path`` through a temporary file in ``tmp_dir`` (same file system) and a rename."""
    fd, tmp_name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".tmp", dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _MODE)  # mkstemp makes 0600 files; outputs get the usual umask mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only still there if the write or the rename failed


# --------------------------------------------------------------------------------------------
# The cache file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """What a finished line (or character file) was made from, and the files it wrote."""

    hash: str
    outputs: Mapping[str, int] = field(default_factory=dict)
    """File name (relative to OUT_DIR, '/'-separated) -> size in bytes."""

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "outputs": dict(sorted(self.outputs.items()))}


class BakeCache:
    """``OUT_DIR/.mien-bake``: line and character entries plus resolved auto emotions (see the module docstring)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / CACHE_DIR
        self.tmp_dir = self.dir / _TMP_DIR
        self.path = self.dir / _CACHE_FILE
        self.journal_path = self.dir / _JOURNAL_FILE
        self.lines: dict[str, CacheEntry] = {}
        self.characters: dict[str, CacheEntry] = {}
        self.emotions: dict[str, Any] = {}
        self.warning = ""
        """Set when an existing cache could not be read (everything is re-baked)."""
        self._journal: int | None = None
        self.lock_fd: int | None = None
        """The output folder's lock file while this process holds the lock (see ``runner._locked``)."""

    def prepare(self) -> None:
        """Create the folders and delete temporary files an interrupted bake left behind."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_dir.iterdir():
            if leftover.is_file():
                leftover.unlink()

    def load(self) -> None:
        """Read ``cache.json`` and the journal; a damaged cache is dropped (with :attr:`warning`)."""
        try:
            if self.path.is_file():
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                if raw.get("format") != BAKE_FORMAT:
                    self.warning = f"cache {self.path} is from another bake format; re-baking every line"
                    return
                self.lines = {k: _entry(v) for k, v in raw["lines"].items()}
                self.characters = {k: _entry(v) for k, v in raw["characters"].items()}
                self.emotions = dict(raw["emotions"])
            if self.journal_path.is_file():
                for row in self.journal_path.read_text(encoding="utf-8").splitlines():
                    self._replay(row)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError,
                ValueError) as exc:
            self.lines, self.characters, self.emotions = {}, {}, {}
            self.warning = f"cache {self.path} is unreadable ({exc}); re-baking every line"

    def _replay(self, row: str) -> None:
        try:
            item = json.loads(row)
        except json.JSONDecodeError:
            return  # a torn last line (power loss): that line is simply baked again
        if item.get("format") != BAKE_FORMAT:
            return
        if "line" in item:
            self.lines[str(item["line"])] = _entry(item)
        elif "character" in item:
            self.characters[str(item["character"])] = _entry(item)

    def _append(self, item: Mapping[str, Any]) -> None:
        if self._journal is None:
            self._journal = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _MODE)
        data = (json.dumps({"format": BAKE_FORMAT, **item}, sort_keys=True) + "\n").encode("utf-8")
        while data:  # one write() for these short rows; the loop only guards against a short write
            data = data[os.write(self._journal, data):]

    def record_line(self, line_id: str, entry: CacheEntry) -> None:
        """Remember a finished line (call after its outputs are in place)."""
        self.lines[line_id] = entry
        self._append({"line": line_id, **entry.to_json()})

    def record_character(self, character_id: str, entry: CacheEntry) -> None:
        """Remember a written per-character file (call after it is in place)."""
        self.characters[character_id] = entry
        self._append({"character": character_id, **entry.to_json()})

    def save(self) -> None:
        """Write everything to ``cache.json`` (atomically), then drop the journal it now contains."""
        doc = {
            "format": BAKE_FORMAT,
            "lines": {k: v.to_json() for k, v in sorted(self.lines.items())},
            "characters": {k: v.to_json() for k, v in sorted(self.characters.items())},
            "emotions": dict(sorted(self.emotions.items())),
        }
        atomic_write(self.path, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"), self.tmp_dir)
        self.close()
        self.journal_path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None

    def is_fresh(self, entry: CacheEntry | None, digest: str, expected: Iterable[str]) -> bool:
        """True when ``entry`` has ``digest`` and every expected file exists with its recorded size."""
        if entry is None or entry.hash != digest:
            return False
        for name in expected:
            size = entry.outputs.get(name)
            if size is None:
                return False
            try:
                if (self.out_dir / name).stat().st_size != size:
                    return False
            except OSError:
                return False
        return True


def _entry(raw: Mapping[str, Any]) -> CacheEntry:
    outputs = raw["outputs"]
    if not isinstance(raw["hash"], str) or not isinstance(outputs, dict):
        raise ValueError("malformed cache entry")
    return CacheEntry(raw["hash"], {str(k): int(v) for k, v in outputs.items()})
