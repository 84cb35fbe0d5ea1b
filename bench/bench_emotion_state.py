"""Benchmark of the emotion state: encoder cost, ``observe`` latency with 100 NPCs, RSS.

Usage (from the repository root; ~2 minutes on 2 cores, ~3 with ``--sidecar``)::

    PYTHONPATH=sidecar python bench/bench_emotion_state.py [--rate 50] [--clients 8] [--seconds 20] [--sidecar]
        [--bursts 5] [--sequential 300] [--saturation 1600] [--json PATH]

Scenarios (every line is made up from templates written for this benchmark, no dataset text; a
"fresh" line is one the engine has never seen, so the encoder cache misses):

1. encoder: ms per utterance (wall and CPU time of the calling thread), one fresh line at a time;
2. service time: ``observe`` calls one at a time, nothing else running in the engine, for the NPC's
   own lines (``self``: the encoding happens in the background) and lines said to it (``other``);
3. **scene** (the target scenario): 100 NPCs with mixed presets; ``--clients`` client threads (8),
   each owning 12-13 of the NPCs and sending their updates as a Poisson process, ``--rate``
   updates/s in aggregate (50 = each NPC hears or says a line every 2 s on average), for
   ``--seconds`` (20); each NPC alternates its own line (``self``) and a line said to it
   (``other``), every line fresh. Latency runs from the update's *scheduled* arrival to its
   completion, so a late start (queueing behind another call of the same client) counts;
4. **burst**: all 100 NPCs updated at once from 16 client threads, (a) 100 different fresh lines,
   (b) one fresh line heard by all 100 (a shout in a crowd); 5 bursts each, latency from the
   burst's start (each NPC said a fresh line of its own 2 s before, as the reply's context);
5. saturation: 16 threads calling ``observe`` back to back (throughput; latency is queueing);
6. RSS of this process: before loading the engine (Python, numpy), after, and peak.

``--batching`` instead measures micro-batching: one ``session.run`` on a padded batch of 1-32 fresh
lines (1 and 2 ONNX threads), ms per text, to decide whether batching concurrent texts would pay.

``--sidecar`` instead starts the whole sidecar as its own process (``mien serve`` with its default
models: phoneme decoders, neural face model, emotion state; gRPC on a loopback port, as a game would
run it), reports that process's RSS with every model loaded, and runs scenarios 3 and 4 through gRPC
``ObserveUtterance`` from this process, one channel per client thread.

``--json PATH`` also writes the figures (latencies in ms, RSS in MB) as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

OPENERS = ["Listen", "Hey", "Well", "Look", "Friend", "Stranger", "Sir", "Oh", "Ha", "Please"]
MIDDLES = [
    "you owe me {n} gold coins",
    "the {thing} is broken again",
    "I saw wolves near the {place}",
    "your {thing} saved my life",
    "nobody in the {place} trusts you",
    "the king pays {n} silver for it",
    "I never asked for your {thing}",
    "they burned the {place} last night",
    "what a fine {thing} this is",
    "get away from my {thing}",
]
THINGS = ["sword", "cart", "lantern", "horse", "map", "shield", "bread", "ring", "boots", "letter"]
PLACES = ["mill", "harbour", "forest", "market", "chapel", "bridge", "tavern", "mine", "gate", "farm"]
ENDINGS = ["!", ".", "?", "...", ", you fool!", ", thank you.", ", I swear it.", ", right?"]

Call = Callable[[str, str, str, float], None]
RESULTS: dict[str, Any] = {}
"""The figures printed, for ``--json``."""


def make_line(rng: random.Random) -> str:
    """A random made-up line of dialogue."""
    middle = rng.choice(MIDDLES).format(n=rng.randint(2, 999), thing=rng.choice(THINGS), place=rng.choice(PLACES))
    return f"{rng.choice(OPENERS)}, {middle}{rng.choice(ENDINGS)}"


class FreshLines:
    """Made-up lines, each returned at most once (thread-safe)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            while True:
                line = make_line(self._rng)
                if line not in self._seen:
                    self._seen.add(line)
                    return line


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary(lat: list[float]) -> str:
    """p50, p99 and max of latencies in ms."""
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    return f"p50 {p50:5.1f} ms  p99 {p99:5.1f} ms  max {max(lat):5.1f} ms  (n={len(lat)})"


def stats(lat: list[float]) -> dict[str, float]:
    """p50, p99, max (ms) and count, for ``--json``."""
    return {"p50": round(percentile(lat, 50), 2), "p99": round(percentile(lat, 99), 2), "max": round(max(lat), 2),
            "n": len(lat)}


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB (Linux)."""
    return _process_mb("self")


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


class Npcs:
    """Per-NPC dialogue counters: alternate self/other lines, game time 2 s per update."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._k = dict.fromkeys(names, 0)

    def next(self, npc: str) -> tuple[str, float]:
        k = self._k[npc]
        self._k[npc] = k + 1
        return ("self" if k % 2 == 0 else "other"), 2.0 * k


