"""OCEAN -> PAD temperament (Mehrabian 1996 / ALMA) and OCEAN validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mien.emotion_state.temperament import OCEAN_TRAITS, check_ocean, temperament_pad
from mien.errors import InvalidArgument

AVERAGE = (0.5, 0.5, 0.5, 0.5, 0.5)
P, A, D = 0, 1, 2


def _with(trait: str, value: float) -> list[float]:
    ocean = list(AVERAGE)
    ocean[OCEAN_TRAITS.index(trait)] = value
    return ocean


def test_average_personality_is_neutral() -> None:
    assert temperament_pad(AVERAGE) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)


def test_equations_hand_computed() -> None:
    # O=.3 C=.7 E=.35 A=.15 N=.65 -> centred O=-.4 C=.4 E=-.3 A=-.7 S=-(.3)
    pad = temperament_pad((0.3, 0.7, 0.35, 0.15, 0.65))
    assert pad[P] == pytest.approx(0.21 * -0.3 + 0.59 * -0.7 + 0.19 * -0.3)
    assert pad[A] == pytest.approx(0.15 * -0.4 + 0.30 * -0.7 - 0.57 * -0.3)
    assert pad[D] == pytest.approx(0.25 * -0.4 + 0.17 * 0.4 + 0.60 * -0.3 - 0.32 * -0.7)


def test_documented_directions() -> None:
    """Neuroticism lowers pleasure and raises arousal (S = -N); extraversion raises P and D."""
    low_n, high_n = temperament_pad(_with("neuroticism", 0.1)), temperament_pad(_with("neuroticism", 0.9))
    assert high_n[P] < low_n[P] and high_n[A] > low_n[A]
    low_e, high_e = temperament_pad(_with("extraversion", 0.1)), temperament_pad(_with("extraversion", 0.9))
    assert high_e[P] > low_e[P] and high_e[D] > low_e[D]
    low_a, high_a = temperament_pad(_with("agreeableness", 0.1)), temperament_pad(_with("agreeableness", 0.9))
    assert high_a[P] > low_a[P] and high_a[D] < low_a[D]


@given(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_range(ocean: list[float]) -> None:
    assert all(-1.0 <= x <= 1.0 for x in temperament_pad(ocean))


@pytest.mark.parametrize(
    "ocean",
    [
        [0.5] * 4,
        [0.5] * 6,
        [0.5, 0.5, 0.5, 0.5, 1.5],
        [0.5, 0.5, -0.1, 0.5, 0.5],
        [0.5, 0.5, math.nan, 0.5, 0.5],
        [0.5, 0.5, math.inf, 0.5, 0.5],
        "abcde",
        [0.5, 0.5, "x", 0.5, 0.5],
        None,
    ],
)
def test_bad_ocean(ocean: object) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_ocean(ocean)  # type: ignore[arg-type]
    assert err.value.field == "ocean"
    assert "[0, 1]" in err.value.message or "5" in err.value.message
