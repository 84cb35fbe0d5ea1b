"""Who is calling, and what of a caller's input may reach a log line: one place for gRPC and HTTP.

* :func:`printable`: any client-chosen text (request ids, paths, header values) made safe for one log
  line: characters that are not printable (newlines, ANSI escapes, bidi controls) become ``\\xNN`` /
  ``\\uNNNN`` escapes, and the result is at most :data:`MAX_ID_CHARS` characters. A newline in a request
  id can no longer forge a log line.
* :func:`request_id`: the id a request is logged and answered with: the caller's, made printable, or a
  new one.
* :class:`ClientKeys`: the key of the per-client limit: the caller's verified TLS client certificate if
  it has one, else its network address without the port. The ``x-mien-client`` header is believed only
  from the addresses in ``server.trusted_proxies`` (a proxy that sets it to the real client's address);
  from anyone else it is ignored, so a client can neither take more slots nor lock another client out.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

__all__ = ["CLIENT_HEADER", "MAX_ID_CHARS", "ClientKeys", "peer_address", "printable", "request_id"]

CLIENT_HEADER = "x-mien-client"
MAX_ID_CHARS = 128


def printable(text: object, limit: int = MAX_ID_CHARS) -> str:
    """``text`` as one safe log token: non-printable characters escaped, at most ``limit`` characters."""
    value = str(text)
    out: list[str] = []
    size = 0
    for i, char in enumerate(value):
        if char.isprintable():
            piece = char
        elif ord(char) < 0x100:
            piece = f"\\x{ord(char):02x}"
        else:
            piece = f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}"
        last = i == len(value) - 1
        if size + len(piece) > (limit if last else limit - 1):  # room for the piece, and for "…" if more follows
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def request_id(raw: object) -> str:
    """The caller's request id made printable and bounded, or a new id when it sent none."""
    text = printable(raw).strip() if raw else ""
    return text or uuid.uuid4().hex[:16]


def peer_address(peer: str) -> str:
    """The address of a gRPC-style peer (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``) without its port."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    if kind in ("ipv4", "ipv6") and ":" in rest:
        return rest.rsplit(":", 1)[0]
    return peer or "unknown"


def _addresses(text: str) -> frozenset[str]:
    out = set()
    for item in text.split(","):
        item = item.strip()
        if item:
            out.add(str(ipaddress.ip_address(item.strip("[]"))))
    return frozenset(out)


class ClientKeys:
    """The per-client key of a call (see the module doc); ``trusted_proxies`` is ``server.trusted_proxies``."""

    def __init__(self, trusted_proxies: str = "") -> None:
        self.trusted = _addresses(trusted_proxies)

    def __call__(self, context: Any) -> str:
        identities = context.peer_identities()  # only a verified client certificate (mutual TLS) gives one
        if identities:
            return "tls:" + printable(b",".join(identities).decode("utf-8", "replace"))
        address = peer_address(str(context.peer() or ""))
        try:
            canonical = str(ipaddress.ip_address(address))
        except ValueError:
            return printable(address)
        if canonical in self.trusted:
            for key, value in context.invocation_metadata() or ():
                if key == CLIENT_HEADER and value:
                    return "via-proxy:" + printable(value)
        return canonical