def scene(
    call: Call, npcs: Npcs, fresh: FreshLines, rate: float, clients: int, seconds: float, seed: int
) -> list[float]:
    """Scenario 3: ``clients`` threads, each a Poisson process over its own NPCs; latency from schedule."""
    lat: list[float] = []
    lock = threading.Lock()
    groups = [npcs.names[i::clients] for i in range(clients)]
    start = time.perf_counter() + 0.2

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        due = start
        mine: list[float] = []
        while True:
            due += rng.expovariate(rate / clients)
            if due > start + seconds:
                break
            npc = rng.choice(groups[index])
            speaker, t = npcs.next(npc)
            text = fresh()
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            call(npc, speaker, text, t)
            mine.append((time.perf_counter() - due) * 1000.0)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return lat


def burst(call: Call, npcs: Npcs, fresh: FreshLines, same_line: bool, rounds: int = 5) -> list[float]:
    """Scenario 4: every NPC gets an ``other`` line at the same instant, from 16 client threads."""
    lat: list[float] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(16) as pool:
        for _ in range(rounds):
            jobs = []
            shout = fresh()
            for npc in npcs.names:
                speaker, t = npcs.next(npc)
                if speaker == "self":  # keep the alternation: the NPC says something first
                    call(npc, "self", fresh(), t)
                    speaker, t = npcs.next(npc)
                jobs.append((npc, shout if same_line else fresh(), t))
            time.sleep(2.0)  # the NPCs' own lines are encoded in the background meanwhile (prefetch)
            t0 = time.perf_counter()

            def run(job: tuple[str, str, float], t0: float = t0) -> None:
                call(job[0], "other", job[1], job[2])
                with lock:
                    lat.append((time.perf_counter() - t0) * 1000.0)

            for f in [pool.submit(run, j) for j in jobs]:
                f.result()
            time.sleep(0.5)
    return lat


