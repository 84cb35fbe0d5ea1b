"""Phone labels with confidences for the real speech of :mod:`training.data.real` (and of ``corpora``).

    python -m training.data.label --root DIR [--only SOURCE,...] [--workers 2] [--force]

Per clip (16 kHz wav + transcript + language) it writes ``<id>.phones.tsv`` beside the wav (columns
``start_s end_s phone word conf``: the scorer's reference format plus a confidence per segment) and one row
in ``<source>/labels.jsonl`` (how the label was made, its scores, why it was dropped).

* **English** transcripts: the runtime's aligned path (``mien.phonemes.PhoneRecognizer.align`` with the
  runtime's own transcript check, which compares the alignment with a phone loop of the same frames). A line the aligner
  reports as mismatched (recognised instead) is dropped; a line with words it replaced gets confidence 0.5.
* **Other languages**: espeak-ng phonemizes the transcript in its language (:mod:`training.data.phonemize`),
  each espeak word becomes a dictionary entry of the pocketsphinx en-us model with those ARPAbet phones, and
  the clip is force-aligned (word pass, then phone pass) with the same decoder settings as the runtime's
  aligner. Per word the acoustic score per frame is kept.
* **Confidence** of a segment = that of its line (alignment score per frame, ranked within the source by
  :func:`line_confidence` when the data set is built) x that of its word (degenerate words, where one
  phone takes >= 80 % of a word of >= 3 phones, or the word's score far below the line's, get 0.3) x for
  /p b m/ the acoustic evidence of a closure (:func:`closure_evidence`: the dip of the 300-3400 Hz band
  energy inside the segment below its neighbours; no dip -> 0.3). The data step drops lines whose
  confidence is below a threshold and weights every frame's losses by its segment's confidence.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from training.data.phonemize import UnknownPhoneme, phonemize

__all__ = ["Segment", "label_clip", "closure_evidence", "read_labels", "line_confidence", "LABEL_VERSION"]

LABEL_VERSION = 4
SAMPLE_RATE = 16000
FRAME_S = 0.01
BILABIALS = frozenset({"P", "B", "M"})


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    phone: str
    word: str = ""
    conf: float = 1.0


def write_segments(path: Path, segs: Sequence[Segment]) -> None:
    lines = ["start_s\tend_s\tphone\tword\tconf"]
    lines += [f"{s.start_s:.4f}\t{s.end_s:.4f}\t{s.phone}\t{s.word}\t{s.conf:.3f}" for s in segs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_labels(path: Path) -> list[Segment]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        f = line.split("\t")
        if len(f) >= 3:
            out.append(Segment(float(f[0]), float(f[1]), f[2], f[3] if len(f) > 3 else "",
                               float(f[4]) if len(f) > 4 and f[4] else 1.0))
    return out


# ------------------------------------------------------------------------------------- closure evidence
def band_energy_db(x: np.ndarray, lo_hz: float = 300.0, hi_hz: float = 3400.0) -> np.ndarray:
    """Energy (dB) of the lo..hi band in 10 ms frames (20 ms Hann windows); frame i centred at (i + 0.5) * 10 ms."""
    hop, win = int(FRAME_S * SAMPLE_RATE), int(0.02 * SAMPLE_RATE)
    n = max(1, len(x) // hop)
    padded = np.concatenate([np.zeros(win // 2), x.astype(np.float64), np.zeros(win)])
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    frames = padded[idx] * np.hanning(win)
    spec = np.abs(np.fft.rfft(frames, 512, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / SAMPLE_RATE)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    return np.asarray(10.0 * np.log10(spec[:, band].sum(1) + 1e-10))


def closure_evidence(energy_db: np.ndarray, start_s: float, end_s: float) -> tuple[float, float]:
    """(dip dB, confidence) of a bilabial segment: the quietest 10 ms inside [start - 10, end + 10 ms] below
    the loudest of the 80 ms on either side. Stops dip 15-90 dB, nasals 8-15 dB; < 3 dB is no evidence."""
    a = max(0, int(start_s / FRAME_S) - 1)
    b = min(len(energy_db), int(np.ceil(end_s / FRAME_S)) + 1)
    if b <= a:
        return 0.0, 0.3
    inside = float(energy_db[a:b].min())
    left = energy_db[max(0, a - 8):a]
    right = energy_db[b:b + 8]
    around = [float(v.max()) for v in (left, right) if len(v)]
    if not around:
        return 0.0, 0.3
    dip = min(around) - inside if len(around) == 2 else around[0] - inside
    return dip, float(np.clip(0.3 + 0.7 * (dip - 3.0) / 6.0, 0.3, 1.0))


# ------------------------------------------------------------------------------------------ aligners
_Aligned = tuple[str, int, int, int, list[tuple[str, int, int]]]
"""(word, start frame, end frame, acoustic score, [(phone, start frame, end frame)])."""


class _Foreign:
    """Forced alignment of espeak-phonemized words with the pocketsphinx en-us acoustic model.

    pocketsphinx's alignment search, when its final state is not reached, returns the best partial path: the
    first words, then "silence" to the end (seen on 3 % of these lines). A line whose aligned words are not
    all of its words is therefore aligned again without optional silences between words (``fsgusefiller``
    off), which always ends in the final state; silence at its ends is then cut off by energy."""

    def __init__(self) -> None:
        from mien._sphinx import Decoder

        # bestpath=False as in the runtime's aligner (mien.phonemes: the lattice best path can break the phone pass)
        settings = {"samprate": float(SAMPLE_RATE), "cmn": "batch", "bestpath": False}
        self.decoders = [Decoder(language_model=False, **settings),
                         Decoder(language_model=False, fsgusefiller=False, **settings)]
        self.known: set[str] = set()

    def word(self, phones: tuple[str, ...]) -> str:
        name = "w" + hashlib.sha1(" ".join(phones).encode()).hexdigest()[:12]
        if name not in self.known:
            for d in self.decoders:
                d.add_word(name, " ".join(phones))
            self.known.add(name)
        return name

    def align(self, x: np.ndarray, words: list[tuple[str, ...]]) -> tuple[list[_Aligned] | None, bool]:
        """(aligned words or None, whether the filler-free retry was needed)."""
        names = [self.word(w) for w in words]
        for retry, decoder in enumerate(self.decoders):
            out = self._align(decoder, x, names, words)
            if out is not None and [w[0] for w in out if not w[0].startswith(("<", "[", "+"))] == \
                    [" ".join(w) for w in words]:
                return out, bool(retry)
        return None, True

    @staticmethod
    def _align(decoder: object, x: np.ndarray, names: list[str], words: list[tuple[str, ...]]
               ) -> list[_Aligned] | None:
        back = {n: " ".join(w) for n, w in zip(names, words, strict=True)}
        pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
        if not decoder.align_words(pcm, " ".join(names)):  # type: ignore[attr-defined]
            return None
        aligned = decoder.align_phones(pcm)  # type: ignore[attr-defined]
        if aligned is None:
            return None
        out = []
        for w in aligned:
            name = w.name.split("(")[0]
            phones = [(p.name.rstrip("012"), p.start, p.start + p.duration) for p in w.phones]
            out.append((back.get(name, name), w.start, w.start + w.duration, w.score, phones))
        return out


_FOREIGN: _Foreign | None = None
_ENGLISH = None


def _english():  # type: ignore[no-untyped-def]
    global _ENGLISH
    if _ENGLISH is None:
        from mien.config import Config
        from mien.phonemes import PhonemeConfig
        from mien.pipeline import Animator

        # the runtime's own transcript check (issue 12: it compares the alignment with a phone loop of the same
        # frames, so the channel does not move it): a line it rejects is dropped, replaced words lower confidence
        _ENGLISH = Animator(Config(phonemes=PhonemeConfig(aligners=1))).recognizer
    return _ENGLISH


def _fill(segs: list[Segment], end_s: float) -> list[Segment]:
    """Sorted, gap-free segments covering [0, end_s] (gaps and non-speech fillers are SIL, SILs merged)."""
    out: list[Segment] = []
    t = 0.0
    for s in sorted(segs, key=lambda s: s.start_s):
        if s.end_s <= t + 1e-6:
            continue
        if s.start_s > t + 1e-6:
            out.append(Segment(t, s.start_s, "SIL", "", 1.0))
        out.append(Segment(max(t, s.start_s), min(s.end_s, end_s), s.phone, s.word, s.conf))
        t = out[-1].end_s
        if t >= end_s:
            break
    if t < end_s - 1e-6:
        out.append(Segment(t, end_s, "SIL", "", 1.0))
    merged: list[Segment] = []
    for s in out:
        if merged and s.phone == "SIL" and merged[-1].phone == "SIL":
            merged[-1] = Segment(merged[-1].start_s, s.end_s, "SIL", "", 1.0)
        elif s.end_s > s.start_s:
            merged.append(s)
    return merged


def _trim_ends(aligned: list[_Aligned], energy_db: np.ndarray) -> list[_Aligned]:
    """Frames at the start of the first word and the end of the last one quieter than 35 dB below the line's
    loudest are silence (a filler-free alignment has no silence to put them in)."""
    quiet = energy_db < energy_db.max() - 35.0
    out = list(aligned)
    speech = [i for i, w in enumerate(out) if not w[0].startswith(("<", "[", "+"))]
    if not speech:
        return out
    for pos in (speech[0], speech[-1]):
        word, a, b, score, phones = out[pos]
        if pos == speech[0]:
            while a < b - 3 and a < len(quiet) and quiet[a]:
                a += 1
        if pos == speech[-1]:
            while b > a + 3 and b - 1 < len(quiet) and quiet[b - 1]:
                b -= 1
        phones = [(p, max(pa, a), min(pb, b)) for p, pa, pb in phones if min(pb, b) > max(pa, a)]
        out[pos] = (word, a, b, score, phones)
    return out


def label_clip(row: dict[str, object]) -> tuple[list[Segment] | None, dict[str, object]]:
    """Label one clip: (segments or None if dropped, info)."""
    global _FOREIGN
    x, sr = sf.read(str(row["wav"]), dtype="float32")
    assert sr == SAMPLE_RATE, row["wav"]
    end_s = len(x) / SAMPLE_RATE
    info: dict[str, object] = {"id": row["id"], "language": row["language"], "version": LABEL_VERSION}
    text = str(row.get("transcript") or "")
    segs: list[Segment] = []
    if row["language"] == "en":
        from mien.audio import Audio

        tl = _english().align(Audio(x), text)
        info["path"] = "aligned (mien.phonemes)"
        info["mode"] = tl.mode
        info["warnings"] = list(tl.warnings)
        if tl.mode != "aligned":
            info["dropped"] = "the aligner judged the transcript not to match (recognised instead)"
            return None, info
        word_conf = 0.5 if tl.warnings else 1.0
        segs = [Segment(p.start_s, p.end_s, p.phone, p.word, word_conf if p.phone != "SIL" else 1.0)
                for p in tl.phones]
        info["line_score"] = None
    else:
        try:
            words = phonemize(text, str(row["language"]))
        except UnknownPhoneme as exc:
            info["dropped"] = str(exc)
            return None, info
        if not words:
            info["dropped"] = "espeak-ng gave no phonemes"
            return None, info
        if _FOREIGN is None:
            _FOREIGN = _Foreign()
        aligned, retried = _FOREIGN.align(x, words)
        info["path"] = "aligned (espeak-ng phonemes -> ARPAbet, pocketsphinx en-us)"
        info["retried_without_fillers"] = retried
        if aligned is None:
            info["dropped"] = "forced alignment failed (not every word aligned)"
            return None, info
        if retried:
            aligned = _trim_ends(aligned, band_energy_db(x))
        speech = [w for w in aligned if not w[0].startswith(("<", "[", "+"))]
        frames = sum(max(0, b - a) for _, a, b, _, _ in speech)
        if not speech or frames == 0:
            info["dropped"] = "no word aligned"
            return None, info
        line = sum(w[3] for w in speech) / frames
        info["line_score"] = round(line, 2)
        degenerate = 0
        for word, a, b, score, phones in speech:
            n = max(1, b - a)
            longest = max((pb - pa for _, pa, pb in phones), default=0)
            bad = len(phones) >= 3 and longest >= 0.8 * n
            low = n >= 10 and score / n < line * 2.0 - 15.0  # far below the line's own level
            degenerate += bad
            conf = (0.3 if (bad or low) else 1.0) * (0.7 if retried else 1.0)
            for ph, pa, pb in phones:
                if ph != "SIL" and pb > pa:
                    segs.append(Segment(pa * FRAME_S, pb * FRAME_S, ph, word.replace(" ", "_"), conf))
        info["degenerate_words"] = degenerate
        info["words"] = len(speech)
    segs = _fill(segs, end_s)
    energy = band_energy_db(x)
    dips = []
    out = []
    for s in segs:
        if s.phone in BILABIALS:
            dip, ev = closure_evidence(energy, s.start_s, s.end_s)
            dips.append(round(dip, 1))
            s = Segment(s.start_s, s.end_s, s.phone, s.word, round(s.conf * ev, 3))
        out.append(s)
    info["bilabials"] = len(dips)
    info["bilabial_dips_db"] = dips
    return out, info


def line_confidence(scores: Sequence[float | None]) -> list[float]:
    """Per line of one source: 1.0 for English lines (no score: the aligner accepted them), else the rank of its
    alignment score per frame within the source mapped to 0..1 (worst 10 % -> 0: dropped; median -> ~1)."""
    vals = np.array([s for s in scores if s is not None], dtype=float)
    out = []
    for s in scores:
        if s is None or not len(vals):
            out.append(1.0)
            continue
        rank = float((vals < s).mean())
        out.append(0.0 if rank < 0.1 else float(min(1.0, 0.4 + 1.2 * rank)))
    return out


def _job(row: dict[str, object]) -> dict[str, object]:
    t0 = time.perf_counter()
    try:
        segs, info = label_clip(row)
    except Exception as exc:  # noqa: BLE001 - a failed clip is recorded and skipped, never silently
        segs, info = None, {"id": row["id"], "dropped": f"{type(exc).__name__}: {exc}"}
    ph = Path(str(row["wav"])).with_suffix(".phones.tsv")
    if segs is not None:
        write_segments(ph, segs)
    elif ph.exists():
        ph.unlink()
    info["seconds"] = round(time.perf_counter() - t0, 3)
    info["source"] = row["source"]
    return info


def main(argv: Sequence[str] | None = None) -> int:
    from training.data.real import load_manifest

    ap = argparse.ArgumentParser(prog="python -m training.data.label", description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, required=True, help="the --out of training.data.real fetch")
    ap.add_argument("--only", default="", help="comma-separated sources")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--force", action="store_true", help="re-label clips labelled before (e.g. after aligner fixes)")
    ap.add_argument("--share", type=float, default=1.0,
                    help="label this share of each source's clips (chosen by a hash of the id; quick or partial runs)")
    args = ap.parse_args(argv)
    root = args.root.expanduser()
    only = [s for s in args.only.split(",") if s] or None
    rows = load_manifest(root, only)
    by_source: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        if args.share >= 1.0 or int(hashlib.sha1(str(r["id"]).encode()).hexdigest()[:8], 16) % 10000 \
                < args.share * 10000:
            by_source.setdefault(str(r["source"]), []).append(r)
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers) as pool:
        for source, items in sorted(by_source.items()):
            out = root / source / "labels.jsonl"
            partial = out.with_suffix(".jsonl.partial")
            done: dict[str, dict[str, object]] = {}
            for path in (out, partial):
                if path.exists() and not (args.force and path == out):
                    for line in path.read_text(encoding="utf-8").splitlines():
                        d = json.loads(line)
                        if d.get("version") == LABEL_VERSION:
                            done[str(d["id"])] = d
            todo = [r for r in items if r["id"] not in done]
            with open(partial, "a", encoding="utf-8") as log:  # progress survives an interruption
                for i, info in enumerate(pool.imap_unordered(_job, todo, chunksize=4)):
                    done[str(info["id"])] = info
                    log.write(json.dumps(info, ensure_ascii=False) + "\n")
                    if (i + 1) % 200 == 0:
                        log.flush()
                        print(f"  {source}: {i + 1}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
            order = {r["id"]: i for i, r in enumerate(load_manifest(root, [source]))}
            infos = sorted(done.values(), key=lambda d: order.get(str(d["id"]), 1 << 30))
            out.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in infos), encoding="utf-8")
            partial.unlink()
            kept = sum("dropped" not in d for d in infos)
            print(f"{source}: {kept}/{len(infos)} labelled ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
