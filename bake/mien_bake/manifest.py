"""The bake manifest: parsing and up-front validation (every problem at once, with file:line, key and fix).

A manifest is a YAML file (``yaml.SafeLoader`` plus line marks and a duplicate-key check)::

    version: 1
    defaults:                      # all optional
      fps: 60                      # frames per second of every output (config animation.default_fps)
      rig: arkit52                 # rig of characters that do not name one
      seed: 0                      # base seed; each line's seed is derived from it and the line id
      formats: [glb, csv, json]    # files written per line (also: livelinkface, a Live Link Face take CSV)
      per_character_glb: false     # also characters/<id>.glb holding all its lines as named animations
      mode: auto                   # auto | aligned | recognized | neural
      emotion: neutral             # lines without an emotion (default: auto with a personality, else neutral)
      options: {expression_scale: 1.0}     # AnimationOptions scales (0..2)
    characters:
      guard:
        rig: metahuman             # a shipped profile name, or a .yaml profile path (relative)
        face_mesh: meshes/guard.glb          # optional; morph targets matched by name
        face_mesh_name: head       # optional; only the mesh of that name is animated
        persona: stoic_guard       # optional personality: a preset name ...
        ocean: [0.3, 0.8, 0.4, 0.5, 0.2]     # ... or OCEAN (O, C, E, A, N in [0, 1]); not both
        options: {blink_scale: 0.8}
    lines:
      - id: guard_001              # unique (case-insensitive), [A-Za-z0-9][A-Za-z0-9_.-]*
        character: guard
        audio: audio/guard_001.wav
        transcript: "Halt! Who goes there?"  # or transcript_file: audio/guard_001.txt; or neither
        emotion: angry:0.8         # CLI --emotion syntax, or auto (needs a personality)
        heard: "I'm just a traveller."       # optional: what the NPC heard before (auto emotions)
        game_time_s: 12.5          # optional: game clock for the emotion state's decay
        seed: 7                    # optional: overrides the derived seed
        mode: aligned              # optional: overrides defaults.mode
        options: {gaze_scale: 0.5} # optional

Paths are relative to the manifest's folder and may not leave it: ``..``, absolute paths and
drive letters are rejected, and so is a symbolic link (or a path through one) that resolves to a
file outside the folder, unless ``allow_outside_inputs`` (``mien bake --allow-outside-inputs``)
trusts such links. Every input must be a regular file (not a folder, device or pipe) of at most
``limits.max_message_bytes``. No two output files may share a name, compared ignoring case as on
Windows and macOS file systems: a line id may not name the bake's report (``bake_report`` with the
``json`` format), nor write another line's file (``a.livelinkface`` with ``csv`` and ``a`` with
``livelinkface``).

:func:`load_manifest` never raises for a bad manifest: it returns a :class:`Manifest` whose
:attr:`~Manifest.problems` list every problem and whose :attr:`~Manifest.lines` hold only the
lines that can be baked. A problem is *fatal* when nothing can be baked (YAML syntax, top-level
structure, ``version``, ``defaults``); otherwise it names the lines it stops.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import posixpath
import re
import stat
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast

import numpy as np
import yaml

from mien import AnimationOptions
from mien.config import Config, short_repr
from mien.emotion import Emotion, EmotionKeyframe, parse_emotion
from mien.emotion_state import load_personas
from mien.emotion_state.temperament import check_ocean
from mien.errors import MienError
from mien.files import file_kind, read_limited, stat_or_none
from mien.rig import RigProfile, load_rig, parse_rig, shipped_rig_names

from .gltf import Clip, build_glb

__all__ = [
    "CHARACTERS_DIR",
    "FORMATS",
    "FORMAT_SUFFIX",
    "MANIFEST_VERSION",
    "MODES",
    "REPORT_FILE",
    "Character",
    "Defaults",
    "Line",
    "LineEmotion",
    "Manifest",
    "Mode",
    "Problem",
    "derive_seed",
    "load_manifest",
]

MANIFEST_VERSION = 1
REPORT_FILE = "bake_report.json"
"""The bake's report, beside the line files in the output folder (no line may write a file of that name)."""
CHARACTERS_DIR = "characters"
"""Folder of the per-character files in the output folder."""
FORMATS: tuple[str, ...] = ("glb", "csv", "json", "livelinkface")
FORMAT_SUFFIX: dict[str, str] = {"glb": "glb", "csv": "csv", "json": "json", "livelinkface": "livelinkface.csv"}
"""File name ending of each format (a Live Link Face take is a .csv)."""
DEFAULT_FORMATS: tuple[str, ...] = ("glb", "csv", "json")
MODES: tuple[str, ...] = ("auto", "aligned", "recognized", "neural")
Mode: TypeAlias = Literal["auto", "aligned", "recognized", "neural"]
AUTO = "auto"

_TOP_KEYS = ("version", "defaults", "characters", "lines")
_DEFAULT_KEYS = ("fps", "rig", "seed", "formats", "per_character_glb", "mode", "emotion", "options")
_CHARACTER_KEYS = ("rig", "face_mesh", "face_mesh_name", "persona", "ocean", "options")
_LINE_KEYS = ("id", "character", "audio", "transcript", "transcript_file", "emotion", "heard", "game_time_s",
              "seed", "mode", "options")
