"""Odd but legal input never breaks the error contract (issue 11, item 5).

* very short audio (0, 1, 2 samples; PCM at several rates and WAV files; with and without a transcript; every
  mode; and streams): a valid track (at least one frame, values = frames x channels, all finite) or
  INVALID_ARGUMENT, never INTERNAL, over gRPC, HTTP and the WebSocket;
* JSON the gateway cannot parse (huge numbers, 10**400 and 5000-digit integers, lone surrogates in values and
  keys, deep nesting, duplicate keys, wrong types, NaN/Infinity tokens, non-UTF-8, booleans for numbers,
  bytes that are not base64): 400 with the JSON error body naming the field; on a WebSocket the same as a
  status frame before the close;
* messages never repeat kilobytes of input nor Python exception text: every string field of every request
  filled with 100 KB of junk gives a message of at most 1 KB.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf

from mien.v1 import common_pb2 as pb
from mien.v1 import emotion_state_pb2 as es
from mien.v1 import face_animation_pb2 as fa

from .conftest import MATRIX_NPC, Hardened
from .harness import EMOTION, FACE, raw_stream, wait_until

MODES = {"auto": fa.ANIMATION_MODE_AUTO, "aligned": fa.ANIMATION_MODE_ALIGNED,
         "recognized": fa.ANIMATION_MODE_RECOGNIZED, "neural": fa.ANIMATION_MODE_NEURAL}
PYTHON_TEXT = ("Traceback", "Error:", "Exception", "object has no attribute", "NoneType", "int()", "float()",
               "could not broadcast")


def _wav(samples: int, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.full(samples, 0.1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _audio(kind: str, samples: int, rate: int) -> pb.AudioInput:
    if kind == "wav":
        return pb.AudioInput(file=_wav(samples, rate))
    return pb.AudioInput(pcm=pb.PcmAudio(data=b"\x10\x00" * samples, sample_rate_hz=rate))


def _valid(track: fa.AnimationTrack) -> None:
    assert track.frame_count >= 1
    assert len(track.values) == track.frame_count * len(track.channel_names)
    assert all(math.isfinite(v) for v in track.values)


def _no_python(message: str) -> None:
    assert len(message) <= 1024, len(message)
    for needle in PYTHON_TEXT:
        assert needle not in message, message


SHORT = [(kind, samples, rate) for kind in ("pcm", "wav") for samples in (0, 1, 2) for rate in (4000, 16000, 384000)]


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("transcript", ["", "hello there"])
def test_very_short_audio_over_grpc(hardened: Hardened, mode: str, transcript: str) -> None:
    outcomes = []
    for kind, samples, rate in SHORT:
        request = fa.AnimateLineRequest(audio=_audio(kind, samples, rate), transcript=transcript, mode=MODES[mode])
        try:
            track = hardened.face.AnimateLine(request, timeout=60)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (kind, samples, rate, error.details())
            _no_python(error.details() or "")
            outcomes.append("refused")
            continue
        _valid(track)
        outcomes.append("track")
    if mode == "aligned" and not transcript:
        assert set(outcomes) == {"refused"}  # aligned needs a transcript
    else:
        assert "track" in outcomes  # one sample is a (very short) line, not an error


@pytest.mark.parametrize("samples", [0, 1, 2])
def test_very_short_audio_over_http(hardened: Hardened, samples: int) -> None:
    import base64

    for mode in MODES:
        for transcript in ("", "hi"):
            body = {"audio": {"pcm": {"data": base64.b64encode(b"\x10\x00" * samples).decode(),
                                      "sampleRateHz": 16000}}, "mode": f"ANIMATION_MODE_{mode.upper()}",
                    "transcript": transcript}
            status, reply = _post(hardened, "AnimateLine", json.dumps(body).encode())
            assert status in (200, 400), (mode, transcript, status, reply)
            if status == 400:
                assert reply["code"] == "invalid_argument"
                _no_python(reply["message"])
            else:
                assert reply["frameCount"] >= 1 and len(reply["values"]) == reply["frameCount"] * len(
                    reply["channelNames"])


@pytest.mark.parametrize("samples", [0, 1, 3])
@pytest.mark.parametrize("rate", [4000, 16000, 384000])
def test_very_short_streams(hardened: Hardened, samples: int, rate: int) -> None:
    messages = [fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=rate))]
    if samples:
        messages.append(fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x10\x00" * samples)))
    messages.append(fa.StreamAnimateRequest(end=fa.EndOfAudio()))
    responses = list(hardened.face.StreamAnimate(iter(messages), timeout=60))
    kinds = [r.WhichOneof("message") for r in responses]
    assert kinds[0] == "header" and kinds[-1] == "end", kinds
    channels = len(responses[0].header.channel_names)
    frames = [r.frames for r in responses if r.WhichOneof("message") == "frames"]
    assert sum(f.frame_count for f in frames) == responses[-1].end.frame_count >= 1
    assert all(len(f.values) == f.frame_count * channels for f in frames)


def test_very_short_websocket_streams(hardened: Hardened) -> None:
    import base64

    for samples in (0, 1):
        frames = [json.dumps({"header": {"sampleRateHz": 16000}})]
        if samples:
            frames.append(json.dumps({"audio": {"data": base64.b64encode(b"\x10\x00" * samples).decode()}}))
        frames.append(json.dumps({"end": {}}))
        received, close_code = _ws(hardened, frames)
        assert received[-1] == {"status": {"code": "ok", "message": ""}} and close_code == 1000, received
        assert "end" in received[-2] and received[-2]["end"]["frameCount"] >= 1


# ---------------------------------------------------------------------------------------------- JSON


def _post(h: Hardened, method: str, body: bytes, service: str = FACE) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{h.base}/{service}/{method}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        assert error.headers.get("Content-Type", "").startswith("application/json"), text[:200]
        return error.code, json.loads(text)


BIG = "x" * 5000
ODD_JSON: list[tuple[str, bytes, str]] = [
    ("float-1e999", b'{"fps": 1e999, "idleDurationS": 1}', "field fps"),
    ("int-10e400-into-uint64", b'{"seed": ' + b"9" * 400 + b', "idleDurationS": 1}', "field seed"),
    ("int-5000-digits", b'{"seed": ' + b"9" * 5000 + b', "idleDurationS": 1}', "field seed"),
    ("int-10e400-into-float", b'{"fps": ' + b"9" * 400 + b', "idleDurationS": 1}', "field fps"),
    ("int-10e400-into-double", b'{"idleDurationS": ' + b"9" * 400 + b"}", "field idleDurationS"),
    ("negative-int-into-uint", b'{"seed": -5, "idleDurationS": 1}', "field seed"),
    ("float-into-int", b'{"seed": 1.5, "idleDurationS": 1}', "field seed"),
    ("string-into-int", b'{"seed": "abc", "idleDurationS": 1}', "field seed"),
    ("lone-surrogate-value", b'{"transcript": "\\ud800", "idleDurationS": 1}', "field transcript"),
    ("lone-surrogate-key", b'{"\\ud800": 1}', "not valid Unicode"),
    ("lone-low-surrogate-in-nested-key", b'{"options": {"\\udfff": 1}}', "not valid Unicode"),
    ("deep-nesting", b'{"a":' * 100_000, "nested too deeply"),
    ("deep-arrays", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ("deep-valid-field", b'{"emotion": ' + b'{"constant": ' * 60 + b"1" + b"}" * 61, "field emotion"),
    ("duplicate-key", b'{"fps": 1, "fps": 2}', "appears twice"),
    ("duplicate-nested-key", b'{"options": {"blinkScale": 1, "blinkScale": 2}}', "appears twice"),
    ("NaN-token", b'{"fps": NaN, "idleDurationS": 1}', "field fps"),
    ("Infinity-token", b'{"fps": Infinity, "idleDurationS": 1}', "field fps"),
    ("minus-Infinity-token", b'{"idleDurationS": -Infinity}', "field idleDurationS"),
    ("array-for-string", b'{"transcript": [1, 2]}', "field transcript"),
    ("object-for-string", b'{"rig": {}}', "field rig"),
    ("boolean-for-number", b'{"fps": true, "idleDurationS": 1}', "field fps"),
    ("boolean-for-string", b'{"rig": false}', "field rig"),
    ("string-for-object", b'{"options": "fast"}', "options"),
    ("not-base64", b'{"audio": {"file": "!!!!****"}}', "field audio.file"),
    ("not-utf8", b'{"transcript": "\xff\xfe"}', "not UTF-8"),
    ("utf16", '{"fps": 1}'.encode("utf-16"), "not UTF-8"),
    ("huge-key", ('{"' + BIG + '": 1}').encode(), "unknown field"),
    ("huge-enum-name", ('{"mode": "' + BIG + '"}').encode(), "field mode"),
    ("huge-float-string", ('{"fps": "' + BIG + '"}').encode(), "field fps"),
    ("uint32-out-of-range", b'{"audio": {"pcm": {"sampleRateHz": 99999999999, "data": ""}}}', "sampleRateHz"),
    ("map-value-wrong", b'{"emotion": {"constant": {"blend": {"weights": {"happy": "x"}}}}}', "weights[happy]"),
    ("control-char", b'{"transcript": "a\x01b"}', "not valid JSON"),
    ("trailing-garbage", b'{"fps": 1} x', "not valid JSON"),
    ("json-string", b'"hello"', "must be a JSON object"),
    ("json-null", b"null", "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "needle"), [pytest.param(b, n, id=i) for i, b, n in ODD_JSON])
def test_json_the_gateway_cannot_parse_gets_the_json_error_naming_the_field(hardened: Hardened, body: bytes,
                                                                           needle: str) -> None:
    status, reply = _post(hardened, "AnimateLine", body)
    assert status == 400 and set(reply) == {"code", "message"} and reply["code"] == "invalid_argument", reply
    assert needle in reply["message"], reply
    _no_python(reply["message"])
    assert BIG[:200] not in reply["message"]


def _ws(h: Hardened, frames: list[str]) -> tuple[list[Any], int | None]:
    async def run() -> tuple[list[Any], int | None]:
        received: list[Any] = []
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"{h.ws_base}/{FACE}/StreamAnimate") as ws:
            for frame in frames:
                await ws.send_str(frame)
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    received.append(json.loads(message.data))
            return received, ws.close_code

    return asyncio.run(run())


WS_ODD = [
    ('{"header": {"sampleRateHz": ' + "9" * 5000 + "}}", "sampleRateHz"),
    ('{"header": {"sampleRateHz": 16000, "fps": NaN}}', "fps"),
    ('{"\\ud800": {}}', "not valid Unicode"),
    ('{"header": {"sampleRateHz": 16000, "rig": "\\udc00"}}', "rig"),
    ("[" * 5000, "nested too deeply"),
    ('{"header": {"sampleRateHz": true}}', "sampleRateHz"),
    ('{"header": {"sampleRateHz": 16000}, "header": {}}', "appears twice"),
]


@pytest.mark.parametrize(("frame", "needle"), WS_ODD)
def test_websocket_frames_the_gateway_cannot_parse_end_with_a_status_frame(hardened: Hardened, frame: str,
                                                                          needle: str) -> None:
    received, close_code = _ws(hardened, [frame])
    status = received[-1]["status"]
    assert status["code"] == "invalid_argument" and needle in status["message"], received
    _no_python(status["message"])
    assert close_code == 1000
    assert hardened.sidecar.streams is not None and wait_until(lambda: hardened.sidecar.streams.active == 0, 5)


def test_odd_frames_after_the_header_too(hardened: Hardened) -> None:
    received, close_code = _ws(hardened, [json.dumps({"header": {"sampleRateHz": 16000}}),
                                          '{"audio": {"data": "' + "*" * 100 + '"}}'])
    status = received[-1]["status"]
    assert status["code"] == "invalid_argument" and "frame 1" in status["message"], received
    assert "audio.data" in status["message"], received
    assert close_code == 1000


# ------------------------------------------------------------------------------------------- echoes

JUNK = "\u202e\n" + "Z" * 100_000


def _junk_requests() -> list[tuple[str, Any]]:
    """Every string field of every FaceAnimation / EmotionState request, one at a time, full of junk."""
    audio = pb.AudioInput(pcm=pb.PcmAudio(data=b"\x10\x00" * 1600, sample_rate_hz=16000))
    return [
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(idle_duration_s=0.5, rig=JUNK)),
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(audio=audio, transcript=JUNK[:4000] + " " + JUNK)),
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(idle_duration_s=0.5, npc_id=JUNK,
                                                            emotion=pb.EmotionSpec(auto=pb.AutoEmotion()))),
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(idle_duration_s=0.5, emotion=pb.EmotionSpec(
            constant=pb.EmotionValue(category=pb.CategoryEmotion(name=JUNK)))),),
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(idle_duration_s=0.5, emotion=pb.EmotionSpec(
            constant=pb.EmotionValue(blend=pb.BlendEmotion(weights={JUNK: 0.5}))))),
        ("FaceAnimation/AnimateLine", fa.AnimateLineRequest(audio=pb.AudioInput(file=JUNK.encode()))),
        ("EmotionState/SetPersona", es.SetPersonaRequest(npc_id=JUNK, preset="average")),
        ("EmotionState/SetPersona", es.SetPersonaRequest(npc_id="junk_npc", preset=JUNK)),
        ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(npc_id=MATRIX_NPC, speaker=es.SPEAKER_OTHER,
                                                                     text=JUNK)),
        ("EmotionState/GetState", es.GetStateRequest(npc_id=JUNK)),
        ("EmotionState/ExportState", es.ExportStateRequest(npc_id=JUNK)),
        ("EmotionState/ImportState", es.ImportStateRequest(blob=JUNK.encode())),
        ("EmotionState/ResetState", es.ResetStateRequest(npc_id=JUNK)),
    ]


def test_no_message_repeats_kilobytes_of_input(hardened: Hardened) -> None:
    from google.protobuf import json_format

    for method, request in _junk_requests():
        service, name = method.split("/")
        call = hardened.channel.unary_unary(f"/mien.v1.{method}", request_serializer=lambda m: m.SerializeToString(),
                                            response_deserializer=lambda b: b)
        try:
            call(request, timeout=60)
            continue  # accepted (e.g. a blend weight name that is refused later would not be): nothing echoed
        except grpc.RpcError as error:
            assert error.code() != grpc.StatusCode.INTERNAL, (method, error.details())
            _no_python(error.details() or "")
            assert "\n" not in (error.details() or "") and "Z" * 200 not in (error.details() or ""), method
        body = json.dumps(json_format.MessageToDict(request)).encode()
        status, reply = _post(hardened, name, body, service=f"mien.v1.{service}")
        assert status != 500, (method, reply)
        if status != 200:
            _no_python(reply["message"])
            assert "Z" * 200 not in reply["message"], method


def test_stream_headers_full_of_junk(hardened: Hardened) -> None:
    for header in (fa.StreamHeader(sample_rate_hz=16000, rig=JUNK),
                   fa.StreamHeader(sample_rate_hz=16000, npc_id=JUNK, emotion=pb.EmotionSpec(auto=pb.AutoEmotion())),
                   fa.StreamHeader(sample_rate_hz=16000, emotion=pb.EmotionSpec(constant=pb.EmotionValue(
                       category=pb.CategoryEmotion(name=JUNK))))):
        payloads = iter([fa.StreamAnimateRequest(header=header).SerializeToString()])
        with pytest.raises(grpc.RpcError) as err:
            list(raw_stream(hardened.channel, f"/{FACE}/StreamAnimate")(payloads, timeout=60))
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), err.value.details()
        _no_python(err.value.details() or "")
        assert "Z" * 200 not in (err.value.details() or "")
    assert EMOTION  # the EmotionState service was exercised above
