"""The StreamAnimate message protocol: header, audio chunks, end-of-audio; in order, on time.

:func:`serve_stream` turns the client's message iterator into the response iterator. It is the
same for gRPC and the WebSocket gateway (both call the servicer). Rules:

* the first message must be a header; a second header, audio before the header, or anything
  after end-of-audio is ``FAILED_PRECONDITION`` naming the message;
* no message for ``limits.stream_stall_timeout_s`` ends the stream: the frames for the audio
  received are sent (the mouth closes), then ``DEADLINE_EXCEEDED``;
* a client that closes its side without end-of-audio gets its remaining frames and a warning;
* cancellation or any error closes the session at once (the open-stream count goes back down).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from ..errors import DeadlineExceeded, FailedPrecondition
from ..streaming import StreamRegistry, StreamSession
from ..v1 import face_animation_pb2 as fa
from . import convert

__all__ = ["serve_stream"]

_DONE = object()


class _Reader:
    """Reads the client's messages in a thread so the stream can time out on a stalled client."""

    def __init__(self, requests: Iterator[fa.StreamAnimateRequest]) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(requests,), name="mien-stream-reader", daemon=True)
        self._thread.start()

    def _run(self, requests: Iterator[fa.StreamAnimateRequest]) -> None:
        try:
            for message in requests:
                self._queue.put(message)
        except Exception as error:  # noqa: BLE001 - handed to the stream, which raises it
            self._error = error
        self._queue.put(_DONE)

    def next(self, timeout_s: float) -> fa.StreamAnimateRequest | None:
        """The next message, None when the client closed its side; DeadlineExceeded after ``timeout_s``."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            raise DeadlineExceeded(f"no message for {timeout_s:g} s (limits.stream_stall_timeout_s); send audio "
                                   "chunks at least that often, or EndOfAudio") from None
        if item is _DONE:
            if self._error is not None:
                raise self._error
            return None
        assert isinstance(item, fa.StreamAnimateRequest)
        return item

    def pending(self) -> bool:
        """Another message (not the close) is already waiting."""
        try:
            item = self._queue.get_nowait()
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
    reader = _Reader(requests)
    first = reader.next(timeout)
    if first is None or first.WhichOneof("message") != "header":
        kind = "nothing" if first is None else first.WhichOneof("message") or "an empty message"
        raise FailedPrecondition(f"the first message of a stream must be a header, got {kind}", field="header")
    session = registry.open(convert.stream_start(first.header))
    try:
        yield convert.track_header(session, versions)
        yield from _audio_loop(session, reader, timeout, is_active)
    finally:
        session.close()


def _audio_loop(session: StreamSession, reader: _Reader, timeout: float,
                is_active: Callable[[], bool]) -> Iterator[fa.StreamAnimateResponse]:
    while is_active():
        try:
            message = reader.next(timeout)
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
            batch = session.push(message.audio.data, convert.chunk_keyframes(message.audio))
            if batch is not None:
                yield convert.frame_batch(batch, session.fps)
        elif kind == "end":
            if reader.pending():
                raise FailedPrecondition("a message after EndOfAudio; nothing may follow it", field="end")
            yield from _finish(session)
            return
        else:
            raise FailedPrecondition("an empty message; send header, audio or end", field="message")


def _finish(session: StreamSession) -> Iterator[fa.StreamAnimateResponse]:
    batch, summary = session.finish()
    if batch is not None:
        yield convert.frame_batch(batch, session.fps)
    yield convert.stream_end(summary)
