"""The HTTP/JSON + WebSocket gateway against a real sidecar: same answers as gRPC, same errors, same
auth and limits, the WebSocket bridge (incremental frames, final status, cancellation) and draining."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2

from mien.config import config_from_dict
from mien.errors import ResourceExhausted
from mien.server._rpc import Route, connect_code, http_status
from mien.server.app import Sidecar
from mien.server.gateway import Gateway
from mien.v1 import face_animation_pb2 as fa

SPEECH = Path(__file__).parent / "fixtures" / "speech"
FACE = "mien.v1.FaceAnimation"
HEALTH = "grpc.health.v1.Health"
MAX_BYTES = 1 << 20
PER_CLIENT = 4
TOKEN = "gateway-test-token"
VOLATILE = frozenset({"processing_ms", "request_id"})
"""Fields that differ between two calls of the same request."""


# --- servers ---------------------------------------------------------------------------------------


@dataclass
class Server:
    sidecar: Sidecar
    gateway: Gateway
    channel: grpc.Channel

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}"

    def close(self) -> None:
        self.channel.close()
        self.sidecar.stop(0.5)


def start_server(**server: Any) -> Server:
    """A real sidecar (gRPC on a free port) with its gateway on a free port."""
    config = config_from_dict({
        "server": {"port": 0, "http_port": 0, **server},
        "limits": {"max_message_bytes": MAX_BYTES, "max_concurrent_per_client": PER_CLIENT, "max_streams": 16},
        "state": {"db_path": ":memory:"},
    })
    sidecar = Sidecar(config).start()
    assert sidecar.gateway is not None
    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}")
    return Server(sidecar, sidecar.gateway, channel)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = start_server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def token_server() -> Iterator[Server]:
    s = start_server(auth_token=TOKEN)
    yield s
    s.close()


@pytest.fixture(scope="module")
def health_gateway(server: Server) -> Iterator[Gateway]:
    """A second gateway over the same sidecar that also serves grpc.health.v1.Health: its Watch is a real
    server-streaming RPC that runs until the client leaves (the generic bridge, without the neural model)."""
    gateway = Gateway(server.sidecar, {**_servicers(server), HEALTH: server.sidecar.health}, port=0)
    gateway.start()
    yield gateway
    gateway.stop(0.5)


def _servicers(server: Server) -> dict[str, object]:
    return {route.service: getattr(route.behavior, "__self__", None) for route in server.gateway.routes.values()}


# --- HTTP and gRPC helpers ---------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def http(base: str, path: str, body: bytes | str | dict[str, Any] | Iterator[bytes] | None = None, *,
         method: str | None = None, headers: Mapping[str, str] | None = None,
         content_type: str | None = "application/json") -> Reply:
    data: Any = json.dumps(body).encode() if isinstance(body, dict) else body
    if isinstance(data, str):
        data = data.encode()
    request = urllib.request.Request(base + path, data=data, method=method or ("POST" if body is not None else "GET"))
    if content_type and body is not None:
        request.add_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(), dict(error.headers))


def rpc(server: Server, method: str, body: dict[str, Any], **kwargs: Any) -> Reply:
    return http(server.base, f"/{FACE}/{method}", body, **kwargs)


def grpc_unary(server: Server, route: Route, request: Message,
               metadata: Sequence[tuple[str, str]] = ()) -> Message | grpc.RpcError:
    call = server.channel.unary_unary(route.path, request_serializer=route.request_type.SerializeToString,
                                      response_deserializer=route.response_type.FromString)
    try:
        response: Message = call(request, metadata=tuple(metadata), timeout=60)
        return response
    except grpc.RpcError as error:
        return error


def stable(message: Message) -> Message:
    """A copy without the fields that differ per call."""
    copy = type(message)()
    copy.CopyFrom(message)
    _clear_volatile(copy)
    return copy


def _clear_volatile(message: Message) -> None:
    for fd, value in message.ListFields():
        if fd.name in VOLATILE:
            message.ClearField(fd.name)
        elif fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                if fd.message_type.fields_by_name["value"].message_type is not None:
                    for item in value.values():
                        _clear_volatile(item)
            elif fd.is_repeated:
                for item in value:
                    _clear_volatile(item)
            else:
                _clear_volatile(value)


def assert_same_as_grpc(server: Server, route: Route, body: dict[str, Any]) -> Reply:
    """POST ``body`` over HTTP and the same request over gRPC: equal responses, or the same error.

    The same request goes over gRPC once first: the core's phone alignment depends on the line the
    decoder handled before (reported to the lead), so both compared calls must follow the same line.
    """
    request = json_format.ParseDict(body, route.request_type())
    grpc_unary(server, route, request)
    reply = http(server.base, route.path, body)
    expected = grpc_unary(server, route, request)
    if isinstance(expected, grpc.RpcError):
        code = expected.code()
        assert reply.status == http_status(code), (route.path, reply.status, code, reply.text)
        assert reply.json == {"code": connect_code(code), "message": expected.details()}
        return reply
    assert reply.status == 200, (route.path, reply.text)
    got = json_format.Parse(reply.text, route.response_type())
    assert stable(got) == stable(expected), route.path
    return reply


def assert_serving(server: Server) -> None:
    """A good request still works."""
    reply = rpc(server, "Describe", {})
    assert reply.status == 200, reply.text
    assert reply.json["defaultRig"]


def speech_request(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "audio": {"file": base64.b64encode((SPEECH / f"{name}.wav").read_bytes()).decode()},
        "transcript": (SPEECH / f"{name}.txt").read_text().strip(),
        **extra,
    }


# --- WebSocket helpers ---------------------------------------------------------------------------------


@dataclass
class WsResult:
    frames: list[Any]
    close_code: int | None

    @property
    def status(self) -> dict[str, str]:
        assert self.frames, "no frames"
        last = self.frames[-1]
        assert isinstance(last, dict) and set(last) == {"status"}, last
        status: dict[str, str] = last["status"]
        return status


async def ws_exchange(url: str, frames: Sequence[str | bytes | dict[str, Any]] = (), *,
                      headers: Mapping[str, str] | None = None, timeout_s: float = 20.0) -> WsResult:
    """Send ``frames``, then read until the server closes."""
    received: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers or {}) as ws:
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
        async with asyncio.timeout(timeout_s):
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    received.append(json.loads(message.data))
        return WsResult(received, ws.close_code)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- health, routes, preview -------------------------------------------------------------------------------


def test_healthz_preview_and_root(server: Server) -> None:
    reply = http(server.base, "/healthz")
    assert (reply.status, reply.json) == (200, {"status": "SERVING"})
    page = http(server.base, "/preview")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert "/preview/preview.js" in page.text and "Content-Security-Policy" in page.headers
    for asset in ("preview.js", "preview.css"):
        assert http(server.base, f"/preview/{asset}").status == 200
    assert http(server.base, "/preview/../../etc/passwd").status == 404
    assert http(server.base, "/").status == 200  # redirected to the page


def test_routes_come_from_the_descriptors(server: Server) -> None:
    service = fa.DESCRIPTOR.services_by_name["FaceAnimation"]
    for method in service.methods:
        route = server.gateway.routes[f"/{FACE}/{method.name}"]
        assert route.unary == (not method.client_streaming and not method.server_streaming)
        assert route.request_type.DESCRIPTOR.full_name == method.input_type.full_name


# --- unary RPCs: the same as gRPC ------------------------------------------------------------------------


def test_every_unary_rpc_answers_like_grpc(server: Server) -> None:
    """Every unary method the gateway serves (present and future services), with an empty request: the same
    response, or the same error, as over gRPC."""
    unary = [r for r in server.gateway.routes.values() if r.unary]
    assert {r.path for r in unary} >= {f"/{FACE}/AnimateLine", f"/{FACE}/Describe"}
    for route in unary:
        assert_same_as_grpc(server, route, {})


def test_describe_equals_grpc_with_every_field(server: Server) -> None:
    reply = assert_same_as_grpc(server, server.gateway.routes[f"/{FACE}/Describe"], {})
    body = reply.json
    # camelCase names, and fields at their default present too (empty lists included)
    assert {"defaultRig", "defaultFps", "internalChannels", "emotionAliases", "personas", "models"} <= set(body)
    assert body["limits"]["maxMessageBytes"] == str(MAX_BYTES)  # uint64 is a string in proto3 JSON


@pytest.mark.parametrize("name", ["goforward", "cards_001"])
def test_animate_line_equals_grpc(server: Server, name: str) -> None:
    route = server.gateway.routes[f"/{FACE}/AnimateLine"]
    body = speech_request(name, emotion={"constant": {"category": {"name": "happy", "intensity": 0.7}}},
                          seed="7", rig="arkit52", fps=30, options={"blinkScale": 0.5})
    reply = assert_same_as_grpc(server, route, body)
    track = reply.json
    assert track["frameCount"] > 10 and track["fps"] == 30
    assert len(track["values"]) == track["frameCount"] * len(track["channelNames"])
    assert "jawOpen" in track["channelNames"] and track["phones"]
    assert track["metadata"]["mode"] == "aligned" and "warnings" in track["metadata"]
    assert track["metadata"]["seed"] == "7"
    # original (snake_case) field names are accepted too
    snake = {**body, "options": {"blink_scale": 0.5}}
    again = json_format.Parse(rpc(server, "AnimateLine", snake).text, fa.AnimationTrack())
    assert stable(again) == stable(json_format.Parse(reply.text, fa.AnimationTrack()))


@pytest.mark.parametrize(("body", "statuses"), [
    ({"rig": "no-such-rig", "idleDurationS": 1.0}, (400, 404)),  # the contract says NOT_FOUND; the core says 400
    ({"fps": 1000, "idleDurationS": 1.0}, (400,)),
    ({"emotion": {"constant": {"category": {"name": "smug"}}}, "idleDurationS": 1.0}, (400,)),
    ({"idleDurationS": 1.0}, (200,)),
])
def test_core_errors_map_like_grpc(server: Server, body: dict[str, Any], statuses: tuple[int, ...]) -> None:
    reply = assert_same_as_grpc(server, server.gateway.routes[f"/{FACE}/AnimateLine"], body)
    assert reply.status in statuses, reply.text
    assert_serving(server)


# --- bad requests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "needles"), [
    pytest.param('{"fps": "fast"}', ["field fps"], id="wrong-type"),
    pytest.param('{"emotion": {"constant": {"category": {"name": "happy", "intensity": "high"}}}}',
                 ["emotion.constant.category.intensity"], id="nested-wrong-type"),
    pytest.param('{"emotion": {"keyframes": {"keyframes": [{"timeS": 0}, {"timeS": "soon"}]}}}',
                 ["emotion.keyframes.keyframes[1].timeS"], id="wrong-type-in-list"),
    pytest.param('{"transcrpt": "hello"}', ["transcrpt", "accepted:", "transcript"], id="unknown-field"),
    pytest.param('{"audio": {"fil": "AAAA"}}', ["audio.fil", "file, pcm"], id="nested-unknown-field"),
    pytest.param('{"fps": 30,', ["not valid JSON"], id="malformed-json"),
    pytest.param('{"mode": "ANIMATION_MODE_FAST"}', ["field mode", "ANIMATION_MODE_ALIGNED"], id="wrong-enum-name"),
    pytest.param('{"audio": {"file": 12}}', ["audio.file", "base64"], id="bytes-not-a-string"),
    pytest.param('{"fps": 30, "fps": 60}', ["'fps' appears twice"], id="duplicate-key"),
    pytest.param("[1, 2]", ["JSON object"], id="not-an-object"),
    pytest.param(b"\xff\xfe", ["UTF-8"], id="not-utf8"),
])
def test_bad_json_is_400_naming_the_field(server: Server, body: str | bytes, needles: list[str]) -> None:
    reply = rpc(server, "AnimateLine", body)  # type: ignore[arg-type]
    assert reply.status == 400, reply.text
    error = reply.json
    assert set(error) == {"code", "message"} and error["code"] == "invalid_argument"
    for needle in needles:
        assert needle in error["message"], error["message"]
    assert "Traceback" not in reply.text
    assert_serving(server)


def test_unknown_route_is_404_listing_the_methods(server: Server) -> None:
    for path in ("/nope", f"/{FACE}/AnimateLines", "/mien.v1.Nothing/Describe"):
        reply = http(server.base, path, {})
        assert reply.status == 404, path
        message = reply.json["message"]
        assert reply.json["code"] == "not_found"
        assert f"POST /{FACE}/AnimateLine" in message and f"POST /{FACE}/Describe" in message
        assert f"WebSocket /{FACE}/StreamAnimate" in message
    assert_serving(server)


def test_wrong_http_method(server: Server) -> None:
    reply = http(server.base, f"/{FACE}/AnimateLine")  # GET
    assert reply.status == 405 and reply.headers["Allow"] == "POST" and reply.json["code"] == "unimplemented"
    reply = http(server.base, f"/{FACE}/StreamAnimate", {})  # POST on a stream
    assert reply.status == 405 and reply.headers["Allow"] == "GET"
    reply = http(server.base, f"/{FACE}/StreamAnimate")  # GET without the upgrade
    assert reply.status == 426 and "WebSocket" in reply.json["message"]
    assert http(server.base, "/healthz", {}).status == 405
    assert_serving(server)


def test_wrong_content_type_is_415(server: Server) -> None:
    reply = rpc(server, "Describe", "{}", content_type="text/plain")  # type: ignore[arg-type]
    assert reply.status == 415 and "application/json" in reply.json["message"]
    assert_serving(server)


def test_oversized_body_is_413_stating_the_limit(server: Server) -> None:
    body = b'{"transcript": "' + b"a" * MAX_BYTES + b'"}'
    reply = rpc(server, "AnimateLine", body)  # type: ignore[arg-type]
    assert reply.status == 413, reply.text
    assert reply.json["code"] == "resource_exhausted" and str(MAX_BYTES) in reply.json["message"]
    chunks = iter([body[i:i + 65536] for i in range(0, len(body), 65536)])  # chunked: no Content-Length
    reply = rpc(server, "AnimateLine", chunks)  # type: ignore[arg-type]
    assert reply.status == 413 and str(MAX_BYTES) in reply.json["message"]
    assert_serving(server)


def test_cross_site_pages_are_refused(server: Server) -> None:
    reply = rpc(server, "Describe", {}, headers={"Origin": "https://evil.example"})
    assert reply.status == 403 and reply.json["code"] == "permission_denied"
    reply = rpc(server, "Describe", {}, headers={"Host": "rebound.example"})  # DNS rebinding
    assert reply.status == 403
    assert rpc(server, "Describe", {}, headers={"Origin": server.base}).status == 200
    assert rpc(server, "Describe", {}, headers={"Origin": f"localhost:{server.gateway.port}"}).status == 200
    assert rpc(server, "Describe", {}, headers={"Origin": "null"}).status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # refused before the upgrade
        run(ws_exchange(f"{server.ws_base}/{FACE}/StreamAnimate", headers={"Origin": "https://evil.example"}))
    assert refused.value.status == 403


# --- auth and limits -------------------------------------------------------------------------------------


def test_token_required_on_http_and_grpc(token_server: Server) -> None:
    s = token_server
    describe = s.gateway.routes[f"/{FACE}/Describe"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        reply = rpc(s, "Describe", {}, headers=headers)
        assert reply.status == 401, headers
        assert reply.json["code"] == "unauthenticated" and "Bearer" in reply.json["message"]
        assert reply.headers.get("WWW-Authenticate") == "Bearer"
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        error = grpc_unary(s, describe, fa.DescribeRequest(), metadata)
        assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAUTHENTICATED
    good = {"Authorization": f"Bearer {TOKEN}"}
    reply = rpc(s, "Describe", {}, headers=good)
    assert reply.status == 200
    expected = grpc_unary(s, describe, fa.DescribeRequest(), (("authorization", f"Bearer {TOKEN}"),))
    assert isinstance(expected, fa.ServiceInfo)
    assert stable(json_format.Parse(reply.text, fa.ServiceInfo())) == stable(expected)
    # open routes stay open
    assert http(s.base, "/healthz").status == 200 and http(s.base, "/preview").status == 200


def test_token_required_on_websockets(token_server: Server) -> None:
    url = f"{token_server.ws_base}/{FACE}/StreamAnimate"
    header = {"header": {"sampleRateHz": 16000}}
    for suffix, headers in (("", {}), ("?token=wrong", {}), ("", {"Authorization": "Bearer wrong"})):
        result = run(ws_exchange(url + suffix, [header], headers=headers))
        assert result.status["code"] == "unauthenticated", result.frames
        assert result.close_code == 1008
    for suffix, headers in ((f"?token={TOKEN}", {}), ("", {"Authorization": f"Bearer {TOKEN}"})):
        result = run(ws_exchange(url + suffix, [header, {"end": {}}], headers=headers))
        assert result.status["code"] != "unauthenticated", result.frames


LOOPBACK = "127.0.0.1"
"""The per-client key of every test client here: its address (the X-Mien-Client header does not choose it)."""


def test_per_client_limit_is_shared_with_grpc_and_keyed_on_the_peer(server: Server) -> None:
    limiter = server.sidecar.limiter
    describe = server.gateway.routes[f"/{FACE}/Describe"]
    for _ in range(PER_CLIENT):
        limiter.acquire(LOOPBACK)
    try:
        reply = rpc(server, "Describe", {})
        assert reply.status == 429 and reply.json["code"] == "resource_exhausted"
        assert "max_concurrent_per_client" in reply.json["message"]
        error = grpc_unary(server, describe, fa.DescribeRequest())
        assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # a header the client chooses does not make it another client
        dodge = rpc(server, "Describe", {}, headers={"X-Mien-Client": "someone-else"})
        assert dodge.status == 429, dodge.text
        dodge_grpc = grpc_unary(server, describe, fa.DescribeRequest(), (("x-mien-client", "someone-else"),))
        assert isinstance(dodge_grpc, grpc.RpcError) and dodge_grpc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        for _ in range(PER_CLIENT):
            limiter.release(LOOPBACK)
    assert rpc(server, "Describe", {}).status == 200


# --- WebSocket bridge ----------------------------------------------------------------------------------


def test_stream_animate_sends_frames_incrementally(server: Server) -> None:
    """The documented message shapes, end to end: header, contiguous frame batches that arrive while audio is
    still being sent, end, then status ok and close 1000."""
    assert server.sidecar.streams is not None, "the bundled neural model did not load"
    pcm, rate = sf.read(SPEECH / "goforward.wav", dtype="int16")
    chunk = rate // 10  # 100 ms

    async def scenario() -> tuple[list[Any], int, int | None]:
        frames: list[Any] = []
        first_frames_at: int | None = None
        sent = 0
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"{server.ws_base}/{FACE}/StreamAnimate") as ws:
            await ws.send_json({"header": {"sampleRateHz": rate, "rig": "arkit52", "fps": 60,
                                           "emotion": {"constant": {"category": {"name": "happy"}}}}})

            async def reader() -> None:
                nonlocal first_frames_at
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        data = json.loads(message.data)
                        frames.append(data)
                        if "frames" in data and first_frames_at is None:
                            first_frames_at = sent

            task = asyncio.create_task(reader())
            for start in range(0, len(pcm), chunk):
                data = np.ascontiguousarray(pcm[start:start + chunk]).tobytes()
                await ws.send_json({"audio": {"data": base64.b64encode(data).decode()}})
                sent += 1
                await asyncio.sleep(0.1)  # real time
            await ws.send_json({"end": {}})
            async with asyncio.timeout(30):
                await task
            return frames, sent, first_frames_at if first_frames_at is not None else sent + 1

    frames, sent, first_at = run(scenario())
    assert first_at <= sent - 5, "frames must arrive while audio is still being sent, not buffered to the end"
    assert "header" in frames[0] and frames[-1] == {"status": {"code": "ok", "message": ""}}
    assert "end" in frames[-2]
    header = frames[0]["header"]
    channels = header["channelNames"]
    assert "jawOpen" in channels and header["fps"] == 60
    expected_first = 0
    for message in frames[1:-2]:
        batch = message["frames"]
        assert batch["firstFrame"] == expected_first
        assert len(batch["values"]) == batch["frameCount"] * len(channels)
        expected_first += batch["frameCount"]
    assert frames[-2]["end"]["frameCount"] == expected_first
    assert expected_first == pytest.approx(len(pcm) / rate * 60, abs=3)


def test_server_streaming_frames_are_forwarded_as_produced(server: Server, health_gateway: Gateway) -> None:
    """Health.Watch over the bridge: each status change arrives while the call is open; closing the socket
    cancels the servicer (its call-end callback runs) and frees the client's slot at once."""
    health = server.sidecar.health
    health.set("gateway-test", health_pb2.HealthCheckResponse.SERVING)
    url = f"ws://127.0.0.1:{health_gateway.port}/{HEALTH}/Watch"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url) as ws:
            await ws.send_json({"service": "gateway-test"})
            first = await asyncio.wait_for(ws.receive_json(), 5)
            assert first == {"status": "SERVING"}
            await asyncio.to_thread(health.set, "gateway-test", health_pb2.HealthCheckResponse.NOT_SERVING)
            second = await asyncio.wait_for(ws.receive_json(), 5)
            assert second == {"status": "NOT_SERVING"}
        # the client left: its slot is free again within moments
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if not _inflight(server, LOOPBACK):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the cancelled stream still holds its client's slot")

    run(scenario())


