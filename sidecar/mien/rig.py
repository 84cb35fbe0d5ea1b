"""Rig profiles: the internal channel set (ARKit-52 + eye rotations) mapped onto a target rig.

A profile is a *linear map with per-output clamp*: every output channel is

    out = clamp(offset + sum(gain_i * internal_i), lo, hi)

over the internal channels of :data:`mien.channels.CHANNELS`. Identity profiles, renames,
mixes of several internal channels, sign flips and constant controls are all special cases.
The map is precomputed once as a dense ``(len(CHANNELS), n_outputs)`` float32 matrix, so
retargeting an hour of 60 fps animation is one matrix product and one clip.

Profiles are YAML files. The shipped ones live in ``mien/data/rigs/`` (loaded through
:mod:`importlib.resources`, never relative to the working directory); users pass a path to
their own. The schema is documented in ``mien/data/rigs/README.md`` and ``docs/rigs.md``::

    format: 1                      # optional, the schema version (only 1 exists)
    name: my_rig                   # [a-z0-9_]+
    version: "1.0.0"               # the profile's own version, a string
    description: What this maps to.
    defaults:                      # optional, applied to every channel that does not say
      clamp: [0, 1]
    channels:
      - jawOpen                    # identity: output "jawOpen" = internal jawOpen
      - {name: JawOpen, from: jawOpen, gain: 1.0}          # rename (gain optional)
      - name: MouthOpen                                     # full form
        terms: {jawOpen: 1.0, mouthClose: -1.0}
        offset: 0.0
        clamp: [0, 1]
        note: free text, ignored at run time

Parsing uses a :class:`yaml.SafeLoader` (plus a duplicate-key check); every error is an
:class:`~mien.errors.InvalidArgument` that names the file, the channel and the key, and says
what would fix it.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from .channels import CHANNELS, INDEX
from .errors import InvalidArgument, NotFound
from .track import Track

__all__ = [
    "INTERNAL_RIG",
    "RIG_FORMAT",
    "RigChannel",
    "RigProfile",
    "list_rigs",
    "load_rig",
    "parse_rig",
    "shipped_rig_names",
]

RIG_FORMAT = 1
"""The only profile schema version this module reads (the optional top-level ``format`` key)."""
INTERNAL_RIG = "arkit52"
"""The shipped profile whose output is the internal channel set (``CHANNELS``): animate on it, then
:meth:`RigProfile.apply` a user's profile (how the CLI and the bake use profile files)."""

_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_TOP_KEYS = ("format", "name", "version", "description", "defaults", "channels")
_REQUIRED_TOP_KEYS = ("name", "version", "description", "channels")
_CHANNEL_KEYS = ("name", "terms", "from", "gain", "offset", "clamp", "note")
_DEFAULT_KEYS = ("clamp", "offset")
_DEFAULT_CLAMP = (0.0, 1.0)
_FIELD = "rig"


# --------------------------------------------------------------------------------------------
# The data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RigChannel:
    """One output control: ``clamp(offset + sum(gain * internal[name] for name, gain in terms))``."""

    name: str
    terms: Mapping[str, float]
    """Internal channel name -> gain. Empty means a constant control (``offset``)."""
    offset: float = 0.0
    clamp: tuple[float, float] = _DEFAULT_CLAMP
    """Inclusive ``(lo, hi)``: the control's valid range; every output is clipped into it."""
    note: str = ""
    """Free-text explanation (documentation only)."""

    def __post_init__(self) -> None:
        # Freeze the mapping so a profile cannot be changed behind its precomputed matrix.
        object.__setattr__(self, "terms", MappingProxyType(dict(self.terms)))


