"""Tests of the espeak-ng wrapper.  Skipped when libespeak-ng.so.1 is missing (CI installs it)."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest

from training.data import arpabet, espeak
from training.data.textgen import DIALOGUE, NOUNS, SentenceGenerator, number_to_words

if not espeak.espeak_available():
    pytest.skip("libespeak-ng.so.1 not installed", allow_module_level=True)

BROAD_TEXT = " ".join(
    [
        "The quick brown fox jumps over the lazy dog.",
        "Pack my box with five dozen liquor jugs!",
        "Sphinx of black quartz, judge my vow.",
        "How vexingly quick daft zebras jump?",
        "Jackdaws love my big sphinx of quartz.",
        "The five boxing wizards jump quickly; the job requires extra pluck and zeal.",
        " ".join(number_to_words(n) for n in (0, 7, 13, 21, 99, 100, 1066, 1999, 25000, 123456)) + ".",
        "I have 3 apples, 12 pears and 2024 reasons.",
        " ".join(DIALOGUE),
        ", ".join(NOUNS) + ".",
        "Measure the pleasure of treasure; vision, beige, garage, rouge.",
        "Thirty thin thieves thought that thistle thorns threaten them.",
        "Chirping church bells; judge, gem, ginger; sing, singer, finger, hang.",
        "Hour, fire, pure, year, cure, our, poor, sure, rural, button, little, cotton, hurry, mirror, water.",
        "Bath, lot, thought, cloth, palm, start, north, force, nurse, near, square, happy, letter, comma.",
        "Loch, Bach, Ciao, Hawaii, naive, cafe, genre, croissant, rendezvous.",
    ]
)
VOICES = (
    "en-us",
    "en-us-nyc",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)


@pytest.fixture(scope="module")
def engine() -> espeak.Espeak:
    return espeak.Espeak.get()


def test_native_sample_rate(engine: espeak.Espeak) -> None:
    assert engine.sample_rate == 22050


@pytest.mark.parametrize("voice", VOICES)
def test_every_emitted_phoneme_maps(engine: espeak.Espeak, voice: str) -> None:
    _, events = engine.synthesize_raw(BROAD_TEXT, espeak.VoiceSettings(voice=voice))
    emitted = {e.phoneme for e in events if e.type == espeak.EVENT_PHONEME}
    assert len(emitted) > 40
    unknown = emitted - arpabet.KNOWN_MNEMONICS
    assert not unknown, f"{voice}: unmapped espeak phonemes {sorted(unknown)}"


def test_whole_english_inventory_maps() -> None:
    inventory = espeak.english_phoneme_inventory(espeak.data_path() / "phontab")
    assert {"aI", "dZ", "@L", "t#", "_:"} <= inventory
    assert not inventory - arpabet.KNOWN_MNEMONICS


def test_timeline_covers_clip(engine: espeak.Espeak) -> None:
    syn = engine.synthesize(
        "Halt! Who goes there? I have twenty apples, Bob.",
        espeak.VoiceSettings("en-us+m3", rate=190, pitch=40, pitch_range=60),
    )
    assert syn.samples.dtype == np.float32 and np.max(np.abs(syn.samples)) <= 1.0
    phones = syn.phones
    assert phones[0].start == 0.0
    assert abs(phones[-1].end - syn.duration) < 1e-9
    for a, b in itertools.pairwise(phones):
        assert a.end == pytest.approx(b.start)
        assert a.end > a.start
    for p in phones:
        assert p.phone in arpabet.ARPABET or p.phone == arpabet.SIL
        assert (p.word == "") == (p.phone == arpabet.SIL)
    seq = arpabet.collapse(p.phone for p in phones)
    assert seq[:4] == ["HH", "AO", "L", "T"]
    assert {"halt", "who", "goes", "there", "apples", "bob"} <= {p.word for p in phones}


def test_stop_closure_belongs_to_stop(engine: espeak.Espeak) -> None:
    syn = engine.synthesize("a happy apple", espeak.VoiceSettings("en-us"))
    pcm = np.round(syn.samples * 32768).astype(np.int32)
    ps = [p for p in syn.phones if p.phone == "P"]
    assert len(ps) == 2
    for p in ps:
        seg = pcm[int(p.start * syn.sample_rate) : int(p.end * syn.sample_rate)]
        silent = np.abs(seg) <= espeak.CLOSURE_SILENCE_MAX
        assert silent[: len(seg) // 2].mean() > 0.9  # closure (silence) at the start of the P segment
        assert p.end - p.start > 0.04


def test_word_agreement_with_cmudict(engine: espeak.Espeak) -> None:
    words = {
        "apple": ["AE", "P", "AH", "L"],
        "judge": ["JH", "AH", "JH"],
        "thing": ["TH", "IH", "NG"],
        "measure": ["M", "EH", "ZH", "ER"],
        "voice": ["V", "OY", "S"],
        "star": ["S", "T", "AA", "R"],
        "house": ["HH", "AW", "S"],
        "fire": ["F", "AY", "ER"],
        "church": ["CH", "ER", "CH"],
    }
    for word, ref in words.items():
        syn = engine.synthesize(word, espeak.VoiceSettings("en-us"))
        assert arpabet.collapse(p.phone for p in syn.phones) == ref, word


def test_rejects_mbrola_and_bad_parameters(engine: espeak.Espeak) -> None:
    for bad in ("mb-us1", "en-us; rm", "../x"):
        with pytest.raises(ValueError):
            espeak.check_voice_name(bad)
    with pytest.raises(ValueError):
        engine.set_voice(espeak.VoiceSettings(rate=1000))
    with pytest.raises(espeak.EspeakError):
        engine.set_voice(espeak.VoiceSettings(voice="xx-nonexistent"))


def test_plan_is_seeded() -> None:
    a, b, c = espeak.plan_clips(5, 0), espeak.plan_clips(5, 0), espeak.plan_clips(5, 1)
    assert a == b
    assert [s.text for s in a] != [s.text for s in c]
    assert espeak.plan_clips(3, 0) == a[:3]  # clip i depends only on (seed, i)
    texts = [SentenceGenerator(np.random.default_rng([0, i])).utterance() for i in range(50)]
    assert all(t.isascii() and not any(ch.isdigit() for ch in t) for t in texts)


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_build_dataset_reproducible(tmp_path: Path) -> None:
    m1 = espeak.build_dataset(4, 7, tmp_path / "a", workers=1)
    espeak.build_dataset(4, 7, tmp_path / "b", workers=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    rows = m1.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 4
    first = (tmp_path / "a" / "espeak_s7_000000.phones.tsv").read_text(encoding="utf-8").splitlines()
    start, end, phone, _word = first[0].split("\t")
    assert float(start) == 0.0 and float(end) > 0 and (phone in arpabet.ARPABET or phone == "SIL")
    import soundfile as sf

    info = sf.info(str(tmp_path / "a" / "espeak_s7_000000.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
