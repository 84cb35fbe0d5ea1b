"""Authenticated save blobs (issue 11 item 6): the install's key, tampered / truncated / foreign / oversized
blobs, and forged-but-correctly-sealed payloads that must never make a later call fail (hypothesis)."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mien.emotion import Emotion
from mien.emotion_state import EmotionStateConfig, EmotionStateEngine, encode_state
from mien.emotion_state.saves import KEY_FILE_HEADER, SaveKey, open_blob, seal
from mien.emotion_state.state import BLOB_MAGIC, MAX_BLOB_BYTES, MAX_GAME_TIME_S, MAX_REVISION
from mien.errors import FailedPrecondition, InvalidArgument, MienError, NotFound

from .conftest import GREETING, HOSTILE

Factory = Callable[..., EmotionStateEngine]


def _forge(payload: dict[str, Any] | bytes, key: SaveKey) -> bytes:
    """A version-2 blob with a valid HMAC around any payload (what an attacker holding the key could make)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("ascii")  # "\\ud800" stays JSON
    head = struct.pack(">8sH8sI", BLOB_MAGIC, 2, key.key_id, len(data))
    return head + data + hmac.new(key.secret, head + data, hashlib.sha256).digest()


def _payload(engine: EmotionStateEngine, npc: str = "merchant") -> dict[str, Any]:
    blob = encode_state(engine.get_state(npc))
    return dict(json.loads(blob[14:-32]))


@pytest.fixture
def engine(make_engine: Factory) -> EmotionStateEngine:
    e = make_engine()
    e.set_persona("merchant", preset="anxious_merchant", game_time_s=0.0)
    e.observe("merchant", "self", GREETING, game_time_s=1.0)
    e.observe("merchant", "other", HOSTILE, game_time_s=2.0)
    return e


def test_key_file_is_created_once_with_0600(tmp_path: Path, make_engine: Factory) -> None:
    a = make_engine("a.sqlite3", blob_key_path=None)
    key_file = tmp_path / "a.sqlite3.key"
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_line, hex_key = key_file.read_text().split("\n")[:2]
    assert first_line == KEY_FILE_HEADER and len(bytes.fromhex(hex_key)) == 32
    a.set_persona("x", preset="average")
    blob = a.export_state("x")
    a.close()
    b = make_engine("a.sqlite3", blob_key_path=None)  # a restart: same key file, the blob still imports
    assert b.import_state(blob, npc_id="y").npc_id == "y"
    assert key_file.read_text().split("\n")[1] == hex_key


def test_blob_of_another_install_is_refused_unless_opted_in(tmp_path: Path, make_engine: Factory) -> None:
    ours = make_engine("ours.sqlite3", blob_key_path=str(tmp_path / "ours.key"))
    theirs = make_engine("theirs.sqlite3", blob_key_path=str(tmp_path / "theirs.key"))
    theirs.set_persona("guard", preset="stoic_guard")
    blob = theirs.export_state("guard")
    with pytest.raises(InvalidArgument, match="another install") as err:
        ours.import_state(blob)
    assert err.value.field == "state" and "accept_foreign_blobs" in err.value.message
    with pytest.raises(NotFound):
        ours.get_state("guard")  # nothing changed
    open_minded = make_engine("ours.sqlite3", blob_key_path=str(tmp_path / "ours.key"), accept_foreign_blobs=True)
    assert open_minded.import_state(blob) == theirs.get_state("guard")


def test_unauthenticated_v1_blob_needs_the_opt_in(engine: EmotionStateEngine, make_engine: Factory) -> None:
    v1 = encode_state(engine.get_state("merchant"))
    with pytest.raises(InvalidArgument, match="unauthenticated"):
        engine.import_state(v1, npc_id="copy")
    lenient = make_engine("other.sqlite3", accept_foreign_blobs=True)
    assert lenient.import_state(v1).revision == engine.get_state("merchant").revision


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, make_engine: Factory, mode: int) -> None:
    key = tmp_path / "loose.key"
    key.write_text(f"{KEY_FILE_HEADER}\n{os.urandom(32).hex()}\n")
    key.chmod(mode)
    with pytest.raises(FailedPrecondition, match="chmod 600") as err:
        make_engine("x.sqlite3", blob_key_path=str(key))
    assert err.value.field == "blob_key_path"


@pytest.mark.parametrize("content", ["", "hello", f"{KEY_FILE_HEADER}\nnot-hex\n", f"{KEY_FILE_HEADER}\nabcd\n",
                                     "x" * 5000])
def test_damaged_key_file_is_refused(tmp_path: Path, make_engine: Factory, content: str) -> None:
    key = tmp_path / "bad.key"
    key.write_text(content)
    key.chmod(0o600)
    with pytest.raises(FailedPrecondition) as err:
        make_engine("x.sqlite3", blob_key_path=str(key))
    assert str(key) in err.value.message and err.value.field == "blob_key_path"


