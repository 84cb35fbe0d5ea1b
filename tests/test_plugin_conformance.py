"""Replays every engine-plugin conformance fixture against a live Mien gateway.

Each fixture (engine_plugins/*/conformance/*.json, format in engine_plugins/fixture_tools.py) is the
exact HTTP or WebSocket request a plugin sends. The test starts a sidecar with its HTTP/JSON +
WebSocket gateway on free ports (``server.port = 0``, ``server.http_port = 0``, a bearer token),
sends the request with the speech fixtures substituted, and checks that every response field the
plugin parses exists with the declared type; for AnimateLine also that channel names are non-empty,
``len(values) == frameCount * len(channelNames)`` and fps is the requested one, and for
StreamAnimate that frame batches are contiguous and end with status ok.

Until the gateway exists (``Sidecar.http_port`` stays 0 after start) every test skips with
"gateway not available".
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mien.config import config_from_dict
from mien.server.app import Sidecar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine_plugins"))
from fixture_tools import FIXTURE_DIRS, check_type, expand, expand_messages, field_values, load_fixtures

TOKEN = "mien-conformance-token"
TIMEOUT_S = 120.0


def _fixture_ids() -> list[tuple[str, str]]:
    return [(plugin, path.stem) for plugin, folder in FIXTURE_DIRS.items() for path in sorted(folder.glob("*.json"))]


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    """Base URL of a running sidecar's gateway (with a token, as the plugins are configured)."""
    config = config_from_dict(
        {
            "server": {"host": "127.0.0.1", "port": 0, "http_port": 0, "auth_token": TOKEN},
            "state": {"db_path": ":memory:"},
        }
    )
    sidecar = Sidecar(config).start()
    try:
        assert sidecar.http_port, "the sidecar started without its gateway"
        base = f"http://127.0.0.1:{sidecar.http_port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=10):
            pass
        yield base
    finally:
        sidecar.stop(1.0)


def _http(base: str, fixture: dict[str, Any]) -> tuple[int, Any]:
    request = fixture["request"]
    headers = {k: expand(v, TOKEN) for k, v in request.get("headers", {}).items()}
    data = None
    if "body" in request:
        data = json.dumps(expand(request["body"], TOKEN)).encode("utf-8")
    http_request = urllib.request.Request(base + request["path"], data=data, headers=headers, method=request["method"])
    try:
        with urllib.request.urlopen(http_request, timeout=TIMEOUT_S) as response:
            status, text = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode("utf-8")
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def _describe(base: str) -> dict[str, Any]:
    request = urllib.request.Request(
        base + "/mien.v1.FaceAnimation/Describe",
        data=b"{}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read().decode("utf-8"))


def _check_fields(body: Any, fields: dict[str, str], where: str) -> None:
    for path, kind in fields.items():
        values = field_values(body, path)
        assert values is not None, f"{where}: response has no {path}"
        for value in values:
            assert check_type(value, kind), f"{where}: {path} = {value!r} is not {kind}"


def _check_track(body: dict[str, Any], requested: dict[str, Any], where: str) -> None:
    from google.protobuf import json_format

    from mien.v1 import face_animation_pb2

    json_format.ParseDict(body, face_animation_pb2.AnimationTrack(), ignore_unknown_fields=False)
    names = body["channelNames"]
    assert names and all(isinstance(n, str) and n for n in names), f"{where}: empty channel names"
    assert len(body["values"]) == body["frameCount"] * len(names), f"{where}: values != frameCount x channels"
    assert body["frameCount"] > 0
    assert body["fps"] == pytest.approx(requested.get("fps") or 60.0), f"{where}: fps"


@pytest.mark.parametrize(("plugin", "name"), _fixture_ids())
def test_fixture_against_gateway(gateway: str, plugin: str, name: str) -> None:
    fixture = next(f for f in load_fixtures(plugin) if f["_path"].stem == name)
    where = f"{plugin}/{name}"
    if fixture["transport"] == "websocket":
        assert "neural" in _describe(gateway).get("modes", []), "StreamAnimate needs the bundled neural model"
        asyncio.run(_stream(gateway, fixture, where))
        return
    response = fixture["response"]
    status, body = _http(gateway, fixture)
    accept = response.get("accept_errors")
    if status != response["status"] and accept and isinstance(body, dict) and body.get("code") in accept["codes"]:
        _check_fields(body, accept["fields"], where)
        return
    assert status == response["status"], f"{where}: HTTP {status}: {body}"
    if response["message"] == "none":
        return
    assert isinstance(body, dict), f"{where}: body is not a JSON object: {body!r}"
    _check_fields(body, response["parsed_fields"], where)
    if response["message"] == "error":
        assert body["code"] == response["error_code"], f"{where}: {body}"
    elif response["message"] == "mien.v1.AnimationTrack":
        _check_track(body, fixture["request"]["body"], where)


async def _stream(base: str, fixture: dict[str, Any], where: str) -> None:
    import aiohttp

    request = fixture["request"]
    url = base.replace("http://", "ws://", 1) + request["path"]
    headers = {k: expand(v, TOKEN) for k, v in request.get("headers", {}).items()}
    messages = expand_messages(request["messages"], TOKEN)
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=headers, timeout=aiohttp.ClientWSTimeout(ws_close=10)) as socket:
            for message in messages:
                await socket.send_str(json.dumps(message))

            async def receive() -> None:
                async for item in socket:
                    if item.type == aiohttp.WSMsgType.TEXT:
                        received.append(json.loads(item.data))
                        if "status" in received[-1]:
                            return
                    elif item.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return

            await asyncio.wait_for(receive(), timeout=TIMEOUT_S)
    expected = fixture["response"]["messages"]
    kinds = [next(iter(m)) for m in received]
    if received and "status" in received[-1]:
        status = received[-1]["status"]
        assert status.get("code") == "ok", f"{where}: stream ended with status {status}"
    assert kinds and kinds[0] == "header" and kinds[-1] == "status", f"{where}: message kinds {kinds}"
    assert kinds[-2] == "end" and set(kinds[1:-2]) <= {"frames"}, f"{where}: message kinds {kinds}"
    header = received[0]["header"]
    channels = len(header["channelNames"])
    assert channels > 0 and all(header["channelNames"])
    assert header["fps"] == pytest.approx(messages[0]["header"].get("fps") or 60.0)
    total = 0
    for message in received:
        kind = next(iter(message))
        _check_fields(message[kind], expected[kind], f"{where} {kind}")
        if kind == "frames":
            frames = message["frames"]
            assert frames["firstFrame"] == total, f"{where}: batches not contiguous"
            assert len(frames["values"]) == frames["frameCount"] * channels
            total += frames["frameCount"]
    assert received[-2]["end"]["frameCount"] == total > 0
    assert received[-1]["status"]["code"] == "ok", f"{where}: {received[-1]}"


