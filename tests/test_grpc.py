"""The sidecar over a real gRPC socket: AnimateLine, Describe, health, reflection, and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from conftest import speech_bytes, transcript
from mien import Track, TrackInfo
from mien.channels import ARKIT52, CHANNELS
from mien.server.app import Sidecar
from mien.track import PhoneSegment
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa
from support.lipsync import score


def request(name: str = "goforward", **kwargs: object) -> fa.AnimateLineRequest:
    msg = fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes(name)), transcript=transcript(name))
    for key, value in kwargs.items():
        if isinstance(value, dict):
            getattr(msg, key).CopyFrom(value["msg"])
        else:
            setattr(msg, key, value)
    return msg


def as_track(msg: fa.AnimationTrack) -> Track:
    values = np.array(msg.values, dtype=np.float32).reshape(msg.frame_count, len(msg.channel_names))
    phones = tuple(PhoneSegment(p.start_s, p.end_s, p.phone, p.word, p.viseme) for p in msg.phones)
    return Track(tuple(msg.channel_names), msg.fps, values, phones, TrackInfo(mode=msg.metadata.mode))


def test_animate_line_on_real_speech(stub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    names = ["goforward", "librivox_0930", "cards_005"]
    tracks = {}
    for name in names:
        msg = stub.AnimateLine(request(name))
        assert list(msg.channel_names) == list(CHANNELS)
        assert msg.fps == 60.0
        assert len(msg.values) == msg.frame_count * len(msg.channel_names)
        track = as_track(msg)
        blend = track.values[:, : len(ARKIT52)]
        assert np.isfinite(track.values).all() and blend.min() >= 0 and blend.max() <= 1
        assert msg.metadata.mode == "aligned"
        assert msg.metadata.versions["contract"] == "mien.v1"
        assert msg.metadata.processing_ms > 0 and msg.metadata.audio_duration_s > 1
        assert msg.phones and msg.phones[0].viseme
        tracks[name] = track
    s = score(tracks, tmp_path)
    assert s["pbm"] >= 0.95 and s["vowel"] >= 0.90 and s["rest"] >= 0.95 and abs(s["lag_ms"]) <= 20, s


def test_fps_rig_and_seed(stub) -> None:  # type: ignore[no-untyped-def]
    a = stub.AnimateLine(request(fps=30, rig="vrm", seed=7))
    assert a.fps == 30.0 and a.metadata.rig == "vrm" and a.metadata.seed == 7
    assert "aa" in a.channel_names and "blinkLeft" in a.channel_names
    b = stub.AnimateLine(request(fps=30, rig="vrm", seed=7))
    assert list(a.values) == list(b.values)  # same request + seed -> identical track
    c = stub.AnimateLine(request(fps=30, rig="vrm", seed=8))
    assert list(a.values) != list(c.values)


def test_describe(stub, sidecar: Sidecar) -> None:  # type: ignore[no-untyped-def]
    info = stub.Describe(fa.DescribeRequest())
    assert {r.name for r in info.rigs} >= {"arkit52", "metahuman", "vrm", "oculus15"}
    metahuman = next(r for r in info.rigs if r.name == "metahuman")
    assert len(metahuman.channel_names) == 174 + 3  # the face board, then HeadYaw, HeadPitch, HeadRoll
    assert list(info.internal_channels) == list(CHANNELS)
    assert "angry" in info.emotions and info.emotion_aliases["joy"] == "happy"
    assert info.limits.max_audio_s == sidecar.config.limits.max_audio_s
    assert "aligned" in info.modes and info.default_fps == 60


def test_health_and_reflection(sidecar: Sidecar) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}")
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "mien.v1.FaceAnimation"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert "mien.v1.FaceAnimation" in names and "grpc.health.v1.Health" in names
    channel.close()


def _wav(samples: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _nan_wav() -> bytes:
    x = np.zeros(16000)
    x[10] = np.nan
    return _wav(x, subtype="FLOAT")


def _ogg_header_only() -> bytes:
    return b"OggS" + b"\x00" * 60


BAD = {
    "empty audio bytes": (fa.AnimateLineRequest(audio=pb.AudioInput(file=b"")), "empty"),
    "no audio at all": (fa.AnimateLineRequest(), "audio is missing"),
    "non-audio bytes": (fa.AnimateLineRequest(audio=pb.AudioInput(file=b"GIF89a" + b"\x00" * 200)),
                        "not a readable audio file"),
    "zero-length audio": (fa.AnimateLineRequest(audio=pb.AudioInput(file=_wav(np.zeros(0)))), "zero-length"),
    "NaN samples": (fa.AnimateLineRequest(audio=pb.AudioInput(file=_nan_wav())), "NaN"),
    "unsupported codec": (fa.AnimateLineRequest(audio=pb.AudioInput(file=_ogg_header_only())),
                          "not a readable audio file"),
    "longer than the maximum": (fa.AnimateLineRequest(audio=pb.AudioInput(pcm=pb.PcmAudio(
        data=b"\x00\x00" * 16000 * 301, sample_rate_hz=16000))), "maximum is 300 s"),
    "absurd sample rate": (fa.AnimateLineRequest(audio=pb.AudioInput(pcm=pb.PcmAudio(
        data=b"\x00\x00" * 100, sample_rate_hz=3))), "sample_rate_hz"),
    "unknown fps": (request(fps=1000), "fps"),
    "negative fps": (request(fps=-5), "fps"),
    "unknown rig": (request(rig="mystery_rig"), "unknown rig profile"),
    "rig given as a path": (request(rig="/etc/passwd"), "not accepted here"),
    "unknown emotion": (request(emotion={"msg": pb.EmotionSpec(constant=pb.EmotionValue(
        category=pb.CategoryEmotion(name="grumpy")))}), "unknown emotion"),
    "transcript too long": (request(transcript="word " * 2000), "maximum is 5000"),
    "aligned mode without transcript": (request(transcript="", mode=fa.ANIMATION_MODE_ALIGNED), "needs a transcript"),
    "audio and idle together": (request(idle_duration_s=3.0), "either audio or idle"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_invalid_argument_and_the_server_keeps_serving(stub, case: str) -> None:  # type: ignore[no-untyped-def]
    msg, needle = BAD[case]
    with pytest.raises(grpc.RpcError) as err:
        stub.AnimateLine(msg)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, err.value.details())
    assert needle in err.value.details(), err.value.details()
    assert "Traceback" not in err.value.details()
    good = stub.AnimateLine(request(fps=20))
    assert good.frame_count > 0


def test_transcript_for_different_audio_warns_and_falls_back(stub) -> None:  # type: ignore[no-untyped-def]
    msg = stub.AnimateLine(request("goforward", transcript=transcript("librivox_0870")))
    assert msg.metadata.mode == "recognized"
    assert any("does not match the audio" in w for w in msg.metadata.warnings)
    values = np.array(msg.values).reshape(msg.frame_count, -1)
    jaw = values[:, list(msg.channel_names).index("jawOpen")]
    assert jaw.max() > 0.2  # not a frozen mouth


def test_oov_and_non_ascii_words_over_grpc(stub) -> None:  # type: ignore[no-untyped-def]
    msg = stub.AnimateLine(request("goforward", transcript="Gó förward 10 meterz 東京"))
    assert msg.frame_count > 0 and msg.metadata.mode == "aligned"
    assert any("東京" in w for w in msg.metadata.warnings)
