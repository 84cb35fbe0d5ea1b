"""Rig profiles: shipped profiles, their mappings' semantics, ranges, speed and YAML validation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mien.channels import ARKIT52, CHANNELS, EYE_ROTATION, EYE_ROTATION_LIMITS_DEG, HEAD_ROTATION, INDEX
from mien.errors import InvalidArgument, NotFound
from mien.rig import RigProfile, list_rigs, load_rig, parse_rig, shipped_rig_names
from mien.track import PhoneSegment, Track, TrackInfo

SHIPPED = ("arkit52", "metahuman", "oculus15", "vrm")

# The 174 face-board controls EmoFace drives, in its column order: a copy of EmoFace's
# dataset/valid_attr_names.txt (first published list). CI has no ../shared, so the list lives here.
METAHUMAN_NAMES: tuple[str, ...] = tuple(
    """CTRL_C_eye-translateX CTRL_C_eye-translateY CTRL_C_eye_parallelLook-translateY CTRL_C_jaw-translateX
CTRL_C_jaw-translateY CTRL_C_jaw_fwdBack-translateY CTRL_C_jaw_openExtreme-translateY
CTRL_C_mouth-translateX CTRL_C_mouth-translateY CTRL_C_mouth_lipShiftD-translateY
CTRL_C_mouth_lipShiftU-translateY CTRL_C_mouth_stickyD-translateY CTRL_C_mouth_stickyU-translateY
CTRL_C_neck_swallow-translateY CTRL_C_teethD-translateX CTRL_C_teethD-translateY
CTRL_C_teethU-translateX CTRL_C_teethU-translateY CTRL_C_teeth_fwdBackD-translateY
CTRL_C_teeth_fwdBackU-translateY CTRL_C_tongue-translateX CTRL_C_tongue-translateY
CTRL_C_tongue_inOut-translateY CTRL_C_tongue_narrowWide-translateY CTRL_C_tongue_press-translateY
CTRL_C_tongue_roll-translateX CTRL_C_tongue_roll-translateY CTRL_C_tongue_tip-translateX
CTRL_C_tongue_tip-translateY CTRL_L_brow_down-translateY CTRL_L_brow_lateral-translateY
CTRL_L_brow_raiseIn-translateY CTRL_L_brow_raiseOut-translateY CTRL_L_ear_up-translateY
CTRL_L_eye-translateX CTRL_L_eye-translateY CTRL_L_eye_blink-translateY CTRL_L_eye_cheekRaise-translateY
CTRL_L_eye_eyelidD-translateY CTRL_L_eye_eyelidU-translateY CTRL_L_eye_faceScrunch-translateY
CTRL_L_eye_lidPress-translateY CTRL_L_eye_pupil-translateY CTRL_L_eye_squintInner-translateY
CTRL_L_eyelashes_tweakerIn-translateY CTRL_L_eyelashes_tweakerOut-translateY
CTRL_L_jaw_ChinRaiseD-translateY CTRL_L_jaw_ChinRaiseU-translateY CTRL_L_jaw_chinCompress-translateY
CTRL_L_jaw_clench-translateY CTRL_L_mouth_corner-translateX CTRL_L_mouth_corner-translateY
CTRL_L_mouth_cornerDepress-translateY CTRL_L_mouth_cornerPull-translateY
CTRL_L_mouth_cornerSharpnessD-translateY CTRL_L_mouth_cornerSharpnessU-translateY
CTRL_L_mouth_dimple-translateY CTRL_L_mouth_funnelD-translateY CTRL_L_mouth_funnelU-translateY
CTRL_L_mouth_lipBiteD-translateY CTRL_L_mouth_lipBiteU-translateY CTRL_L_mouth_lipSticky-translateY
CTRL_L_mouth_lipsBlow-translateY CTRL_L_mouth_lipsPressU-translateY CTRL_L_mouth_lipsRollD-translateY
CTRL_L_mouth_lipsRollU-translateY CTRL_L_mouth_lipsTogetherD-translateY
CTRL_L_mouth_lipsTogetherU-translateY CTRL_L_mouth_lipsTowardsTeethD-translateY
CTRL_L_mouth_lipsTowardsTeethU-translateY CTRL_L_mouth_lowerLipDepress-translateY
CTRL_L_mouth_pressD-translateY CTRL_L_mouth_pressU-translateY CTRL_L_mouth_purseD-translateY
CTRL_L_mouth_purseU-translateY CTRL_L_mouth_pushPullD-translateY CTRL_L_mouth_pushPullU-translateY
CTRL_L_mouth_sharpCornerPull-translateY CTRL_L_mouth_stickyInnerD-translateY
CTRL_L_mouth_stickyInnerU-translateY CTRL_L_mouth_stickyOuterD-translateY
CTRL_L_mouth_stickyOuterU-translateY CTRL_L_mouth_stretch-translateY
CTRL_L_mouth_stretchLipsClose-translateY CTRL_L_mouth_suckBlow-translateY
CTRL_L_mouth_thicknessD-translateY CTRL_L_mouth_thicknessU-translateY CTRL_L_mouth_tightenD-translateY
CTRL_L_mouth_tightenU-translateY CTRL_L_mouth_towardsD-translateY CTRL_L_mouth_towardsU-translateY
CTRL_L_mouth_upperLipRaise-translateY CTRL_L_neck_mastoidContract-translateY
CTRL_L_neck_stretch-translateY CTRL_L_nose-translateX CTRL_L_nose-translateY
CTRL_L_nose_nasolabialDeepen-translateY CTRL_L_nose_wrinkleUpper-translateY CTRL_R_brow_down-translateY
CTRL_R_brow_lateral-translateY CTRL_R_brow_raiseIn-translateY CTRL_R_brow_raiseOut-translateY
CTRL_R_ear_up-translateY CTRL_R_eye-translateX CTRL_R_eye-translateY CTRL_R_eye_blink-translateY
CTRL_R_eye_cheekRaise-translateY CTRL_R_eye_eyelidD-translateY CTRL_R_eye_eyelidU-translateY
CTRL_R_eye_faceScrunch-translateY CTRL_R_eye_lidPress-translateY CTRL_R_eye_pupil-translateY
CTRL_R_eye_squintInner-translateY CTRL_R_eyelashes_tweakerIn-translateY
CTRL_R_eyelashes_tweakerOut-translateY CTRL_R_jaw_ChinRaiseD-translateY CTRL_R_jaw_ChinRaiseU-translateY
CTRL_R_jaw_chinCompress-translateY CTRL_R_jaw_clench-translateY CTRL_R_mouth_corner-translateX
CTRL_R_mouth_corner-translateY CTRL_R_mouth_cornerDepress-translateY CTRL_R_mouth_cornerPull-translateY
CTRL_R_mouth_cornerSharpnessD-translateY CTRL_R_mouth_cornerSharpnessU-translateY
CTRL_R_mouth_dimple-translateY CTRL_R_mouth_funnelD-translateY CTRL_R_mouth_funnelU-translateY
CTRL_R_mouth_lipBiteD-translateY CTRL_R_mouth_lipBiteU-translateY CTRL_R_mouth_lipSticky-translateY
CTRL_R_mouth_lipsBlow-translateY CTRL_R_mouth_lipsPressU-translateY CTRL_R_mouth_lipsRollD-translateY
CTRL_R_mouth_lipsRollU-translateY CTRL_R_mouth_lipsTogetherD-translateY
CTRL_R_mouth_lipsTogetherU-translateY CTRL_R_mouth_lipsTowardsTeethD-translateY
CTRL_R_mouth_lipsTowardsTeethU-translateY CTRL_R_mouth_lowerLipDepress-translateY
CTRL_R_mouth_pressD-translateY CTRL_R_mouth_pressU-translateY CTRL_R_mouth_purseD-translateY
CTRL_R_mouth_purseU-translateY CTRL_R_mouth_pushPullD-translateY CTRL_R_mouth_pushPullU-translateY
CTRL_R_mouth_sharpCornerPull-translateY CTRL_R_mouth_stickyInnerD-translateY
CTRL_R_mouth_stickyInnerU-translateY CTRL_R_mouth_stickyOuterD-translateY
CTRL_R_mouth_stickyOuterU-translateY CTRL_R_mouth_stretch-translateY
CTRL_R_mouth_stretchLipsClose-translateY CTRL_R_mouth_suckBlow-translateY
CTRL_R_mouth_thicknessD-translateY CTRL_R_mouth_thicknessU-translateY CTRL_R_mouth_tightenD-translateY
CTRL_R_mouth_tightenU-translateY CTRL_R_mouth_towardsD-translateY CTRL_R_mouth_towardsU-translateY
CTRL_R_mouth_upperLipRaise-translateY CTRL_R_neck_mastoidContract-translateY
CTRL_R_neck_stretch-translateY CTRL_R_nose-translateX CTRL_R_nose-translateY
CTRL_R_nose_nasolabialDeepen-translateY CTRL_R_nose_wrinkleUpper-translateY CTRL_lookAtSwitch-translateY
CTRL_neckCorrectivesMultiplyerD-translateY CTRL_neckCorrectivesMultiplyerM-translateY
CTRL_neckCorrectivesMultiplyerU-translateY CTRL_neck_digastricUpDown-translateY
CTRL_neck_throatExhaleInhale-translateY CTRL_neck_throatUpDown-translateY""".split()
)

RIGS_README = Path(__file__).resolve().parents[1] / "sidecar" / "mien" / "data" / "rigs" / "README.md"


def frame(**values: float) -> np.ndarray:
    """One internal frame (1, len(CHANNELS)), zero except the named channels."""
    out = np.zeros((1, len(CHANNELS)), dtype=np.float32)
    for name, value in values.items():
        out[0, INDEX[name]] = value
    return out


def out(profile: RigProfile, values: np.ndarray) -> dict[str, float]:
    row = profile.retarget(values)[0]
    return {name: float(row[j]) for j, name in enumerate(profile.channel_names)}


def valid_internal(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Internal values inside their valid ranges: blendshapes [0, 1], eye rotations within limits."""
    values = rng.random((frames, len(CHANNELS)), dtype=np.float32)
    for name in EYE_ROTATION:
        lo, hi = EYE_ROTATION_LIMITS_DEG[name]
        values[:, INDEX[name]] = (lo + (hi - lo) * rng.random(frames)).astype(np.float32)
    return values


