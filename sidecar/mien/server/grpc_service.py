"""gRPC servicers: convert the request, call the core, convert the result; map errors by table.

Also the interceptors every RPC passes: bearer-token authentication (constant-time compare),
the per-client concurrency limit, and request parsing (a request that is not valid protobuf, or
has a string field that is not UTF-8, is INVALID_ARGUMENT naming the message type and the field,
not gRPC's own INTERNAL "Exception deserializing request!"). Each request logs one line: method,
request id, client, audio seconds, processing ms, status (CANCELLED for a client that left).
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from loguru import logger

from ..emotion_state import EmotionStateEngine
from ..errors import InvalidArgument, MienError, ResourceExhausted, Unauthenticated
from ..v1 import emotion_state_pb2 as es
from ..v1 import emotion_state_pb2_grpc as es_grpc
from ..v1 import face_animation_pb2 as fa
from ..v1 import face_animation_pb2_grpc as fa_grpc
from . import convert
from .describe import service_info
from .identity import ClientKeys, request_id
from .status import INTERNAL, bounded_message, status_of
from .stream_rpc import StreamDrain, serve_stream

__all__ = ["AuthInterceptor", "ClientLimiter", "ConcurrencyInterceptor", "EmotionStateService",
           "FaceAnimationService", "ParseInterceptor", "guarded"]

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def _request_id(request: Any) -> str:
    return request_id(getattr(request, "request_id", "") if request is not None else "")


def _fail(context: grpc.ServicerContext, error: BaseException, method: str, rid: str) -> None:
    """Abort the RPC with the status of ``error``; unknown errors become INTERNAL without details."""
    if isinstance(error, MienError):
        status = status_of(error)
        context.abort(status.grpc_code, bounded_message(str(error)))
    logger.opt(exception=error).error("{} {} failed with an unexpected error", method, rid)
    context.abort(INTERNAL.grpc_code, f"internal error in {method} (request {rid}); the sidecar log has details")


def guarded(method: Callable[..., Resp]) -> Callable[..., Resp]:
    """Unary RPC wrapper: one log line per request and the exception -> status table."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Resp:
        rid = _request_id(request)
        started = time.perf_counter()
        code = "OK"
        try:
            response = method(self, request, context, rid)
        except Exception as error:
            code = status_of(error).grpc_code.name if isinstance(error, MienError) else INTERNAL.grpc_code.name
            audio_s = 0.0
            _log(method.__name__, rid, context, audio_s, started, code)
            _fail(context, error, method.__name__, rid)
            raise  # unreachable: abort raises
        audio_s = float(getattr(getattr(response, "metadata", None), "audio_duration_s", 0.0) or 0.0)
        _log(method.__name__, rid, context, audio_s, started, code)
        return response

    return wrapper


_KEYS = ClientKeys()
"""The client key for log lines of calls that passed no limiter (the limiter's own keys are the same but for
trusted proxies)."""


def _log(method: str, rid: str, context: grpc.ServicerContext, audio_s: float, started: float, code: str) -> None:
    client = getattr(context, "mien_client", None) or _KEYS(context)
    logger.info("{} id={} client={} audio_s={:.2f} ms={:.1f} status={}", method, rid, client,
                audio_s, (time.perf_counter() - started) * 1000.0, code)


class FaceAnimationService(fa_grpc.FaceAnimationServicer):
    """mien.v1.FaceAnimation over the core :class:`~mien.pipeline.Animator`."""

    def __init__(self, sidecar: Any) -> None:
        self._sidecar = sidecar
        self.drain = StreamDrain()
        """The open streams: :meth:`StreamDrain.begin` ends them (frames, end, UNAVAILABLE) on shutdown."""

    @guarded
    def AnimateLine(self, request: fa.AnimateLineRequest, context: grpc.ServicerContext, rid: str) -> fa.AnimationTrack:
        line = dataclasses.replace(convert.line_request(request, self._sidecar.config.limits), request_id=rid)
        track = self._sidecar.animator.animate(line)
        return convert.track_message(track)

    @guarded
    def Describe(self, request: fa.DescribeRequest, context: grpc.ServicerContext, rid: str) -> fa.ServiceInfo:
        return service_info(self._sidecar)

    def StreamAnimate(
        self, request_iterator: Iterator[fa.StreamAnimateRequest], context: grpc.ServicerContext
    ) -> Iterator[fa.StreamAnimateResponse]:
        rid = uuid.uuid4().hex[:16]
        started = time.perf_counter()
        animator = self._sidecar.animator
        if animator.streams is None:
            _log("StreamAnimate", rid, context, 0.0, started, "UNIMPLEMENTED")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "StreamAnimate needs the neural model, which this sidecar "
                                                         "has not loaded (neural.model)")
            return
        code = "CANCELLED"  # unless it ends otherwise: a stream closed by gRPC at a yield never reaches the end
        try:
            yield from serve_stream(animator.streams, request_iterator, versions=animator.versions(),
                                    is_active=context.is_active, cancel=context.cancel, drain=self.drain)
            code = "OK" if context.is_active() else "CANCELLED"
        except grpc.RpcError:
            return  # the request iterator raises this when the client cancelled or went away: nothing to answer
        except Exception as error:  # noqa: BLE001 - translated to a status below, never swallowed
            if not context.is_active():
                return  # the client left while the stream failed: nobody to tell
            code = status_of(error).grpc_code.name if isinstance(error, MienError) else INTERNAL.grpc_code.name
            _fail(context, error, "StreamAnimate", rid)
        finally:
            _log("StreamAnimate", rid, context, 0.0, started, code)


class AuthInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>`. Only the health check stays open (a load balancer's
    probe carries no token); health Watch, which holds a call open, needs the token like everything else."""

    _OPEN = ("/grpc.health.v1.Health/Check",)

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith(self._OPEN):
            return continuation(details)
        sent = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(str(sent).encode(), self._expected):
            return continuation(details)
        message = str(Unauthenticated("missing or wrong credentials: send the header "
                                      "'authorization: Bearer <token>' with the sidecar's token"))
        return _reject(continuation(details), grpc.StatusCode.UNAUTHENTICATED, message)


def _reject(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    if handler is None:
        return None

    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)
    return grpc.stream_unary_rpc_method_handler(deny, handler.request_deserializer, handler.response_serializer)


class ClientLimiter:
    """Counts in-flight requests per client; shared by the gRPC interceptor and the HTTP gateway.

    ``key(context)`` is the client of a call (:class:`~mien.server.identity.ClientKeys`: its TLS identity or its
    address, never a header it chooses unless it is a trusted proxy)."""

    def __init__(self, limit: int, trusted_proxies: str = "") -> None:
        self.limit = limit
        self.key = ClientKeys(trusted_proxies)
        self._inflight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def acquire(self, client: str) -> None:
        with self._lock:
            if self._inflight[client] >= self.limit:
                raise ResourceExhausted(
                    f"client {client} already has {self.limit} requests in flight (limits.max_concurrent_per_client"
                    f" = {self.limit}); wait for one to finish"
                )
            self._inflight[client] += 1

    def release(self, client: str) -> None:
        with self._lock:
            self._inflight[client] -= 1
            if self._inflight[client] <= 0:
                del self._inflight[client]

    def in_flight(self, client: str) -> int:
        with self._lock:
            return self._inflight.get(client, 0)


class ConcurrencyInterceptor(grpc.ServerInterceptor):
    """At most `limit` calls in flight per client (every method: health Watch and reflection hold calls open
    too); the next gets RESOURCE_EXHAUSTED."""

    def __init__(self, limiter: ClientLimiter) -> None:
        self._limiter = limiter

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return handler
        limiter = self._limiter

        def take(context: grpc.ServicerContext) -> str:
            client = limiter.key(context)
            context.mien_client = client  # for the request's log line
            try:
                limiter.acquire(client)
            except ResourceExhausted as error:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
            return client

        if handler.unary_unary:
            inner = handler.unary_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                client = take(context)
                try:
                    return inner(request, context)
                finally:
                    limiter.release(client)

            return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer,
                                                       handler.response_serializer)

        def streaming(inner_stream: Callable[[Any, grpc.ServicerContext], Iterator[Any]]) -> Callable[..., Any]:
            def stream(requests: Any, context: grpc.ServicerContext) -> Any:
                client = take(context)
                try:
                    yield from inner_stream(requests, context)
                finally:
                    limiter.release(client)

            return stream

        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), handler.request_deserializer,
                                                         handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), handler.request_deserializer,
                                                        handler.response_serializer)
        return handler


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("a varint runs past the end")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7


def wire_problem(data: bytes, descriptor: Descriptor, path: str = "", depth: int = 0) -> str:
    """What is wrong with ``data`` as a ``descriptor`` message (which field), for a parse error's message."""
    i = 0
    try:
        while i < len(data):
            key, i = _varint(data, i)
            number, wire = key >> 3, key & 7
            field = descriptor.fields_by_number.get(number)
            name = path + (field.name if field is not None else f"#{number}")
            if wire == 0:
                _, i = _varint(data, i)
            elif wire in (1, 5):
                i += 8 if wire == 1 else 4
            elif wire == 2:
                size, i = _varint(data, i)
                payload = data[i:i + size]
                i += size
                if len(payload) < size:
                    return f"field {name} is cut short ({len(payload)} of {size} bytes)"
                if field is not None and field.type == FieldDescriptor.TYPE_STRING:
                    try:
                        payload.decode("utf-8")
                    except UnicodeDecodeError as error:
                        return f"field {name} is not valid UTF-8 (byte {error.start}); strings must be UTF-8 text"
                elif field is not None and field.type == FieldDescriptor.TYPE_MESSAGE and depth < 32:
                    inner = wire_problem(payload, field.message_type, name + ".", depth + 1)
                    if inner:
                        return inner
            else:
                return f"field {name} has wire type {wire}, which this contract never uses"
            if i > len(data):
                return f"field {name} runs past the end of the message"
    except ValueError as error:
        return f"the protobuf wire format is corrupt ({error})"
    return ""


def _parser(message_type: Any) -> Callable[[bytes], Any]:
    full_name = message_type.DESCRIPTOR.full_name

    def parse(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except DecodeError:
            why = wire_problem(data, message_type.DESCRIPTOR) or "the protobuf wire format is corrupt"
            raise InvalidArgument(f"the request is not a valid {full_name}: {why}", field="(request)") from None

    return parse


class ParseInterceptor(grpc.ServerInterceptor):
    """Parses mien requests itself, so that a request that is not valid protobuf is INVALID_ARGUMENT naming the
    message type and the field (gRPC's own deserializer answers INTERNAL without saying what is wrong), and a
    stream message larger than ``max_stream_message_bytes`` is RESOURCE_EXHAUSTED before it is parsed."""

    def __init__(self, max_stream_message_bytes: int = 1 << 31) -> None:
        self._max_stream_bytes = max_stream_message_bytes

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or not details.method.startswith("/mien.") or handler.request_deserializer is None:
            return handler
        parse = getattr(handler.request_deserializer, "__self__", None)
        if parse is None:  # generated stubs pass the message class's FromString (a bound classmethod)
            return handler
        parse_request = _parser(parse)
        if handler.unary_unary:
            inner = handler.unary_unary

            def unary(data: bytes, context: grpc.ServicerContext) -> Any:
                try:
                    request = parse_request(data)
                except InvalidArgument as error:
                    _log(details.method.rsplit("/", 1)[-1], uuid.uuid4().hex[:16], context, 0.0, time.perf_counter(),
                         "INVALID_ARGUMENT")
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
                return inner(request, context)

            return grpc.unary_unary_rpc_method_handler(unary, None, handler.response_serializer)
        if handler.stream_stream:
            inner_stream = handler.stream_stream

            limit = self._max_stream_bytes

            def parsed(requests: Iterator[bytes]) -> Iterator[Any]:
                for data in requests:
                    if len(data) > limit:
                        raise ResourceExhausted(
                            f"a stream message of {len(data)} bytes; the maximum is {limit} bytes "
                            "(limits.max_stream_message_bytes): send shorter chunks (20-100 ms)", field="message")
                    yield parse_request(data)

            def stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
                # a bad message raises from the request iterator: the servicer answers it
                return inner_stream(parsed(requests), context)

            return grpc.stream_stream_rpc_method_handler(stream, None, handler.response_serializer)
        return handler


class EmotionStateService(es_grpc.EmotionStateServicer):
    """mien.v1.EmotionState over the core :class:`~mien.emotion_state.EmotionStateEngine`."""

    def __init__(self, engine: EmotionStateEngine) -> None:
        self._engine = engine

    @guarded
    def SetPersona(self, request: es.SetPersonaRequest, context: grpc.ServicerContext, rid: str) -> es.NpcState:
        kind = request.WhichOneof("persona")
        state = self._engine.set_persona(
            request.npc_id,
            convert.ocean_values(request.ocean) if kind == "ocean" else None,
            preset=convert.name(request.preset, "preset") if kind == "preset" else None,
            baseline=convert.optional_emotion(request.baseline, "baseline"),
            game_time_s=convert.optional_time(request),
        )
        return convert.npc_state(state)

    @guarded
    def ObserveUtterance(self, request: es.ObserveUtteranceRequest, context: grpc.ServicerContext,
                         rid: str) -> es.ObserveUtteranceResponse:
        result = self._engine.observe(request.npc_id, convert.speaker(request.speaker), request.text,
                                      emotion=convert.optional_emotion(request.emotion, "emotion"),
                                      game_time_s=convert.optional_time(request))
        return convert.observation(result)

    @guarded
    def GetState(self, request: es.GetStateRequest, context: grpc.ServicerContext, rid: str) -> es.NpcState:
        return convert.npc_state(self._engine.get_state(request.npc_id, convert.optional_time(request)))

    @guarded
    def ExportState(self, request: es.ExportStateRequest, context: grpc.ServicerContext,
                    rid: str) -> es.ExportStateResponse:
        return es.ExportStateResponse(blob=self._engine.export_state(request.npc_id))

    @guarded
    def ImportState(self, request: es.ImportStateRequest, context: grpc.ServicerContext, rid: str) -> es.NpcState:
        return convert.npc_state(self._engine.import_state(request.blob, request.npc_id or None))

    @guarded
    def ResetState(self, request: es.ResetStateRequest, context: grpc.ServicerContext, rid: str) -> es.NpcState:
        return convert.npc_state(self._engine.reset_state(request.npc_id, convert.optional_time(request)))

    @guarded
    def ListPersonas(self, request: es.ListPersonasRequest, context: grpc.ServicerContext,
                     rid: str) -> es.ListPersonasResponse:
        return convert.personas(self._engine.list_personas())
