"""espeak-ng speech synthesis with exact phone timings, through ctypes on ``libespeak-ng.so.1``.

espeak-ng is initialised in ``AUDIO_OUTPUT_SYNCHRONOUS`` mode with ``espeakINITIALIZE_PHONEME_EVENTS``; a
synth
callback collects the 16-bit samples and the event list.  PHONEME events carry the phoneme mnemonic (packed in
the ``id`` union as an 8-byte string) and the position of its first sample; WORD events carry the character
span of the word in the input text.  A phoneme lasts until the next phoneme event; the last one lasts until
the
end of the audio.  Mnemonics are mapped to ARPAbet by :mod:`training.data.arpabet`.

The timeline is exact in the sense that it is the synthesiser's own schedule — every sample belongs to the
phoneme espeak-ng was generating (events are reported at sample resolution in the ``sample`` field; the
documented ``audio_position`` is the same position rounded to ms, which is checked).

Determinism: espeak-ng keeps wave-generator state (pitch-period phase, jitter) across calls, so the same text
synthesised twice in one process can differ by a few samples.  The first utterance after initialisation is
bit-exact; the dataset builder therefore synthesises fixed chunks of clips in fresh worker processes.

Never use mbrola voices (non-free data): :func:`check_voice_name` rejects them.

CLI::

    python -m training.data.espeak --n 2000 --seed 0 --out ~/.cache/mien/data/espeak
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import multiprocessing as mp
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from training.data import arpabet
from training.data.textgen import SentenceGenerator

LIBRARY_NAME = "libespeak-ng.so.1"
LICENCE = "generated with espeak-ng (GPL-3.0 program; output not covered)"
DEFAULT_OUT = Path("~/.cache/mien/data/espeak")
OUTPUT_SAMPLE_RATE = 16000
# : Clips per fresh worker process (see "Determinism" above).  Changing it changes the audio of a seed
# slightly.
CHUNK_SIZE = 25

# --- espeak-ng C API constants (speak_lib.h, API revision 12) ---------------------------------------------
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
POS_CHARACTER = 1
EE_OK = 0

EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
EVENT_SENTENCE = 2
EVENT_MARK = 3
EVENT_PLAY = 4
EVENT_END = 5
EVENT_MSG_TERMINATED = 6
EVENT_PHONEME = 7
EVENT_SAMPLERATE = 8

PARAM_RATE = 1
PARAM_VOLUME = 2
PARAM_PITCH = 3
PARAM_RANGE = 4
PARAM_WORDGAP = 7

RATE_MIN, RATE_MAX = 80, 450

#: ARPAbet phones whose closure espeak-ng renders as silence *before* the phoneme event.
VOICELESS_STOPS = frozenset({"P", "T", "K", "CH"})
CLOSURE_SILENCE_MAX = 2  # |int16| at or below this counts as digital silence
CLOSURE_SEARCH_S = 0.006  # the silent run must end within this distance before the release event
MIN_CLOSURE_S = 0.005
MIN_PREV_S = 0.010
MIN_VOWEL_TO_SPLIT_S = 0.060
ZERO_PHONE_SHARE = 0.35
ZERO_PHONE_MAX_S = 0.060

#: espeak-ng English voices (language codes) using free formant synthesis.  ``en-us*`` use American tables.
ENGLISH_VOICES: tuple[str, ...] = (
    "en-us",
    "en-us-nyc",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
#: Human-sounding voice variants from ``espeak-ng-data/voices/!v`` (``""`` = the language's default voice).
# : Left out: robotic / whisper / creaky / novelty variants, and variants with an ``echo`` line (f2–f5, m2),
# whose
#: echo fills the stop closures that :func:`attach_stop_closures` looks for.
VOICE_VARIANTS: tuple[str, ...] = (
    "",
    "m1",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "klatt",
    "klatt2",
    "klatt3",
    "Alex",
    "Andy",
    "Annie",
    "adam",
    "andrea",
    "anika",
    "aunty",
    "boris",
    "david",
    "ed",
    "edward",
    "grandma",
    "grandpa",
    "john",
    "linda",
    "max",
    "michel",
    "norbert",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "steph",
    "travis",
    "victor",
    "zac",
)


class EspeakUnavailableError(OSError):
    """``libespeak-ng.so.1`` (or its data) cannot be loaded."""


class EspeakError(RuntimeError):
    """espeak-ng returned an error code or produced an unusable result."""


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Event:
    """One espeak-ng event (copied out of the C struct)."""

    type: int
    text_position: int
    length: int
    audio_position_ms: int
    sample: int
    phoneme: str = ""


@dataclass(frozen=True)
class PhoneSegment:
    """``[start, end)`` in seconds, an ARPAbet phone without stress (or SIL) and its word (SIL: ``""``)."""

    start: float
    end: float
    phone: str
    word: str


@dataclass(frozen=True)
class VoiceSettings:
    """Voice ``language[+variant]``, rate (words/min, 80–450), pitch and range (0–100), word gap (10 ms)."""

    voice: str = "en-us"
    rate: int = 175
    pitch: int = 50
    pitch_range: int = 50
    word_gap: int = 0

    @property
    def american(self) -> bool:
        """Whether the voice uses espeak-ng's American phoneme tables."""
        return arpabet.is_american_voice(self.voice)


