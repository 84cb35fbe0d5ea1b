"""Stage 5a, blinks: seeded stochastic eye blinks with a realistic rate, timing and shape.

Intervals between blinks are log-normal. The spread sigma = 0.80 (of ln seconds) is the
maximum-likelihood fit to the 445 inter-blink intervals EmoFace measured on MEAD talking-face
video (Liu et al., "EmoFace", IEEE VR 2024; file blink/vec7/interval_svm.npy, frames at
30 fps: median 1.31 s, mean 1.71 s = 35 blinks/min). Those actors blink faster than people in
conversation, so the location is set from Bentivoglio et al. (1997), "Analysis of blink rate
patterns in normal subjects", Movement Disorders 12(6): about 26 blinks/min while talking
and 17/min at rest; we use means of 22/min speaking and 16/min listening, multiplied by
(1 + 0.3 x arousal) because blink rate rises with arousal and anxiety.

Blinks cluster at phrase boundaries and pauses (Nakano & Kitazawa 2010; Cummins 2012): a
blink drawn within 0.5 s of a pause onset moves to just after it with probability 0.6.

Shape (Evinger et al. 1991; VanderWerf et al. 2003): fast closing 60-100 ms, a brief closed
hold of 0-50 ms, slower opening 130-240 ms (190-390 ms in all); 15 % are partial (50-80 % closure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Blink", "BlinkConfig", "INTERVAL_SIGMA_LN_S", "schedule_blinks", "blink_curve"]

INTERVAL_SIGMA_LN_S = 0.80
"""Spread of ln(inter-blink interval / s), fitted to EmoFace's 445 MEAD intervals."""


@dataclass(frozen=True)
class BlinkConfig:
    """Blink behaviour (validated by :mod:`mien.config`)."""

    speaking_rate_per_min: float = 22.0
    listening_rate_per_min: float = 16.0
    arousal_gain: float = 0.3
    boundary_snap_probability: float = 0.6
    partial_probability: float = 0.15
    min_interval_s: float = 0.3


@dataclass(frozen=True)
class Blink:
    """One blink: start time, closing/hold/opening durations (s) and depth (1 = fully closed)."""

    start_s: float
    close_s: float
    hold_s: float
    open_s: float
    depth: float

    @property
    def duration_s(self) -> float:
        return self.close_s + self.hold_s + self.open_s


def _mu_for_rate(rate_per_min: float) -> float:
    # mean of a log-normal interval = exp(mu + sigma^2 / 2) = 60 / rate
    return float(np.log(60.0 / rate_per_min) - INTERVAL_SIGMA_LN_S**2 / 2.0)


def schedule_blinks(
    duration_s: float,
    rng: np.random.Generator,
    *,
    speaking: np.ndarray,
    arousal: np.ndarray,
    fps: float,
    pause_onsets_s: np.ndarray,
    config: BlinkConfig | None = None,
) -> list[Blink]:
    """Blink events over ``duration_s``; ``speaking`` and ``arousal`` are per-frame (0..1, -1..1)."""
    config = config or BlinkConfig()
    blinks: list[Blink] = []
    n = len(speaking)

    def frame(t: float) -> int:
        return min(n - 1, max(0, int(t * fps))) if n else 0

    # the first blink comes after a residual interval, as if the process had been running
    t = float(rng.uniform(0.0, 1.0)) * float(np.exp(_mu_for_rate(config.listening_rate_per_min)))
    while t < duration_s:
        i = frame(t)
        speak = float(speaking[i]) if n else 0.0
        rate = speak * config.speaking_rate_per_min + (1.0 - speak) * config.listening_rate_per_min
        rate *= float(np.clip(1.0 + config.arousal_gain * (float(arousal[i]) if n else 0.0), 0.5, 1.5))
        start = t
        near = pause_onsets_s[np.abs(pause_onsets_s - t) <= 0.5] if len(pause_onsets_s) else pause_onsets_s
        snap = rng.uniform() < config.boundary_snap_probability
        if len(near) and snap:
            start = float(near[0]) + float(rng.uniform(0.05, 0.2))
        close = float(rng.uniform(0.06, 0.10))
        hold = float(rng.uniform(0.0, 0.05))
        opening = float(rng.uniform(0.13, 0.24))
        depth = float(rng.uniform(0.5, 0.8)) if rng.uniform() < config.partial_probability else 1.0
        if start + close + hold + opening <= duration_s and (
            not blinks or start >= blinks[-1].start_s + blinks[-1].duration_s + 0.05
        ):
            blinks.append(Blink(start, close, hold, opening, depth))
        interval = float(rng.lognormal(_mu_for_rate(rate), INTERVAL_SIGMA_LN_S))
        t = max(start, t) + max(config.min_interval_s, interval)
    return blinks


def blink_curve(blinks: list[Blink], n_frames: int, fps: float, scale: float = 1.0) -> np.ndarray:
    """Eyelid closure 0..1 per frame: ease-in closing (sin), hold, ease-out opening (cos)."""
    t = np.arange(n_frames) / fps
    out = np.zeros(n_frames)
    for b in blinks:
        dt = t - b.start_s
        closing = (dt >= 0) & (dt < b.close_s)
        held = (dt >= b.close_s) & (dt < b.close_s + b.hold_s)
        opening = (dt >= b.close_s + b.hold_s) & (dt < b.duration_s)
        v = np.zeros(n_frames)
        v[closing] = np.sin(0.5 * np.pi * dt[closing] / b.close_s) ** 2
        v[held] = 1.0
        u = (dt[opening] - b.close_s - b.hold_s) / b.open_s
        v[opening] = 0.5 * (1.0 + np.cos(np.pi * u))
        out = np.maximum(out, b.depth * v)
    return np.clip(out * scale, 0.0, 1.0)
