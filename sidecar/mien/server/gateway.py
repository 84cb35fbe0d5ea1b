"""HTTP/JSON + WebSocket gateway: every gRPC method of the sidecar, for engines and browsers.

Same process, same servicer objects, same code path as gRPC: a request is parsed from its proto3
JSON, the registered servicer method is called with a :class:`~mien.server._rpc.GatewayContext`,
and the response is written back as proto3 JSON. Nothing here is written per RPC: routes come
from the generated descriptors of the services registered on the sidecar.

* Unary RPCs: ``POST /<package.Service>/<Method>``, ``Content-Type: application/json``; 200 with
  the response JSON, or an HTTP error status with ``{"code": "invalid_argument", "message": ...}``.
* Streaming RPCs: a WebSocket at ``GET /<package.Service>/<Method>``; text frames carry one
  message each (proto3 JSON), then the server sends ``{"status": {"code", "message"}}`` and closes.
* ``GET /healthz`` (open, no token), ``GET /preview`` (the browser preview page, open; its calls
  carry the token), ``GET /`` redirects to ``/preview``.

Auth (bearer token, constant-time compare; WebSockets may send ``?token=``) and the per-client
concurrency limit are the gRPC ones (shared :class:`~mien.server.grpc_service.ClientLimiter`).
The server runs aiohttp on its own event loop in its own thread; servicer calls run in worker
threads. docs/gateway.md has the protocol as clients see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import grpc
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from grpc_health.v1 import health_pb2
from loguru import logger

from ..errors import InvalidArgument, MienError, ResourceExhausted, Unauthenticated
from ._net import is_loopback
from ._rpc import (
    Aborted,
    CallCancelled,
    GatewayContext,
    Route,
    connect_code,
    discover_routes,
    http_status,
    message_json,
    message_json_chunks,
    parse_request,
)
from .identity import printable
from .status import bounded_message, status_of

__all__ = ["Gateway"]

_OK = grpc.StatusCode.OK
_INTERNAL = grpc.StatusCode.INTERNAL
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
_PREVIEW_FILES = {"index.html": "text/html", "preview.js": "text/javascript", "preview.css": "text/css"}
_PREVIEW_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
_HIDDEN_HEADERS = frozenset({"authorization", "cookie"})
_WS_CLOSE = {  # WebSocket close code by final status; anything else closes 1000 (the status frame tells)
    grpc.StatusCode.UNAUTHENTICATED: 1008,
    grpc.StatusCode.PERMISSION_DENIED: 1008,
    grpc.StatusCode.INTERNAL: 1011,
    grpc.StatusCode.UNKNOWN: 1011,
    grpc.StatusCode.DATA_LOSS: 1011,
    grpc.StatusCode.UNAVAILABLE: 1001,  # going away: the sidecar is shutting down
}
_WINDOW = 32
"""Responses a stream may have encoded but not yet sent before its servicer waits (backpressure)."""
_MAX_QUEUED = 8
"""Requests a stream may have parsed but its servicer not yet taken before the gateway stops reading (a hand-off:
the stream's own reader holds the messages it has not computed yet, bounded in count and bytes)."""
_POLL_S = 0.05
"""How often a blocked worker re-checks whether its call was cancelled."""
_CANCEL_WAIT_S = 5.0
"""How long a cancelled stream waits for its servicer to return before the socket is dropped."""
_MAX_HEADER_LINE = 8190
"""The longest request line and header field (bytes); longer ones are 400 with the JSON error body."""
_MAX_HEADERS = 100
_LINGER_S = 0.5
"""After an answer sent before its request body was read (413, 408), how long aiohttp still drains the body."""
_WS_OVERHEAD = 64 * 1024
"""A WebSocket frame may be 4/3 of limits.max_stream_message_bytes (base64) plus this (its JSON)."""


def _code_of_http(status: int) -> grpc.StatusCode:
    if status >= 500:
        return _INTERNAL
    if status in (413, 431):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if status == 408:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.INVALID_ARGUMENT


class _Connection(RequestHandler):
    """aiohttp's connection handler with the gateway's error body: a request aiohttp refuses itself (not HTTP, a
    header line too long, too many headers) gets ``{"code", "message"}`` too, never a plain-text page."""

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response is already partly sent; cannot send an error")
        code = _code_of_http(status)
        if code is _INTERNAL:
            logger.opt(exception=exc).error("HTTP gateway: unexpected error handling a request")
            text = "internal error in the HTTP gateway; the sidecar log has details"
        else:
            text = f"the request is not valid HTTP/1.1: {printable(message or HTTPStatus(status).phrase, 200)}"
            logger.info("HTTP request refused before routing: {} ({})", status, printable(text, 200))
        response = web.Response(status=status, text=_error_body(code, text), content_type="application/json")
        response.force_close()
        return response


class _HttpServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


class _WebSocket(web.WebSocketResponse):
    """A WebSocket that still sends its status frame when aiohttp itself closes it for a frame that is too big."""

    too_big = ""
    """The status message for a frame past ``max_msg_size``."""

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True) -> bool:
        if code == WSCloseCode.MESSAGE_TOO_BIG and not self.closed and self.too_big:
            with contextlib.suppress(Exception):  # best effort: the close follows whatever happens
                await self.send_str(json.dumps({"status": {"code": "resource_exhausted", "message": self.too_big}}))
        return await super().close(code=code, message=message, drain=drain)