@dataclass(frozen=True)
class RigProfile:
    """A named, versioned linear map from the internal channels to a rig's controls."""

    name: str
    version: str
    description: str
    channels: tuple[RigChannel, ...]
    source: str = field(default="", compare=False)
    """Where the profile was read from (a path, or ``mien/data/rigs/<name>.yaml``)."""
    _matrix: np.ndarray = field(init=False, repr=False, compare=False)
    _offset: np.ndarray = field(init=False, repr=False, compare=False)
    _lo: np.ndarray = field(init=False, repr=False, compare=False)
    _hi: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = self.source or f"rig profile {self.name!r}"
        if not self.channels:
            raise InvalidArgument(f"{where}: a rig profile needs at least one channel", field=_FIELD)
        seen: set[str] = set()
        matrix = np.zeros((len(CHANNELS), len(self.channels)), dtype=np.float32)
        offset = np.zeros(len(self.channels), dtype=np.float32)
        lo = np.zeros(len(self.channels), dtype=np.float32)
        hi = np.zeros(len(self.channels), dtype=np.float32)
        for j, ch in enumerate(self.channels):
            if ch.name in seen:
                raise InvalidArgument(
                    f"{where}: duplicate output channel {ch.name!r}; every output name must be unique",
                    field=_FIELD,
                )
            seen.add(ch.name)
            for internal, gain in ch.terms.items():
                if internal not in INDEX:
                    raise InvalidArgument(
                        f"{where}: channel {ch.name!r}: {_unknown_internal(internal)}", field=_FIELD
                    )
                matrix[INDEX[internal], j] = gain
            if not (ch.clamp[0] <= ch.clamp[1]):
                raise InvalidArgument(
                    f"{where}: channel {ch.name!r}: clamp {list(ch.clamp)} has lo > hi", field=_FIELD
                )
            offset[j] = ch.offset
            lo[j], hi[j] = ch.clamp
        matrix.setflags(write=False)
        for arr in (offset, lo, hi):
            arr.setflags(write=False)
        object.__setattr__(self, "_matrix", matrix)
        object.__setattr__(self, "_offset", offset)
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_hi", hi)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Output channel names, in output column order."""
        return tuple(ch.name for ch in self.channels)

    @property
    def matrix(self) -> np.ndarray:
        """The read-only ``(len(CHANNELS), n_outputs)`` float32 gain matrix."""
        return self._matrix

    @property
    def clamps(self) -> np.ndarray:
        """``(n_outputs, 2)`` float32 array of each output's ``[lo, hi]``."""
        return np.stack([self._lo, self._hi], axis=1)

    def retarget(self, values: np.ndarray) -> np.ndarray:
        """Map internal curves ``(T, len(CHANNELS))`` to rig curves ``(T, n_outputs)`` float32.

        One matrix product plus offset, then every column is clipped to its control's range.
        Non-finite input is rejected (it would poison every control it feeds).
        """
        arr = np.asarray(values)
        if arr.ndim != 2 or arr.shape[1] != len(CHANNELS):
            raise InvalidArgument(
                f"rig {self.name!r}: values must be (frames, {len(CHANNELS)}) in the internal channel "
                f"order (mien.channels.CHANNELS), got shape {arr.shape}",
                field="values",
            )
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            bad = sorted({CHANNELS[c] for c in np.nonzero(~np.isfinite(arr))[1][:50]})
            raise InvalidArgument(
                f"rig {self.name!r}: internal values contain NaN or infinity in {', '.join(bad)}; "
                "every value must be finite",
                field="values",
            )
        out = np.empty((arr.shape[0], len(self.channels)), dtype=np.float32)
        np.matmul(arr, self._matrix, out=out)
        if self._offset.any():
            out += self._offset
        # In place, and cheaper than np.clip with per-column bounds.
        np.minimum(out, self._hi, out=out)
        np.maximum(out, self._lo, out=out)
        return out

    def apply(self, track: Track) -> Track:
        """Retarget a track on the internal channel set; the result carries ``info.rig = name`` (and the
        profile's ``name@version`` in ``info.versions["rig"]``)."""
        if tuple(track.channel_names) != CHANNELS:
            missing = [c for c in CHANNELS if c not in track.channel_names]
            extra = [c for c in track.channel_names if c not in INDEX]
            detail = []
            if missing:
                detail.append(f"missing {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
            if extra:
                detail.append(f"unexpected {', '.join(extra[:8])}{' ...' if len(extra) > 8 else ''}")
            if not detail:
                detail.append("same names in a different order")
            raise InvalidArgument(
                f"rig {self.name!r} applies only to tracks on the internal channel set "
                f"(mien.channels.CHANNELS, {len(CHANNELS)} channels); this track is on "
                f"{track.info.rig!r} ({'; '.join(detail)}). Retarget from the internal track, "
                "not from an already retargeted one.",
                field="rig",
            )
        return Track(
            channel_names=self.channel_names,
            fps=track.fps,
            values=self.retarget(track.values),
            phones=track.phones,
            info=replace(track.info, rig=self.name,
                         versions={**track.info.versions, "rig": f"{self.name}@{self.version}"}),
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: name, version, description and each channel with its range."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "channels": [
                {"name": ch.name, "min": ch.clamp[0], "max": ch.clamp[1]} for ch in self.channels
            ],
        }


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _rigs_dir() -> Any:
    return resources.files("mien") / "data" / "rigs"


