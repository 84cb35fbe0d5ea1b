"""`mien live`: speak into the microphone, watch the face curves move (in-process streaming).

Audio comes from an :class:`AudioSource` (the microphone through sounddevice, or a file played
as if it were a microphone), goes through a :class:`~mien.streaming.StreamSession` exactly as
StreamAnimate does, and each finished frame batch goes to a sink — by default terminal meters.
"""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from .audio import decode_audio
from .errors import FailedPrecondition
from .streaming import FrameBatch, StreamRegistry, StreamSession, StreamStart

__all__ = ["AudioSource", "MicrophoneSource", "FileSource", "Meters", "run_live"]

BLOCK_S = 0.02  # 20 ms chunks, as a voice-chat client would send


class AudioSource(Protocol):
    """Mono float32 blocks at ``sample_rate_hz`` until the source ends (or forever, for a microphone)."""

    sample_rate_hz: int

    def blocks(self) -> Iterator[np.ndarray]: ...


class MicrophoneSource:
    """The default (or chosen) input device, via sounddevice (needs PortAudio: apt libportaudio2)."""

    def __init__(self, device: int | str | None = None, sample_rate_hz: int = 16000) -> None:
        self.device = device
        self.sample_rate_hz = sample_rate_hz

    def blocks(self) -> Iterator[np.ndarray]:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise FailedPrecondition(f"microphone input needs sounddevice and PortAudio ({exc}); install the `live` "
                                     "extra and apt libportaudio2, or use --input FILE", field="device") from None
        blocks: queue.Queue[np.ndarray] = queue.Queue()

        def callback(data: np.ndarray, frames: int, when: object, status: object) -> None:
            blocks.put(data[:, 0].copy())

        try:
            stream = sd.InputStream(device=self.device, channels=1, samplerate=self.sample_rate_hz, dtype="float32",
                                    blocksize=int(BLOCK_S * self.sample_rate_hz), callback=callback)
        except sd.PortAudioError as exc:
            raise FailedPrecondition(f"cannot open the microphone ({exc}); see `mien live --list-devices`",
                                     field="device") from None
        with stream:
            while True:
                yield blocks.get()


@dataclass
class FileSource:
    """An audio file cut into 20 ms blocks, optionally paced at real time (a stand-in microphone)."""

    path: Path
    realtime: bool = True
    max_audio_s: float = 600.0

    def __post_init__(self) -> None:
        self._audio = decode_audio(Path(self.path).read_bytes(), max_duration_s=self.max_audio_s)
        self.sample_rate_hz = self._audio.sample_rate_hz

    def blocks(self) -> Iterator[np.ndarray]:
        step = int(BLOCK_S * self.sample_rate_hz)
        start = time.monotonic()
        for i in range(0, len(self._audio.samples), step):
            if self.realtime:
                time.sleep(max(0.0, start + i / self.sample_rate_hz - time.monotonic()))
            yield self._audio.samples[i:i + step]


class Meters:
    """Terminal meters of a few channels, redrawn in place (one line)."""

    def __init__(self, channel_names: tuple[str, ...], out: TextIO = sys.stdout,
                 shown: tuple[str, ...] = ("jawOpen", "mouthClose", "mouthPucker", "mouthSmileLeft", "browInnerUp",
                                           "eyeBlinkLeft")) -> None:
        self.out = out
        self.columns = [(name, channel_names.index(name)) for name in shown if name in channel_names]
        if not self.columns:  # another rig: its first channels
            self.columns = [(name, i) for i, name in enumerate(channel_names[:6])]
        self.frames = 0

    def __call__(self, batch: FrameBatch) -> None:
        self.frames += len(batch.values)
        last = batch.values[-1]
        bars = "  ".join(f"{name[:10]:>10} {'#' * round(10 * float(np.clip(last[i], 0, 1))):<10}"
                         for name, i in self.columns)
        self.out.write(f"\r{bars}  frame {batch.first_frame + len(batch.values) - 1}")
        self.out.flush()


def run_live(registry: StreamRegistry, source: AudioSource, start: StreamStart,
             sink: Callable[[FrameBatch], None] | None = None, *, seconds: float | None = None) -> StreamSession:
    """Stream ``source`` through a session until it ends (or ``seconds`` of audio); frames go to ``sink``."""
    session = registry.open(start)
    sink = sink or Meters(session.channel_names)
    try:
        for block in source.blocks():
            pcm = (np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
            batch = session.push(pcm)
            if batch is not None:
                sink(batch)
            if seconds is not None and session.audio_s >= seconds:
                break
        batch, _ = session.finish()
        if batch is not None:
            sink(batch)
    finally:
        session.close()
    return session
