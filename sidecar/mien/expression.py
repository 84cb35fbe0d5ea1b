"""Stage 4, expression: emotion -> the face around the mouth, composed with speech.

Prototypes are FACS action units (Ekman & Friesen 1978; the EMFACS emotion predictions as
summarised in Ekman, Friesen & Hager, FACS Investigator's Guide, 2002):

=========  ==============================================  ===============================
emotion    action units (intensity 0..1)                   notes
=========  ==============================================  ===============================
happy      AU6 .75, AU12 .85, AU25 .15                     Duchenne smile
sad        AU1 .8, AU4 .5, AU15 .75, AU17 .3, AU43 .15     lids droop a little
surprise   AU1 .85, AU2 .85, AU5 .8, AU26 .45
fear       AU1 .75, AU2 .5, AU4 .55, AU5 .85, AU7 .3,
           AU20 .65, AU26 .3
angry      AU4 .9, AU5 .4, AU7 .65, AU23 .7, AU24 .3, AU9 .15
disgust    AU9 .85, AU10 .45, AU15 .5, AU16 .35, AU4 .3
=========  ==============================================  ===============================

Action units -> ARKit-52 (both sides where the blendshape is sided):

====  ========================  =============================================
AU    FACS name                 ARKit blendshapes (gain)
====  ========================  =============================================
1     inner brow raiser         browInnerUp 1.0
2     outer brow raiser         browOuterUp{L,R} 1.0
4     brow lowerer              browDown{L,R} 1.0
5     upper lid raiser          eyeWide{L,R} 1.0
6     cheek raiser              cheekSquint{L,R} 1.0, eyeSquint{L,R} 0.35
7     lid tightener             eyeSquint{L,R} 1.0
9     nose wrinkler             noseSneer{L,R} 1.0
10    upper lip raiser          mouthUpperUp{L,R} 0.6 (speech-gated)
12    lip corner puller         mouthSmile{L,R} 1.0
14    dimpler                   mouthDimple{L,R} 1.0
15    lip corner depressor      mouthFrown{L,R} 1.0
16    lower lip depressor       mouthLowerDown{L,R} 0.6 (speech-gated)
17    chin raiser               mouthShrugLower 1.0
20    lip stretcher             mouthStretch{L,R} 1.0
23    lip tightener             mouthPress{L,R} 0.6, mouthRollLower/Upper 0.2
24    lip pressor               mouthPress{L,R} 1.0
25    lips part                 (speech-gated lip opening)
26    jaw drop                  jawOpen 0.35 (speech-gated)
43    eyes closed (droop)       eyeBlink{L,R} 1.0
====  ========================  =============================================

Composition keeps articulation (EMOTE's lesson: speech content drives the mouth at high
frequency, emotion the whole face at low frequency, and they must not fight):

* Channels that open the lips (jawOpen, mouthUpperUp, mouthLowerDown) get an emotional
  contribution only while the character speaks and never during a bilabial closure: at rest
  and on p/b/m the lips stay together under every emotion.
* Smile and stretch yield to lip rounding (o/u stay round under a smile).
* Emotion changes articulation itself (:func:`speech_style`): anger speaks with a larger jaw
  and pressed lips, sadness with a smaller jaw.

Dynamics: expression eases in over ``onset_ms`` at the start of a line, follows keyframe
changes through an attack/release filter (apex held in between), relaxes to
``offset_level`` during the trailing silence; emphasis events (pitch accents, stressed
syllables) raise the brows with an amplitude scaled by arousal; slow seeded micro-motion
keeps a held expression alive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .channels import ARKIT52, INDEX
from .emotion import EMOTIONS, VAD_ANCHORS
from .prosody import Emphasis

__all__ = ["PROTOTYPES", "AU_TO_ARKIT", "ExpressionConfig", "MicroMotion", "micro_amount", "speech_style",
           "expression_curves"]

PROTOTYPES: Mapping[str, Mapping[int, float]] = {
    "neutral": {},
    "happy": {6: 0.75, 12: 0.85, 25: 0.15},
    "sad": {1: 0.8, 4: 0.5, 15: 0.75, 17: 0.3, 43: 0.15},
    "surprise": {1: 0.85, 2: 0.85, 5: 0.8, 26: 0.45},
    "fear": {1: 0.75, 2: 0.5, 4: 0.55, 5: 0.85, 7: 0.3, 20: 0.65, 26: 0.3},
    "angry": {4: 0.9, 5: 0.4, 7: 0.65, 23: 0.7, 24: 0.3, 9: 0.15},
    "disgust": {9: 0.85, 10: 0.45, 15: 0.5, 16: 0.35, 4: 0.3},
}
"""FACS action-unit prototype of each emotion (AU number -> intensity at full emotion)."""


def _both(stem: str, gain: float) -> dict[str, float]:
    return {f"{stem}Left": gain, f"{stem}Right": gain}


AU_TO_ARKIT: Mapping[int, Mapping[str, float]] = {
    1: {"browInnerUp": 1.0},
    2: _both("browOuterUp", 1.0),
    4: _both("browDown", 1.0),
    5: _both("eyeWide", 1.0),
    6: {**_both("cheekSquint", 1.0), **_both("eyeSquint", 0.35)},
    7: _both("eyeSquint", 1.0),
    9: _both("noseSneer", 1.0),
    10: _both("mouthUpperUp", 0.6),
    12: _both("mouthSmile", 1.0),
    14: _both("mouthDimple", 1.0),
    15: _both("mouthFrown", 1.0),
    16: _both("mouthLowerDown", 0.6),
    17: {"mouthShrugLower": 1.0},
    20: _both("mouthStretch", 1.0),
    23: {**_both("mouthPress", 0.6), "mouthRollLower": 0.2, "mouthRollUpper": 0.2},
    24: _both("mouthPress", 1.0),
    25: _both("mouthLowerDown", 0.2),
    26: {"jawOpen": 0.35},
    43: _both("eyeBlink", 1.0),
}
"""ARKit blendshapes (and gains) of each action unit."""

_LIP_OPENING = frozenset(
    ["jawOpen", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight"]
)
_YIELDS_TO_ROUNDING = frozenset(["mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight"])
_MICRO = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight",
          "cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft", "eyeSquintRight",
          "mouthSmileLeft", "mouthSmileRight", "noseSneerLeft", "noseSneerRight")
_MICRO_COLUMNS = [INDEX[name] for name in _MICRO]
_MICRO_INDEX = np.array(_MICRO_COLUMNS)

# EMOTE-style speech style per emotion: (jaw gain, lip gain, lip press, lip spread).
_STYLE: Mapping[str, tuple[float, float, float, float]] = {
    "neutral": (1.0, 1.0, 0.0, 0.0),
    "happy": (1.1, 1.05, 0.0, 0.2),
    "sad": (0.72, 0.85, 0.0, 0.0),
    "surprise": (1.2, 1.1, 0.0, 0.0),
    "fear": (1.05, 1.0, 0.1, 0.2),
    "angry": (1.3, 1.1, 0.35, 0.1),
    "disgust": (0.9, 0.95, 0.15, 0.05),
}


@dataclass(frozen=True)
class ExpressionConfig:
    """Expression dynamics (validated by :mod:`mien.config`)."""

    onset_ms: float = 350.0
    """Ease-in of the expression at the start of a line."""
    start_level: float = 0.55
    """Fraction of the expression already present at the first frame."""
    attack_ms: float = 180.0
    """Time constant with which expression follows a rising emotion."""
    release_ms: float = 450.0
    """Time constant with which it follows a falling emotion."""
    offset_level: float = 0.7
    """Fraction kept during the trailing silence of a line."""
    emphasis_brow: float = 0.35
    """Brow raise of a full-strength emphasis at neutral arousal."""
    micro_amplitude: float = 0.04
    """Amplitude of the slow micro-variation of held expressions."""


def _au_matrix() -> np.ndarray:
    """(emotions, channels) ARKit values of each prototype at full intensity."""
    out = np.zeros((len(EMOTIONS), len(INDEX)))
    for e, aus in PROTOTYPES.items():
        for au, level in aus.items():
            for name, gain in AU_TO_ARKIT[au].items():
                out[EMOTIONS.index(e), INDEX[name]] += level * gain
    return np.clip(out, 0.0, 1.0)


_PROTOTYPE_MATRIX = _au_matrix()
_AROUSAL = np.array([VAD_ANCHORS[e][1] for e in EMOTIONS])


def speech_style(weights: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (jaw gain, lip gain, press, spread) for category weights (frames x EMOTIONS)."""
    table = np.array([_STYLE[e] for e in EMOTIONS])
    base = np.array(_STYLE["neutral"])
    style = base + scale * (weights @ table - base)
    return style[:, 0], style[:, 1], style[:, 2], style[:, 3]


