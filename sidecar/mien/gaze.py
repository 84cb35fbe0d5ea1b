"""Stage 5b, gaze: fixations that hold, saccades on the main sequence, aversion while speaking.

The model follows Lee, Badler & Badler (2002), "Eyes Alive" (SIGGRAPH): gaze alternates
between mutual gaze (at the listener) and averted gaze; speakers avert more and return at
phrase ends, listeners mostly hold mutual gaze. Saccade duration follows the main sequence,
D = 21 ms + 2.2 ms per degree of amplitude (Carpenter 1988, as used by Eyes Alive), with a
minimum-jerk position profile; between saccades the eyes hold still (no drift back to centre).
Amplitudes: averted targets 4-15 deg, mostly sideways (Eyes Alive's direction histogram
favours horizontal), mutual gaze within 1.5 deg of the listener. Fixations are log-normal,
median 0.9 s while speaking and 1.6 s while listening (never shorter than 0.25 s).

Eyelids follow vertical gaze (looking down lowers the upper lid, looking up raises it).
Output: eye rotations in degrees (yaw > 0 toward the character's left, pitch > 0 up) and the
ARKit eyeLook* blendshapes (1.0 at 30 deg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .channels import INDEX

__all__ = ["Saccade", "GazeConfig", "GazeScheduler", "schedule_gaze", "gaze_angles", "saccade_duration_s", "apply_gaze"]

_DIRECTIONS = (  # (yaw sign, pitch sign, probability)
    (1.0, 0.0, 0.3), (-1.0, 0.0, 0.3), (0.7, -0.7, 0.12), (-0.7, -0.7, 0.12), (0.0, -1.0, 0.06),
    (0.7, 0.7, 0.04), (-0.7, 0.7, 0.04), (0.0, 1.0, 0.02),
)
LOOK_FULL_DEG = 30.0
_GAZE_COLUMNS = np.array([INDEX[name] for name in (  # in the order apply_gaze stacks them
    "eyeYawLeft_deg", "eyeYawRight_deg", "eyePitchLeft_deg", "eyePitchRight_deg",
    "eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight")])
_LIDS = np.array([INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]])
_WIDE = np.array([INDEX["eyeWideLeft"], INDEX["eyeWideRight"]])


@dataclass(frozen=True)
class GazeConfig:
    """Gaze behaviour (validated by :mod:`mien.config`)."""

    speaking_fixation_s: float = 0.9
    listening_fixation_s: float = 1.6
    speaking_aversion: float = 0.55
    listening_aversion: float = 0.2
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 15.0
    lid_follow: float = 0.3


@dataclass(frozen=True)
class Saccade:
    """A jump of both eyes from (yaw0, pitch0) to (yaw1, pitch1) degrees starting at start_s."""

    start_s: float
    duration_s: float
    yaw0: float
    pitch0: float
    yaw1: float
    pitch1: float

    @property
    def amplitude_deg(self) -> float:
        return math.hypot(self.yaw1 - self.yaw0, self.pitch1 - self.pitch0)


def saccade_duration_s(amplitude_deg: float) -> float:
    """Main sequence: 21 ms + 2.2 ms per degree."""
    return 0.021 + 0.0022 * amplitude_deg


class GazeScheduler:
    """Causal gaze scheduling, fed frame by frame like :class:`mien.blinks.BlinkScheduler`: the same
    inputs and seed give the same saccades whether a line arrives whole or streamed.

    The eyes start at the listener (0/0). At each saccade time the next fixation is chosen: averted
    with probability ``speaking_aversion``/``listening_aversion`` (by the speech activity then), else
    mutual gaze near the listener; a pause onset while averted brings the eyes back at once.
    """

    def __init__(self, rng: np.random.Generator, fps: float, config: GazeConfig | None = None,
                 scale: float = 1.0) -> None:
        self.rng = rng
        self.fps = fps
        self.config = config or GazeConfig()
        self.scale = scale
        self.saccades: list[Saccade] = []
        self.frame = 0
        self._yaw = self._pitch = 0.0
        self._averted = False
        self._returning = False
        self._next_s = float(rng.uniform(0.2, 0.8))
        self._onsets: list[tuple[float, float]] = []  # (takes effect at, onset time)

    def pause_onset(self, time_s: float, known_s: float | None = None) -> None:
        """A phrase ended at ``time_s``, known from ``known_s`` (default: at once); takes effect at the first
        frame at or after both (or now)."""
        self._onsets.append((max(time_s, known_s if known_s is not None else time_s), time_s))
        self._onsets.sort()

    def _apply_onset(self, time_s: float, now: float) -> None:
        """Averted eyes return to the listener at the end of a phrase."""
        busy_until = self.saccades[-1].start_s + self.saccades[-1].duration_s if self.saccades else 0.0
        if self._averted and not self._returning:
            self._returning = True
            self._next_s = max(now, busy_until, time_s + float(self.rng.uniform(0.0, 0.12)))

    def _saccade(self, start: float, yaw: float, pitch: float) -> float:
        c = self.config
        yaw = float(np.clip(yaw * self.scale, -c.max_yaw_deg, c.max_yaw_deg))
        pitch = float(np.clip(pitch * self.scale, -c.max_pitch_deg, c.max_pitch_deg))
        amplitude = math.hypot(yaw - self._yaw, pitch - self._pitch)
        if amplitude < 0.5:
            return start
        s = Saccade(start, saccade_duration_s(amplitude), self._yaw, self._pitch, yaw, pitch)
        self.saccades.append(s)
        self._yaw, self._pitch = yaw, pitch
        return start + s.duration_s

    def advance(self, speaking: np.ndarray) -> None:
        """Consider the next ``len(speaking)`` frames (speech activity 0..1)."""
        c = self.config
        for i in range(len(speaking)):
            now = (self.frame + i) / self.fps
            while self._onsets and self._onsets[0][0] <= now + 1e-9:
                self._apply_onset(self._onsets.pop(0)[1], now)
            t = now + 1.0 / self.fps
            while self._next_s < t and self.scale > 0:
                start = self._next_s
                speak = float(speaking[i])
                if self._returning:
                    end = self._saccade(start, float(self.rng.normal(0, 0.8)), float(self.rng.normal(0, 0.5)))
                    self._averted = self._returning = False
                else:
                    aversion = speak * c.speaking_aversion + (1 - speak) * c.listening_aversion
                    # from an averted fixation: move on to another averted point (speakers) or return
                    stay_away = speak * 0.35 + (1 - speak) * 0.1
                    if self.rng.uniform() < (aversion if not self._averted else stay_away):
                        k = self.rng.choice(len(_DIRECTIONS), p=np.array([d[2] for d in _DIRECTIONS]))
                        amplitude = float(self.rng.uniform(4.0, 15.0))
                        end = self._saccade(start, _DIRECTIONS[k][0] * amplitude, _DIRECTIONS[k][1] * amplitude * 0.7)
                        self._averted = True
                    else:
                        end = self._saccade(start, float(self.rng.normal(0, 0.8)), float(self.rng.normal(0, 0.5)))
                        self._averted = False
                median = speak * c.speaking_fixation_s + (1 - speak) * c.listening_fixation_s
                hold = max(0.25, float(self.rng.lognormal(math.log(median), 0.45)))
                self._next_s = end + hold
        self.frame += len(speaking)


def schedule_gaze(
    duration_s: float,
    rng: np.random.Generator,
    *,
    speaking: np.ndarray,
    fps: float,
    pause_onsets_s: np.ndarray,
    config: GazeConfig | None = None,
    scale: float = 1.0,
) -> list[Saccade]:
    """Saccades of a whole line (the :class:`GazeScheduler` run over every frame), ending within it."""
    scheduler = GazeScheduler(rng, fps, config, scale)
    for onset in pause_onsets_s:
        scheduler.pause_onset(float(onset))
    scheduler.advance(speaking)
    return [s for s in scheduler.saccades if s.start_s + s.duration_s <= duration_s]


def gaze_angles(
    saccades: list[Saccade], n_frames: int, fps: float, first_frame: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch in degrees for frames first_frame ..: held between saccades, minimum-jerk during them."""
    t = (first_frame + np.arange(n_frames)) / fps
    if not saccades:
        return np.zeros(n_frames), np.zeros(n_frames)
    first = len(saccades) - 1  # earlier saccades than the last one begun by t[0] do not matter here
    while first > 0 and saccades[first].start_s > t[0]:
        first -= 1
    saccades = saccades[first:]
    last = saccades[-1]
    if len(saccades) == 1 and last.start_s <= t[0] and (float(t[0]) - last.start_s) / last.duration_s >= 1.0:
        # holding the fixation the last saccade reached: the same arithmetic as below at u = 1, in scalars
        return (np.full(n_frames, last.yaw0 + (last.yaw1 - last.yaw0) * 1.0),
                np.full(n_frames, last.pitch0 + (last.pitch1 - last.pitch0) * 1.0))
    start = np.array([s.start_s for s in saccades])
    dur = np.array([s.duration_s for s in saccades])
    y0, y1 = np.array([s.yaw0 for s in saccades]), np.array([s.yaw1 for s in saccades])
    p0, p1 = np.array([s.pitch0 for s in saccades]), np.array([s.pitch1 for s in saccades])
    k = np.searchsorted(start, t, side="right") - 1  # the latest saccade that has begun
    began = k >= 0
    k = np.maximum(k, 0)
    u = _unit((t - start[k]) / dur[k])
    shape = u**3 * (10.0 - 15.0 * u + 6.0 * u**2)
    yaw = np.where(began, y0[k] + (y1[k] - y0[k]) * shape, 0.0)
    pitch = np.where(began, p0[k] + (p1[k] - p0[k]) * shape, 0.0)
    return yaw, pitch


def _unit(x: np.ndarray) -> np.ndarray:
    """``np.clip(x, 0, 1)`` for the small arrays of a stream (np.clip's dispatch costs more than the work)."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def apply_gaze(values: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, config: GazeConfig | None = None) -> None:
    """Write eye rotations, eyeLook* and lid following into ``values`` (frames x CHANNELS)."""
    config = config or GazeConfig()
    left = _unit(yaw / LOOK_FULL_DEG)  # looking toward the character's left
    right = _unit(-yaw / LOOK_FULL_DEG)
    up = _unit(pitch / LOOK_FULL_DEG)
    down = _unit(-pitch / LOOK_FULL_DEG)
    values[:, _GAZE_COLUMNS] = np.stack([yaw, yaw, pitch, pitch, left, left, right, right, up, up, down, down], axis=1)
    values[:, _LIDS] = _unit(values[:, _LIDS] + (config.lid_follow * _unit(-pitch / 15.0))[:, None])
    values[:, _WIDE] = _unit(values[:, _WIDE] + (0.5 * config.lid_follow * _unit(pitch / 15.0))[:, None])