def shipped_rig_names() -> tuple[str, ...]:
    """Names of the profiles shipped in ``mien/data/rigs``, sorted."""
    names = [
        entry.name[: -len(".yaml")]
        for entry in _rigs_dir().iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    ]
    return tuple(sorted(names))


@functools.cache
def _load_shipped(name: str) -> RigProfile:
    entry = _rigs_dir() / f"{name}.yaml"
    source = f"mien/data/rigs/{name}.yaml"
    profile = parse_rig(entry.read_text(encoding="utf-8"), source)
    if profile.name != name:
        raise InvalidArgument(
            f"{source}: name is {profile.name!r} but the file is {name}.yaml; they must match",
            field=_FIELD,
        )
    return profile


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.endswith((".yaml", ".yml")) or text.startswith(".")


def load_rig(name_or_path: str | os.PathLike[str], *, allow_paths: bool = True) -> RigProfile:
    """A shipped profile by name (cached), or a user profile from a YAML file path (read each call).

    Unknown names raise :class:`InvalidArgument` listing the shipped profiles. Transports that take the
    profile from a remote request should pass ``allow_paths=False``: a path would let a caller
    make the server read (and quote, in error messages) any file it can open.
    """
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise InvalidArgument(
            f"rig must be a profile name ({', '.join(shipped_rig_names())}) or a path to a .yaml file",
            field=_FIELD,
        )
    text = name_or_path.strip()
    if not _looks_like_path(text):
        if text in shipped_rig_names():
            return _load_shipped(text)
        close = difflib.get_close_matches(text, shipped_rig_names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        paths = "; or pass a path to your own profile .yaml (see docs/rigs.md)" if allow_paths else ""
        raise InvalidArgument(
            f"unknown rig profile {text!r}.{hint} Available profiles: {', '.join(shipped_rig_names())}"
            f"{paths}",
            field=_FIELD,
        )
    if not allow_paths:
        raise InvalidArgument(
            f"rig {text!r} looks like a file path, which is not accepted here; name one of the "
            f"profiles: {', '.join(shipped_rig_names())}",
            field=_FIELD,
        )
    path = Path(text).expanduser()
    if not path.is_file():
        raise NotFound(
            f"rig profile file {str(path)!r} does not exist. Pass an existing .yaml file, or one of "
            f"the shipped profiles: {', '.join(shipped_rig_names())}",
            field=_FIELD,
        )
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            f"cannot read rig profile {str(path)!r}: {exc}. It must be a UTF-8 YAML text file",
            field=_FIELD,
        ) from exc
    return parse_rig(content, str(path))


