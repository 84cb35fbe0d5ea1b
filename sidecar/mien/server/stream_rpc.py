"""The StreamAnimate message protocol: header, audio chunks, end-of-audio; in order, on time.

:func:`serve_stream` turns the client's message iterator into the response iterator. It is the
same for gRPC and the WebSocket gateway (both call the servicer). Rules:

* the first message must be a header; a second header, audio before the header, or anything
  after end-of-audio is ``FAILED_PRECONDITION`` naming the message. After end-of-audio the stream
  waits for the client to close its side (gRPC half-close) for at most :data:`AFTER_END_S`
  (a WebSocket has no half-close, so it always waits that long): a message in that time is the
  error, whatever the thread timing. The last frames are sent before that wait (a player needs them
  at once); the end event and status come after it;
* no message for ``limits.stream_stall_timeout_s``, no audio sample for
  ``limits.stream_audioless_timeout_s`` (empty chunks do not keep a stream open), or a stream older than
  ``limits.max_stream_s`` ends the stream: the frames for the audio received are sent (the mouth
  closes), then ``DEADLINE_EXCEEDED`` naming the limit; a stream blocked on a client that does not read
  its responses is cancelled once it is ``limits.stream_stall_timeout_s`` past its lifetime;
* a message larger than ``limits.max_stream_message_bytes`` is ``RESOURCE_EXHAUSTED``; emotion
  keyframes past ``limits.max_emotion_keyframes`` (the stream's total) and audio whose frames would pass
  ``limits.max_output_values`` are ``INVALID_ARGUMENT``, counted before anything is converted;
  the messages a stream has read but not yet computed are bounded in count and bytes;
* on shutdown (:meth:`StreamDrain.begin`) every open stream sends the frames of the audio it has,
  then its ``StreamEnd``, then ``UNAVAILABLE`` naming the shutdown;
* a client that sends slower than real time ends the same way once its audio lags the time spent
  waiting for it by more than ``limits.max_stream_lag_s`` (time the sidecar itself is behind does
  not count: only the reader's waits for the client do; an overloaded process delivers messages
  late too, which is why this limit is separate from, and larger than, the stall timeout);
* a client that closes its side without end-of-audio gets its remaining frames and a warning;
* cancellation or any error closes the session at once (the open-stream count goes back down) and
  frees the reader thread;
* when the sidecar falls behind (more streams than its cores keep up with), the audio chunks already
  queued for a stream are computed in one batch (at most :data:`CATCH_UP_CHUNKS`): the same frames, sent
  in fewer messages (each at most :data:`MAX_BATCH_VALUES` values), so a loaded server catches up instead
  of drifting further behind.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import DeadlineExceeded, FailedPrecondition, MienError, ResourceExhausted, Unavailable
from ..streaming import StreamRegistry, StreamSession
from ..v1 import face_animation_pb2 as fa
from . import convert

__all__ = ["AFTER_END_S", "CATCH_UP_CHUNKS", "MAX_BATCH_VALUES", "StreamDrain", "serve_stream"]

AFTER_END_S = 0.25
"""How long after EndOfAudio a stream waits for the client's half-close (a message in that time is an error)."""

CATCH_UP_CHUNKS = 50
"""The most queued audio chunks of one stream computed in one batch when the sidecar is behind."""

MAX_BATCH_VALUES = 1 << 16
"""The most curve values in one FrameBatch message (256 KiB as float32); more frames go in several messages."""

_QUEUED_MESSAGES = 64
"""The most messages a stream's reader holds ahead of the computation (and at most one message's worth of bytes
past ``limits.max_stream_message_bytes``)."""

_DONE = object()
_SHUTDOWN = object()
SHUTDOWN_MESSAGE = "the sidecar is shutting down; the stream ended after the frames of its audio so far: " \
                   "reconnect to another instance and send the rest"


