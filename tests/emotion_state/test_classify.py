"""VAD -> category/intensity, snapping a point into a category, and the shipped head file."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mien.emotion import EMOTIONS, VAD_ANCHORS, emotion_from_vad
from mien.emotion_state.classify import (
    SNAP_DEPTH,
    category_of,
    classify_vad,
    intensity_toward,
    nearest_anchor,
    snap_to_category,
)
from mien.emotion_state.transition import TransitionHead


@pytest.fixture(scope="module")
def head() -> TransitionHead:
    return TransitionHead.load()


def test_anchors_classify_as_themselves() -> None:
    for name, vad in VAD_ANCHORS.items():
        assert classify_vad(np.array(vad)).category == name
        assert nearest_anchor(np.array(vad)) == name


def test_resting_temperaments_are_mostly_neutral() -> None:
    """Part-way toward an anchor is still neutral: an anxious or hot-headed temperament at rest is not
    'angry' (the nearest anchor would say so), a very cheerful one is happy."""
    nervous = np.array([-0.152, 0.456, 0.0])  # temperament of N = 0.9, the rest average
    assert nearest_anchor(nervous) == "angry" and category_of(nervous) == "neutral"
    assert category_of(0.4 * np.array(VAD_ANCHORS["sad"])) == "neutral"
    assert category_of(0.7 * np.array(VAD_ANCHORS["sad"])) == "sad"
    assert category_of(np.zeros(3)) == "neutral"


def test_intensity_is_projection() -> None:
    half_angry = 0.5 * np.array(VAD_ANCHORS["angry"])
    assert intensity_toward(half_angry, "angry") == pytest.approx(0.5)
    assert intensity_toward(half_angry, "neutral") == 0.0
    assert intensity_toward(-half_angry, "angry") == 0.0


unit = st.floats(-1.0, 1.0, allow_nan=False)


@given(st.tuples(unit, unit, unit), st.sampled_from(EMOTIONS), st.sampled_from([0.0, SNAP_DEPTH, 0.5]))
def test_snap_moves_toward_the_anchor_into_the_category(
    point: tuple[float, float, float], category: str, depth: float
) -> None:
    p = np.array(point)
    a = np.array(VAD_ANCHORS[category])
    got = snap_to_category(p, category, depth)
    assert category_of(got) == category
    if np.allclose(p, a):
        return
    lam = float((got - p) @ (a - p) / ((a - p) @ (a - p)))
    np.testing.assert_allclose(got, p + lam * (a - p), atol=1e-9)  # on the segment p -> anchor
    assert 0.0 <= lam <= 1.0
    if category_of(p) == category:
        assert np.array_equal(got, p)  # already of the category: not moved
    elif depth == 0.0 and lam > 1e-3:
        assert category_of(p + (lam - 1e-3) * (a - p)) != category  # just before: not yet


def test_snap_rejects_bad_depth() -> None:
    with pytest.raises(ValueError):
        snap_to_category(np.zeros(3), "angry", 1.0)


def test_head_file(head: TransitionHead) -> None:
    assert head.uses_context and head.members >= 1
    assert (head.gain_beta > 0).all()
    assert head.appraisal_kappa is not None and (head.appraisal_kappa >= 0).all()
    assert head.meta["variant"] == "full" and head.meta["format"] == "mien.emotion_state.head/2"
    step = head.transition(np.zeros(384), np.zeros(384), np.zeros(3), "neutral", np.zeros(3))
    assert step.probabilities.shape == (len(EMOTIONS),)
    assert step.probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(step.gain, 1.0)  # an average temperament has P = 1


def test_classifier_sees_the_preceding_emotion(head: TransitionHead) -> None:
    """The response classifier can keep the current emotion: with no content, the preceding category
    changes the answer (copy-previous is PELD's strongest baseline)."""
    chosen = {
        name: head.transition(np.zeros(384), np.zeros(384), np.array(VAD_ANCHORS[name]), name, np.zeros(3)).category
        for name in EMOTIONS
    }
    assert len(set(chosen.values())) >= 3, chosen


@given(st.tuples(unit, unit, unit))
def test_category_of_matches_emotion_from_vad(point: tuple[float, float, float]) -> None:
    assert category_of(np.array(point)) == emotion_from_vad(*point).dominant
