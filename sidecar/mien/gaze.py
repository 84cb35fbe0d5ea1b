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

__all__ = ["Saccade", "GazeConfig", "schedule_gaze", "gaze_angles", "saccade_duration_s", "apply_gaze"]

_DIRECTIONS = (  # (yaw sign, pitch sign, probability)
    (1.0, 0.0, 0.3), (-1.0, 0.0, 0.3), (0.7, -0.7, 0.12), (-0.7, -0.7, 0.12), (0.0, -1.0, 0.06),
    (0.7, 0.7, 0.04), (-0.7, 0.7, 0.04), (0.0, 1.0, 0.02),
)
LOOK_FULL_DEG = 30.0


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
    """Saccades over the line (the eyes start at the listener, 0/0)."""
    config = config or GazeConfig()
    n = len(speaking)
    yaw = pitch = 0.0
    averted = False
    saccades: list[Saccade] = []
    pauses = sorted(float(p) for p in pause_onsets_s)
    t = float(rng.uniform(0.2, 0.8))

    def add(start: float, y1: float, p1: float) -> float:
        nonlocal yaw, pitch
        y1 = float(np.clip(y1 * scale, -config.max_yaw_deg, config.max_yaw_deg))
        p1 = float(np.clip(p1 * scale, -config.max_pitch_deg, config.max_pitch_deg))
        amp = math.hypot(y1 - yaw, p1 - pitch)
        if amp < 0.5 or start + saccade_duration_s(amp) > duration_s:
            return start
        s = Saccade(start, saccade_duration_s(amp), yaw, pitch, y1, p1)
        saccades.append(s)
        yaw, pitch = y1, p1
        return start + s.duration_s

    while t < duration_s and scale > 0:
        speak = float(speaking[min(n - 1, int(t * fps))]) if n else 0.0
        median = speak * config.speaking_fixation_s + (1 - speak) * config.listening_fixation_s
        hold = max(0.25, float(rng.lognormal(math.log(median), 0.45)))
        nxt = t + hold
        # return to the listener at a phrase end that falls inside this fixation
        ends = [p for p in pauses if t + 0.25 <= p < nxt]
        if averted and ends:
            end = add(ends[0] + float(rng.uniform(0.0, 0.12)), float(rng.normal(0, 0.8)), float(rng.normal(0, 0.5)))
            averted = False
            t = max(end + 0.25, ends[0] + 0.25)
            continue
        aversion = speak * config.speaking_aversion + (1 - speak) * config.listening_aversion
        go_away = rng.uniform() < (aversion if not averted else 0.35)
        if go_away:
            k = rng.choice(len(_DIRECTIONS), p=np.array([d[2] for d in _DIRECTIONS]))
            amp = float(rng.uniform(4.0, 15.0))
            end = add(t, _DIRECTIONS[k][0] * amp, _DIRECTIONS[k][1] * amp * 0.7)
            averted = True
        else:
            end = add(t, float(rng.normal(0, 0.8)), float(rng.normal(0, 0.5)))
            averted = False
        nxt = max(nxt, end + 0.25)
        t = nxt
    return saccades


def gaze_angles(saccades: list[Saccade], n_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch in degrees per frame: held between saccades, minimum-jerk during them."""
    t = np.arange(n_frames) / fps
    if not saccades:
        return np.zeros(n_frames), np.zeros(n_frames)
    start = np.array([s.start_s for s in saccades])
    dur = np.array([s.duration_s for s in saccades])
    y0, y1 = np.array([s.yaw0 for s in saccades]), np.array([s.yaw1 for s in saccades])
    p0, p1 = np.array([s.pitch0 for s in saccades]), np.array([s.pitch1 for s in saccades])
    k = np.searchsorted(start, t, side="right") - 1  # the latest saccade that has begun
    began = k >= 0
    k = np.clip(k, 0, None)
    u = np.clip((t - start[k]) / dur[k], 0.0, 1.0)
    shape = u**3 * (10.0 - 15.0 * u + 6.0 * u**2)
    yaw = np.where(began, y0[k] + (y1[k] - y0[k]) * shape, 0.0)
    pitch = np.where(began, p0[k] + (p1[k] - p0[k]) * shape, 0.0)
    return yaw, pitch


def apply_gaze(values: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, config: GazeConfig | None = None) -> None:
    """Write eye rotations, eyeLook* and lid following into ``values`` (frames x CHANNELS)."""
    config = config or GazeConfig()
    for side in ("Left", "Right"):
        values[:, INDEX[f"eyeYaw{side}_deg"]] = yaw
        values[:, INDEX[f"eyePitch{side}_deg"]] = pitch
    left = np.clip(yaw / LOOK_FULL_DEG, 0.0, 1.0)  # looking toward the character's left
    right = np.clip(-yaw / LOOK_FULL_DEG, 0.0, 1.0)
    up = np.clip(pitch / LOOK_FULL_DEG, 0.0, 1.0)
    down = np.clip(-pitch / LOOK_FULL_DEG, 0.0, 1.0)
    values[:, INDEX["eyeLookOutLeft"]] = left
    values[:, INDEX["eyeLookInRight"]] = left
    values[:, INDEX["eyeLookInLeft"]] = right
    values[:, INDEX["eyeLookOutRight"]] = right
    for side in ("Left", "Right"):
        values[:, INDEX[f"eyeLookUp{side}"]] = up
        values[:, INDEX[f"eyeLookDown{side}"]] = down
        lid = INDEX[f"eyeBlink{side}"]
        values[:, lid] = np.clip(values[:, lid] + config.lid_follow * np.clip(-pitch / 15.0, 0.0, 1.0), 0.0, 1.0)
        wide = INDEX[f"eyeWide{side}"]
        values[:, wide] = np.clip(values[:, wide] + 0.5 * config.lid_follow * np.clip(pitch / 15.0, 0.0, 1.0), 0, 1)
