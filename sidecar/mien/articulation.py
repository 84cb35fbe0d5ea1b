"""Stage 3, articulation: timed phones -> coarticulated mouth, jaw and tongue curves (ARKit-52).

The model is Cohen & Massaro's dominance-function coarticulation ("Modeling coarticulation in
synthetic visual speech", Models and Techniques in Computer Animation, 1993), on a small set
of articulatory parameters rather than on visemes:

* every phone segment i has, for each parameter p, a target T_ip and a dominance
  D_ip(t) = a_ip * exp(-max(0, |t - c_i| - h_i) / tau_ip), where c_i is the segment centre,
  h_i a plateau half-width (most of the segment) and tau_ip a time constant, longer before the
  centre (anticipation) than after it (carry-over);
* the parameter track is the dominance-weighted mean  p(t) = sum_i D_ip T_ip / sum_i D_ip.

So rounding for "oo" starts during the preceding consonants, bilabials (very high closure
dominance, short time constant) close the lips even when short, and silence (high dominance
for every parameter) brings the face to rest. As in JALI (Edwards et al., SIGGRAPH 2016), jaw
and lip opening scale with loudness. The face leads the audio by ``lead_ms`` (never lags).

Parameters: jaw (opening), closed (bilabial lip closure), open (lip opening beyond the jaw:
upper lip up / lower lip down), round (protrusion), funnel, spread (stretch), tuck (lower lip
to upper teeth, f/v), tongue (tip between the teeth, th), press (lips pressed, m/b/p).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .channels import INDEX
from .track import PhoneSegment

__all__ = ["PARAMETERS", "ArticulationConfig", "SpeechStyle", "articulate", "mouth_curves", "loudness_db"]

PARAMETERS: tuple[str, ...] = ("jaw", "closed", "open", "round", "funnel", "spread", "tuck", "tongue", "press")


@dataclass(frozen=True)
class ArticulationConfig:
    """Coarticulation tuning (validated by :mod:`mien.config`)."""

    lead_ms: float = 10.0
    """The face leads the audio by this much (visual speech precedes sound; never lag)."""
    anticipation_ms: float = 70.0
    """Time constant of a phone's influence before its centre."""
    carryover_ms: float = 50.0
    """Time constant after its centre."""
    loudness_gain_per_db: float = 0.015
    """Jaw and lip-opening gain per dB of loudness above the line's median speech level."""
    loudness_gain_range: tuple[float, float] = (0.75, 1.3)


@dataclass(frozen=True)
class SpeechStyle:
    """How emotion changes articulation, per frame (each array has one value per frame or is scalar).

    EMOTE (Danecek et al., SIGGRAPH Asia 2023) shows emotion changes the speech itself: anger
    articulates with a larger jaw and tenser lips, sadness with a smaller jaw and lax lips.
    """

    jaw_gain: np.ndarray | float = 1.0
    lip_gain: np.ndarray | float = 1.0
    press: np.ndarray | float = 0.0
    spread: np.ndarray | float = 0.0


