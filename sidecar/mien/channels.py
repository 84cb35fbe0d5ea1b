"""The internal channel set every pipeline stage writes: ARKit-52 blendshapes plus eye rotations.

Stages address channels by name through :data:`INDEX`; nobody hard-codes a column number.
Rig profiles (:mod:`mien.rig`) map this set to a target rig.

Eye rotations are in degrees, for bone-driven eyes: yaw > 0 turns the eye toward the
character's own left, pitch > 0 turns it up. Blendshape channels are in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ARKIT52", "EYE_ROTATION", "CHANNELS", "INDEX", "MOUTH", "EYE_ROTATION_LIMITS_DEG"]

ARKIT52: tuple[str, ...] = tuple(
    """eyeBlinkLeft eyeLookDownLeft eyeLookInLeft eyeLookOutLeft eyeLookUpLeft eyeSquintLeft eyeWideLeft
eyeBlinkRight eyeLookDownRight eyeLookInRight eyeLookOutRight eyeLookUpRight eyeSquintRight eyeWideRight
jawForward jawLeft jawRight jawOpen mouthClose mouthFunnel mouthPucker mouthLeft mouthRight mouthSmileLeft
mouthSmileRight mouthFrownLeft mouthFrownRight mouthDimpleLeft mouthDimpleRight mouthStretchLeft mouthStretchRight
mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper mouthPressLeft mouthPressRight mouthLowerDownLeft
mouthLowerDownRight mouthUpperUpLeft mouthUpperUpRight browDownLeft browDownRight browInnerUp browOuterUpLeft
browOuterUpRight cheekPuff cheekSquintLeft cheekSquintRight noseSneerLeft noseSneerRight tongueOut""".split()
)
"""Apple ARKit blendshape names, verbatim (case matters), in Live Link Face order."""

EYE_ROTATION: tuple[str, ...] = ("eyeYawLeft_deg", "eyePitchLeft_deg", "eyeYawRight_deg", "eyePitchRight_deg")
"""Eye rotations in degrees (yaw > 0: toward the character's left; pitch > 0: up)."""

EYE_ROTATION_LIMITS_DEG: Mapping[str, tuple[float, float]] = {
    "eyeYawLeft_deg": (-35.0, 35.0),
    "eyePitchLeft_deg": (-30.0, 30.0),
    "eyeYawRight_deg": (-35.0, 35.0),
    "eyePitchRight_deg": (-30.0, 30.0),
}
"""Physiological limits used to clamp eye rotations."""

CHANNELS: tuple[str, ...] = ARKIT52 + EYE_ROTATION
"""Every internal channel, in track column order."""

INDEX: Mapping[str, int] = {name: i for i, name in enumerate(CHANNELS)}
"""Column of each internal channel."""

MOUTH: tuple[str, ...] = tuple(
    n for n in ARKIT52 if n.startswith(("jaw", "mouth", "tongue", "cheekPuff"))
)
"""Channels driven by speech articulation (the lip-sync part of the face)."""
