"""Stage 5c, head: rigid head motion from prosody, decided causally frame by frame.

What moves the head (the findings it follows):

* **Pitch accents** bring a downward nod (Graf, Cosatto, Strom & Huang 2002, "Visual prosody:
  facial movements accompanying speech": nods and brow raises fall on pitch-accented syllables;
  head rotations of a few degrees). A nod is a smooth down-and-back bump of 0.4 s whose depth
  grows with the accent's height above the speaker's F0.
* **F0 and loudness** lift the head a little while they are high (Munhall et al. 2004, "Visual
  prosody and speech intelligibility": head motion correlates with F0 and RMS amplitude;
  Busso et al. 2007 use prosody to synthesise rigid head motion).
* **Phrase boundaries**: at the end of a phrase the head takes a new tilt and turn and then holds
  still through the pause (Hadar et al. 1983, "Head movement during listening turns in
  conversation": speakers' heads are almost still in pauses and move at speech onsets).
* **Emotion**: motion is larger with arousal (Busso et al. 2007: angry and happy heads move more,
  sad ones less); dominance and valence set the posture (chin up when dominant or happy, down
  when sad or afraid).
* **Listening** (idle tracks, no audio): slow small sway and occasional back-channel nods every
  few seconds (Hadar et al.; listeners nod to acknowledge).

All of it is causal: frame ``k`` (at ``k / fps`` s) uses only the audio before that instant and
the emotion up to that frame, so the head adds no look-ahead; the stream sends a frame when its
model look-ahead has arrived, and the head needs nothing more. Audio features are computed per
10 ms hop (F0: YIN on the 40 ms before the hop at 8 kHz) and per frame (level: the 30 ms before
the frame), each from its own window only, so a line rendered whole and the same audio streamed
in any chunking give bit-identical angles for the same seed. The spring that smooths the head
is solved exactly per frame (critically damped, stable at any frame rate).

Output: ``headYaw_deg`` (> 0 turns the face toward the character's own left), ``headPitch_deg``
(> 0 chin up) and ``headRoll_deg`` (> 0 tilts the top of the head toward the character's own left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .audio import INTERNAL_SAMPLE_RATE_HZ
from .channels import HEAD_ROTATION_LIMITS_DEG, INDEX

__all__ = ["HeadConfig", "HeadMotion", "STREAM_HEAD"]

STREAM_HEAD = 4
"""The head's random stream (see :func:`mien.eyes.rng_for`): switching other layers off does not change it."""

_RATE = INTERNAL_SAMPLE_RATE_HZ
_HOP = _RATE // 100  # 10 ms at 16 kHz
_LEVEL_WIN = int(0.03 * _RATE)  # the 30 ms before a frame
# YIN at 8 kHz on the 40 ms before each hop (as mien.prosody does for whole lines)
_YIN_RATE = 8000
_YIN_WIN = 320
_YIN_MAX_LAG = int(_YIN_RATE / 60.0)  # 60 Hz
_YIN_MIN_LAG = int(_YIN_RATE / 400.0)  # 400 Hz
_YIN_HALF = _YIN_WIN - _YIN_MAX_LAG
_YIN_THRESHOLD = 0.15
_YIN_BLOCK = 32  # hops per vectorised block (bounded memory)
_ROWS_PER_PASS = 2048  # hop or frame windows gathered at once (each row on its own: the result is the same)
_VOICED_DB = -50.0  # a hop quieter than this is not voiced
_ACCENT_SEMITONES = 1.0  # an accent stands out from the speaker's running reference (Ladd: ~1.5 st above the median)
_ACCENT_GAP_S = 0.25
_HANGOVER_S = 0.2  # silence this long ends a phrase
_YIN_LAGS = np.arange(_YIN_MAX_LAG + 1)
_YIN_FFT = 512  # >= _YIN_WIN + _YIN_HALF - 1: the correlation by FFT does not wrap around
_LEVEL_OFFSETS = np.arange(-_LEVEL_WIN, 0)
_YIN_EVEN = np.arange(0, 2 * _YIN_WIN, 2)[None, :]  # the first of each pair of 16 kHz samples
_YIN_SEARCH_POS = np.arange(_YIN_MAX_LAG + 1 - _YIN_MIN_LAG)[None, :]


