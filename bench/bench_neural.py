"""Speed of the neural audio-to-controller model on one CPU thread.

Usage (from the repository root; ~30 s)::

    python bench/bench_neural.py [--model PATH] [--seconds 60] [--repeats 5]

Prints:

1. offline, 60 s of real speech (the fixture clips in a row): log-mel features (``mien.features.log_mel``)
   and one onnxruntime call (``intra_op_num_threads=1``), best and median of ``--repeats``, as x real time;
   also the whole offline neural line through ``Animator`` (model + micro-motion, blinks, gaze, rig);
2. streaming: ``NeuralStream.push`` of 20 ms chunks (features + model step for the 1-2 new frames), latency
   percentiles per chunk, and the model step alone for 1 frame;
3. the size of the ``.onnx`` file.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: numpy's BLAS too

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _speech import long_line  # noqa: E402

from mien import Animator, Emotion, LineRequest  # noqa: E402
from mien.audio import Audio  # noqa: E402
from mien.features import log_mel  # noqa: E402
from mien.neural import NeuralModel  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="an .onnx (default: the bundled model)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    model = NeuralModel(args.model, threads=1)
    meta = model.metadata
    wav, _ = long_line(args.seconds)
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    samples = samples[: int(args.seconds * rate)]
    seconds = len(samples) / rate
    n = meta.features.n_frames(len(samples)) + meta.lookahead_frames
    emotion = np.tile(Emotion.of("happy", 0.7).vector(), (n, 1)).astype(np.float32)

    feat_t, model_t = [], []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        feats = log_mel(samples, meta.features, n)
        t1 = time.perf_counter()
        model.run(feats, emotion, model.initial_state())
        t2 = time.perf_counter()
        feat_t.append(t1 - t0)
        model_t.append(t2 - t1)
    feat_t, model_t = feat_t[1:], model_t[1:]  # first run warms up
    total = [a + b for a, b in zip(feat_t, model_t, strict=True)]

    def ms(values: list[float]) -> dict[str, float]:
        return {"best": round(1000 * min(values), 1), "median": round(1000 * statistics.median(values), 1)}

    result: dict[str, object] = {
        "model": model.path.name, "version": meta.version, "audio_s": round(seconds, 2),
        "onnx_bytes": model.path.stat().st_size,
        "offline_features_ms": ms(feat_t), "offline_model_ms": ms(model_t),
        "offline_x_realtime": {"best": round(seconds / min(total), 1),
                               "median": round(seconds / statistics.median(total), 1)},
    }

    animator = Animator(neural_model=model)
    line_t = []
    for _ in range(max(2, args.repeats // 2)):
        t0 = time.perf_counter()
        animator.animate(LineRequest(audio=Audio(samples), mode="neural", emotion=Emotion.of("happy", 0.7)))
        line_t.append(time.perf_counter() - t0)
    result["animator_line_x_realtime"] = {"best": round(seconds / min(line_t), 1),
                                          "median": round(seconds / statistics.median(line_t), 1)}

    # streaming: 20 ms chunks through NeuralStream (features + model step)
    chunk = int(0.02 * rate)
    stream = model.stream()
    emo = Emotion.of("happy", 0.7).vector()

    def emotion_of(times: np.ndarray) -> np.ndarray:
        return np.tile(emo, (len(times), 1))

    lat = []
    for i in range(0, min(len(samples), 20 * rate), chunk):
        t0 = time.perf_counter()
        stream.push(samples[i: i + chunk], emotion_of)
        lat.append(1000 * (time.perf_counter() - t0))
    step = []
    state = model.initial_state()
    one = np.zeros((1, meta.features.n_mels), np.float32)
    e1 = emotion[:1]
    for _ in range(500):
        t0 = time.perf_counter()
        _, state = model.run(one, e1, state)
        step.append(1000 * (time.perf_counter() - t0))
    result["stream_chunk_20ms_ms"] = {"p50": round(percentile(lat, 50), 3), "p95": round(percentile(lat, 95), 3),
                                      "p99": round(percentile(lat, 99), 3), "max": round(max(lat), 3)}
    result["model_step_1_frame_ms"] = {"p50": round(percentile(step, 50), 3), "p95": round(percentile(step, 95), 3),
                                       "p99": round(percentile(step, 99), 3)}
    result["lookahead_ms"] = round(meta.lookahead_ms, 1)

    print(f"model {model.path.name} {meta.version}: {result['onnx_bytes'] / 1e6:.2f} MB, look-ahead "
          f"{meta.lookahead_ms:.1f} ms")
    print(f"offline {seconds:.0f} s of speech, 1 thread: features {result['offline_features_ms']} ms, model "
          f"{result['offline_model_ms']} ms -> x{result['offline_x_realtime']} real time")
    print(f"whole neural line through Animator: x{result['animator_line_x_realtime']} real time")
    print(f"streaming 20 ms chunks (features + model): {result['stream_chunk_20ms_ms']} ms; model step of one "
          f"frame: {result['model_step_1_frame_ms']} ms")
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
