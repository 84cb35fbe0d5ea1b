"""Stage 1, audio: decode file bytes or raw PCM into mono float32 at the internal rate.

Accepts what libsndfile decodes (WAV with 8/16/24/32-bit integer or float samples, mu-law,
A-law and ADPCM; FLAC; OGG Vorbis and Opus; MP3; AIFF), any sample rate between
:data:`MIN_SAMPLE_RATE_HZ` and :data:`MAX_SAMPLE_RATE_HZ`, any channel count (downmixed to
mono). The duration is checked against the caller's limit from the header *before* decoding,
so a file declaring hours of audio costs nothing; large files are decoded block by block (downmixed
and resampled as they come), so memory follows the 16 kHz mono result, not the declared rate x
channels (a small FLAC of 8 x 384 kHz silence is no decompression bomb).

MP3 starts late by the encoder's and decoder's delay unless the file says how long it is (a
Xing/Info tag, which the decoder then trims); LAME writes none at low bit rates (the first frame is
too small to hold it), so such a file would be ~50 ms late at 22.05 kHz. Its first
:data:`MP3_UNTAGGED_DELAY_SAMPLES` are dropped instead.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
import soundfile as sf

from .errors import InvalidArgument

__all__ = [
    "INTERNAL_SAMPLE_RATE_HZ",
    "MIN_SAMPLE_RATE_HZ",
    "MAX_SAMPLE_RATE_HZ",
    "PCM_ENCODINGS",
    "ACCEPTED_FORMATS",
    "Audio",
    "decode_audio",
    "decode_pcm",
    "hop_mean_square",
    "resample",
]

INTERNAL_SAMPLE_RATE_HZ = 16_000
"""The rate every later stage works at (the acoustic models are trained at 16 kHz)."""
MIN_SAMPLE_RATE_HZ = 4_000
MAX_SAMPLE_RATE_HZ = 384_000
MAX_CHANNELS = 16
WHOLE_DECODE_SAMPLES = 1 << 21
"""Files with at most this many samples (frames x channels, 8 MB as float32; ~22 s of 48 kHz stereo) are decoded
in one read; longer ones, and files that do not declare their length, block by block."""
DECODE_BLOCK_SAMPLES = 1 << 18
"""Samples (frames x channels) per block of the block-wise decode (1 MB as float32)."""
MP3_UNTAGGED_DELAY_SAMPLES = 576 + 529
"""Start delay of an MP3 without a Xing/Info tag, at its own rate: LAME's encoder delay (576) plus the
decoder's (529)."""