# (target, dominance) per parameter. Unlisted parameters: target 0 with weak dominance, so the
# neighbours decide them (coarticulation).
_T = Mapping[str, tuple[float, float]]
_WEAK = 0.3
_VOWEL: dict[str, _T] = {
    "AA": {"jaw": (0.62, 1.5), "open": (0.35, 1.0), "spread": (0.1, 0.6)},
    "AE": {"jaw": (0.52, 1.5), "open": (0.4, 1.0), "spread": (0.35, 0.8)},
    "AH": {"jaw": (0.45, 1.2), "open": (0.3, 1.0)},
    "AO": {"jaw": (0.52, 1.5), "open": (0.3, 1.0), "round": (0.45, 1.0), "funnel": (0.35, 1.0)},
    "EH": {"jaw": (0.4, 1.2), "open": (0.35, 1.0), "spread": (0.35, 0.8)},
    "ER": {"jaw": (0.3, 1.0), "open": (0.28, 1.0), "round": (0.3, 0.8), "funnel": (0.3, 0.8)},
    "IH": {"jaw": (0.3, 1.0), "open": (0.32, 1.0), "spread": (0.4, 0.8)},
    "IY": {"jaw": (0.22, 1.0), "open": (0.35, 1.0), "spread": (0.6, 1.0)},
    "UH": {"jaw": (0.3, 1.0), "open": (0.2, 1.0), "round": (0.5, 1.2), "funnel": (0.35, 1.0)},
    "UW": {"jaw": (0.22, 1.0), "open": (0.15, 1.0), "round": (0.85, 2.0), "funnel": (0.35, 1.0)},
    "OW": {"jaw": (0.42, 1.2), "open": (0.25, 1.0), "round": (0.55, 1.5), "funnel": (0.45, 1.2)},
}
_DIPHTHONGS = {"AW": ("AA", "UW"), "AY": ("AA", "IY"), "EY": ("EH", "IY"), "OY": ("AO", "IY"), "OW": ("OW", "UW")}
_CONSONANT: dict[str, _T] = {
    "P": {"closed": (1.0, 60.0), "jaw": (0.08, 0.8), "open": (0.0, 6.0), "press": (0.35, 3.0)},
    "B": {"closed": (1.0, 60.0), "jaw": (0.08, 0.8), "open": (0.0, 6.0), "press": (0.25, 3.0)},
    "M": {"closed": (1.0, 60.0), "jaw": (0.06, 0.8), "open": (0.0, 6.0), "press": (0.4, 3.0)},
    "F": {"tuck": (1.0, 12.0), "jaw": (0.1, 1.0), "open": (0.12, 2.0), "round": (0.0, 1.0)},
    "V": {"tuck": (1.0, 12.0), "jaw": (0.1, 1.0), "open": (0.12, 2.0), "round": (0.0, 1.0)},
    "TH": {"tongue": (0.55, 6.0), "jaw": (0.16, 1.0), "open": (0.22, 1.0)},
    "DH": {"tongue": (0.45, 6.0), "jaw": (0.15, 1.0), "open": (0.2, 1.0)},
    "T": {"jaw": (0.14, 0.8), "open": (0.22, 0.6)},
    "D": {"jaw": (0.15, 0.8), "open": (0.22, 0.6)},
    "N": {"jaw": (0.14, 0.8), "open": (0.2, 0.6)},
    "L": {"jaw": (0.2, 0.8), "open": (0.22, 0.6), "tongue": (0.08, 1.0)},
    "S": {"jaw": (0.08, 2.0), "open": (0.28, 1.0), "spread": (0.3, 1.0)},
    "Z": {"jaw": (0.08, 2.0), "open": (0.26, 1.0), "spread": (0.25, 1.0)},
    "SH": {"jaw": (0.1, 1.5), "open": (0.3, 1.0), "funnel": (0.6, 3.0), "round": (0.3, 1.5)},
    "ZH": {"jaw": (0.1, 1.5), "open": (0.3, 1.0), "funnel": (0.6, 3.0), "round": (0.3, 1.5)},
    "CH": {"jaw": (0.12, 1.5), "open": (0.28, 1.0), "funnel": (0.55, 3.0), "round": (0.25, 1.5)},
    "JH": {"jaw": (0.12, 1.5), "open": (0.28, 1.0), "funnel": (0.55, 3.0), "round": (0.25, 1.5)},
    "K": {"jaw": (0.2, 0.6), "open": (0.2, 0.5)},
    "G": {"jaw": (0.2, 0.6), "open": (0.2, 0.5)},
    "NG": {"jaw": (0.18, 0.6), "open": (0.18, 0.5)},
    "HH": {"jaw": (0.3, 0.2), "open": (0.25, 0.2)},
    "R": {"jaw": (0.15, 0.8), "open": (0.2, 0.8), "round": (0.35, 1.2), "funnel": (0.25, 1.0)},
    "W": {"jaw": (0.1, 1.0), "open": (0.1, 1.0), "round": (0.9, 4.0), "funnel": (0.25, 1.0)},
    "Y": {"jaw": (0.12, 1.0), "open": (0.25, 0.8), "spread": (0.4, 1.0)},
}
_SILENCE: _T = {p: (0.0, 4.0) for p in PARAMETERS}
_PAUSE: _T = {p: (0.0, 12.0) for p in PARAMETERS}
_PAUSE_S = 0.2
"""Silences at least this long are pauses: the face rests in them (dominance of ``_PAUSE``)."""
_PARTING_S = 0.01
_CARRY_S = 0.05
_VOWEL_CLOSURE: tuple[float, float] = (0.0, 4.0)  # vowels insist that the lips are apart


