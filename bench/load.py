"""Load test of StreamAnimate: N concurrent real-time streams against one sidecar, with figures.

    python bench/load.py                          # 64 streams x 60 s against a fresh `mien serve`
    python bench/load.py --streams 16 --seconds 10
    python bench/load.py --target 127.0.0.1:50051 # an already running sidecar (no RSS figures)
    python bench/load.py --model path/to.onnx     # default: the shipped model, else the test toy model
    python bench/load.py --replicas 2             # two sidecars behind nginx grpc_pass (docs/scaling.md)

Each stream is one game client (its own channel and ``x-mien-client``) sending speech (the test
fixtures, looped) as 40 ms PCM chunks paced at real time, then EndOfAudio. For every frame it
receives it records the *frame latency*: from the moment the chunk holding the last audio sample the
frame needs (its time + the model's look-ahead) was sent, to the moment the frame arrived. A stream
counts as an error unless it ends with StreamEnd and status OK with contiguous frames, the expected
frame count, and finite values. The sidecar's RSS is sampled after a warm-up round (same load, a few
seconds) and after the measured round. Optional extra clients: one that sends at half real time and
one that stalls (stops sending without EndOfAudio).

Prints p50/p90/p99/max latency, errors, frames, RSS before/after and growth; ``--json PATH`` also writes
the same as JSON (``-``: stdout only, instead of the text) for a bench runner to collect. Exit status 0
when no load stream had an error, 1 otherwise. tests/hardening/test_load.py runs a shorter round of the
same code in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import soundfile as sf
import yaml

from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "fixtures" / "speech"
RATE = 16_000


# ------------------------------------------------------------------------------------------- audio


def speech_pcm(rate: int = RATE) -> bytes:
    """Every speech fixture, concatenated, as s16le mono (looped by the streams)."""
    parts = []
    for path in sorted(SPEECH.glob("*.wav")):
        data, file_rate = sf.read(path, dtype="int16", always_2d=True)
        if file_rate == rate:
            parts.append(data[:, 0])
    if not parts:
        raise SystemExit(f"no {rate} Hz speech fixtures in {SPEECH}")
    return np.concatenate(parts).astype("<i2").tobytes()


# ------------------------------------------------------------------------------------------ figures


@dataclass
class StreamStats:
    name: str
    code: str = "UNKNOWN"
    details: str = ""
    frames: int = 0
    audio_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lookahead_ms: float = 0.0
    duration_s: float = 0.0
    """From the start of the call to its status."""

    @property
    def ok(self) -> bool:
        return self.code == "OK" and not self.problems


@dataclass
class LoadResult:
    streams: list[StreamStats]
    wall_s: float
    lookahead_ms: float = 0.0
    rss_before: int | None = None
    rss_after: int | None = None
    rss_peak: int | None = None

    @property
    def errors(self) -> list[StreamStats]:
        return [s for s in self.streams if not s.ok]

    @property
    def latencies_ms(self) -> np.ndarray:
        return np.array([v for s in self.streams for v in s.latencies_ms], dtype=np.float64)

    def percentile(self, q: float) -> float:
        values = self.latencies_ms
        return float(np.percentile(values, q)) if len(values) else math.nan

    @property
    def rss_growth(self) -> float | None:
        if not self.rss_before or not self.rss_after:
            return None
        return (self.rss_after - self.rss_before) / self.rss_before

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "streams": len(self.streams),
            "errors": len(self.errors),
            "error_codes": sorted({f"{s.code}:{s.details[:80]}" for s in self.errors} | {
                f"{s.name}:{p}" for s in self.errors for p in s.problems[:1]}),
            "frames": int(sum(s.frames for s in self.streams)),
            "audio_s": round(sum(s.audio_s for s in self.streams), 1),
            "wall_s": round(self.wall_s, 1),
            "lookahead_ms": round(self.lookahead_ms, 1),
            "latency_ms": {"p50": _r(self.percentile(50)), "p90": _r(self.percentile(90)),
                           "p99": _r(self.percentile(99)), "max": _r(float(lat.max()) if len(lat) else math.nan),
                           "min": _r(float(lat.min()) if len(lat) else math.nan)},
            "rss_mb": {"before": _mb(self.rss_before), "after": _mb(self.rss_after), "peak": _mb(self.rss_peak),
                       "growth_pct": None if self.rss_growth is None else round(100 * self.rss_growth, 2)},
        }


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 1)


def _mb(x: int | None) -> float | None:
    return None if x is None else round(x / 2**20, 1)


# ------------------------------------------------------------------------------------------ clients


async def run_stream(target: str, name: str, pcm: bytes, *, seconds: float, chunk_ms: int = 40, speed: float = 1.0,
                     stall_after_s: float | None = None, start_delay_s: float = 0.0, timeout_s: float = 120.0,
                     offset: int = 0, rate: int = RATE) -> StreamStats:
    """One paced stream. ``speed`` 0.5 = half real time; ``stall_after_s`` stops sending (no EndOfAudio)."""
    stats = StreamStats(name)
    loop = asyncio.get_running_loop()
    chunk_samples = rate * chunk_ms // 1000
    chunk_bytes = 2 * chunk_samples
    n_chunks = max(1, round(seconds * 1000 / chunk_ms))
    sent: list[float] = []  # send time of chunk k
    end_sent: list[float] = []
    header_seen = asyncio.Event()
    meta: dict[str, float] = {}
    await asyncio.sleep(start_delay_s)
    began = loop.time()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = fa_grpc.FaceAnimationStub(channel)
        call = stub.StreamAnimate(metadata=(("x-mien-client", name),), timeout=timeout_s)

        async def writer() -> None:
            await call.write(fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=rate, seed=len(name))))
            t0 = loop.time()
            for k in range(n_chunks):
                due = t0 + k * chunk_ms / 1000.0 / speed
                if stall_after_s is not None and due - t0 >= stall_after_s:
                    await asyncio.sleep(timeout_s)  # stalled: never sends again (the server must end it)
                    return
                await asyncio.sleep(max(0.0, due - loop.time()))
                start = (offset + k * chunk_bytes) % (len(pcm) - chunk_bytes)
                start -= start % 2
                sent.append(loop.time())
                await call.write(fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[start:start + chunk_bytes])))
            await asyncio.sleep(max(0.0, t0 + n_chunks * chunk_ms / 1000.0 / speed - loop.time()))
            end_sent.append(loop.time())
            await call.write(fa.StreamAnimateRequest(end=fa.EndOfAudio()))
            await call.done_writing()

        async def reader() -> None:
            expected_first = 0
            names = 0
            async for response in call:
                now = loop.time()
                kind = response.WhichOneof("message")
                if kind == "header":
                    meta["fps"] = response.header.fps
                    meta["lookahead_s"] = response.header.lookahead_ms / 1000.0
                    stats.lookahead_ms = response.header.lookahead_ms
                    names = len(response.header.channel_names)
                    header_seen.set()
                elif kind == "frames":
                    batch = response.frames
                    if batch.first_frame != expected_first:
                        stats.problems.append(f"frames {batch.first_frame} after {expected_first}")
                    if len(batch.values) != batch.frame_count * names or not all(map(math.isfinite, batch.values)):
                        stats.problems.append("bad frame values")
                    for f in range(batch.first_frame, batch.first_frame + batch.frame_count):
                        needed = math.ceil((f / meta["fps"] + meta["lookahead_s"]) * rate)  # samples the frame needs
                        k = max(0, needed - 1) // chunk_samples
                        ref = sent[k] if k < len(sent) else (end_sent[0] if end_sent else now)
                        stats.latencies_ms.append((now - ref) * 1000.0)
                    expected_first = batch.first_frame + batch.frame_count
                elif kind == "end":
                    stats.frames = response.end.frame_count
                    stats.audio_s = response.end.audio_duration_s
                    if response.end.frame_count != expected_first:
                        stats.problems.append(f"end says {response.end.frame_count} frames, got {expected_first}")
                    expected = math.floor(n_chunks * chunk_samples / rate * meta["fps"]) + 1
                    if stall_after_s is None and response.end.frame_count != expected:
                        stats.problems.append(f"{response.end.frame_count} frames, expected {expected}")
            if stall_after_s is None and stats.frames == 0:
                stats.problems.append("no StreamEnd")

        write_task = asyncio.create_task(writer())
        try:
            await reader()
            code = await call.code()
            stats.code = code.name
            stats.details = await call.details() or ""
        except grpc.aio.AioRpcError as error:
            stats.code = error.code().name
            stats.details = error.details() or ""
        except Exception as error:  # noqa: BLE001 - a client-side failure is a measured error, not a crash
            stats.code = "CLIENT_ERROR"
            stats.details = f"{type(error).__name__}: {error}"
        finally:
            write_task.cancel()
            await asyncio.gather(write_task, return_exceptions=True)
    stats.duration_s = loop.time() - began
    return stats


async def _round(target: str, pcm: bytes, *, streams: int, seconds: float, chunk_ms: int, extra: dict[str, Any],
                 seed: int) -> tuple[list[StreamStats], float]:
    rng = random.Random(seed)
    tasks = [run_stream(target, f"load-{i}", pcm, seconds=seconds, chunk_ms=chunk_ms,
                        start_delay_s=rng.uniform(0, chunk_ms / 1000.0), offset=rng.randrange(len(pcm)),
                        timeout_s=seconds * 10 + 120) for i in range(streams)]
    for name, kwargs in extra.items():
        options = {"seconds": seconds, "chunk_ms": chunk_ms, "timeout_s": seconds * 10 + 120, **kwargs}
        tasks.append(run_stream(target, name, pcm, **options))
    started = time.monotonic()
    results = await asyncio.gather(*tasks)
    return list(results), time.monotonic() - started


def rss_bytes(pid: int | list[int]) -> int:
    """VmRSS of a process, or the sum over several (replicas)."""
    if isinstance(pid, list):
        return sum(rss_bytes(p) for p in pid)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run_load(target: str, *, streams: int, seconds: float, chunk_ms: int = 40, warmup_s: float = 3.0,
             server_pid: int | list[int] | None = None, extra: dict[str, dict[str, Any]] | None = None,
             seed: int = 0) -> tuple[LoadResult, list[StreamStats]]:
    """Warm-up round (same concurrency), RSS, measured round (+ extra clients), RSS.

    Returns the measured round's result (the load streams only) and the extra clients' stats.
    """
    pcm = speech_pcm()
    rss_before = rss_after = peak = None
    if warmup_s > 0:
        warm, _ = asyncio.run(_round(target, pcm, streams=streams, seconds=warmup_s, chunk_ms=chunk_ms, extra={},
                                     seed=seed + 1))
        bad = [s for s in warm if not s.ok]
        if bad:
            raise RuntimeError(f"warm-up failed: {bad[0].name} {bad[0].code} {bad[0].details} {bad[0].problems}")
    if server_pid is not None:
        time.sleep(0.5)
        rss_before = rss_bytes(server_pid)
        peak = rss_before

    async def measured() -> tuple[list[StreamStats], float]:
        nonlocal peak
        work = asyncio.ensure_future(_round(target, pcm, streams=streams, seconds=seconds, chunk_ms=chunk_ms,
                                            extra=extra or {}, seed=seed))
        while not work.done():
            if server_pid is not None:
                peak = max(peak or 0, rss_bytes(server_pid))
            await asyncio.sleep(0.5)
        return work.result()

    results, wall = asyncio.run(measured())
    if server_pid is not None:
        time.sleep(0.5)
        rss_after = rss_bytes(server_pid)
    load = [s for s in results if s.name.startswith("load-")]
    others = [s for s in results if not s.name.startswith("load-")]
    result = LoadResult(load, wall, lookahead_ms=max((s.lookahead_ms for s in load), default=0.0),
                        rss_before=rss_before, rss_after=rss_after, rss_peak=peak)
    return result, others


# ------------------------------------------------------------------------------------------- server


def default_model(tmp: Path) -> Path:
    shipped = REPO / "sidecar" / "mien" / "data" / "models" / "mien_a2c.onnx"
    if shipped.is_file():
        return shipped
    sys.path.insert(0, str(REPO / "tests"))
    from support.toy_model import build_toy_model

    print("no shipped neural model: using the test toy model (tests/support/toy_model.py)", file=sys.stderr)
    return build_toy_model(tmp)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_proxy(tmp: Path, replicas: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's nginx with ``grpc_pass`` to the replicas (scripts/nginx_grpc.conf.template, docs/scaling.md):
    every call (each stream) goes to one replica, round robin."""
    import shutil
    import socket

    sys.path.insert(0, str(REPO / "scripts"))
    from render_nginx_conf import prepare, render

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = tmp / "nginx"
    prepare(prefix)
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render(prefix=prefix, listen=f"127.0.0.1:{port}", replicas=replicas,
                           user="root" if os.geteuid() == 0 else None, worker_processes="1"))
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"nginx exited: {(prefix / 'error.log').read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("nginx did not start")


