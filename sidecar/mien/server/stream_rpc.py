"""The StreamAnimate message protocol: header, audio chunks, end-of-audio; in order, on time.

:func:`serve_stream` turns the client's message iterator into the response iterator. It is the
same for gRPC and the WebSocket gateway (both call the servicer). Rules:

* the first message must be a header; a second header, audio before the header, or anything
  after end-of-audio is ``FAILED_PRECONDITION`` naming the message. After end-of-audio the stream
  waits for the client to close its side (gRPC half-close) for at most :data:`AFTER_END_S`
  (a WebSocket has no half-close, so it always waits that long): a message in that time is the
  error, whatever the thread timing;
* no message for ``limits.stream_stall_timeout_s`` ends the stream: the frames for the audio
  received are sent (the mouth closes), then ``DEADLINE_EXCEEDED``;
* a client that sends slower than real time ends the same way once its audio lags the time spent
  waiting for it by more than ``limits.max_stream_lag_s`` (time the sidecar itself is behind does
  not count: only the reader's waits for the client do; an overloaded process delivers messages
  late too, which is why this limit is separate from, and larger than, the stall timeout);
* a client that closes its side without end-of-audio gets its remaining frames and a warning;
* cancellation or any error closes the session at once (the open-stream count goes back down) and
  frees the reader thread;
* when the sidecar falls behind (more streams than its cores keep up with), the audio chunks already
  queued for a stream are computed in one batch (at most :data:`CATCH_UP_CHUNKS`): the same frames, sent
  in fewer messages, so a loaded server catches up instead of drifting further behind.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

from ..errors import DeadlineExceeded, FailedPrecondition, MienError
from ..streaming import StreamRegistry, StreamSession
from ..v1 import face_animation_pb2 as fa
from . import convert

__all__ = ["AFTER_END_S", "CATCH_UP_CHUNKS", "serve_stream"]

AFTER_END_S = 0.25
"""How long after EndOfAudio a stream waits for the client's half-close (a message in that time is an error)."""

CATCH_UP_CHUNKS = 50
"""The most queued audio chunks of one stream computed in one batch when the sidecar is behind."""

_DONE = object()


class _Reader:
    """Reads the client's messages in a thread so the stream can time out on a stalled client.

    Each queued message carries the seconds the reader waited for the client before it came.
    """

    def __init__(self, requests: Iterator[fa.StreamAnimateRequest]) -> None:
        self._queue: queue.Queue[tuple[object, float]] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._closed = False
        self._held: tuple[object, float] | None = None  # taken by ready_audio, not audio: next() returns it
        self._thread = threading.Thread(target=self._run, args=(requests,), name="mien-stream-reader", daemon=True)
        self._thread.start()

    def _run(self, requests: Iterator[fa.StreamAnimateRequest]) -> None:
        try:
            while not self._closed:
                asked = time.monotonic()
                try:
                    message = next(requests)
                except StopIteration:
                    break
                self._queue.put((message, time.monotonic() - asked))
        except Exception as error:  # noqa: BLE001 - handed to the stream, which raises it
            self._error = error
        if not self._closed:
            self._queue.put((_DONE, 0.0))

    def close(self) -> None:
        """The stream ended: the reader stops after the message it is waiting for (never blocks on the queue)."""
        self._closed = True
        while True:  # unblock a put() on a full queue; the reader checks _closed after each put
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def next(self, timeout_s: float) -> tuple[fa.StreamAnimateRequest | None, float]:
        """(the next message, seconds waited for it); None when the client closed its side;
        DeadlineExceeded after ``timeout_s``."""
        try:
            item, waited = self._held or self._queue.get(timeout=timeout_s)
            self._held = None
        except queue.Empty:
            raise DeadlineExceeded(f"no message for {timeout_s:g} s (limits.stream_stall_timeout_s); send audio "
                                   "chunks at least that often, or EndOfAudio") from None
        if item is _DONE:
            if self._error is not None:
                raise self._error
            return None, waited
        assert isinstance(item, fa.StreamAnimateRequest)
        return item, waited

    def ready_audio(self, limit: int) -> tuple[list[fa.StreamAnimateRequest], float]:
        """Audio messages already queued, without waiting (at most ``limit``), and the seconds waited for
        them; the first other message stays for :meth:`next`."""
        out: list[fa.StreamAnimateRequest] = []
        waited = 0.0
        while len(out) < limit and self._held is None:
            try:
                item, wait_s = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, fa.StreamAnimateRequest) and item.WhichOneof("message") == "audio":
                out.append(item)
                waited += wait_s
            else:
                self._held = (item, wait_s)
        return out, waited

    def anything_after_end(self, timeout_s: float) -> bool:
        """After EndOfAudio: True if a message (not the close) comes within ``timeout_s``."""
        if self._held is not None:
            return self._held[0] is not _DONE
        try:
            item, _ = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return False
        return item is not _DONE


