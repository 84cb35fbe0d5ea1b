"""How much offline work runs at once, and how much CPU one line may take (core; transports pass a liveness check).

Two bounds, both from :class:`~mien.config.LimitsConfig` and reported by Describe:

* :class:`LineGate`: at most ``limits.max_concurrent_lines`` lines (and idle tracks) are computed at once, holding
  together at most ``limits.max_concurrent_line_audio_s`` seconds of audio (a line's peak memory grows with its
  audio; a line alone is always admitted, so the longest line the limits allow still runs). A line that does not
  fit waits its turn, at most ``limits.line_queue_timeout_s``; at most ``limits.max_queued_lines`` wait; beyond
  either it is RESOURCE_EXHAUSTED naming the limit. Short lines pass long ones that wait for audio budget.
* :class:`LineBudget`: a line may use at most ``limits.max_line_cpu_s`` seconds of CPU (of the thread that computes
  it and of the helper threads a stage hands parts of it to: :func:`on_behalf`), and stops as soon as its caller
  has gone (a cancelled call, a client that disconnected). The stages check it between their steps
  (:func:`checkpoint`); past the budget the line ends with DEADLINE_EXCEEDED naming the limit, a cancelled one with
  :class:`~mien.errors.Cancelled`.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from .errors import Cancelled, DeadlineExceeded, ResourceExhausted

if TYPE_CHECKING:  # the config imports the stages, which import this module
    from .config import LimitsConfig

__all__ = ["LineGate", "LineBudget", "checkpoint", "on_behalf"]

_POLL_S = 0.1
"""How often a waiting line re-checks whether its caller is still there."""

_P = ParamSpec("_P")
_T = TypeVar("_T")

_CURRENT: contextvars.ContextVar[LineBudget | None] = contextvars.ContextVar("mien_line_budget", default=None)


class LineBudget:
    """The CPU budget and liveness of the line computed in this thread and its helpers (see :func:`checkpoint`)."""

    def __init__(self, max_cpu_s: float, is_active: Callable[[], bool] | None = None) -> None:
        self.max_cpu_s = max_cpu_s
        self._is_active = is_active
        self._owner = threading.get_ident()
        self._started = time.thread_time()
        self._owner_s = 0.0  # the owner thread's CPU as of its last look (helpers cannot read its clock)
        self._helpers_s = 0.0  # CPU of finished helper jobs
        self._lock = threading.Lock()
        self._helper = threading.local()  # a helper job's start, in that helper thread

    @property
    def cpu_s(self) -> float:
        """CPU seconds spent on the line so far: its own thread's and its helpers' (a running helper job counts
        when that helper looks)."""
        running = 0.0
        if threading.get_ident() == self._owner:
            self._owner_s = time.thread_time() - self._started
        else:
            started = getattr(self._helper, "started", None)
            running = 0.0 if started is None else time.thread_time() - started
        with self._lock:
            return self._owner_s + self._helpers_s + running

    @contextmanager
    def _helping(self) -> Iterator[None]:
        started = self._helper.started = time.thread_time()
        try:
            with self.applied():
                yield
        finally:
            del self._helper.started
            with self._lock:
                self._helpers_s += time.thread_time() - started

    def check(self) -> None:
        if self._is_active is not None and not self._is_active():
            raise Cancelled("the caller went away; the line was abandoned")
        spent = self.cpu_s
        if spent > self.max_cpu_s:
            raise DeadlineExceeded(f"the line took more than {self.max_cpu_s:g} s of CPU (limits.max_line_cpu_s; "
                                   f"{spent:.1f} s spent): send shorter lines, a transcript (mode aligned is much "
                                   "cheaper than recognized), or raise the limit", field="audio")

    @contextmanager
    def applied(self) -> Iterator[LineBudget]:
        """Make this the budget :func:`checkpoint` checks, in this thread, for the block."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def checkpoint() -> None:
    """Raise if the line computed in this thread is over its CPU budget or abandoned (no budget: nothing)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.check()


def on_behalf(fn: Callable[_P, _T]) -> Callable[_P, _T]:
    """``fn``, to be run in a helper thread (a pool's) for the line computed in this thread: its CPU counts toward
    that line's budget and its :func:`checkpoint` calls check that line. Wrap when submitting:
    ``pool.submit(on_behalf(work), ...)``. Without a budget here, ``fn`` itself."""
    budget = _CURRENT.get()
    if budget is None:
        return fn

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with budget._helping():
            return fn(*args, **kwargs)

    return run


class LineGate:
    """Admission of offline lines (thread-safe): a bounded count and a bounded total of audio seconds at once."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.max_lines = limits.max_concurrent_lines
        self.max_audio_s = limits.max_concurrent_line_audio_s
        self.max_queued = limits.max_queued_lines
        self.timeout_s = limits.line_queue_timeout_s
        self._cond = threading.Condition()
        self._active = 0
        self._active_audio_s = 0.0
        self._waiting = 0

    @property
    def active(self) -> int:
        with self._cond:
            return self._active

    @property
    def waiting(self) -> int:
        with self._cond:
            return self._waiting

    def _fits(self, audio_s: float) -> bool:
        if self._active >= self.max_lines:
            return False
        return self._active == 0 or self._active_audio_s + audio_s <= self.max_audio_s

    @contextmanager
    def admit(self, audio_s: float, is_active: Callable[[], bool] | None = None) -> Iterator[None]:
        """Hold a place for a line of ``audio_s`` seconds for the block, waiting for one if needed."""
        with self._cond:
            if not self._fits(audio_s):
                self._wait(audio_s, is_active)
            self._active += 1
            self._active_audio_s += audio_s
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._active_audio_s -= audio_s
                if self._active == 0:
                    self._active_audio_s = 0.0  # no float drift across millions of lines
                self._cond.notify_all()

    def _wait(self, audio_s: float, is_active: Callable[[], bool] | None) -> None:
        """Called holding the lock, when the line does not fit now."""
        if self._waiting >= self.max_queued:
            raise ResourceExhausted(
                f"{self._active} lines are being computed and {self._waiting} wait, the most that may "
                f"(limits.max_concurrent_lines = {self.max_lines}, limits.max_queued_lines = {self.max_queued}); "
                "retry later")
        self._waiting += 1
        deadline = time.monotonic() + self.timeout_s
        try:
            while not self._fits(audio_s):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ResourceExhausted(
                        f"no room to compute this line within {self.timeout_s:g} s (limits.line_queue_timeout_s): "
                        f"{self._active} lines holding {self._active_audio_s:.0f} s of audio are being computed "
                        f"(limits.max_concurrent_lines = {self.max_lines}, limits.max_concurrent_line_audio_s = "
                        f"{self.max_audio_s:g}); retry later")
                if is_active is not None and not is_active():
                    raise Cancelled("the caller went away while the line waited for its turn")
                self._cond.wait(min(left, _POLL_S))
        finally:
            self._waiting -= 1
