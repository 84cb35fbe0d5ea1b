"""Stage 2, phonemes: the timed phone sequence of a line, from its audio and optional transcript.

With a transcript: forced alignment with pocketsphinx (word pass, then phone pass), using the
CMU pronouncing dictionary and a spelling fallback for unknown words; where the right path falls out
of pocketsphinx's default beams (fast speech, radio-like channels) the alignment is retried with a
wide beam. Whether the transcript fits is tested relative to the same audio, never by an absolute
score (which moves with the channel): first every line's alignment is compared with an unconstrained
phone-loop recognition of the same frames, which runs beside it; a line or word far below the loop
is a suspect. Suspects are then settled by speech recognition of the line: where recognised words
fit the audio better than the transcript's (both dictionary words under the same model, so an
unusual voice costs both alike), the transcript does not match there, and that timeline, the better
one, replaces the alignment: the whole line, or only the wrong words' spans. Words whose phone pass
failed (phones not partitioning the word) are re-aligned on their own, else their phones are spread
by typical durations. Every such decision is reported in the warnings.

Without a transcript: speech recognition with the bundled general English language model
(pocketsphinx n-gram search, single fast pass), then phone alignment of the recognised words.
On real speech this finds bilabials far more reliably than free phone-loop recognition
(measured on the fixtures: 91 % of p/b/m found vs 71 %, 91 % of frames labelled right vs
65 %). The line is cut at pauses into chunks of about ten seconds; a line of up to two minutes
is recognised by two decoders at once, the second created for the line and freed after it
(x13 real time in process for 60 s of speech on two cores, x7 with one decoder;
``bench/bench_recognition.py``). Recognised phones are gated by an energy voice-activity
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
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from . import _g2p, _text
from ._sphinx import AlignedWord, Decoder
from .audio import INTERNAL_SAMPLE_RATE_HZ, Audio, hop_mean_square
from .budget import checkpoint, on_behalf
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
_AROUND_FRAMES = 100  # context recognised either side of a suspect span of a long line (10 ms frames: 1 s)


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
    """Recognition decoders kept loaded (~110 MB each, with the language model)."""
    extra_recognizers: int = 1
    """Decoders a line without transcript may add to a kept one, to recognise its chunks in parallel: created for
    the line and freed after it (~0.3 s, ~110 MB while it runs), at most this many at once in the process (a line
    that finds none free is recognised by one decoder); 0: never."""
    parallel_recognition_max_s: float = 120.0
    """Only lines up to this long use an extra decoder: the longest lines the limits allow are recognised by one,
    so their peak memory stays that of one decoder (issue 11: ``bench/bench_limits.py``)."""
    recognizer_max_hmms_per_frame: int = 3000
    """Recognition keeps at most this many HMMs active a frame (pocketsphinx's ``maxhmmpf``). Its default, 30000, is
    x1.5 slower for nearly the same closures: PBM 0.638 vs 0.627 on held-out 8-bit game voices (4 of 359 closures),
    equal on the fixtures (``bench/bench_recognition.py --set phonemes.recognizer_max_hmms_per_frame=30000``)."""
    recognize_chunk_s: float = 10.0
    """Recognition cuts a line at pauses into chunks of about this length (never longer than
    :data:`RECOGNIZE_CHUNK_S`), decoded one after the other or in parallel (``extra_recognizers``)."""
    split_min_s: float = 12.0
    """Lines at least this long are aligned in parallel chunks."""
    chunk_s: float = 8.0
    """Target length of a chunk when a long line is split."""
    check_transcript: bool = True
    """Test whether the transcript fits the audio (and recognise what does not). Off: align whatever it
    says (e.g. corpus transcripts known to be exact); only a transcript that cannot be aligned at all
    is still recognised."""
    screen_line_gap_per_frame: float = 20.0
    """The mismatch test, step 1 (cheap, every line): the forced alignment against an unconstrained
    phone-loop recognition of the same frames, gap = (loop score - alignment score) per frame in
    pocketsphinx's scaled log units. Both see the same channel, so the gap does not move with band
    limits, noise, codecs or level as an absolute score does; it does move with the voice (fast or
    synthetic speech fits dictionary pronunciations worse than free phones). A line whose mean gap
    exceeds this is a suspect (correct human lines: median 11; wrong transcripts: median 41)."""
    screen_word_gap_per_frame: float = 30.0
    """A word (of at least ``word_min_frames``) whose gap exceeds this ..."""
    screen_word_excess_per_frame: float = 25.0
    """... and the line's median word gap by this much is a suspect; so is a word placed on silence."""
    word_min_frames: int = 8
    mismatch_margin_per_frame: float = 6.0
    """Step 2, only for suspects: speech recognition of the line (dictionary words under the language
    model, so constrained like the transcript: an unusual voice costs both alike). Where recognised
    words fit the whole line better than the transcript's by more than this per frame, the transcript
    does not match, and the recognised timeline (the better one) replaces it. Measured on clean real and
    synthetic speech: correct lines -4.5 at best on real speech, up to +4 on fast synthetic speech;
    another line's text +21 median."""
    word_mismatch_margin_per_frame: float = 15.0
    """The same over a suspect word's span (short spans vary more: the recogniser may cut a function
    word differently and fit it a little better)."""
    vad_floor_db: float = -45.0
    """Frames quieter than this (dB relative to the loudest 10 ms) count as silence in recognition."""
    vad_absolute_floor_dbfs: float = -70.0
    """Frames quieter than this absolute level (dB full scale) are silence whatever the line's level."""
    align_beam: float = 1e-300
    """Beam of the retry when an alignment with pocketsphinx's default beams fails (fast speech,
    radio-like channels: the right path falls out of the default beam; at this width nearly nothing is
    pruned)."""


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
        self._extra = threading.BoundedSemaphore(self.config.extra_recognizers)
        self._rec_threads = ThreadPoolExecutor(max_workers=max(1, self.config.extra_recognizers),
                                               thread_name_prefix="mien-recognize")
        # Spelled-out pronunciations of unknown words, added to every aligner before it decodes
        # (each decoder has its own dictionary).
        self._spelled: dict[str, str] = {}
        self._dict_lock = threading.Lock()

    @staticmethod
    def _new_aligner() -> Decoder:
        # bestpath=False: the lattice best path puts a bogus 1-frame <s> before a first segment that starts at
        # frame 0, overlapping it; the phone pass then fails silently (every phone spans its word, scores 0).
        # (CMN is the model's batch CMN: its feat.params overrides any setting made here.) The phone loop is the
        # mismatch test's reference. Its phone-exit beam of 1e-12 (the state beam stays 1e-30) costs 15 % less CPU
        # than 1e-30 and moved its mean score on 62 s of speech by 0.016/frame (the screen's thresholds are 20-30);
        # tune-set mismatch flags, detections and PBM were unchanged in three conditions. 1e-10 flagged more
        # correct lines; 1e-6 moved the score by 3.5/frame.
        decoder = Decoder(language_model=False, samprate=float(INTERNAL_SAMPLE_RATE_HZ), bestpath=False)
        decoder.enable_phone_loop(pbeam=1e-12)
        return decoder

    def _new_recognizer(self) -> Decoder:
        # the fast single-pass n-gram configuration (see the module docstring for its accuracy)
        return Decoder(language_model=True, samprate=float(INTERNAL_SAMPLE_RATE_HZ), bestpath=False, fwdflat=False,
                       maxhmmpf=self.config.recognizer_max_hmms_per_frame)

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
        """Phonetic recognition of the whole line (no transcript), cut at pauses into chunks (a decoder's memory
        grows with what it decodes at once: a 300 s line in one piece took 1.6 GB), two decoded at a time when
        the line may borrow an extra decoder (``extra_recognizers``, ``parallel_recognition_max_s``)."""
        labels, _ = self._recognize_line(audio, parallel=True)
        return PhoneTimeline(_segments(labels, {}), "recognized", tuple(reason))

    def align(self, audio: Audio, transcript: str) -> PhoneTimeline:
        """Forced alignment of ``transcript``; recognition where it does not fit (see :meth:`_check`)."""
        warnings: list[str] = []
        words, unspeakable = self._prepare_words(transcript)
        if unspeakable:
            warnings.append(
                f"could not pronounce {', '.join(repr(u) for u in unspeakable[:5])} (no English letters); "
                "left out of the alignment"
            )
        if not words:
            return self.recognize(audio, [*warnings, "transcript has no speakable words; recognised the audio"])
        n_frames = _n_frames(audio)
        plan = (_plan_chunks(audio, len(words), self.config)
                if audio.duration_s >= self.config.split_min_s and self.config.aligners >= 2 else None)
        # the phone loop of the same frames runs beside the alignment (one job per chunk of a long line)
        spans = [(a, b) for (a, b), _, _ in plan] if plan else [(0, n_frames)]
        loops = [self._threads.submit(on_behalf(self._loop_span), audio, a, b) for a, b in spans] \
            if self.config.check_transcript else []
        aligned = self._align_words(audio, words, plan)
        loop = np.zeros(n_frames)
        for (a, _), job in zip(spans, loops, strict=False):
            part = job.result()
            loop[a:a + len(part)] = part[:n_frames - a]
        if aligned is None:
            return self.recognize(audio, [*warnings, "transcript does not match the audio (it cannot be aligned "
                                                     "to the audio at all); recognised the audio instead"])
        aligned, repairs = self._repair(audio, aligned)
        warnings += repairs
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        quiet = _quiet_frames(audio.samples, hop, self.config.vad_floor_db, self.config.vad_absolute_floor_dbfs,
                              reference=audio.samples)
        score = _frame_scores(aligned, n_frames)
        labels = ["SIL"] * n_frames
        word_of: dict[int, str] = {}
        for w in aligned:
            for phone, a, b in w.phones:
                for f in range(a, min(b, n_frames)):
                    labels[f] = phone
                    if phone != "SIL":
                        word_of[f] = w.name
        suspect_line, suspects = self._screen(aligned, score, loop, quiet) if self.config.check_transcript \
            else (False, [])
        if suspect_line or suspects:
            whole = suspect_line or audio.duration_s <= RECOGNIZE_CHUNK_S
            if whole:
                rec_labels, rec_score = self._recognize_line(audio)
            else:  # a long line with a few suspect words: recognise only around them (CPU and decoder memory)
                rec_labels, rec_score = self._recognize_around(audio, _merge_spans(suspects), n_frames)
            margin = self.config.mismatch_margin_per_frame
            line_better = float((rec_score - score).mean()) if n_frames and whole else -math.inf
            if line_better > margin:
                return PhoneTimeline(_segments(rec_labels, {}), "recognized", (*warnings, (
                    f"transcript does not match the audio (recognised words fit it {line_better:.0f}/frame better "
                    "than the transcript's); recognised the audio instead")))
            wrong = []
            for span in _merge_spans(suspects):
                lo, hi = span.start, min(span.end, n_frames)
                better = float((rec_score[lo:hi] - score[lo:hi]).mean()) if hi > lo else -math.inf
                if better > self.config.word_mismatch_margin_per_frame:
                    labels[lo:hi] = rec_labels[lo:hi]  # the better timeline there
                    for f in range(lo, hi):
                        word_of.pop(f, None)
                    wrong.append((span, better))
            if wrong:
                names = [w.name for w in suspects if any(s.start <= w.start < s.end for s, _ in wrong)]
                where = ", ".join(f"{s.start * FRAME_S:.2f}-{s.end * FRAME_S:.2f} s" for s, _ in wrong)
                fit = "/".join(f"{b:.0f}" for _, b in wrong)
                warnings.append(f"words {' '.join(repr(n) for n in names)} do not match the audio ({where}); "
                                f"recognised those spans instead (recognised words fit them {fit}/frame better)")
        return PhoneTimeline(_segments(labels, word_of), "aligned", tuple(warnings))

    # ----------------------------------------------------------------- helpers
    def _screen(self, aligned: list[_Word], score: np.ndarray, loop: np.ndarray,
                quiet: np.ndarray) -> tuple[bool, list[_Word]]:
        """Step 1 of the mismatch test: is the whole line a suspect (its mean gap to the phone loop), and
        which words are (far below the loop, both absolutely and against the line's other words, or on
        silence)."""
        cfg = self.config
        n = len(score)
        gap = loop[:n] - score
        speech = [w for w in aligned if _is_word(w.name) and w.end > w.start]
        per_word = [float(gap[w.start:w.end].mean()) for w in speech]
        median = float(np.median(per_word)) if per_word else 0.0
        suspects = [w for w, g in zip(speech, per_word, strict=True)
                    if (w.end - w.start >= cfg.word_min_frames and g > cfg.screen_word_gap_per_frame
                        and g - median > cfg.screen_word_excess_per_frame)
                    or float(quiet[w.start:w.end].mean()) > 0.85]
        return bool(n and float(gap.mean()) > cfg.screen_line_gap_per_frame), suspects

    def _loop_span(self, audio: Audio, start: int, end: int) -> np.ndarray:
        """Per-frame acoustic score of the unconstrained phone loop over frames [start, end)."""
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        pcm = Audio(audio.samples[start * hop:end * hop]).pcm16()
        out = np.zeros(end - start)
        with self._aligners.get() as d:
            phones = d.phone_loop(pcm)
        for p in phones:
            a, b = max(0, p.start), min(end - start, p.end)
            if b > a:
                out[a:b] = p.score / (p.end - p.start)
        return out

    def _repair(self, audio: Audio, aligned: list[_Word]) -> tuple[list[_Word], list[str]]:
        """Words whose phones do not partition them (a failed phone pass) are re-aligned alone, else their
        phones are spread over the word by typical durations; never one phone for a whole word."""
        out, warnings = [], []
        for w in aligned:
            if _partitions(w):
                out.append(w)
                continue
            fixed = self._realign_word(audio, w)
            where = f"{w.name!r} at {w.start * FRAME_S:.2f}-{w.end * FRAME_S:.2f} s"
            if fixed is not None:
                out.append(fixed)
                warnings.append(f"phone alignment failed inside {where}; re-aligned that word on its own")
            else:
                out.append(_spread(w))
                warnings.append(f"phone alignment failed inside {where}; spread its phones by typical durations")
        return out, warnings

    def _realign_word(self, audio: Audio, w: _Word) -> _Word | None:
        """The word aligned alone on its own frames (with the wide beam), or None."""
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        pcm = Audio(audio.samples[w.start * hop:w.end * hop]).pcm16()
        with self._aligners.get() as d:
            self._sync_dictionary(d)
            ok = d.align_words(pcm, w.name, beam=self.config.align_beam)
            result = d.align_phones(pcm) if ok else None
        for r in result or []:
            word = _word(r, w.start)
            if word.name == w.name and _partitions(word):
                phones = [(p, max(a, w.start), min(b, w.end)) for p, a, b in word.phones]
                phones[0] = (phones[0][0], w.start, phones[0][2])
                phones[-1] = (phones[-1][0], phones[-1][1], w.end)
                fixed = _Word(w.name, w.start, w.end, word.score, phones)
                return fixed if _partitions(fixed) else None
        return None

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

    def _align_words(self, audio: Audio, words: list[str],
                     plan: list[tuple[Window, Window, Window]] | None) -> list[_Word] | None:
        pcm = audio.pcm16()
        if plan is not None:
            chunked = self._align_chunked(pcm, words, plan)
            if chunked is not None:
                return chunked
        return self._align_span(pcm, words, None, 0)

    def _align_span(self, pcm: bytes, words: list[str], grammar: str | None, offset: int) -> list[_Word] | None:
        """Align one stretch of audio (``pcm``, starting at frame ``offset``) to its words or grammar: with
        pocketsphinx's default beams first, then, if the right path fell out of them, with the wide beam."""
        aligned = None
        with self._aligners.get() as d:
            self._sync_dictionary(d)
            for beam in (None, self.config.align_beam):
                ok = d.align_words(pcm, " ".join(words), beam) if grammar is None else \
                    d.align_grammar(pcm, grammar, beam)
                aligned = d.align_phones(pcm) if ok else None
                if aligned is not None:
                    break
        if aligned is None:
            return None
        return [_word(w, offset) for w in aligned]

    def _align_chunked(self, pcm: bytes, words: list[str],
                       plan: list[tuple[Window, Window, Window]]) -> list[_Word] | None:
        """Parallel alignment of a long line; None when the chunks do not account for every word."""
        hop_bytes = 2 * INTERNAL_SAMPLE_RATE_HZ // 100
        jobs = [
            self._threads.submit(on_behalf(self._align_span), pcm[a * hop_bytes:b * hop_bytes], [],
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

    def _recognize_around(self, audio: Audio, spans: list[_Word], n_frames: int) -> tuple[list[str], np.ndarray]:
        """Like :meth:`_recognize_line`, but only the frames of ``spans`` (each widened by
        :data:`_AROUND_FRAMES` either side for context) are recognised; elsewhere the labels are SIL and the
        score -inf (never compared). A 300 s line recognised whole took minutes of CPU and GBs of decoder."""
        labels = ["SIL"] * n_frames
        scores = np.full(n_frames, -np.inf)
        windows: list[list[int]] = []  # widened spans, overlapping ones merged (each frame decoded once)
        for span in spans:
            lo, hi = max(0, span.start - _AROUND_FRAMES), min(n_frames, span.end + _AROUND_FRAMES)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], hi)
            elif hi > lo:
                windows.append([lo, hi])
        pieces = [(a, b) for lo, hi in windows for a, b in _recognition_chunks(audio, lo, hi, self.config)]
        for (lo, _), (part, score) in zip(pieces, self._recognize_pieces(audio, pieces, False), strict=True):
            labels[lo:lo + len(part)] = part
            scores[lo:lo + len(score)] = score
        return labels, scores

    def _recognize_line(self, audio: Audio, parallel: bool = False) -> tuple[list[str], np.ndarray]:
        """Frame labels of the whole line's recognition and its per-frame acoustic score: the line cut at pauses
        into chunks of about ``recognize_chunk_s``, decoded in order, or two at a time when ``parallel``."""
        pieces = _recognition_chunks(audio, 0, _n_frames(audio), self.config)
        parts = self._recognize_pieces(audio, pieces, parallel)
        labels = [label for part, _ in parts for label in part]
        return labels, np.concatenate([score for _, score in parts]) if parts else np.zeros(0)

    def _recognize_pieces(self, audio: Audio, pieces: Sequence[Window],
                          parallel: bool) -> list[tuple[list[str], np.ndarray]]:
        """:meth:`_recognize_frames` of each (start, end) frame span, in order; when ``parallel`` (and the line is
        short enough and an extra decoder may be made), this thread and a helper with an extra decoder take the
        next undone span in turn."""
        if not (parallel and len(pieces) > 1 and audio.duration_s <= self.config.parallel_recognition_max_s) \
                or not self._extra.acquire(blocking=False):
            return [self._recognize_frames(audio, a, b) for a, b in pieces]
        try:
            extra = self._new_recognizer()
            try:
                return self._share_pieces(audio, pieces, extra)
            finally:
                extra.close()
        finally:
            self._extra.release()

    def _share_pieces(self, audio: Audio, pieces: Sequence[Window],
                      extra: Decoder) -> list[tuple[list[str], np.ndarray]]:
        results: list[tuple[list[str], np.ndarray] | None] = [None] * len(pieces)
        undone = iter(range(len(pieces)))
        lock = threading.Lock()
        failed = threading.Event()

        def work(decoder: Decoder) -> None:
            while not failed.is_set():
                with lock:
                    i = next(undone, None)
                if i is None:
                    return
                try:
                    results[i] = self._recognize_frames(audio, *pieces[i], decoder=decoder)
                except BaseException:
                    failed.set()  # the other one stops at its next span
                    raise

        helper = self._rec_threads.submit(on_behalf(work), extra)
        try:
            with self._recognizers.get() as kept:
                work(kept)
        finally:
            wait([helper])  # never free the extra decoder while the helper uses it
        helper.result()  # the helper's error, if it had one
        return [r for r in results if r is not None]

    def _recognize_frames(self, audio: Audio, start: int, end: int,
                          decoder: Decoder | None = None) -> tuple[list[str], np.ndarray]:
        """Frame labels for frames [start, end) and the per-frame acoustic score of the recognised path
        (-inf where nothing was recognised): recognise words, align their phones, gate by energy. With
        ``decoder``, or a kept recognizer."""
        checkpoint()  # the CPU budget of the line and its caller's liveness (mien.budget)
        hop = INTERNAL_SAMPLE_RATE_HZ // 100
        chunk = audio.samples[start * hop:end * hop]
        n = max(0, end - start)
        labels = ["SIL"] * n
        score = np.full(n, -np.inf)
        if n == 0:
            return labels, score
        pcm = Audio(chunk).pcm16()
        with nullcontext(decoder) if decoder is not None else self._recognizers.get() as d:
            aligned = d.align_phones(pcm) if d.recognize(pcm).strip() else None
        words = [_word(w, 0) for w in aligned or []]
        if words:
            score[:] = _frame_scores(words, n)
        for word in words:
            if not _partitions(word):
                word = _spread(word)
            for phone, a, b in word.phones:
                labels[max(0, a):min(n, b)] = [phone] * max(0, min(n, b) - max(0, a))
        quiet = _quiet_frames(chunk, hop, self.config.vad_floor_db, self.config.vad_absolute_floor_dbfs,
                              reference=audio.samples)
        for f in np.flatnonzero(quiet[:n]):
            labels[int(f)] = "SIL"
        return labels, score


def _partitions(w: _Word) -> bool:
    """The word's phones tile its frames in order, each at least one frame (not every phone over the word)."""
    if w.end <= w.start or not w.phones:
        return True
    edge = w.start
    for _, a, b in w.phones:
        if a != edge or b <= a:
            return False
        edge = b
    return edge == w.end


# relative durations of phone classes (vowels longest, stops and flaps shortest), for spreading phones
_PRIOR = {**{p: 1.6 for p in VOWELS}, **{p: 0.7 for p in "B D G K P T DH".split()},
          **{p: 1.1 for p in "F S SH TH V Z ZH CH JH HH".split()}, **{p: 0.9 for p in "M N NG L R W Y".split()}}


def _spread(w: _Word) -> _Word:
    """The word's phones spread over its frames in proportion to typical durations (each >= 1 frame)."""
    names = [p for p, _, _ in w.phones] or ["SIL"]
    frames = w.end - w.start
    if frames < len(names):  # too short for every phone: keep the ones that fit, vowels first
        order = sorted(range(len(names)), key=lambda i: (names[i] not in VOWELS, i))[:max(frames, 1)]
        names = [names[i] for i in sorted(order)]
    weights = np.array([_PRIOR.get(p, 1.0) for p in names])
    cuts = np.round(np.cumsum(weights) / weights.sum() * frames).astype(int)
    edges = [w.start]
    for k, c in enumerate(cuts):
        lo = edges[-1] + 1
        hi = w.start + frames - (len(names) - 1 - k)
        edges.append(int(min(max(w.start + c, lo), hi)))
    edges[-1] = w.end
    return _Word(w.name, w.start, w.end, w.score, [(p, edges[i], edges[i + 1]) for i, p in enumerate(names)])


def _frame_scores(words: Sequence[_Word], n_frames: int) -> np.ndarray:
    """Per-frame alignment score: each word's (or filler's) score spread over its frames."""
    out = np.zeros(n_frames)
    for w in words:
        if w.end > w.start:
            out[w.start:min(w.end, n_frames)] = w.score / (w.end - w.start)
    return out


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
    _, quiet, pauses = _pauses(audio)
    n_frames = len(quiet)
    speech_before = np.concatenate([[0], np.cumsum(~quiet)])
    total_speech = max(1, int(speech_before[-1]))
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


def _pauses(audio: Audio) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Each 10 ms frame's level (dBFS), whether it is near the line's noise floor, and the centres of the quiet
    runs of at least 150 ms inside the line (pauses), in order."""
    level = _level_db(audio.samples, INTERNAL_SAMPLE_RATE_HZ // 100)
    if not len(level):
        return level, np.zeros(0, dtype=bool), []
    floor = float(np.percentile(level, 10))
    quiet = level < floor + 0.25 * (float(np.percentile(level, 95)) - floor)  # near the noise floor
    n_frames = len(quiet)
    pauses: list[int] = []
    start = None
    for f in range(n_frames + 1):
        if f < n_frames and quiet[f]:
            start = f if start is None else start
        elif start is not None:
            if f - start >= 15 and start > 0 and f < n_frames:
                pauses.append((start + f) // 2)
            start = None
    return level, quiet, pauses


def _recognition_chunks(audio: Audio, start: int, end: int, config: PhonemeConfig) -> list[Window]:
    """Frames [start, end) cut into chunks of about ``config.recognize_chunk_s`` for parallel recognition: each cut
    at the pause nearest its target, else (no pause within half a chunk) at the quietest frame; no chunk longer
    than :data:`RECOGNIZE_CHUNK_S` (decoder memory)."""
    target = int(config.recognize_chunk_s * 100)
    longest = int(RECOGNIZE_CHUNK_S * 100)
    if end - start <= target * 3 // 2:
        return [(start, end)] if end > start else []
    level, _, all_pauses = _pauses(audio)
    pauses = np.array([p for p in all_pauses if start < p < end], dtype=int)
    chunks: list[Window] = []
    lo = start
    while end - lo > target * 3 // 2:
        near = pauses[(pauses >= lo + target // 2) & (pauses <= lo + min(target * 3 // 2, longest))]
        if len(near):
            cut = int(near[np.argmin(np.abs(near - (lo + target)))])
        else:
            window = level[lo + target // 2:lo + min(target * 3 // 2, longest)]
            cut = lo + target // 2 + int(np.argmin(window))
        chunks.append((lo, cut))
        lo = cut
    chunks.append((lo, end))
    return chunks


def _chunk_grammar(words: Sequence[str], head: Window, tail: Window) -> str:
    """FSG (pocketsphinx's text format): any suffix of words[head], the certain words, any prefix of words[tail].

    Written without null transitions, so the phone pass runs on the grammar's own hypothesis (no second
    word pass): state i is "after the first i words"; the start state also emits the first word of
    every suffix of the head, and every word that ends at an allowed last word also goes to the final
    state. Transcript words only ever hold a-z and apostrophes (single tokens in the format).
    """
    seq = list(words[head[0]:tail[1]])
    n, first_certain, last_certain = len(seq), head[1] - head[0], tail[0] - head[0]
    final = n + 1
    arcs = [(i, i + 1, w) for i, w in enumerate(seq)]
    arcs += [(0, i + 1, seq[i]) for i in range(1, min(first_certain, n - 1) + 1)]
    ends = set(range(max(1, last_certain), n + 1))
    arcs += [(a, final, w) for a, b, w in arcs if b in ends]
    lines = ["FSG_BEGIN chunk", f"NUM_STATES {final + 1}", "START_STATE 0", f"FINAL_STATE {final}"]
    lines += [f"TRANSITION {a} {b} 1.0 {w}" for a, b, w in arcs]
    return "\n".join([*lines, "FSG_END", ""])


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
    return np.asarray(10.0 * np.log10(hop_mean_square(samples, hop) + 1e-12))


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