# ---------------------------------------------------------------------------------------------
# Shipped profiles
# ---------------------------------------------------------------------------------------------


def test_every_shipped_profile_loads_and_is_cached() -> None:
    assert shipped_rig_names() == SHIPPED
    rigs = list_rigs()
    assert [r.name for r in rigs] == list(SHIPPED)
    for rig in rigs:
        assert load_rig(rig.name) is rig  # cached
        assert rig.version and rig.description
        assert len(set(rig.channel_names)) == len(rig.channel_names)
        described = rig.describe()
        assert described["name"] == rig.name
        assert [c["name"] for c in described["channels"]] == list(rig.channel_names)


def test_metahuman_has_exactly_the_174_emoface_controls_in_order() -> None:
    assert len(METAHUMAN_NAMES) == 174 and len(set(METAHUMAN_NAMES)) == 174
    # the face board's 174 controls, then the head-rotation curves the MetaHuman face AnimBP reads
    assert load_rig("metahuman").channel_names == (*METAHUMAN_NAMES, "HeadYaw", "HeadPitch", "HeadRoll")


def test_metahuman_controls_have_their_board_ranges() -> None:
    rig = load_rig("metahuman")
    clamps = {ch.name: ch.clamp for ch in rig.channels}
    assert set(clamps.values()) <= {(0.0, 1.0), (-1.0, 1.0)}
    assert clamps["CTRL_C_jaw-translateY"] == (0.0, 1.0)
    assert clamps["CTRL_C_jaw-translateX"] == (-1.0, 1.0)
    assert clamps["CTRL_C_jaw_fwdBack-translateY"] == (-1.0, 1.0)
    for side in "LR":
        assert clamps[f"CTRL_{side}_eye-translateX"] == (-1.0, 1.0)
        assert clamps[f"CTRL_{side}_eye-translateY"] == (-1.0, 1.0)
        assert clamps[f"CTRL_{side}_eye_blink-translateY"] == (-1.0, 1.0)
        assert clamps[f"CTRL_{side}_mouth_lipsTogetherU-translateY"] == (0.0, 1.0)
        assert clamps[f"CTRL_{side}_mouth_suckBlow-translateY"] == (-1.0, 1.0)


