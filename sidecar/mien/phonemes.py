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

Long lines are aligned in parallel: the audio is cut at pauses into chunks, each chunk's
words are estimated from its share of the speech, and each chunk is aligned in its own thread
(pocketsphinx is called through ctypes, which releases the GIL) with a grammar whose first
and last few words are optional; the chunks must then account for every word exactly once,
or the line is aligned whole.

Times come from 10 ms acoustic frames: frame ``i`` starts at ``i / 100`` s.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from . import _g2p, _text
from ._sphinx import AlignedWord, Decoder
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
RECOGNIZE_CHUNK_S = 30.0
"""Recognition decodes a long line this many seconds at a time (memory bound; issue 11)."""


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

    aligners: int = 2
    """Alignment decoders kept loaded (~27 MB each); also the threads one long line is split over."""
    recognizers: int = 1
    """Recognition decoders kept loaded (~90 MB each, with the language model)."""
    split_min_s: float = 12.0
    """Lines at least this long are aligned in parallel chunks."""
    chunk_s: float = 8.0
    """Target length of a chunk when a long line is split."""
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
    """A fixed set of decoders handed out one at a time (a decoder is not thread-safe); created lazily."""

    def __init__(self, factory: Callable[[], Decoder], size: int) -> None:
        self._factory = factory
        self._size = size
        self._pool: queue.Queue[Decoder] = queue.Queue()
        self._created = 0
        self._lock = threading.Lock()

    def acquire(self) -> Decoder:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            with self._lock:
                create = self._created < self._size
                if create:
                    self._created += 1
            return self._factory() if create else self._pool.get()

    def release(self, decoder: Decoder) -> None:
        self._pool.put(decoder)

    @contextmanager
    def get(self) -> Iterator[Decoder]:
        decoder = self.acquire()
        try:
            yield decoder
        finally:
            self.release(decoder)


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
        self._aligners = _DecoderPool(self._new_aligner, self.config.aligners)
        self._recognizers = _DecoderPool(self._new_recognizer, self.config.recognizers)
        self._threads = ThreadPoolExecutor(max_workers=self.config.aligners, thread_name_prefix="mien-align")
        # Spelled-out pronunciations of unknown words, added to every aligner before it decodes
        # (each decoder has its own dictionary).
        self._spelled: dict[str, str] = {}
        self._dict_lock = threading.Lock()

    @staticmethod
    def _new_aligner() -> Decoder:
        # bestpath=False: the lattice best path puts a bogus 1-frame <s> before a first segment that starts at
        # frame 0, overlapping it; the phone pass then fails silently (every phone spans its word, scores 0).
        return Decoder(language_model=False, samprate=float(INTERNAL_SAMPLE_RATE_HZ), cmn="batch", bestpath=False)

    @staticmethod
    def _new_recognizer() -> Decoder:
        # the fast single-pass n-gram configuration (see the module docstring for its accuracy)
        return Decoder(language_model=True, samprate=float(INTERNAL_SAMPLE_RATE_HZ), bestpath=False, fwdflat=False,
                       cmn="batch")

    def warm_up(self) -> None:
        """Load the decoders now (the server calls this at start-up, not on the first request)."""
        silence = Audio(np.zeros(INTERNAL_SAMPLE_RATE_HZ // 2, dtype=np.float32))
        self.recognize(silence)
        held = [self._aligners.acquire() for _ in range(self.config.aligners)]
        for decoder in held:
            self._aligners.release(decoder)

    # ------------------------------------------------------------------ public
    def timeline(self, audio: Audio, transcript: str | None) -> PhoneTimeline:
        if transcript is None or not transcript.strip():
            return self.recognize(audio)
        return self.align(audio, transcript)

    def recognize(self, audio: Audio, reason: Sequence[str] = ()) -> PhoneTimeline:
        """Phonetic recognition of the whole line (no transcript), :data:`RECOGNIZE_CHUNK_S` at a time (the
        decoder's memory grows with what it decodes at once: a 300 s line in one piece took 1.6 GB)."""
        n_frames = _n_frames(audio)
        step = int(RECOGNIZE_CHUNK_S * 100)
        labels: list[str] = []
        for start in range(0, n_frames, step):
            labels += self._recognize_frames(audio, start, min(n_frames, start + step))
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
        speech = [w for w in aligned if _is_word(w.name) and w.end > w.start]
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
        with self._aligners.get() as decoder, self._dict_lock:
            for word in set(words):
                if word not in self._spelled and decoder.lookup_word(word) is None:
                    self._spelled[word] = " ".join(_g2p.spell_out(word, decoder.lookup_word))
        return words, unspeakable

    def _sync_dictionary(self, decoder: Decoder) -> None:
        """Give ``decoder`` the spelled-out words other decoders learnt (each has its own dictionary)."""
        with self._dict_lock:
            for word, phones in self._spelled.items():
                if decoder.lookup_word(word) is None:
                    decoder.add_word(word, phones)

    def _align_words(self, audio: Audio, words: list[str]) -> list[_Word] | None:
        pcm = audio.pcm16()
        if audio.duration_s >= self.config.split_min_s and self.config.aligners >= 2:
            chunked = self._align_chunked(audio, pcm, words)
            if chunked is not None:
                return chunked
        return self._align_span(pcm, words, None, 0)

    def _align_span(self, pcm: bytes, words: list[str], grammar: str | None, offset: int) -> list[_Word] | None:
        """Align one stretch of audio (``pcm``, starting at frame ``offset``) to its words or grammar."""
        with self._aligners.get() as d:
            self._sync_dictionary(d)
            ok = d.align_words(pcm, " ".join(words)) if grammar is None else d.align_grammar(pcm, grammar)
            aligned = d.align_phones(pcm) if ok else None
        if aligned is None:
            return None
        return [_word(w, offset) for w in aligned]

    def _align_chunked(self, audio: Audio, pcm: bytes, words: list[str]) -> list[_Word] | None:
        """Parallel alignment of a long line; None when the chunks do not account for every word."""
        plan = _plan_chunks(audio, len(words), self.config)
        if plan is None:
            return None
        hop_bytes = 2 * INTERNAL_SAMPLE_RATE_HZ // 100
        jobs = [
            self._threads.submit(self._align_span, pcm[a * hop_bytes:b * hop_bytes], [],
                                 _chunk_grammar(words, head, tail), a)
            for (a, b), head, tail in plan
        ]
        parts = [job.result() for job in jobs]
        if any(p is None for p in parts):
            return None
        merged = [w for part in parts for w in part or []]
        if [w.name for w in merged if _is_word(w.name)] != words:
            return None
        return merged

    def _recognize_frames(self, audio: Audio, start: int, end: int) -> list[str]:
        """Frame labels for frames [start, end): recognise words, align their phones, gate by energy."""
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        chunk = audio.samples[start * hop:end * hop]
        n = end - start
        labels = ["SIL"] * n
        if n <= 0:
            return labels
        pcm = Audio(chunk).pcm16()
        with self._recognizers.get() as d:
            aligned = d.align_phones(pcm) if d.recognize(pcm).strip() else None
        for w in aligned or []:
            for phone, a, b in _word(w, 0).phones:
                labels[max(0, a):min(n, b)] = [phone] * max(0, min(n, b) - max(0, a))
        quiet = _quiet_frames(chunk, hop, self.config.vad_floor_db, self.config.vad_absolute_floor_dbfs,
                              reference=audio.samples)
        for f in np.flatnonzero(quiet[:n]):
            labels[int(f)] = "SIL"
        return labels


def _word(w: AlignedWord, offset: int) -> _Word:
    phones = [(_clean_phone(p.name), p.start + offset, p.start + p.duration + offset) for p in w.phones]
    return _Word(w.name.split("(")[0], w.start + offset, w.start + w.duration + offset, w.score, phones)


def _is_word(name: str) -> bool:
    """A transcript word, not a filler (<sil>, <s>, </s>, [NOISE], ++GARBAGE++)."""
    return not name.startswith(("<", "[", "+"))


Window = tuple[int, int]


def _plan_chunks(audio: Audio, n_words: int, config: PhonemeConfig) -> list[tuple[Window, Window, Window]] | None:
    """Cut a long line at pauses into chunks of about ``config.chunk_s``.

    Returns, per chunk, its frame span and the windows of words that may lie on either side of its
    first and last cut: (start, end) frames, (head_lo, head_hi), (tail_lo, tail_hi). A cut's word
    index is estimated from the share of speech before it; the window allows for a quarter of a
    chunk's words (at least 4) of error either way. None when the line has no usable pauses.
    """
    level = _level_db(audio.samples, INTERNAL_SAMPLE_RATE_HZ // 100)
    floor = float(np.percentile(level, 10))
    quiet = level < floor + 0.25 * (float(np.percentile(level, 95)) - floor)  # near the noise floor
    n_frames = len(quiet)
    speech_before = np.concatenate([[0], np.cumsum(~quiet)])
    total_speech = max(1, int(speech_before[-1]))
    pauses: list[int] = []  # centres of quiet runs >= 150 ms
    start = None
    for f in range(n_frames + 1):
        if f < n_frames and quiet[f]:
            start = f if start is None else start
        elif start is not None:
            if f - start >= 15 and start > 0 and f < n_frames:
                pauses.append((start + f) // 2)
            start = None
    n_chunks = max(2, min(16, round(audio.duration_s / config.chunk_s)))
    cuts: list[int] = []
    for k in range(1, n_chunks):
        target = total_speech * k / n_chunks
        candidates = [p for p in pauses if (not cuts or p > cuts[-1] + 200)]
        if not candidates:
            break
        cuts.append(min(candidates, key=lambda p: abs(int(speech_before[p]) - target)))
    cuts = sorted(set(c for c in cuts if 200 <= c <= n_frames - 200))
    if not cuts:
        return None
    per_chunk = n_words / (len(cuts) + 1)
    half = max(4, math.ceil(per_chunk / 4))
    windows: list[Window] = []
    kept: list[int] = []
    for c in cuts:
        estimate = round(n_words * int(speech_before[c]) / total_speech)
        lo, hi = max(1, estimate - half), min(n_words - 1, estimate + half)
        # neighbouring windows need at least one certain word between them; else drop this cut
        if lo < hi and (not windows or lo > windows[-1][1]):
            windows.append((lo, hi))
            kept.append(c)
    if not kept:
        return None
    cuts = kept
    bounds = [0, *cuts, n_frames]
    heads = [(0, 0), *windows]
    tails = [*windows, (n_words, n_words)]
    return [((bounds[i], bounds[i + 1]), heads[i], tails[i]) for i in range(len(bounds) - 1)]


def _chunk_grammar(words: Sequence[str], head: Window, tail: Window) -> str:
    """JSGF: any suffix of words[head], the certain words, any prefix of words[tail].

    Words are bare tokens (pocketsphinx's JSGF parser rejects quoted ones); transcript words only
    ever hold a-z and apostrophes, which JSGF accepts.
    """
    def q(word: str) -> str:
        return word

    rule = ""
    for w in words[head[0]:head[1]]:  # [[[a] b] c] = "", "c", "b c", "a b c"
        rule = f"[{rule} {q(w)}]" if rule else f"[{q(w)}]"
    certain = " ".join(q(w) for w in words[head[1]:tail[0]])
    suffix = ""
    for w in reversed(words[tail[0]:tail[1]]):  # [a [b [c]]] = "", "a", "a b", "a b c"
        suffix = f"[{q(w)} {suffix}]" if suffix else f"[{q(w)}]"
    body = " ".join(part for part in (rule, certain, suffix) if part)
    return f"#JSGF V1.0;\ngrammar chunk;\npublic <line> = {body};\n"


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


def _level_db(samples: np.ndarray, hop: int) -> np.ndarray:
    """RMS level of each 10 ms frame in dB full scale."""
    n = max(1, int(np.ceil(len(samples) / hop)))
    padded = np.zeros(n * hop, dtype=np.float64)
    padded[: len(samples)] = samples
    return np.asarray(10.0 * np.log10((padded.reshape(n, hop) ** 2).mean(axis=1) + 1e-12))


def _quiet_frames(samples: np.ndarray, hop: int, floor_db: float, absolute_dbfs: float,
                  reference: np.ndarray) -> np.ndarray:
    """True for 10 ms frames whose RMS is ``floor_db`` below the loudest frames of ``reference``, or below
    ``absolute_dbfs``."""
    peak = float(np.percentile(_level_db(reference, hop), 99)) if len(reference) else 0.0
    level = _level_db(samples, hop)
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
