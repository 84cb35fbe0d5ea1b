"""StreamAnimate over a real gRPC socket, and the streaming core (features, resampler, sessions).

The streaming machinery is tested with a tiny random-weight model that follows the ONNX contract,
so these tests do not depend on the trained model (tests/test_neural_model.py covers that one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from conftest import speech_bytes
from mien import Animator, EncodedAudio, LineRequest
from mien.audio import StreamingResampler, decode_audio, resample
from mien.config import config_from_dict
from mien.emotion import Emotion, EmotionKeyframe
from mien.errors import FailedPrecondition, InvalidArgument
from mien.features import FeatureConfig, StreamingFeatures, log_mel
from mien.neural import NeuralModel
from mien.server.app import Sidecar
from mien.streaming import StreamStart
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

pytest.importorskip("torch", reason="the toy model is built with torch (the train extra)")
import itertools

from support.toy_model import build_toy_model


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_toy_model(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def server(toy: Path) -> Iterator[Sidecar]:
    config = config_from_dict({"server": {"port": 0, "http_port": -1}, "neural": {"model": str(toy)},
                               "limits": {"stream_stall_timeout_s": 1.0}, "state": {"db_path": ":memory:"}})
    sidecar = Sidecar(config).start()
    yield sidecar
    sidecar.stop(0.5)


@pytest.fixture(scope="module")
def stub(server: Sidecar) -> Iterator[fa_grpc.FaceAnimationStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield fa_grpc.FaceAnimationStub(channel)
    channel.close()


def pcm16(name: str = "librivox_0870") -> bytes:
    audio = decode_audio(speech_bytes(name), max_duration_s=60)
    return (np.clip(audio.samples, -1, 1) * 32767).astype("<i2").tobytes()


def requests(pcm: bytes, *, chunk_ms: int = 50, pace_s: float = 0.0, header: fa.StreamHeader | None = None,
             end: bool = True) -> Iterator[fa.StreamAnimateRequest]:
    yield fa.StreamAnimateRequest(header=header or fa.StreamHeader(sample_rate_hz=16000))
    step = 16000 * chunk_ms // 1000 * 2
    for i in range(0, len(pcm), step):
        yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[i:i + step]))
        if pace_s:
            time.sleep(pace_s)
    if end:
        yield fa.StreamAnimateRequest(end=fa.EndOfAudio())


def test_features_stream_exactly_like_the_whole_line() -> None:
    config = FeatureConfig()
    x = np.random.default_rng(0).standard_normal(16000 * 2 + 77) * 0.1
    whole = log_mel(x, config)
    stream = StreamingFeatures(config)
    parts, i = [], 0
    for n in np.random.default_rng(1).integers(50, 2000, size=100):
        if i >= len(x):
            break
        parts.append(stream.push(x[i:i + n]))
        i += n
    parts.append(stream.flush())
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("rate", [8000, 22050, 24000, 44100, 48000])
def test_streaming_resampler_matches_whole_signal(rate: int) -> None:
    x = np.random.default_rng(2).standard_normal(rate).astype(np.float32) * 0.3
    r = StreamingResampler(rate)
    parts, i = [], 0
    for n in np.random.default_rng(3).integers(10, 3000, size=1000):
        if i >= len(x):
            break
        parts.append(r.push(x[i:i + n]))
        i += n
    parts.append(r.flush())
    assert np.abs(np.concatenate(parts) - resample(x, rate, 16000)).max() < 1e-5


def test_stream_equals_offline_neural_line(toy: Path) -> None:
    animator = Animator(neural_model=NeuralModel(toy))
    pcm = pcm16()
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    from mien.audio import Audio

    line = animator.animate(LineRequest(audio=Audio(samples), mode="neural", seed=5, emotion=Emotion.of("sad", 0.8)))
    assert animator.streams is not None
    session = animator.streams.open(StreamStart(sample_rate_hz=16000, seed=5, emotion=Emotion.of("sad", 0.8)))
    batches, i = [], 0
    for n in np.random.default_rng(0).integers(320, 1600, size=10_000):
        if i >= len(pcm):
            break
        batches.append(session.push(pcm[i:i + 2 * n]))
        i += 2 * n
    last, summary = session.finish()
    session.close()
    values = np.concatenate([b.values for b in [*batches, last] if b is not None])
    assert summary.frame_count == line.n_frames == len(values)
    assert np.abs(values - line.values).max() < 1e-5
    assert animator.streams.active == 0


def test_stream_over_grpc_arrives_incrementally(stub) -> None:  # type: ignore[no-untyped-def]
    """Chunks of 20-100 ms at real-time pace: frames come while audio is still being sent."""
    pcm = pcm16("goforward")
    sent_all = threading.Event()

    def paced() -> Iterator[fa.StreamAnimateRequest]:
        yield from requests(pcm, chunk_ms=40, pace_s=0.04, end=False)
        sent_all.set()
        yield fa.StreamAnimateRequest(end=fa.EndOfAudio())

    kinds, early, frames = [], 0, []
    for response in stub.StreamAnimate(paced()):
        kind = response.WhichOneof("message")
        kinds.append(kind)
        if kind == "frames":
            frames.append(response.frames)
            early += not sent_all.is_set()
    assert kinds[0] == "header" and kinds[-1] == "end"
    assert early >= 10, "frames must arrive while the audio is still streaming"
    firsts = [f.first_frame for f in frames]
    assert firsts == sorted(firsts) and all(b.first_frame == a.first_frame + a.frame_count
                                            for a, b in itertools.pairwise(frames))
    total = sum(f.frame_count for f in frames)
    duration = len(pcm) / 2 / 16000
    assert total == int(duration * 60) + 1


@pytest.mark.parametrize("chunk_ms", [20, 100])
def test_chunk_sizes(stub, chunk_ms: int) -> None:  # type: ignore[no-untyped-def]
    responses = list(stub.StreamAnimate(requests(pcm16("cards_001"), chunk_ms=chunk_ms)))
    end = responses[-1].end
    assert end.frame_count == sum(r.frames.frame_count for r in responses if r.WhichOneof("message") == "frames")


def test_mouth_closes_at_end_of_audio(stub) -> None:  # type: ignore[no-untyped-def]
    responses = list(stub.StreamAnimate(requests(pcm16("goforward"))))
    header = responses[0].header
    names = list(header.channel_names)
    last = responses[-2].frames
    values = np.array(last.values).reshape(last.frame_count, len(names))
    assert header.lookahead_ms <= 80
    assert values[-1, names.index("eyeYawLeft_deg")] is not None  # eye rotations are streamed too
    assert values[-1, names.index("headPitch_deg")] is not None  # and the head
    assert len(names) == 59


def test_the_last_frames_are_sent_before_the_wait_after_end_of_audio(stub, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """After EndOfAudio the stream waits for the client's half-close before its end event; the last frames
    must not wait with it (a player would stall on them). With the wait made long, the last frames arrive
    well before the end event, while the client has not yet closed its side."""
    from mien.server import stream_rpc

    monkeypatch.setattr(stream_rpc, "AFTER_END_S", 3.0)
    release = threading.Event()

    def held_open() -> Iterator[fa.StreamAnimateRequest]:
        yield from requests(pcm16("goforward"))
        release.wait(10.0)  # no half-close until the test has its frames

    arrived: dict[str, float] = {}
    frames = 0
    for response in stub.StreamAnimate(held_open()):
        kind = response.WhichOneof("message")
        if kind == "frames":
            frames += response.frames.frame_count
            arrived["frames"] = time.monotonic()
        elif kind == "end":
            arrived["end"] = time.monotonic()
            assert response.end.frame_count == frames
    release.set()
    # the wait is min(AFTER_END_S, the stall timeout: 1 s here); before the fix the gap was a few ms
    assert arrived["end"] - arrived["frames"] > 0.6, "the last frames waited with the end event"


def test_cancel_frees_the_stream(stub, server: Sidecar) -> None:  # type: ignore[no-untyped-def]
    pcm = pcm16()
    call = stub.StreamAnimate(requests(pcm, chunk_ms=50, pace_s=0.05))
    for i, _ in enumerate(call):
        if i == 3:
            assert server.streams is not None and server.streams.active == 1
            call.cancel()
            break
    deadline = time.time() + 5
    while server.streams.active and time.time() < deadline:
        time.sleep(0.05)
    assert server.streams.active == 0


def test_stalled_client_times_out_and_others_are_unaffected(stub, server: Sidecar) -> None:  # type: ignore[no-untyped-def]
    pcm = pcm16("cards_001")

    def stalls() -> Iterator[fa.StreamAnimateRequest]:
        yield fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
        yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[:6400]))
        time.sleep(3.0)  # longer than the 1 s stall timeout

    result: dict[str, object] = {}

    def run_stalled() -> None:
        try:
            result["responses"] = list(stub.StreamAnimate(stalls()))
        except grpc.RpcError as error:
            result["code"] = error.code()
            result["details"] = error.details()

    thread = threading.Thread(target=run_stalled)
    thread.start()
    good = list(stub.StreamAnimate(requests(pcm)))  # served meanwhile
    assert good[-1].WhichOneof("message") == "end"
    thread.join(10)
    assert result.get("code") == grpc.StatusCode.DEADLINE_EXCEEDED, result
    assert "stream_stall_timeout_s" in str(result["details"])
    assert server.streams is not None and server.streams.active == 0


def _expect(stub, messages: list[fa.StreamAnimateRequest], code: grpc.StatusCode, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as err:
        list(stub.StreamAnimate(iter(messages)))
    assert err.value.code() == code, err.value.details()
    assert needle in err.value.details()


HEADER = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
AUDIO = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x00" * 800))
END = fa.StreamAnimateRequest(end=fa.EndOfAudio())


@pytest.mark.parametrize(
    ("messages", "code", "needle"),
    [
        ([AUDIO, END], grpc.StatusCode.FAILED_PRECONDITION, "first message of a stream must be a header"),
        ([HEADER, HEADER], grpc.StatusCode.FAILED_PRECONDITION, "a second header"),
        ([HEADER, AUDIO, END, AUDIO], grpc.StatusCode.FAILED_PRECONDITION, "after EndOfAudio"),
        ([fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=3))], grpc.StatusCode.INVALID_ARGUMENT,
         "sample_rate_hz"),
        ([fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000, fps=500))],
         grpc.StatusCode.INVALID_ARGUMENT, "header.fps"),
        ([fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000, rig="nope"))],
         grpc.StatusCode.INVALID_ARGUMENT, "unknown rig profile"),
        ([HEADER, fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x00\x00"))],
         grpc.StatusCode.INVALID_ARGUMENT, "whole number"),
        ([HEADER, fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x00" * 16000 * 11))],
         grpc.StatusCode.INVALID_ARGUMENT, "per chunk"),
        ([HEADER, fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x00" * 800, emotion_keyframes=[
            pb.EmotionKeyframe(time_s=-1, value=pb.EmotionValue(category=pb.CategoryEmotion(name="sad")))]))],
         grpc.StatusCode.INVALID_ARGUMENT, "in the past"),
    ],
)
def test_out_of_order_and_bad_stream_messages(stub, server: Sidecar, messages, code, needle) -> None:  # type: ignore[no-untyped-def]
    _expect(stub, messages, code, needle)
    assert server.streams is not None and server.streams.active == 0
    assert list(stub.StreamAnimate(requests(pcm16("cards_001"))))[-1].WhichOneof("message") == "end"


def test_a_keyframe_at_zero_in_the_first_chunk_replaces_the_header_emotion(toy: Path) -> None:
    """What the engine plugins send: the header's emotion, then the line's keyframes from 0 s."""
    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    pcm = pcm16()
    keyed = animator.streams.open(StreamStart(sample_rate_hz=16000))
    out = [keyed.push(pcm[:3200], [EmotionKeyframe(0.0, Emotion.of("angry"))]), keyed.push(pcm[3200:])]
    with pytest.raises(InvalidArgument, match="in the past"):
        keyed.push(pcm[:0], [EmotionKeyframe(0.0, Emotion.of("sad"))])
    out.append(keyed.finish()[0])
    header = animator.streams.open(StreamStart(sample_rate_hz=16000, emotion=Emotion.of("angry")))
    ref = [header.push(pcm), header.finish()[0]]
    keyed.close()
    header.close()
    a = np.concatenate([b.values for b in out if b is not None])
    b = np.concatenate([b.values for b in ref if b is not None])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_emotion_keyframes_in_a_stream_change_the_face(toy: Path) -> None:
    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    session = animator.streams.open(StreamStart(sample_rate_hz=16000))
    pcm = pcm16()
    session.push(pcm[: 32000])
    with pytest.raises(InvalidArgument, match="strictly increasing"):
        session.push(pcm[32000:34000], [EmotionKeyframe(5.0, Emotion.of("angry")),
                                        EmotionKeyframe(4.0, Emotion.of("sad"))])
    session.push(pcm[34000:], [EmotionKeyframe(3.0, Emotion.of("angry"))])
    session.finish()
    with pytest.raises(FailedPrecondition, match="second EndOfAudio"):
        session.finish()
    session.close()
    assert animator.streams.active == 0


def test_describe_lists_the_model(stub) -> None:  # type: ignore[no-untyped-def]
    info = stub.Describe(fa.DescribeRequest())
    assert "neural" in info.modes
    model = info.models[0]
    assert model.lookahead_ms <= 80 and model.fps == 60 and len(model.channel_names) == 42


def test_animate_line_neural_mode_over_grpc(stub) -> None:  # type: ignore[no-untyped-def]
    msg = stub.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward"))))
    assert msg.metadata.mode == "neural"  # auto without transcript picks the neural path
    msg = stub.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")),
                                                 transcript="go forward ten meters"))
    assert msg.metadata.mode == "aligned"
    msg = stub.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")),
                                                 transcript="go forward ten meters", mode=fa.ANIMATION_MODE_NEURAL))
    assert msg.metadata.mode == "neural"
    track = Animator().animate(LineRequest(audio=EncodedAudio(speech_bytes("goforward")), mode="recognized"))
    assert track.info.mode == "recognized"


def test_a_stream_the_server_fell_behind_on_catches_up_in_larger_batches_with_the_same_frames(toy: Path) -> None:
    """Chunks already queued when the stream gets the CPU again are computed in one batch."""
    from mien.server.stream_rpc import serve_stream

    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    pcm = pcm16("cards_001")[: 16000 * 2 * 2]  # 2 s: 40 chunks of 50 ms, all queued at once
    responses = serve_stream(animator.streams, requests(pcm), versions={})
    assert next(responses).WhichOneof("message") == "header"
    time.sleep(0.5)  # the stream's reader queues every chunk meanwhile, as under load
    rest = list(responses)
    batches = [r.frames for r in rest if r.WhichOneof("message") == "frames"]
    assert rest[-1].WhichOneof("message") == "end" and len(batches) <= 3
    caught_up = np.concatenate([np.asarray(b.values).reshape(b.frame_count, -1) for b in batches])
    session = animator.streams.open(StreamStart(sample_rate_hz=16000))
    one_by_one = [session.push(pcm[i:i + 1600]) for i in range(0, len(pcm), 1600)] + [session.finish()[0]]
    session.close()
    expected = np.concatenate([b.values for b in one_by_one if b is not None])
    np.testing.assert_allclose(caught_up, expected, atol=1e-6)
    assert animator.streams.active == 0


def test_a_rejected_chunk_changes_nothing(toy: Path) -> None:
    """A chunk refused for its keyframes leaves the stream as it was: resent without them, the frames are those of
    a stream that never saw it (22.05 kHz, so the resampler's state is at stake)."""
    animator = Animator(neural_model=NeuralModel(toy))
    assert animator.streams is not None
    pcm = pcm16()
    cut = 44100
    refused = animator.streams.open(StreamStart(sample_rate_hz=22050))
    out = [refused.push(pcm[:cut])]
    with pytest.raises(InvalidArgument, match="in the past"):
        refused.push(pcm[cut:cut + 4410], [EmotionKeyframe(0.1, Emotion.of("angry"))])
    out += [refused.push(pcm[cut:]), refused.finish()[0]]
    clean = animator.streams.open(StreamStart(sample_rate_hz=22050))
    ref = [clean.push(pcm[:cut]), clean.push(pcm[cut:]), clean.finish()[0]]
    refused.close()
    clean.close()
    a = np.concatenate([b.values for b in out if b is not None])
    b = np.concatenate([b.values for b in ref if b is not None])
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-6)
