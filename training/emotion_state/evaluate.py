"""Report the PELD scores of the shipped head, its ablations and copy-previous (test split by default).

Usage (after ``train.py``; seconds once the embeddings are cached)::

    PYTHONPATH=sidecar python -m training.emotion_state.evaluate \\
        --peld ../shared/emotion_data/peld --heads sidecar/mien/data/emotion_state

Predictions go through the sidecar's numpy runtime (``TransitionHead.transition``), not torch, so
the figures are those of the code that ships. Rows:

* ``full``: context ΔVAD + personality gain + response classifier on [VAD, preceding one-hot,
  context features], logit adjustment (the shipped head);
* ``no_personality``: the same, trained and run with P = 1;
* ``no_context``: ΔVAD a learned constant and no context features (preceding emotion and
  personality only);
* ``copy_previous``: the response emotion is the preceding emotion E1;
* ``full_vad_category``: the shipped head's VAD point classified by ``classify.category_of`` (the
  blend the face shows) instead of the response classifier (shows what the classifier adds).

Selection happened on the valid split in ``train.py``; this script only reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mien.emotion import EMOTIONS, VAD_ANCHORS
from mien.emotion_state.classify import category_of
from mien.emotion_state.temperament import temperament_pad_batch
from mien.emotion_state.transition import HEAD_FILE, TransitionHead

from .metrics import per_class_f1, predict_with_head, scores
from .peld import PeldData, default_cache_dir, load_peld

__all__ = ["evaluate", "main"]


def _vad_category_predictions(head: TransitionHead, data: PeldData) -> np.ndarray:
    anchors = np.array([VAD_ANCHORS[e] for e in EMOTIONS])
    temperament = temperament_pad_batch(data.ocean)
    out = np.zeros(len(data), dtype=np.int64)
    for i in range(len(data)):
        e1 = int(data.emotion_1[i])
        step = head.transition(data.emb_1[i], data.emb_2[i], anchors[e1], EMOTIONS[e1], temperament[i])
        out[i] = EMOTIONS.index(category_of(step.vad))
    return out


def _row(y: np.ndarray, pred: np.ndarray) -> dict[str, object]:
    f1 = per_class_f1(y, pred)
    return {**scores(y, pred), "per_class_f1": dict(zip(EMOTIONS, np.round(f1, 3).tolist(), strict=True))}


def evaluate(data: PeldData, shipped: Path, work: Path) -> dict[str, dict[str, object]]:
    """Scores of every row on ``data`` (one split)."""
    heads = {
        "full": shipped / HEAD_FILE,
        "no_personality": work / "transition_head.no_personality.npz",
        "no_context": work / "transition_head.no_context.npz",
    }
    table: dict[str, dict[str, object]] = {}
    for name, path in heads.items():
        head = TransitionHead.load(path)
        table[name] = _row(data.emotion_3, predict_with_head(head, data))
    table["copy_previous"] = _row(data.emotion_3, data.emotion_1)
    table["full_vad_category"] = _row(
        data.emotion_3, _vad_category_predictions(TransitionHead.load(heads["full"]), data)
    )
    return table


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peld", type=Path, default=Path("../shared/emotion_data/peld"))
    ap.add_argument("--heads", type=Path, default=Path("sidecar/mien/data/emotion_state"))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="where train.py wrote the ablation heads")
    ap.add_argument("--split", choices=("valid", "test"), default="test")
    args = ap.parse_args(argv)
    cache = args.cache if args.cache is not None else default_cache_dir()
    work = args.work if args.work is not None else cache
    data = load_peld(args.peld, cache)[args.split]
    table = evaluate(data, args.heads, work)
    print(f"PELD {args.split} split, n = {len(data)}")
    print(f"{'model':22s} {'accuracy':>9s} {'macro-F1':>9s} {'weighted-F1':>12s}")
    for name, row in table.items():
        print(f"{name:22s} {row['accuracy']:9.4f} {row['macro_f1']:9.4f} {row['weighted_f1']:12.4f}")
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
