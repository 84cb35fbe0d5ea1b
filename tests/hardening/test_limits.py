"""Every request and stream is bounded before the work starts (issue 11, item 4).

One in-process sidecar (``tight``) with small limits so that each limit is tried at its value and just past it,
cheaply, over gRPC, the HTTP/JSON gateway and the WebSocket; each refusal names the limit (``limits.<name>``)
and its value. The default limits are checked on the shared ``hardened`` sidecar (the 53-byte request of the
issue, a 5,000-letter word). Describe reports every limit.

Limits: output values (frames x channels, per line and per whole stream), emotion keyframes (per line and per
stream), transcript words and word length, stream message bytes (gRPC message, WebSocket frame), stream
audio-less time and lifetime, HTTP head and body time, request compression, header size, metadata size.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format

from mien.config import config_from_dict
from mien.rig import load_rig
from mien.server.app import Sidecar
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

from .conftest import Hardened, hardened_config
from .harness import FACE, speech_bytes, speech_pcm16, wait_until

MAX_VALUES = 20_000
MAX_KEYFRAMES = 8
MAX_WORDS = 30
MAX_WORD_CHARS = 24
STREAM_BYTES = 64 * 1024
AUDIOLESS_S = 1.5
LIFETIME_S = 4.0
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
ARKIT = len(load_rig("arkit52").channel_names)
HEADER = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
END = fa.StreamAnimateRequest(end=fa.EndOfAudio())


@pytest.fixture(scope="module")
def tight(toy_model: Path) -> Iterator[Sidecar]:
    config = hardened_config(
        toy_model, max_output_values=MAX_VALUES, max_emotion_keyframes=MAX_KEYFRAMES, max_words=MAX_WORDS,
        max_word_chars=MAX_WORD_CHARS, max_stream_message_bytes=STREAM_BYTES, stream_stall_timeout_s=1.0,
        stream_audioless_timeout_s=AUDIOLESS_S, max_stream_s=LIFETIME_S, http_header_timeout_s=HEADER_TIMEOUT_S,
        http_body_timeout_s=BODY_TIMEOUT_S)
    sidecar = Sidecar(config_from_dict(config)).start()
    yield sidecar
    sidecar.stop(0.5)


@pytest.fixture(scope="module")
def face(tight: Sidecar) -> Iterator[fa_grpc.FaceAnimationStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{tight.grpc_port}",
                                    options=[("grpc.max_send_message_length", 64 << 20)])
    yield fa_grpc.FaceAnimationStub(channel)
    channel.close()


def _post(port: int, method: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None,
          ) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{FACE}/{method}", data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read()), dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def _refused(call: Any, code: grpc.StatusCode, *needles: str) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    details = err.value.details() or ""
    assert err.value.code() == code, (err.value.code(), details)
    for needle in needles:
        assert needle in details, details
    return details


def _idle_for(frames: int, fps: float = 10.0) -> float:
    """An idle duration that gives exactly ``frames`` frames at ``fps`` (floor(d * fps) + 1)."""
    return (frames - 1) / fps + 0.01


# ---------------------------------------------------------------------------------------------- Describe


def test_describe_reports_every_limit(tight: Sidecar, face: fa_grpc.FaceAnimationStub) -> None:
    limits = face.Describe(fa.DescribeRequest(), timeout=30).limits
    configured = tight.config.limits
    for name in ("max_audio_s", "max_message_bytes", "max_text_chars", "max_chunk_s", "max_concurrent_per_client",
                 "stream_stall_timeout_s", "max_word_chars", "max_words", "max_output_values", "max_emotion_keyframes",
                 "max_stream_message_bytes", "stream_audioless_timeout_s", "max_stream_s", "max_stream_lag_s",
                 "max_streams", "http_header_timeout_s", "http_body_timeout_s"):
        assert getattr(limits, name) == pytest.approx(getattr(configured, name)), name
    status, body, _ = _post(tight.http_port, "Describe", {})
    assert status == 200 and body["limits"]["maxOutputValues"] == str(MAX_VALUES)
    assert body["limits"]["httpBodyTimeoutS"] == BODY_TIMEOUT_S


# --------------------------------------------------------------------------------------- output values


def test_output_values_at_the_limit_pass_and_one_frame_more_is_refused(tight: Sidecar,
                                                                       face: fa_grpc.FaceAnimationStub) -> None:
    most = MAX_VALUES // ARKIT
    track = face.AnimateLine(fa.AnimateLineRequest(idle_duration_s=_idle_for(most), fps=10), timeout=60)
    assert track.frame_count == most and len(track.values) == most * ARKIT <= MAX_VALUES
    past = fa.AnimateLineRequest(idle_duration_s=_idle_for(most + 1), fps=10)
    _refused(lambda: face.AnimateLine(past, timeout=60), grpc.StatusCode.INVALID_ARGUMENT,
             "limits.max_output_values", str(MAX_VALUES), f"at most {most} frames")
    status, body, _ = _post(tight.http_port, "AnimateLine", json_format.MessageToDict(past))
    assert status == 400 and "limits.max_output_values" in body["message"], body
    # the rig counts: the same duration on a rig with fewer channels is fine
    small = face.AnimateLine(fa.AnimateLineRequest(idle_duration_s=_idle_for(most + 1), fps=10, rig="vrm"),
                             timeout=60)
    assert small.frame_count == most + 1


def test_the_53_byte_request_of_the_issue_is_refused_at_once(hardened: Hardened) -> None:
    """idleDurationS 300, fps 240, rig metahuman: 72,001 frames x 174 channels = 12.5 M values (58 MB of JSON
    before the limit); refused before any work, with the limit's name and value."""
    body = b'{"idleDurationS": 300, "fps": 240, "rig": "metahuman"}'
    started = time.monotonic()
    status, reply, _ = _post(hardened.sidecar.http_port, "AnimateLine", body)
    assert status == 400 and reply["code"] == "invalid_argument", reply
    assert "limits.max_output_values" in reply["message"] and "4000000" in reply["message"], reply
    request = fa.AnimateLineRequest(idle_duration_s=300, fps=240, rig="metahuman")
    _refused(lambda: hardened.face.AnimateLine(request, timeout=30), grpc.StatusCode.INVALID_ARGUMENT,
             "limits.max_output_values")
    assert time.monotonic() - started < 20  # no track was computed (a generous bound on a loaded machine)


