"""Prosody: pitch, loudness and the emphasised moments of a line (what brows and eyes react to).

Pitch is estimated with YIN (de Cheveigné & Kawahara, JASA 111(4), 2002): the cumulative-mean
normalised difference function on 40 ms windows every 10 ms, first dip below 0.15 in 60-400 Hz.

Emphasis events are pitch accents (local F0 peaks at least 1.5 semitones above the speaker's
median on a voiced stretch; Ladd, "Intonational Phonology") and stressed syllables (vowels
louder than the line's 70th loudness percentile). Each event has a time and a strength in
[0, 1]; expression turns them into brow raises scaled by arousal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .audio import hop_mean_square, resample
from .track import PhoneSegment

__all__ = ["Emphasis", "Prosody", "analyse", "line_pitch_hz", "pitch_hz", "speaking_envelope"]

_HOP_S = 0.01
_WIN_S = 0.04
_F0_MIN_HZ, _F0_MAX_HZ = 60.0, 400.0
_YIN_THRESHOLD = 0.15
_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())


@dataclass(frozen=True)
class Emphasis:
    time_s: float
    strength: float


@dataclass(frozen=True)
class Prosody:
    """Per-10-ms pitch (Hz, 0 = unvoiced) and the emphasis events of the line."""

    f0_hz: np.ndarray
    emphasis: tuple[Emphasis, ...]


_PITCH_BLOCK_FRAMES = 1000
"""Frames (10 s) of the YIN track computed at a time: its work arrays are frames x FFT size, so a whole 5-minute
line at once would take hundreds of MB."""


def pitch_hz(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """YIN F0 track every 10 ms (0 where unvoiced or silent)."""
    hop = int(_HOP_S * sample_rate_hz)
    win = int(_WIN_S * sample_rate_hz)
    n = max(0, (len(samples) - win) // hop + 1)
    if n == 0:
        return np.zeros(int(np.ceil(len(samples) / hop)))
    blocks = range(0, n, _PITCH_BLOCK_FRAMES)
    energy = np.concatenate([_frame_energy(samples, hop, win, first, min(_PITCH_BLOCK_FRAMES, n - first))
                             for first in blocks])
    loud = energy > 1e-3 * energy.max() if energy.max() > 0 else np.zeros(n, dtype=bool)
    f0 = np.concatenate([_yin(samples, sample_rate_hz, hop, win, first, loud[first:first + _PITCH_BLOCK_FRAMES])
                         for first in blocks])
    pad = int(np.ceil(len(samples) / hop)) - n
    return np.concatenate([np.zeros(win // (2 * hop)), f0, np.zeros(max(0, pad - win // (2 * hop)))])[
        : int(np.ceil(len(samples) / hop))
    ]


def _frames(samples: np.ndarray, hop: int, win: int, first: int, count: int) -> np.ndarray:
    idx = np.arange(win)[None, :] + hop * (first + np.arange(count))[:, None]
    return samples[idx].astype(np.float64)


def _frame_energy(samples: np.ndarray, hop: int, win: int, first: int, count: int) -> np.ndarray:
    return np.asarray((_frames(samples, hop, win, first, count) ** 2).mean(axis=1))


def _yin(samples: np.ndarray, sample_rate_hz: int, hop: int, win: int, first: int, loud: np.ndarray) -> np.ndarray:
    """F0 of the ``len(loud)`` frames from frame ``first`` (``loud``: the frames loud enough to have a pitch)."""
    n = len(loud)
    frames = _frames(samples, hop, win, first, n)
    max_lag = int(sample_rate_hz / _F0_MIN_HZ)
    min_lag = int(sample_rate_hz / _F0_MAX_HZ)
    half = win - max_lag
    # difference function d(tau) = sum (x[j] - x[j + tau])^2 over the first `half` samples,
    # via FFT cross-correlation
    size = 1 << int(np.ceil(np.log2(win + half)))
    fx = np.fft.rfft(frames, size)
    fh = np.fft.rfft(frames[:, :half], size)
    cross = np.fft.irfft(fx * np.conj(fh), size)[:, : max_lag + 1]
    sq = np.cumsum(frames**2, axis=1)
    e0 = sq[:, half - 1][:, None]
    shifted = np.concatenate([np.zeros((n, 1)), sq], axis=1)
    lags = np.arange(max_lag + 1)
    e_tau = shifted[:, lags + half] - shifted[:, lags]
    diff = e0 + e_tau - 2.0 * cross
    diff[:, 0] = 0.0
    cum = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cum, 1e-12)
    f0 = np.zeros(n)
    search = cmnd[:, min_lag:]
    below = search < _YIN_THRESHOLD
    has = below.any(axis=1) & loud
    # the dip: the minimum of the first run of lags below the threshold
    pos = np.arange(search.shape[1])[None, :]
    first_below = np.argmax(below, axis=1)[:, None]
    after_run = (pos >= first_below) & ~below
    run_end = np.where(after_run.any(axis=1), np.argmax(after_run, axis=1), search.shape[1])[:, None]
    dip = np.argmin(np.where((pos >= first_below) & (pos < run_end), search, np.inf), axis=1) + min_lag
    # parabolic refinement around the dip
    rows = np.arange(n)
    inner = (dip >= 1) & (dip < max_lag)
    a_ = cmnd[rows, np.clip(dip - 1, 0, max_lag)]
    b_ = cmnd[rows, dip]
    c_ = cmnd[rows, np.clip(dip + 1, 0, max_lag)]
    denom = a_ - 2.0 * b_ + c_
    shift = np.where(inner & (np.abs(denom) > 1e-12), 0.5 * (a_ - c_) / np.where(denom == 0, 1.0, denom), 0.0)
    f0[has] = sample_rate_hz / (dip[has] + shift[has])
    return f0


def _loudness_10ms(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    hop = int(_HOP_S * sample_rate_hz)
    if not len(samples):
        return np.zeros(0)
    return np.asarray(10.0 * np.log10(hop_mean_square(samples, hop) + 1e-10))


def line_pitch_hz(samples: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """F0 every 10 ms of a whole line, computed at 8 kHz (plenty for F0 <= 400 Hz, 4x cheaper than 16 kHz).

    From the internal 16 kHz the halving is a pairwise mean (a gentle low-pass that keeps everything
    below 2 kHz, where F0 and its first harmonics are)."""
    if sample_rate_hz == 2 * 8000:
        even = samples[: len(samples) // 2 * 2]
        return pitch_hz(0.5 * (even[0::2] + even[1::2]), 8000)
    if sample_rate_hz > 8000:
        return pitch_hz(resample(samples, sample_rate_hz, 8000), 8000)
    return pitch_hz(samples, sample_rate_hz)


def analyse(
    samples: np.ndarray, sample_rate_hz: int, phones: Sequence[PhoneSegment], f0: np.ndarray | None = None
) -> Prosody:
    """Pitch and emphasis events of a line (``f0`` from :func:`line_pitch_hz` if already computed)."""
    f0 = line_pitch_hz(samples, sample_rate_hz) if f0 is None else f0
    events: list[Emphasis] = []
    voiced = f0 > 0
    if voiced.sum() >= 5:
        semis = np.zeros_like(f0)
        median = float(np.median(f0[voiced]))
        semis[voiced] = 12.0 * np.log2(f0[voiced] / median)
        for i in range(2, len(f0) - 2):
            window = semis[i - 2:i + 3]
            if voiced[i - 2:i + 3].all() and semis[i] >= 1.5 and semis[i] == window.max():
                events.append(Emphasis(i * _HOP_S, float(min(1.0, (semis[i] - 1.5) / 4.0 + 0.4))))
    loud = _loudness_10ms(samples, sample_rate_hz)
    vowels = [p for p in phones if p.phone in _VOWELS and p.end_s - p.start_s >= 0.05]
    if vowels:
        levels = np.array([
            loud[int(p.start_s / _HOP_S):max(int(p.start_s / _HOP_S) + 1, int(p.end_s / _HOP_S))].max()
            for p in vowels
        ])
        threshold = np.percentile(levels, 70)
        spread = max(1.0, float(levels.max() - threshold))
        for p, level in zip(vowels, levels, strict=True):
            if level >= threshold:
                events.append(Emphasis(0.5 * (p.start_s + p.end_s), float(0.3 + 0.5 * (level - threshold) / spread)))
    events.sort(key=lambda e: e.time_s)
    merged: list[Emphasis] = []
    for e in events:  # one event per 250 ms: keep the strongest
        if merged and e.time_s - merged[-1].time_s < 0.25:
            if e.strength > merged[-1].strength:
                merged[-1] = e
        else:
            merged.append(e)
    return Prosody(f0, tuple(merged))


def speaking_envelope(
    phones: Sequence[PhoneSegment], n_frames: int, fps: float, min_pause_s: float = 0.25
) -> np.ndarray:
    """1 while the character is speaking (pauses shorter than ``min_pause_s`` count as speech), else 0,
    with 100 ms linear ramps."""
    t = np.arange(n_frames) / fps
    speaking = np.zeros(n_frames)
    for i, p in enumerate(phones):
        inner_pause = 0 < i < len(phones) - 1 and p.end_s - p.start_s < min_pause_s
        if p.phone != "SIL" or inner_pause:
            speaking[(t >= p.start_s) & (t < p.end_s)] = 1.0
    ramp = max(1, int(0.1 * fps))
    kernel = np.ones(ramp) / ramp
    # the centred part of the full convolution, n_frames long (mode="same" returns len(kernel) values when the
    # line is shorter than the ramp: a 1-sample line)
    start = (ramp - 1) // 2
    return np.clip(np.convolve(speaking, kernel)[start:start + n_frames], 0.0, 1.0)
