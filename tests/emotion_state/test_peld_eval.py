"""The shipped encoder + head, run through the sidecar's numpy path, reproduce the recorded PELD valid scores.

The reference is ``runtime_valid_scores`` in the head's ``.json`` (written by
``python -m training.emotion_state.train`` after training, or by ``... train --rerecord-runtime`` for a
new encoder / ONNX Runtime / numpy), not the torch ensemble's ``valid_scores``: those come from the
embeddings of the training run, which this machine does not reproduce exactly (same code, weights, data
and pinned libraries; int8 ONNX kernels can differ between CPUs). The torch figure is
still held to the runtime's within 0.01 (two rare-class predictions) so a broken head cannot hide behind a
re-recording.

Needs the research-only PELD data beside the repository (``../shared/emotion_data/peld``, or
``MIEN_PELD_DIR``); skipped cleanly when it is absent. Uses the valid split only (the test split is
reported once by ``training/emotion_state/evaluate.py``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from mien.emotion import EMOTIONS, VAD_ANCHORS, canonical_emotion
from mien.emotion_state.context import TextEncoder, data_path
from mien.emotion_state.temperament import temperament_pad_batch
from mien.emotion_state.transition import HEAD_FILE, TransitionHead

REPO = Path(__file__).resolve().parents[2]
PELD = Path(os.environ.get("MIEN_PELD_DIR", REPO.parent / "shared" / "emotion_data" / "peld"))

pytestmark = pytest.mark.skipif(
    not (PELD / "Dyadic_PELD.tsv").exists() or not (PELD / "peld_labels_only.csv").exists(),
    reason=f"PELD research data not present at {PELD}",
)


def _macro_weighted_f1(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    f1 = np.zeros(len(EMOTIONS))
    for c in range(len(EMOTIONS)):
        tp, fp, fn = np.sum((p == c) & (y == c)), np.sum((p == c) & (y != c)), np.sum((p != c) & (y == c))
        f1[c] = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    support = np.bincount(y, minlength=len(EMOTIONS))
    return float(f1.mean()), float((f1 * support).sum() / support.sum())


def test_valid_scores_reproduced(encoder: TextEncoder) -> None:
    with open(PELD / "Dyadic_PELD.tsv", newline="", encoding="utf-8") as fh:
        texts = list(csv.DictReader(fh, delimiter="\t"))
    with open(PELD / "peld_labels_only.csv", newline="", encoding="utf-8") as fh:
        labels = [r for r in csv.DictReader(fh) if r["split"] == "valid"]
    head = TransitionHead.load()
    anchors = np.array([VAD_ANCHORS[e] for e in EMOTIONS])
    ocean = np.array([[float(r[k]) for k in ("O", "C", "E", "A", "N")] for r in labels])
    temperament = temperament_pad_batch(ocean)
    y, pred = [], []
    for i, lab in enumerate(labels):
        row = texts[int(lab["row"])]
        u = encoder.encode(row["Utterance_1"])
        r = encoder.encode(row["Utterance_2"])
        e1 = EMOTIONS.index(canonical_emotion(lab["emotion_1"]))
        step = head.transition(u, r, anchors[e1], EMOTIONS[e1], temperament[i])
        pred.append(EMOTIONS.index(step.category))
        y.append(EMOTIONS.index(canonical_emotion(lab["emotion_3"])))
    macro, weighted = _macro_weighted_f1(np.array(y), np.array(pred))
    meta = json.loads(data_path(HEAD_FILE + ".json").read_text())
    runtime = meta["runtime_valid_scores"]
    assert macro == pytest.approx(runtime["macro_f1"], abs=0.001)
    assert weighted == pytest.approx(runtime["weighted_f1"], abs=0.001)
    torch_scores = meta["valid_scores"]
    assert macro == pytest.approx(torch_scores["macro_f1"], abs=0.01)
    assert weighted == pytest.approx(torch_scores["weighted_f1"], abs=0.01)