def test_stream_output_values_are_bounded_over_the_whole_stream(face: fa_grpc.FaceAnimationStub) -> None:
    """metahuman at 240 fps: 174 x 240 values a second; the chunk whose frames would pass the limit is refused,
    after the frames of the chunks before it."""
    header = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000, rig="metahuman", fps=240))
    chunk = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * 1600))  # 0.1 s: 24 frames
    received: list[fa.StreamAnimateResponse] = []
    with pytest.raises(grpc.RpcError) as err:
        for response in face.StreamAnimate(iter([header, *[chunk] * 10, END]), timeout=60):
            received.append(response)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "limits.max_output_values" in (err.value.details() or "")
    frames = sum(r.frames.frame_count for r in received if r.WhichOneof("message") == "frames")
    assert 0 < frames <= MAX_VALUES // 174


# -------------------------------------------------------------------------------------------- keyframes


def _keyframes(count: int, start_s: float = 0.0) -> list[pb.EmotionKeyframe]:
    return [pb.EmotionKeyframe(time_s=start_s + 0.01 * i, value=pb.EmotionValue(
        category=pb.CategoryEmotion(name="happy" if i % 2 else "sad"))) for i in range(count)]


def test_keyframes_per_line(tight: Sidecar, face: fa_grpc.FaceAnimationStub) -> None:
    def request(count: int) -> fa.AnimateLineRequest:
        return fa.AnimateLineRequest(idle_duration_s=1.0, fps=30, emotion=pb.EmotionSpec(
            keyframes=pb.EmotionKeyframes(keyframes=_keyframes(count))))

    assert face.AnimateLine(request(MAX_KEYFRAMES), timeout=60).frame_count == 31
    _refused(lambda: face.AnimateLine(request(MAX_KEYFRAMES + 1), timeout=60), grpc.StatusCode.INVALID_ARGUMENT,
             "limits.max_emotion_keyframes", str(MAX_KEYFRAMES))
    status, body, _ = _post(tight.http_port, "AnimateLine", json_format.MessageToDict(request(MAX_KEYFRAMES + 1)))
    assert status == 400 and "limits.max_emotion_keyframes" in body["message"], body


