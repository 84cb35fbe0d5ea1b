"""The bad-input matrix: one table of cases over gRPC, HTTP/JSON, WebSocket, the CLI and bake manifests.

Every row: (id, transport, request, expected status, substring of the message). Each case must get
exactly its status with a message naming the problem, and afterwards the *same* server must answer a
good request (gRPC and HTTP), finish a good stream, and hold no stream open. CLI cases check the exit
code (1: an input failed, 2: usage/config) and stderr; bake cases check the manifest parser's problems
(and ``mien bake``'s exit code and stderr once that command exists; skipped until then).

Transports: ``grpc`` (unary FaceAnimation and EmotionState), ``stream`` (StreamAnimate over gRPC),
``http`` (the gateway's POST routes), ``ws`` (StreamAnimate over the gateway's WebSocket), ``cli``
(``mien animate``), ``bake`` (bake manifests).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest
from loguru import logger

from mien import cli
from mien.v1 import common_pb2 as pb
from mien.v1 import emotion_state_pb2 as es
from mien.v1 import face_animation_pb2 as fa

from .conftest import MATRIX_NPC, MAX_MESSAGE_BYTES, Hardened
from .harness import (
    EMOTION,
    FACE,
    encode,
    field_bytes,
    flac_declaring,
    mien_command,
    raw_stream,
    raw_unary,
    speech_bytes,
    tone,
    wait_until,
    wav,
)

# --------------------------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Case:
    id: str
    transport: str
    """grpc | stream | http | ws | cli | bake"""
    request: Any
    expect: str | int
    """gRPC code name (grpc, stream), HTTP status (http), Connect code (ws), exit code (cli), problem kind (bake)."""
    needle: str
    """A substring of the error message (gRPC details, JSON message, status frame, stderr, problem text)."""
    bug: str = ""
    """Non-empty: a known product bug (the case is marked xfail strict with this reason)."""
    racy: bool = False
    """Timing-sensitive (messages after EndOfAudio): the case must hold RACY_TRIES times in a row."""


def _anim(**fields: Any) -> fa.AnimateLineRequest:
    return fa.AnimateLineRequest(**fields)


def _file(data: bytes, **fields: Any) -> tuple[str, fa.AnimateLineRequest]:
    return ("FaceAnimation/AnimateLine", _anim(audio=pb.AudioInput(file=data), **fields))


def _pcm(data: bytes, rate: int = 16000, encoding: int = 0, channels: int = 0) -> tuple[str, fa.AnimateLineRequest]:
    return ("FaceAnimation/AnimateLine", _anim(audio=pb.AudioInput(pcm=pb.PcmAudio(
        data=data, sample_rate_hz=rate, encoding=encoding, channels=channels))))


def _idle(**fields: Any) -> tuple[str, fa.AnimateLineRequest]:
    return ("FaceAnimation/AnimateLine", _anim(idle_duration_s=0.5, **fields))


def _emotion(**value: Any) -> pb.EmotionSpec:
    return pb.EmotionSpec(constant=pb.EmotionValue(**value))


def _cat(name: str, intensity: float | None = None) -> pb.EmotionValue:
    c = pb.CategoryEmotion(name=name) if intensity is None else pb.CategoryEmotion(name=name, intensity=intensity)
    return pb.EmotionValue(category=c)


def _keyframes(*frames: tuple[float, pb.EmotionValue | None]) -> pb.EmotionSpec:
    return pb.EmotionSpec(keyframes=pb.EmotionKeyframes(keyframes=[
        pb.EmotionKeyframe(time_s=t, value=v) if v is not None else pb.EmotionKeyframe(time_s=t) for t, v in frames]))


def _f32(values: list[float], repeat: int = 200) -> bytes:
    return np.array(values * repeat, dtype="<f4").tobytes()


def _nan_wav() -> bytes:
    x = tone()
    x[100] = np.nan
    return encode(x, subtype="FLOAT")


WAV_OK = wav()
FLAC = encode(tone(), fmt="FLAC")
HOURS_FLAC = flac_declaring((1 << 36) - 1)  # ~4.3 million seconds declared in STREAMINFO
HEADER = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
AUDIO = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x01" * 800))
END = fa.StreamAnimateRequest(end=fa.EndOfAudio())


def _header(**fields: Any) -> fa.StreamAnimateRequest:
    return fa.StreamAnimateRequest(header=fa.StreamHeader(**{"sample_rate_hz": 16000, **fields}))


def _chunk(data: bytes, **fields: Any) -> fa.StreamAnimateRequest:
    return fa.StreamAnimateRequest(audio=fa.AudioChunk(data=data, **fields))


def _stalls() -> Iterator[fa.StreamAnimateRequest]:
    yield HEADER
    yield AUDIO
    time.sleep(3.0)  # the stall timeout of the test server is 1 s


# raw protobuf: AnimateLineRequest.transcript (field 2) / ObserveUtteranceRequest.text (field 3) /
# StreamHeader.npc_id (field 9) holding bytes that are not UTF-8
_BAD_UTF8 = b"go \xff\xfe forward"
_RAW_TRANSCRIPT = field_bytes(2, _BAD_UTF8) + fa.AnimateLineRequest(idle_duration_s=0.5).SerializeToString()
_RAW_OBSERVE = (es.ObserveUtteranceRequest(npc_id=MATRIX_NPC, speaker=es.SPEAKER_OTHER).SerializeToString()
                + field_bytes(3, _BAD_UTF8))
_RAW_HEADER = field_bytes(1, fa.StreamHeader(sample_rate_hz=16000).SerializeToString() + field_bytes(9, _BAD_UTF8))
GRPC_CASES = [
    # --- audio files -------------------------------------------------------------------------------
    Case("G01-wav-truncated-mid-header", "grpc", _file(WAV_OK[:20]), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G02-wav-truncated-after-fmt", "grpc", _file(WAV_OK[:40]), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G03-wav-zero-channels", "grpc", _file(wav(channels=0)), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G04-wav-65535-channels", "grpc", _file(wav(channels=65535)), "INVALID_ARGUMENT",
         "not a readable audio file"),
    Case("G05-wav-17-channels", "grpc", _file(encode(tone(0.1, channels=17))), "INVALID_ARGUMENT",
         "has 17 channels; accepted: 1 to 16"),
    Case("G06-wav-rate-0", "grpc", _file(wav(rate=0)), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G07-wav-rate-1hz", "grpc", _file(wav(rate=1)), "INVALID_ARGUMENT", "sample_rate_hz = 1 Hz"),
    Case("G08-wav-rate-3999hz", "grpc", _file(wav(rate=3999)), "INVALID_ARGUMENT", "sample_rate_hz = 3999 Hz"),
    Case("G09-wav-rate-4ghz", "grpc", _file(wav(rate=0xFFFFFFFF)), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G10-wav-rate-500khz", "grpc", _file(encode(tone(0.05, rate=500_000), rate=500_000)), "INVALID_ARGUMENT",
         "sample_rate_hz = 500000 Hz"),
    Case("G11-wav-zero-bits", "grpc", _file(wav(bits=0)), "INVALID_ARGUMENT", "not a readable audio file"),
    Case("G12-wav-unknown-format-tag", "grpc", _file(wav(fmt_tag=0xFFFF)), "INVALID_ARGUMENT",
         "not a readable audio file"),
    # A data chunk declaring 4 GB in a small file is what streaming WAV writers emit (length unknown):
    # the declared size is not trusted, the real samples are decoded (0.2 s), nothing is allocated for 4 GB.
    Case("G13-wav-declares-4gb", "grpc", _file(wav(data_size=0xFFFFFFF0, riff_size=0xFFFFFFF8)), "OK", "0.2"),
    Case("G14-flac-declares-hours", "grpc", _file(HOURS_FLAC), "INVALID_ARGUMENT", "the maximum is 300 s"),
    Case("G15-flac-truncated", "grpc", _file(FLAC[: len(FLAC) // 2]), "INVALID_ARGUMENT", "damaged or truncated"),
    Case("G16-ogg-header-only", "grpc", _file(b"OggS" + b"\x00" * 60), "INVALID_ARGUMENT",
         "not a readable audio file"),
    Case("G17-text-as-audio", "grpc", _file(b"Halt! Who goes there? This is a text file." * 20), "INVALID_ARGUMENT",
         "not a readable audio file"),
    Case("G18-empty-file", "grpc", _file(b""), "INVALID_ARGUMENT", "audio is empty"),
    Case("G19-no-audio", "grpc", ("FaceAnimation/AnimateLine", _anim()), "INVALID_ARGUMENT", "audio is missing"),
    Case("G20-audio-oneof-unset", "grpc", ("FaceAnimation/AnimateLine", _anim(audio=pb.AudioInput())),
         "INVALID_ARGUMENT", "audio is missing"),
    Case("G21-wav-float-nan", "grpc", _file(_nan_wav()), "INVALID_ARGUMENT", "NaN or infinite samples"),
    # --- raw PCM -------------------------------------------------------------------------------------
    Case("G22-pcm-f32-nan", "grpc", _pcm(_f32([0.0, float("nan")]), encoding=2), "INVALID_ARGUMENT",
         "NaN or infinite samples"),
    Case("G23-pcm-f32-inf", "grpc", _pcm(_f32([0.0, float("-inf")]), encoding=2), "INVALID_ARGUMENT",
         "NaN or infinite samples"),
    Case("G24-pcm-rate-0", "grpc", _pcm(b"\x00\x00" * 100, rate=0), "INVALID_ARGUMENT", "sample_rate_hz = 0 Hz"),
    Case("G25-pcm-rate-4e9", "grpc", _pcm(b"\x00\x00" * 100, rate=4_000_000_000), "INVALID_ARGUMENT",
         "sample_rate_hz = 4000000000 Hz"),
    Case("G26-pcm-encoding-enum-99", "grpc", _pcm(b"\x00\x00" * 100, encoding=99), "INVALID_ARGUMENT",
         "audio.pcm.encoding = 99 is not a known encoding"),
    Case("G27-pcm-odd-bytes", "grpc", _pcm(b"\x00\x00\x00"), "INVALID_ARGUMENT", "not a whole number"),
    Case("G28-pcm-17-channels", "grpc", _pcm(b"\x00\x00" * 170, channels=17), "INVALID_ARGUMENT",
         "audio.channels = 17"),
    Case("G29-pcm-longer-than-limit", "grpc", _pcm(b"\x00\x00" * 4000 * 301, rate=4000), "INVALID_ARGUMENT",
         "the maximum is 300 s"),
    # --- other fields --------------------------------------------------------------------------------
    Case("G30-mode-enum-99", "grpc", _idle(mode=99), "INVALID_ARGUMENT", "mode = 99 is not a known mode"),
    Case("G31-fps-nan", "grpc", _idle(fps=float("nan")), "INVALID_ARGUMENT", "fps = nan"),
    Case("G32-fps-1000", "grpc", _idle(fps=1000), "INVALID_ARGUMENT", "fps = 1000"),
    Case("G33-fps-negative", "grpc", _idle(fps=-5), "INVALID_ARGUMENT", "fps = -5"),
    Case("G34-rig-unknown", "grpc", _idle(rig="mystery_rig"), "INVALID_ARGUMENT", "unknown rig profile"),
    Case("G35-rig-absolute-path", "grpc", _idle(rig="/etc/passwd"), "INVALID_ARGUMENT", "not accepted here"),
    Case("G36-rig-traversal", "grpc", _idle(rig="../../etc/passwd"), "INVALID_ARGUMENT", "not accepted here"),
    Case("G37-emotion-unknown", "grpc", _idle(emotion=_emotion(category=pb.CategoryEmotion(name="grumpy"))),
         "INVALID_ARGUMENT", "unknown emotion 'grumpy'"),
    Case("G38-emotion-intensity-nan", "grpc", _idle(emotion=_emotion(category=pb.CategoryEmotion(
        name="sad", intensity=float("nan")))), "INVALID_ARGUMENT", "intensity = nan"),
    Case("G39-emotion-vad-out-of-range", "grpc", _idle(emotion=_emotion(vad=pb.VadEmotion(valence=7))),
         "INVALID_ARGUMENT", "valence = 7.0 is out of range"),
    Case("G40-emotion-blend-negative", "grpc", _idle(emotion=_emotion(blend=pb.BlendEmotion(weights={"happy": -1}))),
         "INVALID_ARGUMENT", "weights[happy] = -1.0 is out of range"),
    Case("G41-keyframes-not-increasing", "grpc", _idle(emotion=_keyframes((0.3, _cat("sad")), (0.1, _cat("happy")))),
         "INVALID_ARGUMENT", "strictly increasing"),
    Case("G42-keyframe-time-nan", "grpc", _idle(emotion=_keyframes((float("nan"), _cat("sad")))),
         "INVALID_ARGUMENT", "time_s = nan"),
    Case("G43-keyframe-empty-value", "grpc", _idle(emotion=_keyframes((0.1, None))), "INVALID_ARGUMENT",
         "value is empty"),
    Case("G44-emotion-auto-without-npc", "grpc", _idle(emotion=pb.EmotionSpec(auto=pb.AutoEmotion())),
         "INVALID_ARGUMENT", "needs npc_id"),
    Case("G45-emotion-auto-unknown-npc", "grpc", _idle(npc_id="ghost", emotion=pb.EmotionSpec(auto=pb.AutoEmotion())),
         "NOT_FOUND", "npc 'ghost' has no emotion state"),
    Case("G46-options-scale-5", "grpc", _idle(options=pb.AnimationOptions(expression_scale=5)), "INVALID_ARGUMENT",
         "expression_scale = 5.0"),
    Case("G47-idle-and-audio", "grpc", _file(WAV_OK, idle_duration_s=1.0), "INVALID_ARGUMENT", "either audio or idle"),
    Case("G48-idle-1e9-seconds", "grpc", ("FaceAnimation/AnimateLine", _anim(idle_duration_s=1e9)), "INVALID_ARGUMENT",
         "the maximum is 300 s"),
    Case("G49-transcript-enormous", "grpc", _idle(transcript="word " * 200_000), "INVALID_ARGUMENT",
         "the maximum is 5000"),
    Case("G50-aligned-without-transcript", "grpc", _file(WAV_OK, mode=fa.ANIMATION_MODE_ALIGNED), "INVALID_ARGUMENT",
         "needs a transcript"),
    Case("G51-transcript-invalid-utf8", "grpc", ("FaceAnimation/AnimateLine", _RAW_TRANSCRIPT), "INVALID_ARGUMENT",
         "field transcript is not valid UTF-8"),
    Case("G52-not-protobuf", "grpc", ("FaceAnimation/AnimateLine", b"\xff\xff\xff\xff\xff\xff"), "INVALID_ARGUMENT",
         "AnimateLineRequest"),
    Case("G53-message-above-max-bytes", "grpc", _idle(transcript="x" * (MAX_MESSAGE_BYTES + 1024)),
         "RESOURCE_EXHAUSTED", "larger than max"),
    # --- EmotionState ----------------------------------------------------------------------------------
    Case("E01-speaker-enum-99", "grpc", ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(
        npc_id=MATRIX_NPC, speaker=99, text="hi")), "INVALID_ARGUMENT", "speaker = 99"),
    Case("E02-speaker-unspecified", "grpc", ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(
        npc_id=MATRIX_NPC, text="hi")), "INVALID_ARGUMENT", "speaker = SPEAKER_UNSPECIFIED"),
    Case("E03-utterance-enormous", "grpc", ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(
        npc_id=MATRIX_NPC, speaker=es.SPEAKER_OTHER, text="x" * 100_000)), "INVALID_ARGUMENT",
         "text is 100000 characters; accepted: at most 2000"),
    Case("E04-utterance-invalid-utf8", "grpc", ("EmotionState/ObserveUtterance", _RAW_OBSERVE), "INVALID_ARGUMENT",
         "field text is not valid UTF-8"),
    Case("E05-unknown-npc", "grpc", ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(
        npc_id="ghost", speaker=es.SPEAKER_OTHER, text="hi")), "NOT_FOUND", "npc 'ghost' has no emotion state"),
    Case("E06-npc-id-empty", "grpc", ("EmotionState/GetState", es.GetStateRequest()), "INVALID_ARGUMENT",
         "npc_id must be a non-empty string"),
    Case("E07-npc-id-129-chars", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(
        npc_id="n" * 129, preset="average")), "INVALID_ARGUMENT", "npc_id is 129 characters; accepted: at most 128"),
    Case("E08-npc-id-control-char", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(
        npc_id="a\x00b", preset="average")), "INVALID_ARGUMENT", "control characters"),
    Case("E09-preset-unknown", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(
        npc_id="p", preset="zzz")), "INVALID_ARGUMENT", "preset 'zzz' is not a persona"),
    Case("E10-ocean-out-of-range", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(
        npc_id="p", ocean=es.Ocean(openness=2))), "INVALID_ARGUMENT", "ocean.openness must be a number in [0, 1]"),
    Case("E11-ocean-nan", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(
        npc_id="p", ocean=es.Ocean(neuroticism=float("nan")))), "INVALID_ARGUMENT", "ocean.neuroticism"),
    Case("E12-no-persona", "grpc", ("EmotionState/SetPersona", es.SetPersonaRequest(npc_id="p")), "INVALID_ARGUMENT",
         "exactly one of ocean"),
    Case("E13-game-time-nan", "grpc", ("EmotionState/GetState", es.GetStateRequest(
        npc_id=MATRIX_NPC, game_time_s=float("nan"))), "INVALID_ARGUMENT", "game_time_s must be a finite number"),
    Case("E14-game-time-inf", "grpc", ("EmotionState/ObserveUtterance", es.ObserveUtteranceRequest(
        npc_id=MATRIX_NPC, speaker=es.SPEAKER_OTHER, text="hi", game_time_s=float("inf"))), "INVALID_ARGUMENT",
         "game_time_s must be a finite number"),
    Case("E15-import-garbage-blob", "grpc", ("EmotionState/ImportState", es.ImportStateRequest(blob=b"garbage")),
         "INVALID_ARGUMENT", "state blob: truncated"),
    Case("E16-import-flipped-byte", "grpc", ("EmotionState/ImportState", "flip"), "INVALID_ARGUMENT",
         "checksum mismatch"),
    Case("E17-import-truncated", "grpc", ("EmotionState/ImportState", "truncate"), "INVALID_ARGUMENT",
         "does not match the header"),
]

STREAM_CASES = [
    Case("S01-audio-before-header", "stream", [AUDIO, END], "FAILED_PRECONDITION",
         "first message of a stream must be a header, got audio"),
    Case("S02-end-before-header", "stream", [END], "FAILED_PRECONDITION",
         "first message of a stream must be a header, got end"),
    Case("S03-two-headers", "stream", [HEADER, AUDIO, HEADER], "FAILED_PRECONDITION", "a second header"),
    Case("S04-data-after-end", "stream", [HEADER, AUDIO, END, AUDIO], "FAILED_PRECONDITION",
         "a message after EndOfAudio", racy=True),
    Case("S05-two-ends", "stream", [HEADER, AUDIO, END, END], "FAILED_PRECONDITION", "a message after EndOfAudio",
         racy=True),
    Case("S06-empty-message", "stream", [HEADER, fa.StreamAnimateRequest()], "FAILED_PRECONDITION",
         "an empty message"),
    Case("S07-nothing-sent", "stream", [], "FAILED_PRECONDITION", "got nothing"),
    Case("S08-header-rate-0", "stream", [fa.StreamAnimateRequest(header=fa.StreamHeader())], "INVALID_ARGUMENT",
         "header.sample_rate_hz = 0"),
    Case("S09-header-rate-4e9", "stream", [_header(sample_rate_hz=4_000_000_000)], "INVALID_ARGUMENT",
         "header.sample_rate_hz = 4000000000"),
    Case("S10-header-encoding-99", "stream", [_header(encoding=99)], "INVALID_ARGUMENT",
         "header.encoding = 99 is not a known encoding"),
    Case("S11-header-channels-17", "stream", [_header(channels=17)], "INVALID_ARGUMENT", "header.channels = 17"),
    Case("S12-header-fps-500", "stream", [_header(fps=500)], "INVALID_ARGUMENT", "header.fps"),
    Case("S13-header-keyframes", "stream", [_header(emotion=_keyframes((0.1, _cat("sad"))))], "INVALID_ARGUMENT",
         "keyframes are sent on audio chunks"),
    Case("S14-chunk-odd-bytes", "stream", [HEADER, _chunk(b"\x00\x00\x00")], "INVALID_ARGUMENT",
         "not a whole number"),
    Case("S15-chunk-f32-nan", "stream", [_header(encoding=2), _chunk(_f32([0.0, float("nan")]))], "INVALID_ARGUMENT",
         "NaN or infinite"),
    Case("S16-chunk-11-seconds", "stream", [HEADER, _chunk(b"\x00\x00" * 16000 * 11)], "INVALID_ARGUMENT",
         "per chunk"),
    Case("S17-keyframe-in-the-past", "stream", [HEADER, _chunk(b"\x00\x00" * 800, emotion_keyframes=[
        pb.EmotionKeyframe(time_s=-1, value=_cat("sad"))])], "INVALID_ARGUMENT", "in the past"),
    Case("S18-header-invalid-utf8", "stream", [_RAW_HEADER, AUDIO, END], "INVALID_ARGUMENT",
         "header.npc_id is not valid UTF-8"),
    Case("S19-stalled-client", "stream", _stalls, "DEADLINE_EXCEEDED", "limits.stream_stall_timeout_s"),
]


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ANIMATE = f"/{FACE}/AnimateLine"
OBSERVE = f"/{EMOTION}/ObserveUtterance"

HTTP_CASES = [
    Case("H01-body-invalid-utf8", "http", (ANIMATE, b'{"transcript": "go \xff\xfe forward", "idleDurationS": 1}'),
         400, "not UTF-8"),
    Case("H02-unpaired-surrogate", "http", (ANIMATE, b'{"transcript": "\\ud800", "idleDurationS": 1}'), 400,
         "field transcript"),
    Case("H03-not-json", "http", (ANIMATE, b"audio=please"), 400, "not valid JSON"),
    Case("H04-json-array", "http", (ANIMATE, b"[1, 2]"), 400, "must be a JSON object"),
    Case("H05-json-nested-too-deep", "http", (ANIMATE, b"[" * 100_000), 400, "nested too deeply"),
    Case("H06-unknown-field", "http", (ANIMATE, _json({"transcirpt": "hi"})), 400, "unknown field 'transcirpt'"),
    Case("H07-duplicate-key", "http", (ANIMATE, b'{"idleDurationS": 1, "idleDurationS": 2}'), 400, "appears twice"),
    Case("H08-enum-unknown-name", "http", (ANIMATE, _json({"mode": "ANIMATION_MODE_FAST", "idleDurationS": 1})), 400,
         "is not a value of mien.v1.AnimationMode"),
    Case("H09-enum-number-99", "http", (ANIMATE, _json({"mode": 99, "idleDurationS": 1})), 400,
         "mode = 99 is not a known mode"),
    Case("H10-fps-string", "http", (ANIMATE, _json({"fps": "fast", "idleDurationS": 1})), 400, "field fps"),
    Case("H11-fps-bare-nan", "http", (ANIMATE, b'{"fps": NaN, "idleDurationS": 1}'), 400, "field fps"),
    Case("H12-seed-negative", "http", (ANIMATE, _json({"seed": -1, "idleDurationS": 1})), 400, "field seed"),
    Case("H13-idle-1e400", "http", (ANIMATE, b'{"idleDurationS": 1e400}'), 400, "idleDurationS"),
    Case("H14-audio-file-is-a-number", "http", (ANIMATE, _json({"audio": {"file": 5}})), 400, "audio.file"),
    Case("H15-flac-declares-hours", "http", (ANIMATE, _json({"audio": {"file": _b64(HOURS_FLAC)}})), 400,
         "the maximum is 300 s"),
    Case("H16-wav-truncated", "http", (ANIMATE, _json({"audio": {"file": _b64(WAV_OK[:30])}})), 400,
         "not a readable audio file"),
    Case("H17-pcm-f32-nan", "http", (ANIMATE, _json({"audio": {"pcm": {
        "data": _b64(_f32([0.0, float("nan")])), "sampleRateHz": 16000, "encoding": "PCM_ENCODING_F32LE"}}})), 400,
         "NaN or infinite"),
    Case("H18-transcript-enormous", "http", (ANIMATE, _json({"transcript": "word " * 200_000, "idleDurationS": 1})),
         400, "the maximum is 5000"),
    Case("H19-body-above-max-bytes", "http", (ANIMATE, b'{"transcript": "' + b"x" * (MAX_MESSAGE_BYTES + 10) + b'"}'),
         413, "limits.max_message_bytes"),
    Case("H20-wrong-content-type", "http", (ANIMATE, b"{}", "text/plain"), 415, "application/json"),
    Case("H21-get-on-unary", "http", (ANIMATE, None, None, "GET"), 405, "send POST"),
    Case("H22-unknown-route", "http", ("/mien.v1.FaceAnimation/Animate", b"{}"), 404, "no method POST"),
    Case("H23-speaker-enum-99", "http", (OBSERVE, _json({"npcId": MATRIX_NPC, "speaker": 99, "text": "hi"})), 400,
         "speaker = 99"),
    Case("H24-unknown-npc", "http", (OBSERVE, _json({"npcId": "ghost", "speaker": "SPEAKER_OTHER", "text": "hi"})),
         404, "npc 'ghost' has no emotion state"),
    Case("H25-utterance-enormous", "http", (OBSERVE, _json({"npcId": MATRIX_NPC, "speaker": "SPEAKER_OTHER",
                                                            "text": "x" * 100_000})), 400, "at most 2000"),
]

_H = json.dumps({"header": {"sampleRateHz": 16000}})
_A = json.dumps({"audio": {"data": _b64(b"\x00\x01" * 800)}})
_E = json.dumps({"end": {}})

WS_CASES = [
    Case("W01-audio-before-header", "ws", [_A, _E], "failed_precondition", "must be a header, got audio"),
    Case("W02-two-headers", "ws", [_H, _A, _H], "failed_precondition", "a second header"),
    Case("W03-data-after-end", "ws", [_H, _A, _E, _A], "failed_precondition", "a message after EndOfAudio",
         racy=True),
    Case("W04-binary-frame", "ws", [_H, b"\x00\x01" * 100], "invalid_argument", "send text frames"),
    Case("W05-frame-not-json", "ws", [_H, "{nope"], "invalid_argument", "frame 1"),
    Case("W06-unknown-field", "ws", [json.dumps({"header": {"sampleRateHz": 16000, "zzz": 1}})], "invalid_argument",
         "unknown field 'zzz'"),
    Case("W07-header-rate-0", "ws", [json.dumps({"header": {}})], "invalid_argument", "header.sample_rate_hz = 0"),
    Case("W08-chunk-f32-nan", "ws", [json.dumps({"header": {"sampleRateHz": 16000, "encoding": "PCM_ENCODING_F32LE"}}),
                                     json.dumps({"audio": {"data": _b64(_f32([0.0, float("nan")]))}})],
         "invalid_argument", "NaN or infinite"),
    Case("W09-stalled-client", "ws", [_H, _A, ("wait", 3.0)], "deadline_exceeded", "limits.stream_stall_timeout_s"),
    Case("W10-empty-message", "ws", [_H, "{}"], "failed_precondition", "an empty message"),
    Case("W11-chunk-11-seconds", "ws", [_H, json.dumps({"audio": {"data": _b64(b"\x00\x00" * 16000 * 11)}})],
         "invalid_argument", "per chunk"),
]

CLI_CASES = [
    Case("C01-garbage-file", "cli", ["animate", "{garbage}", "-o", "{out}/a.csv"], 1, "not a readable audio file"),
    Case("C02-missing-file", "cli", ["animate", "{dir}/nope.wav", "-o", "{out}/a.csv"], 1, "No such file"),
    Case("C03-wav-truncated", "cli", ["animate", "{truncated}", "-o", "{out}/a.csv"], 1, "not a readable audio file"),
    Case("C04-flac-declares-hours", "cli", ["animate", "{hours}", "-o", "{out}/a.csv"], 1, "the maximum is 300 s"),
    Case("C05-unknown-emotion", "cli", ["animate", "{good}", "--emotion", "grumpy", "-o", "{out}/a.csv"], 2,
         "unknown emotion 'grumpy'"),
    Case("C06-bad-keyframe-time", "cli", ["animate", "{good}", "--emotion", "0:sad;soon:happy", "-o", "{out}/a.csv"],
         2, "is not a time in seconds"),
    Case("C07-bad-vad", "cli", ["animate", "{good}", "--emotion", "vad:1,2", "-o", "{out}/a.csv"], 2,
         "vad needs three numbers"),
    Case("C08-fps-not-a-number", "cli", ["animate", "{good}", "--fps", "fast", "-o", "{out}/a.csv"], 2,
         "invalid float value"),
    Case("C09-mode-unknown", "cli", ["animate", "{good}", "--mode", "fast", "-o", "{out}/a.csv"], 2,
         "invalid choice"),
    Case("C10-config-not-yaml", "cli", ["--config", "{bad_yaml}", "animate", "{good}", "-o", "{out}/a.csv"], 2,
         "not valid YAML"),
    Case("C11-config-unknown-key", "cli", ["--config", "{typo_yaml}", "animate", "{good}", "-o", "{out}/a.csv"], 2,
         "unknown setting (did you mean 'max_audio_s'?)"),
    Case("C12-config-python-tag", "cli", ["--config", "{python_yaml}", "animate", "{good}", "-o", "{out}/a.csv"], 2,
         "could not determine a constructor"),
    Case("C13-fps-1000", "cli", ["animate", "{good}", "--fps", "1000", "-o", "{out}/a.csv"], 1, "fps = 1000"),
    Case("C14-text-enormous", "cli", ["animate", "{good}", "--text", "word " * 2000, "-o", "{out}/a.csv"], 1,
         "the maximum is 5000"),
    Case("C15-batch-one-bad-file", "cli", ["animate", "{garbage}", "{good}", "--transcripts", "auto", "-o", "{out}"],
         1, "garbage.wav: audio is not a readable audio file"),
    Case("C16-text-file-invalid-utf8", "cli", ["animate", "{badtext_wav}", "{good}", "--transcripts", "auto",
                                               "-o", "{out}"], 1, "UTF-8"),
    # counted as a failed input (exit 1), as tests/test_cli.py::test_usage_errors decides
    Case("C17-output-format-unknown", "cli", ["animate", "{good}", "-o", "{out}/a.xyz"], 1, "output format 'xyz'"),
]

_GOOD_MANIFEST = """version: 1
characters:
  guard: {rig: arkit52}