def closed_loop(call: Call, npcs: Npcs, fresh: FreshLines, n: int, threads: int) -> tuple[list[float], float]:
    """Scenario 5: ``threads`` callers back to back, each on its own NPCs."""
    lat: list[float] = []
    lock = threading.Lock()
    groups = [npcs.names[i::threads] for i in range(threads)]

    def worker(index: int) -> None:
        rng = random.Random(index)
        mine = []
        for _ in range(n // threads):
            npc = rng.choice(groups[index])
            speaker, t = npcs.next(npc)
            text = fresh()
            s = time.perf_counter()
            call(npc, speaker, text, t)
            mine.append((time.perf_counter() - s) * 1000.0)
        with lock:
            lat.extend(mine)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return lat, time.perf_counter() - start


def run_batching() -> None:
    """ms per text when ``n`` fresh lines share one padded ``session.run``."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from mien.emotion_state.context import ENCODER_FILE, MAX_TOKENS, TOKENIZER_FILE, data_path

    tok = Tokenizer.from_file(str(data_path(TOKENIZER_FILE)))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    fresh = FreshLines(3)
    lines = [fresh() for _ in range(160)]
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(data_path(ENCODER_FILE)), options, providers=["CPUExecutionProvider"])
        out = []
        for size in (1, 2, 4, 8, 16, 32):
            per_text = []
            for k in range(0, len(lines), size):
                ids_list = [tok.encode(t).ids for t in lines[k : k + size]]
                width = max(map(len, ids_list))
                ids = np.zeros((len(ids_list), width), dtype=np.int64)
                mask = np.zeros_like(ids)
                for i, row in enumerate(ids_list):
                    ids[i, : len(row)] = row
                    mask[i, : len(row)] = 1
                t0 = time.perf_counter()
                session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
                per_text.append((time.perf_counter() - t0) * 1000.0 / len(ids_list))
            out.append(f"batch {size}: {statistics.median(per_text):.2f}")
        print(f"micro-batching, {threads} ONNX thread(s), median ms per text: " + "; ".join(out))


def _process_mb(pid: int | str) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process ``pid`` in MB (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = float(value.split()[0]) / 1024.0
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def run_sidecar(args: argparse.Namespace, tmp: str) -> None:
    """The whole sidecar (its own process): RSS with every model loaded, then scenes 3 and 4 over gRPC."""
    import grpc

    from mien.v1 import emotion_state_pb2 as es
    from mien.v1 import emotion_state_pb2_grpc as es_grpc

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from load import default_model, start_sidecar

    # the default log level (a line per request), as `mien serve` runs
    proc, target = start_sidecar(Path(tmp) / "sidecar", default_model(Path(tmp)), streams=8, stall_timeout_s=5.0,
                                 log_level="INFO")
    try:
        rss, hwm = _process_mb(proc.pid)
        RESULTS["sidecar"] = {"rss_started_mb": round(rss, 1), "rss_started_peak_mb": round(hwm, 1)}
        print(f"sidecar started (`mien serve`: phoneme decoders, neural face model, emotion state, gRPC): RSS "
              f"{rss:.0f} MB (peak {hwm:.0f} MB)")
        local = threading.local()

        def stub() -> Any:
            if not hasattr(local, "stub"):
                local.stub = es_grpc.EmotionStateStub(grpc.insecure_channel(target))
            return local.stub

        presets = [p.name for p in stub().ListPersonas(es.ListPersonasRequest()).personas]
        speakers = {"self": es.SPEAKER_SELF, "other": es.SPEAKER_OTHER}

        def call(npc: str, speaker: str, text: str, t: float) -> None:
            stub().ObserveUtterance(
                es.ObserveUtteranceRequest(npc_id=npc, speaker=speakers[speaker], text=text, game_time_s=t)
            )

        npcs = Npcs([f"g_{i:03d}" for i in range(args.npcs)])
        for i, npc in enumerate(npcs.names):
            stub().SetPersona(es.SetPersonaRequest(npc_id=npc, preset=presets[i % len(presets)]))
        fresh = FreshLines(11)
        scene(call, npcs, fresh, args.rate, args.clients, 3.0, 1)  # warm-up
        lat = scene(call, npcs, fresh, args.rate, args.clients, args.seconds, 2)
        print(f"gRPC scene:  {args.rate:.0f}/s, {args.clients} clients, {args.npcs} NPCs, fresh lines: {summary(lat)}")
        RESULTS["sidecar"]["grpc_scene"] = {"rate": args.rate, "clients": args.clients, "npcs": args.npcs,
                                            "seconds": args.seconds, **stats(lat)}
        for same in (False, True):
            lat = burst(call, npcs, fresh, same, args.bursts)
            kind = "one shared fresh line" if same else f"{args.npcs} different fresh lines"
            print(f"gRPC burst:  {args.npcs} NPCs at once, {kind}: {summary(lat)}")
            RESULTS["sidecar"]["grpc_burst_shared" if same else "grpc_burst_different"] = stats(lat)
        rss, hwm = _process_mb(proc.pid)
        RESULTS["sidecar"].update(rss_after_mb=round(rss, 1), rss_after_peak_mb=round(hwm, 1))
        print(f"sidecar after the gRPC scenarios: RSS {rss:.0f} MB (peak {hwm:.0f} MB)")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50.0, help="scene: aggregate updates per second")
    ap.add_argument("--clients", type=int, default=8, help="scene: client threads")
    ap.add_argument("--seconds", type=float, default=20.0, help="scene: duration")
    ap.add_argument("--npcs", type=int, default=100)
    ap.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL"))
    ap.add_argument("--sidecar", action="store_true", help="measure the whole sidecar instead (RSS, gRPC)")
    ap.add_argument("--batching", action="store_true", help="measure micro-batching of the encoder instead")
    ap.add_argument("--bursts", type=int, default=5, help="burst: rounds of each kind")
    ap.add_argument("--sequential", type=int, default=300, help="service time: calls one at a time")
    ap.add_argument("--saturation", type=int, default=1600, help="saturation: calls in all")
    ap.add_argument("--json", type=Path, help="also write the figures here (JSON)")
    args = ap.parse_args()
    RESULTS["load_average_start"] = float(load_average())
    try:
        run(args)
    finally:
        RESULTS["load_average_end"] = float(load_average())
        if args.json:
            args.json.write_text(json.dumps(RESULTS, indent=1) + "\n")


def run(args: argparse.Namespace) -> None:
    """The scenarios ``args`` asks for."""
    import numpy  # noqa: F401  (part of the baseline, not of the engine)

    rss0 = rss_mb()[0]
    from mien.emotion_state import EmotionStateConfig, EmotionStateEngine

    print(f"load average at start: {load_average()} (2 cores; other work on the machine is not stopped)")
    if args.batching:
        run_batching()
        return
    if args.sidecar:
        with tempfile.TemporaryDirectory() as tmp:
            run_sidecar(args, tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        engine = EmotionStateEngine(
            EmotionStateConfig(db_path=str(Path(tmp) / "bench.sqlite3"), sqlite_synchronous=args.synchronous)
        )
        load_s = time.perf_counter() - t0
        presets = [p.name for p in engine.list_personas()]
        npcs = Npcs([f"npc_{i:03d}" for i in range(args.npcs)])
        for i, npc in enumerate(npcs.names):
            engine.set_persona(npc, preset=presets[i % len(presets)])
        rss_loaded = rss_mb()[0]
        RESULTS.update(engine_load_ms=round(load_s * 1000, 1), rss_before_mb=round(rss0, 1),
                       rss_loaded_mb=round(rss_loaded, 1))
        print(
            f"engine load {load_s * 1000:.0f} ms; RSS before loading {rss0:.0f} MB (Python + numpy), "
            f"after {rss_loaded:.0f} MB (+{rss_loaded - rss0:.0f} MB: encoder, head, personas, SQLite)"
        )
        fresh = FreshLines(7)
        encoder = engine.encoder
        lines = [fresh() for _ in range(300)]
        encoder.encode_many(lines[:10])
        wall, cpu = [], []
        for line in lines[10:]:
            w, c = time.perf_counter(), time.thread_time()
            encoder.encode_many([line])
            wall.append((time.perf_counter() - w) * 1000.0)
            cpu.append((time.thread_time() - c) * 1000.0)
        tokens = [encoder.token_count(line) for line in lines]
        from mien.emotion_state.context import ENCODER_FILE, data_path

        RESULTS["encoder"] = {"file": ENCODER_FILE, "bytes": data_path(ENCODER_FILE).stat().st_size,
                              "wall": stats(wall), "wall_mean": round(statistics.mean(wall), 2),
                              "cpu_p50": round(percentile(cpu, 50), 2), "cpu_mean": round(statistics.mean(cpu), 2),
                              "tokens_mean": round(statistics.mean(tokens), 1)}
        print(
            f"encoder: {len(wall)} fresh lines ({statistics.mean(tokens):.0f} word pieces on average), ms/utterance "
            f"wall p50 {percentile(wall, 50):.2f} p99 {percentile(wall, 99):.2f} mean {statistics.mean(wall):.2f}; "
            f"CPU p50 {percentile(cpu, 50):.2f} mean {statistics.mean(cpu):.2f}"
        )

        def call(npc: str, speaker: str, text: str, t: float) -> None:
            engine.observe(npc, speaker, text, game_time_s=t)  # type: ignore[arg-type]

        sequential: dict[str, list[float]] = {"self": [], "other": []}
        for _ in range(args.sequential):
            npc = random.choice(npcs.names)
            speaker, t = npcs.next(npc)
            text = fresh()
            s = time.perf_counter()
            call(npc, speaker, text, t)
            sequential[speaker].append((time.perf_counter() - s) * 1000.0)
            time.sleep(0.03)  # one at a time: let the background encoding of a "self" line finish
        for speaker, lat in sequential.items():
            print(f"service time: observe '{speaker}' one at a time, fresh lines: {summary(lat)}")
            RESULTS[f"service_{speaker}"] = stats(lat)
        scene(call, npcs, fresh, args.rate, args.clients, 3.0, 1)  # warm-up
        cpu0 = time.process_time()
        lat = scene(call, npcs, fresh, args.rate, args.clients, args.seconds, 2)
        cpu_per_update = (time.process_time() - cpu0) * 1000.0 / len(lat)
        RESULTS["scene"] = {"rate": args.rate, "clients": args.clients, "npcs": args.npcs, "seconds": args.seconds,
                            **stats(lat), "cpu_ms_per_update": round(cpu_per_update, 2)}
        print(
            f"scene:       {args.rate:.0f} updates/s (Poisson), {args.clients} client threads, {args.npcs} NPCs, "
            f"fresh lines, {args.seconds:.0f} s: {summary(lat)}; process CPU {cpu_per_update:.1f} ms per update"
        )
        for same in (False, True):
            runs_before = encoder.runs
            lat = burst(call, npcs, fresh, same, args.bursts)
            RESULTS["burst_shared" if same else "burst_different"] = stats(lat)
            kind = "one shared fresh line" if same else f"{args.npcs} different fresh lines"
            print(
                f"burst:       {args.npcs} NPCs at once, 16 client threads, {kind} ({args.bursts} bursts; "
                f"{encoder.runs - runs_before} encoder runs incl. the NPCs' own lines): {summary(lat)}"
            )
        lat, wall_s = closed_loop(call, npcs, fresh, args.saturation, 16)
        print(f"saturation:  16 threads back to back: {summary(lat)}; throughput {len(lat) / wall_s:.0f} updates/s")
        RESULTS["saturation"] = {**stats(lat), "updates_per_s": round(len(lat) / wall_s, 1)}
        rss, hwm = rss_mb()
        RESULTS.update(rss_final_mb=round(rss, 1), rss_peak_mb=round(hwm, 1))
        print(
            f"RSS with the engine loaded and used: {rss:.0f} MB (peak {hwm:.0f} MB); +{rss - rss0:.0f} MB over "
            f"Python + numpy; sqlite synchronous={args.synchronous}; load average now {load_average()}"
        )
        engine.close()


if __name__ == "__main__":
    main()
