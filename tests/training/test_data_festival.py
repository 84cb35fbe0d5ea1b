"""Festival clips for the neural model's data: segment parsing, and real synthesis when festival is installed
(CI installs it with its voices)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.data import festival
from training.neural.common import read_phones

SEGS = """#
0.2200 100 pau
0.3127 100 b
0.3411 100 r
0.3919 100 ax
0.4551 100 ng
0.5000 100 dx
0.5239 100 em
0.6000 100 pau
0.6500 100 h#
"""


def test_segments_become_an_arpabet_timeline() -> None:
    phones = festival.parse_segs(SEGS)
    assert [p.phone for p in phones] == ["SIL", "B", "R", "AH", "NG", "D", "M", "SIL"]
    assert phones[0].start_s == 0.0 and phones[1].start_s == pytest.approx(0.22)
    assert phones[-1].start_s == pytest.approx(0.5239) and phones[-1].end_s == pytest.approx(0.65)  # pauses merged
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(phones))


def test_unknown_phone_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown festival phone 'qq'"):
        festival.parse_segs("#\n0.1 100 qq\n")


def test_plan_is_seeded_and_uses_every_voice() -> None:
    a, b = festival.plan_clips(9, 3), festival.plan_clips(9, 3)
    assert a == b and a != festival.plan_clips(9, 4)
    assert {s.voice for s in a} == set(festival.VOICES)
    assert all(0.8 <= s.duration_stretch <= 1.35 for s in a)


@pytest.mark.skipif(not festival.festival_available(), reason="festival and its voices are not installed")
def test_synthesis_writes_16k_clips_whose_timeline_covers_the_audio(tmp_path: Path) -> None:
    festival.build_dataset(3, 0, tmp_path, workers=1)
    rows = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(rows) == 3
    for spec in festival.plan_clips(3, 0):
        x, sr = sf.read(str(tmp_path / f"{spec.clip_id}.wav"), dtype="float32")
        phones = read_phones(tmp_path / f"{spec.clip_id}.phones.tsv")
        assert sr == 16000 and np.abs(x).max() > 0.05
        assert phones[0].start_s == 0.0 and phones[-1].end_s == pytest.approx(len(x) / sr, abs=1e-3)
        assert sum(p.phone != "SIL" for p in phones) >= 5