_OPTION_KEYS = tuple(f.name for f in fields(AnimationOptions))
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ID_MAX = 100
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
_SEED_LIMIT = 2**64
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_HINTS_MAX = 20
"""Missing files that get a "did you mean" (each compares the name with its folder's files)."""
_MANIFEST_MAX_BYTES = 64 * 1024 * 1024
"""About 400,000 lines: far more than a game ships in one manifest, and parsed in minutes."""

LineEmotion: TypeAlias = Emotion | tuple[EmotionKeyframe, ...] | None
"""A line's emotion: constant, keyframed, or ``None`` for ``auto`` (from the character's state)."""


# --------------------------------------------------------------------------------------------
# The data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the manifest: where, what, and how to fix it."""

    source: str
    """The manifest file as given."""
    line: int | None
    """1-based line in the manifest (None when the file has no usable structure)."""
    key: str
    """The dotted key, e.g. ``lines[3].emotion`` or ``characters.guard.rig``."""
    message: str
    fix: str
    line_ids: tuple[str, ...] = ()
    """The lines this problem stops from baking (empty for a character or fatal problem: see below)."""
    fatal: bool = False
    """True when the manifest is unusable as a whole (nothing is baked)."""

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.key}: {self.message}. Fix: {self.fix}"

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "key": self.key, "message": self.message,
                "fix": self.fix, "line_ids": list(self.line_ids), "fatal": self.fatal}


@dataclass(frozen=True)
class Defaults:
    """The manifest's ``defaults`` section, filled in."""

    fps: float
    rig: str
    seed: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS
    per_character_glb: bool = False
    mode: Mode = "auto"
    emotion: str | None = None
    """The ``emotion`` of lines that state none; None = auto for characters with a personality, else neutral."""
    options: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Character:
    """A speaker: its rig profile, optional face mesh and optional personality."""

    id: str
    rig: RigProfile
    rig_ref: str
    """As written: a shipped profile name or a path relative to the manifest."""
    rig_shipped: bool
    """True for a shipped profile (animated by name); False for a user's .yaml file."""
    rig_text: str = ""
    """The user profile's YAML text (empty for shipped profiles), re-parsed by the bake workers."""
    face_mesh: Path | None = None
    face_mesh_ref: str = ""
    face_mesh_bytes: bytes = b""
    face_mesh_name: str = ""
    unmatched_channels: tuple[str, ...] = ()
    """Rig channels with no morph target of that name on the face mesh (dropped from the .glb)."""
    persona: str | None = None
    ocean: tuple[float, float, float, float, float] | None = None
    options: Mapping[str, float] = field(default_factory=dict)
    yaml_line: int | None = None

    @property
    def has_personality(self) -> bool:
        return self.persona is not None or self.ocean is not None