def test_every_flipped_byte_and_every_truncation_is_refused(engine: EmotionStateEngine) -> None:
    good = engine.export_state("merchant")
    before = encode_state(engine.get_state("merchant"))
    for i in range(len(good)):
        for bit in (0x01, 0x80):
            damaged = bytearray(good)
            damaged[i] ^= bit
            with pytest.raises(InvalidArgument) as err:
                engine.import_state(bytes(damaged))
            assert err.value.field == "state"
    for n in range(len(good)):
        with pytest.raises(InvalidArgument):
            engine.import_state(good[:n])
    for extra in (b"\x00", b"x" * 100):
        with pytest.raises(InvalidArgument, match="does not match the header"):
            engine.import_state(good + extra)
    assert encode_state(engine.get_state("merchant")) == before


def test_flipped_payload_byte_says_checksum_mismatch(engine: EmotionStateEngine) -> None:
    good = bytearray(engine.export_state("merchant"))
    good[len(good) // 2] ^= 0xFF
    with pytest.raises(InvalidArgument, match="checksum mismatch"):
        engine.import_state(bytes(good))


def test_oversized_and_non_bytes_blobs(engine: EmotionStateEngine) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        engine.import_state(b"MIENEMO1" + b"\x00" * MAX_BLOB_BYTES)
    for bad in (None, "MIENEMO1", 42, [1, 2]):
        with pytest.raises(InvalidArgument, match="expected bytes"):
            engine.import_state(bad)  # type: ignore[arg-type]


def test_forged_revision_near_int64_is_refused_and_max_revision_saturates(engine: EmotionStateEngine) -> None:
    key = engine._save_key
    payload = _payload(engine)
    for revision in (2**63 - 1, 2**63, 2**64, MAX_REVISION + 1, 10**5000):
        with pytest.raises(InvalidArgument):
            engine.import_state(_forge({**payload, "revision": revision}, key) if revision < 10**100 else
                                _forge(json.dumps({**payload, "revision": 0}).replace('"revision": 0',
                                       '"revision": ' + "9" * 5000).encode(), key))
    state = engine.import_state(_forge({**payload, "revision": MAX_REVISION}, key), npc_id="old")
    assert state.revision == MAX_REVISION
    for _ in range(3):
        obs = engine.observe("old", "other", HOSTILE, game_time_s=5.0)
        assert obs.state.revision == MAX_REVISION  # saturates: never overflows SQLite
    assert engine.import_state(engine.export_state("old"), npc_id="again").revision == MAX_REVISION


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"temperament_pad": [0.9, 0.9, 0.9]}, "temperament"),
        ({"category": "happy"}, "inconsistent"),
        ({"intensity": 0.999}, "inconsistent"),
        ({"game_time_s": MAX_GAME_TIME_S * 10}, "game_time_s"),
        ({"game_time_s": -1.0}, "game_time_s"),
        ({"persona": "Not A Name!"}, "persona"),
        ({"persona": 7}, "persona"),
        ({"npc_id": ""}, "npc_id"),
        ({"npc_id": "a\nb"}, "control"),
        ({"npc_id": "n" * 500}, "npc_id"),
        ({"last_self_text": "x" * 3000}, "last_self_text"),
        ({"last_self_text": "\ud800"}, "surrogate"),
        ({"mood_vad": [0.0, 1.5, 0.0]}, "mood_vad"),
        ({"emotion_vad": [0.0, "x", 0.0]}, "emotion_vad"),
        ({"ocean": [0.5, 0.5, 0.5, 0.5, True]}, "ocean"),
        ({"ocean": [0.5, 0.5]}, "ocean"),
        ({"revision": -1}, "revision"),
        ({"revision": 1.5}, "revision"),
        ({"kind": "other"}, "kind"),
        ({"extra": 1}, "unknown fields"),
    ],
)
def test_forged_inconsistent_fields_are_refused(
    engine: EmotionStateEngine, change: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidArgument, match=needle) as err:
        engine.import_state(_forge({**_payload(engine), **change}, engine._save_key))
    assert err.value.field == "state" and len(err.value.message) < 300


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN", b"[]", b"{", b"\xff\xfe", b'{"kind": "mien.emotion_state.npc", "revision": NaN}',
        b'{"kind": "mien.emotion_state.npc", "kind": "mien.emotion_state.npc"}', b"[" * 100000 + b"]" * 100000,
        b'{"kind": "mien.emotion_state.npc", "intensity": Infinity}', b'{"a": 1e999999}',
    ],
)
def test_forged_unparseable_payloads_are_refused(engine: EmotionStateEngine, raw: bytes) -> None:
    with pytest.raises(InvalidArgument) as err:
        engine.import_state(_forge(raw, engine._save_key))
    assert err.value.field == "state" and len(err.value.message) < 300