@dataclass
class Synthesis:
    """Result of :meth:`Espeak.synthesize`: native-rate audio, ARPAbet timeline and raw espeak phonemes."""

    text: str
    settings: VoiceSettings
    samples: np.ndarray  # float32 mono in [-1, 1)
    sample_rate: int
    phones: list[PhoneSegment]
    espeak_phonemes: list[PhoneSegment] = field(default_factory=list)  # same, with espeak mnemonics

    @property
    def duration(self) -> float:
        """Clip duration in seconds."""
        return len(self.samples) / self.sample_rate


def check_voice_name(voice: str) -> None:
    """Reject names that are not plain ``language[+variant]`` or that select an mbrola voice.

    Raises:
        ValueError: the name is unsafe or an mbrola voice.
    """
    if not re.fullmatch(r"[A-Za-z0-9-]+(\+[A-Za-z0-9_-]+)?", voice):
        raise ValueError(f"bad espeak-ng voice name {voice!r}")
    if voice.lower().startswith("mb-") or "mbrola" in voice.lower():
        raise ValueError(f"mbrola voices are not allowed (non-free): {voice!r}")


def espeak_available() -> bool:
    """True if ``libespeak-ng.so.1`` can be loaded."""
    try:
        ctypes.CDLL(LIBRARY_NAME)
    except OSError:
        return ctypes.util.find_library("espeak-ng") is not None
    return True


