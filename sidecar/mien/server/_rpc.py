"""What the HTTP gateway needs to call gRPC servicer methods without gRPC.

* :func:`discover_routes`: every method of every registered service, from the generated
  descriptors (nothing per RPC is written by hand).
* :class:`GatewayContext`: a ``grpc.ServicerContext`` for one call, so the servicers run the very
  code path they run under gRPC (``abort`` raises like gRPC's, ``is_active`` turns False when the
  client goes away, ``add_callback`` runs when the call ends).
* :func:`parse_request` / :func:`message_json`: the proto3 JSON mapping, with error messages that
  name the field (``emotion.keyframes.keyframes[1].timeS``) and what is accepted.
* :func:`connect_code` / :func:`http_status`: gRPC status code -> Connect code name and HTTP status,
  from the one table in :mod:`mien.server.status`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import numpy as np
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from loguru import logger

from ..errors import InvalidArgument
from .identity import printable
from .status import INTERNAL, STATUS

__all__ = [
    "Aborted",
    "CallCancelled",
    "GatewayContext",
    "Route",
    "connect_code",
    "discover_routes",
    "http_status",
    "message_json",
    "message_json_chunks",
    "parse_request",
]

# HTTP statuses of the codes the core never raises (Connect's mapping); the table in status.py wins.
_HTTP_FALLBACK: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_HTTP: dict[grpc.StatusCode, int] = {
    **_HTTP_FALLBACK,
    **{s.grpc_code: s.http_status for s in (*STATUS.values(), INTERNAL)},
}


def http_status(code: grpc.StatusCode) -> int:
    """HTTP status of a gRPC code: the table in ``status.py``, else Connect's mapping."""
    return _HTTP.get(code, 500)


def connect_code(code: grpc.StatusCode) -> str:
    """Connect's name of a gRPC code: ``invalid_argument``, ``not_found``, ... (``canceled`` with one l)."""
    return "canceled" if code is grpc.StatusCode.CANCELLED else code.name.lower()


class Aborted(Exception):
    """Raised by :meth:`GatewayContext.abort` (gRPC's ``abort`` raises too); the code is on the context."""


class CallCancelled(grpc.RpcError):
    """Raised inside the servicer when its client went away (what gRPC raises from a cancelled call)."""