@dataclass(frozen=True)
class Line:
    """One line to bake, validated: every path exists and every value is in range."""

    id: str
    index: int
    """Position in the manifest's ``lines`` (0-based); the order of the emotion-state replay."""
    character: str
    audio: Path
    audio_ref: str
    transcript: str | None
    emotion: LineEmotion
    emotion_text: str
    """As written (or the default that applied), e.g. ``angry:0.8`` or ``auto``."""
    explicit_emotion: bool
    """True when the line (or defaults.emotion) states the emotion; a writer's tag also sets the NPC state."""
    heard: str | None
    game_time_s: float | None
    seed: int
    mode: Mode
    options: AnimationOptions
    yaml_line: int | None = None

    @property
    def is_auto(self) -> bool:
        return self.emotion is None


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: what can be baked, and every problem found."""

    path: Path
    source: str
    root: Path
    defaults: Defaults | None
    characters: Mapping[str, Character]
    lines: tuple[Line, ...]
    """The valid lines, in manifest order."""
    problems: tuple[Problem, ...]
    declared_line_ids: tuple[str, ...]
    """Every line id the manifest declares (valid or not), in order; ``line<i>`` for lines without one."""
    failed_line_ids: tuple[str, ...]
    """Declared lines that cannot be baked because of a problem."""
    input_files: tuple[Path, ...] = ()
    """Every file the manifest reads (itself included): its folder entry (parent folders resolved) and, for a
    symbolic link, the file it resolves to. The bake refuses to write over any of them."""

    @property
    def fatal(self) -> bool:
        return any(p.fatal for p in self.problems)


def derive_seed(base: int, line_id: str) -> int:
    """A line's default seed: stable, different per line (so lines do not blink in unison)."""
    digest = hashlib.sha256(f"{base}:{line_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


# --------------------------------------------------------------------------------------------
# YAML with line marks
# --------------------------------------------------------------------------------------------


class _MarkedDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _MarkedList(list[Any]):
    """A YAML sequence that remembers its own line and each item's line (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader (PyYAML's wheels include libyaml; 10x faster than ``yaml.SafeLoader`` on a long
    manifest) that records line marks and rejects duplicate keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _MarkedDict:
    loader.flatten_mapping(node)
    out = _MarkedDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                    "found an unhashable key", key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                    f"found duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _MarkedList:
    out = _MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _key_line(mapping: object, key: str) -> int | None:
    if isinstance(mapping, _MarkedDict):
        return mapping.key_lines.get(key, mapping.line or None)
    return None


def _item_line(seq: object, i: int) -> int | None:
    if isinstance(seq, _MarkedList) and i < len(seq.item_lines):
        return seq.item_lines[i]
    return None


def _line_of(node: object) -> int | None:
    line = getattr(node, "line", 0)
    return int(line) if line else None


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _did_you_mean(word: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: object) -> str:
    """A short repr, bounded whatever the value (never printed whole: a YAML alias bomb is small in memory but
    exponential when printed)."""
    text = short_repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    """Collects problems while the manifest is read."""

    def __init__(self, source: str, root: Path, config: Config, allow_outside: bool = False) -> None:
        self.source = source
        self.root = root
        self.config = config
        self.allow_outside = allow_outside
        self.problems: list[Problem] = []
        self.inputs: list[Path] = []
        self._hints = 0
        self._files: dict[str, tuple[Path, Path] | str] = {}

    def add(self, line: int | None, key: str, message: str, fix: str, *, line_ids: tuple[str, ...] = (),
            fatal: bool = False) -> None:
        self.problems.append(Problem(self.source, line, key, message, fix, line_ids, fatal))

    def unknown_keys(self, mapping: Mapping[Any, Any], accepted: tuple[str, ...], where: str,
                     line_ids: tuple[str, ...] = (), fatal: bool = False) -> bool:
        """Report keys not in ``accepted``; True if there were any."""
        bad = [k for k in mapping if k not in accepted]
        for key in bad:
            self.add(_key_line(mapping, key), f"{where}.{key}" if where else str(key),
                     f"unknown key {key!r}{_did_you_mean(key, accepted)}",
                     f"use only {', '.join(accepted)}", line_ids=line_ids, fatal=fatal)
        return bool(bad)

    def relative_file(self, value: object, line: int | None, key: str, what: str,
                      line_ids: tuple[str, ...] = ()) -> Path | None:
        """A path relative to the manifest folder that stays inside it and names an existing file."""
        if not isinstance(value, str) or not value.strip():
            self.add(line, key, f"{what} must be a path (text) relative to the manifest, got {_describe(value)}",
                     f"write e.g. {key.rsplit('.', 1)[-1]}: folder/file", line_ids=line_ids)
            return None
        text = value.strip().replace("\\", "/")
        if text.startswith("/") or _DRIVE_RE.match(text):
            self.add(line, key, f"{what} {value!r} is an absolute path; paths must be relative to the manifest "
                     f"folder {self.root}", "move the file into the manifest's folder (or a subfolder) and "
                     "write its path relative to the manifest", line_ids=line_ids)
            return None
        normal = posixpath.normpath(text)
        if normal == ".." or normal.startswith("../"):
            self.add(line, key, f"{what} {value!r} leaves the manifest's folder {self.root}",
                     "keep every file inside the manifest's folder (or a subfolder), or move the manifest up "
                     "to a folder that contains them", line_ids=line_ids)
            return None
        path = self.root / normal
        found = self._files.get(normal)
        if found is None:
            found = self._files[normal] = self._probe(path)
        if isinstance(found, tuple):
            real, entry = found
            if self.allow_outside or real.is_relative_to(self.root):
                self.inputs.extend((entry, real))
                return real
            problem, fix = (f"{what} {value!r} is a symbolic link (or lies under one) to {real}, outside the "
                            f"manifest's folder {self.root}", "copy the file into the manifest's folder, or run mien "
                            "bake with --allow-outside-inputs to trust links that leave it")
        elif found == "missing":
            problem = f"{what} {value!r} does not exist{self._hint(path, normal)}"
            fix = f"check the path; it is relative to the manifest's folder {self.root}"
        elif found.startswith("error:"):
            problem, fix = f"{what} {value!r} cannot be opened ({found[6:]})", "check the path and its permissions"
        else:
            problem, fix = (f"{what} {value!r} is {found}, not a file",
                            "name a regular file (a folder, device or pipe cannot be read as one)")
        self.add(line, key, problem, fix, line_ids=line_ids)
        return None

    @staticmethod
    def _probe(path: Path) -> tuple[Path, Path] | str:
        """(the file, its folder entry) for a regular file (symlinks resolved), else what is wrong: "missing",
        "error:<reason>" or the kind of thing it is. Cached per path: many lines may share a file."""
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        except OSError as exc:  # a symlink loop, a folder it may not enter
            return f"error:{exc.strerror}"
        if not stat.S_ISREG(st.st_mode):
            return file_kind(st)
        return path.resolve(), Path(os.path.realpath(path.parent)) / path.name

    def _hint(self, path: Path, normal: str) -> str:
        """" (did you mean ...?)" for the first few missing files (a huge manifest of typos stays fast)."""
        self._hints += 1
        parent = path.parent
        if self._hints > _HINTS_MAX or not parent.is_dir():
            return ""
        names = sorted(p.name for p in parent.iterdir() if p.is_file())
        close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.6)
        return f" (did you mean {posixpath.join(posixpath.dirname(normal), close[0])!r}?)" if close else ""

    def read(self, path: Path, line: int | None, key: str, line_ids: tuple[str, ...] = (),
             limit: int | None = None) -> bytes | None:
        """A validated input's bytes, bounded by ``limit`` (default limits.max_message_bytes, as a request to the
        sidecar)."""
        try:
            with path.open("rb") as handle:
                return read_limited(handle, limit or self.config.limits.max_message_bytes, path.name, key)
        except OSError as exc:
            self.add(line, key, f"cannot read {path.name}: {exc.strerror}", "check the file's permissions",
                     line_ids=line_ids)
        except MienError as exc:
            self.add(line, key, str(exc), "use a smaller file, or raise limits.max_message_bytes in the --config",
                     line_ids=line_ids)
        return None

    def identifier(self, value: object, line: int | None, key: str, what: str,
                   line_ids: tuple[str, ...] = ()) -> str | None:
        """A filesystem-safe id (it names output files)."""
        if not isinstance(value, str):
            self.add(line, key, f"{what} must be text, got {_describe(value)}",
                     f"quote it: {key.rsplit('.', 1)[-1]}: \"{value}\"", line_ids=line_ids)
            return None
        stem = value.split(".", 1)[0].lower()
        if not _ID_RE.match(value) or len(value) > _ID_MAX or value.endswith(".") or stem in _WINDOWS_RESERVED:
            self.add(line, key, f"{what} {value!r} is not a safe file name",
                     f"use 1 to {_ID_MAX} letters, digits, '_', '-' or '.', starting with a letter or digit, "
                     "not ending with '.', and not a reserved device name (CON, NUL, COM1, ...)",
                     line_ids=line_ids)
            return None
        return value

    def options(self, value: object, line: int | None, key: str, line_ids: tuple[str, ...] = (),
                fatal: bool = False) -> dict[str, float] | None:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(line, key, f"options must be a mapping of scale names to numbers, got {_describe(value)}",
                     f"write e.g. {key.rsplit('.', 1)[-1]}: {{expression_scale: 0.8}}", line_ids=line_ids,
                     fatal=fatal)
            return None
        ok = not self.unknown_keys(value, _OPTION_KEYS, key, line_ids, fatal)
        out: dict[str, float] = {}
        for name in _OPTION_KEYS:
            if name not in value:
                continue
            v = value[name]
            if not _is_number(v) or not 0.0 <= float(v) <= 2.0:
                self.add(_key_line(value, name), f"{key}.{name}", f"must be a number from 0 to 2, got {_describe(v)}",
                         "write 0 (off), 1 (default) or up to 2", line_ids=line_ids, fatal=fatal)
                ok = False
            else:
                out[name] = float(v)
        return out if ok else None

    def mode(self, value: object, line: int | None, key: str, line_ids: tuple[str, ...] = (),
             fatal: bool = False) -> Mode | None:
        if value in MODES:
            return cast(Mode, value)
        self.add(line, key, f"unknown mode {_describe(value)}{_did_you_mean(value, MODES)}",
                 f"use one of {', '.join(MODES)}", line_ids=line_ids, fatal=fatal)
        return None

    def seed(self, value: object, line: int | None, key: str, line_ids: tuple[str, ...] = (),
             fatal: bool = False) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _SEED_LIMIT:
            return value
        self.add(line, key, f"seed must be a whole number from 0 to 2^64 - 1, got {_describe(value)}",
                 "write e.g. seed: 7", line_ids=line_ids, fatal=fatal)
        return None


def _normal_ref(value: object) -> str:
    """A validated relative path as written, normalised ('/'-separated), for the outputs' metadata."""
    return posixpath.normpath(str(value).strip().replace("\\", "/"))


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _read_defaults(chk: _Checker, raw: object, line: int | None) -> Defaults | None:
    anim = chk.config.animation
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        chk.add(line, "defaults", f"must be a mapping, got {_describe(raw)}",
                "write defaults: {fps: 60, formats: [glb, csv, json]} or leave it out", fatal=True)
        return None
    bad = chk.unknown_keys(raw, _DEFAULT_KEYS, "defaults", fatal=True)
    fps = raw.get("fps", anim.default_fps)
    if not _is_number(fps) or not anim.min_fps <= float(fps) <= anim.max_fps:
        chk.add(_key_line(raw, "fps"), "defaults.fps", f"fps must be a number from {anim.min_fps:g} to "
                f"{anim.max_fps:g}, got {_describe(fps)}", f"write e.g. fps: {anim.default_fps:g}", fatal=True)
        bad = True
    rig = raw.get("rig", anim.default_rig)
    if not isinstance(rig, str) or not rig.strip():
        chk.add(_key_line(raw, "rig"), "defaults.rig", f"rig must be a profile name or a .yaml path, got "
                f"{_describe(rig)}", f"use one of {', '.join(shipped_rig_names())} or a path", fatal=True)
        bad = True
    seed = chk.seed(raw.get("seed", 0), _key_line(raw, "seed"), "defaults.seed", fatal=True)
    formats_raw = raw.get("formats", list(DEFAULT_FORMATS))
    formats: tuple[str, ...] = ()
    if (not isinstance(formats_raw, list) or not formats_raw or any(f not in FORMATS for f in formats_raw)
            or len(set(formats_raw)) != len(formats_raw)):
        chk.add(_key_line(raw, "formats"), "defaults.formats", f"formats must be a non-empty list of distinct "
                f"{', '.join(FORMATS)}, got {_describe(formats_raw)}", "write e.g. formats: [glb, csv]", fatal=True)
        bad = True
    else:
        formats = tuple(f for f in FORMATS if f in formats_raw)
    per_char = raw.get("per_character_glb", False)
    if not isinstance(per_char, bool):
        chk.add(_key_line(raw, "per_character_glb"), "defaults.per_character_glb",
                f"must be true or false, got {_describe(per_char)}", "write per_character_glb: true", fatal=True)
        bad = True
    mode = chk.mode(raw.get("mode", "auto"), _key_line(raw, "mode"), "defaults.mode", fatal=True)
    emotion = raw.get("emotion")
    if emotion is not None:
        if not isinstance(emotion, str):
            chk.add(_key_line(raw, "emotion"), "defaults.emotion", f"must be text, got {_describe(emotion)}",
                    "quote it, e.g. emotion: \"angry:0.5\"", fatal=True)
            bad = True
        elif emotion.strip().lower() != AUTO:
            try:
                parse_emotion(emotion)
            except MienError as exc:
                chk.add(_key_line(raw, "emotion"), "defaults.emotion", str(exc), _EMOTION_FIX, fatal=True)
                bad = True
    options = chk.options(raw.get("options"), _key_line(raw, "options"), "defaults.options", fatal=True)
    if bad or seed is None or mode is None or options is None:
        return None
    assert isinstance(rig, str) and _is_number(fps)
    return Defaults(fps=float(fps), rig=rig.strip(), seed=seed, formats=formats, per_character_glb=per_char,
                    mode=mode, emotion=emotion.strip() if isinstance(emotion, str) else None, options=options)