def test_vrm_and_oculus_channel_sets() -> None:
    assert set(load_rig("vrm").channel_names) == {
        "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad",
        "relaxed", "surprised", "lookUp", "lookDown", "lookLeft", "lookRight", *HEAD_ROTATION,
    }
    assert load_rig("oculus15").channel_names == (
        "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou", *HEAD_ROTATION,
    )


def test_rest_pose() -> None:
    rest = np.zeros((1, len(CHANNELS)), dtype=np.float32)
    for name in ("arkit52", "metahuman", "vrm"):
        assert not load_rig(name).retarget(rest).any(), name
    visemes = out(load_rig("oculus15"), rest)
    assert visemes["sil"] == 1.0
    assert all(v == 0.0 for k, v in visemes.items() if k != "sil")


# ---------------------------------------------------------------------------------------------
# Ranges: every output inside its clamp, whatever comes in
# ---------------------------------------------------------------------------------------------


def assert_within_clamps(rig: RigProfile, values: np.ndarray) -> None:
    result = rig.retarget(values)
    assert result.dtype == np.float32 and result.shape == (values.shape[0], len(rig.channels))
    lo, hi = rig.clamps[:, 0], rig.clamps[:, 1]
    bad = np.nonzero((result < lo) | (result > hi))
    assert bad[0].size == 0, [rig.channel_names[j] for j in bad[1][:5]]


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float32, st.tuples(st.integers(1, 8), st.just(len(CHANNELS))),
                  elements=st.floats(-(2.0**100), 2.0**100, width=32)),
)
def test_outputs_stay_within_clamps_for_any_input(values: np.ndarray) -> None:
    for rig in list_rigs():
        assert_within_clamps(rig, values)


