"""Phone timelines: text normalisation, unknown words, alignment, mismatch detection, recognition."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from conftest import SPEECH, speech_bytes, transcript
from mien import Animator
from mien._g2p import spell_out
from mien._text import number_words, tokenize
from mien.audio import Audio, decode_audio
from mien.phonemes import ARPABET, VISEMES


def audio_of(name: str):  # type: ignore[no-untyped-def]
    return decode_audio(speech_bytes(name), max_duration_s=60)


def test_numbers_and_punctuation_become_words() -> None:
    words = [w for t in tokenize("Mr. Smith paid $3.50 for 2 apples on May 1st, 1999 -- 100% sure!") for w in t.words]
    assert words == ["mister", "smith", "paid", "three", "dollars", "fifty", "cents", "for", "two", "apples", "on",
                     "may", "first", "nineteen", "ninety", "nine", "one", "hundred", "percent", "sure"]
    assert number_words(1205) == ["one", "thousand", "two", "hundred", "five"]
    assert number_words(-3) == ["minus", "three"]


def test_non_ascii_is_folded_or_flagged() -> None:
    tokens = tokenize("Café naïve 東京 Zoë")
    assert [t.words for t in tokens] == [("cafe",), ("naive",), (), ("zoe",)]
    assert [t.speakable for t in tokens] == [True, True, False, True]


def test_spelling_fallback_keeps_visible_consonants() -> None:
    known = {"dash": "D AE SH", "wood": "W UH D", "ish": "IH SH"}
    assert spell_out("dashwoodish", known.get) == "D AE SH W UH D IH SH".split()
    phones = spell_out("blorpmaff", lambda w: None)
    assert phones[0] == "B" and "P" in phones and "M" in phones and "F" in phones
    assert all(p in ARPABET for p in phones)


def test_alignment_follows_the_words(animator: Animator) -> None:
    timeline = animator.recognizer.align(audio_of("goforward"), transcript("goforward"))
    assert timeline.mode == "aligned" and not timeline.warnings
    words = [p.word for p in timeline.phones if p.word]
    assert [w for i, w in enumerate(words) if i == 0 or words[i - 1] != w] == ["go", "forward", "ten", "meters"]
    assert timeline.phones[0].start_s == 0.0
    assert abs(timeline.phones[-1].end_s - audio_of("goforward").duration_s) < 0.011
    assert all(p.viseme == VISEMES.get(p.phone, "sil") for p in timeline.phones)
    m = [p for p in timeline.phones if p.phone == "M"]
    assert len(m) == 1 and m[0].word == "meters"


def test_unknown_numbers_and_non_ascii_words_do_not_fail_the_line(animator: Animator) -> None:
    # "meterz" is not in the dictionary (spelled by rule), "10" is a number, "Gó" and "förward" fold to ASCII
    timeline = animator.recognizer.align(audio_of("goforward"), "Gó, förward... 10 meterz!")
    assert timeline.mode == "aligned" and not timeline.warnings
    assert [p.word for p in timeline.phones if p.phone == "M"] == ["meterz"]


def test_unpronounceable_text_is_reported_not_fatal(animator: Animator) -> None:
    timeline = animator.recognizer.align(audio_of("goforward"), "go forward ten meters 東京")
    assert any("東京" in w for w in timeline.warnings)
    assert sum(p.phone != "SIL" for p in timeline.phones) >= 8


def test_transcript_of_other_audio_is_detected_and_falls_back(animator: Animator) -> None:
    timeline = animator.recognizer.align(audio_of("goforward"), transcript("librivox_0920"))
    assert timeline.mode == "recognized"
    assert any("does not match the audio" in w for w in timeline.warnings)
    # the fallback still moves the mouth: plenty of non-silent phones
    assert sum(p.phone != "SIL" for p in timeline.phones) >= 8


def test_partly_wrong_transcript_recognises_that_span(animator: Animator) -> None:
    text = transcript("librivox_0930").replace("amiable himself", "pumpkin casserole")
    timeline = animator.recognizer.align(audio_of("librivox_0930"), text)
    assert timeline.mode in ("aligned", "recognized")
    assert timeline.warnings, "a wrong span must be reported"


def test_recognition_without_transcript(animator: Animator) -> None:
    timeline = animator.recognizer.recognize(audio_of("librivox_0880"))
    assert timeline.mode == "recognized"
    phones = [p.phone for p in timeline.phones if p.phone != "SIL"]
    assert len(phones) >= 15
    assert {"M", "P", "B"} & set(phones)


def test_silence_gives_silence(animator: Animator) -> None:
    from mien.audio import Audio

    quiet = Audio(np.zeros(16000, dtype=np.float32))
    for timeline in (animator.recognizer.recognize(quiet), animator.recognizer.align(quiet, "hello")):
        assert (timeline.phones and all(p.phone == "SIL" for p in timeline.phones)) or timeline.warnings


@pytest.mark.parametrize("text", ["", "   ", "...!?", "東京"])
def test_empty_or_unspeakable_transcripts(animator: Animator, text: str) -> None:
    timeline = animator.recognizer.timeline(audio_of("goforward"), text)
    assert timeline.mode == "recognized"


def test_same_line_same_timeline_whatever_came_before(animator: Animator) -> None:
    """Decoders keep no history between lines (batch CMN), in either decoder of the pool."""
    first = animator.recognizer.align(audio_of("cards_001"), transcript("cards_001"))
    for name in ("librivox_0870", "goforward", "cards_005", "librivox_0920"):
        animator.recognizer.align(audio_of(name), transcript(name))
        animator.recognizer.recognize(audio_of(name))
        assert animator.recognizer.align(audio_of("cards_001"), transcript("cards_001")) == first


def test_one_decoder_aligns_any_sequence_of_lines_like_fresh_decoders() -> None:
    """Regression: a decoder's second alignment used to start with a bogus <s> segment (no new stream)."""
    from mien.phonemes import PhonemeConfig, PhoneRecognizer

    names = ["cards_001", "goforward", "librivox_0880", "cards_005", "goforward", "cards_001"]
    shared = PhoneRecognizer(PhonemeConfig(aligners=1))
    for name in names:
        fresh = PhoneRecognizer(PhonemeConfig(aligners=1)).align(audio_of(name), transcript(name))
        assert shared.align(audio_of(name), transcript(name)) == fresh, name