def _targets(phone: str) -> _T:
    if phone in _VOWEL:
        return {**_VOWEL[phone], "closed": _VOWEL_CLOSURE}
    if phone in _CONSONANT:
        return _CONSONANT[phone]
    return _SILENCE


@dataclass(frozen=True)
class _Keys:
    """Dominance keys: one row per (sub-)segment."""

    centre: np.ndarray
    half: np.ndarray
    target: np.ndarray  # (segments, parameters)
    weight: np.ndarray  # (segments, parameters)
    tau_before: np.ndarray  # (segments, parameters) seconds
    tau_after: np.ndarray


def _keys(phones: Sequence[PhoneSegment], config: ArticulationConfig, lead_s: float) -> _Keys:
    rows: list[tuple[float, float, str, bool]] = []
    for seg in phones:
        a, b = seg.start_s - lead_s, seg.end_s - lead_s
        if seg.phone in _DIPHTHONGS:
            first, second = _DIPHTHONGS[seg.phone]
            mid = a + 0.6 * (b - a)
            rows += [(a, mid, first, False), (mid, b, second, False)]
        else:
            rows.append((a, b, seg.phone, seg.phone == "SIL"))
    n, m = len(rows), len(PARAMETERS)
    centre = np.empty(n)
    half = np.empty(n)
    target = np.zeros((n, m))
    weight = np.full((n, m), _WEAK)
    tau_b = np.full((n, m), config.anticipation_ms / 1000.0)
    tau_a = np.full((n, m), config.carryover_ms / 1000.0)
    closed = PARAMETERS.index("closed")
    for i, (a, b, phone, silent) in enumerate(rows):
        centre[i] = 0.5 * (a + b)
        half[i] = 0.5 * (b - a) * (0.9 if silent else 0.6)
        pause = silent and b - a >= _PAUSE_S
        if pause:
            # the face rests until just before the next onset (the lips part ``_PARTING_S`` before the
            # sound) and, after the last sound, lets go over at most ``_CARRY_S`` (a third of the pause)
            lo, hi = a + min(_CARRY_S, (b - a) / 3.0), b - _PARTING_S
            centre[i], half[i] = 0.5 * (lo + hi), 0.5 * (hi - lo)
        for name, (t, w) in (_PAUSE if pause else _targets(phone)).items():
            j = PARAMETERS.index(name)
            target[i, j], weight[i, j] = t, w
        if phone in ("P", "B", "M"):
            # closure is fast and local: a short plateau over the whole segment, quick release
            half[i] = 0.5 * (b - a)
            tau_b[i, closed] = tau_a[i, closed] = 0.02
        if silent:
            tau_b[i, :] = tau_a[i, :] = 0.04
    return _Keys(centre, half, target, weight, tau_b, tau_a)


