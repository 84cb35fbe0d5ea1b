"""Recording conditions for the robustness matrix: deterministic degradations of a 16 kHz clip.

Each condition turns clean 16 kHz float samples into the encoded bytes a game would hand over
(WAV at another rate or depth, MP3, OGG), so the whole decode path is exercised. Same clip + same
condition -> same bytes (the noise and reverb generators are seeded from the clip's name).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfilt

from mien.audio import resample

RATE = 16000
Condition = Callable[[np.ndarray, "Context"], bytes]


@dataclass(frozen=True)
class Context:
    """What a condition may use besides the clip: a seed and other speakers' speech for babble."""

    seed: int
    babble: Sequence[np.ndarray]


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def wav(x: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def encoded(x: np.ndarray, rate: int, fmt: str, subtype: str, level: float) -> bytes:
    """MP3 / OGG bytes; ``level`` is libsndfile's compression level (0 = best quality, 1 = smallest)."""
    buf = io.BytesIO()
    kwargs = {"bitrate_mode": "CONSTANT"} if fmt == "MP3" else {}
    sf.write(buf, np.clip(x, -1.0, 1.0), rate, format=fmt, subtype=subtype, compression_level=level, **kwargs)
    return buf.getvalue()


def speech_rms(x: np.ndarray) -> float:
    """RMS over the louder half of the 20 ms frames (the speech, not the pauses)."""
    hop = 320
    n = len(x) // hop
    if n == 0:
        return float(np.sqrt(np.mean(x ** 2) + 1e-12))
    power = (x[: n * hop].reshape(n, hop) ** 2).mean(1)
    return float(np.sqrt(np.mean(np.sort(power)[n // 2:]) + 1e-12))


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = noise[: len(x)]
    gain = speech_rms(x) / (np.sqrt(np.mean(noise ** 2)) + 1e-12) / (10 ** (snr_db / 20))
    y = x + gain * noise
    peak = np.max(np.abs(y))
    return y / peak * 0.95 if peak > 0.95 else y


def bandpass(x: np.ndarray, lo_hz: float, hi_hz: float, rate: int = RATE, order: int = 6) -> np.ndarray:
    return sosfilt(butter(order, [lo_hz, hi_hz], btype="bandpass", fs=rate, output="sos"), x)


def peak_to(x: np.ndarray, dbfs: float) -> np.ndarray:
    return x * (10 ** (dbfs / 20) / (np.max(np.abs(x)) + 1e-12))


def telephone(x: np.ndarray, ctx: Context) -> bytes:
    """300-3400 Hz, 8 kHz, G.711 mu-law (what a phone line or a VoIP call carries)."""
    y = resample(bandpass(x, 300, 3400).astype(np.float32), RATE, 8000)
    return wav(peak_to(y, -3), 8000, "ULAW")


def radio(x: np.ndarray, ctx: Context) -> bytes:
    """Walkie-talkie: 500-2800 Hz, heavy compression (tanh drive), clipped, a little hiss."""
    y = bandpass(x, 500, 2800)
    y = np.tanh(6.0 * y / (np.max(np.abs(y)) + 1e-12)) / np.tanh(6.0)
    y = np.clip(1.3 * y, -0.8, 0.8)
    rng = np.random.default_rng(ctx.seed)
    y = add_noise(y, bandpass(rng.standard_normal(len(y)), 500, 2800), 30.0)
    return wav(y)


def rate(target_hz: int, subtype: str = "PCM_16") -> Condition:
    def condition(x: np.ndarray, ctx: Context) -> bytes:
        y = resample(x.astype(np.float32), RATE, target_hz)
        return wav(peak_to(y, -1) if subtype == "PCM_U8" else y, target_hz, subtype)

    return condition


def codec(fmt: str, kbps: int) -> Condition:
    """MP3 (constant bit rate) or OGG Vorbis of a 22.05 kHz version of the clip (a typical game asset)."""
    subtype = "MPEG_LAYER_III" if fmt == "MP3" else "VORBIS"
    # libsndfile maps the compression level onto the encoder's bit rates; the level whose measured bit rate
    # is closest to the one named is found once, on the first clip (CBR MP3 does not depend on the clip).
    chosen: list[float] = []

    def condition(x: np.ndarray, ctx: Context) -> bytes:
        y = resample(x.astype(np.float32), RATE, 22050)
        if not chosen:
            duration = len(y) / 22050
            levels = np.linspace(0.0, 0.975, 40)
            rates = [len(encoded(y, 22050, fmt, subtype, float(v))) * 8 / 1000 / duration for v in levels]
            chosen.append(float(levels[int(np.argmin(np.abs(np.asarray(rates) - kbps)))]))
        return encoded(y, 22050, fmt, subtype, chosen[0])

    return condition


def white(snr_db: float) -> Condition:
    def condition(x: np.ndarray, ctx: Context) -> bytes:
        return wav(add_noise(x, np.random.default_rng(ctx.seed).standard_normal(len(x)), snr_db))

    return condition


def babble(snr_db: float, talkers: int = 6) -> Condition:
    """Other speakers talking at once (a crowd), from a different set of clips than the one measured."""
    def condition(x: np.ndarray, ctx: Context) -> bytes:
        rng = np.random.default_rng(ctx.seed)
        noise = np.zeros(len(x))
        for k in rng.choice(len(ctx.babble), size=min(talkers, len(ctx.babble)), replace=False):
            src = np.tile(ctx.babble[int(k)], int(np.ceil(len(x) / max(1, len(ctx.babble[int(k)])))) + 1)
            off = int(rng.integers(0, max(1, len(src) - len(x))))
            part = src[off:off + len(x)]
            noise += part / (np.sqrt(np.mean(part ** 2)) + 1e-9)
        return wav(add_noise(x, noise, snr_db))

    return condition


def room_impulse_response(rt60_s: float, rng: np.random.Generator, rate_hz: int = RATE) -> np.ndarray:
    """Exponentially decaying noise (60 dB in ``rt60_s``) after a direct path and a few early reflections."""
    n = int(rt60_s * rate_hz * 1.2)
    t = np.arange(n) / rate_hz
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    tail[: int(0.005 * rate_hz)] = 0.0
    h = 0.3 * tail / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    h[0] = 1.0
    for delay_s, g in ((0.007, 0.5), (0.013, 0.35), (0.021, 0.25)):
        h[int(delay_s * rate_hz)] += g * (1 if rng.random() < 0.5 else -1)
    return h


def reverb(rt60_s: float) -> Condition:
    def condition(x: np.ndarray, ctx: Context) -> bytes:
        h = room_impulse_response(rt60_s, np.random.default_rng(ctx.seed))
        y = fftconvolve(x, h)[: len(x)]
        return wav(peak_to(y, -1))

    return condition


def level(dbfs: float) -> Condition:
    def condition(x: np.ndarray, ctx: Context) -> bytes:
        return wav(peak_to(x, dbfs))

    return condition


def clipped(x: np.ndarray, ctx: Context) -> bytes:
    """+14 dB into a hard limit at full scale (a clipped recording)."""
    return wav(np.clip(peak_to(x, -1) * 10 ** (14 / 20), -1.0, 1.0))


CONDITIONS: dict[str, Condition] = {
    "clean 16 kHz": lambda x, ctx: wav(x),
    "telephone 300-3400 Hz, 8 kHz mu-law": telephone,
    "radio (band-pass, compressed, clipped)": radio,
    "11.025 kHz source": rate(11025),
    "11.025 kHz 8-bit (old game audio)": rate(11025, "PCM_U8"),
    "22.05 kHz source": rate(22050),
    "44.1 kHz source": rate(44100),
    "48 kHz source": rate(48000),
    "MP3 32 kbps": codec("MP3", 32),
    "MP3 64 kbps": codec("MP3", 64),
    "OGG Vorbis 32 kbps": codec("OGG", 32),
    "OGG Vorbis 64 kbps": codec("OGG", 64),
    "white noise 20 dB SNR": white(20),
    "white noise 10 dB SNR": white(10),
    "babble 20 dB SNR": babble(20),
    "babble 10 dB SNR": babble(10),
    "reverb RT60 0.3 s": reverb(0.3),
    "reverb RT60 0.8 s": reverb(0.8),
    "level -40 dBFS peak": level(-40),
    "level -20 dBFS peak": level(-20),
    "level -1 dBFS peak": level(-1),
    "clipped (+14 dB)": clipped,
}