def test_keyframes_per_stream_count_every_chunk(face: fa_grpc.FaceAnimationStub) -> None:
    """Chunks of 3 keyframes each: the stream takes MAX_KEYFRAMES in all, the chunk that passes it is refused
    (the issue's 500k-keyframe chunks grew one stream by 1.8 GB)."""
    chunks = [fa.StreamAnimateRequest(audio=fa.AudioChunk(
        data=b"\x01\x00" * 1600, emotion_keyframes=_keyframes(3, 0.5 + i))) for i in range(4)]
    received = 0
    with pytest.raises(grpc.RpcError) as err:
        for response in face.StreamAnimate(iter([HEADER, *chunks, END]), timeout=60):
            received += response.WhichOneof("message") == "frames"
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    details = err.value.details() or ""
    assert "limits.max_emotion_keyframes" in details and "already has 6 and a chunk adds 3" in details, details
    ok = [fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * 1600,
                                                      emotion_keyframes=_keyframes(4, 0.5 + i))) for i in range(2)]
    responses = list(face.StreamAnimate(iter([HEADER, *ok, END]), timeout=60))
    assert responses[-1].WhichOneof("message") == "end"


# ---------------------------------------------------------------------------------------------- words


def test_word_length_and_word_count(tight: Sidecar, face: fa_grpc.FaceAnimationStub) -> None:
    audio = pb.AudioInput(pcm=pb.PcmAudio(data=speech_pcm16()[:16000], sample_rate_hz=16000))

    def line(text: str) -> fa.AnimateLineRequest:  # neural mode: the transcript is checked, not aligned
        return fa.AnimateLineRequest(audio=audio, transcript=text, mode=fa.ANIMATION_MODE_NEURAL)

    assert face.AnimateLine(line("b" * MAX_WORD_CHARS), timeout=60).frame_count > 0
    _refused(lambda: face.AnimateLine(line("go " + "b" * (MAX_WORD_CHARS + 1)), timeout=60),
             grpc.StatusCode.INVALID_ARGUMENT, "limits.max_word_chars", f"the maximum is {MAX_WORD_CHARS}")
    # a number or a word with commas, points or apostrophes inside is one word
    _refused(lambda: face.AnimateLine(line("1," * MAX_WORD_CHARS + "1"), timeout=60),
             grpc.StatusCode.INVALID_ARGUMENT, "limits.max_word_chars")
    assert face.AnimateLine(line("go " * MAX_WORDS), timeout=60).frame_count > 0
    _refused(lambda: face.AnimateLine(line("go " * (MAX_WORDS + 1)), timeout=60), grpc.StatusCode.INVALID_ARGUMENT,
             "limits.max_words", f"{MAX_WORDS + 1} words")
    status, body, _ = _post(tight.http_port, "AnimateLine", json_format.MessageToDict(line("x" * 200)))
    assert status == 400 and "limits.max_word_chars" in body["message"], body


