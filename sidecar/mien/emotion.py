"""Emotion input: categories, intensities, valence-arousal-dominance, and keyframes over a line.

Every way a caller can state an emotion ends up as one thing: a per-frame matrix of category
weights (frames x EMOTIONS, the ``neutral`` column unused by expression), built by
:func:`emotion_weights`. The expression stage only ever sees that matrix.

VAD anchors: Russell & Mehrabian (1977), "Evidence for a three-factor theory of emotions",
J. Research in Personality 11, as used by Wen et al. (2021) for the PELD emotion transition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InvalidArgument

__all__ = [
    "EMOTIONS",
    "EMOTION_ALIASES",
    "VAD_ANCHORS",
    "Emotion",
    "EmotionKeyframe",
    "canonical_emotion",
    "emotion_from_vad",
    "vad_of",
    "emotion_weights",
    "parse_emotion",
]

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
"""The seven categories (EmoFace / MEAD / PELD), in the column order of every weight matrix."""

EMOTION_ALIASES: Mapping[str, str] = {
    "joy": "happy",
    "happiness": "happy",
    "anger": "angry",
    "sadness": "sad",
    "fearful": "fear",
    "scared": "fear",
    "disgusted": "disgust",
    "surprised": "surprise",
    "calm": "neutral",
}

VAD_ANCHORS: Mapping[str, tuple[float, float, float]] = {
    "angry": (-0.51, 0.59, 0.25),
    "disgust": (-0.60, 0.35, 0.11),
    "fear": (-0.62, 0.82, -0.43),
    "happy": (0.81, 0.51, 0.46),
    "neutral": (0.0, 0.0, 0.0),
    "sad": (-0.63, -0.27, -0.33),
    "surprise": (0.40, 0.67, -0.13),
}
"""Russell & Mehrabian (1977) valence/pleasure, arousal, dominance of each category, in [-1, 1]."""

_ANCHOR_MATRIX = np.array([VAD_ANCHORS[e] for e in EMOTIONS], dtype=np.float64)
# Width (VAD units) of the Gaussian kernel that shares a VAD direction among categories. The two
# closest anchors (angry, disgust) are 0.29 apart: at 0.15 each anchor still maps >= 75 % to
# its own category.
_VAD_KERNEL_WIDTH = 0.15


def canonical_emotion(name: str, field: str = "emotion") -> str:
    """Return the canonical category for ``name`` (case-insensitive, aliases accepted)."""
    key = name.strip().lower()
    key = EMOTION_ALIASES.get(key, key)
    if key not in EMOTIONS:
        raise InvalidArgument(
            f"{field}: unknown emotion {name!r}; accepted: {', '.join(EMOTIONS)} "
            f"(aliases: {', '.join(sorted(EMOTION_ALIASES))})",
            field=field,
        )
    return key


def _check_unit(value: float, field: str, lo: float = 0.0, hi: float = 1.0) -> float:
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidArgument(f"{field} = {value!r} is out of range; accepted: a number from {lo:g} to {hi:g}",
                              field=field)
    return float(value)


@dataclass(frozen=True)
class Emotion:
    """A blend of emotion categories, each weight in [0, 1]; the rest is neutral.

    ``Emotion.of("angry", 0.8)`` is the common case. Weights of non-neutral categories are the
    amount of that expression; they may sum to more than 1 (e.g. happy + surprise), in which
    case expression normalises their sum to 1.
    """

    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean: dict[str, float] = {}
        for name, w in self.weights.items():
            key = canonical_emotion(name, "emotion.weights")
            clean[key] = _check_unit(float(w), f"emotion.weights[{name}]")
        object.__setattr__(self, "weights", clean)

    @classmethod
    def of(cls, category: str, intensity: float = 1.0) -> Emotion:
        cat = canonical_emotion(category, "emotion.category")
        intensity = _check_unit(intensity, "emotion.intensity")
        return cls({} if cat == "neutral" else {cat: intensity})

    @classmethod
    def neutral(cls) -> Emotion:
        return cls({})

    def vector(self) -> np.ndarray:
        """Weights in EMOTIONS order; ``neutral`` = 1 - the (capped) sum of the others."""
        v = np.array([self.weights.get(e, 0.0) for e in EMOTIONS], dtype=np.float64)
        total = v[1:].sum()
        if total > 1.0:
            v[1:] /= total
            total = 1.0
        v[0] = 1.0 - total
        return v

    @property
    def dominant(self) -> str:
        v = self.vector()
        return EMOTIONS[int(np.argmax(v))]


def emotion_from_vad(valence: float, arousal: float, dominance: float) -> Emotion:
    """Map a VAD point (each in [-1, 1]) to a category blend using the Russell-Mehrabian anchors.

    For each non-neutral anchor a, the point's position along that anchor's ray is
    s = clip(v.a / |a|^2, 0, 1) (0 at neutral, 1 at the anchor) and its distance from the ray is
    r = |v - s a|. Categories share the point by a Gaussian kernel exp(-r^2 / 2w^2), and each
    weight is share * s. So the origin is neutral, an anchor is mostly its own category, and a
    point half-way to an anchor is that category at intensity 0.5.
    """
    point = np.array(
        [
            _check_unit(valence, "emotion.vad.valence", -1.0, 1.0),
            _check_unit(arousal, "emotion.vad.arousal", -1.0, 1.0),
            _check_unit(dominance, "emotion.vad.dominance", -1.0, 1.0),
        ]
    )
    anchors = _ANCHOR_MATRIX[1:]
    along = np.clip(anchors @ point / (anchors**2).sum(axis=1), 0.0, 1.0)
    r2 = ((point - along[:, None] * anchors) ** 2).sum(axis=1)
    aff = np.exp(-(r2 - r2.min()) / (2.0 * _VAD_KERNEL_WIDTH**2))
    weight = aff / aff.sum() * along
    return Emotion({e: float(w) for e, w in zip(EMOTIONS[1:], weight, strict=True) if w > 1e-4})


def vad_of(emotion: Emotion) -> tuple[float, float, float]:
    """The VAD point of a blend: the weight-averaged anchors (neutral contributes the origin)."""
    v = emotion.vector() @ _ANCHOR_MATRIX
    return (float(v[0]), float(v[1]), float(v[2]))


@dataclass(frozen=True)
class EmotionKeyframe:
    """The emotion at ``time_s`` seconds from the start of the line; linear in between."""

    time_s: float
    emotion: Emotion


def _check_keyframes(keyframes: Sequence[EmotionKeyframe], duration_s: float) -> None:
    previous = -math.inf
    for i, kf in enumerate(keyframes):
        f = f"emotion.keyframes[{i}].time_s"
        if not math.isfinite(kf.time_s) or kf.time_s < 0.0 or kf.time_s > duration_s + 1e-6:
            raise InvalidArgument(
                f"{f} = {kf.time_s!r} is outside the line; accepted: 0 <= time_s <= {duration_s:.3f} s",
                field=f,
            )
        if kf.time_s <= previous:
            raise InvalidArgument(
                f"{f} = {kf.time_s!r} is not after the previous keyframe ({previous!r}); "
                "accepted: keyframes in strictly increasing time order",
                field=f,
            )
        previous = kf.time_s


def emotion_weights(
    emotion: Emotion | Sequence[EmotionKeyframe], n_frames: int, fps: float
) -> np.ndarray:
    """Per-frame category weights, shape (n_frames, len(EMOTIONS)), rows summing to 1.

    A single :class:`Emotion` is constant over the line; keyframes are interpolated linearly and
    held before the first and after the last.
    """
    if isinstance(emotion, Emotion):
        return np.tile(emotion.vector(), (n_frames, 1))
    keyframes = list(emotion)
    if not keyframes:
        return np.tile(Emotion.neutral().vector(), (n_frames, 1))
    duration_s = n_frames / fps
    _check_keyframes(keyframes, duration_s)
    times = np.array([k.time_s for k in keyframes])
    values = np.stack([k.emotion.vector() for k in keyframes])
    t = np.arange(n_frames) / fps
    out = np.empty((n_frames, len(EMOTIONS)))
    for j in range(len(EMOTIONS)):
        out[:, j] = np.interp(t, times, values[:, j])
    return out


def parse_emotion(text: str, field: str = "emotion") -> Emotion | tuple[EmotionKeyframe, ...]:
    """The emotion syntax of ``mien animate --emotion`` and of bake manifests.

    ``angry`` | ``angry:0.7`` | ``vad:V,A,D`` | keyframes ``0:neutral;1.5:angry:0.8;3:sad`` (times in
    seconds, >= 0 and increasing). Errors start with ``field`` (e.g. ``--emotion``) and show the syntax.
    """
    text = text.strip()
    if ";" in text or (text[:1].isdigit() and ":" in text):
        frames: list[EmotionKeyframe] = []
        for i, part in enumerate(p for p in text.split(";") if p.strip()):
            time_text, _, value = part.strip().partition(":")
            try:
                time_s = float(time_text)
            except ValueError:
                raise InvalidArgument(f"{field} keyframe {i}: {time_text!r} is not a time in seconds; "
                                      "format TIME:EMOTION[:INTENSITY];...", field=field) from None
            previous = frames[-1].time_s if frames else -math.inf
            if not math.isfinite(time_s) or time_s < 0 or time_s <= previous:
                raise InvalidArgument(f"{field} keyframe {i} at {time_s:g} s: keyframe times must be >= 0 and "
                                      "increasing, e.g. 0:neutral;1.5:angry:0.8", field=field)
            frames.append(EmotionKeyframe(time_s, _one_emotion(value, field)))
        return tuple(frames)
    return _one_emotion(text, field)


def _one_emotion(text: str, field: str) -> Emotion:
    if text.lower().startswith("vad:"):
        try:
            v, a, d = (float(x) for x in text[4:].split(","))
        except ValueError:
            raise InvalidArgument(f"{field} {text!r}: vad needs three numbers, e.g. vad:0.5,0.3,-0.1",
                                  field=field) from None
        return emotion_from_vad(v, a, d)
    name, _, level = text.partition(":")
    try:
        intensity = float(level) if level else 1.0
    except ValueError:
        raise InvalidArgument(f"{field} {text!r}: intensity {level!r} is not a number 0..1", field=field) from None
    return Emotion.of(name, intensity)