def serve_stream(
    registry: StreamRegistry,
    requests: Iterator[fa.StreamAnimateRequest],
    *,
    versions: dict[str, str],
    is_active: Callable[[], bool] = lambda: True,
) -> Iterator[fa.StreamAnimateResponse]:
    """Run one StreamAnimate call."""
    timeout = registry.config.limits.stream_stall_timeout_s
    max_lag = registry.config.limits.max_stream_lag_s
    reader = _Reader(requests)
    try:
        first, _ = reader.next(timeout)
        if first is None or first.WhichOneof("message") != "header":
            kind = "nothing" if first is None else first.WhichOneof("message") or "an empty message"
            raise FailedPrecondition(f"the first message of a stream must be a header, got {kind}", field="header")
        session = registry.open(convert.stream_start(first.header))
        try:
            yield convert.track_header(session, versions)
            yield from _audio_loop(session, reader, timeout, max_lag, is_active)
        finally:
            session.close()
    finally:
        reader.close()


def _audio_loop(session: StreamSession, reader: _Reader, timeout: float, max_lag: float,
                is_active: Callable[[], bool]) -> Iterator[fa.StreamAnimateResponse]:
    waited: float | None = None  # seconds spent waiting for the client since its first audio chunk
    while is_active():
        try:
            message, wait_s = reader.next(timeout)
            if waited is not None and max_lag > 0:
                waited += wait_s
                if waited - session.audio_s > max_lag:
                    raise DeadlineExceeded(
                        f"the client sends audio slower than real time: {session.audio_s:.2f} s of audio in "
                        f"{waited:.2f} s, more than {max_lag:g} s behind (limits.max_stream_lag_s); send audio "
                        "at least as fast as it plays")
        except DeadlineExceeded:
            batch, _ = session.finish()  # send what the audio so far gives: the mouth closes
            if batch is not None:
                yield convert.frame_batch(batch, session.fps)
            raise
        if message is None:
            session.warnings.append("the client closed the stream without EndOfAudio; ended it there")
            yield from _finish(session)
            return
        kind = message.WhichOneof("message")
        if kind == "header":
            raise FailedPrecondition("a second header; a stream has exactly one, first", field="header")
        if kind == "audio":
            failure: MienError | None = None
            try:
                session.add(message.audio.data, convert.chunk_keyframes(message.audio))
                queued, queued_wait_s = reader.ready_audio(CATCH_UP_CHUNKS)
                for chunk in queued:
                    session.add(chunk.audio.data, convert.chunk_keyframes(chunk.audio))
            except MienError as error:  # the chunks before the bad one still get their frames
                failure = error
            batch = session.flush()
            if batch is not None:
                yield convert.frame_batch(batch, session.fps)
            if failure is not None:
                raise failure
            waited = (waited or 0.0) + queued_wait_s
        elif kind == "end":
            batch, summary = session.finish()
            if reader.anything_after_end(min(AFTER_END_S, timeout)):
                raise FailedPrecondition("a message after EndOfAudio; nothing may follow it", field="end")
            if batch is not None:
                yield convert.frame_batch(batch, session.fps)
            yield convert.stream_end(summary)
            return
        else:
            raise FailedPrecondition("an empty message; send header, audio or end", field="message")


def _finish(session: StreamSession) -> Iterator[fa.StreamAnimateResponse]:
    batch, summary = session.finish()
    if batch is not None:
        yield convert.frame_batch(batch, session.fps)
    yield convert.stream_end(summary)
