"""The versioned state blob: exact round trip, and clear rejection of anything else."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mien.emotion_state.state import BLOB_MAGIC, NpcState, decode_state, encode_state
from mien.errors import InvalidArgument

unit = st.floats(-1.0, 1.0, allow_nan=False)
vad = st.tuples(unit, unit, unit)
states = st.builds(
    NpcState,
    npc_id=st.text(min_size=1, max_size=20),
    persona=st.one_of(st.none(), st.sampled_from(["stoic_guard", "custom"])),
    ocean=st.tuples(*[st.floats(0.0, 1.0)] * 5),
    temperament_pad=vad,
    baseline_vad=vad,
    mood_vad=vad,
    emotion_vad=vad,
    category=st.sampled_from(["neutral", "happy", "angry"]),
    intensity=st.floats(0.0, 1.0),
    game_time_s=st.floats(0.0, 1e9),
    revision=st.integers(0, 2**40),
    last_self_text=st.text(max_size=50),
)


@given(states)
def test_round_trip_is_exact(state: NpcState) -> None:
    blob = encode_state(state)
    assert decode_state(blob) == state
    assert encode_state(decode_state(blob)) == blob


def _sample() -> bytes:
    return encode_state(
        NpcState(
            "guard_1",
            "stoic_guard",
            (0.3, 0.85, 0.35, 0.45, 0.15),
            (0.0, -0.5, -0.1),
            (0.0, -0.5, -0.1),
            (0.1, 0.0, 0.0),
            (0.2, 0.1, 0.0),
            "neutral",
            0.0,
            12.5,
            3,
            "Halt!",
        )
    )


def _reseal(payload: dict[str, object], version: int = 1, magic: bytes = BLOB_MAGIC) -> bytes:
    data = json.dumps(payload).encode()
    head = struct.pack(">8sHI", magic, version, len(data))
    return head + data + hashlib.sha256(head + data).digest()


def _payload() -> dict[str, object]:
    blob = _sample()
    return dict(json.loads(blob[14:-32]))


@pytest.mark.parametrize(
    ("blob", "needle"),
    [
        (b"", "truncated"),
        (b"PK\x03\x04" + b"\x00" * 60, "not a Mien"),
        (_sample()[:-5], "length"),
        (_sample() + b"\x00", "length"),
        (_sample()[:20] + bytes([_sample()[20] ^ 1]) + _sample()[21:], "checksum"),
        (_reseal(_payload(), version=2), "schema version 2"),
        (_reseal({**_payload(), "kind": "something.else"}), "kind"),
        (_reseal({**_payload(), "ocean": [0.5, 0.5]}), "ocean"),
        (_reseal({**_payload(), "mood_vad": [0.0, 3.0, 0.0]}), "mood_vad"),
        (_reseal({**_payload(), "category": "bored"}), "category"),
        (_reseal({**_payload(), "revision": -1}), "revision"),
        (_reseal({**_payload(), "npc_id": ""}), "npc_id"),
        (_reseal({**_payload(), "extra": 1}), "unknown fields"),
    ],
)
def test_rejects(blob: bytes, needle: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        decode_state(blob)
    assert needle in err.value.message
    assert err.value.field == "state"


def test_rejects_non_bytes() -> None:
    with pytest.raises(InvalidArgument):
        decode_state("not bytes")  # type: ignore[arg-type]
