"""Big Five personality (OCEAN, each 0..1) -> temperament PAD (pleasure, arousal, dominance).

Mehrabian (1996), "Pleasure-arousal-dominance: A general framework for describing and measuring
individual differences in temperament", Current Psychology 14(4), derived the PAD temperament of
the Big Five factors; Gebhard (2005), "ALMA - A Layered Model of Affect", AAMAS, inverted them
into the form used by affective agents::

    P = 0.21 E + 0.59 A + 0.19 S
    A = 0.15 O + 0.30 A - 0.57 S
    D = 0.25 O + 0.17 C + 0.60 E - 0.32 A

where the right-hand ``A`` is agreeableness, ``S`` is emotional stability and every trait is centred to
[-1, 1]. We take OCEAN scores in [0, 1] (as PELD and most questionnaires' normalised scores), centre
them with ``x_c = 2 x - 1`` and use ``S = -N_c`` (stability is the opposite pole of neuroticism).

The PELD reference code (``personality_to_vad`` in preke/PELD ``src/model.py``) plugs the raw 0..1
neuroticism score in place of ``S`` and does not centre: that makes a *more* neurotic speaker *more*
pleasant and *less* aroused, the reverse of Mehrabian's finding that neuroticism is low pleasure and
high arousability. We follow Mehrabian/ALMA, because the runtime needs the documented direction
(an anxious NPC is more arousable) and PELD's six personalities cannot tell the two apart.

The result is clipped to [-1, 1] per axis (arousal can reach 1.02 and dominance 1.34 at the corners).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InvalidArgument

__all__ = ["OCEAN_TRAITS", "PAD_AXES", "check_ocean", "temperament_pad", "temperament_pad_batch"]

OCEAN_TRAITS: tuple[str, ...] = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
"""The Big Five, in the order of every OCEAN vector (O, C, E, A, N)."""

PAD_AXES: tuple[str, ...] = ("pleasure", "arousal", "dominance")
"""Temperament axes; they share the VAD space of emotions (valence = pleasure)."""

_O = OCEAN_TRAITS.index("openness")
_C = OCEAN_TRAITS.index("conscientiousness")
_E = OCEAN_TRAITS.index("extraversion")
_A = OCEAN_TRAITS.index("agreeableness")
_N = OCEAN_TRAITS.index("neuroticism")

# Rows: P, A, D. Columns: O, C, E, A, S (stability). Gebhard (2005) Table 1 / Mehrabian (1996).
_MEHRABIAN = np.array(
    [
        [0.00, 0.00, 0.21, 0.59, 0.19],
        [0.15, 0.00, 0.00, 0.30, -0.57],
        [0.25, 0.17, 0.60, -0.32, 0.00],
    ],
    dtype=np.float64,
)


def check_ocean(ocean: Sequence[float], field: str = "ocean") -> tuple[float, float, float, float, float]:
    """Validate an OCEAN vector: exactly 5 finite numbers, each in [0, 1]."""
    if isinstance(ocean, (str, bytes)):
        raise InvalidArgument(f"{field} must be 5 numbers (O, C, E, A, N) in [0, 1], got a string", field=field)
    try:
        values = [float(x) for x in ocean]
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{field} must be 5 numbers (O, C, E, A, N) in [0, 1]: {exc}", field=field) from exc
    if len(values) != len(OCEAN_TRAITS):
        raise InvalidArgument(
            f"{field} must have exactly {len(OCEAN_TRAITS)} values ({', '.join(OCEAN_TRAITS)}), got {len(values)}",
            field=field,
        )
    for name, value in zip(OCEAN_TRAITS, values, strict=True):
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidArgument(f"{field}.{name} must be a number in [0, 1], got {value!r}", field=field)
    return (values[0], values[1], values[2], values[3], values[4])


def temperament_pad_batch(ocean: np.ndarray) -> np.ndarray:
    """Vectorised :func:`temperament_pad` for an (n, 5) array of OCEAN in [0, 1] (no validation)."""
    centred = 2.0 * np.asarray(ocean, dtype=np.float64) - 1.0
    stability = -centred[:, _N]
    features = np.stack([centred[:, _O], centred[:, _C], centred[:, _E], centred[:, _A], stability], axis=1)
    return np.clip(features @ _MEHRABIAN.T, -1.0, 1.0)


def temperament_pad(ocean: Sequence[float]) -> tuple[float, float, float]:
    """Temperament (pleasure, arousal, dominance) in [-1, 1] of an OCEAN vector in [0, 1]."""
    values = check_ocean(ocean)
    pad = temperament_pad_batch(np.array([values]))[0]
    return (float(pad[0]), float(pad[1]), float(pad[2]))
