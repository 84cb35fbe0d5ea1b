"""On-the-fly audio augmentation for float32 mono speech (numpy/scipy only, seeded).

Entry point: :func:`augment` ``(samples, sr, rng, *, strength=1.0, babble_sources=()) -> (samples,
time_scale)``.
``time_scale`` is the factor by which the clip got *longer* (tempo change): multiply every phone-timeline time
by it (:func:`scale_timeline`) to keep labels aligned.  All other transforms keep the timing; reverb and
filters are applied without delay compensation issues (zero-phase where it matters, see below) and the output
has exactly ``round(len(samples) * time_scale)`` samples.

Transforms (each applied with a probability that grows with ``strength``; parameters drawn from ``rng``):

* **tempo** — WSOLA-style overlap-add time stretch, factor 0.85–1.15 (pitch unchanged).  Changes
  ``time_scale``.
* **pitch shift** — ±3 semitones: resample by 2^(st/12) then time-stretch back to the original length (timing
  kept).
* **EQ** — 1–3 RBJ biquads: peaking (±9 dB, 150–6000 Hz, Q 0.5–2), low/high shelf (±8 dB), zero-phase.
* **reverb** — synthetic room impulse response: exponentially decaying noise with RT60 0.1–0.8 s (frequency
  dependent: faster high-frequency decay), 3–8 early reflections in the first 5–40 ms, direct path first;
  wet/dry mix 0.2–0.8.  Convolution keeps the direct path at t=0, so timing is kept.
* **noise** — additive noise at SNR 5–40 dB (strength lowers the range): white, pink (1/f), brown (1/f²), or
  babble (sum of 3–6 other clips from ``babble_sources``, random offsets) when given.
* **telephone** — 300–3400 Hz band-pass (4th-order Butterworth, zero-phase) + 8 kHz resample round-trip,
  optional 8-bit μ-law companding (G.711-like).
* **codec** — cheap lossy-codec artefact: STFT magnitude quantisation with random spectral holes above a
  cutoff 4–7 kHz (MP3-like "birdies"/band-limiting), no external encoder.
* **channel** — the channels game audio ships on (:func:`channel`): 8-bit PCM (unsigned, as in 1990s game
  voice acting) at 11.025 / 8 / 22.05 kHz, band-limiting by a round trip through 8 / 11.025 / 22.05 kHz, and
  real codecs through libsndfile (MP3, Ogg Vorbis, Opus at low bit rates; GSM 06.10, G.721 ADPCM and μ-law
  at 8 kHz), their delay removed so the timing is kept. With ``channel_p`` a fixed share of copies goes
  through one, so "narrow band" is not "unusual speaker".
* **gain** — −20..+6 dB; with probability 0.15 the gain is pushed up 6–18 dB and the result hard-clipped
  (clipping distortion), otherwise the output is bounded by a soft limiter at ±1.

Everything is deterministic for a given ``rng`` state; use ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

EPS = 1e-12
TELEPHONE_SR = 8000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
MU = 255.0
SNR_DB_RANGE = (5.0, 40.0)
GAIN_DB_RANGE = (-20.0, 6.0)
CLIP_BOOST_DB_RANGE = (6.0, 18.0)
RT60_RANGE_S = (0.1, 0.8)
TEMPO_RANGE = (0.85, 1.15)
PITCH_SEMITONES = 3.0
SEMITONES_PER_OCTAVE = 12.0
EQ_MIN_SAMPLES = 64


def _db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms(x: np.ndarray) -> float:
    """Root-mean-square level."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + EPS))


# --- noise -------------------------------------------------------------------------------------------------


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ∝ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    white = rng.standard_normal(n)
    if exponent == 0.0:
        return (white / rms(white)).astype(np.float32)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    spec *= f ** (-exponent / 2.0)
    out = np.fft.irfft(spec, n)
    return (out / rms(out)).astype(np.float32)


