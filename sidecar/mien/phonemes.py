"""Stage 2, phonemes: the timed phone sequence of a line, from its audio and optional transcript.

With a transcript: forced alignment with pocketsphinx (word pass, then phone pass), using the
CMU pronouncing dictionary and a spelling fallback for unknown words. The alignment's
acoustic score tells whether the transcript fits the audio: a transcript for different audio
is detected, reported as a warning, and the line falls back to phonetic recognition; words
that do not fit (a few wrong or unpronounceable words) are recognised instead of aligned.

Without a transcript: speech recognition with the bundled general English language model
(pocketsphinx n-gram search, single fast pass), then phone alignment of the recognised words.
On real speech this finds bilabials far more reliably than free phone-loop recognition
(measured on the fixtures: 91 % of p/b/m found vs 71 %, 91 % of frames labelled right vs
65 %), at about 0.3-0.5x real time. Recognised phones are gated by an energy voice-activity
detector so that noise in pauses does not move the mouth. This is the accurate offline
path; the real-time path without transcript is the neural model.

Times come from 10 ms acoustic frames: frame ``i`` starts at ``i / 100`` s.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Decoder

from . import _g2p, _text
from .audio import INTERNAL_SAMPLE_RATE_HZ, Audio
from .track import PhoneSegment

__all__ = [
    "ARPABET",
    "VOWELS",
    "VISEMES",
    "viseme_of",
    "PhoneTimeline",
    "PhonemeConfig",
    "PhoneRecognizer",
]

ARPABET: tuple[str, ...] = tuple(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)
"""The 39 ARPAbet phones (no stress), plus ``SIL`` for silence."""
VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())

_VISEME_GROUPS = {
    "sil": "SIL", "PP": "P B M", "FF": "F V", "TH": "TH DH", "DD": "T D", "kk": "K G HH", "CH": "CH JH SH ZH",
    "SS": "S Z", "nn": "N NG L", "RR": "R ER", "aa": "AA AE AH AW AY", "E": "EH EY", "ih": "IH IY Y",
    "oh": "AO OW OY", "ou": "UW UH W",
}
VISEMES: dict[str, str] = {p: v for v, ps in _VISEME_GROUPS.items() for p in ps.split()}
"""ARPAbet phone -> Oculus/OpenXR viseme name (sil, PP, FF, TH, DD, kk, CH, SS, nn, RR, aa, E, ih, oh, ou)."""

FRAME_S = 0.01


def viseme_of(phone: str) -> str:
    return VISEMES.get(phone, "sil")


@dataclass(frozen=True)
class PhoneTimeline:
    """Phones covering the whole line, how they were obtained, and what went wrong."""

    phones: tuple[PhoneSegment, ...]
    mode: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhonemeConfig:
    """Tuning of the phone stage (validated by :mod:`mien.config`)."""

    decoders: int = 1
    """Decoders kept loaded (~90 MB each, with the language model); requests beyond wait."""
    mismatch_score_per_frame: float = -20.0
    """Mean alignment score per speech frame (log-1.0001 units, normalised to the best senone)
    below which the transcript is judged not to match the audio. Measured on real speech:
    matching transcripts -6..-13, transcripts of other lines -25..-60."""
    word_mismatch_score_per_frame: float = -45.0
    """Per-word score below which that word is recognised instead of aligned (matching words:
    median -11, worst seen -42)."""
    vad_floor_db: float = -45.0
    """Frames quieter than this (dB relative to the loudest 10 ms) count as silence in recognition."""
    vad_absolute_floor_dbfs: float = -70.0
    """Frames quieter than this absolute level (dB full scale) are silence whatever the line's level."""


class _DecoderPool:
    """A fixed set of decoders handed out one request at a time (they are not thread-safe)."""

    def __init__(self, factory: Callable[[], Decoder], size: int) -> None:
        self._factory = factory
        self._size = size
        self._pool: queue.Queue[Decoder] = queue.Queue()
        self._created = 0
        self._lock = threading.Lock()

    @contextmanager
    def get(self) -> Iterator[Decoder]:
        try:
            decoder = self._pool.get_nowait()
        except queue.Empty:
            with self._lock:
                create = self._created < self._size
                if create:
                    self._created += 1
            decoder = self._factory() if create else self._pool.get()
        try:
            yield decoder
        finally:
            self._pool.put(decoder)


@dataclass
class _Word:
    name: str
    start: int  # frame
    end: int  # frame, exclusive
    score: int
    phones: list[tuple[str, int, int]]  # (phone, start frame, end frame exclusive)