@dataclass(frozen=True)
class HeadConfig:
    """Head-motion amplitudes and timing (validated by :mod:`mien.config`)."""

    nod_deg: float = 2.5
    """Depth of the nod on a pitch accent of strength 1 (degrees, chin down)."""
    nod_duration_s: float = 0.4
    sway_deg: float = 1.2
    """Spread of the slow sway while speaking (yaw and roll; pitch half of it)."""
    sway_time_s: float = 1.2
    """Correlation time of the sway."""
    pitch_per_semitone_deg: float = 0.1
    """Chin up per semitone of F0 above the speaker's running median (while voiced)."""
    pitch_per_db_deg: float = 0.05
    """Chin up per dB of loudness above the running speech level."""
    phrase_tilt_deg: float = 2.0
    """Spread of the new tilt and turn taken at each phrase end (held through the pause)."""
    arousal_gain: float = 0.5
    """Amplitudes times (1 + arousal_gain x arousal), arousal in -1..1."""
    posture_per_dominance_deg: float = 3.0
    posture_per_valence_deg: float = 1.5
    settle_s: float = 0.15
    """Time constant of the head's (critically damped) response."""
    breathing_deg: float = 0.08
    """Amplitude of the slow breathing motion (pitch), always on."""
    listening_nod_interval_s: float = 4.0
    """Mean time between back-channel nods on idle (listening) tracks."""
    listening_nod_deg: float = 2.0
    listening_sway_deg: float = 0.6


class _Spring:
    """Critically damped second-order follower, solved exactly over each step."""

    __slots__ = ("v", "x")

    def __init__(self) -> None:
        self.x = 0.0
        self.v = 0.0

    def step(self, target: float, omega: float, dt: float) -> float:
        c1 = self.x - target
        c2 = self.v + omega * c1
        decay = math.exp(-omega * dt)
        self.x = target + (c1 + c2 * dt) * decay
        self.v = (c2 - omega * (c1 + c2 * dt)) * decay
        return self.x