def babble_noise(n: int, rng: np.random.Generator, sources: Sequence[np.ndarray], talkers: int) -> np.ndarray:
    """Mix ``talkers`` random excerpts of ``sources`` (looped if short) at random levels; unit RMS."""
    if not sources:
        raise ValueError("babble needs at least one source clip")
    mix = np.zeros(n, np.float64)
    for _ in range(talkers):
        src = np.asarray(sources[int(rng.integers(len(sources)))], dtype=np.float64)
        if len(src) == 0:
            continue
        reps = int(np.ceil((n + len(src)) / len(src)))
        looped = np.tile(src, reps)
        off = int(rng.integers(len(src)))
        seg = looped[off : off + n]
        mix += seg / rms(seg) * _db_to_amp(float(rng.uniform(-6.0, 0.0)))
    return (mix / rms(mix)).astype(np.float32)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` scaled to the given SNR relative to the RMS of ``x``."""
    scale = rms(x) / (rms(noise) * _db_to_amp(snr_db))
    return (x + scale * noise[: len(x)]).astype(np.float32)


# --- filters -----------------------------------------------------------------------------------------------


def biquad(
    kind: str, f0: float, sr: int, gain_db: float = 0.0, q: float = 0.707
) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook biquad ``(b, a)``: ``peaking``, ``lowshelf`` or ``highshelf``."""
    a_gain = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * f0 / sr
    cos_w, sin_w = np.cos(w0), np.sin(w0)
    alpha = sin_w / (2.0 * q)
    if kind == "peaking":
        b = [1 + alpha * a_gain, -2 * cos_w, 1 - alpha * a_gain]
        a = [1 + alpha / a_gain, -2 * cos_w, 1 - alpha / a_gain]
    elif kind in ("lowshelf", "highshelf"):
        sq = 2.0 * np.sqrt(a_gain) * alpha
        sign = 1.0 if kind == "lowshelf" else -1.0
        b = [
            a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos_w + sq),
            sign * 2 * a_gain * ((a_gain - 1) - sign * (a_gain + 1) * cos_w),
            a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cos_w - sq),
        ]
        a = [
            (a_gain + 1) + sign * (a_gain - 1) * cos_w + sq,
            -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cos_w),
            (a_gain + 1) + sign * (a_gain - 1) * cos_w - sq,
        ]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    b_arr, a_arr = np.asarray(b, float), np.asarray(a, float)
    return b_arr / a_arr[0], a_arr / a_arr[0]


def random_eq(x: np.ndarray, sr: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """1–3 random peaking / shelving biquads, applied forward-backward (zero phase, so no delay).

    Forward-backward filtering squares the magnitude response, so each biquad is designed with half the drawn
    dB gain (peaking ±9 dB at 150–6000 Hz, Q 0.5–2; low shelf ±8 dB at 100–400 Hz; high shelf ±8 dB at 2–6
    kHz).
    """
    y = x.astype(np.float64)
    if len(y) <= EQ_MIN_SAMPLES:
        return x.astype(np.float32)
    top = min(6000.0, 0.45 * sr)
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["peaking", "peaking", "lowshelf", "highshelf"]))
        if kind == "peaking":
            f0 = float(np.exp(rng.uniform(np.log(150.0), np.log(top))))
            gain, q = float(rng.uniform(-9, 9)), float(rng.uniform(0.5, 2.0))
        elif kind == "lowshelf":
            f0, gain, q = float(rng.uniform(100, 400)), float(rng.uniform(-8, 8)), 0.707
        else:
            f0, gain, q = float(rng.uniform(2000, top)), float(rng.uniform(-8, 8)), 0.707
        b, a = biquad(kind, f0, sr, 0.5 * gain * strength, q)
        y = signal.filtfilt(b, a, y)
    return y.astype(np.float32)


def telephone(x: np.ndarray, sr: int, rng: np.random.Generator, mu_law: bool | None = None) -> np.ndarray:
    """Band-limit to 300–3400 Hz, resample to 8 kHz and back, optionally 8-bit μ-law quantise."""
    if sr <= 2 * TELEPHONE_BAND_HZ[1]:
        return x.astype(np.float32)
    sos = signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=sr, output="sos")
    y = signal.sosfiltfilt(sos, x.astype(np.float64))
    g = np.gcd(sr, TELEPHONE_SR)
    low = signal.resample_poly(y, TELEPHONE_SR // g, sr // g)
    if mu_law if mu_law is not None else rng.random() < 0.5:
        peak = max(float(np.max(np.abs(low))), EPS)
        comp = np.sign(low / peak) * np.log1p(MU * np.abs(low / peak)) / np.log1p(MU)
        q = np.round(comp * 127.0) / 127.0
        low = peak * np.sign(q) * ((1.0 + MU) ** np.abs(q) - 1.0) / MU
    back = signal.resample_poly(low, sr // g, TELEPHONE_SR // g)
    return _fit_length(back, len(x)).astype(np.float32)


# --- reverb ------------------------------------------------------------------------------------------------


def room_impulse_response(sr: int, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Synthetic RIR: unit direct path, sparse early reflections, then exponentially decaying filtered noise.

    The late tail's envelope decays 60 dB in ``rt60`` seconds; it is split into a low and a high band, the
    high
    band decaying 1.5–3× faster (air/wall absorption).  Normalised to unit energy of the direct path.
    """
    n = max(int(rt60 * 1.2 * sr), 16)
    t = np.arange(n) / sr
    h = np.zeros(n, np.float64)
    h[0] = 1.0
    for _ in range(int(rng.integers(3, 9))):
        idx = int(rng.uniform(0.005, 0.040) * sr)
        if idx < n:
            h[idx] += float(rng.uniform(0.2, 0.7)) * float(rng.choice([-1.0, 1.0]))
    onset = int(0.005 * sr)
    decay = np.log(1000.0) / rt60  # amplitude e^{-decay t}: -60 dB at rt60
    noise = rng.standard_normal(n)
    sos = signal.butter(2, 2000.0, btype="lowpass", fs=sr, output="sos")
    low = signal.sosfilt(sos, noise)
    high = noise - low
    hf_factor = float(rng.uniform(1.5, 3.0))
    tail = low * np.exp(-decay * t) + high * np.exp(-decay * hf_factor * t)
    tail[:onset] *= np.linspace(0.0, 1.0, onset)
    tail *= float(rng.uniform(0.15, 0.4)) / max(float(np.max(np.abs(tail))), EPS)
    h += tail
    return h


def reverb(x: np.ndarray, sr: int, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Convolve with :func:`room_impulse_response` (RT60 0.1–0.8 s) and mix with the dry signal."""
    rt60 = float(
        rng.uniform(RT60_RANGE_S[0], RT60_RANGE_S[0] + (RT60_RANGE_S[1] - RT60_RANGE_S[0]) * strength)
    )
    h = room_impulse_response(sr, rng, rt60)
    wet = signal.fftconvolve(x.astype(np.float64), h)[: len(x)]
    wet *= rms(x) / rms(wet)
    mix = float(rng.uniform(0.2, 0.8))
    return ((1.0 - mix) * x + mix * wet).astype(np.float32)


# --- time / pitch ------------------------------------------------------------------------------------------


def time_stretch(x: np.ndarray, sr: int, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """WSOLA time stretch: output length ``round(len(x) * factor)``, pitch unchanged.

    Hann windows of 30 ms with 50 % overlap are placed at output hop ``H``; each is taken from around input
    position ``t / factor``, shifted by up to ±10 ms to best match (cross-correlation) the waveform continuing
    the previous frame, which avoids phasiness.  ``rng`` is unused (kept for a uniform signature).
    """
    del rng
    n_out = round(len(x) * factor)
    win = int(0.030 * sr) // 2 * 2
    hop = win // 2
    tol = int(0.010 * sr)
    if len(x) < 2 * win or n_out < 2 * win:
        return _fit_length(signal.resample(x, max(n_out, 1)), n_out).astype(np.float32)
    w = np.hanning(win)
    xp = np.pad(x.astype(np.float64), (tol + win, tol + 2 * win))
    out = np.zeros(n_out + 2 * win)
    norm = np.zeros(n_out + 2 * win)
    prev_in = tol + win  # start of previous chosen input frame (in xp coordinates)
    for k, pos_out in enumerate(range(0, n_out + win, hop)):
        centre = tol + win + round(pos_out / factor)
        if k == 0:
            best = centre
        else:
            natural = prev_in + hop  # the continuation of the previous frame
            ref = xp[natural : natural + win]
            lo = max(centre - tol, 0)
            cand = xp[lo : centre + tol + win]
            if len(cand) < win or len(ref) < win:
                best = centre
            else:
                corr = signal.correlate(cand, ref, mode="valid")
                best = lo + int(np.argmax(corr))
        frame = xp[best : best + win]
        if len(frame) < win:
            frame = np.pad(frame, (0, win - len(frame)))
        out[pos_out : pos_out + win] += frame * w
        norm[pos_out : pos_out + win] += w
        prev_in = best
    y = out[:n_out] / np.maximum(norm[:n_out], 1e-3)
    return y.astype(np.float32)


def pitch_shift(x: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Shift pitch (and formants) by ``semitones`` keeping the duration: resample, then time-stretch back."""
    ratio = 2.0 ** (semitones / SEMITONES_PER_OCTAVE)
    n_res = max(round(len(x) / ratio), 1)
    resampled = signal.resample(x.astype(np.float64), n_res)  # played at sr: pitch × ratio, length / ratio
    return _fit_length(time_stretch(resampled.astype(np.float32), sr, len(x) / n_res), len(x))


# --- codec, gain -------------------------------------------------------------------------------------------


def codec_artifacts(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Cheap MP3-like damage: low-pass at 4–7 kHz, coarse STFT magnitude quantisation, spectral holes."""
    nper = 512
    if len(x) < nper:
        return x.astype(np.float32)
    _, _, z = signal.stft(x.astype(np.float64), fs=sr, nperseg=nper)
    freqs = np.fft.rfftfreq(nper, 1.0 / sr)
    cutoff = float(rng.uniform(4000.0, min(7000.0, 0.49 * sr)))
    z[freqs > cutoff, :] = 0.0
    mag, phase = np.abs(z), np.angle(z)
    step_db = float(rng.uniform(1.5, 4.0))
    mag_db = 20.0 * np.log10(mag + EPS)
    mag_q = 10.0 ** ((np.round(mag_db / step_db) * step_db) / 20.0)
    floor = np.max(mag) * _db_to_amp(-float(rng.uniform(35.0, 50.0)))
    holes = (rng.random(mag.shape) < 0.15) & (freqs[:, None] > 1500.0)
    mag_q[(mag_q < floor) | holes] = 0.0
    _, y = signal.istft(mag_q * np.exp(1j * phase), fs=sr, nperseg=nper)
    return _fit_length(y, len(x)).astype(np.float32)


CHANNELS = ("pcm8_11k", "pcm8_8k", "pcm8_22k", "band_8k", "band_11k", "band_22k", "mp3", "vorbis", "opus",
            "gsm", "adpcm", "ulaw")
"""The kinds of :func:`channel`."""


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    g = int(np.gcd(sr_in, sr_out))
    return np.asarray(signal.resample_poly(x.astype(np.float64), sr_out // g, sr_in // g))


def _codec(x: np.ndarray, sr: int, fmt: str, subtype: str, **kw: object) -> np.ndarray:
    """Encode and decode with libsndfile (in memory); the decoder's delay is found by cross-correlation and
    removed, so the result lines up with ``x`` sample for sample."""
    import io

    import soundfile as sf

    peak = max(float(np.max(np.abs(x))), EPS)
    buf = io.BytesIO()
    sf.write(buf, (x / peak * 0.9).astype(np.float32), sr, format=fmt, subtype=subtype, **kw)  # type: ignore[arg-type]
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float64")
    y = (y.mean(1) if y.ndim > 1 else y) * peak / 0.9
    n = min(len(x), len(y), sr)  # the first second is enough to find a codec delay
    if n > 64:
        corr = signal.correlate(y[: n + 4096], x[:n], mode="valid") if len(y) >= n + 4096 else None
        if corr is not None:
            lag = int(np.argmax(np.abs(corr[:4096])))
            y = y[lag:]
    return _fit_length(y, len(x))


def channel(x: np.ndarray, sr: int, rng: np.random.Generator, kind: str | None = None) -> tuple[np.ndarray, str]:
    """One transmission / storage channel (:data:`CHANNELS`, drawn when ``kind`` is None); timing kept."""
    kind = kind or str(rng.choice(CHANNELS))
    if kind.startswith("pcm8"):
        low = {"pcm8_11k": 11025, "pcm8_8k": 8000, "pcm8_22k": 22050}[kind]
        y = _resample(x, sr, low)
        peak = max(float(np.max(np.abs(y))), EPS)
        level = _db_to_amp(float(rng.uniform(-24.0, -1.0)))  # quiet recordings use few of the 256 steps
        q = np.round(np.clip(y / peak * level, -1.0, 1.0) * 127.0 + 128.0)  # unsigned 8-bit, 128 = silence
        y = (np.clip(q, 0, 255) - 128.0) / 127.0 * peak / level
        out = _resample(y, low, sr)
    elif kind.startswith("band"):
        low = {"band_8k": 8000, "band_11k": 11025, "band_22k": 22050}[kind]
        out = _resample(_resample(x, sr, low), low, sr) if low < sr else x.astype(np.float64)
    elif kind == "mp3":
        bitrate = float(rng.uniform(0.3, 0.9))  # libsndfile's compression level: 0 = best, 1 = smallest
        out = _codec(x, sr, "MP3", "MPEG_LAYER_III", compression_level=bitrate)
    elif kind == "vorbis":
        out = _codec(x, sr, "OGG", "VORBIS", compression_level=float(rng.uniform(0.4, 1.0)))
    elif kind == "opus":
        out = _codec(x, sr, "OGG", "OPUS", compression_level=float(rng.uniform(0.4, 1.0)))
    else:  # 8 kHz telephone codecs
        sub = {"gsm": "GSM610", "adpcm": "G721_32", "ulaw": "ULAW"}[kind]
        low = _resample(x, sr, TELEPHONE_SR)
        out = _resample(_codec(low, TELEPHONE_SR, "WAV", sub), TELEPHONE_SR, sr)
    return _fit_length(np.asarray(out), len(x)).astype(np.float32), kind


def apply_gain(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random gain; sometimes overdriven and hard-clipped, otherwise soft-limited into (-1, 1)."""
    lo, hi = GAIN_DB_RANGE
    gain_db = float(rng.uniform(lo * strength, hi * strength))
    if rng.random() < 0.15 * strength:
        peak = max(float(np.max(np.abs(x))), EPS)
        boost = float(rng.uniform(*CLIP_BOOST_DB_RANGE))
        return np.clip(x / peak * _db_to_amp(boost), -1.0, 1.0).astype(np.float32)
    return soft_limit(x * _db_to_amp(gain_db))


def soft_limit(x: np.ndarray, knee: float = 0.9) -> np.ndarray:
    """Identity below ``knee``; above it a tanh curve approaching 1 (never reaches it)."""
    y = np.asarray(x, np.float64)
    over = np.abs(y) > knee
    y = y.copy()
    y[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((np.abs(y[over]) - knee) / (1 - knee)))
    return y.astype(np.float32)


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


# --- entry point -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AugmentLog:
    """Names and parameters of the transforms applied (for debugging / manifests)."""

    steps: tuple[str, ...]


def augment(
    samples: np.ndarray,
    sr: int,
    rng: np.random.Generator,
    *,
    strength: float = 1.0,
    babble_sources: Sequence[np.ndarray] = (),
    log: list[str] | None = None,
    channel_p: float = 0.15,
) -> tuple[np.ndarray, float]:
    """Randomly augment one clip; return ``(float32 samples in [-1, 1], time_scale)``.

    ``strength`` in [0, 1] scales probabilities and parameter ranges (0 = only a ±0 dB gain, i.e. identity up
    to the soft limiter).  ``babble_sources`` are other clips (same ``sr``) used for babble noise.  ``log``,
    if
    given, receives one string per applied transform.  Apply ``time_scale`` to the phone timeline with
    :func:`scale_timeline`.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    x = np.nan_to_num(np.asarray(samples, dtype=np.float32).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    steps: list[str] = [] if log is None else log
    time_scale = 1.0

    def maybe(p: float, name: str, fn: Callable[[], np.ndarray]) -> None:
        nonlocal x
        if rng.random() < p * strength:
            x = fn()
            steps.append(name)

    if rng.random() < 0.4 * strength:
        lo, hi = TEMPO_RANGE
        factor = float(np.exp(rng.uniform(np.log(1 - (1 - lo) * strength), np.log(1 + (hi - 1) * strength))))
        x = time_stretch(x, sr, factor)
        time_scale = len(x) / max(len(samples), 1)
        steps.append(f"tempo x{factor:.3f}")
    st = float(rng.uniform(-PITCH_SEMITONES, PITCH_SEMITONES)) * strength
    maybe(0.3, f"pitch {st:+.2f} st", lambda: pitch_shift(x, sr, st))
    maybe(0.5, "eq", lambda: random_eq(x, sr, rng, strength))
    maybe(0.4, "reverb", lambda: reverb(x, sr, rng, strength))
    if rng.random() < 0.6 * strength:
        snr = float(
            rng.uniform(SNR_DB_RANGE[1] - (SNR_DB_RANGE[1] - SNR_DB_RANGE[0]) * strength, SNR_DB_RANGE[1])
        )
        kinds = ["white", "pink", "brown"] + (["babble", "babble"] if babble_sources else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "babble":
            noise = babble_noise(len(x), rng, babble_sources, int(rng.integers(3, 7)))
        else:
            noise = colored_noise(len(x), rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind])
        x = add_noise(x, noise, snr)
        steps.append(f"noise {kind} {snr:.1f} dB")
    maybe(0.15, "telephone", lambda: telephone(x, sr, rng))
    maybe(0.1, "codec", lambda: codec_artifacts(x, sr, rng))
    if strength > 0 and rng.random() < channel_p:
        x, kind = channel(x, sr, rng)
        steps.append(f"channel {kind}")
    x = apply_gain(x, rng, strength)
    steps.append("gain")
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(x, -1.0, 1.0).astype(np.float32), time_scale


def scale_timeline(
    phones: Sequence[tuple[float, float, str, str]], time_scale: float
) -> list[tuple[float, float, str, str]]:
    """Multiply start/end times by ``time_scale`` (the value returned by :func:`augment`)."""
    return [(s * time_scale, e * time_scale, p, w) for s, e, p, w in phones]