def _follow_up_calls(engine: EmotionStateEngine, npc: str) -> None:
    """Everything a game may do with an imported NPC: none of it may fail."""
    engine.get_state(npc)
    for t in (None, 0.0, 3.0, 1e6, MAX_GAME_TIME_S, 5.0):
        engine.get_state(npc, game_time_s=t)
        engine.current_emotion(npc, game_time_s=t)
    engine.observe(npc, "self", "Hello there.", game_time_s=10.0)
    engine.observe(npc, "other", HOSTILE, game_time_s=11.0)
    engine.observe(npc, "other", "Thank you, friend.", emotion=Emotion.of("happy", 0.4), game_time_s=12.0)
    engine.import_state(engine.export_state(npc), npc_id=npc)
    engine.set_persona(npc, preset="stoic_guard", game_time_s=13.0)
    engine.reset_state(npc, game_time_s=14.0)
    assert engine.delete_state(npc)


unit = st.floats(-1.0, 1.0, allow_nan=False)
odd_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70), st.booleans(), st.none(),
    st.text(max_size=5),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_accepted_forged_blob_makes_a_later_call_fail(engine: EmotionStateEngine, data: st.DataObject) -> None:
    """Hypothesis: any payload sealed with the install's key either is refused with InvalidArgument or, if
    accepted, never makes a later call (observe, get_state, export/import, set_persona, reset) fail."""
    payload = _payload(engine)
    for field in data.draw(st.lists(st.sampled_from(sorted(payload)), max_size=4, unique=True)):
        kind = data.draw(st.sampled_from(["vad", "odd", "drop", "list"]))
        if kind == "vad":
            payload[field] = list(data.draw(st.tuples(unit, unit, unit)))
        elif kind == "odd":
            payload[field] = data.draw(odd_number)
        elif kind == "drop":
            payload.pop(field)
        else:
            payload[field] = data.draw(st.lists(odd_number, max_size=6))
    try:
        blob = _forge(payload, engine._save_key)
    except (ValueError, TypeError):  # json.dumps refuses NaN only with allow_nan=False; integers are fine
        return
    try:
        state = engine.import_state(blob, npc_id="forged")
    except InvalidArgument as exc:
        assert exc.field in ("state", "npc_id") and len(exc.message) < 400
        return
    assert state.npc_id == "forged"
    _follow_up_calls(engine, "forged")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    vad=st.tuples(unit, unit, unit), mood=st.tuples(unit, unit, unit), base=st.tuples(unit, unit, unit),
    revision=st.integers(0, MAX_REVISION), t=st.floats(0.0, MAX_GAME_TIME_S),
)
def test_consistent_forged_states_are_accepted_and_keep_working(
    engine: EmotionStateEngine, vad: tuple[float, float, float], mood: tuple[float, float, float],
    base: tuple[float, float, float], revision: int, t: float,
) -> None:
    """The other side of the checks: any consistent state (coherent category, matching temperament) in the
    valid ranges is accepted, and keeps working."""
    import numpy as np

    from mien.emotion_state.classify import classify_vad

    cls = classify_vad(np.array(vad))
    payload = {**_payload(engine), "emotion_vad": list(vad), "mood_vad": list(mood), "baseline_vad": list(base),
               "category": cls.category, "intensity": cls.intensity, "revision": revision, "game_time_s": t}
    state = engine.import_state(_forge(payload, engine._save_key), npc_id="consistent")
    assert state.revision == revision and math.isclose(state.game_time_s, t)
    _follow_up_calls(engine, "consistent")


def test_open_blob_checks_before_parsing(engine: EmotionStateEngine) -> None:
    """With the wrong key, a blob whose payload would crash a careless parser is refused by its tag."""
    other = SaveKey(b"k" * 32)
    evil = _forge(b"[" * 200000, other)
    with pytest.raises(InvalidArgument, match="another install"):
        open_blob(evil, engine._save_key)
    forged_id = evil[:10] + engine._save_key.key_id + evil[18:]  # claims to be ours, tag does not verify
    with pytest.raises(InvalidArgument, match="checksum mismatch"):
        open_blob(forged_id, engine._save_key)
    assert seal(engine.get_state("merchant"), engine._save_key) == engine.export_state("merchant")
    assert "secret" not in repr(engine._save_key) and engine._save_key.secret.hex() not in repr(engine._save_key)


def test_every_error_is_a_mien_error(engine: EmotionStateEngine) -> None:
    for bad in (b"", b"MIENEMO1\x00\x02", b"MIENEMO1\x00\x09" + b"\x00" * 60, b"PK\x03\x04" * 20):
        with pytest.raises(MienError):
            engine.import_state(bad)


def test_memory_database_key_is_per_process(encoder: Any) -> None:
    a = EmotionStateEngine(EmotionStateConfig(db_path=":memory:"), encoder=encoder)
    b = EmotionStateEngine(EmotionStateConfig(db_path=":memory:"), encoder=encoder)
    try:
        a.set_persona("x", preset="average")
        blob = a.export_state("x")
        assert a.import_state(blob, npc_id="y").npc_id == "y"
        with pytest.raises(InvalidArgument, match="another install"):
            b.import_state(blob)
    finally:
        a.close()
        b.close()
