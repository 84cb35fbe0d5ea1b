"""VAD point -> emotion category and intensity, and the point that realises a chosen category.

Category of a VAD point: the dominant category of :func:`mien.emotion.emotion_from_vad`, the blend
the face shows for that point (Russell & Mehrabian 1977 anchors shared by a Gaussian kernel), with
``neutral`` holding what the other categories leave (``Emotion.dominant``). So a point near the
origin, or only part-way toward an anchor, is neutral; a point more than about half-way to an
anchor is that anchor's category; every anchor is its own category. (The plain nearest anchor would
call a resting anxious temperament "angry".) Every stored emotion point of an NPC is classified this
way (after decay, for a new persona, after a reset).

When the response classifier of the transition head (which also sees the preceding category and
the context) selects a non-neutral category, the engine makes the NPC's point show it:
:func:`snap_to_category` moves the transition's VAD point, if it is not of that category, toward
the category's anchor until it lies inside the category's region with a margin (:data:`SNAP_DEPTH`).
A neutral choice moves nothing, so a reactive personality's larger excursion is never capped.

Intensity: how far the point has travelled from neutral toward the category's anchor ``a``,
``s = clip(v · a / |a|², 0, 1)`` — the projection :func:`mien.emotion.emotion_from_vad` uses, so a
point half-way to the anger anchor is anger at intensity 0.5. ``neutral`` has intensity 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..emotion import _VAD_KERNEL_WIDTH, EMOTIONS, VAD_ANCHORS, Emotion

__all__ = [
    "SNAP_DEPTH",
    "Classification",
    "category_of",
    "classify_vad",
    "intensity_toward",
    "nearest_anchor",
    "snap_to_category",
]

_ANCHORS = np.array([VAD_ANCHORS[e] for e in EMOTIONS], dtype=np.float64)
_NEUTRAL = EMOTIONS.index("neutral")
SNAP_DEPTH = 0.25
"""How deep inside the selected category's region :func:`snap_to_category` puts a response point
that was outside it: this fraction of the way from where the segment toward the anchor enters the
region to the anchor. Not learned; a design constant (see ``docs/emotion_state.md`` §2.3)."""
_SAMPLES = (65, 33)  # points per refinement round of snap_to_category (to 1/2048 of the segment)


@dataclass(frozen=True)
class Classification:
    """A category with its intensity."""

    category: str
    intensity: float

    @property
    def emotion(self) -> Emotion:
        """As an :class:`Emotion` (``Emotion.of(category, intensity)``)."""
        return Emotion.of(self.category, self.intensity)


def intensity_toward(vad: np.ndarray, category: str) -> float:
    """``clip(v · a / |a|², 0, 1)`` for the category's anchor ``a``; 0 for neutral."""
    index = EMOTIONS.index(category)
    if index == _NEUTRAL:
        return 0.0
    anchor = _ANCHORS[index]
    return float(np.clip(np.asarray(vad, dtype=np.float64) @ anchor / (anchor @ anchor), 0.0, 1.0))


def nearest_anchor(vad: np.ndarray) -> str:
    """The category whose Russell-Mehrabian anchor is closest (Euclidean) to ``vad``."""
    d2 = ((_ANCHORS - np.asarray(vad, dtype=np.float64)) ** 2).sum(axis=1)
    return EMOTIONS[int(np.argmin(d2))]


def _category_indices(points: np.ndarray) -> np.ndarray:
    """Vectorised ``EMOTIONS.index(emotion_from_vad(*p).dominant)`` for (n, 3) points in [-1, 1].

    The same arithmetic as :func:`mien.emotion.emotion_from_vad` (kernel width included) followed by
    ``Emotion.dominant``; a test checks that they agree.
    """
    anchors = _ANCHORS[1:]
    along = np.clip(np.einsum("nd,ad->na", points, anchors) / (anchors**2).sum(axis=1), 0.0, 1.0)  # (n, 6)
    r2 = ((points[:, None, :] - along[:, :, None] * anchors[None, :, :]) ** 2).sum(axis=2)
    aff = np.exp(-(r2 - r2.min(axis=1, keepdims=True)) / (2.0 * _VAD_KERNEL_WIDTH**2))
    weight = aff / aff.sum(axis=1, keepdims=True) * along
    weight = np.where(weight > 1e-4, weight, 0.0)  # emotion_from_vad drops weights <= 1e-4
    full = np.concatenate([1.0 - weight.sum(axis=1, keepdims=True), weight], axis=1)
    return np.asarray(full.argmax(axis=1))


def category_of(vad: np.ndarray) -> str:
    """The dominant category of ``emotion_from_vad(vad)`` (neutral = 1 - the other weights)."""
    v = np.clip(np.asarray(vad, dtype=np.float64), -1.0, 1.0)
    return EMOTIONS[int(_category_indices(v[None, :])[0])]


def classify_vad(vad: np.ndarray) -> Classification:
    """Category (:func:`category_of`) and intensity of a VAD point."""
    category = category_of(vad)
    return Classification(category, intensity_toward(vad, category))


def snap_to_category(
    vad: np.ndarray, category: str, depth: float = SNAP_DEPTH, toward: np.ndarray | None = None
) -> np.ndarray:
    """``vad`` if it is of ``category``; else moved toward the category's anchor into its region.

    On the segment ``p + λ (a - p)`` from the point ``p`` to the category's anchor ``a`` (which is
    itself of that category), let λ* be where the segment first enters the region (found by two
    rounds of sampling, to 1/2048 of the segment). The result is the point at ``λ* + depth (1 - λ*)``:
    the margin keeps the selected category while the emotion relaxes toward the mood (a point left on
    the boundary would flip back at the first decay step). A point already of the category is not
    moved, so the transition (and the personality's effect on it) is kept whenever the classifier
    agrees with where the point is.

    ``toward``: move toward this point instead of the anchor (it must itself be of ``category``;
    otherwise the anchor is used), e.g. the anchor with the valence kept on the side the transition
    moved to, so that showing a category never undoes the direction of a change.
    """
    if not 0.0 <= depth < 1.0:
        raise ValueError(f"depth must be in [0, 1), got {depth}")
    p = np.clip(np.asarray(vad, dtype=np.float64), -1.0, 1.0)
    index = EMOTIONS.index(category)
    a = _ANCHORS[index]
    if _category_indices(p[None, :])[0] == index:
        return p.copy()
    if toward is not None:
        t = np.clip(np.asarray(toward, dtype=np.float64), -1.0, 1.0)
        if _category_indices(t[None, :])[0] == index:
            a = t
    lo, hi = 0.0, 1.0  # category_of(segment(hi)) == category; segment(lo) is not
    for samples in _SAMPLES:  # sample the bracket, keep the first sub-interval that enters the category
        lams = np.linspace(lo, hi, samples)
        inside = _category_indices(p[None, :] + lams[:, None] * (a - p)[None, :]) == index
        first = int(np.argmax(inside))  # inside[-1] is True
        lo, hi = float(lams[max(first - 1, 0)]), float(lams[first])
    target = hi + depth * (1.0 - hi)
    # The region need not be convex: step further toward the anchor if needed.
    steps = np.concatenate([[target], np.linspace(target, 1.0, 9)[1:]])
    inside = _category_indices(p[None, :] + steps[:, None] * (a - p)[None, :]) == index
    if not inside.any():
        return a.copy()
    return np.asarray(p + float(steps[int(np.argmax(inside))]) * (a - p))