_EMOTION_FIX = ("write a category (neutral, happy, sad, angry, fear, disgust, surprise) with an optional "
                "intensity (angry:0.7), vad:V,A,D, keyframes 0:neutral;1.5:angry:0.8, or auto")


def _looks_like_path(rig: str) -> bool:
    return "/" in rig or "\\" in rig or rig.endswith((".yaml", ".yml"))


def _read_rig(chk: _Checker, ref: str, line: int | None, key: str) -> tuple[RigProfile, bool, str] | None:
    if not _looks_like_path(ref):
        try:
            return load_rig(ref, allow_paths=False), True, ""
        except MienError as exc:
            chk.add(line, key, str(exc), "name a shipped profile, or give the path of your profile .yaml "
                    "relative to the manifest (docs/rigs.md)")
            return None
    path = chk.relative_file(ref, line, key, "rig profile")
    data = chk.read(path, line, key) if path is not None else None
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
        return parse_rig(text, ref), False, text
    except UnicodeDecodeError as exc:
        chk.add(line, key, f"cannot read rig profile {ref!r}: {exc}", "save it as a UTF-8 YAML text file")
    except MienError as exc:
        chk.add(line, key, str(exc), "fix the profile (docs/rigs.md)")
    return None


def _read_character(chk: _Checker, cid: str, raw: object, line: int | None, defaults: Defaults,
                    personas: Mapping[str, object]) -> Character | None:
    where = f"characters.{cid}"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        chk.add(line, where, f"must be a mapping, got {_describe(raw)}",
                f"write {cid}: {{rig: arkit52}} (every key is optional)")
        return None
    ok = not chk.unknown_keys(raw, _CHARACTER_KEYS, where)
    rig_ref = raw.get("rig", defaults.rig)
    rig: tuple[RigProfile, bool, str] | None = None
    if not isinstance(rig_ref, str) or not rig_ref.strip():
        chk.add(_key_line(raw, "rig"), f"{where}.rig", f"rig must be a profile name or a .yaml path, got "
                f"{_describe(rig_ref)}", f"use one of {', '.join(shipped_rig_names())} or a path")
    else:
        rig_ref = rig_ref.strip()
        rig = _read_rig(chk, rig_ref, _key_line(raw, "rig") if "rig" in raw else line, f"{where}.rig")
    mesh_path: Path | None = None
    mesh_bytes = b""
    mesh_ref = ""
    mesh_name = raw.get("face_mesh_name", "")
    if not isinstance(mesh_name, str):
        chk.add(_key_line(raw, "face_mesh_name"), f"{where}.face_mesh_name",
                f"must be text, got {_describe(mesh_name)}", "quote the mesh name")
        ok, mesh_name = False, ""
    unmatched: tuple[str, ...] = ()
    if "face_mesh" in raw:
        mesh_path = chk.relative_file(raw["face_mesh"], _key_line(raw, "face_mesh"), f"{where}.face_mesh",
                                      "face mesh")
        ok = ok and mesh_path is not None
        if mesh_path is not None:
            mesh_ref = _normal_ref(raw["face_mesh"])
            data = chk.read(mesh_path, _key_line(raw, "face_mesh"), f"{where}.face_mesh")
            ok = ok and data is not None
            mesh_bytes = data or b""
    elif mesh_name:
        chk.add(_key_line(raw, "face_mesh_name"), f"{where}.face_mesh_name", "face_mesh_name without face_mesh",
                "add face_mesh: <the .glb> or remove face_mesh_name")
        ok = False
    if rig is not None and mesh_bytes:
        # The writer's own checks, on a one-frame clip of the rig's channels: external files, mesh name,
        # target names matching no channel.
        probe = Clip("probe", rig[0].channel_names, 1.0, np.zeros((1, len(rig[0].channel_names)), np.float32))
        try:
            _, report = build_glb([probe], face_mesh=mesh_bytes, face_mesh_name=mesh_name, face_mesh_source=mesh_ref)
            unmatched = report.unmatched_channels
        except MienError as exc:
            chk.add(_key_line(raw, "face_mesh"), f"{where}.face_mesh", str(exc),
                    f"see above; the rig is {rig[0].name!r}")
            ok = False
    persona = raw.get("persona")
    ocean: tuple[float, float, float, float, float] | None = None
    if persona is not None and "ocean" in raw:
        chk.add(_key_line(raw, "ocean"), f"{where}.ocean", "both persona and ocean are given",
                "keep one: persona: <preset> or ocean: [O, C, E, A, N]")
        ok = False
    if persona is not None and (not isinstance(persona, str) or persona not in personas):
        chk.add(_key_line(raw, "persona"), f"{where}.persona",
                f"unknown persona {_describe(persona)}{_did_you_mean(persona, personas)}",
                f"use one of {', '.join(sorted(personas))}, or ocean: [O, C, E, A, N]")
        ok = False
    if "ocean" in raw:
        try:
            ocean = check_ocean(raw["ocean"], field=f"{where}.ocean")
        except MienError as exc:
            chk.add(_key_line(raw, "ocean"), f"{where}.ocean", str(exc), "write ocean: [0.5, 0.5, 0.5, 0.5, 0.5]")
            ok = False
    options = chk.options(raw.get("options"), _key_line(raw, "options"), f"{where}.options")
    if not ok or rig is None or options is None:
        return None
    profile, shipped, text = rig
    return Character(
        id=cid, rig=profile, rig_ref=str(rig_ref), rig_shipped=shipped, rig_text=text, face_mesh=mesh_path,
        face_mesh_ref=mesh_ref, face_mesh_bytes=mesh_bytes, face_mesh_name=mesh_name, unmatched_channels=unmatched,
        persona=persona if isinstance(persona, str) else None, ocean=ocean, options=options, yaml_line=line,
    )


