"""The behavioural suite (training/emotion_state/behaviour/*.yaml) as a regression guard.

The acceptance figure is measured by the command (docs/emotion_state.md §9); these bars only stop a change
from silently undoing it: the dev part (tuned on) must stay >= 97 %, each held-out part (never tuned on)
>= 95 %, each ablation must score below the full model, and the PELD-trained option below the default.
"""

from __future__ import annotations

import pytest

from mien.emotion_state.context import TextEncoder
from training.emotion_state.behaviour import HELDOUT_SPLITS, load_suite, run_suite, summarise


@pytest.fixture(scope="module")
def scores(encoder: TextEncoder) -> dict[tuple[str, str], float]:
    out = {}
    for split in ("dev", *HELDOUT_SPLITS):
        for name, config in (("full", {}), ("no_personality", {"ablation": "no_personality"}),
                             ("no_appraisal", {"ablation": "no_appraisal"})):
            passed, total = summarise(run_suite(split, encoder, **config))
            out[split, name] = passed / total
    return out


def test_suite_is_large_and_coherent() -> None:
    for split in ("dev", "heldout"):
        doc = load_suite(split)
        assert len(doc["cases"]) >= 70 and len(doc["personas"]) >= 10
    for split in HELDOUT_SPLITS[1:]:
        doc = load_suite(split)
        assert len(doc["cases"]) >= 45 and len(doc["personas"]) >= 10


def test_dev_and_heldout_pass_rates(scores: dict[tuple[str, str], float]) -> None:
    assert scores["dev", "full"] >= 0.97, scores
    for split in HELDOUT_SPLITS:
        assert scores[split, "full"] >= 0.95, scores


def test_ablations_score_lower(scores: dict[tuple[str, str], float]) -> None:
    for split in ("dev", *HELDOUT_SPLITS):
        assert scores[split, "no_personality"] < scores[split, "full"]
        assert scores[split, "no_appraisal"] < scores[split, "no_personality"]
