"""Mood: accumulates emotions and relaxes toward the resting point (temperament) over game time.

Three points in VAD space per NPC (ALMA's layers, Gebhard 2005): the *baseline* b (the temperament
from OCEAN, or an explicit baseline emotion), the *mood* m (medium term) and the *emotion* e (short
term, what the face shows and what the next transition starts from).

Decay (FAtiMA-style exponential decay with half-lives; Dias, Mascarenhas & Paiva 2014, "FAtiMA
Modular", decays emotion intensity exponentially and mood toward its default): with
``k_m = ln 2 / h_m`` and ``k_e = ln 2 / h_e`` (``h_e < h_m``), the linear system

    dm/dt = -k_m (m - b)
    de/dt = -k_e (e - m)

has the closed form, for y = m - b and x = e - b and elapsed time t,

    y(t) = y0 f_m                                       f_m = 2^(-t / h_m)
    x(t) = x0 f_e + y0 c (f_m - f_e)                    f_e = 2^(-t / h_e),  c = k_e / (k_e - k_m)

so the mood's distance to the baseline halves every ``h_m`` seconds and the emotion trails the mood
with half-life ``h_e``. The closed form is path independent: decaying 30 s then 30 s gives exactly
the state of decaying 60 s (up to float rounding), so the result never depends on how often a game
polls.

Accumulation (a simplification of ALMA's pull/push mood change): each new emotion point ``e_new``
pulls the mood by a fixed fraction ``g`` (``mood_gain``)::

    m <- m + g (e_new - m)

so a run of angry lines moves the mood most of the way to anger (1 - (1 - g)^n after n lines) and
the mood then fades back over minutes.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["decay", "decay_factors", "push_mood"]


def decay_factors(elapsed_s: float, emotion_half_life_s: float, mood_half_life_s: float) -> tuple[float, float, float]:
    """(f_e, f_m, c) of the closed form above for ``elapsed_s`` >= 0."""
    f_e = math.pow(2.0, -elapsed_s / emotion_half_life_s)
    f_m = math.pow(2.0, -elapsed_s / mood_half_life_s)
    k_e = math.log(2.0) / emotion_half_life_s
    k_m = math.log(2.0) / mood_half_life_s
    return f_e, f_m, k_e / (k_e - k_m)


def decay(
    baseline: np.ndarray,
    mood: np.ndarray,
    emotion: np.ndarray,
    elapsed_s: float,
    emotion_half_life_s: float,
    mood_half_life_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mood and emotion after ``elapsed_s`` seconds without new input (see module docstring)."""
    if elapsed_s <= 0.0:
        return mood.copy(), emotion.copy()
    f_e, f_m, c = decay_factors(elapsed_s, emotion_half_life_s, mood_half_life_s)
    y0 = mood - baseline
    x0 = emotion - baseline
    new_mood = baseline + y0 * f_m
    new_emotion = baseline + x0 * f_e + y0 * (c * (f_m - f_e))
    return np.clip(new_mood, -1.0, 1.0), np.clip(new_emotion, -1.0, 1.0)


def push_mood(mood: np.ndarray, emotion: np.ndarray, gain: float) -> np.ndarray:
    """``m + gain (e - m)``: the mood after experiencing the emotion point ``emotion``."""
    return np.clip(mood + gain * (emotion - mood), -1.0, 1.0)