def _read_line(chk: _Checker, i: int, raw: object, line: int | None, lid: str, defaults: Defaults,
               characters: Mapping[str, Character | None]) -> Line | None:
    where = f"lines[{i}]"
    ids = (lid,)
    assert isinstance(raw, Mapping)
    ok = not chk.unknown_keys(raw, _LINE_KEYS, where, ids)
    for required in ("character", "audio"):
        if required not in raw:
            chk.add(line, f"{where}.{required}", f"line {lid!r} has no {required}",
                    "add character: <a key of characters>" if required == "character"
                    else "add audio: <the audio file, relative to the manifest>", line_ids=ids)
            ok = False
    cid = raw.get("character")
    character: Character | None = None
    if "character" in raw:
        if not isinstance(cid, str) or cid not in characters:
            chk.add(_key_line(raw, "character"), f"{where}.character",
                    f"unknown character {_describe(cid)}{_did_you_mean(cid, characters)}",
                    f"use one of {', '.join(characters) or '(none: add a characters section)'}", line_ids=ids)
            ok = False
        else:
            character = characters[cid]
            if character is None:
                chk.add(_key_line(raw, "character"), f"{where}.character",
                        f"character {cid!r} has errors (reported above)", f"fix characters.{cid}", line_ids=ids)
                ok = False
    audio = None
    if "audio" in raw:
        audio = chk.relative_file(raw["audio"], _key_line(raw, "audio"), f"{where}.audio", "audio file", ids)
        ok = ok and audio is not None
    transcript: str | None = None
    if "transcript" in raw and "transcript_file" in raw:
        chk.add(_key_line(raw, "transcript_file"), f"{where}.transcript_file",
                "both transcript and transcript_file are given", "keep one of them", line_ids=ids)
        ok = False
    elif "transcript" in raw:
        value = raw["transcript"]
        if value is not None and not isinstance(value, str):
            chk.add(_key_line(raw, "transcript"), f"{where}.transcript", f"must be text, got {_describe(value)}",
                    f"quote it: transcript: \"{value}\"", line_ids=ids)
            ok = False
        else:
            transcript = value.strip() if isinstance(value, str) and value.strip() else None
    elif "transcript_file" in raw:
        path = chk.relative_file(raw["transcript_file"], _key_line(raw, "transcript_file"),
                                 f"{where}.transcript_file", "transcript file", ids)
        data = (chk.read(path, _key_line(raw, "transcript_file"), f"{where}.transcript_file", ids,
                         limit=4 * chk.config.limits.max_text_chars + 4) if path else None)  # UTF-8: <= 4 bytes/char
        if data is None:
            ok = False
        else:
            try:
                transcript = data.decode("utf-8").strip() or None
            except UnicodeDecodeError as exc:
                chk.add(_key_line(raw, "transcript_file"), f"{where}.transcript_file", f"cannot read it: {exc}",
                        "save the transcript as UTF-8 text", line_ids=ids)
                ok = False
    max_chars = chk.config.limits.max_text_chars
    if transcript is not None and len(transcript) > max_chars:
        key = "transcript_file" if "transcript_file" in raw else "transcript"
        chk.add(_key_line(raw, key), f"{where}.{key}", f"the transcript has {len(transcript)} characters; the "
                f"maximum is {max_chars} (config limits.max_text_chars)", "split the line, or raise the limit in "
                "the --config", line_ids=ids)
        ok = False
    has_personality = character is not None and character.has_personality
    if "emotion" in raw:
        emotion_raw: object = raw["emotion"]
        explicit = True
    elif defaults.emotion is not None:
        emotion_raw, explicit = defaults.emotion, True
    else:
        emotion_raw, explicit = (AUTO if has_personality else "neutral"), False
    emotion: LineEmotion = Emotion.neutral()
    emotion_text = ""
    if not isinstance(emotion_raw, str):
        chk.add(_key_line(raw, "emotion"), f"{where}.emotion", f"must be text, got {_describe(emotion_raw)}",
                "quote it, e.g. emotion: \"angry:0.5\"", line_ids=ids)
        ok = False
    else:
        emotion_text = emotion_raw.strip()
        if emotion_text.lower() == AUTO:
            emotion, emotion_text, explicit = None, AUTO, False
            if character is not None and not character.has_personality:
                chk.add(_key_line(raw, "emotion") if "emotion" in raw else line, f"{where}.emotion",
                        f"emotion auto needs a personality, and character {cid!r} has none",
                        f"add persona: <preset> or ocean: [O, C, E, A, N] to characters.{cid}, "
                        "or give the line an emotion", line_ids=ids)
                ok = False
        else:
            try:
                emotion = parse_emotion(emotion_text)
            except MienError as exc:
                chk.add(_key_line(raw, "emotion") if "emotion" in raw else _key_line(raw, "id"), f"{where}.emotion",
                        str(exc), _EMOTION_FIX, line_ids=ids)
                ok = False
    heard = raw.get("heard")
    if heard is not None:
        if not isinstance(heard, str):
            chk.add(_key_line(raw, "heard"), f"{where}.heard", f"must be text, got {_describe(heard)}",
                    "quote it", line_ids=ids)
            ok = False
        elif character is not None and not character.has_personality:
            chk.add(_key_line(raw, "heard"), f"{where}.heard",
                    f"heard feeds the emotion state, and character {cid!r} has no personality",
                    f"add persona: or ocean: to characters.{cid}, or remove heard", line_ids=ids)
            ok = False
    game_time = raw.get("game_time_s")
    if game_time is not None and (not _is_number(game_time) or float(game_time) < 0):
        chk.add(_key_line(raw, "game_time_s"), f"{where}.game_time_s",
                f"must be a number of seconds >= 0, got {_describe(game_time)}", "write e.g. game_time_s: 12.5",
                line_ids=ids)
        ok = False
    seed = (chk.seed(raw["seed"], _key_line(raw, "seed"), f"{where}.seed", ids) if "seed" in raw
            else derive_seed(defaults.seed, lid))
    mode = chk.mode(raw.get("mode", defaults.mode), _key_line(raw, "mode"), f"{where}.mode", ids)
    if mode == "aligned" and transcript is None:
        chk.add(_key_line(raw, "mode") if "mode" in raw else line, f"{where}.mode",
                "mode aligned needs a transcript, and the line has none",
                "add transcript: or transcript_file:, or use mode auto/recognized/neural", line_ids=ids)
        ok = False
    line_options = chk.options(raw.get("options"), _key_line(raw, "options"), f"{where}.options", ids)
    if not ok or character is None or audio is None or seed is None or mode is None or line_options is None:
        return None
    return Line(
        id=lid, index=i, character=character.id, audio=audio, audio_ref=_normal_ref(raw["audio"]),
        transcript=transcript, emotion=emotion, emotion_text=emotion_text, explicit_emotion=explicit,
        heard=heard, game_time_s=float(game_time) if game_time is not None else None, seed=seed, mode=mode,
        options=AnimationOptions(**{**defaults.options, **character.options, **line_options}), yaml_line=line,
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _fatal_manifest(path: Path, source: str, problems: list[Problem]) -> Manifest:
    return Manifest(path=path, source=source, root=path.parent, defaults=None, characters={}, lines=(),
                    problems=tuple(problems), declared_line_ids=(), failed_line_ids=())


def _read_manifest(chk: _Checker, mpath: Path) -> str | None:
    fix = "check the path; it must be a UTF-8 YAML file"
    st = stat_or_none(mpath)
    if st is not None and not stat.S_ISREG(st.st_mode):
        chk.add(None, "manifest", f"cannot read the manifest: it is {file_kind(st)}", fix, fatal=True)
        return None
    try:
        with mpath.open("rb") as handle:
            return read_limited(handle, _MANIFEST_MAX_BYTES, "the manifest", "manifest").decode("utf-8")
    except (OSError, UnicodeDecodeError, MienError) as exc:
        chk.add(None, "manifest", f"cannot read the manifest: {exc}", fix if not isinstance(exc, MienError)
                else "split it into several manifests", fatal=True)
    return None


def load_manifest(path: str | Path, config: Config | None = None, *, allow_outside_inputs: bool = False) -> Manifest:
    """Read and validate a manifest; see the module docstring. Never raises for a bad manifest.

    ``allow_outside_inputs`` accepts symbolic links inside the manifest's folder that resolve outside it.
    """
    config = config or Config()
    source = str(path)
    mpath = Path(path)
    root = mpath.resolve().parent if mpath.exists() else mpath.parent
    chk = _Checker(source, root, config, allow_outside_inputs)
    text = _read_manifest(chk, mpath)
    if text is None:
        return _fatal_manifest(mpath, source, chk.problems)
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        chk.add(mark.line + 1 if mark is not None else None, "yaml",
                f"not valid YAML ({problem}" + (f", column {mark.column + 1})" if mark is not None else ")"),
                "fix the YAML syntax at that line (indentation, a missing ':' or quote, a tab)", fatal=True)
        return _fatal_manifest(mpath, source, chk.problems)
    if not isinstance(doc, Mapping):
        chk.add(_line_of(doc) or 1, "manifest", f"the manifest must be a mapping with version, characters and "
                f"lines, got {_describe(doc)}", "start from bake/examples (docs/bake.md)", fatal=True)
        return _fatal_manifest(mpath, source, chk.problems)
    chk.unknown_keys(doc, _TOP_KEYS, "", fatal=True)
    version = doc.get("version")
    if version != MANIFEST_VERSION:
        chk.add(_key_line(doc, "version") if "version" in doc else 1, "version",
                f"manifest version {_describe(version)} is not supported" if "version" in doc
                else "the manifest has no version", f"write version: {MANIFEST_VERSION} at the top", fatal=True)
    for required in ("characters", "lines"):
        if required not in doc:
            chk.add(1, required, f"the manifest has no {required} section",
                    f"add {required}: (see docs/bake.md)", fatal=True)
    defaults = _read_defaults(chk, doc.get("defaults"), _key_line(doc, "defaults"))
    raw_chars = doc.get("characters")
    raw_lines = doc.get("lines")
    if "characters" in doc and not isinstance(raw_chars, Mapping):
        chk.add(_key_line(doc, "characters"), "characters", f"must be a mapping of character ids, got "
                f"{_describe(raw_chars)}", "write characters: {guard: {rig: metahuman}}", fatal=True)
    if "lines" in doc and not isinstance(raw_lines, list):
        chk.add(_key_line(doc, "lines"), "lines", f"must be a list of lines, got {_describe(raw_lines)}",
                "write lines: then one '- id: ...' item per line", fatal=True)
    if chk.problems or defaults is None or not isinstance(raw_chars, Mapping) or not isinstance(raw_lines, list):
        return _fatal_manifest(mpath, source, chk.problems)

    personas = load_personas()
    characters: dict[str, Character | None] = {}
    folded: dict[str, str] = {}
    for cid_raw, body in raw_chars.items():
        line = _key_line(raw_chars, cid_raw)
        cid = chk.identifier(cid_raw, line, f"characters.{cid_raw}", "character id")
        if cid is None:
            continue
        if cid.lower() in folded:
            chk.add(line, f"characters.{cid}", f"character id {cid!r} differs from {folded[cid.lower()]!r} only in "
                    "case; file names would collide on Windows and macOS", "rename one of them")
            characters[cid] = None
            continue
        folded[cid.lower()] = cid
        characters[cid] = _read_character(chk, cid, body, line, defaults, personas)

    lines: list[Line] = []
    declared: list[str] = []
    failed: list[str] = []
    seen: dict[str, int] = {}
    written = {REPORT_FILE.casefold(): "the bake's own report"}  # output file name -> whose
    for i, raw in enumerate(raw_lines):
        line = _item_line(raw_lines, i)
        where = f"lines[{i}]"
        if not isinstance(raw, Mapping):
            declared.append(f"line{i}")
            failed.append(f"line{i}")
            chk.add(line, where, f"a line must be a mapping, got {_describe(raw)}",
                    "write '- {id: ..., character: ..., audio: ...}'", line_ids=(f"line{i}",))
            continue
        if "id" not in raw:
            declared.append(f"line{i}")
            failed.append(f"line{i}")
            chk.add(line, f"{where}.id", "the line has no id", "add id: <a unique name> (it names the output "
                    "files)", line_ids=(f"line{i}",))
            continue
        lid = chk.identifier(raw["id"], _key_line(raw, "id"), f"{where}.id", "line id", (f"line{i}",))
        if lid is None:
            declared.append(f"line{i}")
            failed.append(f"line{i}")
            continue
        declared.append(lid)
        if lid.lower() in seen:
            first = seen[lid.lower()]
            chk.add(_key_line(raw, "id"), f"{where}.id", f"line id {lid!r} is already used by lines[{first}] "
                    "(ids are compared ignoring case: they name files)", "give every line a unique id",
                    line_ids=(lid,))
            failed.append(lid)
            continue
        seen[lid.lower()] = i
        names = [f"{lid}.{FORMAT_SUFFIX[fmt]}" for fmt in defaults.formats]
        clash = next((name for name in names if name.casefold() in written), None)
        if clash is not None:
            chk.add(_key_line(raw, "id"), f"{where}.id", f"line id {lid!r} would write {clash}, the name of "
                    f"{written[clash.casefold()]} (file names are compared ignoring case, as Windows and macOS do)",
                    "rename the line", line_ids=(lid,))
            failed.append(lid)
            continue
        written.update((name.casefold(), f"a file of lines[{i}] ({lid!r})") for name in names)
        parsed = _read_line(chk, i, raw, line, lid, defaults, characters)
        if parsed is None:
            failed.append(lid)
        else:
            lines.append(parsed)
    return Manifest(
        path=mpath, source=source, root=root, defaults=defaults,
        characters={k: v for k, v in characters.items() if v is not None}, lines=tuple(lines),
        problems=tuple(chk.problems), declared_line_ids=tuple(declared), failed_line_ids=tuple(failed),
        input_files=tuple(dict.fromkeys((Path(os.path.realpath(mpath.parent)) / mpath.name, mpath.resolve(),
                                         *chk.inputs))),
    )