@pytest.mark.parametrize("word", ["a" * 5000, "cat" * 1600, "7" * 4400, "1,," * 1500])
def test_a_5000_letter_word_is_refused_quickly_on_the_defaults(hardened: Hardened, word: str) -> None:
    """The issue's transcript of one 5,000-letter word cost 7 s of CPU in the aligner, then INTERNAL."""
    request = fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")), transcript=word,
                                    mode=fa.ANIMATION_MODE_ALIGNED)
    started = time.monotonic()
    details = _refused(lambda: hardened.face.AnimateLine(request, timeout=60), grpc.StatusCode.INVALID_ARGUMENT,
                       "limits.max_word_chars", "the maximum is 100")
    assert len(details) < 400 and time.monotonic() - started < 20


# ------------------------------------------------------------------------------------------- streams


def test_a_stream_message_past_its_byte_limit(tight: Sidecar, face: fa_grpc.FaceAnimationStub) -> None:
    at = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * ((STREAM_BYTES - 16) // 2)))
    assert at.ByteSize() <= STREAM_BYTES
    responses = list(face.StreamAnimate(iter([HEADER, at, END]), timeout=60))
    assert responses[-1].WhichOneof("message") == "end"
    past = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * (STREAM_BYTES // 2 + 8)))
    _refused(lambda: list(face.StreamAnimate(iter([HEADER, past, END]), timeout=60)),
             grpc.StatusCode.RESOURCE_EXHAUSTED, "limits.max_stream_message_bytes", str(STREAM_BYTES))


def _ws_run(port: int, frames: list[str], *, read: bool = True) -> tuple[list[Any], int | None]:
    async def run() -> tuple[list[Any], int | None]:
        received: list[Any] = []
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"ws://127.0.0.1:{port}/{FACE}/StreamAnimate", max_msg_size=0) as ws:
            for frame in frames:
                await ws.send_str(frame)
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    received.append(json.loads(message.data))
            return received, ws.close_code

    return asyncio.run(run())


def test_a_websocket_frame_past_its_limit_gets_a_status_frame(tight: Sidecar) -> None:
    header = json.dumps({"header": {"sampleRateHz": 16000}})
    chunk = json.dumps({"audio": {"data": base64.b64encode(b"\x01\x00" * (STREAM_BYTES // 2 + 8)).decode()}})
    received, close_code = _ws_run(tight.http_port, [header, chunk, json.dumps({"end": {}})])
    status = received[-1]["status"]
    assert status["code"] == "resource_exhausted" and "limits.max_stream_message_bytes" in status["message"], status
    huge = "x" * (STREAM_BYTES * 3)  # past what aiohttp reads at all: still the status frame, then 1009
    received, close_code = _ws_run(tight.http_port, [header, huge])
    assert received and received[-1]["status"]["code"] == "resource_exhausted", received
    assert close_code == 1009
    assert wait_until(lambda: tight.streams is not None and tight.streams.active == 0, 5)


def test_empty_chunks_do_not_keep_a_stream_open(face: fa_grpc.FaceAnimationStub) -> None:
    """A stream fed only empty chunks (every 0.1 s, well inside the stall timeout) ends after the audio-less
    timeout, with its frames so far and DEADLINE_EXCEEDED naming the limit."""
    def empties() -> Iterator[fa.StreamAnimateRequest]:
        yield HEADER
        yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * 1600))
        for _ in range(600):  # 60 s unless the server ends it
            yield fa.StreamAnimateRequest(audio=fa.AudioChunk())
            time.sleep(0.1)

    started = time.monotonic()
    received: list[fa.StreamAnimateResponse] = []
    with pytest.raises(grpc.RpcError) as err:
        for response in face.StreamAnimate(empties(), timeout=60):
            received.append(response)
    elapsed = time.monotonic() - started
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value.details()
    assert "limits.stream_audioless_timeout_s" in (err.value.details() or "")
    assert AUDIOLESS_S - 0.2 <= elapsed < 30, elapsed
    assert any(r.WhichOneof("message") == "frames" for r in received)


def test_a_stream_ends_at_its_lifetime(face: fa_grpc.FaceAnimationStub) -> None:
    pcm = speech_pcm16()

    def paced() -> Iterator[fa.StreamAnimateRequest]:
        yield HEADER
        for i in range(1000):  # 40 s of 40 ms chunks unless the server ends it
            start = (i * 1280) % (len(pcm) - 1280)
            yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[start:start + 1280]))
            time.sleep(0.04)

    started = time.monotonic()
    frames = 0
    with pytest.raises(grpc.RpcError) as err:
        for response in face.StreamAnimate(paced(), timeout=60):
            frames += response.frames.frame_count
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value.details()
    assert "limits.max_stream_s" in (err.value.details() or "")
    assert LIFETIME_S - 0.2 <= time.monotonic() - started < 30
    assert frames > 0


# ---------------------------------------------------------------------------------------------- HTTP


def _raw(port: int, data: bytes, *, wait_s: float = 0.0) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; (what came back, seconds until the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        started = time.monotonic()
        if wait_s:
            time.sleep(wait_s)
        reply = b""
        while True:
            try:
                piece = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not piece:
                break
            reply += piece
        return reply, time.monotonic() - started


def test_a_half_sent_request_head_does_not_hold_the_socket(tight: Sidecar) -> None:
    for partial in (b"", b"POST /mien.v1.FaceAnimation/Describe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "):
        _, held_s = _raw(tight.http_port, partial)
        assert held_s < HEADER_TIMEOUT_S + 10, held_s  # closed after the header timeout (generous on a busy box)


def test_a_body_slower_than_its_timeout_is_408(tight: Sidecar) -> None:
    head = (f"POST /{FACE}/Describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{").encode()
    reply, held_s = _raw(tight.http_port, head)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "deadline_exceeded" and "limits.http_body_timeout_s" in body["message"], body
    assert held_s < BODY_TIMEOUT_S + 10


def test_compressed_bodies_are_refused(tight: Sidecar) -> None:
    bomb = gzip.compress(b"{" + b" " * (8 << 20) + b"}")  # 8 MB of JSON in ~8 KB
    status, body, _ = _post(tight.http_port, "Describe", bomb, {"Content-Encoding": "gzip"})
    assert status == 415 and body["code"] == "invalid_argument" and "Content-Encoding" in body["message"], body


def test_oversized_http_headers_get_the_json_error_body(tight: Sidecar) -> None:
    request = (f"POST /{FACE}/Describe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"X-Big: {'a' * 20000}\r\nContent-Length: 2\r\n\r\n{{}}").encode()
    reply, _ = _raw(tight.http_port, request)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"400", b"431"), head
    assert b"application/json" in head and json.loads(body)["code"] in ("invalid_argument", "resource_exhausted")
    many = "".join(f"X-H{i}: v\r\n" for i in range(200))
    reply, _ = _raw(tight.http_port, (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n").encode())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"application/json" in head and "code" in json.loads(body), reply[:300]
    status, _, _ = _post(tight.http_port, "Describe", {})
    assert status == 200


def test_oversized_grpc_metadata_is_refused_and_the_server_keeps_serving(face: fa_grpc.FaceAnimationStub) -> None:
    with pytest.raises(grpc.RpcError) as err:
        face.Describe(fa.DescribeRequest(), metadata=(("x-big", "a" * 64 * 1024),), timeout=30)
    assert err.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL,
                                grpc.StatusCode.UNAVAILABLE), err.value.code()  # refused by gRPC's transport
    assert face.Describe(fa.DescribeRequest(), timeout=30).versions


def test_large_json_responses_are_streamed_and_equal_grpc(tight: Sidecar, face: fa_grpc.FaceAnimationStub) -> None:
    most = MAX_VALUES // ARKIT
    request = fa.AnimateLineRequest(idle_duration_s=_idle_for(most), fps=10, seed=3)
    status, body, headers = _post(tight.http_port, "AnimateLine", json_format.MessageToDict(request))
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked", headers
    track = face.AnimateLine(request, timeout=60)
    parsed = json_format.ParseDict(body, fa.AnimationTrack())
    assert list(parsed.values) == list(track.values) and parsed.frame_count == most
