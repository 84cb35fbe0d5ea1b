"""Benchmark of what the NPC emotion state *does* (issue 17): behavioural suite, ablations, PELD test.

Usage (from the repository root; ~1 minute, +10 s with PELD)::

    PYTHONPATH=sidecar python bench/bench_emotion_behaviour.py [--peld DIR] [--resamples 2000] [--json PATH]

Figures:

1. the behavioural suite (``training/emotion_state/behaviour``: personas x situations with directional
   expectations, written before any tuning): passed expectations of the ``dev`` part (tuned on), of each
   held-out part (``heldout``, ``heldout2``, ``heldout3``: never tuned on) and of all held-out parts
   together, for the default model and its two ablations (``no_personality``: every NPC
   at the average personality; ``no_appraisal``: lines change nothing, only decay);
2. PELD's **test** split (research-only data, read from ``--peld``, default ``../shared/emotion_data/peld``
   or ``MIEN_PELD_DIR``; skipped when absent): macro-F1 and weighted-F1 of the default model, its
   no-personality ablation, the ``peld`` option and copy-previous, with the paired bootstrap of the
   difference against copy-previous (``training/emotion_state/evaluate.py``), and how many predictions
   the no-personality ablation changes.

The latency figure of the issue (``ObserveUtterance`` p99 at 100 NPCs x 50 updates/s) is
``bench/bench_emotion_state.py``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _peld_dir(arg: Path | None) -> Path | None:
    places = [arg] if arg is not None else []
    if os.environ.get("MIEN_PELD_DIR"):
        places.append(Path(os.environ["MIEN_PELD_DIR"]))
    places += [ROOT.parent / "shared" / "emotion_data" / "peld", Path("/work/shared/emotion_data/peld")]
    return next((p for p in places if (p / "Dyadic_PELD.tsv").is_file() and (p / "peld_labels_only.csv").is_file()),
                None)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peld", type=Path, default=None)
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20260117)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mien.emotion_state.context import TextEncoder
    from training.emotion_state.behaviour import ABLATIONS, HELDOUT_SPLITS, SPLITS, run_suite, summarise

    encoder = TextEncoder()
    out: dict[str, Any] = {"behaviour": {}}
    t0 = time.perf_counter()
    for ablation, config in ABLATIONS.items():
        held = [0, 0]
        for split in SPLITS:
            passed, total = summarise(run_suite(split, encoder, **config))
            out["behaviour"][f"{split}/{ablation}"] = {"passed": passed, "total": total,
                                                       "percent": round(100.0 * passed / total, 1)}
            print(f"behaviour {split:9s} {ablation:15s} {passed}/{total} = {100.0 * passed / total:.1f} %", flush=True)
            if split in HELDOUT_SPLITS:
                held[0] += passed
                held[1] += total
        out["behaviour"][f"heldout_all/{ablation}"] = {"passed": held[0], "total": held[1],
                                                       "percent": round(100.0 * held[0] / held[1], 1)}
        print(f"behaviour {'held-out':9s} {ablation:15s} {held[0]}/{held[1]} = {100.0 * held[0] / held[1]:.1f} %"
              " (every held-out part)", flush=True)
    out["behaviour_s"] = round(time.perf_counter() - t0, 1)
    peld = _peld_dir(args.peld)
    if peld is None:
        out["peld"] = None
        print("PELD: data absent, skipped")
    else:
        from mien.emotion_state.context import data_path
        from mien.emotion_state.transition import HEAD_FILE
        from training.emotion_state.evaluate import evaluate
        from training.emotion_state.peld import default_cache_dir, load_peld

        data = load_peld(peld, default_cache_dir())["test"]
        table = evaluate(data, data_path(HEAD_FILE).parent, default_cache_dir(), args.resamples, args.seed,
                         encoder=encoder)
        out["peld"] = {"split": "test", "n": len(data), "resamples": args.resamples, "rows": table}
        for name, row in table.items():
            b = row.get("vs_copy_previous")
            extra = ""
            if isinstance(b, dict):
                extra = (f"  d macro {b['macro_f1_diff']:+.4f} {b['macro_f1_ci95']}"
                         f"  d weighted {b['weighted_f1_diff']:+.4f} {b['weighted_f1_ci95']}")
            print(f"PELD test {name:26s} macro {row['macro_f1']:.4f} weighted {row['weighted_f1']:.4f}{extra}")
    encoder.close()
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
