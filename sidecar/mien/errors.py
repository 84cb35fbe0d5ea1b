"""Errors raised by the Mien core.

The core knows nothing about transports: it raises these, and each transport (gRPC servicer,
HTTP gateway, CLI, bake) maps the class to its own status in exactly one table. Every message
names the problem and, where it applies, what is accepted, so a game developer can fix the
request without reading our code.
"""

from __future__ import annotations

__all__ = [
    "MienError",
    "InvalidArgument",
    "NotFound",
    "FailedPrecondition",
    "ResourceExhausted",
    "DeadlineExceeded",
    "Unauthenticated",
    "Unavailable",
]


class MienError(Exception):
    """Base class of every error the core raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidArgument(MienError):
    """The request is malformed or out of range; the caller must change it."""


class NotFound(MienError):
    """A named thing (rig profile, NPC, persona) does not exist."""


class FailedPrecondition(MienError):
    """The request is valid but not in this state (e.g. audio before a stream header)."""


class ResourceExhausted(MienError):
    """A limit was hit (too many concurrent requests, message too large)."""


class DeadlineExceeded(MienError):
    """The client was too slow (a stream stalled past its timeout)."""


class Unauthenticated(MienError):
    """Missing or wrong credentials."""


class Unavailable(MienError):
    """The service cannot serve this call now (it is shutting down): retry, on another instance."""
