"""A minimal ctypes binding to the PocketSphinx C API shipped inside the `pocketsphinx` wheel.

Why not the wheel's own Python API: its Cython methods hold the GIL while decoding, so two
decoders in two threads take twice as long as one. ctypes releases the GIL around every C
call, so decoders in different threads really run in parallel (one per core), in one process,
with the models loaded once per decoder. Only the handful of functions Mien needs are bound;
their signatures are those of pocketsphinx 5.x (`include/pocketsphinx.h`,
`include/pocketsphinx/alignment.h`, `include/pocketsphinx/search.h`), pinned by the
`pocketsphinx==5.1.1` requirement.

A :class:`Decoder` is not thread-safe; use one per thread (see ``mien.phonemes``).
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import pocketsphinx

__all__ = ["Decoder", "AlignedPhone", "AlignedWord", "LoopPhone", "model_path"]

_c_int_p = ctypes.POINTER(ctypes.c_int)
_c_int32_p = ctypes.POINTER(ctypes.c_int32)


def model_path(name: str) -> str:
    """Path of a file of the bundled US English model."""
    return os.path.join(pocketsphinx.get_model_path(), "en-us", name)


@cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(pocketsphinx._pocketsphinx.__file__)  # the C library is linked into the extension
    v, p, c, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int
    sigs: dict[str, tuple[object, list[object]]] = {
        "ps_config_init": (v, [v]),
        "ps_config_free": (i, [v]),
        "ps_config_set_str": (v, [v, p, p]),
        "ps_config_set_int": (v, [v, p, ctypes.c_long]),
        "ps_config_set_float": (v, [v, p, ctypes.c_double]),
        "ps_config_set_bool": (v, [v, p, c]),
        "ps_init": (v, [v]),
        "ps_free": (i, [v]),
        "ps_add_word": (i, [v, p, p, c]),
        "ps_lookup_word": (ctypes.c_void_p, [v, p]),
        "ckd_free": (None, [v]),
        "ps_set_align_text": (i, [v, p]),
        "ps_add_fsg": (i, [v, p, v]),
        "ps_get_logmath": (v, [v]),
        "fsg_model_readfile": (v, [p, v, ctypes.c_float]),
        "fsg_model_free": (i, [v]),
        "ps_add_allphone_file": (i, [v, p, p]),
        "ps_get_config": (v, [v]),
        "ps_config_float": (ctypes.c_double, [v, p]),
        "ps_config_str": (p, [v, p]),
        "ps_reinit_feat": (i, [v, v]),
        "ps_seg_prob": (ctypes.c_int32, [v, _c_int32_p, _c_int32_p, _c_int32_p]),
        "ps_remove_search": (i, [v, p]),
        "ps_activate_search": (i, [v, p]),
        "ps_start_stream": (i, [v]),
        "ps_start_utt": (i, [v]),
        "ps_process_raw": (i, [v, ctypes.c_void_p, ctypes.c_size_t, c, c]),
        "ps_end_utt": (i, [v]),
        "ps_get_hyp": (p, [v, _c_int32_p]),
        "ps_seg_iter": (v, [v]),
        "ps_seg_next": (v, [v]),
        "ps_seg_word": (p, [v]),
        "ps_seg_frames": (None, [v, _c_int_p, _c_int_p]),
        "ps_seg_free": (None, [v]),
        "ps_set_alignment": (i, [v, v]),
        "ps_get_alignment": (v, [v]),
        "ps_alignment_words": (v, [v]),
        "ps_alignment_iter_name": (p, [v]),
        "ps_alignment_iter_seg": (i, [v, _c_int_p, _c_int_p]),
        "ps_alignment_iter_next": (v, [v]),
        "ps_alignment_iter_children": (v, [v]),
        "ps_alignment_iter_free": (i, [v]),
        "err_set_loglevel_str": (p, [p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    lib.err_set_loglevel_str(b"FATAL")
    return lib


@dataclass(frozen=True)
class LoopPhone:
    """A phone of a phone-loop (all-phone) recognition: frames [start, end) and its acoustic score."""

    name: str
    start: int
    end: int
    score: int


@dataclass(frozen=True)
class AlignedPhone:
    name: str
    start: int
    duration: int
    score: int


@dataclass(frozen=True)
class AlignedWord:
    name: str
    start: int
    duration: int
    score: int
    phones: tuple[AlignedPhone, ...]


class Decoder:
    """One PocketSphinx decoder (16 kHz US English model). Every decoding call releases the GIL."""

    def __init__(self, *, language_model: bool, **settings: str | int | float | bool) -> None:
        lib = _lib()
        config = lib.ps_config_init(None)
        if not config:
            raise MemoryError("pocketsphinx: cannot create a configuration")
        try:
            lib.ps_config_set_str(config, b"hmm", model_path("en-us").encode())
            lib.ps_config_set_str(config, b"dict", model_path("cmudict-en-us.dict").encode())
            lib.ps_config_set_str(config, b"lm", model_path("en-us.lm.bin").encode() if language_model else None)
            lib.ps_config_set_str(config, b"loglevel", b"FATAL")
            for key, value in settings.items():
                k = key.encode()
                if isinstance(value, bool):
                    lib.ps_config_set_bool(config, k, int(value))
                elif isinstance(value, int):
                    lib.ps_config_set_int(config, k, value)
                elif isinstance(value, float):
                    lib.ps_config_set_float(config, k, value)
                else:
                    lib.ps_config_set_str(config, k, str(value).encode())
            self._ps = lib.ps_init(config)
        finally:
            lib.ps_config_free(config)
        if not self._ps:
            raise RuntimeError("pocketsphinx: cannot initialise the decoder (model files missing?)")
        self._lib = lib

    def close(self) -> None:
        if self._ps:
            self._lib.ps_free(self._ps)
            self._ps = None

    def __del__(self) -> None:
        self.close()

    # ----------------------------------------------------------------- dictionary
    def lookup_word(self, word: str) -> str | None:
        """The dictionary pronunciation ("HH AH L OW"), or None."""
        ptr = self._lib.ps_lookup_word(self._ps, word.encode())
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode()
        finally:
            self._lib.ckd_free(ptr)

    def add_word(self, word: str, phones: str) -> None:
        if self._lib.ps_add_word(self._ps, word.encode(), phones.encode(), 1) < 0:
            raise ValueError(f"pocketsphinx refused the pronunciation {phones!r} for {word!r}")

    # ------------------------------------------------------------------- decoding
    def _decode(self, pcm16: bytes) -> None:
        lib = self._lib
        # A new stream per utterance: without it a decoder's second FSG/JSGF alignment starts with a
        # bogus 1-frame <s> segment, the phone pass then fails silently (every score 0) and the result
        # depends on what the decoder aligned before.
        if lib.ps_start_stream(self._ps) < 0:
            raise RuntimeError("pocketsphinx: cannot start a stream")
        if lib.ps_start_utt(self._ps) < 0:
            raise RuntimeError("pocketsphinx: cannot start an utterance")
        buf = ctypes.create_string_buffer(pcm16, len(pcm16))
        if lib.ps_process_raw(self._ps, buf, len(pcm16) // 2, 0, 1) < 0:
            lib.ps_end_utt(self._ps)
            raise RuntimeError("pocketsphinx: decoding failed")
        lib.ps_end_utt(self._ps)

    def recognize(self, pcm16: bytes) -> str:
        """Decode with the default (n-gram) search; returns the hypothesis text ("" if none)."""
        self._lib.ps_activate_search(self._ps, None)
        self._decode(pcm16)
        score = ctypes.c_int32()
        hyp = self._lib.ps_get_hyp(self._ps, ctypes.byref(score))
        return hyp.decode() if hyp else ""

    @contextmanager
    def _search_settings(self, **floats: float) -> Iterator[None]:
        """Float settings (beams, language weight) for the searches created inside the block only.

        A search reads its settings from the decoder's configuration when it is created, so they are set
        for its creation and restored afterwards (the other searches keep theirs)."""
        lib = self._lib
        config = lib.ps_get_config(self._ps)
        saved = {k: lib.ps_config_float(config, k.encode()) for k in floats}
        try:
            for k, v in floats.items():
                lib.ps_config_set_float(config, k.encode(), v)
            yield
        finally:
            for k, v in saved.items():
                lib.ps_config_set_float(config, k.encode(), v)

    def set_cmn(self, mode: str) -> None:
        """Cepstral mean normalisation: "batch" (the model's setting: the mean of the whole utterance),
        "live" (a running mean from the model's initial one) or "none"."""
        lib = self._lib
        config = lib.ps_get_config(self._ps)
        if (lib.ps_config_str(config, b"cmn") or b"").decode() == mode:
            return
        lib.ps_config_set_str(config, b"cmn", mode.encode())
        if lib.ps_reinit_feat(self._ps, None) < 0:
            raise ValueError(f"pocketsphinx refused cmn={mode!r}; accepted: batch, live, none")

    def align_words(self, pcm16: bytes, text: str, beam: float | None = None) -> bool:
        """Word-level forced alignment of ``text``; False if the words cannot be aligned at all.

        ``beam`` widens (or narrows) every beam of the search (state, phone and word exits) to this value."""
        settings = {} if beam is None else {"beam": beam, "pbeam": beam, "wbeam": beam}
        with self._search_settings(**settings):
            if self._lib.ps_set_align_text(self._ps, text.encode()) < 0:
                return False
        self._decode(pcm16)
        score = ctypes.c_int32()
        return bool(self._lib.ps_get_hyp(self._ps, ctypes.byref(score)))

    def align_grammar(self, pcm16: bytes, fsg: str, beam: float | None = None) -> bool:
        """Word-level alignment constrained by a finite-state grammar in pocketsphinx's FSG text format
        (``FSG_BEGIN`` … ``FSG_END``; e.g. a word sequence with optional ends); ``beam`` as in
        :meth:`align_words`. A grammar without null transitions leaves a hypothesis that
        :meth:`align_phones` can align directly (a JSGF grammar's null transitions leave "(NULL)" words
        in it, which the phone pass cannot align)."""
        lib = self._lib
        # through a file: the only reader pocketsphinx exports besides one from a C stream (fmemopen is POSIX-only)
        with tempfile.TemporaryDirectory(prefix="mien-fsg-") as tmp:
            path = os.path.join(tmp, "chunk.fsg")
            with open(path, "w", encoding="utf-8") as f:
                f.write(fsg)
            model = lib.fsg_model_readfile(os.fsencode(path), lib.ps_get_logmath(self._ps), 1.0)
        if not model:
            return False
        settings = {} if beam is None else {"beam": beam, "pbeam": beam, "wbeam": beam}
        try:
            # adding a search under an existing name replaces it, so one name serves every chunk; the search
            # keeps its own reference to the model
            with self._search_settings(**settings):
                if lib.ps_add_fsg(self._ps, b"mien_chunk", model) < 0:
                    return False
        finally:
            lib.fsg_model_free(model)
        if lib.ps_activate_search(self._ps, b"mien_chunk") < 0:
            return False
        self._decode(pcm16)
        score = ctypes.c_int32()
        return bool(lib.ps_get_hyp(self._ps, ctypes.byref(score)))

    def enable_phone_loop(self, lw: float = 2.0, beam: float = 1e-30, pbeam: float = 1e-30) -> None:
        """Add the all-phone search (a phone loop with the model's phone bigram) under its own beams."""
        with self._search_settings(lw=lw, beam=beam, pbeam=pbeam):
            if self._lib.ps_add_allphone_file(self._ps, b"mien_phones",
                                              model_path("en-us-phone.lm.bin").encode()) < 0:
                raise RuntimeError("pocketsphinx: cannot create the phone-loop search")

    def phone_loop(self, pcm16: bytes) -> list[LoopPhone]:
        """Unconstrained phone recognition of ``pcm16`` (after :meth:`enable_phone_loop`)."""
        lib = self._lib
        if lib.ps_activate_search(self._ps, b"mien_phones") < 0:
            raise RuntimeError("pocketsphinx: the phone-loop search is not enabled")
        self._decode(pcm16)
        out: list[LoopPhone] = []
        seg = lib.ps_seg_iter(self._ps)
        sf, ef = ctypes.c_int(), ctypes.c_int()
        ascr, lscr, lback = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        while seg:
            lib.ps_seg_frames(seg, ctypes.byref(sf), ctypes.byref(ef))
            lib.ps_seg_prob(seg, ctypes.byref(ascr), ctypes.byref(lscr), ctypes.byref(lback))
            out.append(LoopPhone(lib.ps_seg_word(seg).decode(), sf.value, ef.value + 1, ascr.value))
            seg = lib.ps_seg_next(seg)
        return out

    def align_phones(self, pcm16: bytes) -> list[AlignedWord] | None:
        """Second pass: phone alignment within the current hypothesis (after align_words or recognize)."""
        lib = self._lib
        if lib.ps_set_alignment(self._ps, None) < 0:
            return None
        self._decode(pcm16)
        alignment = lib.ps_get_alignment(self._ps)
        if not alignment:
            return None
        words: list[AlignedWord] = []
        start, duration = ctypes.c_int(), ctypes.c_int()
        itor = lib.ps_alignment_words(alignment)
        while itor:
            score = lib.ps_alignment_iter_seg(itor, ctypes.byref(start), ctypes.byref(duration))
            name = lib.ps_alignment_iter_name(itor).decode()
            w_start, w_dur = start.value, duration.value
            phones: list[AlignedPhone] = []
            child = lib.ps_alignment_iter_children(itor)
            while child:
                p_score = lib.ps_alignment_iter_seg(child, ctypes.byref(start), ctypes.byref(duration))
                phones.append(AlignedPhone(lib.ps_alignment_iter_name(child).decode(), start.value, duration.value,
                                           p_score))
                child = lib.ps_alignment_iter_next(child)
            words.append(AlignedWord(name, w_start, w_dur, score, tuple(phones)))
            itor = lib.ps_alignment_iter_next(itor)
        return words
