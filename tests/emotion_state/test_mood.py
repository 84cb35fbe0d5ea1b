"""Mood/emotion decay: half-lives, path independence, convergence to the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from mien.emotion_state.mood import decay, push_mood

BASE = np.array([0.2, -0.1, 0.05])
MOOD = np.array([-0.6, 0.5, 0.3])
EMO = np.array([-0.5, 0.6, 0.25])


def test_mood_distance_halves_every_half_life() -> None:
    for k in (1, 2, 3):
        mood, _ = decay(BASE, MOOD, EMO, 120.0 * k, 15.0, 120.0)
        np.testing.assert_allclose(mood - BASE, (MOOD - BASE) * 0.5**k, rtol=1e-12)


def test_path_independent() -> None:
    one = decay(BASE, MOOD, EMO, 60.0, 15.0, 120.0)
    m, e = decay(BASE, MOOD, EMO, 25.0, 15.0, 120.0)
    two = decay(BASE, m, e, 35.0, 15.0, 120.0)
    np.testing.assert_allclose(one[0], two[0], atol=1e-12)
    np.testing.assert_allclose(one[1], two[1], atol=1e-12)


def test_emotion_reaches_baseline_and_no_change_without_time() -> None:
    mood, emotion = decay(BASE, MOOD, EMO, 120.0 * 30, 15.0, 120.0)
    np.testing.assert_allclose(mood, BASE, atol=1e-6)
    np.testing.assert_allclose(emotion, BASE, atol=1e-6)
    m0, e0 = decay(BASE, MOOD, EMO, 0.0, 15.0, 120.0)
    assert (m0 == MOOD).all() and (e0 == EMO).all()


def test_emotion_relaxes_toward_mood_faster_than_mood_moves() -> None:
    mood, emotion = decay(BASE, MOOD, np.array([0.9, 0.9, 0.9]), 30.0, 15.0, 120.0)
    assert np.linalg.norm(emotion - mood) < 0.3 * np.linalg.norm(np.array([0.9, 0.9, 0.9]) - MOOD)


def test_push_mood() -> None:
    assert push_mood(MOOD, EMO, 0.3) == pytest.approx(MOOD + 0.3 * (EMO - MOOD))
    assert push_mood(MOOD, EMO, 1.0) == pytest.approx(EMO)
