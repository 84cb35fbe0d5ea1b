"""Audio features for the neural model: log-mel frames centred on the animation frames.

Frame ``k`` is centred at ``k / fps`` seconds (the time of animation frame ``k``), so the model
needs no resampling of its output. A frame needs the audio up to its centre plus half a
window; :class:`StreamingFeatures` produces frames incrementally as audio arrives, with
exactly the values :func:`log_mel` gives for the whole line. Parameters come from the model's
metadata (``*.onnx.json``, key ``features``), never from constants elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["FeatureConfig", "log_mel", "StreamingFeatures"]


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel analysis: ``n_mels`` bands over fmin..fmax, Hann window of ``window_ms``, one frame per
    animation frame, natural log of power + ``log_floor``, then per-band standardisation."""

    sample_rate_hz: int = 16000
    fps: float = 60.0
    n_mels: int = 40
    window_ms: float = 25.0
    n_fft: int = 512
    fmin_hz: float = 60.0
    fmax_hz: float = 7600.0
    log_floor: float = 1e-6
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], sample_rate_hz: int, fps: float) -> FeatureConfig:
        return cls(
            sample_rate_hz=sample_rate_hz,
            fps=fps,
            n_mels=int(meta["n_mels"]),
            window_ms=float(meta["window_ms"]),
            n_fft=int(meta["n_fft"]),
            fmin_hz=float(meta["fmin_hz"]),
            fmax_hz=float(meta["fmax_hz"]),
            log_floor=float(meta["log_floor"]),
            mean=tuple(float(x) for x in meta.get("mean", ())),
            std=tuple(float(x) for x in meta.get("std", ())),
        )

    def to_metadata(self) -> dict[str, Any]:
        return {"kind": "log_mel", "n_mels": self.n_mels, "window_ms": self.window_ms, "n_fft": self.n_fft,
                "fmin_hz": self.fmin_hz, "fmax_hz": self.fmax_hz, "log_floor": self.log_floor,
                "mean": list(self.mean), "std": list(self.std)}

    @property
    def window(self) -> int:
        return round(self.window_ms / 1000.0 * self.sample_rate_hz)

    @property
    def hop(self) -> float:
        """Samples between frame centres (need not be an integer)."""
        return self.sample_rate_hz / self.fps

    @property
    def half_window_s(self) -> float:
        """Audio after a frame's centre that the frame needs."""
        return (self.window - self.window // 2) / self.sample_rate_hz

    @cached_property
    def _norm(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(mean, std) as arrays, or None without normalisation."""
        return (np.asarray(self.mean), np.asarray(self.std)) if self.mean and self.std else None

    @cached_property
    def _window_index(self) -> np.ndarray:
        return np.arange(self.window)[None, :]

    @cached_property
    def _hann(self) -> np.ndarray:
        return np.hanning(self.window + 2)[1:-1].astype(np.float64)

    @cached_property
    def _mel(self) -> np.ndarray:
        """(n_fft // 2 + 1, n_mels) triangular filters on the HTK mel scale."""
        def mel(f: np.ndarray | float) -> np.ndarray:
            return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f) / 700.0))

        edges = 700.0 * (10 ** (np.linspace(mel(self.fmin_hz), mel(self.fmax_hz), self.n_mels + 2) / 2595.0) - 1)
        freqs = np.arange(self.n_fft // 2 + 1) * self.sample_rate_hz / self.n_fft
        lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        weights = np.maximum(0.0, np.minimum((freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)))
        return np.asarray(weights.T)

    def n_frames(self, n_samples: int) -> int:
        """Frames of a line of ``n_samples`` (the animation frames 0 .. floor(duration * fps))."""
        return math.floor(n_samples / self.sample_rate_hz * self.fps) + 1

    def centre(self, k: np.ndarray | int) -> np.ndarray:
        return np.asarray(np.round(np.asarray(k) * self.hop)).astype(np.int64)

    def frames(self, padded: np.ndarray, first: int, count: int, offset: int) -> np.ndarray:
        """Features of frames first..first+count-1 from ``padded`` audio whose index 0 is sample ``-offset``."""
        if count <= 0:
            return np.zeros((0, self.n_mels), dtype=np.float32)
        starts = self.centre(np.arange(first, first + count)) - self.window // 2 + offset
        idx = starts[:, None] + self._window_index
        chunk = padded[idx] * self._hann
        power = np.abs(np.fft.rfft(chunk, self.n_fft, axis=1)) ** 2
        feats = np.log(power @ self._mel + self.log_floor)
        if self._norm is not None:
            feats = (feats - self._norm[0]) / self._norm[1]
        return feats.astype(np.float32)


def log_mel(samples: np.ndarray, config: FeatureConfig, n_frames: int | None = None) -> np.ndarray:
    """(frames, n_mels) features of a whole line; audio outside the line counts as silence."""
    n = config.n_frames(len(samples)) if n_frames is None else n_frames
    pad = config.window
    last_centre = int(config.centre(max(0, n - 1)))
    padded = np.zeros(pad + max(len(samples), last_centre + pad) + pad, dtype=np.float64)
    padded[pad:pad + len(samples)] = samples
    return config.frames(padded, 0, n, pad)


class StreamingFeatures:
    """Incremental :func:`log_mel`: push audio, pop the frames whose window is complete."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._buffer = np.zeros(config.window, dtype=np.float64)  # leading silence
        self._origin = config.window  # buffer index of sample 0
        self._next = 0  # next frame to produce
        self.samples = 0  # samples received

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add audio; return the features of every frame that is now complete."""
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float64)])
        self.samples += len(samples)
        c = self.config
        tail = c.window - c.window // 2  # samples a frame needs after its centre
        ready = 0
        while round((self._next + ready) * c.hop) + tail <= self.samples:  # as centre(): half to even
            ready += 1
        return self._take(ready)

    def flush(self, n_frames: int | None = None) -> np.ndarray:
        """End of audio: the remaining frames up to the line's last frame, padding with silence."""
        c = self.config
        total = c.n_frames(self.samples) if n_frames is None else n_frames
        need = int(c.centre(max(0, total - 1))) - c.window // 2 + c.window
        if need > self.samples:
            self._buffer = np.concatenate([self._buffer, np.zeros(need - self.samples)])
        return self._take(max(0, total - self._next))

    def _take(self, count: int) -> np.ndarray:
        out = self.config.frames(self._buffer, self._next, count, self._origin)
        self._next += count
        # drop audio no future frame needs
        keep_from = int(self.config.centre(self._next)) - self.config.window // 2 + self._origin
        if keep_from > self.config.window:
            drop = keep_from - self.config.window
            self._buffer = self._buffer[drop:]
            self._origin -= drop
        return out

    @property
    def frames_done(self) -> int:
        return self._next
