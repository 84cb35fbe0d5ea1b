"""Emotion input, expression recognisability, dynamics, idle tracks and emotion bad input (issue 3)."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from conftest import speech_bytes, transcript
from mien import AnimationOptions, Animator, Emotion, EmotionKeyframe, LineRequest, emotion_from_vad
from mien.channels import ARKIT52, INDEX
from mien.emotion import EMOTIONS, VAD_ANCHORS, canonical_emotion, emotion_weights, vad_of
from mien.errors import InvalidArgument
from mien.expression import AU_TO_ARKIT, PROTOTYPES
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa
from support.lipsync import clips

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FEATURES = [i for i, n in enumerate(ARKIT52) if not n.startswith(("eyeLook", "eyeBlink"))]


def test_categories_aliases_and_intensity() -> None:
    assert canonical_emotion("Joy") == "happy" and canonical_emotion("anger") == "angry"
    assert canonical_emotion("sadness") == "sad"
    e = Emotion.of("angry", 0.6)
    assert e.vector()[EMOTIONS.index("angry")] == pytest.approx(0.6)
    assert e.vector()[EMOTIONS.index("neutral")] == pytest.approx(0.4)
    with pytest.raises(InvalidArgument, match="accepted: neutral, happy, sad, angry, fear, disgust, surprise"):
        Emotion.of("grumpy")
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InvalidArgument, match=r"emotion.intensity = .* accepted: a number from 0 to 1"):
            Emotion.of("happy", bad)


def test_vad_maps_to_the_russell_mehrabian_anchors() -> None:
    for name, anchor in VAD_ANCHORS.items():
        blend = emotion_from_vad(*anchor)
        assert blend.dominant == name
    assert emotion_from_vad(0, 0, 0).weights == {}
    half = emotion_from_vad(*(0.5 * np.array(VAD_ANCHORS["happy"])))
    assert half.weights["happy"] == pytest.approx(0.5, abs=0.05)
    assert vad_of(Emotion.of("sad"))[0] < 0
    with pytest.raises(InvalidArgument, match=r"emotion\.vad\.arousal"):
        emotion_from_vad(0, 1.5, 0)


def test_keyframes_interpolate_and_are_validated() -> None:
    frames = (EmotionKeyframe(0.0, Emotion.of("happy")), EmotionKeyframe(1.0, Emotion.of("angry")))
    w = emotion_weights(frames, 61, 60.0)
    assert w[0, EMOTIONS.index("happy")] == pytest.approx(1.0)
    assert w[30, EMOTIONS.index("happy")] == pytest.approx(0.5)
    assert w[60, EMOTIONS.index("angry")] == pytest.approx(1.0)
    with pytest.raises(InvalidArgument, match=r"keyframes\[1\].time_s .*strictly increasing"):
        emotion_weights((EmotionKeyframe(1.0, Emotion.of("happy")), EmotionKeyframe(0.5, Emotion.of("sad"))), 61, 60)
    with pytest.raises(InvalidArgument, match=r"keyframes\[0\].time_s = 5.0 is outside the line"):
        emotion_weights((EmotionKeyframe(5.0, Emotion.of("happy")),), 61, 60)


def test_every_prototype_is_facs_and_mapped() -> None:
    assert set(PROTOTYPES) == set(EMOTIONS)
    for aus in PROTOTYPES.values():
        for au in aus:
            assert au in AU_TO_ARKIT and all(name in INDEX for name in AU_TO_ARKIT[au])
    assert set(PROTOTYPES["happy"]) >= {6, 12} and set(PROTOTYPES["sad"]) >= {1, 4, 15}
    assert set(PROTOTYPES["surprise"]) >= {1, 2, 5, 26} and set(PROTOTYPES["angry"]) >= {4, 5, 7, 23}
    assert set(PROTOTYPES["fear"]) >= {1, 2, 4, 5, 7, 20, 26} and set(PROTOTYPES["disgust"]) >= {9, 15, 16}


def test_emotion_is_recognisable_on_real_speech(animator: Animator) -> None:
    """Nearest prototype (idle tracks at full intensity) on time-averaged curves of speech at 0.6 and 1.0."""
    protos = {e: animator.animate(LineRequest(idle_duration_s=6, emotion=Emotion.of(e))).values[:, FEATURES].mean(0)
              for e in EMOTIONS}
    hits, total = 0, 0
    for name in clips():
        for emotion in EMOTIONS:
            for intensity in (0.6, 1.0):
                track = animator.animate(LineRequest(audio=_enc(name), transcript=transcript(name),
                                                     emotion=Emotion.of(emotion, intensity)))
                avg = track.values[:, FEATURES].mean(0)
                guess = min(protos, key=lambda k: float(np.sum((avg - protos[k]) ** 2)))
                hits += guess == emotion
                total += 1
    assert total >= 150 and hits / total >= 0.95, hits / total


def _enc(name: str):  # type: ignore[no-untyped-def]
    from mien import EncodedAudio

    return EncodedAudio(speech_bytes(name))


def test_emotion_changes_speech_style(animate) -> None:  # type: ignore[no-untyped-def]
    jaw = {e: float(animate("librivox_0870", emotion=Emotion.of(e)).channel("jawOpen").max()) for e in ("neutral",
                                                                                                      "angry", "sad")}
    assert jaw["angry"] > jaw["neutral"] * 1.1 > jaw["sad"] * 1.2
    press = animate("librivox_0870", emotion=Emotion.of("angry")).channel("mouthPressLeft").mean()
    assert press > animate("librivox_0870").channel("mouthPressLeft").mean() + 0.05


def test_dynamics_onset_emphasis_and_micro_motion(animate) -> None:  # type: ignore[no-untyped-def]
    track = animate("librivox_0870", emotion=Emotion.of("happy", 1.0))
    smile = track.channel("mouthSmileLeft")
    assert smile[0] < smile[int(0.6 * track.fps)]  # onset ramp
    brow = track.channel("browInnerUp")
    assert brow.max() - np.median(brow) > 0.1  # emphasis raises the brows
    idle = Animator().animate(LineRequest(idle_duration_s=10, emotion=Emotion.of("sad"), seed=3))
    inner = idle.channel("browInnerUp")[idle.n_frames // 2:]
    assert inner.std() > 0.003  # a held expression is not frozen
    assert np.abs(np.diff(inner)).max() < 0.02  # but it moves slowly


def test_no_jumps_and_valid_ranges_under_emotion(animate) -> None:  # type: ignore[no-untyped-def]
    for emotion in EMOTIONS:
        track = animate("cards_005", emotion=Emotion.of(emotion))
        v = track.values
        assert np.isfinite(v).all() and v[:, : len(ARKIT52)].min() >= 0 and v[:, : len(ARKIT52)].max() <= 1
        blinky = [INDEX[n] for n in ARKIT52 if n.startswith(("eyeBlink", "eyeWide", "eyeSquint", "cheekSquint"))]
        rest = [i for i in range(len(ARKIT52)) if i not in blinky]
        assert np.abs(np.diff(v[:, rest], axis=0)).max() <= 0.35, emotion


def test_switches_and_scales(animate) -> None:  # type: ignore[no-untyped-def]
    off = animate("goforward", emotion=Emotion.of("happy"),
                  options=AnimationOptions(expression_scale=0, blink_scale=0, gaze_scale=0, micro_motion_scale=0))
    assert off.channel("mouthSmileLeft").max() == 0
    assert off.channel("eyeBlinkLeft").max() == 0
    assert np.all(off.channel("eyeYawLeft_deg") == 0)
    full = animate("goforward", emotion=Emotion.of("happy"))
    assert full.channel("mouthSmileLeft").max() > 0.3


def test_idle_track(animator: Animator) -> None:
    track = animator.animate(LineRequest(idle_duration_s=20, emotion=Emotion.of("angry", 0.7), seed=1))
    assert track.info.mode == "idle" and track.n_frames == 20 * 60 + 1
    assert track.channel("jawOpen").max() < 0.01  # listening: mouth at rest
    assert track.channel("browDownLeft").mean() > 0.2
    assert track.channel("eyeBlinkLeft").max() > 0.9  # blinks
    assert np.ptp(track.channel("eyeYawLeft_deg")) > 2  # the eyes move


def test_emotion_grid_png(animator: Animator) -> None:
    """A picture of each emotion's mean face (curves), for people to look at: test-artifacts/emotions.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ARKIT52 if not n.startswith(("eyeLook",))]
    fig, axes = plt.subplots(len(EMOTIONS), 1, figsize=(14, 12), sharex=True)
    means = {}
    for ax, emotion in zip(axes, EMOTIONS, strict=True):
        track = animator.animate(LineRequest(audio=_enc("librivox_0930"), transcript=transcript("librivox_0930"),
                                             emotion=Emotion.of(emotion)))
        means[emotion] = np.array([track.channel(n).mean() for n in names])
        ax.bar(range(len(names)), means[emotion], color="C0")
        ax.set_ylim(0, 0.8)
        ax.set_ylabel(emotion, rotation=0, ha="right")
    axes[-1].set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    fig.tight_layout()
    ARTIFACTS.mkdir(exist_ok=True)
    fig.savefig(ARTIFACTS / "emotions.png", dpi=80)
    plt.close(fig)
    for emotion in EMOTIONS[1:]:
        assert np.abs(means[emotion] - means["neutral"]).max() > 0.25, emotion  # visibly different


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (pb.EmotionSpec(constant=pb.EmotionValue(category=pb.CategoryEmotion(name="elated"))), "unknown emotion"),
        (pb.EmotionSpec(constant=pb.EmotionValue(category=pb.CategoryEmotion(name="happy", intensity=1.5))),
         "emotion.intensity"),
        (pb.EmotionSpec(constant=pb.EmotionValue(vad=pb.VadEmotion(valence=2.0))), "emotion.vad.valence"),
        (pb.EmotionSpec(constant=pb.EmotionValue(blend=pb.BlendEmotion(weights={"happy": -1}))), "emotion.weights"),
        (pb.EmotionSpec(keyframes=pb.EmotionKeyframes(keyframes=[
            pb.EmotionKeyframe(time_s=1.0, value=pb.EmotionValue(category=pb.CategoryEmotion(name="happy"))),
            pb.EmotionKeyframe(time_s=0.5, value=pb.EmotionValue(category=pb.CategoryEmotion(name="sad")))])),
         "strictly increasing"),
        (pb.EmotionSpec(keyframes=pb.EmotionKeyframes(keyframes=[
            pb.EmotionKeyframe(time_s=99.0, value=pb.EmotionValue(category=pb.CategoryEmotion(name="happy")))])),
         "outside the line"),
        (pb.EmotionSpec(constant=pb.EmotionValue()), "set one of category, vad or blend"),
        (pb.EmotionSpec(auto=pb.AutoEmotion()), "npc_id"),
    ],
)
def test_bad_emotion_input_over_grpc(stub, spec: pb.EmotionSpec, needle: str) -> None:  # type: ignore[no-untyped-def]
    msg = fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")), emotion=spec)
    with pytest.raises(grpc.RpcError) as err:
        stub.AnimateLine(msg)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.value.details(), err.value.details()
    assert "accepted" in err.value.details() or "set one of" in err.value.details() or "npc_id" in needle


def test_keyframes_over_grpc_change_the_face_mid_line(stub) -> None:  # type: ignore[no-untyped-def]
    spec = pb.EmotionSpec(keyframes=pb.EmotionKeyframes(keyframes=[
        pb.EmotionKeyframe(time_s=0.0, value=pb.EmotionValue(category=pb.CategoryEmotion(name="happy"))),
        pb.EmotionKeyframe(time_s=2.0, value=pb.EmotionValue(category=pb.CategoryEmotion(name="angry")))]))
    msg = stub.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")), emotion=spec,
                                                 transcript=transcript("goforward")))
    values = np.array(msg.values).reshape(msg.frame_count, -1)
    names = list(msg.channel_names)
    smile, brow = values[:, names.index("mouthSmileLeft")], values[:, names.index("browDownLeft")]
    early, late = slice(20, 50), slice(msg.frame_count - 30, msg.frame_count)
    assert smile[early].mean() > smile[late].mean() + 0.2
    assert brow[late].mean() > brow[early].mean() + 0.2
