"""Transcripts in any espeak-ng language -> the aligner's phone set (ARPAbet, the pocketsphinx en-us model's).

``espeak-ng -q --ipa --sep=_ -v LANG`` prints each clause on a line, words separated by spaces and phonemes
by ``_`` (stress marks attached). :func:`ipa_to_arpabet` maps one IPA phoneme to 0-2 ARPAbet phones by its
articulation, with the lips first: /p b m/ (and ``ɱ``, Spanish ``β``) close the lips in every language, so they
map to P B M; rounded vowels map to rounded ARPAbet vowels (``y`` -> UW, ``ø`` -> UH) so the teacher
rounds the lips; nasal vowels lose their nasality; palatalisation, length, aspiration, stress and tone marks
are dropped.

    python -m training.data.phonemize cs "Vítejte v nejkrásnějším městě"
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["ipa_to_arpabet", "phonemize", "UnknownPhoneme"]

ARPABET = frozenset("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V "
                    "W Y Z ZH".split())

# whole-token mappings first (affricates, diphthongs), then single symbols
_TOKENS: dict[str, tuple[str, ...]] = {
    "ts": ("T", "S"), "dz": ("D", "Z"), "tʃ": ("CH",), "dʒ": ("JH",), "tɕ": ("CH",), "dʑ": ("JH",),
    "tʂ": ("CH",), "dʐ": ("JH",), "tʃʲ": ("CH",), "pf": ("P", "F"), "r̝": ("R", "ZH"),
    "aɪ": ("AY",), "ai": ("AY",), "aj": ("AY",), "aʊ": ("AW",), "au": ("AW",), "ɑu": ("AW",), "ɔɪ": ("OY",),
    "ɔy": ("OY",), "ɔʏ": ("OY",), "oi": ("OY",), "eɪ": ("EY",), "ei": ("EY",), "ɛɪ": ("EY",), "ɛi": ("EY",),
    "oʊ": ("OW",), "əʊ": ("OW",), "ou": ("OW",), "œy": ("OY",), "ɪə": ("IH", "AH"), "eə": ("EH", "AH"),
    "ʊə": ("UH", "AH"), "ie": ("IY", "EH"), "uo": ("UW", "OW"), "ia": ("IY", "AA"), "ea": ("EH", "AA"),
    "oa": ("OW", "AA"), "ʌʊ": ("OW",), "ɐʊ": ("AW",), "ɐɪ": ("AY",), "ɛu": ("EH", "UW"), "eu": ("EH", "UW"),
    "ɑi": ("AY",), "ui": ("UW", "IY"), "iu": ("IY", "UW"),
}
_SYMBOLS: dict[str, tuple[str, ...]] = {
    # lips closed
    "p": ("P",), "b": ("B",), "m": ("M",), "ɱ": ("M",), "β": ("B",), "ɓ": ("B",),
    # labiodental / labial approximants
    "f": ("F",), "v": ("V",), "ʋ": ("V",), "ɸ": ("F",), "w": ("W",), "ɥ": ("W",), "ʍ": ("W",), "ɰ": ("W",),
    # coronal
    "t": ("T",), "d": ("D",), "n": ("N",), "ʈ": ("T",), "ɖ": ("D",), "ɳ": ("N",), "c": ("T",), "ɟ": ("D",),
    "ɲ": ("N",), "s": ("S",), "z": ("Z",), "ʃ": ("SH",), "ʒ": ("ZH",), "ʂ": ("SH",), "ʐ": ("ZH",), "ɕ": ("SH",),
    "ʑ": ("ZH",), "θ": ("TH",), "ð": ("DH",), "l": ("L",), "ɫ": ("L",), "ɭ": ("L",), "ʎ": ("L",), "ɬ": ("L",),
    "ɮ": ("L",), "r": ("R",), "ɾ": ("R",), "ɽ": ("R",), "ɹ": ("R",), "ɻ": ("R",), "ʁ": ("R",), "ʀ": ("R",),
    "ɺ": ("R",), "j": ("Y",), "ʝ": ("Y",),
    # dorsal / glottal
    "k": ("K",), "g": ("G",), "ɡ": ("G",), "q": ("K",), "ɢ": ("G",), "ŋ": ("NG",), "ɴ": ("NG",), "x": ("HH",),
    "ɣ": ("G",), "χ": ("HH",), "ʁ̥": ("HH",), "h": ("HH",), "ɦ": ("HH",), "ħ": ("HH",), "ç": ("HH",),
    "ʕ": ("HH",), "ʔ": (),
    # vowels
    "a": ("AA",), "ä": ("AA",), "ɑ": ("AA",), "ɒ": ("AO",), "æ": ("AE",), "ɐ": ("AH",), "ə": ("AH",),
    "ʌ": ("AH",), "ɘ": ("AH",), "ᵻ": ("IH",), "ᵿ": ("UH",),
    "ɵ": ("UH",), "ɜ": ("ER",), "ɚ": ("ER",), "ɝ": ("ER",), "e": ("EH",),
    "ɛ": ("EH",), "ɤ": ("AH",), "i": ("IY",), "ɪ": ("IH",), "ɨ": ("IH",), "ɯ": ("IH",), "o": ("OW",),
    "ɔ": ("AO",), "u": ("UW",), "ʊ": ("UH",), "ʉ": ("UW",), "y": ("UW",), "ʏ": ("UH",), "ø": ("UH",),
    "œ": ("ER",), "ɶ": ("AO",),
}
# marks removed before mapping: stress, length, syllabicity, palatalisation, aspiration, nasalisation, voice
_DROP = re.compile("[ˈˌːˑ\\-̩̯ʲʰʷˠˤ̥̬̪̻̺̝̞̟̠̃̊̈͡‿|ˀ̚'ˑ^\"]")


class UnknownPhoneme(ValueError):
    """An IPA symbol with no mapping."""


def ipa_to_arpabet(token: str) -> tuple[str, ...]:
    """One espeak-ng IPA phoneme -> ARPAbet phones (empty for a glottal stop or a pure mark)."""
    t = unicodedata.normalize("NFC", token)
    if t in _TOKENS:
        return _TOKENS[t]
    base = _DROP.sub("", unicodedata.normalize("NFD", t))
    base = unicodedata.normalize("NFC", base)
    if not base:
        return ()
    if base in _TOKENS:
        return _TOKENS[base]
    if base in _SYMBOLS:
        return _SYMBOLS[base]
    out: list[str] = []
    for ch in base:  # an unlisted cluster: map symbol by symbol, merging vowel runs into one vowel
        if ch not in _SYMBOLS:
            raise UnknownPhoneme(f"no ARPAbet mapping for IPA {token!r} (symbol {ch!r}, U+{ord(ch):04X})")
        phones = _SYMBOLS[ch]
        if out and phones and _is_vowel(out[-1]) and _is_vowel(phones[0]):
            continue
        out.extend(phones)
    return tuple(out)


def _is_vowel(p: str) -> bool:
    return p[0] in "AEIOU"


@lru_cache(maxsize=65536)
def _espeak_ipa(text: str, language: str) -> str:
    proc = subprocess.run(["espeak-ng", "-q", "--ipa", "--sep=_", "-v", language], input=text, text=True,
                          capture_output=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng -v {language} failed: {proc.stderr.strip()[:300]}")
    return proc.stdout


def phonemize(text: str, language: str) -> list[tuple[str, ...]]:
    """The words of ``text`` as espeak-ng speaks them in ``language``, each as ARPAbet phones (no empty words).

    espeak may join or split words (``pod sluncem`` -> one word); these are espeak's words, in order."""
    if language.startswith("mb-") or "mbrola" in language:
        raise ValueError("mbrola voices are reserved / non-free: never used")
    clean = re.sub(r"[«»“”„\"()\[\]{}<>*_#|~^]", " ", text)
    words: list[tuple[str, ...]] = []
    for line in _espeak_ipa(clean, language).splitlines():
        line = re.sub(r"\([a-z-]+\)", "", line)  # language switch markers: (en) ... (be)
        for word in line.split():
            phones: list[str] = []
            for tok in word.split("_"):
                if tok:
                    phones.extend(ipa_to_arpabet(tok))
            if phones:
                words.append(tuple(phones))
    return words


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m training.data.phonemize LANG TEXT", file=sys.stderr)
        return 2
    for w in phonemize(args[1], args[0]):
        print(" ".join(w))
    return 0


if __name__ == "__main__":
    sys.exit(main())
