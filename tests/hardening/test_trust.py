"""Trust boundaries of the sidecar (issue 11, item 7, server part).

* the per-client limit keys on the caller's verified TLS identity, else its address: the ``x-mien-client``
  header neither takes more slots nor locks another client out, unless it comes from a proxy listed in
  ``server.trusted_proxies`` (which sets it to the real client's address);
* request ids are made printable and bounded before they are logged or echoed, once for gRPC and HTTP: a
  newline in an id cannot forge a log line;
* with a token, only the health *check* stays open: health Watch (which holds a call open) and reflection
  need the token, and every method counts against the caller's limit.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from loguru import logger

from mien.config import config_from_dict
from mien.errors import InvalidArgument, ResourceExhausted
from mien.server.app import Sidecar
from mien.server.grpc_service import ClientLimiter
from mien.server.identity import ClientKeys, peer_address, printable, request_id
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

from .conftest import Hardened
from .harness import FACE, wait_until


class _Context:
    """The parts of a servicer context the client key reads."""

    def __init__(self, peer: str, metadata: tuple[tuple[str, str], ...] = (), identities: Any = None) -> None:
        self._peer, self._metadata, self._identities = peer, metadata, identities

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer_identities(self) -> Any:
        return self._identities


def test_peer_addresses() -> None:
    assert peer_address("ipv4:10.1.2.3:5555") == "10.1.2.3"
    assert peer_address("ipv6:[::1]:5555") == "::1"
    assert peer_address("ipv6:[2001:db8::7]:80") == "2001:db8::7"
    assert peer_address("unix:/tmp/sock") == "unix:/tmp/sock"


def test_the_client_key_ignores_headers_from_untrusted_peers() -> None:
    keys = ClientKeys()
    header = (("x-mien-client", "victim"),)
    assert keys(_Context("ipv4:10.0.0.5:4000", header)) == "10.0.0.5"
    assert keys(_Context("ipv4:10.0.0.5:4001")) == "10.0.0.5"  # one game process, several connections: one key
    assert keys(_Context("ipv6:[::1]:4000", header)) == "::1"
    trusting = ClientKeys("10.0.0.9, ::1")
    assert trusting(_Context("ipv4:10.0.0.9:80", header)) == "via-proxy:victim"
    assert trusting(_Context("ipv6:[::1]:80", (("x-mien-client", "203.0.113.4"),))) == "via-proxy:203.0.113.4"
    assert trusting(_Context("ipv4:10.0.0.5:80", header)) == "10.0.0.5"  # not the proxy
    assert trusting(_Context("ipv4:10.0.0.9:80")) == "10.0.0.9"
    assert keys(_Context("ipv4:10.0.0.5:1", header, identities=[b"game-server-7"])) == "tls:game-server-7"
    forged = ClientKeys("10.0.0.9")(_Context("ipv4:10.0.0.9:1", (("x-mien-client", "a\nb" + "c" * 500),)))
    assert "\n" not in forged and len(forged) <= 140


def test_trusted_proxies_are_validated() -> None:
    assert config_from_dict({"server": {"trusted_proxies": "127.0.0.1, ::1"}}).server.trusted_proxies
    with pytest.raises(InvalidArgument) as refused:
        config_from_dict({"server": {"trusted_proxies": "127.0.0.1, nginx.local"}})
    assert "server.trusted_proxies" in str(refused.value) and "not an IP address" in str(refused.value)


def test_one_client_cannot_lock_another_out_or_take_more_slots() -> None:
    limiter = ClientLimiter(2)
    attacker = [_Context(f"ipv4:10.0.0.66:{port}", (("x-mien-client", f"fake-{port}"),)) for port in range(5)]
    victim = _Context("ipv4:10.0.0.7:1", (("x-mien-client", "10.0.0.7"),))
    keys = [limiter.key(c) for c in attacker]
    assert set(keys) == {"10.0.0.66"}
    limiter.acquire(keys[0])
    limiter.acquire(keys[1])
    with pytest.raises(ResourceExhausted, match=r"limits\.max_concurrent_per_client"):
        limiter.acquire(keys[2])  # fresh header values do not give fresh slots
    # the attacker naming the victim in the header does not touch the victim's slots
    limiter.acquire(limiter.key(victim))
    limiter.acquire(limiter.key(victim))
    assert limiter.in_flight("10.0.0.7") == 2 and limiter.in_flight("10.0.0.66") == 2


def test_request_ids_are_printable_and_bounded() -> None:
    assert request_id("frame-42") == "frame-42"
    forged = request_id("abc\n2026-01-01 00:00:00 | INFO | AnimateLine id=x status=OK")
    assert "\n" not in forged and forged.startswith("abc\\x0a2026")
    assert len(request_id("r" * 10_000)) <= 128
    assert "\x1b" not in request_id("\x1b[31mred") and "\u202e" not in request_id("\u202etxt")
    assert len(request_id("")) == 16 and request_id("") != request_id("")
    assert printable("é ü 日本") == "é ü 日本"  # printable text is kept as it is


class _Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sink = 0

    def __enter__(self) -> _Logs:
        self._sink = logger.add(lambda m: self.lines.append(str(m)), level="INFO")
        return self

    def __exit__(self, *exc: object) -> None:
        logger.remove(self._sink)


FORGED = "req-1\n2026-12-03 08:00:00.000 | INFO     | mien.server.grpc_service:_log - AnimateLine id=admin status=OK"


def test_a_newline_in_a_request_id_cannot_forge_a_log_line(hardened: Hardened) -> None:
    with _Logs() as logs:
        track = hardened.face.AnimateLine(fa.AnimateLineRequest(idle_duration_s=0.3, request_id=FORGED), timeout=30)
        body = json.dumps({"idleDurationS": 0.3, "requestId": FORGED}).encode()
        request = urllib.request.Request(f"{hardened.base}/{FACE}/AnimateLine", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            http_track = json.loads(reply.read())
        header = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000, request_id=FORGED))
        stream = list(hardened.face.StreamAnimate(iter([header, fa.StreamAnimateRequest(end=fa.EndOfAudio())]),
                                                  timeout=30))
    for echoed in (track.metadata.request_id, http_track["metadata"]["requestId"], stream[0].header.request_id):
        assert "\n" not in echoed and echoed.startswith("req-1\\x0a"), echoed
        assert len(echoed) <= 128
    text = "".join(logs.lines)
    assert text.count("\n") == len(logs.lines), "a log record spans more than one line"
    assert "id=admin status=OK\n" not in text and "\nAnimateLine id=admin" not in text


def test_paths_and_headers_in_the_gateway_log_are_printable(hardened: Hardened) -> None:
    with _Logs() as logs:
        request = urllib.request.Request(f"{hardened.base}/no%0Asuch%0D%0Aroute", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json", "X-Mien-Client": "evil"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=30)
        assert err.value.code == 404
    text = "".join(logs.lines)
    assert text.count("\n") == len(logs.lines) and "no\\x0asuch" in text, logs.lines


# ------------------------------------------------------------------------------------------- token

TOKEN = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def locked(toy_model: Path) -> Iterator[Sidecar]:
    config = config_from_dict({
        "server": {"port": 0, "http_port": -1, "auth_token": TOKEN},
        "limits": {"max_concurrent_per_client": 2}, "neural": {"model": str(toy_model)},
        "state": {"db_path": ":memory:"}})
    sidecar = Sidecar(config).start()
    yield sidecar
    sidecar.stop(0.5)


def test_only_the_health_check_is_open_without_the_token(locked: Sidecar) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{locked.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == serving
        with pytest.raises(grpc.RpcError) as err:
            next(health.Watch(health_pb2.HealthCheckRequest(), timeout=10))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        watch = health.Watch(health_pb2.HealthCheckRequest(), metadata=(("authorization", f"Bearer {TOKEN}"),),
                             timeout=10)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()


def test_health_watches_count_against_the_client_limit(locked: Sidecar) -> None:
    """Watch holds a call (and a thread) open for as long as the client likes: it takes a slot like a stream."""
    bearer = (("authorization", f"Bearer {TOKEN}"),)
    with grpc.insecure_channel(f"127.0.0.1:{locked.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(), metadata=bearer, timeout=30) for _ in range(2)]
        for watch in watches:
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        try:
            with pytest.raises(grpc.RpcError) as err:
                fa_grpc.FaceAnimationStub(channel).Describe(fa.DescribeRequest(), metadata=bearer, timeout=10)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        finally:
            for watch in watches:
                watch.cancel()
        assert wait_until(lambda: locked.limiter.in_flight("127.0.0.1") == 0, 5)
        assert fa_grpc.FaceAnimationStub(channel).Describe(fa.DescribeRequest(), metadata=bearer, timeout=10).versions


def test_concurrent_clients_with_forged_headers_share_one_limit(locked: Sidecar) -> None:
    """Many threads of one address, each with its own x-mien-client: at most the limit run at once."""
    bearer = ("authorization", f"Bearer {TOKEN}")
    codes: list[str] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{locked.grpc_port}") as channel:
            try:
                fa_grpc.FaceAnimationStub(channel).AnimateLine(
                    fa.AnimateLineRequest(idle_duration_s=30, fps=240), timeout=60,
                    metadata=(bearer, ("x-mien-client", f"client-{i}")))
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(120)
    assert len(codes) == 8 and set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
    assert "OK" in codes
