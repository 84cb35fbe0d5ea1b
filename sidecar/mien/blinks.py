"""Stage 5a, blinks: seeded stochastic eye blinks with a realistic rate, timing and shape.

Intervals between blinks are log-normal. The spread sigma = 0.80 (of ln seconds) is the
maximum-likelihood fit to the 445 inter-blink intervals EmoFace measured on MEAD talking-face
video (Liu et al., "EmoFace", IEEE VR 2024; file blink/vec7/interval_svm.npy, frames at
30 fps: median 1.31 s, mean 1.71 s = 35 blinks/min). Those actors blink faster than people in
conversation, so the location is set from Bentivoglio et al. (1997), "Analysis of blink rate
patterns in normal subjects", Movement Disorders 12(6): about 26 blinks/min while talking
and 17/min at rest; we use means of 22/min speaking and 16/min listening, multiplied by
(1 + 0.3 x arousal) because blink rate rises with arousal and anxiety.

Blinks cluster at phrase boundaries and pauses (Nakano & Kitazawa 2010; Cummins 2012): when a
pause begins, a blink due within the next second moves to just after the onset with
probability 0.6. The decision uses only the past, so streams and whole lines behave alike.

Shape (Evinger et al. 1991; VanderWerf et al. 2003): fast closing 60-100 ms, a brief closed
hold of 0-50 ms, slower opening 130-240 ms (190-390 ms in all); 15 % are partial (50-80 % closure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Blink", "BlinkConfig", "BlinkScheduler", "INTERVAL_SIGMA_LN_S", "schedule_blinks", "blink_curve"]

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


class BlinkScheduler:
    """Causal blink scheduling: fed frame by frame (speech activity, arousal, pause onsets as they
    become known), it decides blinks using only the past, so a stream and a whole line with the same
    inputs and seed get the same blinks.

    A pause onset brings a blink that is due within the next second forward to just after the onset
    (with probability ``boundary_snap_probability``).
    """

    def __init__(self, rng: np.random.Generator, fps: float, config: BlinkConfig | None = None) -> None:
        self.rng = rng
        self.fps = fps
        self.config = config or BlinkConfig()
        self.blinks: list[Blink] = []
        self.frame = 0  # next frame to consider
        self._onsets: list[tuple[float, float]] = []  # (takes effect at, onset time)
        # the first blink comes after a residual interval, as if the process had been running
        self._next_s = float(rng.uniform(0.0, 1.0)) * float(np.exp(_mu_for_rate(self.config.listening_rate_per_min)))

    def pause_onset(self, time_s: float, known_s: float | None = None) -> None:
        """A pause began at ``time_s``, known from ``known_s`` (default: at once); it takes effect at the
        first frame at or after both (or now, if that frame has passed)."""
        self._onsets.append((max(time_s, known_s if known_s is not None else time_s), time_s))
        self._onsets.sort()

    def _apply_onset(self, time_s: float, now: float) -> None:
        if 0.0 <= self._next_s - time_s <= 1.0 and self.rng.uniform() < self.config.boundary_snap_probability:
            self._next_s = max(now, time_s + float(self.rng.uniform(0.05, 0.2)))

    def advance(self, speaking: np.ndarray, arousal: np.ndarray) -> None:
        """Consider the next ``len(speaking)`` frames (their speech activity 0..1 and arousal -1..1)."""
        c = self.config
        for i in range(len(speaking)):
            now = (self.frame + i) / self.fps
            while self._onsets and self._onsets[0][0] <= now + 1e-9:
                self._apply_onset(self._onsets.pop(0)[1], now)
            t = now + 1.0 / self.fps  # decide everything that starts before the next frame
            while self._next_s < t:
                start = self._next_s
                close = float(self.rng.uniform(0.06, 0.10))
                hold = float(self.rng.uniform(0.0, 0.05))
                opening = float(self.rng.uniform(0.13, 0.24))
                depth = float(self.rng.uniform(0.5, 0.8)) if self.rng.uniform() < c.partial_probability else 1.0
                previous = self.blinks[-1] if self.blinks else None
                if previous is None or start >= previous.start_s + previous.duration_s + 0.05:
                    self.blinks.append(Blink(start, close, hold, opening, depth))
                speak = float(speaking[i])
                rate = speak * c.speaking_rate_per_min + (1.0 - speak) * c.listening_rate_per_min
                rate *= float(np.clip(1.0 + c.arousal_gain * float(arousal[i]), 0.5, 1.5))
                interval = float(self.rng.lognormal(_mu_for_rate(rate), INTERVAL_SIGMA_LN_S))
                self._next_s = start + max(c.min_interval_s, interval)
        self.frame += len(speaking)


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
    """Blink events of a whole line (the :class:`BlinkScheduler` run over every frame); only blinks
    that finish within ``duration_s``."""
    scheduler = BlinkScheduler(rng, fps, config)
    for onset in pause_onsets_s:
        scheduler.pause_onset(float(onset))
    scheduler.advance(speaking, arousal)
    return [b for b in scheduler.blinks if b.start_s + b.duration_s <= duration_s]


def blink_curve(blinks: list[Blink], n_frames: int, fps: float, scale: float = 1.0, first_frame: int = 0) -> np.ndarray:
    """Eyelid closure 0..1 for frames first_frame .. first_frame + n_frames - 1: ease-in closing (sin),
    hold, ease-out opening (cos). ``blinks`` in time order without overlaps, as :class:`BlinkScheduler` makes them."""
    t = (first_frame + np.arange(n_frames)) / fps
    out = np.zeros(n_frames)
    if n_frames == 0:
        return out
    first_s, last_s = float(t[0]), float(t[-1])
    reach = []  # blinks come in time order and never overlap: walk back from the latest to the first that ended
    for b in reversed(blinks):
        if b.start_s + b.duration_s < first_s:
            break
        if b.start_s <= last_s:
            reach.append(b)
    if not reach:
        return out
    for b in reversed(reach):
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
    return np.minimum(np.maximum(out * scale, 0.0), 1.0)