def _inflight(server: Server, client: str) -> int:
    """Requests in flight for ``client``, probed through the limiter's public API."""
    limiter = server.sidecar.limiter
    taken = 0
    try:
        with contextlib.suppress(ResourceExhausted):  # the probe reached the limit
            while taken < PER_CLIENT:
                limiter.acquire(client)
                taken += 1
    finally:
        for _ in range(taken):
            limiter.release(client)
    return PER_CLIENT - taken


def test_streams_count_against_the_client_limit(server: Server, health_gateway: Gateway) -> None:
    url = f"ws://127.0.0.1:{health_gateway.port}/{HEALTH}/Watch"
    client: dict[str, str] = {}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            sockets = []
            for _ in range(PER_CLIENT):
                ws = await session.ws_connect(url, headers=client)
                await ws.send_json({"service": ""})
                assert await asyncio.wait_for(ws.receive_json(), 5) == {"status": "SERVING"}
                sockets.append(ws)
            reply = await asyncio.to_thread(rpc, server, "Describe", {}, headers=client)
            assert reply.status == 429, reply.text
            refused = await ws_exchange(url, [{"service": ""}], headers=client)
            assert refused.status["code"] == "resource_exhausted"
            await sockets.pop().close()
            deadline = time.monotonic() + 2.0
            while (await asyncio.to_thread(rpc, server, "Describe", {}, headers=client)).status != 200:
                assert time.monotonic() < deadline, "closing a stream did not free its slot"
                await asyncio.sleep(0.05)
            for ws in sockets:
                await ws.close()

    run(scenario())


