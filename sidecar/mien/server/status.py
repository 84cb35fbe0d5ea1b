"""The one table from core exceptions to transport status codes (gRPC and HTTP)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from ..errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    MienError,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from .identity import printable

__all__ = ["Status", "status_of", "INTERNAL", "MAX_MESSAGE_CHARS", "bounded_message"]


@dataclass(frozen=True)
class Status:
    grpc_code: grpc.StatusCode
    http_status: int


STATUS: dict[type[MienError], Status] = {
    InvalidArgument: Status(grpc.StatusCode.INVALID_ARGUMENT, 400),
    NotFound: Status(grpc.StatusCode.NOT_FOUND, 404),
    FailedPrecondition: Status(grpc.StatusCode.FAILED_PRECONDITION, 409),
    ResourceExhausted: Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    DeadlineExceeded: Status(grpc.StatusCode.DEADLINE_EXCEEDED, 408),
    Unauthenticated: Status(grpc.StatusCode.UNAUTHENTICATED, 401),
    Unavailable: Status(grpc.StatusCode.UNAVAILABLE, 503),
}
INTERNAL = Status(grpc.StatusCode.INTERNAL, 500)


def status_of(error: MienError) -> Status:
    """Status for a core error (the most specific class in the table wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return INTERNAL


MAX_MESSAGE_CHARS = 1024
"""The longest status message sent to a client: the messages name the problem and what is accepted, and repeat
at most a short piece of the client's input; this bound holds whatever a message would otherwise repeat."""


def bounded_message(message: str) -> str:
    """``message`` on one line (characters that are not printable escaped) and at most :data:`MAX_MESSAGE_CHARS`
    characters."""
    return printable(message, MAX_MESSAGE_CHARS)
