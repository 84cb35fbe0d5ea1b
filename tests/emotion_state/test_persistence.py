"""Persistence: restart equality, survival of kill -9, export/import exactness, concurrency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mien.emotion import Emotion
from mien.emotion_state import EmotionStateEngine, decode_state, encode_state

from .conftest import FRIENDLY, GREETING, HOSTILE

Factory = Callable[..., EmotionStateEngine]
SIDECAR = Path(__file__).resolve().parents[2] / "sidecar"


def _script(engine: EmotionStateEngine, npc: str) -> None:
    engine.set_persona(npc, preset="anxious_merchant", game_time_s=0.0)
    engine.observe(npc, "self", GREETING, game_time_s=1.0)
    engine.observe(npc, "other", HOSTILE, game_time_s=3.0)
    engine.observe(npc, "self", "I... I think you should leave.", game_time_s=5.0)
    engine.observe(npc, "other", FRIENDLY, emotion=None, game_time_s=9.0)


def test_restart_reproduces_state(make_engine: Factory) -> None:
    first = make_engine("db.sqlite3")
    _script(first, "merchant")
    before, blob = first.get_state("merchant"), first.export_state("merchant")
    first.close()
    second = make_engine("db.sqlite3")
    assert second.get_state("merchant") == before
    assert second.export_state("merchant") == blob
    # Continuing after the restart gives what an engine that never restarted gives.
    never = make_engine("other.sqlite3")
    _script(never, "merchant")
    a = second.observe("merchant", "other", "Sorry.", game_time_s=20.0)
    b = never.observe("merchant", "other", "Sorry.", game_time_s=20.0)
    assert a.state == b.state


def test_export_import_on_fresh_engine_is_exact(make_engine: Factory) -> None:
    source = make_engine("a.sqlite3")
    _script(source, "merchant")
    blob = source.export_state("merchant")
    fresh = make_engine("b.sqlite3")
    imported = fresh.import_state(blob)
    assert imported == source.get_state("merchant")
    assert fresh.export_state("merchant") == blob
    assert fresh.get_state("merchant", 100.0) == source.get_state("merchant", 100.0)
    assert (
        fresh.observe("merchant", "other", HOSTILE, game_time_s=30.0).state
        == source.observe("merchant", "other", HOSTILE, game_time_s=30.0).state
    )
    renamed = fresh.import_state(blob, npc_id="merchant_copy")
    assert renamed.npc_id == "merchant_copy" and renamed.revision == imported.revision


CHILD = textwrap.dedent(
    """
    import sys
    from mien.emotion import Emotion
    from mien.emotion_state import EmotionStateConfig, EmotionStateEngine, encode_state
    engine = EmotionStateEngine(EmotionStateConfig(db_path=sys.argv[1], sqlite_synchronous="NORMAL"))
    engine.set_persona("victim", preset="timid_villager")
    engine.set_persona("bystander", preset="stoic_guard")
    i = 0
    while True:
        obs = engine.observe("victim", "other", "Line %d" % i, emotion=Emotion.of("fear", (i % 10) / 10),
                             game_time_s=float(i))
        print(obs.state.revision, encode_state(obs.state).hex(), flush=True)
        i += 1
    """
)


def test_kill_9_keeps_committed_states(tmp_path: Path, make_engine: Factory) -> None:
    db = tmp_path / "killed.sqlite3"
    env = dict(os.environ, PYTHONPATH=str(SIDECAR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    reported: dict[int, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            revision, blob_hex = line.split()
            reported[int(revision)] = blob_hex
            if len(reported) >= 25:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    last = max(reported)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine = make_engine(str(db.name))
    state = engine.get_state("victim")
    assert state.revision >= last  # nothing committed was lost (a later commit may have landed)
    if state.revision == last:
        assert encode_state(engine.get_state("victim")) == bytes.fromhex(reported[last])
    assert decode_state(bytes.fromhex(reported[last])).revision == last
    assert engine.get_state("bystander").revision == 0


def test_concurrent_updates_of_one_npc_are_serialised(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("hot", preset="hotheaded_mercenary")
    engine.set_persona("cold", preset="stoic_guard")
    cold = engine.export_state("cold")
    threads, per_thread = 8, 25
    barrier = threading.Barrier(threads)

    def worker(k: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            if i % 3 == 0:
                engine.observe("hot", "other", f"Insult number {k}-{i}!", game_time_s=float(i))
            elif i % 3 == 1:
                engine.observe("hot", "self", f"Say that again, {k}!", game_time_s=float(i))
            else:
                engine.observe("hot", "other", "Calm down.", emotion=Emotion.of("angry", 0.5))

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(worker, k) for k in range(threads)]:
            f.result()
    assert engine.get_state("hot").revision == threads * per_thread
    assert engine.export_state("cold") == cold
    engine.close()


def test_many_npcs_concurrently(make_engine: Factory) -> None:
    engine = make_engine()
    npcs = [f"npc_{i}" for i in range(20)]
    for n in npcs:
        engine.set_persona(n, preset="average")
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda n: [engine.observe(n, "other", f"Hello {n}", game_time_s=float(j)) for j in range(5)], npcs)
        )
    assert all(engine.get_state(n).revision == 5 for n in npcs)
    assert sorted(engine.npc_ids()) == sorted(npcs)


def test_newer_schema_is_refused(tmp_path: Path, make_engine: Factory) -> None:
    db = tmp_path / "future.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    from mien.errors import FailedPrecondition

    with pytest.raises(FailedPrecondition):
        make_engine("future.sqlite3")