def test_degenerate_phone_alignment_is_repaired_and_reported(animator: Animator) -> None:
    """A failed phone pass leaves every phone spanning its word: re-aligned alone, else spread by duration
    priors; never one phone over a whole word, and the warning says what was done."""
    from mien.phonemes import _partitions, _spread, _Word

    recognizer = animator.recognizer
    audio = audio_of("goforward")
    words, _ = recognizer._prepare_words(transcript("goforward"))
    aligned = recognizer._align_words(audio, words, None)
    assert aligned is not None and all(_partitions(w) for w in aligned)
    k = next(i for i, w in enumerate(aligned) if w.name == "forward")
    good = aligned[k]
    broken = _Word(good.name, good.start, good.end, 0, [(p, good.start, good.end) for p, _, _ in good.phones])
    assert not _partitions(broken)
    repaired, warnings = recognizer._repair(audio, [*aligned[:k], broken, *aligned[k + 1:]])
    assert _partitions(repaired[k]) and [p for p, _, _ in repaired[k].phones] == [p for p, _, _ in good.phones]
    assert (repaired[k].start, repaired[k].end) == (good.start, good.end)
    assert len(warnings) == 1 and "'forward'" in warnings[0] and "re-aligned" in warnings[0]
    # where re-alignment is impossible (12 frames: too short for six 3-state phones), the phones are spread
    silent = _Word("forward", 0, 12, 0, [(p, 0, 12) for p in ("F", "AO", "R", "W", "ER", "D")])
    spread = _spread(silent)
    assert _partitions(spread) and len(spread.phones) == 6
    lengths = {p: b - a for p, a, b in spread.phones}
    assert lengths["AO"] > lengths["D"] and min(lengths.values()) >= 1
    from mien.audio import Audio

    quiet = Audio(np.zeros(16000, dtype=np.float32))
    fixed, notes = recognizer._repair(quiet, [silent])
    assert _partitions(fixed[0]) and "spread its phones" in notes[0]
    assert _partitions(_spread(_Word("a", 5, 7, 0, [("P", 5, 7), ("AA", 5, 7), ("M", 5, 7)])))


def test_a_long_line_is_aligned_chunk_by_chunk(animator: Animator) -> None:
    """Past ``split_min_s`` a line is cut at pauses and its chunks aligned in parallel, each to a grammar of the
    words that may lie in it. Every chunk used to fail its phone pass (a JSGF hypothesis cannot be phone-aligned)
    and the line was aligned whole: slower, and ~2 GB of decoder for a 300 s line. The chunks must account for
    every word themselves."""
    from mien.phonemes import _is_word, _plan_chunks

    names = ["librivox_0870", "librivox_0880", "librivox_0890", "librivox_0920"]
    pause = np.zeros(8000, dtype=np.float32)
    parts = [np.concatenate([audio_of(n).samples, pause]) for n in names]
    audio = Audio(np.concatenate(parts))
    text = " ".join(transcript(n) for n in names)
    recognizer = animator.recognizer
    assert audio.duration_s >= recognizer.config.split_min_s
    words, _ = recognizer._prepare_words(text)
    plan = _plan_chunks(audio, len(words), recognizer.config)
    assert plan is not None and len(plan) >= 2
    chunked = recognizer._align_chunked(audio.pcm16(), words, plan)
    assert chunked is not None, "the chunks did not account for the words: the line would be aligned whole"
    assert [w.name.split("(")[0] for w in chunked if _is_word(w.name)] == words


