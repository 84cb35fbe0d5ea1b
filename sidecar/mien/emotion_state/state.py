"""Per-NPC state and its versioned blob (the SQLite store's rows; exported saves wrap it, see :mod:`.saves`).

Blob layout (big-endian)::

    offset  size  field
    0       8     magic  b"MIENEMO1"
    8       2     schema version (uint16), 1
    10      4     payload length n (uint32)
    14      n     payload: UTF-8 JSON object (sorted keys), kind "mien.emotion_state.npc"
    14+n    32    SHA-256 of bytes [0, 14+n)

Floats are written with Python's shortest round-trip repr, so decode(encode(s)) == s exactly.
Anything else — another magic, another version, a short or long buffer, a checksum mismatch,
missing, duplicated, unknown or out-of-range fields, NaN/Infinity, numbers or nesting the parser
cannot hold — is rejected with :class:`~mien.errors.InvalidArgument` (the message never echoes more
than a few dozen characters of the input). The SHA-256 only detects corruption; exported saves are
authenticated with an HMAC by :mod:`.saves`, and :func:`check_state` checks that a state is
consistent (what an imported blob must also pass).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from ..emotion import EMOTIONS, Emotion
from ..errors import InvalidArgument
from .classify import classify_vad
from .temperament import check_ocean, temperament_pad

__all__ = [
    "BLOB_KIND",
    "BLOB_MAGIC",
    "BLOB_SCHEMA_VERSION",
    "MAX_BLOB_BYTES",
    "MAX_GAME_TIME_S",
    "MAX_REVISION",
    "NpcState",
    "check_state",
    "decode_payload",
    "decode_state",
    "encode_payload",
    "encode_state",
]

BLOB_MAGIC = b"MIENEMO1"
BLOB_SCHEMA_VERSION = 1
BLOB_KIND = "mien.emotion_state.npc"
MAX_BLOB_BYTES = 1 << 20
MAX_REVISION = 2**53 - 1
"""Largest revision (exact in JSON and in a double; revisions saturate there, far below SQLite's 2^63 - 1)."""
MAX_GAME_TIME_S = 1e12
"""Largest game time accepted anywhere (about 31,700 years of game clock)."""
MAX_PERSONA_CHARS = 64
_PERSONA = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HEADER = struct.Struct(">8sHI")
_DIGEST = 32

Vad = tuple[float, float, float]


@dataclass(frozen=True)
class NpcState:
    """The emotional state of one NPC at ``game_time_s``.

    ``temperament_pad`` comes from ``ocean``; ``baseline_vad`` is the resting point the mood decays
    to (the temperament, or an explicit baseline emotion); ``mood_vad`` the medium-term mood;
    ``emotion_vad`` the current emotion point, classified as ``category`` at ``intensity``.
    ``revision`` counts the updates since the NPC was created. ``last_self_text`` is the NPC's last
    line, the context of the next transition.
    """

    npc_id: str
    persona: str | None
    ocean: tuple[float, float, float, float, float]
    temperament_pad: Vad
    baseline_vad: Vad
    mood_vad: Vad
    emotion_vad: Vad
    category: str
    intensity: float
    game_time_s: float
    revision: int
    last_self_text: str = ""

    @property
    def emotion(self) -> Emotion:
        """The current emotion as an :class:`Emotion` (``Emotion.of(category, intensity)``)."""
        return Emotion.of(self.category, self.intensity)


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(NpcState))


def encode_payload(state: NpcState) -> bytes:
    """The UTF-8 JSON payload of ``state`` (sorted keys, shortest round-trip floats)."""
    # Flat fields only: a plain dict is the same JSON as dataclasses.asdict, several times faster.
    payload: dict[str, object] = {name: getattr(state, name) for name in _FIELDS}
    payload["kind"] = BLOB_KIND
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return body.encode("utf-8")


def encode_state(state: NpcState) -> bytes:
    """The self-describing blob of ``state`` (see the module docstring)."""
    data = encode_payload(state)
    head = _HEADER.pack(BLOB_MAGIC, BLOB_SCHEMA_VERSION, len(data))
    return head + data + hashlib.sha256(head + data).digest()


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument(f"state blob: {message}", field="state")


def _short(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _vad(payload: Mapping[str, object], key: str) -> Vad:
    value = payload.get(key)
    if not isinstance(value, list) or len(value) != 3:
        raise _bad(f"{key} must be 3 numbers")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not -1.0 <= x <= 1.0:
            raise _bad(f"{key} values must be numbers in [-1, 1], got {_short(x)}")
        out.append(float(x))
    return (out[0], out[1], out[2])


def _number(payload: Mapping[str, object], key: str, lo: float, hi: float) -> float:
    x = payload.get(key)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not lo <= x <= hi:
        raise _bad(f"{key} must be a number in [{lo:g}, {hi:g}], got {_short(x)}")
    return float(x)


def _text(payload: Mapping[str, object], key: str, *, optional: bool = False) -> str | None:
    x = payload.get(key, "" if key == "last_self_text" else None)
    if x is None and optional:
        return None
    if not isinstance(x, str):
        raise _bad(f"{key} must be a string{' or null' if optional else ''}")
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"{key} is not valid Unicode text (lone surrogate)") from None
    return x


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate field {_short(k)}")
        out[k] = v
    return out