lines:
  - {id: good_line, character: guard, audio: audio/good.wav, transcript: "go forward ten meters"}
"""
_BAD_LINE = "  - {{id: bad_line, character: guard, audio: {audio}}}\n"

BAKE_CASES = [
    Case("B01-yaml-syntax", "bake", "version: 1\nlines: [\n", "fatal", "not valid YAML"),
    Case("B02-not-a-mapping", "bake", "- a\n- b\n", "fatal", "must be a mapping"),
    Case("B03-no-version", "bake", "characters: {}\nlines: []\n", "fatal", "has no version"),
    Case("B04-version-2", "bake", _GOOD_MANIFEST.replace("version: 1", "version: 2"), "fatal",
         "version 2 is not supported"),
    Case("B05-python-object-tag", "bake", "version: 1\ncharacters: !!python/object/apply:os.system ['echo pwned']\n"
         "lines: []\n", "fatal", "could not determine a constructor"),
    Case("B06-not-utf8", "bake", _GOOD_MANIFEST.encode().replace(b"go forward", b"go \xff\xfe forward"), "fatal",
         "cannot read the manifest"),
    Case("B07-audio-path-traversal", "bake", _GOOD_MANIFEST + _BAD_LINE.format(audio="../outside.wav"), "line",
         "leaves the manifest's folder"),
    Case("B08-audio-absolute-path", "bake", _GOOD_MANIFEST + _BAD_LINE.format(audio="/etc/passwd"), "line",
         "is an absolute path"),
    Case("B09-audio-drive-letter", "bake", _GOOD_MANIFEST + _BAD_LINE.format(audio="C:/audio/x.wav"), "line",
         "is an absolute path"),
    Case("B10-audio-missing", "bake", _GOOD_MANIFEST + _BAD_LINE.format(audio="audio/nope.wav"), "line",
         "does not exist"),
    Case("B11-duplicate-id", "bake", _GOOD_MANIFEST + "  - {id: GOOD_LINE, character: guard, audio: audio/good.wav}\n",
         "line", "is already used"),
    Case("B12-unknown-key", "bake", _GOOD_MANIFEST + "  - {id: bad_line, character: guard, audio: audio/good.wav, "
         "transcirpt: hi}\n", "line", "did you mean 'transcript'"),
    Case("B13-unknown-emotion", "bake", _GOOD_MANIFEST + "  - {id: bad_line, character: guard, audio: audio/good.wav, "
         "emotion: grumpy}\n", "line", "unknown emotion 'grumpy'"),
    Case("B14-unknown-character", "bake", _GOOD_MANIFEST + "  - {id: bad_line, character: ghost, "
         "audio: audio/good.wav}\n", "line", "unknown character 'ghost'"),
    Case("B15-unsafe-line-id", "bake", _GOOD_MANIFEST + "  - {id: ../evil, character: guard, audio: audio/good.wav}\n",
         "line", "not a safe file name"),
    # only the bake itself (not the parser) sees what is inside the audio file
    Case("B16-audio-not-audio", "bake", _GOOD_MANIFEST + _BAD_LINE.format(audio="audio/garbage.wav"), "bake-line",
         "not a readable audio file"),
]

ALL_CASES = GRPC_CASES + STREAM_CASES + HTTP_CASES + WS_CASES + CLI_CASES + BAKE_CASES
RACY_TRIES = 6
"""A timing-sensitive case must hold this many times in a row (a race would show up)."""


def _params(cases: list[Case]) -> list[Any]:
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def test_the_matrix_has_at_least_40_distinct_cases_over_every_transport() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))
    counts = {t: sum(c.transport == t for c in ALL_CASES) for t in ("grpc", "stream", "http", "ws", "cli", "bake")}
    assert len(ids) >= 40 and all(counts.values()), counts


# ------------------------------------------------------------------------------------- good requests


def _good_unary(h: Hardened) -> None:
    track = h.face.AnimateLine(fa.AnimateLineRequest(idle_duration_s=0.5, fps=30), timeout=30)
    assert track.frame_count == 16


def _good_stream(h: Hardened) -> None:
    msgs = [HEADER, *(_chunk(b"\x00\x01" * 640) for _ in range(5)), END]
    responses = list(h.face.StreamAnimate(iter(msgs), timeout=30))
    assert responses[0].WhichOneof("message") == "header" and responses[-1].WhichOneof("message") == "end"
    assert h.sidecar.streams is not None
    assert wait_until(lambda: h.sidecar.streams.active == 0, 5.0), "a stream is still open"


def _good_http(h: Hardened) -> None:
    status, body = _post(h.base, ANIMATE, _json({"idleDurationS": 0.5, "fps": 30}))
    assert status == 200 and json.loads(body)["frameCount"] == 16


# ---------------------------------------------------------------------------------------------- gRPC


def _grpc_payload(h: Hardened, request: Any) -> bytes:
    if request == "flip" or request == "truncate":
        blob = h.state.ExportState(es.ExportStateRequest(npc_id=MATRIX_NPC)).blob
        if request == "flip":
            damaged = bytearray(blob)
            damaged[len(damaged) // 2] ^= 0xFF
            blob = bytes(damaged)
        else:
            blob = blob[: len(blob) // 2]
        return es.ImportStateRequest(blob=blob).SerializeToString()
    return request if isinstance(request, bytes) else request.SerializeToString()


@pytest.mark.parametrize("case", _params(GRPC_CASES))
def test_grpc_unary(hardened: Hardened, case: Case) -> None:
    method, request = case.request
    call = raw_unary(hardened.channel, f"/mien.v1.{method}")
    if case.expect == "OK":
        answer = fa.AnimationTrack.FromString(call(_grpc_payload(hardened, request), timeout=60))
        assert f"{answer.metadata.audio_duration_s:.1f}" == case.needle, answer.metadata
    else:
        with pytest.raises(grpc.RpcError) as err:
            call(_grpc_payload(hardened, request), timeout=60)
        code, details = err.value.code(), err.value.details() or ""
        assert code.name == case.expect, (code, details)
        assert case.needle in details, details
        assert "Traceback" not in details
    _good_unary(hardened)


def test_malformed_protobuf_does_not_hurt_the_server(hardened: Hardened) -> None:
    """Broken protobuf (see G51/G52) is INVALID_ARGUMENT naming the message type, and the server keeps serving."""
    for payload in (_RAW_TRANSCRIPT, b"\xff" * 64, b"\x12\xff\xff\xff\xff\x0f"):
        with pytest.raises(grpc.RpcError) as err:
            raw_unary(hardened.channel, f"/{FACE}/AnimateLine")(payload, timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert "mien.v1.AnimateLineRequest" in (err.value.details() or "")
    _good_unary(hardened)
    _good_stream(hardened)


@pytest.mark.parametrize("case", _params(STREAM_CASES))
def test_grpc_stream(hardened: Hardened, case: Case) -> None:
    for _ in range(RACY_TRIES if case.racy else 1):
        messages = case.request() if callable(case.request) else iter(case.request)
        payloads = (m if isinstance(m, bytes) else m.SerializeToString() for m in messages)
        with pytest.raises(grpc.RpcError) as err:
            list(raw_stream(hardened.channel, f"/{FACE}/StreamAnimate")(payloads, timeout=60))
        code, details = err.value.code(), err.value.details() or ""
        assert code.name == case.expect, (code, details)
        assert case.needle in details, details
    _good_stream(hardened)
    _good_unary(hardened)


# ---------------------------------------------------------------------------------------------- HTTP


def _post(base: str, path: str, body: bytes | None, content_type: str | None = "application/json",
          method: str = "POST") -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, data=body, method=method)
    if content_type and body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("case", _params(HTTP_CASES))
def test_http(hardened: Hardened, case: Case) -> None:
    path, body, *rest = case.request
    status, text = _post(hardened.base, path, body, *rest)
    assert status == case.expect, (status, text[:300])
    error = json.loads(text)
    assert set(error) == {"code", "message"}, error
    assert case.needle in error["message"], error
    _good_http(hardened)


# ------------------------------------------------------------------------------------------ WebSocket


async def _ws_call(url: str, frames: list[Any]) -> tuple[dict[str, str], list[Any], int | None]:
    """Send the frames, read until the server closes; (final status, every message, close code)."""
    received: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for frame in frames:
            if isinstance(frame, tuple):
                await asyncio.sleep(frame[1])
            elif isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        async for message in ws:
            received.append(json.loads(message.data) if message.type == aiohttp.WSMsgType.TEXT else message.type)
        close_code = ws.close_code
    status = received[-1]["status"] if received and isinstance(received[-1], dict) else {}
    return status, received, close_code


def _good_ws(h: Hardened) -> None:
    status, received, close_code = asyncio.run(_ws_call(f"{h.ws_base}/{FACE}/StreamAnimate", [_H, _A, _A, _E]))
    assert status == {"code": "ok", "message": ""} and close_code == 1000
    assert "header" in received[0] and "end" in received[-2]


@pytest.mark.parametrize("case", _params(WS_CASES))
def test_websocket(hardened: Hardened, case: Case) -> None:
    for _ in range(RACY_TRIES if case.racy else 1):
        status, _, close_code = asyncio.run(_ws_call(f"{hardened.ws_base}/{FACE}/StreamAnimate", case.request))
        assert status.get("code") == case.expect, status
        assert case.needle in status.get("message", ""), status
        assert close_code == 1000
    assert hardened.sidecar.streams is not None
    assert wait_until(lambda: hardened.sidecar.streams.active == 0, 5.0)
    _good_ws(hardened)
    _good_http(hardened)


# ----------------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("cli")
    (d / "good.wav").write_bytes(speech_bytes("goforward"))
    (d / "good.txt").write_text("go forward ten meters")
    (d / "garbage.wav").write_bytes(b"GIF89a" + bytes(range(256)) * 4)
    (d / "truncated.wav").write_bytes(WAV_OK[:30])
    (d / "hours.flac").write_bytes(HOURS_FLAC)
    (d / "badtext.wav").write_bytes(speech_bytes("cards_001"))
    (d / "badtext.txt").write_bytes(b"five of \xff\xfe hearts")
    (d / "bad.yaml").write_text("limits: [\n")
    (d / "typo.yaml").write_text("limits:\n  max_audio_sec: 10\n")
    (d / "python.yaml").write_text("server: !!python/object/apply:os.system ['echo pwned']\n")
    return {"dir": str(d), "good": str(d / "good.wav"), "garbage": str(d / "garbage.wav"),
            "truncated": str(d / "truncated.wav"), "hours": str(d / "hours.flac"),
            "badtext_wav": str(d / "badtext.wav"), "bad_yaml": str(d / "bad.yaml"), "typo_yaml": str(d / "typo.yaml"),
            "python_yaml": str(d / "python.yaml")}


def _stderr_sink(message: Any) -> None:
    sys.stderr.write(str(message))  # whatever sys.stderr is at the time (pytest's capture)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str], *, stdout: bool = False) -> tuple[int, str]:
    """``mien ...`` in-process (the real entry point, without paying the interpreter start per case): the exit
    code and stderr (``stdout=True``: stdout + stderr, e.g. the bake's summary)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    finally:
        logger.remove()  # main() pointed loguru at this test's captured stderr
        logger.add(_stderr_sink, level="INFO")
    captured = capsys.readouterr()
    return code, (captured.out + captured.err) if stdout else captured.err


@pytest.mark.parametrize("case", _params(CLI_CASES))
def test_cli(case: Case, cli_files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {**cli_files, "out": str(tmp_path / "out")}
    argv = [arg.format(**files) for arg in case.request]
    code, stderr = run_cli(argv, capsys)
    assert code == case.expect, stderr[-2000:]
    assert case.needle in stderr, stderr[-2000:]
    assert "Traceback" not in stderr
    if case.expect == 1 and "--transcripts" in case.request:
        # a batch: the good input is still animated
        assert (tmp_path / "out" / "good.csv").is_file(), list((tmp_path / "out").glob("*"))


def test_cli_subprocess_exit_codes(cli_files: dict[str, str], tmp_path: Path) -> None:
    """The same contract through the installed console script (two cases, as a real process)."""
    import subprocess

    command = mien_command()
    bad = subprocess.run([*command, "animate", cli_files["garbage"], "-o", str(tmp_path / "a.csv")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "not a readable audio file" in bad.stderr, bad.stderr[-2000:]
    usage = subprocess.run([*command, "animate", cli_files["good"], "--emotion", "grumpy", "-o",
                            str(tmp_path / "b.csv")], capture_output=True, text=True, timeout=300)
    assert usage.returncode == 2 and "unknown emotion 'grumpy'" in usage.stderr, usage.stderr[-2000:]


# ---------------------------------------------------------------------------------------------- bake


def _manifest_parser() -> Callable[..., Any] | None:
    try:
        from mien_bake.manifest import load_manifest
    except ImportError:
        return None
    return load_manifest


def bake_cli_available() -> bool:
    """True once `mien bake` is a subcommand of the CLI (the bake engineer adds it)."""
    for action in cli._parser()._actions:
        if isinstance(action, argparse._SubParsersAction) and "bake" in action.choices:
            return True
    return False


def _bake_folder(root: Path, case: Case) -> Path:
    folder = root / "project"
    (folder / "audio").mkdir(parents=True)
    (folder / "audio" / "good.wav").write_bytes(speech_bytes("goforward"))
    (folder / "audio" / "garbage.wav").write_bytes(b"GIF89a" + bytes(range(256)) * 4)
    (root / "outside.wav").write_bytes(speech_bytes("cards_001"))
    manifest = folder / "manifest.yaml"
    if isinstance(case.request, bytes):
        manifest.write_bytes(case.request)
    else:
        manifest.write_text(case.request, encoding="utf-8")
    return manifest


@pytest.mark.parametrize("case", _params(BAKE_CASES))
def test_bake_manifest_parser(case: Case, tmp_path: Path) -> None:
    load_manifest = _manifest_parser()
    if load_manifest is None:
        pytest.skip("bake not available (mien_bake.manifest.load_manifest)")
    if case.expect == "bake-line":
        pytest.skip("the parser does not open audio files; only `mien bake` sees this case")
    manifest = load_manifest(_bake_folder(tmp_path, case))
    text = "\n".join(str(p) for p in manifest.problems)
    assert case.needle in text, text
    if case.expect == "fatal":
        assert manifest.fatal and not manifest.lines, text
    else:
        assert not manifest.fatal, text
        assert [line.id for line in manifest.lines] == ["good_line"], text  # the good line survives
        assert all(p.line for p in manifest.problems), "every problem names its manifest line"


@pytest.mark.parametrize("case", _params(BAKE_CASES))
def test_bake_cli(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mien bake`: a fatal manifest exits 2 naming the problem; a bad line exits 1, the other lines are baked."""
    if not bake_cli_available():
        pytest.skip("bake not available (`mien bake` is not a subcommand yet)")
    manifest = _bake_folder(tmp_path, case)
    out = tmp_path / "out"
    code, stderr = run_cli(["bake", str(manifest), "-o", str(out)], capsys)
    assert case.needle in stderr, stderr[-2000:]
    assert "Traceback" not in stderr
    if case.expect == "fatal":
        assert code == 2, stderr[-2000:]
    else:
        assert code == 1, stderr[-2000:]
        written = [p.name for p in out.rglob("*") if p.is_file()]
        assert any(name.startswith("good_line") for name in written), written
        assert not any(name.startswith("bad_line") for name in written), written
