"""Live Link Face exports: the take CSV (exact app layout) and the UDP stream (read back by a decoder
written here from the packet format, not with Mien's encoder)."""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from conftest import speech_bytes, transcript
from mien import Animator, EncodedAudio, LineRequest
from mien.audio import decode_audio
from mien.channels import ARKIT52
from mien.cli import main
from mien.config import config_from_dict
from mien.emotion import Emotion
from mien.errors import InvalidArgument
from mien.livelinkface import CSV_COLUMNS, read_csv, to_csv
from mien.neural import NeuralModel
from mien.server.app import Sidecar
from mien.streaming import StreamStart
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

# The header line of a real Live Link Face take: MySlate_3_Jason_Millers_iPhone.csv in
# JMTechArt/Pipeline-Examples ("Blender/Blender Example Files/"), found with the code search.
REAL_TAKE_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)
REAL_TAKE_ROW_START = "00:32:09:07.867,61,0.0491091609,"  # its first data row begins so

# From the format's description (Unreal's Apple ARKit face support, EARFaceBlendShape order).
ENUM_ORDER = [n[0].upper() + n[1:] for n in ARKIT52] + [
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
ROTATION_SOURCE = {"HeadYaw": "headYaw_deg", "HeadPitch": "headPitch_deg", "HeadRoll": "headRoll_deg",
                   "LeftEyeYaw": "eyeYawLeft_deg", "LeftEyePitch": "eyePitchLeft_deg",
                   "RightEyeYaw": "eyeYawRight_deg", "RightEyePitch": "eyePitchRight_deg"}


def expected(name: str, track_values: np.ndarray, channel_names: tuple[str, ...]) -> np.ndarray:
    """The value the app would carry for ``name``: ARKit weights as they are, rotations in degrees / 180."""
    if name in ROTATION_SOURCE:
        return track_values[:, channel_names.index(ROTATION_SOURCE[name])].astype(np.float64) / 180.0
    if name.endswith("EyeRoll"):
        return np.zeros(len(track_values))
    return track_values[:, channel_names.index(name[0].lower() + name[1:])].astype(np.float64)


def decode(packet: bytes) -> dict[str, object]:
    """Live Link Face packet v6, big-endian: u8 version, FString device id, FString subject,
    FFrameTime (i32 frame, f32 sub-frame), FFrameRate (i32 num, i32 den), u8 count, count x f32."""
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        size = struct.calcsize(fmt)
        out = struct.unpack_from(fmt, packet, pos)
        pos += size
        return out

    def fstring() -> str:
        nonlocal pos
        (length,) = take(">i")
        text = packet[pos:pos + length].decode("utf-8")
        pos += length
        return text

    (version,) = take(">B")
    device, subject = fstring(), fstring()
    frame, sub_frame, num, den, count = *take(">if"), *take(">ii"), *take(">B")
    values = take(f">{count}f")
    assert pos == len(packet), "trailing bytes"
    return {"version": version, "device": device, "subject": subject, "frame": frame, "sub_frame": sub_frame,
            "rate": (num, den), "values": dict(zip(ENUM_ORDER, values, strict=True))}


# ------------------------------------------------------------------------------------------ CSV
def test_csv_has_the_exact_columns_of_a_real_take() -> None:
    assert ",".join(CSV_COLUMNS) == REAL_TAKE_HEADER


@pytest.fixture(scope="module")
def line() -> object:
    return Animator().animate(LineRequest(audio=EncodedAudio(speech_bytes("librivox_0880")),
                                          transcript=transcript("librivox_0880"), seed=4,
                                          emotion=Emotion.of("happy", 0.7)))


def test_csv_reads_back_equal_to_the_track(line) -> None:  # type: ignore[no-untyped-def]
    text = to_csv(line)
    row = re.compile(r"^\d\d:\d\d:\d\d:\d\d\.\d{3},61(,-?\d+\.\d{10}){61}$")  # the real take's number formats
    assert re.match(r"^\d\d:\d\d:\d\d:\d\d\.\d{3},61,-?\d+\.\d{10}$", REAL_TAKE_ROW_START.rstrip(","))
    assert all(row.match(ln) for ln in text.splitlines()[1:])
    assert text.splitlines()[1].startswith("00:00:00:00.000,61,")
    times, columns = read_csv(text, line.fps)
    assert np.abs(times - line.times_s).max() < 1e-6
    assert (columns["BlendShapeCount"] == 61).all()
    for name in CSV_COLUMNS[2:]:
        assert np.abs(columns[name] - expected(name, line.values, line.channel_names)).max() <= 1e-6, name
    assert np.abs(columns["HeadPitch"]).max() > 0  # the head moves


def test_timecode_counts_frames_within_the_second() -> None:
    from mien.livelinkface import timecode

    assert timecode(0, 60) == "00:00:00:00.000"
    assert timecode(61, 60) == "00:00:01:01.000"
    assert timecode(60 * 3661 + 7, 60) == "01:01:01:07.000"


def test_cli_animate_format_livelinkface(tmp_path: Path) -> None:
    wav = tmp_path / "line.wav"
    wav.write_bytes(speech_bytes("cards_001"))
    out = tmp_path / "take.csv"
    assert main(["animate", str(wav), "--text", transcript("cards_001"), "--format", "livelinkface",
                 "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == REAL_TAKE_HEADER
    bad = tmp_path / "vrm.csv"
    assert main(["animate", str(wav), "--text", transcript("cards_001"), "--format", "livelinkface", "--rig", "vrm",
                 "-o", str(bad)]) == 2
    assert not bad.exists()


def test_a_retargeted_track_is_refused(line) -> None:  # type: ignore[no-untyped-def]
    from mien.rig import load_rig

    with pytest.raises(InvalidArgument, match="rig arkit52"):
        to_csv(load_rig("vrm").apply(Animator().animate(LineRequest(idle_duration_s=1.0))))


# ------------------------------------------------------------------------------------------ UDP
pytest.importorskip("torch", reason="the toy model is built with torch (the train extra)")
from support.toy_model import build_toy_model  # noqa: E402


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_toy_model(tmp_path_factory.mktemp("toy"))


@pytest.fixture()
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def drain(sock: socket.socket, count: int) -> list[dict[str, object]]:
    return [decode(sock.recv(65536)) for _ in range(count)]


def pcm16(name: str) -> bytes:
    samples = decode_audio(speech_bytes(name), max_duration_s=60).samples
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def check(packets: list[dict[str, object]], frames: np.ndarray, names: tuple[str, ...], subject: str) -> None:
    assert [p["frame"] for p in packets] == list(range(len(frames)))  # timecode: frame i at 60 fps
    for p in packets:
        assert p["version"] == 6 and p["rate"] == (60, 1) and p["subject"] == subject and p["sub_frame"] == 0.0
        assert len(str(p["device"])) == 36  # a UUID, like the app's device id
    for name in ENUM_ORDER:
        got = np.array([p["values"][name] for p in packets])  # type: ignore[index]
        assert np.abs(got - expected(name, frames, names)).max() <= 1e-6, name


def test_a_stream_sends_every_frame_as_live_link_face_packets(toy: Path, receiver: socket.socket) -> None:
    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    port = receiver.getsockname()[1]
    session = animator.streams.open(StreamStart(sample_rate_hz=16000, seed=2, live_link_target=f"127.0.0.1:{port}",
                                                live_link_subject="Guard"))
    pcm = pcm16("librivox_0870")
    batches = [session.push(pcm[i:i + 1280]) for i in range(0, len(pcm), 1280)]
    last, summary = session.finish()
    session.close()
    frames = np.concatenate([b.values for b in [*batches, last] if b is not None])
    check(drain(receiver, summary.frame_count), frames, session.channel_names, "Guard")
    assert not summary.warnings


def test_stream_animate_over_grpc_sends_live_link(toy: Path, receiver: socket.socket) -> None:
    config = config_from_dict({"server": {"port": 0, "http_port": -1}, "neural": {"model": str(toy)},
                               "state": {"db_path": ":memory:"}})
    server = Sidecar(config).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            stub = fa_grpc.FaceAnimationStub(channel)
            pcm = pcm16("cards_002")
            header = fa.StreamHeader(sample_rate_hz=16000, live_link_target=f"127.0.0.1:{receiver.getsockname()[1]}")
            messages = [fa.StreamAnimateRequest(header=header)] + [
                fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[i:i + 1600])) for i in range(0, len(pcm), 1600)
            ] + [fa.StreamAnimateRequest(end=fa.EndOfAudio())]
            responses = list(stub.StreamAnimate(iter(messages)))
        names = tuple(responses[0].header.channel_names)
        frames = np.concatenate([np.array(r.frames.values, np.float32).reshape(r.frames.frame_count, len(names))
                                 for r in responses if r.HasField("frames")])
        check(drain(receiver, len(frames)), frames, names, "Mien")
    finally:
        server.stop(0.5)


def test_only_loopback_unless_allowed(toy: Path) -> None:
    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    with pytest.raises(InvalidArgument, match="not a loopback address"):
        animator.streams.open(StreamStart(sample_rate_hz=16000, live_link_target="192.0.2.7:11111"))
    with pytest.raises(InvalidArgument, match="HOST:PORT"):
        animator.streams.open(StreamStart(sample_rate_hz=16000, live_link_target="localhost"))
    allowed = Animator(config_from_dict({"live_link": {"allow_remote": True}}), neural_model=NeuralModel(toy))
    assert allowed.streams is not None
    allowed.streams.open(StreamStart(sample_rate_hz=16000, live_link_target="192.0.2.7:11111")).close()
    with pytest.raises(InvalidArgument, match=r"live_link\.target"):
        config_from_dict({"live_link": {"target": "192.0.2.7:11111"}})
    # an offline neural line never sends, even with a configured target
    quiet = Animator(config_from_dict({"live_link": {"target": "127.0.0.1:9"}}), neural_model=NeuralModel(toy))
    assert quiet.streams is not None
    session = quiet.streams.open(StreamStart(sample_rate_hz=16000, live_link_default=False))
    assert session._live_link is None
    session.close()
