"""The internal channel set every pipeline stage writes: ARKit-52 blendshapes, eye and head rotations.

Stages address channels by name through :data:`INDEX`; nobody hard-codes a column number.
Rig profiles (:mod:`mien.rig`) map this set to a target rig.

Eye rotations are in degrees, for bone-driven eyes: yaw > 0 turns the eye toward the
character's own left, pitch > 0 turns it up. Head rotations (the head/neck bone, or a glTF head
node) are in degrees with the same conventions, plus roll > 0 tilting the top of the head toward
the character's own left; applied in the order yaw, pitch, roll (intrinsic). Blendshape channels
are in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ARKIT52", "EYE_ROTATION", "HEAD_ROTATION", "CHANNELS", "INDEX", "MOUTH", "EYE_ROTATION_LIMITS_DEG",
           "HEAD_ROTATION_LIMITS_DEG"]

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

HEAD_ROTATION: tuple[str, ...] = ("headYaw_deg", "headPitch_deg", "headRoll_deg")
"""Head rotation in degrees (yaw > 0: face toward the character's left; pitch > 0: chin up; roll > 0: top of
the head toward the character's left)."""

HEAD_ROTATION_LIMITS_DEG: Mapping[str, tuple[float, float]] = {
    "headYaw_deg": (-45.0, 45.0),
    "headPitch_deg": (-30.0, 30.0),
    "headRoll_deg": (-30.0, 30.0),
}
"""Limits of the head rotation (well inside the neck's range; speech motion stays within a few degrees)."""

CHANNELS: tuple[str, ...] = ARKIT52 + EYE_ROTATION + HEAD_ROTATION
"""Every internal channel, in track column order."""

INDEX: Mapping[str, int] = {name: i for i, name in enumerate(CHANNELS)}
"""Column of each internal channel."""

MOUTH: tuple[str, ...] = tuple(
    n for n in ARKIT52 if n.startswith(("jaw", "mouth", "tongue", "cheekPuff"))
)
"""Channels driven by speech articulation (the lip-sync part of the face)."""
