"""The real-speech pipeline: licence rules and reserved sets, source parsers, phonemes, labels (no network).

The parsers are checked on small files written here in the packages' own formats; ``fetch`` itself downloads
Debian packages and is exercised by ``python -m training.data.real fetch`` (training/data/README.md).
"""

from __future__ import annotations

import gzip
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.data import label, phonemize, real
from training.data.augment import CHANNELS, channel
from training.data.piper import group_phones


# ------------------------------------------------------------------------------------------- licences
@pytest.mark.parametrize("package", ["asterisk-core-sounds-en-wav", "asterisk-core-sounds-en-gsm",
                                     "asterisk-core-sounds-es", "asterisk-core-sounds-es-wav", "mbrola",
                                     "mbrola-us1", "drascula", "drascula-spanish", "drascula-music"])
def test_reserved_sets_are_refused_before_download(package: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        real.extract_package(package, "1", tmp_path)
    assert not list(tmp_path.iterdir())  # nothing was downloaded


@pytest.mark.parametrize("package", ["uqm-voice", "beneath-a-steel-sky", "flight-of-the-amazon-queen"])
def test_packages_whose_licence_excludes_the_shipped_model_are_refused(package: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not usable"):
        real.extract_package(package, "1", tmp_path)


def test_catalogue_has_licences_and_no_reserved_or_excluded_package() -> None:
    names = [s.name for s in real.SOURCES]
    assert len(names) == len(set(names))
    for s in real.SOURCES:
        assert s.licence and s.weights_note and s.licence_file
        assert "NC" not in s.licence
        for package, _ in s.packages:
            assert not package.startswith(real.RESERVED_PREFIXES)
            assert package not in real.NOT_FOR_TRAINING
    assert set(real.HELD_OUT) <= set(names)


def test_split_holds_out_whole_speakers() -> None:
    assert real.split_of("tuxpaint", "ca") == "heldout"
    assert real.split_of("tuxpaint", "fr") == "train"
    assert real.split_of("asterisk_it", "anyone") == "heldout"
    assert real.split_of("fillets_cs", "fillets cs font_small") == "train"


# -------------------------------------------------------------------------------------------- parsers
def test_tuxpaint_descriptions_pair_audio_with_the_sentence_of_its_language(tmp_path: Path) -> None:
    stamps = tmp_path / "tuxpaint-stamps-default" / real.TUXPAINT_STAMPS / "animals"
    stamps.mkdir(parents=True)
    (stamps / "frog.txt").write_text("A green frog.\nfr.utf8=Une grenouille verte.\nes.utf8=Una rana verde.\n",
                                     encoding="utf-8")
    for name in ("frog_desc_fr.ogg", "frog_desc_es.ogg", "frog_desc.ogg", "frog_desc_ru.ogg"):
        (stamps / name).write_bytes(b"")
    clips = {c.language: c for c in real._tuxpaint({"tuxpaint-stamps-default": tmp_path / "tuxpaint-stamps-default"})}
    assert clips["fr"].transcript == "Une grenouille verte."
    assert clips["es"].transcript == "Una rana verde."
    assert clips["en"].transcript == "A green frog."
    assert "ru" not in clips  # no Russian sentence in the .txt: no clip


def test_fillets_dialogs_match_sound_files(tmp_path: Path) -> None:
    data = tmp_path / "fillets-ng-data" / real.FILLETS / "script" / "city"
    data.mkdir(parents=True)
    (data / "dialogs_cs.lua").write_text(
        'dialogId("vit-m-tak", "font_small", "...then...?")\ndialogStr("...tak...?")\n\n'
        'dialogId("vit-v-noa", "font_big", "So what?")\ndialogStr("No a?")\n', encoding="utf-8")
    sounds = tmp_path / "fillets-ng-data-cs" / real.FILLETS / "sound" / "city" / "cs"
    sounds.mkdir(parents=True)
    (sounds / "vit-v-noa.ogg").write_bytes(b"")
    (sounds / "unknown.ogg").write_bytes(b"")
    clips = list(real._fillets("cs")({"fillets-ng-data": tmp_path / "fillets-ng-data",
                                      "fillets-ng-data-cs": tmp_path / "fillets-ng-data-cs"}))
    assert [(c.clip_id, c.transcript, c.speaker) for c in clips] == [("city_vit-v-noa", "No a?",
                                                                        "fillets cs font_big")]


def test_asterisk_listing_skips_sound_effects(tmp_path: Path) -> None:
    doc = tmp_path / "asterisk-core-sounds-fr" / "usr/share/doc/asterisk-core-sounds-fr"
    doc.mkdir(parents=True)
    with gzip.open(doc / "core-sounds-fr.txt.gz", "wt", encoding="utf-8") as f:
        f.write("; Core Asterisk Sounds in French\n\nauth-thankyou: Merci.\nbeeperr: (ahooga)\nmissing: Absent.\n")
    sounds = tmp_path / "asterisk-core-sounds-fr-wav" / "usr/share/asterisk/sounds/fr_CA_f_June"
    sounds.mkdir(parents=True)
    (sounds / "auth-thankyou.wav").write_bytes(b"")
    (sounds / "beeperr.wav").write_bytes(b"")
    clips = list(real._asterisk("fr", "fr_CA_f_June")({
        "asterisk-core-sounds-fr": tmp_path / "asterisk-core-sounds-fr",
        "asterisk-core-sounds-fr-wav": tmp_path / "asterisk-core-sounds-fr-wav"}))
    assert [(c.clip_id, c.transcript) for c in clips] == [("auth_thankyou", "Merci.")]


# ------------------------------------------------------------------------------------------- phonemes
def test_ipa_mapping_keeps_the_lips() -> None:
    m = phonemize.ipa_to_arpabet
    assert m("p") == ("P",) and m("b") == ("B",) and m("m") == ("M",) and m("ɱ") == ("M",) and m("β") == ("B",)
    assert m("ˈiː") == ("IY",) and m("ɛ̃") == ("EH",) and m("tʃ") == ("CH",) and m("ts") == ("T", "S")
    assert m("y") == ("UW",) and m("ø") == ("UH",)  # rounded vowels stay rounded
    assert m("vʲ") == ("V",) and m("ʔ") == ()
    with pytest.raises(phonemize.UnknownPhoneme):
        m("☃")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_phonemize_in_other_languages_finds_the_bilabials() -> None:
    cs = [p for w in phonemize.phonemize("Vítejte v nejkrásnějším městě pod sluncem.", "cs") for p in w]
    assert cs.count("M") == 3 and "P" in cs
    fr = [p for w in phonemize.phonemize("Une pièce de monnaie.", "fr") for p in w]
    assert "P" in fr and "M" in fr
    assert all(p in phonemize.ARPABET for p in cs + fr)
    with pytest.raises(ValueError):
        phonemize.phonemize("x", "mb-en1")


def test_piper_characters_group_into_phones() -> None:
    chars = ["^", "h", "ə", "l", "ˈ", "o", "ʊ", " ", "t", "ʃ", "a", "ɪ", "ː", ".", "$"]
    n = [10, 100, 200, 150, 30, 300, 100, 500, 100, 200, 300, 200, 50, 4000, 10]
    out = group_phones(chars, n)
    assert [p for p, _ in out] == ["SIL", "HH", "AH", "L", "OW", "CH", "AY", "SIL"]
    assert sum(k for _, k in out) == sum(n)
    assert dict(out)["OW"] == 30 + 300 + 100 + 500  # stress mark before, short space after


# --------------------------------------------------------------------------------------------- labels
def _vcv(closure_db: float) -> np.ndarray:
    """200 ms vowel, 100 ms closure attenuated by closure_db, 200 ms vowel."""
    sr = 16000
    t = np.arange(int(0.5 * sr)) / sr
    x = 0.3 * sum(np.sin(2 * np.pi * k * 140 * t) / k for k in range(1, 20))
    gain = np.ones_like(t)
    gain[(t >= 0.2) & (t < 0.3)] = 10 ** (-closure_db / 20)
    return (x * gain).astype(np.float32)


def test_closure_evidence_rewards_a_real_dip() -> None:
    strong = label.closure_evidence(label.band_energy_db(_vcv(40.0)), 0.2, 0.3)
    none = label.closure_evidence(label.band_energy_db(_vcv(0.0)), 0.2, 0.3)
    assert strong[0] > 25 and strong[1] == 1.0
    assert none[0] < 3 and none[1] == pytest.approx(0.3)


def test_line_confidence_drops_the_worst_tenth_and_keeps_english() -> None:
    scores = [-10.0 - i for i in range(20)]
    conf = label.line_confidence([*scores, None])
    assert conf[-1] == 1.0
    assert conf[scores.index(-29.0)] == 0.0 and conf[scores.index(-28.0)] == 0.0  # the worst 10 %
    assert conf[0] == 1.0 and 0.3 < conf[15] < 1.0


def test_label_file_round_trip_and_fill(tmp_path: Path) -> None:
    segs = label._fill([label.Segment(0.1, 0.2, "M", "ma", 0.5), label.Segment(0.2, 0.35, "AA", "ma")], 0.5)
    assert [(s.phone, s.start_s, s.end_s) for s in segs] == [("SIL", 0.0, 0.1), ("M", 0.1, 0.2), ("AA", 0.2, 0.35),
                                                            ("SIL", 0.35, 0.5)]
    label.write_segments(tmp_path / "x.phones.tsv", segs)
    back = label.read_labels(tmp_path / "x.phones.tsv")
    assert back[1].conf == 0.5 and back[1].word == "ma"
    from training.neural.common import read_phones

    assert [p.phone for p in read_phones(tmp_path / "x.phones.tsv")] == ["SIL", "M", "AA", "SIL"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
def test_a_foreign_line_is_aligned_with_its_bilabials(tmp_path: Path) -> None:
    """A synthetic Czech line (espeak-ng cs) is force-aligned from its transcript; its /m/ lands in the audio."""
    import subprocess

    wav = tmp_path / "cs.wav"
    subprocess.run(["espeak-ng", "-v", "cs", "-w", str(wav), "Máma mele maso."], check=True)
    x, sr = sf.read(wav, dtype="float32")
    from training.data.real import to_16k

    sf.write(tmp_path / "c.wav", to_16k(x, sr), 16000, subtype="PCM_16")
    segs, info = label.label_clip({"id": "c", "wav": str(tmp_path / "c.wav"), "language": "cs",
                                   "transcript": "Máma mele maso."})
    assert segs is not None, info
    bilabials = [s for s in segs if s.phone == "M"]
    assert len(bilabials) == 4, [s.phone for s in segs]
    assert info["line_score"] is not None and info["bilabials"] == 4


def test_label_clip_aligns_an_english_line_with_the_runtime_aligner() -> None:
    """English lines go through the runtime's aligned path (this broke silently once: every English line was
    dropped with a TypeError when the aligner's settings changed)."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
    wav = fixtures / "cards_001.wav"
    text = (fixtures / "cards_001.txt").read_text(encoding="utf-8").strip()
    assert sf.info(str(wav)).samplerate == 16000
    segs, info = label.label_clip({"id": "cards_001", "wav": str(wav), "language": "en", "transcript": text})
    assert segs is not None, info
    assert info["mode"] == "aligned" and "dropped" not in info
    speech = [s for s in segs if s.phone != "SIL"]
    assert len({s.word for s in speech}) >= len(text.split()) - 1
    assert all(b.start_s >= a.end_s - 1e-6 for a, b in itertools.pairwise(segs))
    assert abs(segs[-1].end_s - sf.info(str(wav)).duration) < 0.02
    wrong = label.label_clip({"id": "w", "wav": str(wav), "language": "en",
                              "transcript": "the quick brown fox jumps over the lazy dog again and again"})
    assert wrong[0] is None and "not to match" in str(wrong[1]["dropped"])



def test_the_data_step_labels_again_what_another_label_version_made(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``training.neural.data`` must not train on labels of an older ``label.py`` (e.g. the English lines that
    version 3 dropped); only sources that are missing or stale are handed to ``training.data.label``."""
    import json

    from training.neural import data

    names = [s.name for s in real.SOURCES]
    assert len(names) >= 3
    fresh, stale, missing = names[0], names[1], names[2]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.jsonl").write_text("", encoding="utf-8")
        if name != missing:
            version = label.LABEL_VERSION - 1 if name == stale else label.LABEL_VERSION
            rows = [{"id": f"{name}_{i}", "version": label.LABEL_VERSION if i else version} for i in range(3)]
            (tmp_path / name / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                                          encoding="utf-8")
    calls: list[list[str]] = []
    monkeypatch.setattr(data.subprocess, "run", lambda cmd, check: calls.append(cmd))
    data.ensure_real(tmp_path, 2)
    assert len(calls) == 1 and calls[0][1:3] == ["-m", "training.data.label"], calls
    only = set(calls[0][calls[0].index("--only") + 1].split(","))
    assert stale in only and missing in only and fresh not in only

# ---------------------------------------------------------------------------------------------- audio
@pytest.mark.parametrize("kind", CHANNELS)
def test_channels_keep_timing_and_length(kind: str) -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0.2)).astype(np.float32)
    y, name = channel(x, sr, rng, kind)
    assert name == kind and len(y) == len(x) and np.isfinite(y).all()
    c = np.correlate(y[2000:12000], x[2000 - 80:12000 + 80], "valid")
    assert abs(int(np.argmax(c)) - 80) <= 1  # no delay