class PhoneRecognizer:
    """Phone timelines from audio (+ transcript). Loads its models once; thread-safe."""

    def __init__(self, config: PhonemeConfig | None = None) -> None:
        self.config = config or PhonemeConfig()
        self._decoders = _DecoderPool(self._new_decoder, self.config.decoders)
        # Spelled-out pronunciations of unknown words, added to every aligner before it decodes
        # (each decoder has its own dictionary).
        self._spelled: dict[str, str] = {}
        self._dict_lock = threading.Lock()

    @staticmethod
    def _new_decoder() -> Decoder:
        # One decoder does both jobs: n-gram recognition (its default search, the fast
        # single-pass configuration) and forced alignment (switched to per request).
        return Decoder(samprate=INTERNAL_SAMPLE_RATE_HZ, bestpath=False, fwdflat=False, loglevel="FATAL")

    def warm_up(self) -> None:
        """Load both decoders now (the server calls this at start-up, not on the first request)."""
        silence = Audio(np.zeros(INTERNAL_SAMPLE_RATE_HZ // 2, dtype=np.float32))
        self.recognize(silence)
        self.align(silence, "hello")

    # ------------------------------------------------------------------ public
    def timeline(self, audio: Audio, transcript: str | None) -> PhoneTimeline:
        if transcript is None or not transcript.strip():
            return self.recognize(audio)
        return self.align(audio, transcript)

    def recognize(self, audio: Audio, reason: Sequence[str] = ()) -> PhoneTimeline:
        """Phonetic recognition of the whole line (no transcript)."""
        n_frames = _n_frames(audio)
        labels = self._recognize_frames(audio, 0, n_frames)
        return PhoneTimeline(_segments(labels, {}), "recognized", tuple(reason))

    def align(self, audio: Audio, transcript: str) -> PhoneTimeline:
        """Forced alignment of ``transcript``; falls back to recognition where it does not fit."""
        warnings: list[str] = []
        words, unspeakable = self._prepare_words(transcript)
        if unspeakable:
            warnings.append(
                f"could not pronounce {', '.join(repr(u) for u in unspeakable[:5])} (no English letters); "
                "left out of the alignment"
            )
        if not words:
            return self.recognize(audio, [*warnings, "transcript has no speakable words; recognised the audio"])
        aligned = self._align_words(audio, words)
        if aligned is None:
            return self.recognize(
                audio, [*warnings, "transcript does not match the audio (alignment failed); "
                                   "recognised the audio instead"]
            )
        speech = [w for w in aligned if w.name != "<sil>" and w.end > w.start]
        frames = sum(w.end - w.start for w in speech)
        mean = sum(w.score for w in speech) / max(frames, 1)
        if mean < self.config.mismatch_score_per_frame:
            return self.recognize(
                audio, [*warnings, f"transcript does not match the audio (alignment score {mean:.0f}/frame, "
                                   f"threshold {self.config.mismatch_score_per_frame:.0f}); recognised the audio "
                                   "instead"]
            )
        n_frames = _n_frames(audio)
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        quiet = _quiet_frames(audio.samples, hop, self.config.vad_floor_db, self.config.vad_absolute_floor_dbfs,
                              reference=audio.samples)
        bad = [w for w in speech if self._misfits(w, quiet)]
        if len(bad) == len(speech):
            return self.recognize(audio, [*warnings, "transcript does not match the audio (no word fits where it "
                                                     "was placed); recognised the audio instead"])
        labels = ["SIL"] * n_frames
        word_of: dict[int, str] = {}
        for w in aligned:
            if w in bad:
                continue
            for phone, a, b in w.phones:
                for f in range(a, min(b, n_frames)):
                    labels[f] = phone
                    if phone != "SIL":
                        word_of[f] = w.name
        spans = _merge_spans(bad)
        for w in spans:
            rec = self._recognize_frames(audio, w.start, min(w.end, n_frames))
            labels[w.start:w.start + len(rec)] = rec
        if spans:
            where = ", ".join(f"{w.start * FRAME_S:.2f}-{w.end * FRAME_S:.2f} s" for w in spans)
            warnings.append(f"words {' '.join(repr(w.name) for w in bad)} do not match the audio ({where}); "
                            "recognised those spans instead")
        return PhoneTimeline(_segments(labels, word_of), "aligned", tuple(warnings))

    # ----------------------------------------------------------------- helpers
    def _misfits(self, word: _Word, quiet: np.ndarray) -> bool:
        """A word that scores far below matching speech, or that was placed on (near) silence."""
        frames = word.end - word.start
        if frames >= 10 and word.score / frames < self.config.word_mismatch_score_per_frame:
            return True
        return bool(frames and quiet[word.start:word.end].mean() >= 0.8)

    def _prepare_words(self, transcript: str) -> tuple[list[str], list[str]]:
        tokens = _text.tokenize(transcript)
        words = [w for t in tokens for w in t.words]
        unspeakable = [t.text for t in tokens if not t.speakable]
        with self._decoders.get() as decoder, self._dict_lock:
            for word in set(words):
                if word not in self._spelled and decoder.lookup_word(word) is None:
                    self._spelled[word] = " ".join(_g2p.spell_out(word, decoder.lookup_word))
            self._sync_dictionary(decoder)
        return words, unspeakable

    def _sync_dictionary(self, decoder: Decoder) -> None:
        for word, phones in self._spelled.items():
            if decoder.lookup_word(word) is None:
                decoder.add_word(word, phones, True)

    def _align_words(self, audio: Audio, words: list[str]) -> list[_Word] | None:
        pcm = audio.pcm16()
        with self._decoders.get() as d:
            with self._dict_lock:
                self._sync_dictionary(d)
            try:
                d.set_align_text(" ".join(words))
                d.start_utt()
                d.process_raw(pcm, full_utt=True)
                d.end_utt()
                if d.hyp() is None or d.seg() is None:
                    return None
                d.set_alignment()
                d.start_utt()
                d.process_raw(pcm, full_utt=True)
                d.end_utt()
                alignment = d.get_alignment()
            except RuntimeError:
                # pocketsphinx raises RuntimeError when the word sequence cannot be aligned at all
                return None
            out: list[_Word] = []
            for word in alignment:
                phones = [(_clean_phone(p.name), p.start, p.start + p.duration) for p in word]
                name = word.name.split("(")[0]
                out.append(_Word(name, word.start, word.start + word.duration, word.score, phones))
            return out

    def _recognize_frames(self, audio: Audio, start: int, end: int) -> list[str]:
        """Frame labels for frames [start, end): recognise words, align their phones, gate by energy."""
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        chunk = audio.samples[start * hop:end * hop]
        n = end - start
        labels = ["SIL"] * n
        if n <= 0:
            return labels
        pcm = Audio(chunk).pcm16()
        with self._decoders.get() as d:
            d.activate_search()  # the n-gram search (a previous request may have aligned)
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            hyp = d.hyp()
            if hyp is not None and hyp.hypstr.strip():
                try:
                    d.set_alignment()
                    d.start_utt()
                    d.process_raw(pcm, full_utt=True)
                    d.end_utt()
                    phones = [(_clean_phone(p.name), p.start, p.start + p.duration)
                              for word in d.get_alignment() for p in word]
                except RuntimeError:
                    # the hypothesis could not be aligned: keep its word-level silence/speech only
                    phones = []
                for phone, a, b in phones:
                    labels[max(0, a):min(n, b)] = [phone] * (min(n, b) - max(0, a))
        quiet = _quiet_frames(chunk, hop, self.config.vad_floor_db, self.config.vad_absolute_floor_dbfs,
                              reference=audio.samples)
        for f in np.flatnonzero(quiet[:n]):
            labels[int(f)] = "SIL"
        return labels


def _n_frames(audio: Audio) -> int:
    return int(np.ceil(len(audio.samples) / (INTERNAL_SAMPLE_RATE_HZ * FRAME_S)))


def _clean_phone(name: str) -> str:
    name = name.upper().rstrip("012")
    return name if name in VISEMES and name != "SIL" else "SIL"


def _merge_spans(words: list[_Word]) -> list[_Word]:
    merged: list[_Word] = []
    for w in words:
        if merged and w.start <= merged[-1].end + 1:
            merged[-1] = _Word(merged[-1].name, merged[-1].start, max(w.end, merged[-1].end), 0, [])
        else:
            merged.append(w)
    return merged


def _quiet_frames(samples: np.ndarray, hop: int, floor_db: float, absolute_dbfs: float,
                  reference: np.ndarray) -> np.ndarray:
    """True for 10 ms frames whose RMS is ``floor_db`` below the loudest frames of ``reference``, or below
    ``absolute_dbfs``."""
    def rms_db(x: np.ndarray) -> np.ndarray:
        n = max(1, int(np.ceil(len(x) / hop)))
        padded = np.zeros(n * hop, dtype=np.float64)
        padded[: len(x)] = x
        power = (padded.reshape(n, hop) ** 2).mean(axis=1)
        return np.asarray(10.0 * np.log10(power + 1e-12))

    peak = float(np.percentile(rms_db(reference), 99)) if len(reference) else 0.0
    level = rms_db(samples)
    return np.asarray((level < peak + floor_db) | (level < absolute_dbfs))


def _segments(labels: list[str], word_of: dict[int, str]) -> tuple[PhoneSegment, ...]:
    """Run-length frame labels into segments (a new segment also starts at a word change)."""
    out: list[PhoneSegment] = []
    start = 0
    for f in range(1, len(labels) + 1):
        if f == len(labels) or labels[f] != labels[start] or word_of.get(f) != word_of.get(start):
            phone = labels[start]
            out.append(
                PhoneSegment(start * FRAME_S, f * FRAME_S, phone, word_of.get(start, ""), viseme_of(phone))
            )
            start = f
    return tuple(out)
