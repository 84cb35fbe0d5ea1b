"""Accuracy, macro-F1 and weighted-F1 (no scikit-learn needed), and runtime-path prediction."""

from __future__ import annotations

import numpy as np

from mien.emotion import EMOTIONS, VAD_ANCHORS
from mien.emotion_state.temperament import temperament_pad_batch
from mien.emotion_state.transition import TransitionHead

from .peld import PeldData

__all__ = ["per_class_f1", "predict_with_head", "scores"]


def per_class_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(EMOTIONS)) -> np.ndarray:
    """F1 of each class (0 where a class has neither predictions nor examples)."""
    f1 = np.zeros(n_classes)
    for c in range(n_classes):
        tp = int(np.sum((y_pred == c) & (y_true == c)))
        fp = int(np.sum((y_pred == c) & (y_true != c)))
        fn = int(np.sum((y_pred != c) & (y_true == c)))
        denom = 2 * tp + fp + fn
        f1[c] = 2 * tp / denom if denom else 0.0
    return f1


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 (unweighted mean over the 7 classes) and support-weighted F1."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    f1 = per_class_f1(y_true, y_pred)
    support = np.bincount(y_true, minlength=len(EMOTIONS)).astype(np.float64)
    return {
        "accuracy": round(float(np.mean(y_true == y_pred)), 4),
        "macro_f1": round(float(f1.mean()), 4),
        "weighted_f1": round(float((f1 * support).sum() / support.sum()), 4),
    }


def predict_with_head(head: TransitionHead, data: PeldData) -> np.ndarray:
    """Predicted response class per example, through the sidecar's numpy runtime code path.

    The preceding emotion is E1 (its Russell-Mehrabian anchor and its category), as in training.
    """
    anchors = np.array([VAD_ANCHORS[e] for e in EMOTIONS])
    temperament = temperament_pad_batch(data.ocean)
    out = np.zeros(len(data), dtype=np.int64)
    for i in range(len(data)):
        e1 = int(data.emotion_1[i])
        step = head.transition(data.emb_1[i], data.emb_2[i], anchors[e1], EMOTIONS[e1], temperament[i])
        out[i] = EMOTIONS.index(step.category)
    return out
