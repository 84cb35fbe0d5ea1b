"""Transports around the core: the gRPC service, the HTTP/JSON + WebSocket gateway, start-up.

Nothing here animates: it converts messages (``convert``), maps errors to status codes
(``status``, one table) and runs servers (``app``).
"""

from .app import Sidecar, serve

__all__ = ["Sidecar", "serve"]
