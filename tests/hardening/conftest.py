"""Fixtures of the hardening tests: the toy neural model, one in-process sidecar with tight limits.

The in-process sidecar (``hardened``) serves gRPC and the HTTP/JSON + WebSocket gateway on free
ports with the toy model (tests/support/toy_model.py), so StreamAnimate works without the trained
model; its limits are small so that limit cases are cheap: 4 MiB messages, a 1 s stall timeout.
Tests that need a real process (signals, kill -9, RSS, replicas) use :class:`harness.MienProcess`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from mien.config import config_from_dict
from mien.server.app import Sidecar
from mien.v1 import emotion_state_pb2 as es
from mien.v1 import emotion_state_pb2_grpc as es_grpc
from mien.v1 import face_animation_pb2_grpc as fa_grpc

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
STALL_TIMEOUT_S = 1.0
MATRIX_NPC = "matrix_npc"


def fuzz_examples(default: int) -> int:
    """Examples per property: ``default`` in CI, ``MIEN_FUZZ_EXAMPLES`` for long runs."""
    return int(os.environ.get("MIEN_FUZZ_EXAMPLES", default))


@pytest.fixture(scope="session")
def toy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ONNX model following the neural contract (needs torch, the `train` extra)."""
    pytest.importorskip("torch", reason="the toy model is built with torch (the train extra)")
    from support.toy_model import build_toy_model

    return build_toy_model(tmp_path_factory.mktemp("toy_model"))


@dataclass
class Hardened:
    """The shared in-process sidecar and clients of it."""

    sidecar: Sidecar
    channel: grpc.Channel
    face: fa_grpc.FaceAnimationStub
    state: es_grpc.EmotionStateStub

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.sidecar.http_port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.sidecar.http_port}"


def hardened_config(toy_model: Path, **limits: object) -> dict[str, object]:
    return {
        "server": {"port": 0, "http_port": 0, "workers": 4},
        "limits": {"max_message_bytes": MAX_MESSAGE_BYTES, "stream_stall_timeout_s": STALL_TIMEOUT_S,
                   "max_streams": 32, **limits},
        "neural": {"model": str(toy_model)},
        "state": {"db_path": ":memory:"},
    }


@pytest.fixture(scope="session")
def hardened(toy_model: Path) -> Iterator[Hardened]:
    sidecar = Sidecar(config_from_dict(hardened_config(toy_model))).start()
    # the client may send more than the server accepts (the oversized-message case)
    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}",
                                    options=[("grpc.max_send_message_length", 64 * 1024 * 1024),
                                             ("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    state = es_grpc.EmotionStateStub(channel)
    state.SetPersona(es.SetPersonaRequest(npc_id=MATRIX_NPC, preset="average"))
    yield Hardened(sidecar, channel, fa_grpc.FaceAnimationStub(channel), state)
    channel.close()
    sidecar.stop(0.5)