class Espeak:
    """Process-wide espeak-ng instance (the C library has global state; use :meth:`get`)."""

    _instance: Espeak | None = None
    _instance_pid: int = -1

    def __init__(self, data_path: str | None = None) -> None:
        try:
            self._lib = ctypes.CDLL(LIBRARY_NAME)
        except OSError as exc:
            raise EspeakUnavailableError(f"cannot load {LIBRARY_NAME}: {exc}") from exc
        lib = self._lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_CALLBACK,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        path = data_path.encode() if data_path else None
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, path, INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakUnavailableError(f"espeak_Initialize failed ({rate}); is espeak-ng-data installed?")
        self.sample_rate: int = rate
        self._chunks: list[np.ndarray] = []
        self._events: list[Event] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: C holds only a raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> Espeak:
        """The instance of this process (created on first use; re-created after ``fork``)."""
        if cls._instance is None or cls._instance_pid != os.getpid():
            cls._instance = cls()
            cls._instance_pid = os.getpid()
        return cls._instance

    def _on_synth(self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            name = ""
            if ev.type == EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", errors="replace")
            self._events.append(
                Event(ev.type, ev.text_position, ev.length, ev.audio_position, ev.sample, name)
            )
            i += 1
        return 0

    def _check(self, what: str, code: int) -> None:
        if code != EE_OK:
            raise EspeakError(f"{what} failed with code {code}")

    def set_voice(self, settings: VoiceSettings) -> None:
        """Select voice and prosody parameters."""
        check_voice_name(settings.voice)
        if not RATE_MIN <= settings.rate <= RATE_MAX:
            raise ValueError(f"rate {settings.rate} outside {RATE_MIN}..{RATE_MAX}")
        for name, value in (("pitch", settings.pitch), ("pitch_range", settings.pitch_range)):
            if not 0 <= value <= 100:
                raise ValueError(f"{name} {value} outside 0..100")
        self._check(
            f"espeak_SetVoiceByName({settings.voice})",
            self._lib.espeak_SetVoiceByName(settings.voice.encode()),
        )
        self._check("SetParameter(rate)", self._lib.espeak_SetParameter(PARAM_RATE, settings.rate, 0))
        self._check("SetParameter(pitch)", self._lib.espeak_SetParameter(PARAM_PITCH, settings.pitch, 0))
        self._check(
            "SetParameter(range)", self._lib.espeak_SetParameter(PARAM_RANGE, settings.pitch_range, 0)
        )
        self._check(
            "SetParameter(wordgap)", self._lib.espeak_SetParameter(PARAM_WORDGAP, settings.word_gap, 0)
        )

    def synthesize_raw(self, text: str, settings: VoiceSettings) -> tuple[np.ndarray, list[Event]]:
        """Synthesize ``text``; return the int16 samples at :attr:`sample_rate` and the event list."""
        self.set_voice(settings)
        self._chunks.clear()
        self._events.clear()
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        self._check(
            "espeak_Synth",
            self._lib.espeak_Synth(
                ctypes.cast(buf, ctypes.c_void_p), len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None
            ),
        )
        self._check("espeak_Synchronize", self._lib.espeak_Synchronize())
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples.astype(np.int16, copy=False), list(self._events)

    def synthesize(self, text: str, settings: VoiceSettings | None = None) -> Synthesis:
        """Synthesize ``text`` and build the ARPAbet phone timeline covering the whole clip.

        Raises:
            EspeakError: no audio, or events inconsistent with the audio.
            arpabet.UnknownPhonemeError: espeak-ng emitted a mnemonic without a mapping.
        """
        settings = settings or VoiceSettings()
        pcm, events = self.synthesize_raw(text, settings)
        if len(pcm) == 0:
            raise EspeakError(f"no audio for {text!r}")
        raw = raw_timeline(events, text, len(pcm), self.sample_rate)
        raw = attach_stop_closures(raw, pcm, self.sample_rate, american=settings.american)
        phones = to_arpabet_timeline(raw, american=settings.american)
        return Synthesis(
            text=text,
            settings=settings,
            samples=(pcm.astype(np.float32) / 32768.0),
            sample_rate=self.sample_rate,
            phones=phones,
            espeak_phonemes=raw,
        )


def data_path() -> Path:
    """Directory of the espeak-ng data used by the library (``espeak_Info``)."""
    lib = Espeak.get()._lib
    lib.espeak_Info.argtypes = (ctypes.POINTER(ctypes.c_char_p),)
    lib.espeak_Info.restype = ctypes.c_char_p
    path = ctypes.c_char_p()
    lib.espeak_Info(ctypes.byref(path))
    if not path.value:
        raise EspeakUnavailableError("espeak_Info returned no data path")
    return Path(path.value.decode())


PHONTAB_NAME_LEN = 32
PHONEME_TAB_SIZE = 16
PHONTAB_HEADER = 4


def phoneme_tables(phontab: Path) -> dict[str, tuple[int, list[str]]]:
    """Parse espeak-ng's compiled ``phontab``: table name → (parent table index or -1, phoneme mnemonics).

    Format (espeak-ng ``synthdata.c``): byte 0 = number of tables, 4-byte header; per table: n_phonemes (1
    byte),
    includes (1 byte, 1-based parent index, 0 = none), 2 bytes padding, a 32-byte name, then n_phonemes
    16-byte
    ``PHONEME_TAB`` records whose first 4 bytes hold the mnemonic (little-endian packed chars).
    """
    data = phontab.read_bytes()
    n_tables = data[0]
    off = PHONTAB_HEADER
    tables: dict[str, tuple[int, list[str]]] = {}
    for _ in range(n_tables):
        n_ph, includes = data[off], data[off + 1]
        off += 4
        name = data[off : off + PHONTAB_NAME_LEN].split(b"\0", 1)[0].decode("ascii")
        off += PHONTAB_NAME_LEN
        names = []
        for k in range(n_ph):
            rec = data[off + k * PHONEME_TAB_SIZE : off + k * PHONEME_TAB_SIZE + 4]
            mnem = rec.split(b"\0", 1)[0].decode("latin-1")
            if mnem:
                names.append(mnem)
        off += n_ph * PHONEME_TAB_SIZE
        tables[name] = (includes - 1, names)
    return tables


def english_phoneme_inventory(phontab: Path) -> set[str]:
    """All mnemonics reachable from espeak-ng's English tables (``en``, ``en-*`` and their parents)."""
    tables = phoneme_tables(phontab)
    names = list(tables)
    out: set[str] = set()
    for name, (parent, phonemes) in tables.items():
        if name != "en" and not name.startswith("en-"):
            continue
        out.update(phonemes)
        seen = {name}
        while parent >= 0 and names[parent] not in seen:
            seen.add(names[parent])
            parent, inherited = tables[names[parent]]
            out.update(inherited)
    return out


def _word_at(text: str, position: int, length: int) -> str:
    """The word of a WORD event (``text_position`` is 1-based, in characters), normalised to lowercase."""
    span = text[max(position - 1, 0) : max(position - 1, 0) + max(length, 0)]
    return re.sub(r"[^a-z0-9']+", "", span.lower()).strip("'")


def event_seconds(ev: Event, sample_rate: int) -> float:
    """Position of an event in seconds (``sample`` field; must agree with the ms field to within 2 ms)."""
    t = ev.sample / sample_rate
    if abs(t * 1000.0 - ev.audio_position_ms) > 2.0:
        raise EspeakError(f"event sample {ev.sample} disagrees with audio_position {ev.audio_position_ms} ms")
    return t


def raw_timeline(events: Sequence[Event], text: str, n_samples: int, sample_rate: int) -> list[PhoneSegment]:
    """Contiguous ``[0, duration]`` timeline of espeak mnemonics (``phone`` = mnemonic; leading gap ``_``)."""
    duration = n_samples / sample_rate
    starts: list[tuple[float, str, str]] = []
    word = ""
    for ev in events:
        if ev.type == EVENT_WORD:
            word = _word_at(text, ev.text_position, ev.length) if ev.length > 0 else ""
        elif ev.type == EVENT_PHONEME:
            t = min(event_seconds(ev, sample_rate), duration)
            if starts and t < starts[-1][0]:
                raise EspeakError(f"phoneme events out of order at {t:.4f}s")
            starts.append((t, ev.phoneme, word))
    segs: list[PhoneSegment] = []
    if not starts or starts[0][0] > 0.0:
        segs.append(PhoneSegment(0.0, starts[0][0] if starts else duration, "_", ""))
    for i, (t, name, w) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else duration
        segs.append(PhoneSegment(t, end, name, w))
    return segs


def attach_stop_closures(
    raw: Sequence[PhoneSegment], pcm: np.ndarray, sample_rate: int, *, american: bool
) -> list[PhoneSegment]:
    """Move the silent closure of voiceless stops / affricates from the previous phoneme into the stop.

    espeak-ng reports a voiceless stop (``p t k tS`` …) at its *release*; the closure before it — digital
    silence in espeak's output — is inside the previous phoneme's span.  The lips/tongue are closed during
    that
    silence, so for articulation targets it belongs to the stop.  For each such stop (not after a pause) the
    run
    of (near-)zero samples ending at the event is found and the boundary moved to its start, leaving the
    previous phoneme at least ``MIN_PREV_S`` (or half its length).  Voices with echo fill the closure and are
    excluded from :data:`VOICE_VARIANTS`; without a silent run nothing changes.
    """
    out = list(raw)
    silent = np.abs(pcm.astype(np.int32)) <= CLOSURE_SILENCE_MAX
    for i in range(1, len(out)):
        seg, prev = out[i], out[i - 1]
        mapped = arpabet.to_arpabet(seg.phone, american=american)
        prev_mapped = arpabet.to_arpabet(prev.phone, american=american)
        if not mapped or mapped[0] not in VOICELESS_STOPS or not prev_mapped or prev_mapped[0] == arpabet.SIL:
            continue
        s0 = min(round(seg.start * sample_rate), len(pcm))
        lo = max(s0 - int(CLOSURE_SEARCH_S * sample_rate), 0)
        hits = np.flatnonzero(silent[lo:s0])
        if len(hits) == 0:
            continue
        j = lo + int(hits[-1])  # last silent sample before the release
        r = j
        while r > 0 and silent[r - 1]:
            r -= 1
        if (j - r) / sample_rate < MIN_CLOSURE_S:
            continue
        prev_dur = prev.end - prev.start
        earliest = prev.start + min(MIN_PREV_S, 0.5 * prev_dur)
        boundary = max(r / sample_rate, earliest)
        if boundary >= seg.start:
            continue
        out[i - 1] = PhoneSegment(prev.start, boundary, prev.phone, prev.word)
        out[i] = PhoneSegment(boundary, seg.end, seg.phone, seg.word)
    return out


def to_arpabet_timeline(raw: Sequence[PhoneSegment], *, american: bool) -> list[PhoneSegment]:
    """Map a mnemonic timeline to ARPAbet; zero-width markers merge into the previous phone, pauses → SIL.

    Multi-phone mappings split their segment evenly.  A zero-length phoneme right after a vowel of at least
    60 ms (espeak does this for post-vocalic /l/ before a consonant) takes the last 35 % (at most 60 ms) of
    the
    vowel.  Adjacent SIL segments are merged, other zero-length segments dropped; the result covers exactly
    the
    same span as ``raw``.
    """
    out: list[PhoneSegment] = []
    for seg in raw:
        phones = arpabet.to_arpabet(seg.phone, american=american)
        if not phones:
            if out:
                prev = out[-1]
                out[-1] = PhoneSegment(prev.start, seg.end, prev.phone, prev.word)
            elif seg.end > seg.start:
                out.append(PhoneSegment(seg.start, seg.end, arpabet.SIL, ""))
            continue
        start0 = seg.start
        if seg.end <= seg.start and out and out[-1].phone in arpabet.VOWELS and phones[0] != arpabet.SIL:
            # espeak renders e.g. post-vocalic /l/ before a consonant ("film", "self") inside the vowel and
            # reports it with zero length: give it the vowel's tail.
            prev = out[-1]
            dur = prev.end - prev.start
            if dur >= MIN_VOWEL_TO_SPLIT_S:
                start0 = prev.end - min(ZERO_PHONE_SHARE * dur, ZERO_PHONE_MAX_S)
                out[-1] = PhoneSegment(prev.start, start0, prev.phone, prev.word)
        step = (seg.end - start0) / len(phones)
        for k, ph in enumerate(phones):
            start = start0 + k * step
            end = seg.end if k == len(phones) - 1 else start0 + (k + 1) * step
            word = "" if ph == arpabet.SIL else seg.word
            if out and ph == arpabet.SIL and out[-1].phone == arpabet.SIL:
                out[-1] = PhoneSegment(out[-1].start, end, arpabet.SIL, "")
            elif end > start:
                out.append(PhoneSegment(start, end, ph, word))
            elif out:  # zero-length phone: keep the timeline contiguous
                out[-1] = PhoneSegment(out[-1].start, end, out[-1].phone, out[-1].word)
    return out


def write_phones_tsv(path: Path, phones: Sequence[PhoneSegment]) -> None:
    """Write ``start_s<TAB>end_s<TAB>phone<TAB>word`` lines (no header; the scorer's REF format)."""
    with open(path, "w", encoding="utf-8") as f:
        for p in phones:
            f.write(f"{p.start:.4f}\t{p.end:.4f}\t{p.phone}\t{p.word}\n")


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (float32 in/out)."""
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    g = np.gcd(sr_in, sr_out)
    return resample_poly(samples.astype(np.float64), sr_out // g, sr_in // g).astype(np.float32)


# --- dataset builder ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one generated clip."""

    clip_id: str
    text: str
    settings: VoiceSettings


def sample_settings(rng: np.random.Generator) -> VoiceSettings:
    """Random voice / variant / prosody (rate 110–300 wpm, pitch 20–80, range 20–90, sometimes a word gap)."""
    lang = ENGLISH_VOICES[int(rng.integers(len(ENGLISH_VOICES)))]
    # Bias towards American voices (CMUdict-compatible phone sets): half of the clips.
    if rng.random() < 0.5:
        lang = "en-us"
    variant = VOICE_VARIANTS[int(rng.integers(len(VOICE_VARIANTS)))]
    voice = f"{lang}+{variant}" if variant else lang
    rate = int(np.clip(rng.normal(175, 40), 110, 300))
    return VoiceSettings(
        voice=voice,
        rate=rate,
        pitch=int(rng.integers(20, 81)),
        pitch_range=int(rng.integers(20, 91)),
        word_gap=int(rng.choice([0, 0, 0, 1, 2])),
    )


def plan_clips(n: int, seed: int) -> list[ClipSpec]:
    """The deterministic list of clips for ``(n, seed)``; clip ``i`` depends only on ``(seed, i)``."""
    specs = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        text = SentenceGenerator(rng).utterance()
        specs.append(ClipSpec(f"espeak_s{seed}_{i:06d}", text, sample_settings(rng)))
    return specs


def _render_chunk(args: tuple[list[ClipSpec], str, int]) -> list[dict[str, object]]:
    """Worker: synthesize a chunk of clips in this (fresh) process and write them; return manifest rows."""
    specs, out_dir, out_sr = args
    out = Path(out_dir)
    engine = Espeak.get()
    rows: list[dict[str, object]] = []
    for spec in specs:
        syn = engine.synthesize(spec.text, spec.settings)
        audio = resample(syn.samples, syn.sample_rate, out_sr)
        pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
        sf.write(out / f"{spec.clip_id}.wav", pcm, out_sr, subtype="PCM_16")
        write_phones_tsv(out / f"{spec.clip_id}.phones.tsv", syn.phones)
        (out / f"{spec.clip_id}.txt").write_text(spec.text + "\n", encoding="utf-8")
        rows.append(
            {
                "id": spec.clip_id,
                "voice": spec.settings.voice,
                "rate": spec.settings.rate,
                "pitch": spec.settings.pitch,
                "pitch_range": spec.settings.pitch_range,
                "word_gap": spec.settings.word_gap,
                "duration_s": round(len(pcm) / out_sr, 4),
                "text": spec.text,
                "native_sample_rate": syn.sample_rate,
                "sample_rate": out_sr,
                "n_phones": sum(1 for p in syn.phones if p.phone != arpabet.SIL),
                "licence": LICENCE,
            }
        )
    return rows


def _chunks(items: Sequence[ClipSpec], size: int) -> Iterator[list[ClipSpec]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def build_dataset(
    n: int, seed: int, out: Path, workers: int = 2, sample_rate: int = OUTPUT_SAMPLE_RATE
) -> Path:
    """Generate ``n`` clips into ``out`` (wav + phones.tsv + txt + manifest.jsonl); return the manifest path.

    Chunks of :data:`CHUNK_SIZE` clips each run in a fresh process (``maxtasksperchild=1``), so the output
    depends only on ``(n, seed)``, not on the number of workers.
    """
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_clips(n, seed)
    jobs = [(chunk, str(out), sample_rate) for chunk in _chunks(specs, CHUNK_SIZE)]
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    rows: list[dict[str, object]] = []
    with ctx.Pool(processes=max(1, workers), maxtasksperchild=1) as pool:
        for chunk_rows in pool.imap(_render_chunk, jobs):
            rows.extend(chunk_rows)
    manifest = out / "manifest.jsonl"
    with open(manifest, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.data.espeak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="number of clips")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (outside the repo)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--sample-rate", type=int, default=OUTPUT_SAMPLE_RATE)
    ap.add_argument("--say", help="synthesize one text and print its phone timeline instead")
    ap.add_argument("--voice", default="en-us")
    args = ap.parse_args(argv)
    if args.say:
        syn = Espeak.get().synthesize(args.say, VoiceSettings(voice=args.voice))
        print(f"# {syn.duration:.3f}s at {syn.sample_rate} Hz, voice {args.voice}")
        for p in syn.phones:
            print(f"{p.start:.4f}\t{p.end:.4f}\t{p.phone}\t{p.word}")
        return 0
    out = args.out.expanduser()
    t0 = time.perf_counter()
    manifest = build_dataset(args.n, args.seed, out, workers=args.workers, sample_rate=args.sample_rate)
    dt = time.perf_counter() - t0
    total = sum(json.loads(line)["duration_s"] for line in open(manifest, encoding="utf-8"))
    print(
        f"wrote {args.n} clips ({total / 60:.1f} min of audio) to {out} in {dt:.1f}s "
        f"({args.n / dt:.1f} clips/s, {args.workers} workers); manifest {manifest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