def _error_body(code: grpc.StatusCode, message: str) -> str:
    return json.dumps({"code": connect_code(code), "message": bounded_message(message)})


def _error(code: grpc.StatusCode, message: str, *, status: int | None = None,
           headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status or http_status(code), text=_error_body(code, message),
                        content_type="application/json", headers=headers)


def _unexpected(route: Route, context: GatewayContext, error: Exception) -> tuple[grpc.StatusCode, str]:
    """Status of a servicer that raised something other than ``abort``; logged with its traceback."""
    failed = context.error_status()
    if failed is None:  # gRPC would say UNKNOWN; INTERNAL without details, as the servicers' own table does
        logger.opt(exception=error).error("{} failed with an unexpected error", route.path)
        return _INTERNAL, f"internal error in {route.method}; the sidecar log has details"
    # e.g. the generated base class: set_code(UNIMPLEMENTED), then raise NotImplementedError
    logger.warning("{} raised {} after setting status {}", route.path, type(error).__name__, failed[0].name)
    return failed


@dataclass(frozen=True)
class _Final:
    """The last thing a stream sends: its status."""

    code: grpc.StatusCode
    message: str
    close_code: int | None = None


class Gateway:
    """The HTTP/JSON + WebSocket server of one sidecar.

    ``Gateway(sidecar).start() -> port`` / ``.stop(grace_s)``. It reads ``sidecar.config``
    (``server.host``, ``server.http_port``, ``server.auth_token``, TLS files, ``server.workers``,
    ``limits``), ``sidecar.limiter`` (shared with gRPC), ``sidecar.health`` (for ``/healthz``, if
    present) and ``sidecar.servicers``: ``{full service name: servicer instance}``, the very objects
    registered on the gRPC server (or pass ``servicers`` explicitly).
    """

    def __init__(self, sidecar: Any, servicers: Mapping[str, object] | None = None, *,
                 host: str | None = None, port: int | None = None) -> None:
        config = sidecar.config
        servicers = servicers if servicers is not None else getattr(sidecar, "servicers", None)
        if not servicers:
            raise ValueError("the gateway has no servicers: pass {full service name: servicer} or set "
                             "sidecar.servicers")
        self.routes: dict[str, Route] = discover_routes(servicers)
        self._sidecar = sidecar
        self._limiter = sidecar.limiter
        self._limits = config.limits
        self._host = config.server.host if host is None else host
        self._wanted_port = config.server.http_port if port is None else port
        if self._wanted_port < 0:
            raise ValueError("http_port is -1 (no gateway); pass port=0 for a free port")
        token = config.server.auth_token
        self._expected_auth = f"Bearer {token}".encode() if token else None
        self._tls = (config.server.tls_cert_file, config.server.tls_key_file)
        self._workers = config.server.workers
        self._grace_s = config.server.shutdown_grace_s
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.BaseRunner | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._draining = False
        self._inflight = 0
        self._streams: set[_StreamCall] = set()
        self._preview = {name: (resources.files("mien") / "data" / "preview" / name).read_bytes()
                         for name in _PREVIEW_FILES}

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> int:
        """Bind and serve in a background thread; returns the port."""
        if self._thread is not None:
            raise RuntimeError("the gateway is already started")
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as error:  # noqa: BLE001 - handed to start(), which raises it in the caller
                failure.append(error)
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                loop.close()
                started.set()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="mien-gateway", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            error = failure[0]
            if isinstance(error, OSError | ssl.SSLError):
                raise InvalidArgument(f"cannot serve the HTTP gateway on {self._host}:{self._wanted_port}: {error}",
                                      field="server.http_port") from error
            raise error
        scheme = "https" if self._tls[0] else "http"
        logger.info("mien gateway serving HTTP/JSON + WebSocket on {}://{}:{} (preview at /preview)",
                    scheme, self._host or "0.0.0.0", self.port)
        return self.port

    def stop(self, grace_s: float | None = None) -> None:
        """Drain: ``/healthz`` turns 503 and new calls get UNAVAILABLE at once; in-flight calls get
        ``grace_s`` (default ``server.shutdown_grace_s``), then open streams end with an UNAVAILABLE
        status frame and close 1001; then the port closes."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        grace = self._grace_s if grace_s is None else grace_s
        future = asyncio.run_coroutine_threadsafe(self._close(grace), loop)
        try:
            future.result(timeout=grace + _CANCEL_WAIT_S + 5.0)
        except FutureTimeout:
            logger.warning("the gateway did not close within {:.1f} s; stopping its loop", grace + _CANCEL_WAIT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5.0)
        logger.info("mien gateway stopped")

    def drain(self) -> None:
        """Start draining without waiting (``/healthz`` 503, new calls UNAVAILABLE); :meth:`stop` finishes."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(setattr, self, "_draining", True)

    async def _open(self) -> None:
        # aiohttp's low-level server (one handler for every path) with the gateway's own connection class:
        # JSON error bodies for what aiohttp refuses itself; a connection that has not sent a whole request head
        # within limits.http_header_timeout_s of opening (or of its last response) is closed; bodies are not
        # decompressed (a Content-Encoding is refused: no gzip bomb)
        server = _HttpServer(self._dispatch, loop=asyncio.get_running_loop(), access_log=None,
                             keepalive_timeout=self._limits.http_header_timeout_s, auto_decompress=False,
                             max_line_size=_MAX_HEADER_LINE, max_field_size=_MAX_HEADER_LINE,
                             max_headers=_MAX_HEADERS, lingering_time=_LINGER_S)
        self._runner = web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = self._bind()
        ssl_context = None
        if self._tls[0]:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(self._tls[0], self._tls[1])
        site = web.SockSite(self._runner, sock, ssl_context=ssl_context)
        await site.start()
        self.port = sock.getsockname()[1]
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="mien-http")

    def _bind(self) -> socket.socket:
        host = self._host or None
        infos = socket.getaddrinfo(host, self._wanted_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        return sock

    async def _close(self, grace_s: float) -> None:
        self._draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while (self._inflight or self._streams) and loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
        for call in list(self._streams):
            call.fail(_UNAVAILABLE, "the sidecar is shutting down; reconnect to another instance", close_code=1001)
        deadline = loop.time() + _CANCEL_WAIT_S
        while self._streams and loop.time() < deadline:
            await asyncio.sleep(_POLL_S)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # --- routing -----------------------------------------------------------------------------------

    async def _dispatch(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/", "/preview") or path.startswith("/preview/"):
            if request.method not in ("GET", "HEAD"):
                return _error(grpc.StatusCode.UNIMPLEMENTED, f"{path} only answers GET", status=405,
                              headers={"Allow": "GET, HEAD"})
            if path == "/healthz":
                return self._healthz()
            if path == "/":
                return web.Response(status=302, headers={"Location": "/preview"})
            return self._preview_file(path)
        route = self.routes.get(path)
        if route is None:
            return self._reject(request, grpc.StatusCode.NOT_FOUND,
                                f"no method {request.method} {path}; available: {self._listing()}")
        if route.unary:
            if request.method != "POST":
                return self._reject(request, grpc.StatusCode.UNIMPLEMENTED,
                                    f"{path} is a unary RPC: send POST with a JSON body", status=405,
                                    headers={"Allow": "POST"})
            return await self._unary(request, route)
        if request.method != "GET":
            return self._reject(request, grpc.StatusCode.UNIMPLEMENTED,
                                f"{path} is a streaming RPC: open a WebSocket (GET with Upgrade: websocket)",
                                status=405, headers={"Allow": "GET"})
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._reject(request, grpc.StatusCode.FAILED_PRECONDITION,
                                f"{path} is a streaming RPC: open a WebSocket (Upgrade: websocket)", status=426,
                                headers={"Upgrade": "websocket"})
        return await self._stream(request, route)

    def _listing(self) -> str:
        methods = [f"POST {r.path}" if r.unary else f"WebSocket {r.path}" for r in self.routes.values()]
        return ", ".join([*methods, "GET /healthz", "GET /preview"])

    def _healthz(self) -> web.Response:
        status = "NOT_SERVING" if self._draining else self._health_status()
        return web.json_response({"status": status}, status=200 if status == "SERVING" else 503)

    def _health_status(self) -> str:
        health = getattr(self._sidecar, "health", None)
        if health is None:
            return "SERVING"
        context = GatewayContext("local", ())
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), context)
        except Aborted:
            return "SERVICE_UNKNOWN"
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def _preview_file(self, path: str) -> web.Response:
        name = "index.html" if path == "/preview" else path.removeprefix("/preview/")
        if name not in _PREVIEW_FILES:
            return _error(grpc.StatusCode.NOT_FOUND, f"no file {path}; the preview page is at /preview")
        return web.Response(body=self._preview[name], content_type=_PREVIEW_FILES[name], charset="utf-8",
                            headers=_PREVIEW_HEADERS)

    # --- checks shared by unary calls and streams ----------------------------------------------------

    def _reject(self, request: BaseRequest, code: grpc.StatusCode, message: str, *, status: int | None = None,
                headers: Mapping[str, str] | None = None) -> web.Response:
        """One log line for a request the gateway refuses before any servicer sees it."""
        client = self._limiter.key(self._context(request))
        logger.info("HTTP {} {} client={} status={}", printable(request.method, 16), printable(request.path),
                    client, code.name)
        return _error(code, message, status=status, headers=headers)

    def _forbidden(self, request: BaseRequest) -> str | None:
        """Why a browser page must not call us (cross-site page or DNS rebinding), or None."""
        host = urlsplit(f"//{request.host}").hostname or ""
        if is_loopback(self._host or "0.0.0.0") and not is_loopback(host):
            return (f"Host {request.host!r} is not a loopback name; this sidecar listens on loopback only "
                    "(call it as 127.0.0.1 or localhost)")
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        # some native WebSocket clients send a bare "host:port" Origin, without a scheme
        origin_host = urlsplit(origin if "://" in origin else f"//{origin}").hostname
        if origin_host and (is_loopback(origin_host) or origin_host.lower() == host.lower()):
            return None
        return f"requests from pages of origin {origin!r} are not allowed (only same-origin or loopback pages)"

    def _authenticated(self, request: BaseRequest, *, allow_query: bool) -> bool:
        if self._expected_auth is None:
            return True
        sent = request.headers.get("Authorization", "")
        if allow_query and not sent and "token" in request.query:
            sent = f"Bearer {request.query['token']}"
        return hmac.compare_digest(sent.encode(), self._expected_auth)

    def _unauthenticated_message(self, *, websocket: bool) -> str:
        how = "the header 'Authorization: Bearer <token>'" + (" or the query parameter ?token=<token>"
                                                                if websocket else "")
        return str(Unauthenticated(f"missing or wrong credentials: send {how} with the sidecar's token"))

    @staticmethod
    def _context(request: BaseRequest) -> GatewayContext:
        peername = request.transport.get_extra_info("peername") if request.transport else None
        if isinstance(peername, tuple) and len(peername) >= 2:
            host, port = str(peername[0]), peername[1]
            peer = f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
        else:
            peer = "unix:" + str(peername or "unknown")
        metadata = [(k.lower(), v) for k, v in request.headers.items() if k.lower() not in _HIDDEN_HEADERS]
        return GatewayContext(peer, metadata)

    # --- unary -------------------------------------------------------------------------------------

    async def _unary(self, request: BaseRequest, route: Route) -> web.StreamResponse:
        if self._draining:
            return self._reject(request, _UNAVAILABLE, "the sidecar is shutting down")
        why = self._forbidden(request)
        if why:
            return self._reject(request, grpc.StatusCode.PERMISSION_DENIED, why)
        if not self._authenticated(request, allow_query=False):
            return self._reject(request, grpc.StatusCode.UNAUTHENTICATED,
                                self._unauthenticated_message(websocket=False),
                                headers={"WWW-Authenticate": "Bearer"})
        if request.content_type != "application/json":
            return self._reject(request, grpc.StatusCode.INVALID_ARGUMENT,
                                f"send the body as proto3 JSON with 'Content-Type: application/json' (got "
                                f"{printable(request.headers.get('Content-Type', 'none'), 60)!r})", status=415)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return self._reject(request, grpc.StatusCode.INVALID_ARGUMENT,
                                f"Content-Encoding {printable(encoding, 40)!r} is not accepted; send the JSON body "
                                "uncompressed (Content-Encoding: identity)", status=415)
        limit = self._limits.max_message_bytes
        too_large = (f"the body is larger than the sidecar's limit of {limit} bytes (limits.max_message_bytes); "
                     "send shorter audio or raise the limit")
        if request.content_length is not None and request.content_length > limit:
            return self._closing(self._reject(request, grpc.StatusCode.RESOURCE_EXHAUSTED, too_large, status=413))
        chunks: list[bytes] = []
        size = 0
        timeout_s = self._limits.http_body_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                async for chunk in request.content.iter_chunked(256 * 1024):
                    size += len(chunk)
                    if size > limit:
                        return self._closing(self._reject(request, grpc.StatusCode.RESOURCE_EXHAUSTED, too_large,
                                                          status=413))
                    chunks.append(chunk)
        except TimeoutError:
            return self._closing(self._reject(
                request, grpc.StatusCode.DEADLINE_EXCEEDED,
                f"the request body did not arrive within {timeout_s:g} s (limits.http_body_timeout_s); "
                f"{size} bytes came", status=408))
        context = self._context(request)
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        self._inflight += 1
        try:
            status, body = await loop.run_in_executor(self._executor, self._call_unary, route, chunks, context)
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type="application/json")
            # a large response is encoded and sent piece by piece: memory stays bounded whatever its size
            response = web.StreamResponse(status=status, headers={"Content-Type": "application/json; charset=utf-8"})
            await response.prepare(request)
            while (piece := await loop.run_in_executor(self._executor, next, body, None)) is not None:
                await response.write(piece.encode("utf-8"))
            await response.write_eof()
            return response
        finally:
            self._inflight -= 1

    @staticmethod
    def _closing(response: web.Response) -> web.Response:
        """The connection closes after this answer (its request body is not read to the end)."""
        response.force_close()
        return response

    def _call_unary(self, route: Route, chunks: list[bytes],
                    context: GatewayContext) -> tuple[int, str | Iterator[str]]:
        """Worker thread: parse, take a slot of the client's limit, call the servicer; the JSON of a success
        comes as an iterator of pieces (encoded while they are sent). The body's ``chunks`` are emptied once
        parsed: a line that waits for its turn then holds only its message (a 32 MB body held twice more as the
        chunks and their join added ~66 MB to every waiting line)."""
        client = self._limiter.key(context)
        context.mien_client = client  # for the servicer's log line
        try:
            body = b"".join(chunks)
            chunks.clear()
            message = parse_request(body, route.request_type)
            del body
            self._limiter.acquire(client)
        except MienError as error:
            code = status_of(error).grpc_code
            logger.info("HTTP POST {} client={} status={}", route.path, client, code.name)
            return http_status(code), _error_body(code, str(error))
        try:
            response = route.behavior(message, context)
            failed = context.error_status()
            if failed is not None:
                return http_status(failed[0]), _error_body(*failed)
            if not isinstance(response, route.response_type):
                raise TypeError(f"{route.path} returned {type(response).__name__}, not "
                                f"{route.response_type.DESCRIPTOR.full_name}")
            return 200, message_json_chunks(response)
        except Aborted:
            code, details = context.error_status() or (grpc.StatusCode.UNKNOWN, "")
            return http_status(code), _error_body(code, details)
        except Exception as error:  # noqa: BLE001 - the request boundary: logged, answered 500 without details
            failed = _unexpected(route, context, error)
            return http_status(failed[0]), _error_body(*failed)
        finally:
            self._limiter.release(client)
            context.terminate()

    # --- streams -----------------------------------------------------------------------------------

    async def _stream(self, request: BaseRequest, route: Route) -> web.StreamResponse:
        why = self._forbidden(request)
        if why:  # refused before the upgrade: a cross-site page gets no socket at all
            return self._reject(request, grpc.StatusCode.PERMISSION_DENIED, why)
        frame_limit = self._limits.max_stream_message_bytes * 4 // 3 + _WS_OVERHEAD
        ws = _WebSocket(max_msg_size=frame_limit, timeout=2.0, autoping=True, compress=False)
        ws.too_big = (f"a WebSocket frame larger than {frame_limit} bytes: a stream message may have at most "
                      f"{self._limits.max_stream_message_bytes} bytes (limits.max_stream_message_bytes; its JSON "
                      "frame 4/3 of that plus 64 KiB); send shorter chunks (20-100 ms)")
        await ws.prepare(request)
        context = self._context(request)
        client = self._limiter.key(context)
        context.mien_client = client

        async def refuse(code: grpc.StatusCode, message: str, close_code: int | None = None) -> web.WebSocketResponse:
            logger.info("WebSocket {} client={} status={}", route.path, client, code.name)
            await _StreamCall.finish(ws, _Final(code, message, close_code))
            return ws

        if self._draining:
            return await refuse(_UNAVAILABLE, "the sidecar is shutting down", 1001)
        if not self._authenticated(request, allow_query=True):
            return await refuse(grpc.StatusCode.UNAUTHENTICATED, self._unauthenticated_message(websocket=True))
        if len(self._streams) >= self._limits.max_streams:
            return await refuse(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"the sidecar already serves {self._limits.max_streams} streams (limits.max_streams)")
        try:
            self._limiter.acquire(client)
        except ResourceExhausted as error:
            return await refuse(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        call = _StreamCall(route, context, ws, asyncio.get_running_loop(),
                           release=lambda: self._limiter.release(client))
        self._streams.add(call)
        try:
            await call.run()
        finally:
            self._streams.discard(call)
        return ws


class _StreamCall:
    """One WebSocket call: frames in -> request iterator (worker thread) -> servicer -> frames out."""

    def __init__(self, route: Route, context: GatewayContext, ws: web.WebSocketResponse,
                 loop: asyncio.AbstractEventLoop, release: Callable[[], None]) -> None:
        self.route = route
        self.context = context
        self.ws = ws
        self.loop = loop
        self._release = release
        self._requests: queue.Queue[Any] = queue.Queue()
        self._outbox: asyncio.Queue[str | _Final] = asyncio.Queue()
        self._window = threading.Semaphore(_WINDOW)
        self._failure: _Final | None = None
        self._received = 0
        context.add_callback(lambda: self._requests.put(None))  # wakes a worker blocked on the next request

    def fail(self, code: grpc.StatusCode, message: str, *, close_code: int | None = None) -> None:
        """End the call with this status (a bad frame, shutdown): the servicer is cancelled."""
        if self._failure is None:
            self._failure = _Final(code, message, close_code)
        self.context.terminate()

    async def run(self) -> None:
        worker = threading.Thread(target=self._work, name=f"mien-ws-{self.route.method}", daemon=True)
        worker.start()
        reader = asyncio.create_task(self._read())
        try:
            final = await self._send()
        finally:
            reader.cancel()
            await asyncio.wait([reader])
        if not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        await self.finish(self.ws, self._failure or final)

    async def _send(self) -> _Final:
        """Forward the servicer's responses as they come; returns its final status."""
        cancelled_at: float | None = None
        while True:
            try:
                item = await asyncio.wait_for(self._outbox.get(), 0.25)
            except TimeoutError:
                if self.context.is_active():
                    continue
                # cancelled: give the servicer a moment to notice and return, but do not hang on it
                cancelled_at = cancelled_at or self.loop.time()
                if self.loop.time() - cancelled_at > _CANCEL_WAIT_S:
                    logger.warning("{}: the servicer did not return within {} s of cancellation",
                                   self.route.path, _CANCEL_WAIT_S)
                    return _Final(grpc.StatusCode.CANCELLED, "the call was cancelled")
                continue
            if isinstance(item, _Final):
                return item
            if not self.ws.closed and self._failure is None:
                try:
                    await self.ws.send_str(item)
                except ConnectionError:
                    self.context.terminate()
            self._window.release()

    async def _read(self) -> None:
        """Client frames -> requests; a closed socket or a bad frame cancels the call."""
        name = self.route.request_type.DESCRIPTOR.full_name
        try:
            async for frame in self.ws:
                if frame.type == WSMsgType.TEXT:
                    try:
                        request = await asyncio.to_thread(parse_request, frame.data, self.route.request_type)
                    except InvalidArgument as error:
                        self.fail(grpc.StatusCode.INVALID_ARGUMENT, f"frame {self._received}: {error}")
                        return
                    if self._received and not self.route.client_streaming:
                        self.fail(grpc.StatusCode.INVALID_ARGUMENT,
                                  f"{self.route.path} takes one request message; got a second frame")
                        return
                    self._received += 1
                    self._requests.put(request)
                    while self._requests.qsize() >= _MAX_QUEUED and self.context.is_active():
                        await asyncio.sleep(0.01)  # the servicer is behind: stop reading (TCP pushes back)
                elif frame.type == WSMsgType.BINARY:
                    self.fail(grpc.StatusCode.INVALID_ARGUMENT,
                              f"frame {self._received}: send text frames, each the proto3 JSON of one {name}")
                    return
                elif frame.type == WSMsgType.ERROR:
                    logger.info("{}: WebSocket error from the client: {}", self.route.path, self.ws.exception())
                    break
        finally:
            self.context.terminate()  # the client is gone (or finished): no more requests will come

    # worker thread --------------------------------------------------------------------------------

    def _next_request(self) -> Any:
        while True:
            if not self.context.is_active():
                raise CallCancelled()
            item = self._requests.get()
            if item is not None:
                return item

    def _request_iterator(self) -> Iterator[Any]:
        while True:
            yield self._next_request()

    def _emit(self, response: Any) -> None:
        if not isinstance(response, self.route.response_type):
            raise TypeError(f"{self.route.path} yielded {type(response).__name__}, not "
                            f"{self.route.response_type.DESCRIPTOR.full_name}")
        text = message_json(response)
        while not self._window.acquire(timeout=_POLL_S):
            if not self.context.is_active():
                raise CallCancelled()
        if not self.context.is_active():
            raise CallCancelled()
        self._post(text)

    def _post(self, item: str | _Final) -> None:
        try:
            self.loop.call_soon_threadsafe(self._outbox.put_nowait, item)
        except RuntimeError:  # the loop is closed: the gateway stopped, nobody is listening any more
            logger.debug("{}: gateway loop closed before the stream ended", self.route.path)

    def _work(self) -> None:
        route, context = self.route, self.context
        started = time.perf_counter()
        final = _Final(_OK, "")
        try:
            argument = self._request_iterator() if route.client_streaming else self._next_request()
            result = route.behavior(argument, context)
            if route.server_streaming:
                try:
                    for response in result:
                        self._emit(response)
                finally:
                    close = getattr(result, "close", None)
                    if callable(close):
                        close()
            else:
                self._emit(result)
            failed = context.error_status()
            if failed is not None:
                final = _Final(*failed)
        except Aborted:
            final = _Final(*(context.error_status() or (grpc.StatusCode.UNKNOWN, "")))
        except CallCancelled:
            final = _Final(grpc.StatusCode.CANCELLED, "the call was cancelled")
        except Exception as error:  # noqa: BLE001 - the request boundary: logged, INTERNAL without details
            final = _Final(*_unexpected(route, context, error))
        finally:
            self._release()
            context.terminate()
            logger.debug("{} stream ended after {:.0f} ms: {}", route.path, (time.perf_counter() - started) * 1e3,
                         final.code.name)
            self._post(final)

    # ----------------------------------------------------------------------------------------------

    @staticmethod
    async def finish(ws: web.WebSocketResponse, final: _Final) -> None:
        """Send the status frame and close (1000; 1008 auth; 1011 internal; 1001 shutdown)."""
        if ws.closed:
            return
        frame = json.dumps({"status": {"code": connect_code(final.code), "message": bounded_message(final.message)}})
        close_code = final.close_code or _WS_CLOSE.get(final.code, 1000)
        try:
            await ws.send_str(frame)
            await ws.close(code=close_code, message=connect_code(final.code).encode()[:120])
        except ConnectionError:
            logger.debug("client left before the status frame")
