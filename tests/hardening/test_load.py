"""Load: concurrent real-time streams on loopback against `mien serve` (a subprocess, so its RSS is the
sidecar's alone and the clients do not share its interpreter).

The CI round is shorter than the full run (``bench/load.py``: 64 streams x 60 s); the same code runs
both. ``MIEN_LOAD_STREAMS`` / ``MIEN_LOAD_SECONDS`` change the CI round. Figures go to the test log
and ``test-artifacts/load*.json``.

Within capacity (STREAMS, default 6) it asserts: zero errors (every stream ends with StreamEnd and OK,
contiguous frames, the expected count); p99 frame latency (from sending the chunk that completes a
frame's audio, look-ahead included, to the frame's arrival) <= look-ahead + 30 ms; sidecar RSS growth
<= 10 % from after a warm-up round to after the measured round; a stalled client gets
DEADLINE_EXCEEDED after the stall timeout, and a client at half real time gets DEADLINE_EXCEEDED once its
audio lags by more than ``limits.max_stream_lag_s`` (2 s here), while the others stay within those bounds.

Why 6: one sidecar process spends ~3 ms of GIL-bound CPU per 40 ms chunk per stream (numpy call
overhead in StreamSession._frames; measured on the 2-core CI-class machine, shared), so it saturates
at ~10 real-time streams whatever the number of cores, and beyond that latency grows without bound;
at 8 streams (+ the slow and the stalled client) the p99 bound failed 1 run in 3 on the shared machine,
at 6 it held with a 2x margin on the worst frame.
Past capacity (3 x STREAMS) it asserts what must hold under overload: no errors, every frame
delivered, bounded memory; latency is recorded, not asserted. docs/scaling.md: one replica per core.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.load import run_load, run_stream, speech_pcm

from .harness import REPO, MienProcess

STREAMS = int(os.environ.get("MIEN_LOAD_STREAMS", "6"))
SECONDS = float(os.environ.get("MIEN_LOAD_SECONDS", "10"))
STALL_TIMEOUT_S = 1.5
MAX_LAG_S = 2.0
SLACK_MS = 30.0


@pytest.fixture(scope="module")
def server(toy_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MienProcess]:
    config = {"server": {"http_port": -1, "log_level": "WARNING"},
              "limits": {"stream_stall_timeout_s": STALL_TIMEOUT_S, "max_stream_lag_s": MAX_LAG_S,
                         "max_streams": 3 * STREAMS + 16, "max_concurrent_per_client": 3 * STREAMS + 16},
              "neural": {"model": str(toy_model)}}
    with MienProcess(tmp_path_factory.mktemp("load"), config) as process:
        yield process


def test_concurrent_streams_zero_errors_on_time_and_bounded_memory(server: MienProcess) -> None:
    extra = {
        "stalled": {"stall_after_s": 1.0},
        "slow-half-real-time": {"speed": 0.5, "seconds": SECONDS / 2},
    }
    result, others = run_load(server.target, streams=STREAMS, seconds=SECONDS, warmup_s=3.0, server_pid=server.pid,
                              extra=extra)
    summary = result.summary()
    summary["extra_clients"] = {s.name: {"code": s.code, "details": s.details, "ended_after_s": round(s.duration_s, 2)}
                                for s in others}
    _record("load", summary)

    assert not result.errors, summary["error_codes"]
    assert len(result.streams) == STREAMS
    bound = result.lookahead_ms + SLACK_MS
    assert result.percentile(99) <= bound, (summary["latency_ms"], f"bound {bound:.1f} ms")
    growth = result.rss_growth
    assert growth is not None and growth <= 0.10, summary["rss_mb"]

    by_name = {s.name: s for s in others}
    stalled = by_name["stalled"]
    assert stalled.code == "DEADLINE_EXCEEDED", (stalled.code, stalled.details)
    assert "limits.stream_stall_timeout_s" in stalled.details
    assert stalled.duration_s <= 1.0 + STALL_TIMEOUT_S + 3.0, stalled.duration_s
    slow = by_name["slow-half-real-time"]  # 5 s of audio at half speed: cut once it lags by MAX_LAG_S
    assert slow.code == "DEADLINE_EXCEEDED" and "limits.max_stream_lag_s" in slow.details, (slow.code, slow.details)
    assert slow.duration_s <= 2 * MAX_LAG_S + 4.0, slow.duration_s
    assert "Traceback" not in server.log_text()


def test_overload_degrades_latency_not_correctness(server: MienProcess) -> None:
    """Three times the streams one process can keep up with: late frames, but every stream completes exactly."""
    streams = 3 * STREAMS
    result, _ = run_load(server.target, streams=streams, seconds=6.0, warmup_s=2.0, server_pid=server.pid)
    summary = result.summary()
    _record("load_overload", summary)
    assert not result.errors, summary["error_codes"]
    assert len(result.streams) == streams
    growth = result.rss_growth
    assert growth is not None and growth <= 0.10, summary["rss_mb"]
    assert "Traceback" not in server.log_text()


def _record(name: str, summary: dict[str, object]) -> None:
    print(json.dumps(summary, indent=2))
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"{name}.json").write_text(json.dumps(summary, indent=2))


def test_a_client_slower_than_real_time_is_timed_out(server: MienProcess) -> None:
    """40 ms of audio every 80 ms: after ~2 x MAX_LAG_S of wall time the audio lags real time by more than
    limits.max_stream_lag_s, and the stream must end with DEADLINE_EXCEEDED (after its frames so far)."""
    import asyncio

    stats = asyncio.run(run_stream(server.target, "slow", speech_pcm(), seconds=4.0, speed=0.5, timeout_s=60))
    assert stats.code == "DEADLINE_EXCEEDED", (stats.code, stats.details, stats.duration_s)
    assert "slower than real time" in stats.details, stats.details
    assert stats.duration_s < 2 * MAX_LAG_S + 2.0