def _follow(target: np.ndarray, fps: float, attack_s: float, release_s: float, start: np.ndarray) -> np.ndarray:
    """First-order attack/release follower, row by row over frames."""
    out = np.empty_like(target)
    a_up = 1.0 - np.exp(-1.0 / (fps * max(attack_s, 1e-3)))
    a_down = 1.0 - np.exp(-1.0 / (fps * max(release_s, 1e-3)))
    state = start.astype(np.float64)
    for i in range(len(target)):
        rate = np.where(target[i] > state, a_up, a_down)
        state = state + rate * (target[i] - state)
        out[i] = state
    return out


class MicroMotion:
    """Slow seeded variation so a held expression is never frozen: three sinusoids (0.07-0.4 Hz) with
    seeded frequencies and phases per channel, evaluated at any frame range (offline or streamed)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._freqs = rng.uniform(0.07, 0.4, size=(len(_MICRO), 3))
        self._phases = rng.uniform(0.0, 2.0 * np.pi, size=(len(_MICRO), 3))
        self._omega = (2.0 * np.pi * self._freqs)[:, :, None]  # rad/s, as apply() used to compute per call
        self._phase = self._phases[:, :, None]

    def apply(self, face: np.ndarray, first_frame: int, fps: float, amount: np.ndarray) -> None:
        """Add the variation to ``face`` (frames x CHANNELS), ``amount`` per frame; channels that are
        barely active move half as much."""
        t = (first_frame + np.arange(len(face))) / fps
        waves = np.sin(self._omega * t + self._phase)
        noise = waves.sum(axis=1).T / 3.0  # (frames, len(_MICRO)) in [-1, 1]
        active = face[:, _MICRO_INDEX]
        face[:, _MICRO_INDEX] = active + amount[:, None] * noise * np.where(active > 0.02, 1.0, 0.5)


def micro_amount(weights: np.ndarray, config: ExpressionConfig, scale: float) -> np.ndarray:
    """Micro-motion amplitude per frame: more with more expression, a small floor when neutral."""
    return np.asarray(config.micro_amplitude * scale * (0.35 + np.minimum(weights[:, 1:].sum(axis=1), 1.0)))


def expression_curves(
    values: np.ndarray,
    weights: np.ndarray,
    *,
    fps: float,
    speaking: np.ndarray,
    closed: np.ndarray,
    rounding: np.ndarray,
    emphasis: Sequence[Emphasis] = (),
    rng: np.random.Generator,
    config: ExpressionConfig | None = None,
    scale: float = 1.0,
    micro_scale: float = 1.0,
    trailing_silence_from_s: float | None = None,
) -> None:
    """Add the emotional expression to ``values`` (frames x CHANNELS, already holding speech).

    ``weights``: per-frame category weights; ``speaking``: 0..1 speech activity; ``closed``:
    bilabial closure 0..1; ``rounding``: lip rounding 0..1 (pucker/funnel).
    """
    config = config or ExpressionConfig()
    n = len(values)
    if n == 0:
        return
    level = weights.copy()
    # dynamics: ease in at the start, follow changes with attack/release, relax in the trailing silence
    ramp = np.clip(np.arange(n) / max(1.0, fps * config.onset_ms / 1000.0), 0.0, 1.0)
    ease = config.start_level + (1.0 - config.start_level) * (3 * ramp**2 - 2 * ramp**3)
    level[:, 1:] *= ease[:, None]
    if trailing_silence_from_s is not None:
        tail = np.arange(n) / fps >= trailing_silence_from_s
        level[tail, 1:] *= config.offset_level
    level = _follow(level, fps, config.attack_ms / 1000.0, config.release_ms / 1000.0, start=level[0])
    face = scale * (level @ _PROTOTYPE_MATRIX)  # (frames, channels)

    # lip-opening contributions only while speaking and never on a closure
    gate = np.clip(speaking, 0.0, 1.0) * (1.0 - np.clip(closed, 0.0, 1.0))
    for name in _LIP_OPENING:
        face[:, INDEX[name]] *= gate
    for name in _YIELDS_TO_ROUNDING:
        face[:, INDEX[name]] *= 1.0 - 0.7 * np.clip(rounding, 0.0, 1.0)

    # emphasis: brow raises (AU1 + AU2) scaled by arousal, 80 ms rise, 350 ms decay
    arousal = level @ _AROUSAL  # -1..1
    brow_gain = config.emphasis_brow * np.clip(1.0 + 0.8 * arousal, 0.3, 1.8) * scale
    t = np.arange(n) / fps
    pulse = np.zeros(n)
    for e in emphasis:
        dt = t - e.time_s
        # (the decay is evaluated where it is used only: long before an event it would overflow)
        shape = np.where(dt < 0, np.exp(-((dt / 0.08) ** 2)), np.exp(-np.maximum(dt, 0.0) / 0.35))
        pulse = np.maximum(pulse, e.strength * shape)
    raise_ = pulse * brow_gain
    face[:, INDEX["browInnerUp"]] += raise_
    face[:, INDEX["browOuterUpLeft"]] += 0.8 * raise_
    face[:, INDEX["browOuterUpRight"]] += 0.8 * raise_

    # micro-motion: slow, seeded, scaled by how much expression there is (plus a small floor)
    MicroMotion(rng).apply(face, 0, fps, micro_amount(level, config, micro_scale))

    blend = slice(0, len(ARKIT52))  # eye rotations (degrees) are not expression's business
    values[:, blend] = np.clip(values[:, blend] + face[:, blend], 0.0, 1.0)
