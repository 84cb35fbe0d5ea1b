"""Fallback pronunciations for words the pronouncing dictionary does not know.

Two steps, both cheap and deterministic:

1. Decomposition: split the word into pieces the dictionary knows (longest known prefix first,
   e.g. "dashwoodish" -> "dashwood" + "ish"), allowing short unknown pieces to be spelled by rule.
2. Letter-to-sound rules for what is left: ordered English grapheme rules (digraphs first,
   "magic e", soft c/g), in the spirit of Elovitz et al. (1976), "Letter-to-sound rules for
   automatic translation of English text to phonetics", NRL Report 7948 (public domain),
   much reduced.

For lip-sync the exact vowel quality matters far less than getting the visible consonants
(p/b/m, f/v, rounded vowels) and the syllable count right; spelling gives those reliably.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["spell_out"]

_VOWELS = set("aeiouy")

# (grapheme, phones) tried longest first at each position; context handled in _letter_rule.
_DIGRAPHS: tuple[tuple[str, str], ...] = (
    ("tch", "CH"), ("dge", "JH"), ("igh", "AY"), ("ough", "AO"), ("augh", "AO"), ("eigh", "EY"),
    ("tion", "SH AH N"), ("sion", "ZH AH N"), ("ture", "CH ER"), ("ph", "F"), ("sh", "SH"),
    ("ch", "CH"), ("th", "TH"), ("wh", "W"), ("ck", "K"), ("ng", "NG"), ("qu", "K W"),
    ("kn", "N"), ("wr", "R"), ("gh", "G"), ("ee", "IY"), ("ea", "IY"), ("oo", "UW"),
    ("ai", "EY"), ("ay", "EY"), ("oa", "OW"), ("ow", "OW"), ("ou", "AW"), ("oi", "OY"),
    ("oy", "OY"), ("au", "AO"), ("aw", "AO"), ("ew", "UW"), ("ie", "IY"), ("ei", "EY"),
    ("ue", "UW"), ("ar", "AA R"), ("er", "ER"), ("ir", "ER"), ("ur", "ER"), ("or", "AO R"),
)
_SINGLE_CONSONANTS = {
    "b": "B", "d": "D", "f": "F", "h": "HH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N",
    "p": "P", "r": "R", "s": "S", "t": "T", "v": "V", "w": "W", "x": "K S", "z": "Z",
}
_SHORT_VOWEL = {"a": "AE", "e": "EH", "i": "IH", "o": "AA", "u": "AH", "y": "IH"}
_LONG_VOWEL = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}


def _letter_rules(word: str) -> list[str]:
    """Spell a purely alphabetic lowercase word by rule."""
    phones: list[str] = []
    i, n = 0, len(word)
    while i < n:
        for graph, ph in _DIGRAPHS:
            if word.startswith(graph, i):
                phones.extend(ph.split())
                i += len(graph)
                break
        else:
            c = word[i]
            nxt = word[i + 1] if i + 1 < n else ""
            if c == "c":
                phones.append("S" if nxt in ("e", "i", "y") else "K")
            elif c == "g":
                phones.append("JH" if nxt in ("e", "i", "y") and i + 2 < n else "G")
            elif c == "y" and i == 0:
                phones.append("Y")
            elif c in _VOWELS:
                final_e = c == "e" and i == n - 1 and n > 2 and phones
                if not final_e:
                    # "magic e": vowel, one consonant, final e -> long vowel
                    magic = i + 2 == n - 1 and word[-1] == "e" and word[i + 1] not in _VOWELS
                    phones.append((_LONG_VOWEL if magic or (i == n - 1 and c != "e") else _SHORT_VOWEL)[c])
            elif c in _SINGLE_CONSONANTS:
                if not (phones and i > 0 and word[i - 1] == c):  # doubled consonant: one phone
                    phones.extend(_SINGLE_CONSONANTS[c].split())
            i += 1
    return phones or ["AH"]


def spell_out(word: str, lookup: Callable[[str], str | None]) -> list[str]:
    """ARPAbet phones for an out-of-dictionary lowercase ``word`` (letters and apostrophes).

    ``lookup(w)`` returns the dictionary pronunciation of ``w`` ("HH AH L OW") or None.
    """
    word = word.replace("'", "")
    if not word:
        return []
    known = lookup(word)
    if known:
        return known.split()
    # Longest known prefix of at least 3 letters, then recurse on the rest.
    for cut in range(len(word) - 1, 2, -1):
        head = lookup(word[:cut])
        if head:
            rest = word[cut:]
            return head.split() + spell_out(rest, lookup)
    # Unknown head: spell up to the first known suffix of at least 3 letters.
    for cut in range(1, len(word) - 2):
        tail = lookup(word[cut:])
        if tail:
            return _letter_rules(word[:cut]) + tail.split()
    return _letter_rules(word)