def start_sidecar(tmp: Path, model: Path, *, streams: int, stall_timeout_s: float,
                  max_lag_s: float | None = None, log_level: str = "WARNING") -> tuple[subprocess.Popen[bytes], str]:
    tmp.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = {"server": {"port": port, "http_port": -1, "log_level": log_level},
              # every load client connects from 127.0.0.1 (directly or through nginx): one client for the limit
              "limits": {"max_streams": streams + 8, "max_concurrent_per_client": streams + 8,
                         "stream_stall_timeout_s": stall_timeout_s,
                         **({} if max_lag_s is None else {"max_stream_lag_s": max_lag_s})},
              "neural": {"model": str(model)}, "state": {"db_path": str(tmp / "state.sqlite3")}}
    path = tmp / "mien.yaml"
    path.write_text(yaml.safe_dump(config))
    log = (tmp / "mien.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "mien", "serve", "--config", str(path)], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    target = f"127.0.0.1:{port}"
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + 180
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the sidecar exited: {(tmp / 'mien.log').read_text()[-3000:]}")
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return proc, target
            except grpc.RpcError:
                time.sleep(0.3)
    proc.kill()
    raise SystemExit("the sidecar did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chunk-ms", type=int, default=40)
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--target", help="host:port of a running sidecar (default: start one)")
    parser.add_argument("--model", help="neural model for the started sidecar")
    parser.add_argument("--stall-timeout-s", type=float, default=2.0, help="of the started sidecar")
    parser.add_argument("--max-lag-s", type=float, help="limits.max_stream_lag_s of the started sidecar (default: "
                        "the sidecar's; 0 = off, when the client pool shares the sidecar's CPUs)")
    parser.add_argument("--replicas", type=int, default=1, help="started sidecars; more than one: behind nginx "
                        "grpc_pass (the scale-out set-up of docs/scaling.md), RSS summed over them")
    parser.add_argument("--no-extra", action="store_true", help="without the slow and the stalled client")
    parser.add_argument("--json", metavar="PATH", help="also write the summary as JSON to PATH ('-': stdout)")
    args = parser.parse_args(argv)
    extra = {} if args.no_extra else {"slow-half-real-time": {"speed": 0.5},
                                      "stalled": {"stall_after_s": 1.0}}
    with tempfile.TemporaryDirectory(prefix="mien-load-") as tmp_name:
        tmp = Path(tmp_name)
        procs: list[subprocess.Popen[bytes]] = []
        proxy = None
        target = args.target
        try:
            if target is None:
                model = Path(args.model) if args.model else default_model(tmp)
                targets = []
                for i in range(max(1, args.replicas)):
                    proc, one = start_sidecar(tmp / f"replica{i}", model, streams=args.streams + len(extra),
                                              stall_timeout_s=args.stall_timeout_s, max_lag_s=args.max_lag_s)
                    procs.append(proc)
                    targets.append(one)
                target = targets[0]
                if len(targets) > 1:
                    proxy, target = start_proxy(tmp, targets)
            pids = [p.pid for p in procs]
            result, others = run_load(target, streams=args.streams, seconds=args.seconds, chunk_ms=args.chunk_ms,
                                      warmup_s=args.warmup_s, server_pid=pids or None, extra=extra)
        finally:
            for proc in [*procs, *([proxy] if proxy else [])]:
                proc.terminate()
                proc.wait(timeout=60)
    summary = result.summary()
    summary["extra_clients"] = {s.name: {"code": s.code, "details": s.details[:120],
                                         "ended_after_s": round(s.duration_s, 1)} for s in others}
    summary["config"] = {"streams": args.streams, "seconds": args.seconds, "chunk_ms": args.chunk_ms,
                         "warmup_s": args.warmup_s, "target": args.target or "started sidecar",
                         "replicas": 0 if args.target else max(1, args.replicas),
                         "model": args.model or "default", "cpus": os.cpu_count(),
                         "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
    if args.json and args.json != "-":
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if args.json == "-":
        print(json.dumps(summary, indent=2))
    else:
        lat = summary["latency_ms"]
        rss = summary["rss_mb"]
        print(f"{summary['streams']} streams x {args.seconds:g} s ({summary['audio_s']} s of audio, "
              f"{summary['frames']} frames) in {summary['wall_s']} s; look-ahead {result.lookahead_ms or '?'} ms")
        print(f"errors: {summary['errors']} {summary['error_codes'] or ''}")
        print(f"frame latency ms: p50 {lat['p50']}  p90 {lat['p90']}  p99 {lat['p99']}  max {lat['max']}")
        print(f"sidecar RSS MB: before {rss['before']}  after {rss['after']}  peak {rss['peak']}  "
              f"growth {rss['growth_pct']} %")
        for name, info in summary["extra_clients"].items():
            print(f"{name}: {info['code']} after {info['ended_after_s']} s: {info['details']}")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