def list_rigs() -> list[RigProfile]:
    """Every shipped profile, sorted by name."""
    return [_load_shipped(name) for name in shipped_rig_names()]


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects duplicate mapping keys instead of keeping the last one."""


def _construct_mapping_no_dups(loader: _StrictSafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=True)


_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_no_dups
)


def _fail(source: str, where: str, problem: str, fix: str) -> InvalidArgument:
    location = f"{source}: {where}: " if where else f"{source}: "
    return InvalidArgument(f"{location}{problem}. {fix}", field=_FIELD)


def _unknown_internal(name: object) -> str:
    close = difflib.get_close_matches(str(name), CHANNELS, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"unknown internal channel {name!r}; {hint}internal channels are the 52 ARKit blendshape "
        f"names (case matters) plus {', '.join(CHANNELS[52:])}"
    )


def _number(value: object, source: str, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(source, where, f"{what} must be a number, got {value!r}", "Write a plain number")
    out = float(value)
    if not math.isfinite(out):
        raise _fail(source, where, f"{what} must be finite, got {value!r}", "Write a finite number")
    return out


def _clamp(value: object, source: str, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _fail(
            source, where, f"clamp must be a list of two numbers [lo, hi], got {value!r}",
            "Write e.g. clamp: [0, 1] or clamp: [-1, 1]",
        )
    lo = _number(value[0], source, where, "clamp lo")
    hi = _number(value[1], source, where, "clamp hi")
    if lo > hi:
        raise _fail(source, where, f"clamp [{lo}, {hi}] has lo > hi", "Write the smaller bound first")
    return (lo, hi)


def _internal(name: object, source: str, where: str) -> str:
    if not isinstance(name, str) or name not in INDEX:
        raise _fail(source, where, _unknown_internal(name), "Use an internal channel name")
    return name


def _parse_channel(
    item: object, i: int, source: str, default_clamp: tuple[float, float], default_offset: float
) -> RigChannel:
    where = f"channels[{i}]"
    if isinstance(item, str):
        # Compact identity form: "- jawOpen".
        name = _internal(item, source, where)
        return RigChannel(name=name, terms={name: 1.0}, offset=default_offset, clamp=default_clamp)
    if not isinstance(item, dict):
        raise _fail(
            source, where, f"a channel must be an internal channel name or a mapping, got {item!r}",
            "Write '- jawOpen' (identity) or '- {name: ..., terms: {...}}'",
        )
    raw_name = item.get("name")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise _fail(
            source, where, "missing or empty 'name' (the output control's name)",
            "Add name: <the rig's control or morph-target name>",
        )
    where = f"channels[{i}] ({raw_name})"
    unknown = [k for k in item if k not in _CHANNEL_KEYS]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), _CHANNEL_KEYS, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise _fail(
            source, where, f"unknown key {', '.join(hints)}",
            f"A channel accepts only {', '.join(_CHANNEL_KEYS)}",
        )
    if "terms" in item and "from" in item:
        raise _fail(
            source, where, "'terms' and 'from' are both given",
            "Use 'from' (+ optional 'gain') for a rename, or 'terms' for a mix, not both",
        )
    if "gain" in item and "from" not in item:
        raise _fail(
            source, where, "'gain' is only valid together with 'from'",
            "Put the gain inside terms (terms: {jawOpen: 0.5}) or add from: <internal channel>",
        )
    terms: dict[str, float] = {}
    if "from" in item:
        src = _internal(item["from"], source, f"{where}: from")
        terms[src] = _number(item.get("gain", 1.0), source, f"{where}: gain", "gain")
    elif "terms" in item:
        raw_terms = item["terms"]
        if raw_terms is None:
            raw_terms = {}
        if not isinstance(raw_terms, dict):
            raise _fail(
                source, f"{where}: terms", f"terms must be a mapping of internal channel to gain, got "
                f"{raw_terms!r}", "Write terms: {jawOpen: 1.0, mouthClose: -0.5} (or {} for a constant)",
            )
        for key, gain in raw_terms.items():
            internal = _internal(key, source, f"{where}: terms")
            terms[internal] = _number(gain, source, f"{where}: terms.{internal}", "gain")
    else:
        raise _fail(
            source, where, "no 'terms' and no 'from': the channel says nothing about its input",
            "Add from: <internal channel> for a rename, terms: {...} for a mix, or terms: {} with "
            "an offset for a constant control",
        )
    offset = (
        _number(item["offset"], source, f"{where}: offset", "offset") if "offset" in item else default_offset
    )
    clamp = _clamp(item["clamp"], source, f"{where}: clamp") if "clamp" in item else default_clamp
    note = item.get("note", "")
    if not isinstance(note, str):
        raise _fail(source, f"{where}: note", f"note must be text, got {note!r}", "Quote the note")
    return RigChannel(name=raw_name, terms=terms, offset=offset, clamp=clamp, note=note)


def parse_rig(text: str, source: str) -> RigProfile:
    """Parse and validate a profile's YAML text; ``source`` names the file in every error."""
    try:
        doc = yaml.load(text, Loader=_StrictSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidArgument(
            f"{source}: {at}not valid YAML ({problem}). Fix the YAML syntax (see docs/rigs.md)",
            field=_FIELD,
        ) from exc
    if not isinstance(doc, dict):
        raise _fail(
            source, "", f"the profile must be a YAML mapping, got {type(doc).__name__}",
            f"Start the file with the keys {', '.join(_REQUIRED_TOP_KEYS)}",
        )
    unknown = [k for k in doc if k not in _TOP_KEYS]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), _TOP_KEYS, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise _fail(source, "", f"unknown top-level key {', '.join(hints)}",
                    f"A profile accepts only {', '.join(_TOP_KEYS)}")
    missing = [k for k in _REQUIRED_TOP_KEYS if k not in doc]
    if missing:
        raise _fail(source, "", f"missing required key {', '.join(repr(k) for k in missing)}",
                    f"A profile needs {', '.join(_REQUIRED_TOP_KEYS)}")
    fmt = doc.get("format", RIG_FORMAT)
    if fmt != RIG_FORMAT or isinstance(fmt, bool):
        raise _fail(source, "format", f"unsupported format {fmt!r}",
                    f"This version of Mien reads format: {RIG_FORMAT}")
    name = doc["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(source, "name", f"name must be lower-case letters, digits and _, got {name!r}",
                    "Write e.g. name: my_rig")
    version = doc["version"]
    if not isinstance(version, str) or not version.strip():
        raise _fail(source, "version", f"version must be a non-empty string, got {version!r}",
                    'Quote it, e.g. version: "1.0.0"')
    description = doc["description"]
    if not isinstance(description, str):
        raise _fail(source, "description", f"description must be text, got {description!r}",
                    "Write a one-line description")
    default_clamp = _DEFAULT_CLAMP
    default_offset = 0.0
    defaults = doc.get("defaults")
    if defaults is not None:
        if not isinstance(defaults, dict):
            raise _fail(source, "defaults", f"defaults must be a mapping, got {defaults!r}",
                        "Write defaults: {clamp: [0, 1]}")
        bad = [k for k in defaults if k not in _DEFAULT_KEYS]
        if bad:
            raise _fail(source, "defaults", f"unknown key {', '.join(repr(k) for k in bad)}",
                        f"defaults accepts only {', '.join(_DEFAULT_KEYS)}")
        if "clamp" in defaults:
            default_clamp = _clamp(defaults["clamp"], source, "defaults: clamp")
        if "offset" in defaults:
            default_offset = _number(defaults["offset"], source, "defaults: offset", "offset")
    raw_channels = doc["channels"]
    if not isinstance(raw_channels, list) or not raw_channels:
        raise _fail(source, "channels", f"channels must be a non-empty list, got {raw_channels!r}",
                    "List the rig's output channels under channels:")
    channels: list[RigChannel] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(raw_channels):
        ch = _parse_channel(item, i, source, default_clamp, default_offset)
        if ch.name in first_index:
            raise _fail(
                source, f"channels[{i}] ({ch.name})",
                f"duplicate output channel {ch.name!r} (first defined at channels[{first_index[ch.name]}])",
                "Every output name must be unique: merge the two entries' terms into one",
            )
        first_index[ch.name] = i
        channels.append(ch)
    return RigProfile(
        name=name, version=version, description=description.strip(), channels=tuple(channels),
        source=source,
    )

