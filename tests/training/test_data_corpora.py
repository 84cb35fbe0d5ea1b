"""Tests of training.data.corpora helpers (no network, no registry access)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.data import corpora


def test_normalise_transcript() -> None:
    assert corpora.normalise_transcript("<s> Ten of CLUBS </s>") == "ten of clubs"
    assert (
        corpora.normalise_transcript("[laughter] montreal <hes-forced> aligner, 'er!")
        == "montreal aligner er"
    )
    assert corpora.normalise_transcript("I’m here. Don't-stop") == "i'm here don't stop"


def test_parse_sphinx_transcription(tmp_path: Path) -> None:
    p = tmp_path / "t"
    p.write_text("<s> go forward </s> (001)\n<s> ten meters  </s> (a-b-0870)\n", encoding="utf-8")
    assert corpora.parse_sphinx_transcription(p) == {"001": "go forward", "a-b-0870": "ten meters"}


def test_parse_dict_fixture_does_not_execute(tmp_path: Path) -> None:
    p = tmp_path / "conftest.py"
    p.write_text(
        "import os\nraise SystemExit('must not run')\n"
        "def reference_transcripts():\n    return {'a': 'hello there', 'b': 'x'}\n",
        encoding="utf-8",
    )
    assert corpora.parse_dict_fixture(p, "reference_transcripts") == {"a": "hello there", "b": "x"}
    with pytest.raises(corpora.FetchError):
        corpora.parse_dict_fixture(p, "missing")


def test_held_out_set_is_refused(tmp_path: Path) -> None:
    for pkg in ("asterisk-core-sounds-en", "asterisk-core-sounds-en-wav", "asterisk-core-sounds-en-gsm",
                "asterisk-core-sounds-es-wav", "mbrola-us1", "drascula"):
        with pytest.raises(ValueError):
            corpora.apt_extract(pkg, "1", tmp_path)
    assert not any(s.package.startswith(corpora.FORBIDDEN_APT_PREFIXES) for s in corpora.SOURCES)


def test_catalogue_is_consistent() -> None:
    names = [s.name for s in corpora.SOURCES]
    assert len(names) == len(set(names))
    for s in corpora.SOURCES:
        assert s.registry in ("PyPI", "Debian")
        assert s.kind in ("apt", "sdist", "wheel")
        assert s.licence
    table = corpora.format_table([(s, 1.0, 0.0) for s in corpora.SOURCES])
    assert table.count("\n") == len(corpora.SOURCES) + 1


def test_load_resample_write(tmp_path: Path) -> None:
    sr = 22050
    t = np.arange(sr) / sr
    sf.write(tmp_path / "a.wav", np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.5, sr)
    x, rate = corpora.load_audio(tmp_path / "a.wav")
    assert rate == sr and x.ndim == 1
    y = corpora.to_16k(x, rate)
    assert abs(len(y) - 16000) <= 1
    raw = tmp_path / "b.raw"
    (np.ones(800, dtype="<i2") * 1000).tofile(raw)
    z, zr = corpora.load_audio(raw, raw_rate=8000)
    assert zr == 8000 and np.allclose(z, 1000 / 32768)
    with pytest.raises(ValueError):
        corpora.load_audio(raw)
    clip = corpora.ClipSpec("c1", "x", "hello world", corpora.EXACT)
    dur = corpora.write_clip(tmp_path, clip, y)
    assert abs(dur - 1.0) < 1e-3
    info = sf.info(str(tmp_path / "c1.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert (tmp_path / "c1.txt").read_text(encoding="utf-8") == "hello world\n"