PcmEncoding = Literal["pcm_s16le", "pcm_f32le"]
PCM_ENCODINGS: dict[str, tuple[str, int]] = {"pcm_s16le": ("<i2", 2), "pcm_f32le": ("<f4", 4)}
ACCEPTED_FORMATS = (
    "WAV (PCM 8/16/24/32-bit, float, mu-law, A-law, ADPCM), FLAC, OGG Vorbis/Opus, MP3, AIFF; "
    "or raw PCM (pcm_s16le / pcm_f32le) with its sample rate"
)


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate_hz``."""

    samples: np.ndarray
    sample_rate_hz: int = INTERNAL_SAMPLE_RATE_HZ

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz

    def pcm16(self) -> bytes:
        """Little-endian 16-bit PCM bytes (what the phone recogniser eats)."""
        return (np.clip(self.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _check_rate(sample_rate_hz: int | float, field: str) -> int:
    if (
        not isinstance(sample_rate_hz, int | float)
        or not math.isfinite(sample_rate_hz)
        or int(sample_rate_hz) != sample_rate_hz
        or not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ
    ):
        raise InvalidArgument(
            f"{field} = {sample_rate_hz!r} Hz is not supported; accepted: an integer from "
            f"{MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz",
            field=field,
        )
    return int(sample_rate_hz)


def _check_duration(frames: int, rate: int, max_duration_s: float, field: str) -> None:
    if frames <= 0:
        raise InvalidArgument(f"{field} holds no samples (zero-length audio); accepted: at least one sample",
                              field=field)
    duration = frames / rate
    if duration > max_duration_s:
        raise InvalidArgument(
            f"{field} is {duration:.1f} s long; the maximum is {max_duration_s:g} s per line "
            "(split the line, or raise limits.max_audio_s in the sidecar config)",
            field=field,
        )


def _check_finite(samples: np.ndarray, rate: int, field: str, offset: int = 0) -> None:
    bad = ~np.isfinite(samples)
    if bad.any():
        first = offset + int(np.argmax(bad))
        raise InvalidArgument(
            f"{field} contains {int(bad.sum())} NaN or infinite samples (first at {first / rate:.3f} s); "
            "accepted: finite samples",
            field=field,
        )


def _finish(samples: np.ndarray, rate: int, field: str) -> Audio:
    """Downmix, check for non-finite values, resample to the internal rate."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    _check_finite(samples, rate, field)
    samples = np.clip(samples.astype(np.float32, copy=False), -1.0, 1.0)
    # clipped again after resampling: the anti-aliasing filter overshoots on full-scale edges (Gibbs)
    return Audio(np.clip(resample(samples, rate, INTERNAL_SAMPLE_RATE_HZ), -1.0, 1.0), INTERNAL_SAMPLE_RATE_HZ)


_HOPS_PER_PASS = 4096


