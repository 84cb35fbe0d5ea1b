"""Shared fixtures: the real speech clips, one animator, one live sidecar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from mien import Animator, EncodedAudio, LineRequest, Track
from mien.config import config_from_dict
from mien.server.app import Sidecar
from mien.v1 import face_animation_pb2_grpc as fa_grpc

SPEECH = Path(__file__).parent / "fixtures" / "speech"
REPO = Path(__file__).resolve().parent.parent


# Ignored by git and created on first use in a clean clone: pytest's and hypothesis's caches, and the pictures
# and load figures some tests leave for people to look at (test-artifacts/, see tests/test_preview.py).
_TOOL_DIRS = frozenset({".pytest_cache", ".hypothesis", "test-artifacts"})


@pytest.fixture(autouse=True)
def _writes_nothing_into_the_checkout() -> Iterator[None]:
    """A test writes its files under tmp_path: a state database, key or output left in the checkout (or the
    working directory) would be committed by the next `git add -A` and hides missing path arguments."""
    roots = {REPO, Path.cwd().resolve()}
    before = {root: set(root.iterdir()) for root in roots}
    yield
    new = sorted(str(p) for root in roots for p in set(root.iterdir()) - before[root] if p.name not in _TOOL_DIRS)
    assert not new, f"the test left files in the checkout / working directory: {new}"


def speech_bytes(name: str) -> bytes:
    return (SPEECH / f"{name}.wav").read_bytes()


def transcript(name: str) -> str:
    return (SPEECH / f"{name}.txt").read_text().strip()


@pytest.fixture(scope="session")
def animator() -> Animator:
    a = Animator()
    a.recognizer.warm_up()
    return a


@pytest.fixture(scope="session")
def animate(animator: Animator):  # type: ignore[no-untyped-def]
    """animate(name, **LineRequest fields) -> Track, for a speech fixture."""

    def run(name: str, *, text: bool = True, **kwargs: object) -> Track:
        request = LineRequest(audio=EncodedAudio(speech_bytes(name)), transcript=transcript(name) if text else None,
                              **kwargs)  # type: ignore[arg-type]
        return animator.animate(request)

    return run


@pytest.fixture(scope="session")
def sidecar() -> Iterator[Sidecar]:
    config = config_from_dict({"server": {"port": 0, "http_port": -1}, "state": {"db_path": ":memory:"}})
    server = Sidecar(config).start()
    yield server
    server.stop(0.5)


@pytest.fixture(scope="session")
def stub(sidecar: Sidecar) -> Iterator[fa_grpc.FaceAnimationStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}")
    yield fa_grpc.FaceAnimationStub(channel)
    channel.close()
