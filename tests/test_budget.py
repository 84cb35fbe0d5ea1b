"""Admission of offline lines and their CPU budget (mien.budget), in the core and over gRPC."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from conftest import speech_bytes
from mien import Animator, EncodedAudio, LineRequest
from mien.budget import LineBudget, LineGate, checkpoint, on_behalf
from mien.config import LimitsConfig, config_from_dict
from mien.errors import Cancelled, DeadlineExceeded, InvalidArgument, ResourceExhausted
from mien.request import DeferredAudio, PcmInput
from mien.server import convert
from mien.server.app import Sidecar
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc


def _gate(**limits: float) -> LineGate:
    return LineGate(LimitsConfig(**limits))  # type: ignore[arg-type]


def test_lines_past_the_count_wait_for_their_turn_then_run() -> None:
    gate = _gate(max_concurrent_lines=2, line_queue_timeout_s=10)
    order: list[str] = []
    release = threading.Event()

    def hold(name: str) -> None:
        with gate.admit(1.0):
            order.append(name)
            release.wait(10)

    holders = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b")]
    for t in holders:
        t.start()
    assert _until(lambda: gate.active == 2)
    third = threading.Thread(target=hold, args=("c",))
    third.start()
    assert _until(lambda: gate.waiting == 1)
    assert order == ["a", "b"] or order == ["b", "a"]
    release.set()
    for t in [*holders, third]:
        t.join(10)
    assert order[-1] == "c" and gate.active == 0 and gate.waiting == 0


def test_long_lines_share_the_audio_budget_and_short_ones_pass() -> None:
    gate = _gate(max_concurrent_lines=4, max_concurrent_line_audio_s=600, line_queue_timeout_s=0.3)
    with gate.admit(300), gate.admit(300):
        with pytest.raises(ResourceExhausted, match=r"limits\.max_concurrent_line_audio_s"):
            with gate.admit(300):
                pass
        with gate.admit(0.0):  # an idle track of no audio, or a short line, still fits by count
            assert gate.active == 3
    with gate.admit(5000):  # alone, a line larger than the budget is admitted
        assert gate.active == 1


def test_the_queue_is_bounded_and_a_waiter_whose_caller_left_stops_waiting() -> None:
    gate = _gate(max_concurrent_lines=1, max_queued_lines=1, line_queue_timeout_s=30)
    gone = threading.Event()
    outcome: list[BaseException] = []

    def wait_then_leave() -> None:
        try:
            with gate.admit(1.0, is_active=lambda: not gone.is_set()):
                pass
        except Cancelled as error:
            outcome.append(error)

    with gate.admit(1.0):
        waiter = threading.Thread(target=wait_then_leave)
        waiter.start()
        assert _until(lambda: gate.waiting == 1)
        with pytest.raises(ResourceExhausted, match=r"limits\.max_queued_lines = 1"):
            with gate.admit(1.0):
                pass
        gone.set()
        waiter.join(5)
    assert len(outcome) == 1 and gate.waiting == 0 and gate.active == 0


def test_the_cpu_budget_stops_a_line_at_a_checkpoint() -> None:
    budget = LineBudget(0.05)
    with budget.applied():
        checkpoint()
        deadline = time.thread_time() + 1.0
        while time.thread_time() < deadline and budget.cpu_s <= 0.05:
            sum(range(1000))
        with pytest.raises(DeadlineExceeded, match=r"limits\.max_line_cpu_s"):
            checkpoint()
    checkpoint()  # outside the block: no budget


def _spin(cpu_s: float) -> None:
    deadline = time.thread_time() + cpu_s
    while time.thread_time() < deadline:
        sum(range(1000))


def test_cpu_spent_in_helper_threads_counts_toward_the_line_and_their_checkpoints_check_it() -> None:
    from concurrent.futures import ThreadPoolExecutor

    budget = LineBudget(0.3)
    with ThreadPoolExecutor(max_workers=2) as pool, budget.applied():
        # two helpers each spend 0.2 s of CPU: neither alone is over 0.3 s, the line is
        for job in [pool.submit(on_behalf(_spin), 0.2) for _ in range(2)]:
            job.result()
        assert budget.cpu_s >= 0.4
        with pytest.raises(DeadlineExceeded, match=r"limits\.max_line_cpu_s"):
            checkpoint()
        # a helper's own checkpoint sees the line's budget (and what that helper is spending now)
        def spend_then_check() -> None:
            checkpoint()

        with pytest.raises(DeadlineExceeded):
            pool.submit(on_behalf(spend_then_check)).result()
        assert pool.submit(checkpoint).result() is None  # not on the line's behalf: no budget there
    assert on_behalf(_spin) is _spin  # outside a line: the function itself


def test_a_recognized_line_over_its_cpu_budget_is_deadline_exceeded_and_an_abandoned_one_stops() -> None:
    animator = Animator(config_from_dict({"limits": {"max_line_cpu_s": 0.1}}))
    request = LineRequest(audio=EncodedAudio(speech_bytes("goforward")), mode="recognized")
    with pytest.raises(DeadlineExceeded, match=r"limits\.max_line_cpu_s"):
        animator.animate(request)
    with pytest.raises(Cancelled):
        Animator().animate(request, is_active=lambda: False)


def test_deferred_audio_is_read_only_when_the_line_is_admitted_and_weighed_as_declared() -> None:
    animator = Animator(config_from_dict({"limits": {"max_concurrent_lines": 1, "line_queue_timeout_s": 10}}))
    reads: list[float] = []
    data = speech_bytes("goforward")

    def read() -> EncodedAudio:
        reads.append(time.monotonic())
        return EncodedAudio(data)

    done: list[int] = []
    request = LineRequest(audio=DeferredAudio(read, declared_s=2.5), transcript="go forward ten meters")
    with animator.lines.admit(1.0):  # the one place is taken: the line waits without reading its audio
        line = threading.Thread(target=lambda: done.append(animator.animate(request).n_frames))
        line.start()
        assert _until(lambda: animator.lines.waiting == 1)
        time.sleep(0.2)
        assert reads == []
    line.join(30)
    assert len(reads) == 1 and done and done[0] > 0
    assert Animator._declared_s(request) == 2.5


def test_a_grpc_line_request_defers_its_audio_and_checks_what_is_cheap_at_once() -> None:
    pcm = bytes(3200)  # 0.1 s of 16 kHz mono s16le
    msg = fa.AnimateLineRequest(audio=pb.AudioInput(pcm=pb.PcmAudio(data=pcm, sample_rate_hz=16000)))
    line = convert.line_request(msg, LimitsConfig())
    assert isinstance(line.audio, DeferredAudio) and line.audio.declared_s == pytest.approx(0.1)
    assert line.audio.read() == PcmInput(pcm, 16000, "pcm_s16le", 1)
    bad = fa.AnimateLineRequest(audio=pb.AudioInput(pcm=pb.PcmAudio(data=pcm, sample_rate_hz=16000, encoding=99)))
    with pytest.raises(InvalidArgument, match="encoding"):
        convert.line_request(bad, LimitsConfig())


@pytest.fixture(scope="module")
def sidecar() -> Iterator[Sidecar]:
    config = config_from_dict({"server": {"port": 0, "http_port": -1},
                               "limits": {"max_concurrent_lines": 1, "max_queued_lines": 1,
                                          "line_queue_timeout_s": 0.5},
                               "state": {"db_path": ":memory:"}})
    server = Sidecar(config).start()
    yield server
    server.stop(0.5)


def test_over_grpc_a_line_without_room_is_resource_exhausted_naming_the_limit(sidecar: Sidecar) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        stub = fa_grpc.FaceAnimationStub(channel)
        limits = stub.Describe(fa.DescribeRequest()).limits
        assert (limits.max_concurrent_lines, limits.max_queued_lines, limits.line_queue_timeout_s) == (1, 1, 0.5)
        assert limits.max_concurrent_line_audio_s == 450 and limits.max_line_cpu_s == 120
        request = fa.AnimateLineRequest(idle_duration_s=1.0)
        with sidecar.animator.lines.admit(1.0):  # the one place is taken
            with pytest.raises(grpc.RpcError) as error:
                stub.AnimateLine(request, timeout=10)
            assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limits.line_queue_timeout_s" in (error.value.details() or "")
        assert stub.AnimateLine(request, timeout=10).frame_count == 61
        assert stub.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_bytes("goforward")),
                                                      transcript="go forward ten meters")).frame_count > 0


def _until(predicate, timeout_s: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