def hop_mean_square(samples: np.ndarray, hop: int) -> np.ndarray:
    """Mean square (float64) of each ``hop`` samples, the last hop zero-padded: ceil(len / hop) values.

    Computed :data:`_HOPS_PER_PASS` hops at a time (each hop on its own samples, so the values are those of the
    whole line at once, bit for bit): a 300 s line in one pass took two float64 copies of it, ~77 MB."""
    n = max(1, int(np.ceil(len(samples) / hop)))
    out = np.empty(n)
    for first in range(0, n, _HOPS_PER_PASS):
        count = min(_HOPS_PER_PASS, n - first)
        rows = np.zeros(count * hop)
        part = samples[first * hop:(first + count) * hop]
        rows[:len(part)] = part
        squared = rows.reshape(count, hop)
        squared *= squared
        out[first:first + count] = squared.mean(axis=1)
    return out


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased); identity when the rates match."""
    if from_hz == to_hz:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # a second to import: only when a rate needs converting

    ratio = Fraction(to_hz, from_hz).limit_denominator(1000)
    out = resample_poly(samples, ratio.numerator, ratio.denominator)
    return np.asarray(out, dtype=np.float32)


def decode_audio(data: bytes, *, max_duration_s: float, field: str = "audio") -> Audio:
    """Decode an encoded audio file (bytes) into mono float32 at the internal rate."""
    if not data:
        raise InvalidArgument(f"{field} is empty; accepted: {ACCEPTED_FORMATS}", field=field)
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        reason = getattr(exc, "error_string", "") or "format not recognised"
        raise InvalidArgument(
            f"{field} is not a readable audio file ({len(data)} bytes: {reason}); accepted: {ACCEPTED_FORMATS}",
            field=field,
        ) from None
    if info.format == "RAW":
        raise InvalidArgument(f"{field}: headerless data; send raw PCM as pcm with its sample rate, "
                              f"or a file in: {ACCEPTED_FORMATS}", field=field)
    rate = _check_rate(info.samplerate, f"{field}.sample_rate_hz")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise InvalidArgument(f"{field} has {info.channels} channels; accepted: 1 to {MAX_CHANNELS}",
                              field=field)
    # Some containers (OGG, MP3) do not declare their length; those are bounded after decoding.
    if info.frames > 0:
        _check_duration(info.frames, rate, max_duration_s, field)
    max_frames = int(max_duration_s * rate) + 1
    skip = MP3_UNTAGGED_DELAY_SAMPLES if info.format == "MP3" and not _mp3_has_length_tag(data) else 0
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if 0 < info.frames * info.channels <= WHOLE_DECODE_SAMPLES:
                samples = f.read(frames=max_frames + 1 + skip, dtype="float32", always_2d=True)[skip:]
                _check_duration(len(samples), rate, max_duration_s, field)
                return _finish(samples, rate, field)
            return _decode_blocks(f, rate, max_duration_s, field, skip)
    except (sf.LibsndfileError, RuntimeError) as exc:
        reason = getattr(exc, "error_string", "") or "decoding failed"
        raise InvalidArgument(
            f"{field} could not be decoded ({info.format}/{info.subtype}: {reason}); the file is damaged or "
            f"truncated; accepted: {ACCEPTED_FORMATS}",
            field=field,
        ) from None


def _mp3_has_length_tag(data: bytes) -> bool:
    """Whether the first MPEG audio frame (after any ID3v2 tag) is a Xing/Info frame, which gives the decoder the
    delay and padding to trim."""
    i = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        i = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
        i += 10 if data[5] & 0x10 else 0  # a footer
    end = min(len(data) - 4, i + 65536)  # the first frame follows the tag (junk before it is rare and short)
    i = data.find(b"\xff", i, end)
    while 0 <= i and not (data[i + 1] & 0xE0 == 0xE0 and (data[i + 1] >> 1) & 3 == 1):  # a layer III frame sync
        i = data.find(b"\xff", i + 1, end)
    if i < 0:
        return False
    mpeg1 = (data[i + 1] >> 3) & 3 == 3
    mono = data[i + 3] >> 6 == 3
    crc = 0 if data[i + 1] & 1 else 2
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    at = i + 4 + crc + side_info
    return data[at:at + 4] in (b"Xing", b"Info")


def _decode_blocks(f: sf.SoundFile, rate: int, max_duration_s: float, field: str, skip: int = 0) -> Audio:
    """Decode ``f`` block by block: each block downmixed, checked, clipped and resampled before the next is read
    (the first ``skip`` frames dropped)."""
    max_frames = int(max_duration_s * rate) + 1
    block = max(1024, DECODE_BLOCK_SAMPLES // f.channels)
    resampler = StreamingResampler(rate)
    parts: list[np.ndarray] = []
    frames = 0
    if skip:
        f.read(frames=skip, dtype="float32", always_2d=True)
    while frames <= max_frames:
        samples = f.read(frames=min(block, max_frames + 1 - frames), dtype="float32", always_2d=True)
        if not len(samples):
            break
        mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
        del samples
        _check_finite(mono, rate, field, frames)
        frames += len(mono)
        parts.append(resampler.push(np.clip(mono, -1.0, 1.0)))
    _check_duration(frames, rate, max_duration_s, field)
    parts.append(resampler.flush())
    return Audio(np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32, copy=False), INTERNAL_SAMPLE_RATE_HZ)


def decode_pcm(
    data: bytes,
    *,
    sample_rate_hz: int,
    encoding: str = "pcm_s16le",
    channels: int = 1,
    max_duration_s: float,
    field: str = "audio",
) -> Audio:
    """Raw interleaved PCM (no header) into mono float32 at the internal rate."""
    if encoding not in PCM_ENCODINGS:
        raise InvalidArgument(
            f"{field}.encoding {encoding!r} is not supported; accepted: {', '.join(PCM_ENCODINGS)}",
            field=f"{field}.encoding",
        )
    rate = _check_rate(sample_rate_hz, f"{field}.sample_rate_hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidArgument(f"{field}.channels = {channels}; accepted: 1 to {MAX_CHANNELS}",
                              field=f"{field}.channels")
    dtype, width = PCM_ENCODINGS[encoding]
    frame_bytes = width * channels
    if len(data) % frame_bytes:
        raise InvalidArgument(
            f"{field}: {len(data)} bytes is not a whole number of {encoding} frames of {channels} "
            f"channel(s) ({frame_bytes} bytes each)",
            field=field,
        )
    frames = len(data) // frame_bytes
    _check_duration(frames, rate, max_duration_s, field)
    raw = np.frombuffer(data, dtype=dtype).reshape(frames, channels)
    scale = 1.0 / 32768.0 if encoding == "pcm_s16le" else 1.0
    if frames * channels <= WHOLE_DECODE_SAMPLES:
        return _finish(raw.astype(np.float32) * np.float32(scale), rate, field)
    # long PCM block by block, like long files: memory follows the 16 kHz mono result, not rate x channels
    resampler = StreamingResampler(rate)
    parts: list[np.ndarray] = []
    block = max(1024, DECODE_BLOCK_SAMPLES // channels)
    for start in range(0, frames, block):
        samples = raw[start:start + block].astype(np.float32) * np.float32(scale)
        mono = samples.mean(axis=1, dtype=np.float32) if channels > 1 else samples[:, 0]
        _check_finite(mono, rate, field, start)
        parts.append(resampler.push(np.clip(mono, -1.0, 1.0)))
    parts.append(resampler.flush())
    return Audio(np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32, copy=False), INTERNAL_SAMPLE_RATE_HZ)


class StreamingResampler:
    """Resample a stream chunk by chunk to the internal rate, matching :func:`resample` of the whole.

    Output sample ``m`` depends on input around ``m * down / up``; each emitted stretch is computed
    from a block that starts ``context`` samples earlier (rounded to a multiple of ``down``, so the
    polyphase grid lines up with the whole-signal one) and reaches ``context`` samples past it: the
    last ``context`` input samples wait for more audio or :meth:`flush` (4 ms at 24 kHz). At the
    internal rate it is a pass-through.
    """

    def __init__(self, from_hz: int, context: int = 120) -> None:
        self.from_hz = from_hz
        ratio = Fraction(INTERNAL_SAMPLE_RATE_HZ, from_hz).limit_denominator(1000)
        self._up, self._down = ratio.numerator, ratio.denominator
        # at least the filter's reach in input samples (resample_poly's half-length is 10 x max(up, down) at the
        # upsampled rate): more than 120 only above ~176 kHz
        self._context = max(context, -(-10 * max(self._up, self._down) // self._up) + 1)
        self._buffer = np.zeros(0, dtype=np.float64)
        self._buffer_start = 0  # global input index of _buffer[0] (a multiple of down)
        self._received = 0
        self._emitted = 0  # input samples whose output has been emitted (a multiple of down until flush)

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self.from_hz == INTERNAL_SAMPLE_RATE_HZ:
            return samples.astype(np.float32, copy=False)
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float64)])
        self._received += len(samples)
        upto = (self._received - self._context) // self._down * self._down
        return self._emit(upto, final=False) if upto > self._emitted else np.zeros(0, dtype=np.float32)

    def flush(self) -> np.ndarray:
        if self.from_hz == INTERNAL_SAMPLE_RATE_HZ or self._received <= self._emitted:
            return np.zeros(0, dtype=np.float32)
        return self._emit(self._received, final=True)

    def _emit(self, upto: int, *, final: bool) -> np.ndarray:
        from scipy.signal import resample_poly

        up, down = self._up, self._down
        end = self._received if final else min(self._received, upto + self._context)
        block = self._buffer[: end - self._buffer_start]
        out = resample_poly(block, up, down)
        first = self._emitted * up // down - self._buffer_start * up // down
        last = len(out) if final else upto * up // down - self._buffer_start * up // down
        result = np.asarray(out[first:last], dtype=np.float32)
        self._emitted = upto
        keep_from = max(0, (upto - self._context) // down * down)
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start:]
            self._buffer_start = keep_from
        return result
