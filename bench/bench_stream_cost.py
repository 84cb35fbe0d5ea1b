"""Where a stream's CPU goes per audio chunk, in process (no gRPC), and what batching the model across streams saves.

    python bench/bench_stream_cost.py                    # 8 streams x 250 chunks of 40 ms, the shipped model
    python bench/bench_stream_cost.py --chunk-ms 100 --json out.json

Part 1 runs ``--streams`` :class:`mien.streaming.StreamSession` s side by side on the speech fixtures (looped) and
times each pipeline stage with the process CPU clock (``time.process_time``: other tenants' jobs do not count,
though they still slow the caches): the model call, the head motion, eyes, features, rig, and the rest of the
per-chunk work. Part 2 times one onnxruntime call of the model for B streams at once (B = 1 ... 64, the model's
explicit state stacked on the batch axis) against B calls of one stream, and checks that each stream's rows are
bit-identical to its own call. Part 3 runs 16 streams on their own threads, as the server does, every chunk sent at
once (a server past its capacity), with the model's cross-stream batching (:mod:`mien.neural`) off and on: CPU per
chunk, streams per model call, and whether each stream's frames are identical both ways. The sum of part 1 times
chunks per second is the CPU the animation alone needs: with 64 streams of 40 ms chunks that is 1600 chunks a
second, to compare with the cores there are.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load

from mien import eyes, features, head, neural, rig, streaming
from mien.config import Config
from mien.streaming import StreamRegistry, StreamStart

_STAGES = (
    (neural.NeuralModel, "run", "model (onnxruntime)"),
    (head.HeadMotion, "render", "head motion"),
    (eyes.Eyes, "render", "eyes (blinks, gaze)"),
    (features.StreamingFeatures, "push", "features (log-mel)"),
    (rig.RigProfile, "retarget", "rig profile"),
    (streaming.StreamSession, "add", "decode + resample"),
    (streaming.StreamSession, "push", "total per chunk"),
)


def stage_costs(model: neural.NeuralModel, streams: int, chunks: int, chunk_ms: int) -> dict[str, float]:
    """CPU ms per chunk of each stage (and the total), over ``streams`` sessions of ``chunks`` chunks."""
    spent: collections.Counter[str] = collections.Counter()
    originals = []
    for cls, name, label in _STAGES:
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def timed(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
            t = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] += time.process_time() - t

        setattr(cls, name, functools.wraps(original)(timed))
    try:
        pcm = load.speech_pcm()
        registry = StreamRegistry(Config(), model)
        size = 2 * load.RATE * chunk_ms // 1000

        def run(n_streams: int, n_chunks: int) -> int:
            sessions = [registry.open(StreamStart(sample_rate_hz=load.RATE, seed=i)) for i in range(n_streams)]
            for k in range(n_chunks):
                for i, session in enumerate(sessions):
                    start = ((k + 37 * i) * size) % (len(pcm) - size)
                    session.push(pcm[start:start + size])
            for session in sessions:
                session.finish()
                session.close()
            return n_streams * n_chunks

        run(2, 10)  # warm-up
        spent.clear()
        count = run(streams, chunks)
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)
    costs = {label: 1000.0 * spent[label] / count for _, _, label in _STAGES}
    named = sum(v for k, v in costs.items() if k not in {"total per chunk", "decode + resample"})
    costs["other (interpolation, micro-motion, levels, activity)"] = costs["total per chunk"] - named - costs[
        "decode + resample"]
    return costs


def threaded_costs(model: neural.NeuralModel, streams: int, chunks: int, chunk_ms: int) -> dict[str, Any]:
    """``streams`` threads push their chunks at once (a server past its capacity), with the model's cross-stream
    batching off and on: process CPU ms per chunk, model steps per onnxruntime call, and whether every stream's
    frames are identical both ways."""
    pcm = load.speech_pcm()
    registry = StreamRegistry(Config(), model)
    size = 2 * load.RATE * chunk_ms // 1000
    batcher = model._batcher

    def run(batching: bool) -> tuple[list[np.ndarray], float, float]:
        model._batcher = batcher if batching else None
        frames: list[np.ndarray] = [np.zeros(0)] * streams

        def one(i: int) -> None:
            session = registry.open(StreamStart(sample_rate_hz=load.RATE, seed=i))
            parts = []
            for k in range(chunks):
                start = ((k + 37 * i) * size) % (len(pcm) - size)
                batch = session.push(pcm[start:start + size])
                if batch is not None:
                    parts.append(batch.values)
            batch, _ = session.finish()
            session.close()
            frames[i] = np.concatenate([*parts, *([batch.values] if batch is not None else [])])

        calls, steps = (batcher.calls, batcher.steps) if batcher else (0, 0)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
        t = time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = 1000.0 * (time.process_time() - t) / (streams * chunks)
        per_call = ((batcher.steps - steps) / max(1, batcher.calls - calls)) if batcher and batching else 1.0
        return frames, cpu, per_call

    try:
        run(False)  # warm-up
        alone, cpu_off, _ = run(False)
        together, cpu_on, per_call = run(True)
    finally:
        model._batcher = batcher
    return {"streams": streams, "batching": batcher is not None, "cpu_ms_per_chunk_unbatched": round(cpu_off, 3),
            "cpu_ms_per_chunk_batched": round(cpu_on, 3), "steps_per_call": round(per_call, 2),
            "frames_identical": all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))}


def batch_costs(model: neural.NeuralModel, frames: int, sizes: tuple[int, ...], repeats: int) -> list[dict[str, Any]]:
    """CPU ms per stream of one model call for B streams, and whether every row equals its stream's own call."""
    session = model._session
    shapes = model._state_shapes
    rng = np.random.default_rng(0)
    n_mels = model.metadata.features.n_mels
    rows = []
    for b in sizes:
        feeds = {"features": rng.standard_normal((b, frames, n_mels)).astype(np.float32),
                 "emotion": rng.random((b, frames, len(model.metadata.emotions))).astype(np.float32),
                 **{k: rng.standard_normal((b, *v[1:])).astype(np.float32) for k, v in shapes.items()}}
        out = session.run(model._outputs, feeds)
        t = time.process_time()
        for _ in range(repeats):
            out = session.run(model._outputs, feeds)
        per_stream = 1000.0 * (time.process_time() - t) / repeats / b
        identical = True
        for i in range(min(b, 4)):
            one = session.run(model._outputs, {k: v[i:i + 1] for k, v in feeds.items()})
            identical &= all(np.array_equal(one[j][0], out[j][i]) for j in range(len(out)))
        rows.append({"batch": b, "ms_per_stream": round(per_stream, 3), "identical": bool(identical)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=250)
    parser.add_argument("--chunk-ms", type=int, default=40)
    parser.add_argument("--model", help="default: the shipped model")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    model = neural.NeuralModel(args.model) if args.model else neural.NeuralModel()
    costs = stage_costs(model, args.streams, args.chunks, args.chunk_ms)
    frames = max(1, round(args.chunk_ms / 1000.0 * model.metadata.fps))
    batches = batch_costs(model, frames, (1, 8, 16, 32, 64), repeats=40)
    threaded = threaded_costs(model, 16, max(20, args.chunks // 2), args.chunk_ms)
    print(f"CPU per {args.chunk_ms} ms chunk, {args.streams} streams in process (ms):")
    for label, value in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"  {label:55s} {value:6.3f}")
    per_s = 1000.0 / args.chunk_ms
    print(f"64 streams need {64 * per_s * costs['total per chunk'] / 1000.0:.2f} cores for the animation alone "
          f"({64 * per_s:.0f} chunks/s)")
    print(f"one model call for B streams ({frames} frames each), CPU ms per stream:")
    for row in batches:
        print(f"  B = {row['batch']:2d}: {row['ms_per_stream']:.3f}  rows identical to one-stream calls: "
              f"{row['identical']}")
    print(f"16 streams on their own threads, all chunks at once (cross-stream batching "
          f"{'available' if threaded['batching'] else 'not available for this model'}): CPU per chunk "
          f"{threaded['cpu_ms_per_chunk_unbatched']:.3f} ms unbatched, {threaded['cpu_ms_per_chunk_batched']:.3f} ms "
          f"batched ({threaded['steps_per_call']:.2f} streams per model call), frames identical: "
          f"{threaded['frames_identical']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"chunk_ms": args.chunk_ms, "streams": args.streams,
                                               "stage_ms_per_chunk": {k: round(v, 3) for k, v in costs.items()},
                                               "model_batch": batches, "threaded": threaded}, indent=1) + "\n",
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
