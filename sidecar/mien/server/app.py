"""Start-up and shutdown: one process serving gRPC (+ health, reflection) and the HTTP gateway.

Binds to loopback by default. Binding any other interface refuses to start unless a bearer
token or TLS is configured. On SIGTERM/SIGINT the sidecar stops accepting, lets in-flight
requests finish within ``server.shutdown_grace_s``, ends open streams with a status, and
closes the state store.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from loguru import logger

from ..config import Config
from ..emotion_state import EmotionStateEngine
from ..errors import FailedPrecondition, InvalidArgument
from ..neural import NeuralModel
from ..pipeline import Animator
from ..streaming import StreamRegistry
from ..v1 import emotion_state_pb2 as es
from ..v1 import emotion_state_pb2_grpc as es_grpc
from ..v1 import face_animation_pb2 as fa
from ..v1 import face_animation_pb2_grpc as fa_grpc
from ._net import is_loopback
from .gateway import Gateway
from .grpc_service import (
    AuthInterceptor,
    ClientLimiter,
    ConcurrencyInterceptor,
    EmotionStateService,
    FaceAnimationService,
    ParseInterceptor,
)

__all__ = ["Sidecar", "serve", "is_loopback", "STREAM_END_S"]

STREAM_END_S = 3.0
"""After the shutdown grace: how long open streams get to send their last frames, end and status."""
_MAX_METADATA_BYTES = 16 * 1024
"""Request headers (gRPC metadata) larger than this are refused by gRPC before any servicer runs."""

FACE_ANIMATION = fa.DESCRIPTOR.services_by_name["FaceAnimation"].full_name
EMOTION_STATE = es.DESCRIPTOR.services_by_name["EmotionState"].full_name
SERVICES = (FACE_ANIMATION, EMOTION_STATE)


def load_neural_model(config: Config) -> NeuralModel | None:
    """The configured model, or the bundled one; None (streaming off, logged) only if nothing is bundled."""
    if config.neural.model:
        return NeuralModel(config.neural.model, threads=config.neural.threads)
    try:
        return NeuralModel(threads=config.neural.threads)
    except FailedPrecondition as missing:
        logger.warning("no neural model: {}; StreamAnimate and mode neural are off", missing)
        return None


def _check_exposure(config: Config) -> None:
    s = config.server
    if not is_loopback(s.host) and not (s.auth_token or s.tls_cert_file):
        raise InvalidArgument(
            f"refusing to listen on {s.host!r} without protection: set server.auth_token (clients send "
            "'authorization: Bearer <token>') or server.tls_cert_file/tls_key_file, or bind 127.0.0.1",
            field="server.host",
        )


class Sidecar:
    """The running service: the core objects plus the servers around them."""

    def __init__(self, config: Config | None = None, *, animator: Animator | None = None) -> None:
        self.config = config or Config()
        _check_exposure(self.config)
        self.emotion_state = EmotionStateEngine(self.config.state)
        self.animator = animator or Animator(self.config, emotion_source=self.emotion_state,
                                             neural_model=load_neural_model(self.config))
        self.limiter = ClientLimiter(self.config.limits.max_concurrent_per_client, self.config.server.trusted_proxies)
        self.health = health.HealthServicer()
        self._server: grpc.Server | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.gateway: Gateway | None = None
        self.servicers: dict[str, Any] = {}
        """{full service name: servicer}: registered on the gRPC server and served by the gateway."""
        self._stopped = threading.Event()
        self._finished = threading.Event()

    @property
    def streams(self) -> StreamRegistry | None:
        """Open StreamAnimate sessions (None without a neural model)."""
        return self.animator.streams

    def start(self) -> Sidecar:
        """Load models, open the ports; returns self (ports in ``grpc_port`` / ``http_port``)."""
        s, limits = self.config.server, self.config.limits
        self.animator.recognizer.warm_up()
        interceptors: list[grpc.ServerInterceptor] = [ConcurrencyInterceptor(self.limiter),
                                                      ParseInterceptor(limits.max_stream_message_bytes)]
        if s.auth_token:
            interceptors.insert(0, AuthInterceptor(s.auth_token))
        server = grpc.server(
            # each open stream holds a worker for its whole duration, so streams get their own share
            futures.ThreadPoolExecutor(max_workers=s.workers + limits.max_streams, thread_name_prefix="mien-rpc"),
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                # the largest response: a track of limits.max_output_values float32 values, plus its phones
                ("grpc.max_send_message_length", min(2**31 - 1, 4 * limits.max_output_values + (16 << 20))),
                ("grpc.max_metadata_size", _MAX_METADATA_BYTES),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=s.workers + limits.max_streams,
        )
        self.servicers[FACE_ANIMATION] = FaceAnimationService(self)
        self.servicers[EMOTION_STATE] = EmotionStateService(self.emotion_state)
        fa_grpc.add_FaceAnimationServicer_to_server(self.servicers[FACE_ANIMATION], server)
        es_grpc.add_EmotionStateServicer_to_server(self.servicers[EMOTION_STATE], server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = (*SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
        address = f"{s.host}:{s.port}"
        if s.tls_cert_file:
            creds = grpc.ssl_server_credentials(
                [(Path(s.tls_key_file).read_bytes(), Path(s.tls_cert_file).read_bytes())]
            )
            self.grpc_port = server.add_secure_port(address, creds)
        else:
            self.grpc_port = server.add_insecure_port(address)
        if self.grpc_port == 0:
            raise InvalidArgument(f"cannot bind gRPC to {address} (port in use or address not available)",
                                  field="server.port")
        server.start()
        self._server = server
        for name in ("", *SERVICES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("mien sidecar serving gRPC on {}:{}", s.host, self.grpc_port)
        if s.http_port >= 0:
            try:
                self.gateway = Gateway(self)
                self.http_port = self.gateway.start()
            except Exception:
                server.stop(0)
                raise
        return self

    def stop(self, grace_s: float | None = None) -> None:
        """Drain: stop accepting (health NOT_SERVING, new calls UNAVAILABLE), give in-flight requests and open
        streams ``grace_s``; then every stream still open (gRPC and WebSocket) gets the frames of the audio it sent,
        its StreamEnd and UNAVAILABLE naming the shutdown; then the ports close and the stores."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            grace = self.config.server.shutdown_grace_s if grace_s is None else grace_s
            deadline = time.monotonic() + grace
            self.health.enter_graceful_shutdown()
            if self.gateway is not None:
                self.gateway.drain()
            # gRPC refuses new calls at once; calls still running after the grace and the streams' ending are cut
            stopped = self._server.stop(grace + STREAM_END_S) if self._server is not None else None
            gateway = None
            if self.gateway is not None:  # drains in parallel, in its own thread (its stop blocks)
                gateway = threading.Thread(target=self.gateway.stop, args=(grace + STREAM_END_S,),
                                           name="mien-gateway-drain")
                gateway.start()
            face = self.servicers.get(FACE_ANIMATION)
            drain = getattr(face, "drain", None)
            while drain is not None and drain.open and time.monotonic() < deadline:
                time.sleep(0.05)
            if drain is not None:
                drain.begin()  # the streams still open end now, properly
            if stopped is not None:
                stopped.wait(grace + STREAM_END_S + 1.0)
            if gateway is not None:
                gateway.join(grace + STREAM_END_S + 10.0)
            self.emotion_state.close()
            logger.info("mien sidecar stopped")
        finally:
            self._finished.set()

    def wait(self) -> None:
        """Until :meth:`stop` has *finished* draining (returning when it starts would let the interpreter shut
        down under the drain: no new executor work, so the gateway could not end its streams with a status)."""
        self._finished.wait()


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
_MMAP_THRESHOLD_BYTES = 1 << 20


def _return_large_blocks_to_os() -> None:
    """Blocks of 1 MiB or more (a line's audio, curves and response) are mapped and given back when freed.

    glibc's default threshold is dynamic: once a large block is freed it rises to that block's size, so later
    arrays of a long line come from the heap and stay resident after use (a 300 s aligned line peaked 80 MB
    higher, bench/bench_limits.py). Setting it fixes it. A no-op where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def serve(config: Config) -> None:
    """Run until SIGTERM/SIGINT (the `mien serve` command)."""
    logger.remove()
    logger.add(sys.stderr, level=config.server.log_level)
    _return_large_blocks_to_os()
    sidecar = Sidecar(config).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal {}: draining (grace {} s)", signum, config.server.shutdown_grace_s)
        threading.Thread(target=sidecar.stop, name="mien-drain").start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sidecar.wait()