@pytest.mark.parametrize("value", [0.0, 1.0, -1.0, 1e6, -1e6, 90.0, -90.0])
def test_outputs_stay_within_clamps_for_extreme_constant_inputs(value: float) -> None:
    values = np.full((2, len(CHANNELS)), value, dtype=np.float32)
    values[1, ::2] = -value  # alternating signs as well
    for rig in list_rigs():
        assert_within_clamps(rig, values)


def test_outputs_stay_within_clamps_for_valid_random_curves() -> None:
    values = valid_internal(np.random.default_rng(7), 500)
    for rig in list_rigs():
        assert_within_clamps(rig, values)


def test_identity_profile_is_exact() -> None:
    rig = load_rig("arkit52")
    assert rig.channel_names == CHANNELS
    values = valid_internal(np.random.default_rng(3), 400)
    values[0, :52] = 0.0
    values[1, :52] = 1.0
    result = rig.retarget(values)
    assert np.array_equal(result, values)
    # Out of range is clamped, not passed through.
    wild = frame(jawOpen=1.7, eyeBlinkLeft=-0.2, eyeYawLeft_deg=80.0)
    o = out(rig, wild)
    assert (o["jawOpen"], o["eyeBlinkLeft"], o["eyeYawLeft_deg"]) == (1.0, 0.0, 35.0)


# ---------------------------------------------------------------------------------------------
# Mapping semantics (these fail if a gain has the wrong sign or a channel the wrong source)
# ---------------------------------------------------------------------------------------------


def test_closed_lips_with_open_jaw_close_the_lips() -> None:
    closed = frame(jawOpen=0.4, mouthClose=0.4)
    opened = frame(jawOpen=0.4)
    mh_closed, mh_open = out(load_rig("metahuman"), closed), out(load_rig("metahuman"), opened)
    together = [f"CTRL_{s}_mouth_lipsTogether{u}-translateY" for s in "LR" for u in "UD"]
    for name in together:
        assert mh_closed[name] >= 0.9, name
        assert mh_open[name] == 0.0, name
    assert mh_closed["CTRL_C_jaw-translateY"] == pytest.approx(0.4)
    ocu_closed, ocu_open = out(load_rig("oculus15"), closed), out(load_rig("oculus15"), opened)
    assert ocu_closed["PP"] >= 0.9
    assert ocu_closed["aa"] <= 0.1 and ocu_open["aa"] >= 0.5
    assert ocu_open["PP"] == 0.0
    vrm_closed, vrm_open = out(load_rig("vrm"), closed), out(load_rig("vrm"), opened)
    assert vrm_closed["aa"] <= 0.1 and vrm_open["aa"] >= 0.5