def test_a_chunk_grammar_accepts_exactly_a_head_suffix_the_certain_words_and_a_tail_prefix() -> None:
    """The chunk's grammar (pocketsphinx FSG text) has a word on every transition (no null transitions: the
    phone pass runs on its hypothesis) and accepts exactly: any suffix of the head window, the certain
    words, any prefix of the tail window."""
    from mien.phonemes import _chunk_grammar

    words = "a b c d e f g h".split()
    head, tail = (1, 3), (5, 7)  # head window b c, certain d e, tail window f g

    def accepted(text: str) -> set[tuple[str, ...]]:
        lines = text.splitlines()
        start = int(next(x for x in lines if x.startswith("START_STATE")).split()[1])
        final = int(next(x for x in lines if x.startswith("FINAL_STATE")).split()[1])
        arcs = [x.split()[1:] for x in lines if x.startswith("TRANSITION")]
        assert arcs and all(len(a) == 4 and a[3] in words for a in arcs)
        out: set[tuple[str, ...]] = set()

        def walk(state: int, path: tuple[str, ...]) -> None:
            if state == final:
                out.add(path)
            for a, b, _, w in arcs:
                if int(a) == state and len(path) < len(words):
                    walk(int(b), (*path, w))

        walk(start, ())
        return out

    heads, tails = [("b", "c"), ("c",), ()], [(), ("f",), ("f", "g")]
    assert accepted(_chunk_grammar(words, head, tail)) == {(*h, "d", "e", *t) for h in heads for t in tails}
    assert accepted(_chunk_grammar(words, (0, 0), (8, 8))) == {tuple(words)}  # every word certain
    assert accepted(_chunk_grammar(words, (0, 2), (3, 3))) == {("a", "b", "c"), ("b", "c"), ("c",)}


def test_a_long_line_is_recognised_in_chunks_cut_at_pauses_whatever_the_number_of_decoders() -> None:
    """Recognition cuts a long line at its pauses into chunks of about ``recognize_chunk_s`` (never longer than
    RECOGNIZE_CHUNK_S) and decodes them with a kept decoder and an extra one at once; decoders keep no history,
    so one decoder or two give the same timeline, and every cut falls in a pause, not inside a word."""
    from mien.phonemes import RECOGNIZE_CHUNK_S, PhonemeConfig, PhoneRecognizer, _recognition_chunks

    names = ["librivox_0870", "librivox_0880", "librivox_0890", "librivox_0920", "cards_001", "cards_005"]
    pause = np.zeros(6400, dtype=np.float32)  # 0.4 s
    parts = [np.concatenate([audio_of(n).samples, pause]) for n in names]
    audio = Audio(np.concatenate(parts))
    n_frames = int(np.ceil(len(audio.samples) / 160))
    config = PhonemeConfig(recognize_chunk_s=6.0)
    chunks = _recognition_chunks(audio, 0, n_frames, config)
    assert len(chunks) >= 3
    assert chunks[0][0] == 0 and chunks[-1][1] == n_frames
    assert all(a < b and b - a <= RECOGNIZE_CHUNK_S * 100 for a, b in chunks)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(chunks))
    speech = []  # (start, end) frames of every phone of the references, joined like the audio
    offset = 0.0
    for name, part in zip(names, parts, strict=True):
        for row in (SPEECH / f"{name}.phones.tsv").read_text().splitlines()[1:]:  # after the header
            start, end, phone = row.split("\t")[:3]
            if phone != "SIL":
                speech.append(((float(start) + offset) * 100, (float(end) + offset) * 100))
        offset += len(part) / 16000
    for _, cut in chunks[:-1]:  # in a pause, never inside a phone
        assert not any(a < cut < b for a, b in speech), cut
    made: list[int] = []

    class Counting(PhoneRecognizer):
        def _new_recognizer(self):  # type: ignore[no-untyped-def]
            made.append(1)
            return super()._new_recognizer()

    two = Counting(config).recognize(audio)
    assert len(made) == 2  # the kept decoder and the line's extra one: the chunks were shared
    one = Counting(PhonemeConfig(recognize_chunk_s=6.0, extra_recognizers=0)).recognize(audio)
    too_long = Counting(PhonemeConfig(recognize_chunk_s=6.0, parallel_recognition_max_s=5.0)).recognize(audio)
    assert len(made) == 4  # one decoder each
    assert two == one == too_long
    assert {"M", "P", "B"} & {p.phone for p in two.phones}
    # a span of the line is cut the same way, within the span
    inner = _recognition_chunks(audio, 300, n_frames - 300, config)
    assert inner[0][0] == 300 and inner[-1][1] == n_frames - 300


def test_parallel_recognition_stops_at_the_first_error_and_frees_its_extra_decoder() -> None:
    """Over its CPU budget, a line recognised by two decoders ends with DEADLINE_EXCEEDED from either thread; the
    extra decoder is released, so the next line may use it again."""
    from mien.budget import LineBudget
    from mien.errors import DeadlineExceeded
    from mien.phonemes import PhonemeConfig, PhoneRecognizer

    names = ["librivox_0870", "librivox_0880", "librivox_0890", "librivox_0920"]
    audio = Audio(np.concatenate([audio_of(n).samples for n in names]))
    recognizer = PhoneRecognizer(PhonemeConfig(recognize_chunk_s=4.0))
    with LineBudget(0.3).applied(), pytest.raises(DeadlineExceeded):
        recognizer.recognize(audio)
    assert recognizer._extra.acquire(blocking=False)  # released after the failure
    recognizer._extra.release()
    assert recognizer.recognize(audio).phones