# --- paced streaming, exactly as the runtime API streams -------------------------------------

STREAM_WAV = "tests/fixtures/speech/cards_001.wav"
START_BUFFER_S = {"whole": 0.1, "tts": 0.4}
"""MienCore::DefaultStartBufferS (a whole clip) and DefaultPushStartBufferS (pushed TTS audio); the GDScript
constants are checked equal to them by test_plugin_core."""


@pytest.fixture(scope="module")
def stream_plan_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fixture_tools import build_core_program

    return build_core_program("mien_stream_plan.cpp", tmp_path_factory.mktemp("plan"))


def _plan(tool: Path, *args: str) -> list[tuple[float, str]]:
    """The plugin core's messages and send times for the fixture WAV (see core_tests/mien_stream_plan.cpp)."""
    import subprocess

    from fixture_tools import REPO

    out = subprocess.run(
        [str(tool), str(REPO / STREAM_WAV), *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    return [(float(line["t"]), json.dumps(line["message"])) for line in lines]


async def _paced_stream(base: str, plan: list[tuple[float, str]]) -> tuple[list[dict[str, Any]], list[float], float]:
    """Sends each message at its planned time; returns the server messages and their arrival times."""
    import aiohttp

    url = base.replace("http://", "ws://", 1) + "/mien.v1.FaceAnimation/StreamAnimate"
    received: list[dict[str, Any]] = []
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
            start = loop.time()

            async def send() -> None:
                for due, text in plan:
                    delay = start + due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await socket.send_str(text)

            async def receive() -> None:
                async for item in socket:
                    if item.type != aiohttp.WSMsgType.TEXT:
                        return
                    received.append(json.loads(item.data))
                    arrivals.append(loop.time() - start)
                    if "status" in received[-1]:
                        return

            await asyncio.wait_for(asyncio.gather(send(), receive()), timeout=TIMEOUT_S)
            last_send = plan[-1][0]
    return received, arrivals, last_send


@pytest.mark.parametrize(
    "mode", [("whole",), ("tts", "1.0", "37"), ("tts", "4.0", "80")], ids=["say_whole_clip", "tts_real_time", "tts_4x"]
)
def test_paced_stream_frames_arrive_before_playback(
    gateway: str, stream_plan_tool: Path, mode: tuple[str, ...]
) -> None:
    """The acceptance check of streaming: chunk sizes and send times come from the plugin core itself
    (100 ms chunks, at most 0.5 s ahead of real time); the line's audio starts when frames for
    the start buffer are in (or the stream ended), as both plugins do; every frame must have arrived
    before its playback time, start + index / fps. A TTS pushing at real time is the worst case."""
    plan = _plan(stream_plan_tool, *mode)
    audio = [m for _, m in plan if m.startswith('{"audio"')]
    sizes = {len(json.loads(m)["audio"]["data"]) for m in audio[:-1]}
    assert len(sizes) == 1, "every chunk but the last has the same size"
    send_times = [t for t, m in plan if m.startswith('{"audio"')]
    duration_s = len(audio) * 0.1
    assert send_times[-1] > duration_s - 1.0, "the clip is paced, not sent at once"
    received, arrivals, _ = asyncio.run(_paced_stream(gateway, plan))
    assert received[-1] == {"status": {"code": "ok", "message": ""}}, received[-1]
    header = received[0]["header"]
    fps = header["fps"]
    frame_arrival: list[float] = []
    for message, arrived in zip(received, arrivals, strict=True):
        if "frames" in message:
            frame_arrival.extend([arrived] * message["frames"]["frameCount"])
    ended_at = next(a for m, a in zip(received, arrivals, strict=True) if "end" in m)
    needed = int(START_BUFFER_S[mode[0]] * fps + 0.999)
    playback_start = frame_arrival[needed - 1] if len(frame_arrival) >= needed else ended_at
    late = [
        (i, arrived - (playback_start + i / fps))
        for i, arrived in enumerate(frame_arrival)
        if arrived > playback_start + i / fps
    ]
    assert not late, f"{len(late)} of {len(frame_arrival)} frames arrived after their playback time: {late[:5]}"
    assert len(frame_arrival) >= int(duration_s * fps * 0.9)