def test_metahuman_gaze_blink_and_jaw_signs() -> None:
    mh = load_rig("metahuman")
    o = out(mh, frame(eyeYawLeft_deg=20.0, eyeYawRight_deg=20.0, eyePitchLeft_deg=-17.5,
                      eyePitchRight_deg=-17.5))
    for side in "LR":
        assert o[f"CTRL_{side}_eye-translateX"] == pytest.approx(0.5)  # toward the character's left
        assert o[f"CTRL_{side}_eye-translateY"] == pytest.approx(-0.5, abs=1e-4)  # down
    assert o["CTRL_C_eye-translateX"] == 0.0  # gaze is per eye; the both-eyes control stays at rest
    o = out(mh, frame(eyeBlinkLeft=1.0))
    assert o["CTRL_L_eye_blink-translateY"] == 1.0 and o["CTRL_R_eye_blink-translateY"] == 0.0
    o = out(mh, frame(eyeWideRight=1.0))
    assert o["CTRL_R_eye_blink-translateY"] < 0.0 and o["CTRL_R_eye_eyelidU-translateY"] < 0.0
    o = out(mh, frame(jawOpen=0.6, jawForward=0.5, jawLeft=0.3))
    assert o["CTRL_C_jaw-translateY"] == pytest.approx(0.6)
    assert o["CTRL_C_jaw_fwdBack-translateY"] == pytest.approx(-0.5)
    assert o["CTRL_C_jaw-translateX"] == pytest.approx(-0.3)
    o = out(mh, frame(mouthSmileLeft=0.8, browInnerUp=0.5, cheekPuff=1.0, tongueOut=0.7))
    assert o["CTRL_L_mouth_cornerPull-translateY"] == pytest.approx(0.8)
    assert o["CTRL_R_mouth_cornerPull-translateY"] == 0.0
    assert o["CTRL_L_brow_raiseIn-translateY"] == o["CTRL_R_brow_raiseIn-translateY"] == 0.5
    assert o["CTRL_L_mouth_suckBlow-translateY"] == 1.0
    assert o["CTRL_C_tongue_inOut-translateY"] == pytest.approx(0.7)


def test_every_arkit_shape_reaches_the_metahuman_board() -> None:
    """Each expressive internal channel moves at least one face-board control."""
    mh = load_rig("metahuman")
    ignored = {f"eyeLook{d}{s}" for d in ("Down", "In", "Out", "Up") for s in ("Left", "Right")}
    for name in CHANNELS:
        if name in ignored:
            continue  # gaze comes from the eye rotation channels (no double counting)
        assert mh.matrix[INDEX[name]].any(), name


