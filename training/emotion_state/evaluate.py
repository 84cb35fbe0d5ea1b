"""PELD scores of the emotion-state models, their ablations and copy-previous, with a paired bootstrap.

Usage (test split by default; ~1 min with the embeddings cached, ~2 min more the first time)::

    PYTHONPATH=sidecar python -m training.emotion_state.evaluate --peld ../shared/emotion_data/peld [--split valid]

PELD (Wen et al. 2021) is research-only: read from ``--peld``, never copied into the repository; the
embeddings of its utterances are cached outside it (``~/.cache/mien/emotion_state``). Each triple is run
through the sidecar's own code: the NPC's preceding emotion is E1 (its Russell-Mehrabian anchor and
category), the line said to it is utterance 2, the personality is the speaker's Big Five. Rows:

* ``appraisal``: the default model (prototype appraisal + documented rules; nothing learnt from PELD) —
  the category of the NPC's new point (:func:`mien.emotion_state.rules.transition`);
* ``appraisal_no_personality``: the same with every speaker at the average personality;
* ``copy_previous``: E3 = E1 (also the ``no_appraisal`` ablation: a line that changes nothing);
* ``peld_head``: the ``peld`` option (``transition_head.peld.npz``, trained on PELD's train split, selected
  on valid; research-only, see MODEL_CARD.md), its classifier's category (also what the engine shows);
* ``peld_head_no_personality``: the peld option's ablation head, when ``train.py`` left it in ``--work``.

For each row, a **paired bootstrap** against copy-previous (``--resamples`` draws of the split's triples
with replacement, fixed seed): the mean difference of macro-F1 and of weighted-F1 and its 95 % interval
(2.5th-97.5th percentile). Nothing is selected here; the split is read as given.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mien.emotion import EMOTIONS, VAD_ANCHORS
from mien.emotion_state.appraisal import AppraisalModel, load_appraisals
from mien.emotion_state.classify import category_of
from mien.emotion_state.context import TextEncoder
from mien.emotion_state.rules import AVERAGE, Personality, elicit, transition
from mien.emotion_state.transition import HEAD_FILE, TransitionHead

from .metrics import per_class_f1, predict_with_head, scores
from .peld import PeldData, default_cache_dir, load_peld

__all__ = ["bootstrap", "evaluate", "main", "predict_appraisal"]

ANCHORS = np.array([VAD_ANCHORS[e] for e in EMOTIONS])


def predict_appraisal(model: AppraisalModel, data: PeldData, personality: bool = True) -> np.ndarray:
    """Category of the NPC's point after hearing utterance 2, from E1, through the engine's rules."""
    out = np.zeros(len(data), dtype=np.int64)
    for i in range(len(data)):
        appraisal = model.appraise(data.emb_2[i], data.text_2[i])
        p = Personality.of(tuple(float(x) for x in data.ocean[i])) if personality else AVERAGE  # type: ignore[arg-type]
        point, _ = transition(ANCHORS[int(data.emotion_1[i])], elicit(appraisal, model.specs, p), p)
        out[i] = EMOTIONS.index(category_of(point))
    return out


def _f1s(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    f1 = per_class_f1(y, pred)
    support = np.bincount(y, minlength=len(EMOTIONS)).astype(np.float64)
    return float(f1.mean()), float((f1 * support).sum() / support.sum())


def bootstrap(y: np.ndarray, pred: np.ndarray, base: np.ndarray, resamples: int, seed: int) -> dict[str, object]:
    """Paired bootstrap of (macro-F1, weighted-F1) of ``pred`` minus ``base``: mean and 95 % interval."""
    rng = np.random.default_rng(seed)
    n = len(y)
    diffs = np.zeros((resamples, 2))
    for b in range(resamples):
        idx = rng.integers(0, n, n)
        m1, w1 = _f1s(y[idx], pred[idx])
        m0, w0 = _f1s(y[idx], base[idx])
        diffs[b] = (m1 - m0, w1 - w0)
    point_m, point_w = (a - b for a, b in zip(_f1s(y, pred), _f1s(y, base), strict=True))
    lo, hi = np.percentile(diffs, [2.5, 97.5], axis=0)
    return {
        "macro_f1_diff": round(point_m, 4), "macro_f1_ci95": [round(float(lo[0]), 4), round(float(hi[0]), 4)],
        "weighted_f1_diff": round(point_w, 4), "weighted_f1_ci95": [round(float(lo[1]), 4), round(float(hi[1]), 4)],
    }


def evaluate(data: PeldData, shipped: Path, work: Path, resamples: int, seed: int,
             encoder: TextEncoder | None = None) -> dict[str, dict[str, object]]:
    """Scores of every row on ``data`` (one split), with the bootstrap against copy-previous."""
    own = encoder is None
    enc = encoder if encoder is not None else TextEncoder()
    try:
        model = AppraisalModel.build(load_appraisals(), enc.encode)
    finally:
        if own:
            enc.close()
    rows: dict[str, Callable[[], np.ndarray]] = {
        "appraisal": lambda: predict_appraisal(model, data),
        "appraisal_no_personality": lambda: predict_appraisal(model, data, personality=False),
        "copy_previous": lambda: data.emotion_1,
    }
    heads = {"peld_head": shipped / HEAD_FILE, "peld_head_no_personality": work / "transition_head.no_personality.npz"}
    for name, path in heads.items():
        if path.exists():
            rows[name] = lambda path=path: predict_with_head(TransitionHead.load(path), data)  # type: ignore[misc]
    y = data.emotion_3
    table: dict[str, dict[str, object]] = {}
    for name, predict in rows.items():
        pred = predict()
        f1 = per_class_f1(y, pred)
        table[name] = {**scores(y, pred), "per_class_f1": dict(zip(EMOTIONS, np.round(f1, 3).tolist(), strict=True))}
        if name != "copy_previous":
            table[name]["vs_copy_previous"] = bootstrap(y, pred, data.emotion_1, resamples, seed)
            table[name]["predictions_differ_from_copy_previous"] = int(np.sum(pred != data.emotion_1))
    for name in ("appraisal", "peld_head"):
        ablation = f"{name}_no_personality"
        if name in table and ablation in table:
            a, b = rows[name](), rows[ablation]()
            table[ablation]["predictions_differ_from_full"] = int(np.sum(a != b))
    return table


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peld", type=Path, default=Path("../shared/emotion_data/peld"))
    ap.add_argument("--heads", type=Path, default=Path("sidecar/mien/data/emotion_state"))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="where train.py wrote the ablation heads")
    ap.add_argument("--split", choices=("valid", "test"), default="test")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20260117)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    cache = args.cache if args.cache is not None else default_cache_dir()
    work = args.work if args.work is not None else cache
    data = load_peld(args.peld, cache)[args.split]
    table = evaluate(data, args.heads, work, args.resamples, args.seed)
    print(f"PELD {args.split} split, n = {len(data)}; paired bootstrap vs copy-previous, {args.resamples} resamples")
    print(f"{'model':26s} {'accuracy':>8s} {'macro-F1':>8s} {'weighted':>8s}   {'d macro [95% CI]':>24s}   "
          f"{'d weighted [95% CI]':>24s}")
    for name, row in table.items():
        b = row.get("vs_copy_previous")
        extra = ""
        if isinstance(b, dict):
            extra = (f"   {b['macro_f1_diff']:+.4f} [{b['macro_f1_ci95'][0]:+.4f}, {b['macro_f1_ci95'][1]:+.4f}]"
                     f"   {b['weighted_f1_diff']:+.4f} [{b['weighted_f1_ci95'][0]:+.4f}, "
                     f"{b['weighted_f1_ci95'][1]:+.4f}]")
        print(f"{name:26s} {row['accuracy']:8.4f} {row['macro_f1']:8.4f} {row['weighted_f1']:8.4f}{extra}")
    text = json.dumps(table, indent=2)
    if args.json is not None:
        args.json.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