def decode_payload(data: bytes) -> NpcState:
    """Parse and structurally validate a JSON payload (of :func:`encode_payload`)."""
    try:
        payload = json.loads(data.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise _bad("payload is not UTF-8") from None
    except RecursionError:
        raise _bad("payload is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, duplicates, integers of more than 4300 digits
        raise _bad(f"payload is not valid JSON: {str(exc)[:80]}") from None
    if not isinstance(payload, dict) or payload.get("kind") != BLOB_KIND:
        raise _bad(f"payload kind is not {BLOB_KIND!r}")
    known = {f for f in NpcState.__dataclass_fields__} | {"kind"}
    extra = set(payload) - known
    if extra:
        raise _bad(f"unknown fields {sorted(_short(k) for k in extra)[:5]}")
    npc_id = _text(payload, "npc_id")
    if not npc_id:
        raise _bad("npc_id must be a non-empty string")
    persona = _text(payload, "persona", optional=True)
    ocean_raw = payload.get("ocean")
    if not isinstance(ocean_raw, list) or len(ocean_raw) != 5:
        raise _bad("ocean must be a list of 5 numbers")
    if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in ocean_raw):
        raise _bad("ocean must be a list of 5 numbers in [0, 1]")
    try:
        ocean = check_ocean(ocean_raw, field="ocean")
    except InvalidArgument as exc:
        raise _bad(exc.message[:120]) from None
    category = payload.get("category")
    if not isinstance(category, str) or category not in EMOTIONS:
        raise _bad(f"category must be one of {', '.join(EMOTIONS)}, got {_short(category)}")
    revision = payload.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise _bad(f"revision must be a non-negative integer, got {_short(revision)}")
    text = _text(payload, "last_self_text")
    assert npc_id is not None and text is not None
    return NpcState(
        npc_id=npc_id,
        persona=persona,
        ocean=ocean,
        temperament_pad=_vad(payload, "temperament_pad"),
        baseline_vad=_vad(payload, "baseline_vad"),
        mood_vad=_vad(payload, "mood_vad"),
        emotion_vad=_vad(payload, "emotion_vad"),
        category=str(category),
        intensity=_number(payload, "intensity", 0.0, 1.0),
        game_time_s=_number(payload, "game_time_s", 0.0, math.inf),
        revision=revision,
        last_self_text=text,
    )


def decode_state(blob: bytes) -> NpcState:
    """Parse and fully validate a blob made by :func:`encode_state`."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise _bad(f"expected bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) > MAX_BLOB_BYTES:
        raise _bad(f"{len(blob)} bytes is larger than the {MAX_BLOB_BYTES}-byte limit")
    if len(blob) < _HEADER.size + _DIGEST:
        raise _bad(f"truncated ({len(blob)} bytes; a valid blob has at least {_HEADER.size + _DIGEST})")
    magic, version, length = _HEADER.unpack_from(blob)
    if magic != BLOB_MAGIC:
        raise _bad(f"not a Mien emotion-state blob (magic {magic!r}, expected {BLOB_MAGIC!r})")
    if version != BLOB_SCHEMA_VERSION:
        raise _bad(f"schema version {version} is not supported; accepted: {BLOB_SCHEMA_VERSION}")
    expected = _HEADER.size + length + _DIGEST
    if len(blob) != expected:
        raise _bad(f"length {len(blob)} bytes does not match the header ({expected}); truncated or padded")
    body_end = _HEADER.size + length
    if hashlib.sha256(blob[:body_end]).digest() != blob[body_end:]:
        raise _bad("checksum mismatch (corrupted)")
    return decode_payload(blob[_HEADER.size : body_end])


def check_state(state: NpcState, *, max_text_chars: int) -> None:
    """Range and consistency checks every stored or imported state satisfies (``InvalidArgument``).

    On top of :func:`decode_payload`'s ranges: the temperament is the one of the OCEAN traits; the
    category and intensity are those of the emotion point (the engine's coherence rule); the revision
    is at most :data:`MAX_REVISION` and the game time at most :data:`MAX_GAME_TIME_S`; the persona is a
    preset name (lower_snake_case, at most 64 characters) or none; the last line is at most
    ``max_text_chars`` long.
    """
    expected = temperament_pad(state.ocean)
    if any(not math.isclose(a, b, abs_tol=1e-9) for a, b in zip(state.temperament_pad, expected, strict=True)):
        raise _bad("temperament_pad is not the temperament of the ocean traits (inconsistent)")
    cls = classify_vad(np.asarray(state.emotion_vad, dtype=np.float64))
    if cls.category != state.category or not math.isclose(cls.intensity, state.intensity, abs_tol=1e-9):
        raise _bad(f"category/intensity {_short(state.category)}@{state.intensity:.3f} are not those of the "
                   f"emotion point ({cls.category}@{cls.intensity:.3f}); inconsistent")
    if state.revision > MAX_REVISION:
        raise _bad(f"revision {_short(state.revision)} is out of range; accepted: 0 to {MAX_REVISION}")
    if state.game_time_s > MAX_GAME_TIME_S:
        raise _bad(f"game_time_s {state.game_time_s:g} is out of range; accepted: 0 to {MAX_GAME_TIME_S:g}")
    if state.persona is not None and (len(state.persona) > MAX_PERSONA_CHARS or not _PERSONA.match(state.persona)):
        raise _bad("persona must be a preset name (lower_snake_case, at most 64 characters) or null")
    if len(state.last_self_text) > max_text_chars:
        raise _bad(f"last_self_text is {len(state.last_self_text)} characters; accepted: at most {max_text_chars}")