class HeadMotion:
    """Head yaw/pitch/roll of one line or stream.

    Feed the audio (16 kHz mono float) with :meth:`feed` as it arrives, then :meth:`render` frames
    in order; a frame needs the audio up to its own time. ``listening=True`` (idle tracks, no audio)
    gives the listener's sway and back-channel nods instead.
    """

    def __init__(self, seed: int, fps: float, config: HeadConfig | None = None, *,
                 scale: float = 1.0, listening: bool = False) -> None:
        # two random streams: per-frame noise (drawn in frame order) and events (drawn as they happen),
        # so how frames are grouped into batches cannot change which number goes where
        self.rng = np.random.default_rng([seed, STREAM_HEAD, 0])
        self._noise_rng = np.random.default_rng([seed, STREAM_HEAD, 1])
        rng = self.rng
        self.fps = fps
        self.config = config or HeadConfig()
        self.scale = scale
        self.listening = listening
        self.frame = 0  # next frame to render
        self._audio = np.zeros(0, dtype=np.float64)
        self._first = 0  # sample index of _audio[0]
        self._received = 0  # samples fed so far
        self._hop = 1  # next 10 ms hop to analyse (hop h covers the 40 ms before h * 10 ms)
        # pitch-accent detector
        self._semis: list[float] = []  # last 5 hops, nan = unvoiced
        self._median_log = math.nan  # running speaker reference, log2(F0)
        self._voiced_hops = 0
        self._last_accent_s = -1e9
        self._nods: list[tuple[float, float, float]] = []  # (start s, depth deg, duration s)
        self._gain = 1.0  # amplitude at the current frame (scale x arousal)
        self._f0_term = 0.0  # semitones above the reference, smoothed
        # speech activity
        self._floor_db = -60.0
        self._speech_db = -30.0  # running level of speech
        self._speaking = False
        self._last_loud = -1
        # motion state
        self._sway = [0.0, 0.0, 0.0]
        self._phrase = [0.0, 0.0]  # yaw, roll held after a phrase end
        self._springs = (_Spring(), _Spring(), _Spring())
        self._next_listen_nod_s = float(rng.exponential(self.config.listening_nod_interval_s)) + 1.0
        self._breath_phase = float(rng.uniform(0.0, 2.0 * math.pi))

    # ------------------------------------------------------------------ input
    def feed(self, samples: np.ndarray) -> None:
        """Append audio at 16 kHz (the internal rate)."""
        if len(samples):
            self._audio = np.concatenate([self._audio, np.asarray(samples, dtype=np.float64)])
            self._received += len(samples)

    # ------------------------------------------------------------------ output
    def render(self, values: np.ndarray, first_frame: int, vad: np.ndarray) -> None:
        """Write the head angles of frames first_frame .. first_frame + len(values) - 1 into ``values``
        (frames x CHANNELS); ``vad`` is each frame's valence, arousal, dominance (frames x 3)."""
        if first_frame != self.frame:
            raise ValueError(f"head: frame {first_frame} requested, next is {self.frame}")
        n = len(values)
        self.frame += n
        if self.scale <= 0 or n == 0:
            return
        frames = first_frame + np.arange(n)
        ends = np.round(frames * (_RATE / self.fps)).astype(np.int64)  # sample index of each frame's time
        if not self.listening and len(ends) and ends[-1] > self._received:
            raise ValueError(f"head: frame {frames[-1]} needs audio to sample {ends[-1]}, have {self._received}")
        levels = self._levels(ends) if not self.listening else np.full(n, -120.0)
        if self.listening:
            hop_f0 = np.zeros(0)
        else:
            hop_f0, _hop_db = self._analyse_hops(int(ends[-1]) // _HOP)
        hop_ends = (self._hop - len(hop_f0) + np.arange(len(hop_f0))) * _HOP  # sample index where each hop ends
        angles = self._dynamics(frames, ends, levels, hop_ends, hop_f0, vad)
        for j, name in enumerate(("headYaw_deg", "headPitch_deg", "headRoll_deg")):
            lo, hi = HEAD_ROTATION_LIMITS_DEG[name]
            values[:, INDEX[name]] = np.minimum(np.maximum(angles[:, j], lo), hi)
        self._trim(int(ends[-1]))

    # ------------------------------------------------------------ audio features
    def _window(self, start: int, length: int) -> np.ndarray:
        """Samples [start, start + length) (zeros before the audio began)."""
        lo = start - self._first
        if lo >= 0:
            return self._audio[lo:lo + length]
        return np.concatenate([np.zeros(min(-lo, length)), self._audio[:max(0, lo + length)]])

    def _levels(self, ends: np.ndarray) -> np.ndarray:
        """dBFS of the 30 ms before each frame (each frame's mean square over its own window only)."""
        lo = int(ends[0]) - _LEVEL_WIN
        segment = self._window(lo, int(ends[-1]) - lo)
        out = np.empty(len(ends))
        for s in range(0, len(ends), _ROWS_PER_PASS):  # a whole line's windows at once would be ~100 MB
            rows = segment[(ends[s:s + _ROWS_PER_PASS] - lo)[:, None] + _LEVEL_OFFSETS]
            out[s:s + _ROWS_PER_PASS] = 10.0 * np.log10(np.add.reduce(rows * rows, axis=1) / _LEVEL_WIN + 1e-12)
        return out

    def _analyse_hops(self, last_hop: int) -> tuple[np.ndarray, np.ndarray]:
        """F0 (Hz, 0 = unvoiced) and level (dBFS) of hops self._hop .. last_hop (hop h ends at h x 10 ms)."""
        hops = np.arange(self._hop, last_hop + 1)
        self._hop = last_hop + 1
        if len(hops) == 0:
            return np.zeros(0), np.zeros(0)
        win16 = 2 * _YIN_WIN
        lo = int(hops[0]) * _HOP - win16
        segment = self._window(lo, int(hops[-1]) * _HOP - lo)
        f0 = np.zeros(len(hops))
        db = np.empty(len(hops))
        for first in range(0, len(hops), _ROWS_PER_PASS):  # a whole line's rows at once would be ~300 MB
            count = min(_ROWS_PER_PASS, len(hops) - first)
            even = ((first + np.arange(count)) * _HOP)[:, None] + _YIN_EVEN  # hop h: the 40 ms before h x 10 ms
            rows = 0.5 * (segment[even] + segment[even + 1])  # 8 kHz, a pairwise mean as in mien.prosody
            part = 10.0 * np.log10(np.add.reduce(rows * rows, axis=1) / _YIN_WIN + 1e-12)  # = the mean, bit for bit
            db[first:first + count] = part
            loud = np.flatnonzero(part >= _VOICED_DB)  # a quieter hop is unvoiced: no pitch search
            for s in range(0, len(loud), _YIN_BLOCK):
                block = loud[s:s + _YIN_BLOCK]
                f0[first + block] = _yin(rows[block])
        return f0, db

    # ---------------------------------------------------------------- dynamics
    def _dynamics(self, frames: np.ndarray, ends: np.ndarray, levels: np.ndarray, hop_ends: np.ndarray,
                  hop_f0: np.ndarray, vad: np.ndarray) -> np.ndarray:
        # one pass per frame over Python floats (the per-frame state is sequential); numpy arrays become lists
        # first: indexing a numpy array per element costs more than the arithmetic
        c = self.config
        dt = 1.0 / self.fps
        omega = 1.0 / c.settle_s
        decay = math.exp(-omega * dt)  # the springs' step (one value: the frame step is constant)
        noise = self._noise_rng.standard_normal((len(frames), 3)).tolist()  # three per frame, in frame order
        sway_decay = math.exp(-dt / c.sway_time_s)
        sway_kick = math.sqrt(1.0 - sway_decay * sway_decay)
        f0_alpha = 1.0 - math.exp(-dt / 0.15)
        breath_amp = self.scale * c.breathing_deg
        breath_rate = 2.0 * math.pi * 0.25
        posture_d, posture_v = c.posture_per_dominance_deg, c.posture_per_valence_deg
        per_semitone, per_db = c.pitch_per_semitone_deg, c.pitch_per_db_deg
        sway = self._sway
        springs = self._springs
        state = [springs[0].x, springs[0].v, springs[1].x, springs[1].v, springs[2].x, springs[2].v]
        hop_list, f0_list = hop_ends.tolist(), hop_f0.tolist()
        n_hops = len(hop_list)
        out = []
        h = 0
        for frame, end, level, (valence, arousal, dominance), kicks in zip(
                frames.tolist(), ends.tolist(), levels.tolist(), vad.tolist(), noise, strict=True):
            now = frame * dt
            gain = self.scale * min(1.5, max(0.5, 1.0 + c.arousal_gain * arousal))
            self._gain = gain
            while h < n_hops and hop_list[h] <= end:  # the hops that ended by this frame
                self._hop_step(hop_list[h] / _RATE, f0_list[h])
                h += 1
            if self.listening:
                speak = 0.0
                self._listening_nods(now)
                sway_amp = c.listening_sway_deg
                active = 1.0
            else:
                speak = self._activity_step(level, frame)
                sway_amp = c.sway_deg
                active = speak
            # sway: an Ornstein-Uhlenbeck walk that moves only while speaking (held in pauses)
            if active > 0.0:
                keep = 1.0 - active * (1.0 - sway_decay)
                kick = math.sqrt(active) * sway_kick * sway_amp
                for j in range(3):
                    sway[j] = keep * sway[j] + kick * kicks[j]
            voiced_target = self._f0_semitones() if speak > 0.5 else 0.0
            self._f0_term += f0_alpha * (voiced_target - self._f0_term)
            loud = max(0.0, level - self._speech_db) * speak if not self.listening else 0.0
            posture = posture_d * dominance + posture_v * valence
            targets = (gain * (sway[0] + self._phrase[0]),
                       self.scale * posture + gain * (0.5 * sway[1] + per_semitone * self._f0_term
                                                      + per_db * min(loud, 12.0)),
                       gain * (sway[2] + self._phrase[1]))
            angles = []
            for j in range(3):  # critically damped springs (_Spring.step), solved exactly over the frame
                x, v = state[2 * j], state[2 * j + 1]
                c1 = x - targets[j]
                c2 = v + omega * c1
                x = targets[j] + (c1 + c2 * dt) * decay
                state[2 * j], state[2 * j + 1] = x, (c2 - omega * (c1 + c2 * dt)) * decay
                angles.append(x)
            pitch = angles[1]
            if self._nods:
                pitch -= self._nod_depth(now)
            pitch += breath_amp * math.sin(breath_rate * now + self._breath_phase)
            out.append((angles[0], pitch, angles[2]))
        for j in range(3):
            springs[j].x, springs[j].v = state[2 * j], state[2 * j + 1]
        return np.array(out, dtype=np.float64).reshape(len(frames), 3)

    def _activity_step(self, level_db: float, frame: int) -> float:
        """Causal speech activity (1 speaking, 0 not); a phrase end takes a new held tilt."""
        self._floor_db = min(level_db, self._floor_db + 3.0 / self.fps)
        if level_db > max(self._floor_db + 12.0, -55.0):
            if not self._speaking:
                self._speech_db = max(self._speech_db, level_db - 6.0)
            self._speaking = True
            self._last_loud = frame
            self._speech_db += (1.0 - math.exp(-1.0 / (2.0 * self.fps))) * (level_db - self._speech_db)
        elif self._speaking and (frame - self._last_loud) / self.fps >= _HANGOVER_S:
            self._speaking = False
            spread = self.config.phrase_tilt_deg
            self._phrase = [float(self.rng.normal(0.0, spread)), float(self.rng.normal(0.0, spread))]
        return 1.0 if self._speaking else 0.0

    def _hop_step(self, time_s: float, f0: float) -> None:
        """One 10 ms hop of the pitch-accent detector: a voiced local F0 peak 1.5 semitones above the
        running reference, confirmed two hops later (no look-ahead: the nod starts when it is known)."""
        semis = math.nan
        if f0 > 0:
            log_f0 = math.log2(f0)
            self._voiced_hops += 1
            if math.isnan(self._median_log):
                self._median_log = log_f0
            else:  # a slow running reference (about 3 s of voicing), quicker while it settles
                rate = max(1.0 / self._voiced_hops, 1.0 / 300.0)
                self._median_log += rate * (log_f0 - self._median_log)
            semis = 12.0 * (log_f0 - self._median_log)
        self._semis.append(semis)
        if len(self._semis) > 5:
            self._semis.pop(0)
        window = self._semis
        if len(window) == 5 and self._voiced_hops >= 10 and not any(math.isnan(s) for s in window):
            peak = window[2]
            if peak >= _ACCENT_SEMITONES and peak == max(window) and time_s - self._last_accent_s >= _ACCENT_GAP_S:
                self._last_accent_s = time_s
                strength = min(1.0, (peak - _ACCENT_SEMITONES) / 4.0 + 0.4)
                depth = self._gain * self.config.nod_deg * strength * float(self.rng.uniform(0.8, 1.2))
                self._nods.append((time_s, depth, self.config.nod_duration_s))

    def _f0_semitones(self) -> float:
        last = self._semis[-1] if self._semis else math.nan
        return 0.0 if math.isnan(last) else max(-4.0, min(4.0, last))

    def _listening_nods(self, now: float) -> None:
        c = self.config
        while self._next_listen_nod_s <= now:
            depth = self._gain * c.listening_nod_deg * float(self.rng.uniform(0.6, 1.2))
            self._nods.append((self._next_listen_nod_s, depth, float(self.rng.uniform(0.5, 0.8))))
            self._next_listen_nod_s += max(1.0, float(self.rng.exponential(c.listening_nod_interval_s)))

    def _nod_depth(self, now: float) -> float:
        """Sum of the active nods at ``now`` (sin^2 bumps: down, then back)."""
        total = 0.0
        keep = []
        for start, depth, duration in self._nods:
            u = (now - start) / duration
            if u < 1.0:
                keep.append((start, depth, duration))
                if u > 0.0:
                    total += depth * math.sin(math.pi * u) ** 2
        self._nods = keep
        return total

    def _trim(self, next_end: int) -> None:
        """Keep only the audio the next windows can need."""
        keep_from = next_end - 2 * _YIN_WIN - 2 * _HOP
        if keep_from - self._first > _RATE:
            self._audio = self._audio[keep_from - self._first:]
            self._first = keep_from


def _yin(rows: np.ndarray) -> np.ndarray:
    """YIN F0 (Hz, 0 = none) of each 40 ms row at 8 kHz; every row is computed on its own samples only
    (one FFT per row: numpy transforms the rows of a batch one by one), so the result does not depend on how
    hops are grouped.

    The difference function d(tau) = sum_j (x_j - x_{j+tau})^2 over the first ``_YIN_HALF`` samples is
    computed as e(0) + e(tau) - 2 r(tau): window energies from a cumulative sum of squares and the
    cross-correlation r by FFT (O(W log W) per row instead of O(W x lags))."""
    n = len(rows)
    if n == 0:
        return np.zeros(0)
    padded = np.zeros((2 * n, _YIN_FFT))  # the rows, then their first halves, zero-padded: one transform
    padded[:n, : rows.shape[1]] = rows
    padded[n:, :_YIN_HALF] = rows[:, :_YIN_HALF]
    spectra = np.fft.rfft(padded, axis=1)
    corr = np.fft.irfft(spectra[:n] * spectra[n:].conj(), _YIN_FFT, axis=1)[:, : _YIN_MAX_LAG + 1]
    energy = np.zeros((n, rows.shape[1] + 1))
    np.cumsum(rows * rows, axis=1, out=energy[:, 1:])
    window = energy[:, _YIN_HALF:_YIN_HALF + _YIN_MAX_LAG + 1] - energy[:, : _YIN_MAX_LAG + 1]  # e(tau)
    diff = np.maximum(window[:, :1] + window - 2.0 * corr, 0.0)
    diff[:, 0] = 0.0
    cum = np.cumsum(diff[:, 1:], axis=1) / _YIN_LAGS[1:]
    search = diff[:, _YIN_MIN_LAG:] / np.maximum(cum[:, _YIN_MIN_LAG - 1:], 1e-12)  # cmnd at the searched lags
    below = search < _YIN_THRESHOLD
    has = below.any(axis=1)
    if not has.any():
        return np.zeros(n)
    # the minimum of the first run of lags below the threshold (from its first lag to the first one above it)
    before = _YIN_SEARCH_POS < np.argmax(below, axis=1)[:, None]
    run = np.logical_and.accumulate(below | before, axis=1) & ~before
    dip = np.argmin(np.where(run, search, np.inf), axis=1)  # searched-lag index (lag = dip + _YIN_MIN_LAG)
    # parabolic interpolation over cmnd at lags dip - 1 .. dip + 1 (dip - 1 >= _YIN_MIN_LAG - 1 >= 1)
    cmnd = diff[:, _YIN_MIN_LAG - 1:] / np.maximum(cum[:, _YIN_MIN_LAG - 2:], 1e-12)
    r = np.arange(n)
    a_ = cmnd[r, dip]
    b_ = cmnd[r, dip + 1]
    c_ = cmnd[r, np.minimum(dip + 2, cmnd.shape[1] - 1)]
    denom = a_ - 2.0 * b_ + c_
    inner = (dip + _YIN_MIN_LAG < _YIN_MAX_LAG) & (np.abs(denom) > 1e-12)
    shift = np.where(inner, 0.5 * (a_ - c_) / np.where(inner, denom, 1.0), 0.0)
    dip = dip + _YIN_MIN_LAG
    return np.where(has, _YIN_RATE / (dip + shift), 0.0)