@pytest.mark.parametrize(("frames", "needle"), [
    pytest.param([{"servce": ""}], "servce", id="unknown-field"),
    pytest.param(['{"service": '], "not valid JSON", id="malformed"),
    pytest.param([{"service": 5}], "field service", id="wrong-type"),
    pytest.param([b"\x00\x01"], "text frames", id="binary"),
    pytest.param([{"service": ""}, {"service": ""}], "one request message", id="second-request"),
])
def test_bad_frames_end_the_stream_with_invalid_argument(server: Server, health_gateway: Gateway,
                                                         frames: list[Any], needle: str) -> None:
    result = run(ws_exchange(f"ws://127.0.0.1:{health_gateway.port}/{HEALTH}/Watch", frames))
    assert result.status["code"] == "invalid_argument" and needle in result.status["message"], result.frames
    assert result.close_code == 1000
    assert_serving(server)


def test_other_services_answer_like_grpc(server: Server, health_gateway: Gateway) -> None:
    """Generic routing: grpc.health.v1.Health/Check, served by the same servicer object as over gRPC."""
    other = Server(server.sidecar, health_gateway, server.channel)
    check = health_gateway.routes[f"/{HEALTH}/Check"]
    assert assert_same_as_grpc(other, check, {"service": ""}).json == {"status": "SERVING"}
    missing = assert_same_as_grpc(other, check, {"service": "no.such.Service"})
    assert missing.status == 404 and missing.json["code"] == "not_found"