class GatewayContext(grpc.ServicerContext):
    """The servicer context of one gateway call.

    Thread-safe: the servicer runs in a worker thread while the event loop may cancel the call.
    """

    def __init__(self, peer: str, metadata: Sequence[tuple[str, str]]) -> None:
        self._peer = peer
        self._metadata = tuple(metadata)
        self._lock = threading.Lock()
        self._active = True
        self._callbacks: list[Callable[[], None]] = []
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._initial_metadata: tuple[tuple[str, str], ...] = ()
        self._trailing_metadata: tuple[tuple[str, str], ...] = ()

    # grpc.RpcContext
    def is_active(self) -> bool:
        """False once the call ended or the client went away."""
        with self._lock:
            return self._active

    def time_remaining(self) -> float | None:
        """Gateway calls carry no deadline."""
        return None

    def cancel(self) -> None:
        """Cancel the call (the servicer sees ``is_active() == False``)."""
        self.terminate()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` when the call ends; False if it already has."""
        with self._lock:
            if not self._active:
                return False
            self._callbacks.append(callback)
            return True

    # grpc.ServicerContext
    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        """The request headers, lower-cased (credentials left out)."""
        return self._metadata

    def peer(self) -> str:
        """``ipv4:ADDRESS:PORT`` / ``ipv6:[ADDRESS]:PORT``, like gRPC's."""
        return self._peer

    def peer_identities(self) -> None:
        return None

    def peer_identity_key(self) -> None:
        return None

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    def set_compression(self, compression: Any) -> None:
        """Compression is the HTTP layer's business; ignored."""

    def disable_next_message_compression(self) -> None:
        """Compression is the HTTP layer's business; ignored."""

    def send_initial_metadata(self, initial_metadata: Sequence[tuple[str, str]]) -> None:
        self._initial_metadata = tuple(initial_metadata)

    def set_trailing_metadata(self, trailing_metadata: Sequence[tuple[str, str]]) -> None:
        self._trailing_metadata = tuple(trailing_metadata)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailing_metadata

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with ``code`` and ``details``: raises :class:`Aborted`, as gRPC raises."""
        if code is grpc.StatusCode.OK:
            raise ValueError("abort() needs an error code, not OK")
        with self._lock:
            self._code, self._details = code, details
        raise Aborted(details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        self.abort(status.code, status.details)

    def set_code(self, code: grpc.StatusCode) -> None:
        with self._lock:
            self._code = code

    def set_details(self, details: str) -> None:
        with self._lock:
            self._details = details

    def code(self) -> grpc.StatusCode | None:
        with self._lock:
            return self._code

    def details(self) -> str | None:
        with self._lock:
            return self._details

    # gateway side
    def error_status(self) -> tuple[grpc.StatusCode, str] | None:
        """The error the servicer set (``abort`` / ``set_code``), or None."""
        with self._lock:
            if self._code is None or self._code is grpc.StatusCode.OK:
                return None
            return self._code, self._details or ""

    def terminate(self) -> None:
        """End the call: ``is_active()`` turns False and the callbacks run (once)."""
        with self._lock:
            if not self._active:
                return
            self._active = False
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - one failing callback must not stop the others; logged
                logger.exception("a servicer's call-end callback failed")


@dataclass(frozen=True)
class Route:
    """One RPC as the gateway serves it."""

    service: str
    """Full service name, e.g. ``mien.v1.FaceAnimation``."""
    method: str
    """Method name, e.g. ``AnimateLine``."""
    request_type: type[Message]
    response_type: type[Message]
    client_streaming: bool
    server_streaming: bool
    behavior: Callable[[Any, GatewayContext], Any]
    """The servicer's bound method (called exactly like gRPC calls it)."""

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.method}"

    @property
    def unary(self) -> bool:
        """Unary request and response: served as ``POST`` with JSON; the others as WebSocket."""
        return not (self.client_streaming or self.server_streaming)


def _import_generated() -> None:
    """Import every generated ``mien.v1`` module, so the default descriptor pool knows every service."""
    from .. import v1

    for module in pkgutil.iter_modules(v1.__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"{v1.__name__}.{module.name}")


def _unimplemented(method: str) -> Callable[[Any, GatewayContext], Any]:
    def behavior(request: Any, context: GatewayContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"method {method} is not implemented by this sidecar")

    return behavior


def discover_routes(servicers: Mapping[str, object]) -> dict[str, Route]:
    """Routes by path for every method of every service in ``servicers`` ({full service name: servicer}).

    Services are looked up in the generated descriptors (any ``mien.v1`` service, or any other whose
    ``_pb2`` module is imported, such as ``grpc.health.v1.Health``).
    """
    _import_generated()
    pool = descriptor_pool.Default()
    routes: dict[str, Route] = {}
    for name, servicer in servicers.items():
        try:
            service = pool.FindServiceByName(name)
        except KeyError:
            raise ValueError(f"no generated descriptor for service {name!r}: use the full name "
                             "(e.g. 'mien.v1.FaceAnimation') of a service whose _pb2 module exists") from None
        for method in service.methods:
            behavior = getattr(servicer, method.name, None)
            route = Route(
                service=service.full_name,
                method=method.name,
                request_type=message_factory.GetMessageClass(method.input_type),
                response_type=message_factory.GetMessageClass(method.output_type),
                client_streaming=method.client_streaming,
                server_streaming=method.server_streaming,
                behavior=behavior if callable(behavior) else _unimplemented(method.full_name),
            )
            routes[route.path] = route
    return routes


# --- proto3 JSON -----------------------------------------------------------------------------------

_JSON_TYPES = {"int": "number", "float": "number", "bool": "boolean", "dict": "object", "list": "array",
               "NoneType": "null", "str": "string"}
_CHAIN = re.compile(r"Failed to parse (\S+?) field: ")
_AT = re.compile(r'\s+at "?([^"\s]+?)"?\.*(?=\n|$)')
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "([^"]*)"')
_AVAILABLE = re.compile(r"Available Fields\(except extensions\): \"\[(.*)\]\"")
_REWRITES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"object of type '(\w+)' has no len\(\)"),
     lambda m: f"expected a base64 string, got a JSON {_JSON_TYPES.get(m[1], m[1])}"),
    (re.compile(r"expected string or bytes-like object, got '(\w+)'"),
     lambda m: f"expected a string, got a JSON {_JSON_TYPES.get(m[1], m[1])}"),
    (re.compile(r"'(\w+)' object is not iterable"),
     lambda m: f"expected a JSON object or array, got a JSON {_JSON_TYPES.get(m[1], m[1])}"),
    (re.compile(r"Invalid enum value (.*) for enum type ([\w.]+)"),
     lambda m: f"{_bounded(m[1])} is not a value of {m[2]}; accepted: {_enum_names(m[2])}"),
    (re.compile(r"invalid literal for int\(\) with base 10: (.*)", re.S),
     lambda m: f"expected an integer (a JSON number, or a string of digits), got {_bounded(m[1])}"),
    (re.compile(r"Couldn't parse (float|integer): (.*)", re.S),
     lambda m: f"Couldn't parse {m[1]}: {_bounded(m[2])}"),
)
_ECHO_CHARS = 60
"""The most characters of a client's value an error message repeats."""


def _bounded(text: str, limit: int = _ECHO_CHARS) -> str:
    """A client's value as an error message repeats it: at most ``limit`` characters, non-printables escaped."""
    return printable(text, limit)


def _enum_names(full_name: str) -> str:
    try:
        return ", ".join(v.name for v in descriptor_pool.Default().FindEnumTypeByName(full_name).values)
    except KeyError:
        return "(see the proto)"



class _DuplicateKey(ValueError):
    pass


class _BadKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise _BadKey(key) from None
        result[key] = value
    return result


def _json_int(text: str) -> int | float:
    """A JSON integer; one longer than any 64-bit integer becomes a float (infinite past 1e308), so that the field
    it is given to refuses it by name (Python's int() refuses more than 4300 digits, float() overflows)."""
    if len(text) <= 24:
        return int(text)
    try:
        return float(text)
    except OverflowError:
        return float("-inf") if text.startswith("-") else float("inf")


_BASE64 = re.compile(r"[A-Za-z0-9+/\-_\s]*={0,2}\s*")


def _check_message(data: dict[str, Any], descriptor: Descriptor, path: str) -> None:
    """What json_format lets through but the proto3 JSON mapping does not: a JSON boolean given to a number
    field (json_format reads true as 1) and a bytes field that is not base64 (json_format drops the other
    characters). Unknown fields are left to json_format, which names them."""
    for key, value in data.items():
        field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
        if field is None or value is None:
            continue
        where = f"{path}.{key}" if path else key
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if isinstance(value, dict):
                value_field = field.message_type.fields_by_name["value"]
                for k, v in value.items():
                    _check_value(v, value_field, f"{where}[{_bounded(k)}]")
        elif field.is_repeated:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    _check_value(item, field, f"{where}[{i}]")
        else:
            _check_value(value, field, where)


def _check_value(value: Any, field: FieldDescriptor, path: str) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if isinstance(value, dict) and field.message_type.full_name.startswith("mien."):
            _check_message(value, field.message_type, path)
    elif field.type == FieldDescriptor.TYPE_BOOL:
        return
    elif isinstance(value, bool):
        raise InvalidArgument(f"field {path}: expected a {'string' if field.type in _TEXT_TYPES else 'number'}, "
                              "got a JSON boolean", field=path)
    elif field.type == FieldDescriptor.TYPE_BYTES and isinstance(value, str) and not _BASE64.fullmatch(value):
        raise InvalidArgument(f"field {path}: not base64 (RFC 4648, standard or URL-safe alphabet); bytes fields "
                              "take base64 text", field=path)


_TEXT_TYPES = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_ENUM)


def _explain(error: str) -> tuple[str, str]:
    """(field path, reason) of a json_format ParseError message."""
    chain = _CHAIN.findall(error)
    reason = _CHAIN.sub("", error).strip()
    path = ".".join(chain)
    missing = _NO_FIELD.search(reason)
    at = _AT.search(reason)
    if at:
        # "AnimateLineRequest.emotion.keyframes.keyframes[1].timeS": drop the message type name
        parts = at[1].split(".", 1)
        path = parts[1] if len(parts) == 2 else ""
        reason = reason[: at.start()] + reason[at.end():]
    if missing:
        available = _AVAILABLE.search(reason)
        accepted = ", ".join(f.strip(" '") for f in available[1].split(",")) if available else ""
        key = _bounded(missing[2])
        path = f"{path}.{key}" if path else key
        reason = f"unknown field {key!r} in {missing[1]}" + (f"; accepted: {accepted}" if accepted else "")
    for pattern, rewrite in _REWRITES:
        reason = pattern.sub(rewrite, reason)
    return path or "(body)", reason.strip().rstrip(".")


_LARGE_BODY_BYTES = 1 << 20
_large_parse = threading.Lock()


def parse_request(text: str | bytes, message_type: type[Message]) -> Message:
    """Parse the proto3 JSON of one ``message_type``; errors are InvalidArgument naming the field.

    Bodies over 1 MiB are parsed one at a time: a parse holds the GIL throughout (nothing is lost by taking
    turns) and needs about four times its body while it runs (the text, the JSON's base64 string, the bytes it
    decodes to, the message's copy); eight 32 MB bodies parsed at once took over 1 GB together."""
    if len(text) <= _LARGE_BODY_BYTES:
        return _parse_request(text, message_type)
    with _large_parse:
        return _parse_request(text, message_type)


def _parse_request(text: str | bytes, message_type: type[Message]) -> Message:
    name = message_type.DESCRIPTOR.full_name
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")  # JSON on the wire is UTF-8 (RFC 8259); no guessing of UTF-16/32
        data = json.loads(text or "{}", object_pairs_hook=_no_duplicates, parse_int=_json_int)
    except _DuplicateKey as error:
        key = _bounded(str(error.args[0]))
        raise InvalidArgument(f"{name}: field {key!r} appears twice in the JSON object", field=key) from None
    except _BadKey as error:
        key = _bounded(str(error.args[0]))
        raise InvalidArgument(f"{name}: the field name {key!r} is not valid Unicode text (a lone surrogate)",
                              field=key) from None
    except json.JSONDecodeError as error:
        raise InvalidArgument(f"{name}: the body is not valid JSON: {error.msg} at line {error.lineno} column "
                              f"{error.colno}", field="(body)") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"{name}: the body is not UTF-8 text", field="(body)") from None
    except RecursionError:
        raise InvalidArgument(f"{name}: the JSON is nested too deeply", field="(body)") from None
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data).__name__, type(data).__name__)
        raise InvalidArgument(f"{name}: the body must be a JSON object (the proto3 JSON of {name}), got a JSON {kind}",
                              field="(body)")
    try:
        _check_message(data, message_type.DESCRIPTOR, "")
    except InvalidArgument as error:
        raise InvalidArgument(f"{name}: {error}", field=error.field) from None
    message = message_type()
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=False)
    except json_format.ParseError as error:
        field, reason = _explain(str(error))
        field = _bounded(field, 120)
        raise InvalidArgument(f"{name}: field {field}: {printable(reason, 300)}", field=field) from None
    except (ValueError, TypeError, OverflowError, SystemError, RecursionError) as error:
        # what json_format itself fails on (not its ParseError): still the client's JSON, never INTERNAL
        logger.info("{}: json_format failed with {} on a request", name, type(error).__name__)
        raise InvalidArgument(f"{name}: the JSON does not map onto {name} (a value of the wrong kind or out of "
                              "range somewhere)", field="(body)") from None
    return message


def message_json(message: Message) -> str:
    """The proto3 JSON of ``message``: camelCase names, every field present (defaults included)."""
    return "".join(message_json_chunks(message))


_LARGE_ARRAY = 4096
"""Repeated float/double fields longer than this are written by :func:`message_json_chunks` piece by piece."""
_ARRAY_CHUNK = 1 << 16
_NUMBER_TYPES = {FieldDescriptor.TYPE_FLOAT: np.float32, FieldDescriptor.TYPE_DOUBLE: np.float64}
_NON_FINITE = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}


def _numbers(values: np.ndarray) -> str:
    """Comma-separated JSON numbers: the shortest text that reads back as the same float32/float64 (what
    json_format writes), at C speed; NaN and infinities as proto3 JSON's strings."""
    texts = [str(v) for v in values]
    if not np.isfinite(values).all():
        texts = [_NON_FINITE.get(t, t) for t in texts]
    return ",".join(texts)


def message_json_chunks(message: Message) -> Iterator[str]:
    """The proto3 JSON of ``message`` in pieces of bounded size (a track of millions of values is never one
    string, nor one Python list); ``"".join`` of them is :func:`message_json`. Large repeated float fields are
    taken out of ``message`` (it is left without them) and written last, 65536 values a piece."""
    large = []
    for field, value in message.ListFields():
        if (field.is_repeated and field.type in _NUMBER_TYPES
                and len(value) > _LARGE_ARRAY):
            large.append((field, np.fromiter(value, dtype=_NUMBER_TYPES[field.type], count=len(value))))
    for field, _ in large:
        message.ClearField(field.name)
    data = json_format.MessageToDict(message, preserving_proto_field_name=False,
                                     always_print_fields_with_no_presence=True)
    for field, _ in large:
        data.pop(field.json_name, None)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if not large:
        yield text
        return
    yield text[:-1]
    separator = "," if data else ""
    for field, values in large:
        yield f'{separator}"{field.json_name}":['
        separator = ","
        for start in range(0, len(values), _ARRAY_CHUNK):
            yield ("," if start else "") + _numbers(values[start:start + _ARRAY_CHUNK])
        yield "]"
    yield "}"
