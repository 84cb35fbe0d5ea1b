"""Cross-stream batching of the neural model (mien.neural): concurrent streams share one onnxruntime call,
and every stream still gets exactly the frames it gets alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from conftest import speech_bytes
from mien.audio import decode_audio
from mien.config import Config
from mien.neural import NeuralModel, _Step
from mien.streaming import StreamRegistry, StreamStart


@pytest.fixture(scope="module")
def model() -> NeuralModel:
    return NeuralModel()


def _pcm() -> bytes:
    samples = decode_audio(speech_bytes("librivox_0870"), max_duration_s=60).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def _stream(registry: StreamRegistry, pcm: bytes, seed: int, chunk_bytes: int) -> np.ndarray:
    session = registry.open(StreamStart(sample_rate_hz=16000, seed=seed))
    parts = []
    try:
        for start in range(0, min(len(pcm), 3 * 32000), chunk_bytes):
            batch = session.push(pcm[start:start + chunk_bytes])
            if batch is not None:
                parts.append(batch.values)
        batch, _ = session.finish()
        if batch is not None:
            parts.append(batch.values)
    finally:
        session.close()
    return np.concatenate(parts)


def _steps(model: NeuralModel, frames: int, count: int, seed: int = 0) -> list[_Step]:
    rng = np.random.default_rng(seed)
    meta = model.metadata
    return [_Step(rng.standard_normal((frames, meta.features.n_mels)).astype(np.float32),
                  rng.random((frames, len(meta.emotions))).astype(np.float32),
                  {k: rng.standard_normal(v).astype(np.float32) for k, v in model._state_shapes.items()})
            for _ in range(count)]


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20.0
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_the_shipped_model_batches(model: NeuralModel) -> None:
    assert model.batching  # its rows are independent of their batch (checked at load)


def test_concurrent_streams_get_exactly_the_frames_they_get_alone(model: NeuralModel) -> None:
    registry = StreamRegistry(Config(), model)
    pcm = _pcm()
    sizes = [1280, 1280, 3200, 640, 1280, 1920]  # 40, 40, 100, 20, 40, 60 ms
    alone = [_stream(registry, pcm, seed, size) for seed, size in enumerate(sizes)]
    together: list[np.ndarray | None] = [None] * len(sizes)

    def run(i: int) -> None:
        together[i] = _stream(registry, pcm, i, sizes[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together, strict=True):
        assert b is not None and np.array_equal(a, b)


def test_steps_that_arrive_during_a_call_share_the_next_one(model: NeuralModel, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    batcher = model._batcher
    assert batcher is not None
    original = model._run_batch
    release = threading.Event()
    sizes: list[int] = []

    def slow_first(steps: list[_Step]) -> list:
        sizes.append(len(steps))
        if len(sizes) == 1:
            release.wait(20.0)
        return original(steps)

    monkeypatch.setattr(model, "_run_batch", slow_first)
    first, *queued = _steps(model, 2, 3)
    other_length = _steps(model, 5, 1, seed=1)[0]
    expected = [original([s])[0] for s in (first, *queued, other_length)]
    results: dict[int, tuple] = {}

    def run(i: int, step: _Step) -> None:
        results[i] = batcher.run(step)

    threads = [threading.Thread(target=run, args=(0, first))]
    threads[0].start()
    _wait_for(lambda: len(sizes) == 1, "the first call")
    for i, step in enumerate([*queued, other_length], start=1):
        threads.append(threading.Thread(target=run, args=(i, step)))
        threads[-1].start()
    _wait_for(lambda: len(batcher._queue) == 3, "three queued steps")
    release.set()
    for t in threads:
        t.join()
    assert sorted(sizes) == [1, 1, 2] and sizes[0] == 1  # the two 2-frame steps together, the 5-frame one alone
    for i, (curves, state) in enumerate(expected):
        got_curves, got_state = results[i]
        assert np.array_equal(curves, got_curves)
        assert all(np.array_equal(state[k], got_state[k]) for k in state)


def test_a_step_that_fails_fails_alone(model: NeuralModel, monkeypatch: pytest.MonkeyPatch) -> None:
    batcher = model._batcher
    assert batcher is not None
    original = model._run_batch
    good, bad = _steps(model, 2, 2, seed=3)
    bad.features[0, 0] = np.nan

    def refuse_nan(steps: list[_Step]) -> list:
        if any(np.isnan(s.features).any() for s in steps):
            raise ValueError("a step with NaN features")
        return original(steps)

    monkeypatch.setattr(model, "_run_batch", refuse_nan)
    batcher._compute([good, bad])  # the batch fails, then each step runs on its own
    assert good.done and good.error is None and good.result is not None
    assert np.array_equal(good.result[0], original([good])[0][0])
    assert bad.done and isinstance(bad.error, ValueError) and bad.result is None
