"""Audio decoding: formats, rates, channels, limits and every kind of bad input."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from mien.audio import INTERNAL_SAMPLE_RATE_HZ, decode_audio, decode_pcm
from mien.errors import InvalidArgument

RATE = 16_000


def tone(seconds: float = 0.5, rate: int = RATE, channels: int = 1, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"])
def test_wav_sample_formats(subtype: str) -> None:
    audio = decode_audio(encode(tone(), RATE, "WAV", subtype), max_duration_s=10)
    assert audio.sample_rate_hz == INTERNAL_SAMPLE_RATE_HZ
    assert len(audio.samples) == RATE // 2
    reference = tone().astype(np.float32)
    tolerance = 0.05 if subtype in ("PCM_U8", "ULAW", "ALAW") else 1e-3
    assert np.max(np.abs(audio.samples - reference)) < tolerance


@pytest.mark.parametrize(("fmt", "subtype"), [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("OGG", "OPUS")])
def test_compressed_formats(fmt: str, subtype: str) -> None:
    rate = 48_000 if subtype == "OPUS" else RATE
    audio = decode_audio(encode(tone(rate=rate), rate, fmt, subtype), max_duration_s=10)
    assert abs(audio.duration_s - 0.5) < 0.02
    if fmt == "FLAC":  # lossless
        assert np.allclose(audio.samples, tone(), atol=1e-3)


def _click_mp3(rate: int, level: float, id3: bool) -> tuple[bytes, float]:
    """A 10 ms tone burst at 0.5 s, as constant-bit-rate MP3 (libsndfile's LAME), optionally behind an ID3v2 tag."""
    x = np.zeros(rate * 2, dtype=np.float32)
    n = rate // 100
    x[rate // 2:rate // 2 + n] = 0.8 * np.sin(np.arange(n) * 2 * np.pi * 1000 / rate)
    buf = io.BytesIO()
    sf.write(buf, x, rate, format="MP3", subtype="MPEG_LAYER_III", compression_level=level, bitrate_mode="CONSTANT")
    data = buf.getvalue()
    if id3:  # an ID3v2.3 header (size 0x100, syncsafe) and 256 bytes of padding
        data = b"ID3\x03\x00\x00\x00\x00\x02\x00" + bytes(256) + data
    return data, 0.5


@pytest.mark.parametrize(("rate", "level", "tagged"),
                         [(22050, 0.9, False), (16000, 0.9, False), (48000, 0.9, False), (22050, 0.3, True),
                          (44100, 0.7, True)])
@pytest.mark.parametrize("id3", [False, True])
@pytest.mark.parametrize("blocks", [False, True])
def test_mp3_starts_on_time_with_or_without_a_length_tag(rate: int, level: float, tagged: bool, id3: bool,
                                                         blocks: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """LAME writes no Xing/Info tag at low bit rates (the first frame cannot hold it), so the decoder does not
    trim the encoder's and its own delay: 1105 samples, 50 ms at 22.05 kHz. The first sample of the burst must
    land within 1 ms of its time, tagged or not, decoded whole or block by block."""
    import mien.audio
    from mien.audio import _mp3_has_length_tag

    data, onset_s = _click_mp3(rate, level, id3)
    assert _mp3_has_length_tag(data) == tagged  # (bit rates of 25-57 kbps carry none)
    if blocks:
        monkeypatch.setattr(mien.audio, "WHOLE_DECODE_SAMPLES", 1024)
    audio = decode_audio(data, max_duration_s=10)
    first = int(np.argmax(np.abs(audio.samples) > 0.2))
    assert abs(first / INTERNAL_SAMPLE_RATE_HZ - onset_s) < 0.001
    assert abs(audio.duration_s - 2.0) < 0.05


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000, 96_000])
def test_any_rate_is_resampled(rate: int) -> None:
    audio = decode_audio(encode(tone(rate=rate), rate, "WAV", "PCM_16"), max_duration_s=10)
    assert audio.sample_rate_hz == INTERNAL_SAMPLE_RATE_HZ
    assert abs(len(audio.samples) - RATE // 2) <= 2
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert abs(np.argmax(spectrum) * RATE / len(audio.samples) - 220.0) < 5.0  # the tone survives


def test_stereo_is_downmixed() -> None:
    stereo = np.stack([tone(), -tone() * 0.0], axis=1)
    audio = decode_audio(encode(stereo, RATE, "WAV", "PCM_16"), max_duration_s=10)
    assert audio.samples.ndim == 1
    assert np.allclose(audio.samples, tone() / 2, atol=1e-3)


def test_raw_pcm_both_encodings() -> None:
    x = tone()
    s16 = (x * 32767).astype("<i2").tobytes()
    f32 = x.astype("<f4").tobytes()
    a = decode_pcm(s16, sample_rate_hz=RATE, encoding="pcm_s16le", max_duration_s=10)
    b = decode_pcm(f32, sample_rate_hz=RATE, encoding="pcm_f32le", max_duration_s=10)
    assert np.allclose(a.samples, b.samples, atol=1e-3)
    stereo = np.repeat((x * 32767).astype("<i2"), 2).tobytes()
    c = decode_pcm(stereo, sample_rate_hz=RATE, channels=2, max_duration_s=10)
    assert np.allclose(c.samples, a.samples, atol=1e-4)


def _expect(data: bytes, *needles: str, max_duration_s: float = 10.0) -> str:
    with pytest.raises(InvalidArgument) as err:
        decode_audio(data, max_duration_s=max_duration_s)
    message = str(err.value)
    for needle in needles:
        assert needle in message, message
    assert "accepted" in message or "maximum" in message or "NaN" in message
    return message


def test_empty_bytes() -> None:
    _expect(b"", "empty")


def test_non_audio_bytes() -> None:
    _expect(b"this is not audio, it is a text file\n" * 10, "not a readable audio file")
    _expect(bytes(range(256)) * 4, "not a readable audio file")


def test_zero_length_audio() -> None:
    _expect(encode(np.zeros(0), RATE, "WAV", "PCM_16"), "zero-length")


def test_nan_and_inf_samples() -> None:
    x = tone()
    x[100] = np.nan
    _expect(encode(x, RATE, "WAV", "FLOAT"), "NaN or infinite")
    x[100] = np.inf
    _expect(encode(x, RATE, "WAV", "DOUBLE"), "NaN or infinite")


def test_unsupported_codec() -> None:
    # A RIFF/WAVE header declaring format tag 0x1234 (no such codec).
    fmt = struct.pack("<HHIIHH", 0x1234, 1, RATE, RATE * 2, 2, 16)
    data = b"\x00\x00" * 100
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    _expect(b"RIFF" + struct.pack("<I", len(riff)) + riff, "not a readable audio file")
    # MP4/AAC (not decodable here)
    _expect(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 64, "not a readable audio file")


def test_longer_than_the_maximum_is_rejected_from_the_header() -> None:
    message = _expect(encode(tone(3.0), RATE, "WAV", "PCM_16"), "3.0 s", "maximum is 2 s", max_duration_s=2.0)
    assert "limits.max_audio_s" in message


def test_truncated_file() -> None:
    data = encode(tone(1.0), RATE, "FLAC", "PCM_16")
    with pytest.raises(InvalidArgument):
        decode_audio(data[:60], max_duration_s=10)


@pytest.mark.parametrize("rate", [0, 100, 1_000_000])
def test_absurd_sample_rates(rate: int) -> None:
    with pytest.raises(InvalidArgument, match="sample_rate_hz"):
        decode_pcm(b"\x00\x00" * 100, sample_rate_hz=rate, max_duration_s=10)


def test_pcm_bad_encoding_and_partial_frames() -> None:
    with pytest.raises(InvalidArgument, match="accepted: pcm_s16le, pcm_f32le"):
        decode_pcm(b"\x00\x00", sample_rate_hz=RATE, encoding="mp3", max_duration_s=10)
    with pytest.raises(InvalidArgument, match="whole number"):
        decode_pcm(b"\x00\x00\x00", sample_rate_hz=RATE, max_duration_s=10)
    with pytest.raises(InvalidArgument, match="zero-length"):
        decode_pcm(b"", sample_rate_hz=RATE, max_duration_s=10)