def test_vrm_expressions() -> None:
    vrm = load_rig("vrm")
    assert out(vrm, frame(eyeBlinkLeft=1.0))["blinkLeft"] == 1.0
    o = out(vrm, frame(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
    assert (o["blinkLeft"], o["blinkRight"], o["blink"]) == (1.0, 1.0, 0.0)
    o = out(vrm, frame(eyeYawLeft_deg=35.0, eyeYawRight_deg=35.0, eyePitchLeft_deg=15.0,
                       eyePitchRight_deg=15.0))
    assert o["lookLeft"] == pytest.approx(1.0, abs=1e-4) and o["lookRight"] == 0.0
    assert o["lookUp"] == pytest.approx(0.5, abs=1e-4) and o["lookDown"] == 0.0
    smile = out(vrm, frame(mouthSmileLeft=1.0, mouthSmileRight=1.0, cheekSquintLeft=1.0,
                           cheekSquintRight=1.0))
    assert smile["happy"] == 1.0 and smile["relaxed"] == 0.0 and smile["sad"] == 0.0
    assert out(vrm, frame(mouthSmileLeft=0.6, mouthSmileRight=0.6))["relaxed"] > 0.3
    assert out(vrm, frame(browDownLeft=1.0, browDownRight=1.0, noseSneerLeft=1.0,
                          noseSneerRight=1.0))["angry"] == 1.0
    sad = out(vrm, frame(browInnerUp=1.0, mouthFrownLeft=0.8, mouthFrownRight=0.8))
    assert sad["sad"] >= 0.9 and sad["happy"] == 0.0
    surprise = out(vrm, frame(browOuterUpLeft=1.0, browOuterUpRight=1.0, browInnerUp=1.0,
                              eyeWideLeft=1.0, eyeWideRight=1.0, jawOpen=0.3))
    assert surprise["surprised"] >= 0.9 and surprise["sad"] < 0.5
    assert out(vrm, frame(mouthPucker=0.8))["ou"] >= 0.7
    oh = out(vrm, frame(mouthFunnel=0.7, jawOpen=0.4))
    assert oh["oh"] > oh["aa"] and oh["oh"] > oh["ou"]
    ee = out(vrm, frame(mouthStretchLeft=0.6, mouthStretchRight=0.6, jawOpen=0.25))
    assert ee["ee"] > ee["ih"] and ee["ee"] > ee["oh"]
    ih = out(vrm, frame(mouthStretchLeft=0.6, mouthStretchRight=0.6, jawOpen=0.02))
    assert ih["ih"] >= 0.5


def test_oculus_visemes() -> None:
    ocu = load_rig("oculus15")
    assert out(ocu, frame(tongueOut=0.9))["TH"] >= 0.9
    assert out(ocu, frame(tongueOut=0.9))["sil"] == 0.0
    ff = out(ocu, frame(mouthRollLower=0.8, mouthUpperUpLeft=0.3, mouthUpperUpRight=0.3))
    assert ff["FF"] >= 0.9 and ff["PP"] == 0.0
    ss = out(ocu, frame(mouthStretchLeft=0.8, mouthStretchRight=0.8))
    assert ss["SS"] >= 0.7 and ss["aa"] == 0.0
    ch = out(ocu, frame(mouthFunnel=0.9, mouthUpperUpLeft=0.3, mouthUpperUpRight=0.3))
    assert ch["CH"] >= 0.7
    ou = out(ocu, frame(mouthPucker=0.8))
    assert ou["ou"] >= 0.7 and ou["aa"] == 0.0
    aa = out(ocu, frame(jawOpen=0.7))
    assert aa["aa"] == 1.0 and aa["sil"] == 0.0 and aa["aa"] > aa["DD"] > 0.0


# ---------------------------------------------------------------------------------------------
# apply / retarget contract
# ---------------------------------------------------------------------------------------------


def test_apply_returns_a_track_on_the_rig() -> None:
    values = valid_internal(np.random.default_rng(5), 30)
    phones = (PhoneSegment(0.0, 0.2, "M", "me", "PP"),)
    track = Track(CHANNELS, 30.0, values, phones, TrackInfo(mode="aligned", rig="arkit52"))
    rig = load_rig("metahuman")
    result = rig.apply(track)
    assert result.channel_names == rig.channel_names
    assert result.fps == 30.0 and result.phones == phones
    assert result.info.rig == "metahuman" and result.info.mode == "aligned"
    assert np.array_equal(result.values, rig.retarget(values))


def test_apply_rejects_a_track_not_on_the_internal_channels() -> None:
    track = Track(CHANNELS, 30.0, np.zeros((3, len(CHANNELS)), np.float32))
    retargeted = load_rig("vrm").apply(track)
    with pytest.raises(InvalidArgument, match="internal channel set"):
        load_rig("metahuman").apply(retargeted)


def test_retarget_rejects_bad_shapes_and_non_finite_values() -> None:
    rig = load_rig("vrm")
    with pytest.raises(InvalidArgument, match=rf"\(frames, {len(CHANNELS)}\)"):
        rig.retarget(np.zeros((3, 52), np.float32))
    bad = frame(jawOpen=float("nan"))
    with pytest.raises(InvalidArgument, match="jawOpen"):
        rig.retarget(bad)


def test_retarget_of_a_long_track_keeps_every_frame() -> None:
    """An hour at 60 fps is retargeted whole (its speed is a benchmark: `python bench/bench_speed.py`)."""
    values = valid_internal(np.random.default_rng(11), 60 * 60 * 10)
    rig = load_rig("metahuman")
    result = rig.retarget(values)
    assert result.shape == (36000, 177) and np.isfinite(result).all()
    np.testing.assert_array_equal(result[:600], rig.retarget(values[:600]))


# ---------------------------------------------------------------------------------------------
# Loading user profiles, and errors
# ---------------------------------------------------------------------------------------------

GOOD = """\
name: my_rig
version: "2.1"
description: test rig
defaults: {clamp: [0, 1]}
channels:
  - jawOpen
  - {name: Blink_L, from: eyeBlinkLeft, gain: 0.5}
  - name: MouthOpen
    terms: {jawOpen: 1.0, mouthClose: -1.0}
    clamp: [0, 2]
  - {name: Constant, terms: {}, offset: 0.25}
  - {name: Yaw, from: eyeYawLeft_deg, gain: 0.1, clamp: [-1, 1]}
"""


def test_load_user_profile_from_path(tmp_path: Path) -> None:
    path = tmp_path / "my_rig.yaml"
    path.write_text(GOOD, encoding="utf-8")
    rig = load_rig(str(path))
    assert rig.name == "my_rig" and rig.version == "2.1" and rig.source == str(path)
    o = out(rig, frame(jawOpen=0.8, mouthClose=0.3, eyeBlinkLeft=1.0, eyeYawLeft_deg=-30.0))
    assert o == pytest.approx({"jawOpen": 0.8, "Blink_L": 0.5, "MouthOpen": 0.5, "Constant": 0.25,
                               "Yaw": -1.0})


def test_unknown_rig_name_lists_the_profiles() -> None:
    with pytest.raises(InvalidArgument) as err:
        load_rig("metahumn")
    message = str(err.value)
    assert "metahuman" in message and "arkit52, metahuman, oculus15, vrm" in message
    assert err.value.field == "rig"


def test_paths_can_be_refused_for_remote_callers(tmp_path: Path) -> None:
    path = tmp_path / "my_rig.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_rig(path).name == "my_rig"  # os.PathLike works too
    with pytest.raises(InvalidArgument, match="not accepted here"):
        load_rig(str(path), allow_paths=False)
    with pytest.raises(InvalidArgument, match="not accepted here"):
        load_rig("/etc/passwd", allow_paths=False)
    assert load_rig("vrm", allow_paths=False).name == "vrm"


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        load_rig(str(tmp_path / "nope.yaml"))


BAD_CASES = {
    "unknown top-level key": (GOOD.replace("channels:", "chanels:"), ["'chanels'", "'channels'"]),
    "unknown channel key": (GOOD.replace("gain: 0.5", "gian: 0.5"), ["channels[1] (Blink_L)", "'gian'"]),
    "unknown internal channel": (GOOD.replace("{jawOpen: 1.0, mouthClose", "{jawOpn: 1.0, mouthClose"),
                                 ["channels[2] (MouthOpen)", "'jawOpn'", "did you mean 'jawOpen'"]),
    "unknown from channel": (GOOD.replace("from: eyeBlinkLeft", "from: eyeblinkleft"),
                             ["channels[1] (Blink_L)", "'eyeblinkleft'", "'eyeBlinkLeft'"]),
    "unknown identity channel": (GOOD.replace("  - jawOpen\n", "  - JawOpen\n"),
                                 ["channels[0]", "'JawOpen'"]),
    "duplicate output name": (GOOD.replace("name: Constant", "name: MouthOpen"),
                              ["channels[3] (MouthOpen)", "duplicate output channel 'MouthOpen'",
                               "channels[2]"]),
    "clamp not a pair": (GOOD.replace("clamp: [0, 2]", "clamp: [0]"), ["channels[2] (MouthOpen): clamp",
                                                                       "[lo, hi]"]),
    "clamp reversed": (GOOD.replace("clamp: [0, 2]", "clamp: [2, 0]"), ["MouthOpen", "lo > hi"]),
    "clamp not numbers": (GOOD.replace("clamp: [0, 2]", "clamp: [low, high]"), ["MouthOpen", "clamp lo"]),
    "gain not a number": (GOOD.replace("jawOpen: 1.0, mouthClose", "jawOpen: high, mouthClose"),
                          ["terms.jawOpen", "must be a number"]),
    "gain is a boolean": (GOOD.replace("gain: 0.5", "gain: true"), ["Blink_L", "gain", "number"]),
    "gain not finite": (GOOD.replace("gain: 0.5", "gain: .inf"), ["Blink_L", "finite"]),
    "terms not a mapping": (GOOD.replace("terms: {}", "terms: [jawOpen]"),
                            ["Constant", "terms must be a mapping"]),
    "terms and from": (GOOD.replace("from: eyeBlinkLeft, gain: 0.5", "from: eyeBlinkLeft, terms: {}"),
                       ["Blink_L", "'terms' and 'from'"]),
    "gain without from": (GOOD.replace("terms: {}, offset: 0.25", "terms: {}, gain: 2"),
                          ["Constant", "'gain' is only valid together with 'from'"]),
    "no input at all": (GOOD.replace("{name: Constant, terms: {}, offset: 0.25}", "{name: Constant}"),
                        ["Constant", "no 'terms' and no 'from'"]),
    "channel without name": (GOOD.replace("{name: Blink_L, ", "{"), ["channels[1]", "'name'"]),
    "missing version": (GOOD.replace('version: "2.1"\n', ""), ["missing required key 'version'"]),
    "unquoted version": (GOOD.replace('version: "2.1"', "version: 2.1"), ["version", "Quote it"]),
    "bad profile name": (GOOD.replace("name: my_rig", "name: My Rig"), ["name", "lower-case"]),
    "unsupported format": ("format: 2\n" + GOOD, ["format", "format: 1"]),
    "empty channel list": (GOOD.split("channels:")[0] + "channels: []\n", ["channels", "non-empty list"]),
    "duplicate yaml key": (GOOD.replace("{jawOpen: 1.0, mouthClose: -1.0}", "{jawOpen: 1.0, jawOpen: -1.0}"),
                           ["duplicate key 'jawOpen'"]),
    "invalid yaml": (GOOD.replace("defaults: {clamp: [0, 1]}", "defaults: {clamp: [0, 1]"),
                     ["line", "not valid YAML"]),
    "not a mapping": ("- just\n- a list\n", ["must be a YAML mapping"]),
    "defaults unknown key": (GOOD.replace("defaults: {clamp: [0, 1]}", "defaults: {clmp: [0, 1]}"),
                             ["defaults", "'clmp'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_profiles_are_rejected_with_file_key_and_fix(case: str, tmp_path: Path) -> None:
    text, expected = BAD_CASES[case]
    assert text != GOOD
    path = tmp_path / "custom_rig.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgument) as err:
        load_rig(str(path))
    message = str(err.value)
    assert message.startswith(str(path)), message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert err.value.field == "rig"
    # The same text through parse_rig names the given source.
    with pytest.raises(InvalidArgument, match=re.escape("inline.yaml")):
        parse_rig(text, "inline.yaml")


def test_the_good_profile_parses() -> None:
    assert parse_rig(GOOD, "inline.yaml").channel_names == ("jawOpen", "Blink_L", "MouthOpen",
                                                             "Constant", "Yaw")


# ---------------------------------------------------------------------------------------------
# Documentation stays in step with the profiles
# ---------------------------------------------------------------------------------------------


def test_rigs_readme_documents_every_profile_and_metahuman_control() -> None:
    text = RIGS_README.read_text(encoding="utf-8")
    for name in SHIPPED:
        assert f"`{name}`" in text, name
    for control in METAHUMAN_NAMES:
        assert f"`{control}`" in text, control
    assert set(ARKIT52) <= set(CHANNELS)
