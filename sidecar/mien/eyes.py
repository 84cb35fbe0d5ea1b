"""Stage 5, eyes: blinks and gaze put on the face, frame range by frame range.

One :class:`Eyes` per line or stream: its schedulers decide causally (see :mod:`mien.blinks`,
:mod:`mien.gaze`), so rendering a whole line at once and rendering a stream batch by batch give
the same curves for the same inputs and seed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .blinks import BlinkConfig, BlinkScheduler, blink_curve
from .channels import INDEX
from .gaze import GazeConfig, GazeScheduler, apply_gaze, gaze_angles

__all__ = ["Eyes", "STREAM_BLINKS", "STREAM_GAZE", "STREAM_MICRO", "rng_for"]

# Independent random streams per layer, so switching one layer off does not change the others.
STREAM_BLINKS, STREAM_GAZE, STREAM_MICRO = 1, 2, 3
_LIDS = np.array([INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]])
_WIDE = np.array([INDEX["eyeWideLeft"], INDEX["eyeWideRight"]])


def rng_for(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


class Eyes:
    """Blinks and gaze of one line or stream."""

    def __init__(self, seed: int, fps: float, *, blink_config: BlinkConfig | None = None,
                 gaze_config: GazeConfig | None = None, blink_scale: float = 1.0, gaze_scale: float = 1.0) -> None:
        self.fps = fps
        self.blink_scale = blink_scale
        self.gaze_config = gaze_config or GazeConfig()
        self.blinks = BlinkScheduler(rng_for(seed, STREAM_BLINKS), fps, blink_config)
        self.gaze = GazeScheduler(rng_for(seed, STREAM_GAZE), fps, self.gaze_config, gaze_scale)

    def pause_onsets(self, times_s: Iterable[float], known_s: float | None = None) -> None:
        """Pauses that began at ``times_s``, known from ``known_s`` (a causal detector knows them late)."""
        for t in times_s:
            self.blinks.pause_onset(float(t), known_s)
            self.gaze.pause_onset(float(t), known_s)

    def render(self, values: np.ndarray, first_frame: int, speaking: np.ndarray, arousal: np.ndarray) -> None:
        """Decide and draw the eyes of frames first_frame .. first_frame + len(values) - 1 into ``values``
        (frames x CHANNELS); frames must come in order without gaps."""
        if first_frame != self.blinks.frame:
            raise ValueError(f"eyes: frame {first_frame} requested, next is {self.blinks.frame}")
        n = len(values)
        self.blinks.advance(speaking, arousal)
        self.gaze.advance(speaking)
        if self.blink_scale > 0:
            closure = blink_curve(self.blinks.blinks, n, self.fps, self.blink_scale, first_frame)
            if closure.any():  # most frame ranges have no blink: nothing to draw
                lids = values[:, _LIDS]
                values[:, _LIDS] = lids + (1.0 - lids) * closure[:, None]
                values[:, _WIDE] *= (1.0 - closure)[:, None]
        self._forget()
        yaw, pitch = gaze_angles(self.gaze.saccades, n, self.fps, first_frame)
        apply_gaze(values, yaw, pitch, self.gaze_config)

    def _forget(self) -> None:
        """Streams can be long: drop events that ended well before the next frame."""
        horizon = self.blinks.frame / self.fps - 2.0
        if len(self.blinks.blinks) > 64:
            self.blinks.blinks = [b for b in self.blinks.blinks if b.start_s + b.duration_s >= horizon]
        if len(self.gaze.saccades) > 64:
            self.gaze.saccades = self.gaze.saccades[-8:]
