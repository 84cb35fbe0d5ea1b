"""Per-NPC state and its opaque, versioned blob (used for game saves and for the SQLite store).

Blob layout (big-endian)::

    offset  size  field
    0       8     magic  b"MIENEMO1"
    8       2     schema version (uint16), currently 1
    10      4     payload length n (uint32)
    14      n     payload: UTF-8 JSON object (sorted keys), kind "mien.emotion_state.npc"
    14+n    32    SHA-256 of bytes [0, 14+n)

Floats are written with Python's shortest round-trip repr, so decode(encode(s)) == s exactly.
Anything else — another magic, another version, a short or long buffer, a checksum mismatch,
missing or out-of-range fields — is rejected with :class:`~mien.errors.InvalidArgument`.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ..emotion import EMOTIONS, Emotion
from ..errors import InvalidArgument
from .temperament import check_ocean

__all__ = [
    "BLOB_KIND",
    "BLOB_MAGIC",
    "BLOB_SCHEMA_VERSION",
    "MAX_BLOB_BYTES",
    "MAX_REVISION",
    "NpcState",
    "decode_state",
    "encode_state",
]

BLOB_MAGIC = b"MIENEMO1"
BLOB_SCHEMA_VERSION = 1
BLOB_KIND = "mien.emotion_state.npc"
MAX_BLOB_BYTES = 1 << 20
MAX_REVISION = 2**53 - 1
"""Largest revision (exact in JSON and in a double; revisions saturate there, far below SQLite's 2^63 - 1)."""
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


def encode_state(state: NpcState) -> bytes:
    """The self-describing blob of ``state`` (see the module docstring)."""
    # Flat fields only: a plain dict is the same JSON as dataclasses.asdict, several times faster.
    payload: dict[str, object] = {name: getattr(state, name) for name in _FIELDS}
    payload["kind"] = BLOB_KIND
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    data = body.encode("utf-8")
    head = _HEADER.pack(BLOB_MAGIC, BLOB_SCHEMA_VERSION, len(data))
    return head + data + hashlib.sha256(head + data).digest()


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument(f"state blob: {message}", field="state")


def _vad(payload: Mapping[str, object], key: str) -> Vad:
    value = payload.get(key)
    if not isinstance(value, list) or len(value) != 3:
        raise _bad(f"{key} must be 3 numbers")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not -1.0 <= x <= 1.0:
            raise _bad(f"{key} values must be numbers in [-1, 1], got {x!r}")
        out.append(float(x))
    return (out[0], out[1], out[2])


def _number(payload: Mapping[str, object], key: str, lo: float, hi: float) -> float:
    x = payload.get(key)
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not lo <= x <= hi:
        raise _bad(f"{key} must be a number in [{lo}, {hi}], got {x!r}")
    return float(x)


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
    try:
        payload = json.loads(blob[_HEADER.size : body_end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(f"payload is not UTF-8 JSON: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != BLOB_KIND:
        raise _bad(f"payload kind is not {BLOB_KIND!r}")
    npc_id = payload.get("npc_id")
    if not isinstance(npc_id, str) or not npc_id:
        raise _bad("npc_id must be a non-empty string")
    persona = payload.get("persona")
    if persona is not None and not isinstance(persona, str):
        raise _bad("persona must be a string or null")
    ocean_raw = payload.get("ocean")
    if not isinstance(ocean_raw, list):
        raise _bad("ocean must be a list of 5 numbers")
    try:
        ocean = check_ocean(ocean_raw, field="ocean")
    except InvalidArgument as exc:
        raise _bad(exc.message) from exc
    category = payload.get("category")
    if category not in EMOTIONS:
        raise _bad(f"category must be one of {', '.join(EMOTIONS)}, got {category!r}")
    revision = payload.get("revision")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise _bad(f"revision must be a non-negative integer, got {revision!r}")
    text = payload.get("last_self_text", "")
    if not isinstance(text, str):
        raise _bad("last_self_text must be a string")
    known = {f for f in NpcState.__dataclass_fields__} | {"kind"}
    extra = set(payload) - known
    if extra:
        raise _bad(f"unknown fields {sorted(extra)}")
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