def articulate(
    phones: Sequence[PhoneSegment],
    n_frames: int,
    fps: float,
    loudness: np.ndarray | None = None,
    config: ArticulationConfig | None = None,
) -> dict[str, np.ndarray]:
    """Articulatory parameter tracks (name -> (n_frames,) in [0, 1]) at ``fps``.

    ``loudness`` is an optional per-frame loudness in dB (see :func:`loudness_db`); it scales
    jaw and lip opening around the line's median speech level.
    """
    config = config or ArticulationConfig()
    t = np.arange(n_frames) / fps
    out = np.zeros((n_frames, len(PARAMETERS)))
    if not phones or n_frames == 0:
        return {p: out[:, j] for j, p in enumerate(PARAMETERS)}
    keys = _keys(phones, config, config.lead_ms / 1000.0)
    reach = 8.0 * max(config.anticipation_ms, config.carryover_ms) / 1000.0
    block = max(1, int(fps))  # one second of frames at a time keeps memory bounded
    for s in range(0, n_frames, block):
        tb = t[s:s + block]
        near = np.flatnonzero(
            (keys.centre + keys.half + reach >= tb[0]) & (keys.centre - keys.half - reach <= tb[-1])
        )
        if len(near) == 0:
            continue
        dt = tb[None, :] - keys.centre[near, None]  # (k, frames)
        gap = np.maximum(0.0, np.abs(dt) - keys.half[near, None])
        before = (dt < 0)[:, :, None]
        tau = np.where(before, keys.tau_before[near, None, :], keys.tau_after[near, None, :])
        dom = keys.weight[near, None, :] * np.exp(-gap[:, :, None] / tau)  # (k, frames, params)
        out[s:s + block] = (dom * keys.target[near, None, :]).sum(0) / (dom.sum(0) + 1e-9)
    if loudness is not None and len(loudness) == n_frames:
        speech = loudness[loudness > np.max(loudness) - 40.0] if np.any(np.isfinite(loudness)) else loudness
        median = float(np.median(speech)) if len(speech) else 0.0
        lo, hi = config.loudness_gain_range
        gain = np.clip(1.0 + config.loudness_gain_per_db * (loudness - median), lo, hi)
        for name in ("jaw", "open"):
            out[:, PARAMETERS.index(name)] *= gain
    return {p: np.clip(out[:, j], 0.0, 1.0) for j, p in enumerate(PARAMETERS)}


def loudness_db(samples: np.ndarray, sample_rate_hz: int, n_frames: int, fps: float) -> np.ndarray:
    """Smoothed RMS level in dB at each frame time (50 ms window)."""
    win = max(1, int(0.05 * sample_rate_hz))
    # centred moving average of the power, via a cumulative sum (O(n) for any window)
    if not len(samples):
        return np.zeros(n_frames)
    # csum[k] = the sum of the first k squares, built in place (one float64 copy of the line, not four)
    csum = np.empty(len(samples) + 1)
    csum[0] = 0.0
    np.square(samples, out=csum[1:], dtype=np.float64)
    np.cumsum(csum[1:], out=csum[1:])
    centre = np.clip((np.arange(n_frames) / fps * sample_rate_hz).astype(int), 0, len(samples) - 1)
    lo = np.clip(centre - win // 2, 0, len(samples))
    hi = np.clip(lo + win, 0, len(samples))
    return np.asarray(10.0 * np.log10((csum[hi] - csum[lo]) / win + 1e-10))


def mouth_curves(params: Mapping[str, np.ndarray], values: np.ndarray, style: SpeechStyle | None = None) -> None:
    """Write the mouth/jaw/tongue ARKit channels of ``values`` (frames x CHANNELS) from parameters."""
    style = style or SpeechStyle()
    closed = params["closed"]
    apart = 1.0 - closed
    jaw = np.clip(params["jaw"] * style.jaw_gain, 0.0, 1.0)
    lip = np.clip(params["open"] * style.lip_gain, 0.0, 1.0) * apart
    tuck = params["tuck"]
    spread = np.clip(params["spread"] * style.lip_gain + style.spread * apart, 0.0, 1.0)
    press = np.clip(params["press"] + style.press, 0.0, 1.0)

    def put(name: str, v: np.ndarray | float) -> None:
        values[:, INDEX[name]] = np.clip(v, 0.0, 1.0)

    put("jawOpen", jaw)
    put("mouthClose", closed * jaw)  # lips together while the jaw is open (ARKit semantics)
    put("mouthPucker", params["round"] * apart)
    put("mouthFunnel", params["funnel"] * apart)
    for side in ("Left", "Right"):
        put(f"mouthUpperUp{side}", 0.6 * lip + 0.2 * tuck)
        put(f"mouthLowerDown{side}", lip * (1.0 - tuck))
        put(f"mouthStretch{side}", 0.6 * spread)
        put(f"mouthPress{side}", press)
    put("mouthRollLower", 0.7 * tuck + 0.15 * closed)
    put("mouthRollUpper", 0.15 * tuck + 0.1 * closed)
    put("mouthShrugLower", 0.25 * closed + 0.2 * tuck)
    put("mouthShrugUpper", 0.1 * tuck)
    put("tongueOut", params["tongue"])