class BrokenHealth(grpc_health.HealthServicer):
    """Fails the way a bug does: the gateway must log it and answer INTERNAL without the details."""

    def Check(self, request: Any, context: Any) -> Any:
        raise RuntimeError("secret detail of a bug")

    def Watch(self, request: Any, context: Any, send_response_callback: Any = None) -> Any:
        yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        raise RuntimeError("secret detail of a bug")


def test_unexpected_errors_are_500_without_details(server: Server) -> None:
    gateway = Gateway(server.sidecar, {HEALTH: BrokenHealth()}, port=0)
    port = gateway.start()
    try:
        reply = http(f"http://127.0.0.1:{port}", f"/{HEALTH}/Check", {})
        assert reply.status == 500
        assert reply.json == {"code": "internal", "message": "internal error in Check; the sidecar log has details"}
        result = run(ws_exchange(f"ws://127.0.0.1:{port}/{HEALTH}/Watch", [{"service": ""}]))
        assert result.frames[0] == {"status": "SERVING"}
        assert result.status == {"code": "internal", "message": "internal error in Watch; the sidecar log has details"}
        assert result.close_code == 1011
        assert http(f"http://127.0.0.1:{port}", f"/{HEALTH}/Check", {}).status == 500  # still serving
    finally:
        gateway.stop(0.5)


