"""Checks of the espeak-ng teacher data: ARPAbet agreement with CMUdict, and bilabial timing vs audio energy.

    python -m training.data.check_espeak --words 2000 --sentences 300 --seed 0

1. **Phone agreement**: synthesize isolated CMUdict words, map espeak's phonemes to ARPAbet, and compare with
the
   dictionary pronunciation (best of its variants) after :func:`arpabet.collapse`.  Reports phone agreement
   ``1 - edit_distance / len(reference)`` pooled over words, and the fraction of words matching exactly.
2. **Bilabial timing**: for generated sentences, every P/B/M segment of at least 30 ms should coincide with a
dip
   in short-time energy.  For each such segment the minimum frame energy inside it is compared to the clip's
   median vowel energy; the same is done for the segment shifted by a lag L, and the L with the deepest mean
   dip
   is reported (should be ~0 ms if the timeline is aligned with the audio).  Only intervocalic bilabials are
   used (V_V), so a shifted window runs into vowels, never into pauses or other consonants.  Also reported:
   the
   offset of the steepest energy fall from the segment start, of the steepest rise from its end, and how often
   the energy minimum around the segment lies inside it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data import arpabet
from training.data.espeak import Espeak, PhoneSegment, VoiceSettings, sample_settings
from training.data.textgen import SentenceGenerator, cmudict_words

FRAME_S = 0.025
EDGE_FRAME_S = 0.010
BAND_HZ = (1000.0, 5000.0)
HOP_S = 0.0025
MIN_BILABIAL_S = 0.030
LAGS_MS = tuple(range(-30, 35, 5))
DIP_DB = 10.0
BOUNDARY_WIN_S = 0.030
MIN_SEARCH_S = 0.020


@dataclass
class AgreementResult:
    """Phone agreement of espeak (mapped to ARPAbet) with CMUdict for one voice."""

    voice: str
    words: int
    phone_agreement: float
    exact_words: float
    worst: list[tuple[str, list[str], list[str]]]


def cmudict_path() -> str:
    """Path of CMUdict shipped with pocketsphinx."""
    import os

    import pocketsphinx

    return os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")


def phone_agreement(words: Sequence[str], voice: str, cmu: dict[str, list[list[str]]]) -> AgreementResult:
    """Synthesize each word alone with ``voice`` and compare its phones with CMUdict."""
    engine = Espeak.get()
    errors = ref_total = exact = 0
    scored: list[tuple[int, str, list[str], list[str]]] = []
    for word in words:
        syn = engine.synthesize(word, VoiceSettings(voice=voice))
        hyp = arpabet.collapse(p.phone for p in syn.phones)
        best: tuple[int, list[str]] | None = None
        for pron in cmu[word]:
            ref = arpabet.collapse(pron)
            d = arpabet.edit_distance(hyp, ref)
            if best is None or d < best[0] or (d == best[0] and len(ref) > len(best[1])):
                best = (d, ref)
        assert best is not None
        errors += best[0]
        ref_total += len(best[1])
        exact += best[0] == 0
        scored.append((best[0], word, hyp, best[1]))
    scored.sort(key=lambda s: -s[0])
    return AgreementResult(
        voice=voice,
        words=len(words),
        phone_agreement=1.0 - errors / max(ref_total, 1),
        exact_words=exact / max(len(words), 1),
        worst=[(w, h, r) for _, w, h, r in scored[:8]],
    )


def frame_energy_db(samples: np.ndarray, sr: int, frame_s: float = FRAME_S) -> tuple[np.ndarray, np.ndarray]:
    """Short-time energy in dB of the 1–5 kHz band (Hann window ``frame_s``, 2.5 ms hop) and frame centre
    times.

    The band leaves out the nasal murmur and the voice bar (below 1 kHz), which stay loud while the lips are
    closed for M and B.  The default 25 ms window spans two pitch periods so the contour does not ripple; the
    boundary offsets use :data:`EDGE_FRAME_S` (10 ms) for sharper edges.
    """
    win = int(frame_s * sr)
    hop = int(HOP_S * sr)
    pad = np.pad(samples.astype(np.float64), (win // 2, win // 2))
    n = 1 + (len(pad) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(pad[idx] * np.hanning(win)[None, :], axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / sr)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    energy = 10.0 * np.log10(spec[:, band].sum(axis=1) / win + 1e-10)
    return energy, np.arange(n) * hop / sr


def bilabial_dips(
    samples: np.ndarray, sr: int, phones: Sequence[PhoneSegment]
) -> dict[str, dict[str, list[float]]]:
    """Per intervocalic bilabial phone (P/B/M >= 30 ms between two vowels): dips and boundary offsets.

    Energy frames inside SIL segments are ignored, so pauses cannot fake a dip.  Returned lists per phone:
    ``dip@<lag>`` (median vowel dB minus the min dB inside the segment shifted by lag ms), ``onset_ms`` (time
    of
    the steepest energy fall within ±30 ms of the segment start, minus the start), ``release_ms`` (steepest
    rise
    within ±30 ms of the end, minus the end) and ``min_inside`` (1 if the lowest energy within ±20 ms of the
    segment lies inside it).
    """
    energy, times = frame_energy_db(samples, sr)
    in_sil = np.zeros(len(times), bool)
    vowel_mask = np.zeros(len(times), bool)
    for p in phones:
        sel = (times >= p.start) & (times < p.end)
        if p.phone == arpabet.SIL:
            in_sil |= sel
        elif p.phone in arpabet.VOWELS:
            vowel_mask |= sel
    if not vowel_mask.any():
        return {}
    ref = float(np.median(energy[vowel_mask]))
    masked = np.where(in_sil, np.nan, energy)
    edge_energy, edge_times = frame_energy_db(samples, sr, EDGE_FRAME_S)
    slope = np.gradient(edge_energy, edge_times)
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i, p in enumerate(phones):
        if p.phone not in ("P", "B", "M") or p.end - p.start < MIN_BILABIAL_S:
            continue
        if i == 0 or i + 1 == len(phones):
            continue
        if phones[i - 1].phone not in arpabet.VOWELS or phones[i + 1].phone not in arpabet.VOWELS:
            continue
        rec = out[p.phone]
        for lag in LAGS_MS:
            sel = (times >= p.start + lag / 1000.0) & (times < p.end + lag / 1000.0) & ~in_sil
            if sel.any():
                rec[f"dip@{lag}"].append(ref - float(np.nanmin(masked[sel])))
        near_on = np.flatnonzero(np.abs(edge_times - p.start) <= BOUNDARY_WIN_S)
        near_off = np.flatnonzero(np.abs(edge_times - p.end) <= BOUNDARY_WIN_S)
        rec["onset_ms"].append(1000.0 * (edge_times[near_on[np.argmin(slope[near_on])]] - p.start))
        rec["release_ms"].append(1000.0 * (edge_times[near_off[np.argmax(slope[near_off])]] - p.end))
        around = np.flatnonzero((times >= p.start - MIN_SEARCH_S) & (times < p.end + MIN_SEARCH_S) & ~in_sil)
        t_min = times[around[np.nanargmin(masked[around])]]
        rec["min_inside"].append(float(p.start <= t_min < p.end))
    return out


def timing_check(n_sentences: int, seed: int) -> dict[str, dict[str, float]]:
    """Run :func:`bilabial_dips` over generated sentences with random voices; summarise per phone."""
    engine = Espeak.get()
    pooled: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i in range(n_sentences):
        rng = np.random.default_rng([seed, 7, i])
        text = SentenceGenerator(rng).utterance()
        syn = engine.synthesize(text, sample_settings(rng))
        for ph, rec in bilabial_dips(syn.samples, syn.sample_rate, syn.phones).items():
            for key, vals in rec.items():
                pooled[ph][key].extend(vals)
                pooled["all"][key].extend(vals)
    summary: dict[str, dict[str, float]] = {}
    for ph, rec in sorted(pooled.items()):
        means = {lag: float(np.mean(rec[f"dip@{lag}"])) for lag in LAGS_MS}
        at0 = np.asarray(rec["dip@0"])
        summary[ph] = {
            "segments": float(len(at0)),
            "median_dip_db": float(np.median(at0)),
            f"frac_dip_ge_{DIP_DB:.0f}db": float(np.mean(at0 >= DIP_DB)),
            "frac_min_inside": float(np.mean(rec["min_inside"])),
            "median_onset_ms": float(np.median(rec["onset_ms"])),
            "median_release_ms": float(np.median(rec["release_ms"])),
            "best_lag_ms": float(max(means, key=lambda lag: means[lag])),
            "dip_db_lag0": means[0],
            "dip_db_lag-30": means[-30],
            "dip_db_lag+30": means[30],
        }
    return summary


def common_text() -> list[str]:
    """The hand-written vocabulary of :mod:`training.data.textgen` (common English words)."""
    from training.data import textgen

    parts: list[str] = []
    for name in (
        "NOUNS",
        "ADJECTIVES",
        "VERBS_PAST",
        "VERBS_BASE",
        "TIME_WORDS",
        "GREETINGS",
        "DIALOGUE",
        "EMOTIVE",
    ):
        parts.extend(getattr(textgen, name))
    parts.extend(textgen.number_to_words(n) for n in range(100))
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.data.check_espeak")
    ap.add_argument("--words", type=int, default=2000)
    ap.add_argument("--sentences", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voices", default="en-us,en-us+f3,en-us+klatt,en,en-gb-x-rp")
    args = ap.parse_args(argv)
    cmu = arpabet.load_cmudict(cmudict_path())
    vocab = [w for w in cmudict_words() if w in cmu]
    rng = np.random.default_rng(args.seed)
    words = [vocab[i] for i in rng.choice(len(vocab), size=min(args.words, len(vocab)), replace=False)]
    common = sorted({w for w in re.findall(r"[a-z]+", " ".join(common_text()).lower()) if w in cmu})
    for label, vocab_set in (("random CMUdict words", words), ("common words (textgen)", common)):
        print(f"== {label}")
        for voice in args.voices.split(","):
            res = phone_agreement(vocab_set, voice, cmu)
            print(
                f"{voice:14s} words={res.words} phone_agreement={res.phone_agreement:.3f} "
                f"exact_words={res.exact_words:.3f}"
            )
            for w, h, r in res.worst[:3]:
                print(f"    {w}: espeak {' '.join(h)} | cmudict {' '.join(r)}")
    print("== bilabial timing (intervocalic P/B/M, 1-5 kHz band energy)")
    for ph, s in timing_check(args.sentences, args.seed).items():
        print(f"{ph:4s} " + " ".join(f"{k}={v:.2f}" for k, v in s.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
