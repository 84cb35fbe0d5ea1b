"""Tests of the espeak-ng → ARPAbet table (pure Python; espeak-dependent checks: test_data_espeak)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data import arpabet


def test_every_mapping_is_arpabet_or_sil() -> None:
    for name in arpabet.KNOWN_MNEMONICS:
        for american in (True, False):
            for phone in arpabet.to_arpabet(name, american=american):
                assert phone in arpabet.ARPABET or phone == arpabet.SIL, (name, phone)


def test_all_39_phones_reachable() -> None:
    reached = {
        p for n in arpabet.KNOWN_MNEMONICS for a in (True, False) for p in arpabet.to_arpabet(n, american=a)
    }
    assert arpabet.ARPABET <= reached
    assert len(arpabet.ARPABET) == 39


@pytest.mark.parametrize(
    ("mnemonic", "american", "expected"),
    [
        ("dZ", True, ("JH",)),
        ("tS", False, ("CH",)),
        ("N", True, ("NG",)),
        ("A@", True, ("AA", "R")),
        ("A@", False, ("AA",)),
        ("3", True, ("ER",)),
        ("3", False, ("AH",)),
        ("@L", True, ("AH", "L")),
        ("_:", True, ("SIL",)),
        (";", True, ()),
        ("aa", True, ("AE",)),
        ("aa", False, ("AA",)),
    ],
)
def test_known_mappings(mnemonic: str, american: bool, expected: tuple[str, ...]) -> None:
    assert arpabet.to_arpabet(mnemonic, american=american) == expected


def test_unknown_mnemonic_raises() -> None:
    with pytest.raises(arpabet.UnknownPhonemeError):
        arpabet.to_arpabet("no-such-phoneme", american=True)


def test_voice_accent() -> None:
    assert arpabet.is_american_voice("en-us+f3")
    assert arpabet.is_american_voice("en-us-nyc")
    assert not arpabet.is_american_voice("en-gb-x-rp")
    assert not arpabet.is_american_voice("en+klatt")


def test_collapse_and_edit_distance() -> None:
    assert arpabet.collapse(["SIL", "B", "ER", "R", "D", "D", "SIL"]) == ["B", "ER", "D"]
    assert arpabet.edit_distance(["K", "AE", "T"], ["K", "AE", "T"]) == 0
    assert arpabet.edit_distance(["K", "AE", "T"], ["B", "AE", "T", "S"]) == 2
    assert arpabet.strip_stress("ah0") == "AH"
    assert arpabet.strip_stress("sp") == "SIL"


def test_load_cmudict(tmp_path: Path) -> None:
    p = tmp_path / "d.dict"
    p.write_text("hello HH AH0 L OW1\nhello(2) HH EH0 L OW1\nworld W ER1 L D # comment\n", encoding="utf-8")
    d = arpabet.load_cmudict(str(p))
    assert d["hello"] == [["HH", "AH", "L", "OW"], ["HH", "EH", "L", "OW"]]
    assert d["world"] == [["W", "ER", "L", "D"]]