def test_stop_drains_then_ends_streams(server: Server) -> None:
    gateway = Gateway(server.sidecar, {**_servicers(server), HEALTH: server.sidecar.health}, port=0)
    port = gateway.start()
    base = f"http://127.0.0.1:{port}"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"ws://127.0.0.1:{port}/{HEALTH}/Watch") as ws:
            await ws.send_json({"service": ""})
            assert await asyncio.wait_for(ws.receive_json(), 5) == {"status": "SERVING"}
            stopper = threading.Thread(target=gateway.stop, args=(1.0,))
            started = time.monotonic()
            stopper.start()
            await asyncio.sleep(0.2)
            health = await asyncio.to_thread(http, base, "/healthz")
            assert (health.status, health.json) == (503, {"status": "NOT_SERVING"})
            refused = await asyncio.to_thread(http, base, f"/{FACE}/Describe", {})
            assert refused.status == 503 and refused.json["code"] == "unavailable"
            final = await asyncio.wait_for(ws.receive_json(), 5)
            assert final["status"]["code"] == "unavailable"
            await asyncio.wait_for(ws.receive(), 5)
            assert ws.close_code == 1001
            await asyncio.to_thread(stopper.join, 10)
            assert not stopper.is_alive() and time.monotonic() - started < 6

    run(scenario())
    assert_serving(server)