class StreamDrain:
    """The open streams of one server, so that a shutdown can end each one properly (frames, end, UNAVAILABLE)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: set[_Reader] = set()
        self.closing = False

    def add(self, reader: _Reader) -> None:
        with self._lock:
            self._readers.add(reader)
            closing = self.closing
        if closing:
            reader.shutdown()

    def discard(self, reader: _Reader) -> None:
        with self._lock:
            self._readers.discard(reader)

    @property
    def open(self) -> int:
        with self._lock:
            return len(self._readers)

    def begin(self) -> None:
        """End every open stream (and any opened from now on) with its frames, its end and UNAVAILABLE."""
        with self._lock:
            self.closing = True
            readers = list(self._readers)
        for reader in readers:
            reader.shutdown()


class _Reader:
    """Reads the client's messages in a thread so the stream can time out on a stalled client.

    Each queued message carries the seconds the reader waited for the client before it came. The queue holds
    at most :data:`_QUEUED_MESSAGES` messages and ``max_bytes`` bytes (one larger message alone may wait): a fast
    sender is held back by the transport's flow control, not buffered here.
    """

    def __init__(self, requests: Iterator[fa.StreamAnimateRequest], max_bytes: int) -> None:
        self._items: collections.deque[tuple[object, float, int]] = collections.deque()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._closed = False
        self._shutdown = False
        self._held: tuple[object, float] | None = None  # taken by ready_audio, not audio: next() returns it
        self._thread = threading.Thread(target=self._run, args=(requests,), name="mien-stream-reader", daemon=True)
        self._thread.start()

    def _put(self, item: object, waited: float, size: int) -> None:
        with self._cond:
            while not self._closed and self._items and (
                    len(self._items) >= _QUEUED_MESSAGES or self._bytes + size > self._max_bytes):
                self._cond.wait()
            if self._closed:
                return
            self._items.append((item, waited, size))
            self._bytes += size
            self._cond.notify_all()

    def _run(self, requests: Iterator[fa.StreamAnimateRequest]) -> None:
        try:
            while not self._closed:
                asked = time.monotonic()
                try:
                    message = next(requests)
                except StopIteration:
                    break
                size = message.ByteSize()
                if size > self._max_bytes:
                    raise ResourceExhausted(
                        f"a stream message of {size} bytes; the maximum is {self._max_bytes} bytes "
                        "(limits.max_stream_message_bytes): send shorter chunks (20-100 ms)", field="message")
                self._put(message, time.monotonic() - asked, size)
        except Exception as error:  # noqa: BLE001 - handed to the stream, which raises it
            self._error = error
        self._put(_DONE, 0.0, 0)

    def close(self) -> None:
        """The stream ended: the reader stops after the message it is waiting for (never blocks on the queue)."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._bytes = 0
            self._cond.notify_all()

    def shutdown(self) -> None:
        """The server is shutting down: the next :meth:`next` returns at once with the shutdown."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def _get(self, timeout_s: float | None) -> tuple[object, float] | None:
        """The next queued item (the shutdown first), waiting up to ``timeout_s`` (None: not at all)."""
        with self._cond:
            if self._shutdown:
                return _SHUTDOWN, 0.0
            if not self._items and timeout_s is not None:
                self._cond.wait_for(lambda: self._items or self._shutdown, timeout=max(timeout_s, 0.0))
            if self._shutdown:
                return _SHUTDOWN, 0.0
            if not self._items:
                return None
            item, waited, size = self._items.popleft()
            self._bytes -= size
            self._cond.notify_all()
            return item, waited

    def next(self, timeout_s: float) -> tuple[object | None, float]:
        """(the next message, seconds waited for it); None when the client closed its side; :data:`_SHUTDOWN`
        when the server is shutting down; raises :class:`TimeoutError` after ``timeout_s``."""
        if self._held is not None and not self._shutdown:
            got: tuple[object, float] | None = self._held
            self._held = None
        else:
            got = self._get(timeout_s)
        if got is None:
            raise TimeoutError
        item, waited = got
        if item is _DONE:
            if self._error is not None:
                raise self._error
            return None, waited
        return item, waited

    def ready_audio(self, limit: int) -> tuple[list[fa.StreamAnimateRequest], float]:
        """Audio messages already queued, without waiting (at most ``limit``), and the seconds waited for
        them; the first other message stays for :meth:`next`."""
        out: list[fa.StreamAnimateRequest] = []
        waited = 0.0
        while len(out) < limit and self._held is None and not self._shutdown:
            got = self._get(None)
            if got is None:
                break
            item, wait_s = got
            if isinstance(item, fa.StreamAnimateRequest) and item.WhichOneof("message") == "audio":
                out.append(item)
                waited += wait_s
            else:
                self._held = (item, wait_s)
        return out, waited

    def anything_after_end(self, timeout_s: float) -> bool:
        """After EndOfAudio: True if a message (not the close) comes within ``timeout_s``."""
        if self._held is not None:
            return self._held[0] is not _DONE and self._held[0] is not _SHUTDOWN
        got = self._get(timeout_s)
        return got is not None and got[0] is not _DONE and got[0] is not _SHUTDOWN


class _Clock:
    """The time limits of one stream: stall, audio-less time, lifetime, real-time lag."""

    def __init__(self, registry: StreamRegistry) -> None:
        limits = registry.config.limits
        self.stall_s = limits.stream_stall_timeout_s
        self.audioless_s = limits.stream_audioless_timeout_s
        self.lifetime_s = limits.max_stream_s
        self.max_lag_s = limits.max_stream_lag_s
        self.started = time.monotonic()
        self.last_audio = self.started
        self.waited: float | None = None  # seconds spent waiting for the client since its first audio chunk

    def wait_s(self) -> float:
        """How long the next message may take before a limit ends the stream."""
        now = time.monotonic()
        return min(self.stall_s, self.last_audio + self.audioless_s - now, self.started + self.lifetime_s - now)

    def expired(self, timed_out: bool) -> DeadlineExceeded | None:
        """The limit that ends the stream now (``timed_out``: no message came in :meth:`wait_s`)."""
        now = time.monotonic() + 0.001  # a wait may return a hair before its timeout
        if now - self.started >= self.lifetime_s:
            return DeadlineExceeded(f"the stream has lasted {now - self.started:.1f} s, the maximum "
                                    f"(limits.max_stream_s = {self.lifetime_s:g} s); open a new stream per line")
        if now - self.last_audio >= self.audioless_s:
            return DeadlineExceeded(f"no audio samples for {now - self.last_audio:.1f} s "
                                    f"(limits.stream_audioless_timeout_s = {self.audioless_s:g} s); empty chunks "
                                    "do not keep a stream open: send audio, or EndOfAudio")
        if timed_out:
            return DeadlineExceeded(f"no message for {self.stall_s:g} s (limits.stream_stall_timeout_s); send audio "
                                    "chunks at least that often, or EndOfAudio")
        return None

    def lag(self, session: StreamSession, wait_s: float) -> DeadlineExceeded | None:
        if self.waited is None or self.max_lag_s <= 0:
            return None
        self.waited += wait_s
        if self.waited - session.audio_s <= self.max_lag_s:
            return None
        return DeadlineExceeded(
            f"the client sends audio slower than real time: {session.audio_s:.2f} s of audio in "
            f"{self.waited:.2f} s, more than {self.max_lag_s:g} s behind (limits.max_stream_lag_s); send audio "
            "at least as fast as it plays")


def serve_stream(
    registry: StreamRegistry,
    requests: Iterator[fa.StreamAnimateRequest],
    *,
    versions: dict[str, str],
    is_active: Callable[[], bool] = lambda: True,
    cancel: Callable[[], None] | None = None,
    drain: StreamDrain | None = None,
) -> Iterator[fa.StreamAnimateResponse]:
    """Run one StreamAnimate call. ``cancel`` ends the call from the server side (used when a client that does
    not read its responses keeps the stream blocked past its lifetime); ``drain`` ends it on shutdown."""
    limits = registry.config.limits
    clock = _Clock(registry)
    reader = _Reader(requests, limits.max_stream_message_bytes)
    backstop = None
    if cancel is not None:  # the last resort: a stream blocked in a send never reaches its own checks
        backstop = threading.Timer(limits.max_stream_s + limits.stream_stall_timeout_s, cancel)
        backstop.daemon = True
        backstop.start()
    if drain is not None:
        drain.add(reader)
    try:
        first = _first(reader, clock)
        if first is None or first.WhichOneof("message") != "header":
            kind = "nothing" if first is None else first.WhichOneof("message") or "an empty message"
            raise FailedPrecondition(f"the first message of a stream must be a header, got {kind}", field="header")
        session = registry.open(convert.stream_start(first.header))
        try:
            yield convert.track_header(session, versions)
            yield from _audio_loop(session, reader, clock, is_active)
        finally:
            session.close()
    finally:
        if drain is not None:
            drain.discard(reader)
        if backstop is not None:
            backstop.cancel()
        reader.close()


def _first(reader: _Reader, clock: _Clock) -> fa.StreamAnimateRequest | None:
    try:
        message, _ = reader.next(clock.wait_s())
    except TimeoutError:
        raise clock.expired(True) or DeadlineExceeded("no header in time") from None
    if message is _SHUTDOWN:
        raise Unavailable(SHUTDOWN_MESSAGE)
    assert message is None or isinstance(message, fa.StreamAnimateRequest)
    return message


def _frames(session: StreamSession, batch: object) -> Iterator[fa.StreamAnimateResponse]:
    if batch is not None:
        yield from convert.frame_batches(batch, session.fps, MAX_BATCH_VALUES)  # type: ignore[arg-type]


def _add(session: StreamSession, chunk: fa.AudioChunk) -> None:
    session.check_keyframes(len(chunk.emotion_keyframes))  # counted before they are converted
    session.add(chunk.data, convert.chunk_keyframes(chunk))


def _audio_loop(session: StreamSession, reader: _Reader, clock: _Clock,
                is_active: Callable[[], bool]) -> Iterator[fa.StreamAnimateResponse]:
    while is_active():
        try:
            message, wait_s = reader.next(clock.wait_s())
            ended = clock.expired(False) if message is not _SHUTDOWN else None
        except TimeoutError:
            ended = clock.expired(True)
            message, wait_s = None, 0.0
        ended = ended or (clock.lag(session, wait_s) if message is not _SHUTDOWN else None)
        if ended is not None or message is _SHUTDOWN:
            if ended is None:
                session.warnings.append("ended early: the sidecar is shutting down")
            batch, summary = session.finish()  # send what the audio so far gives: the mouth closes
            yield from _frames(session, batch)
            if ended is not None:
                raise ended
            yield convert.stream_end(summary)
            raise Unavailable(SHUTDOWN_MESSAGE)
        if message is None:
            session.warnings.append("the client closed the stream without EndOfAudio; ended it there")
            yield from _finish(session)
            return
        assert isinstance(message, fa.StreamAnimateRequest)
        kind = message.WhichOneof("message")
        if kind == "header":
            raise FailedPrecondition("a second header; a stream has exactly one, first", field="header")
        if kind == "audio":
            failure: MienError | None = None
            queued_wait_s = 0.0
            try:
                if message.audio.data:
                    clock.last_audio = time.monotonic()
                _add(session, message.audio)
                queued, queued_wait_s = reader.ready_audio(CATCH_UP_CHUNKS)
                for chunk in queued:
                    if chunk.audio.data:
                        clock.last_audio = time.monotonic()
                    _add(session, chunk.audio)
            except MienError as error:  # the chunks before the bad one still get their frames
                failure = error
            yield from _frames(session, session.flush())
            if failure is not None:
                raise failure
            clock.waited = (clock.waited or 0.0) + queued_wait_s
        elif kind == "end":
            batch, summary = session.finish()
            yield from _frames(session, batch)  # the last frames at once: playback must not wait for the check
            if reader.anything_after_end(min(AFTER_END_S, clock.stall_s)):
                raise FailedPrecondition("a message after EndOfAudio; nothing may follow it", field="end")
            yield convert.stream_end(summary)
            return
        else:
            raise FailedPrecondition("an empty message; send header, audio or end", field="message")


def _finish(session: StreamSession) -> Iterator[fa.StreamAnimateResponse]:
    batch, summary = session.finish()
    yield from _frames(session, batch)
    yield convert.stream_end(summary)
