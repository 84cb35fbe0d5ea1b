"""espeak-ng English phoneme mnemonics → ARPAbet (39 phones, no stress) + ``SIL``.

espeak-ng reports phonemes by their *mnemonic* (the names used in ``phsource/ph_english*``; up to 4 ASCII
characters, e.g. ``aI``, ``@L``, ``dZ``, ``t#``).  This module maps each mnemonic to a tuple of ARPAbet
phones:

* ``()`` — a zero-width marker or a modifier (stress, length ``:``, linking ``;``, virtual phonemes).
  Whatever
  audio such an event covers is merged into the previous phone.
* ``("SIL",)`` — a pause (``_``, ``_:``, ``_!``, ``||`` …).
* one phone — the usual case (``dZ`` → ``JH``).
* two phones — syllabic consonants and r-coloured / centring diphthongs (``@L`` → ``AH L``, ``n-`` → ``AH N``,
  ``aI3`` → ``AY ER``).  The caller splits the segment evenly between them.

Accent dependence
-----------------
espeak-ng's American tables (``en-us``, ``en-us-nyc``) do not emit a separate ``r`` after r-coloured vowels:
``star`` is ``s t A@``; ``fire`` is ``f aI3``.  Its British tables (``en``, ``en-rp``, ``en-n``, ``en-wm``)
are
non-rhotic, so the same mnemonics are plain or centring vowels; the Scottish table (``en-sc``) writes an
explicit
``r``.  :func:`to_arpabet` therefore takes ``american=True`` for the ``en-us*`` voices (adds the ``R`` /
``ER``,
maps the BATH vowel ``aa`` to ``AE``) and ``american=False`` for the others (``A@`` → ``AA``, ``3`` → ``AH``,
``aa`` → ``AA``).  CMUdict is American, so agreement with it is only meaningful for ``en-us`` voices.

Design choices that lose information (ARPAbet-39 has no symbol for them):

* flaps (``t#``, ``*``) and glottal stops (``?``, e.g. *button* in en-us) → ``T`` (CMUdict writes ``T``),
* the LOT vowel ``0`` → ``AA`` in every accent (CMUdict convention; British LOT is rounded),
* ``x`` (*loch*) → ``K``, voiceless ``l#`` → ``L``, dental ``t[``/``d[`` → ``T``/``D``,
* the NURSE vowel ``3:`` → ``ER`` in every accent.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The 39 ARPAbet phones (CMUdict set, no stress digits).
ARPABET: frozenset[str] = frozenset(
    (
        "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
    ).split()
)
SIL = "SIL"
VOWELS: frozenset[str] = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())

#: Accent-independent mapping.  Keys are espeak-ng mnemonics as reported in PHONEME events.
_COMMON: dict[str, tuple[str, ...]] = {
    # --- pauses -------------------------------------------------------------------------------------
    "_": (SIL,),
    "_:": (SIL,),
    "_!": (SIL,),
    "_|": (SIL,),
    "_::": (SIL,),
    "||": (SIL,),
    "_^_": (SIL,),
    "_;_": (SIL,),
    "_X1": (SIL,),
    "_\x01": (SIL,),
    # --- zero-width markers, modifiers and virtual phonemes (merged into the previous phone) ----------
    ";": (),
    ":": (),
    "-": (),
    "'": (),
    "''": (),
    ",": (),
    ",,": (),
    "%": (),
    "%%": (),
    "=": (),
    "'!": (),
    "1": (),
    "#X1": (),
    "#@": (),
    "#a": (),
    "#e": (),
    "#i": (),
    "#o": (),
    "#u": (),
    # --- monophthongs --------------------------------------------------------------------------------
    "@": ("AH",),
    "@2": ("AH",),
    "@5": ("AH",),
    "@-": ("AH",),
    "@#": ("AH",),
    "a": ("AE",),
    "a#": ("AH",),
    "a2": ("AH",),
    "a#2": ("AH",),
    "A:": ("AA",),
    "A#": ("AA",),
    "A~": ("AA",),
    "a/": ("AA",),
    "e": ("EH",),
    "e#": ("EH",),
    "E": ("EH",),
    "E#": ("EH",),
    "E2": ("EH",),
    "i": ("IY",),
    "i:": ("IY",),
    "I": ("IH",),
    "I#": ("IH",),
    "I2": ("IH",),
    "I2#": ("IH",),
    "0": ("AA",),
    "0#": ("AA",),
    "02": ("AA",),
    "O": ("AO",),
    "O:": ("AO",),
    "O2": ("AO",),
    "O~": ("AO",),
    "o": ("OW",),
    "o:": ("OW",),
    "V": ("AH",),
    "u": ("UW",),
    "u:": ("UW",),
    "U": ("UH",),
    "3:": ("ER",),
    "IR": ("ER",),
    "VR": ("ER",),
    # --- diphthongs ----------------------------------------------------------------------------------
    "aI": ("AY",),
    "aI2": ("AY",),
    "aU": ("AW",),
    "eI": ("EY",),
    "e:": ("EY",),
    "OI": ("OY",),
    "oU": ("OW",),
    "oU#": ("OW",),
    "i@": ("IY", "AH"),
    # --- syllabic consonants -------------------------------------------------------------------------
    "@L": ("AH", "L"),
    "l-": ("AH", "L"),
    "n-": ("AH", "N"),
    "m-": ("AH", "M"),
    "N-": ("AH", "NG"),
    # --- stops and affricates ------------------------------------------------------------------------
    "p": ("P",),
    "b": ("B",),
    "t": ("T",),
    "t#": ("T",),
    "t2": ("T",),
    "t[": ("T",),
    "*": ("T",),
    "?": ("T",),
    "d": ("D",),
    "d#": ("D",),
    "d[": ("D",),
    "k": ("K",),
    "c": ("K",),
    "q": ("K",),
    "g": ("G",),
    "tS": ("CH",),
    "tS;": ("CH",),
    "dZ": ("JH",),
    "dZ;": ("JH",),
    "J": ("JH",),
    # --- fricatives ----------------------------------------------------------------------------------
    "f": ("F",),
    "v": ("V",),
    "v#": ("V",),
    "B": ("V",),
    "T": ("TH",),
    "D": ("DH",),
    "s": ("S",),
    "s.": ("S",),
    "s;": ("S",),
    "z": ("Z",),
    "z#": ("Z",),
    "z/2": ("Z",),
    "z.": ("Z",),
    "z;": ("Z",),
    "S": ("SH",),
    "S;": ("SH",),
    "Z": ("ZH",),
    "Z;": ("ZH",),
    "J^": ("ZH",),
    "h": ("HH",),
    "x": ("K",),
    "C": ("HH",),
    "X": ("HH",),
    "Q": ("G",),
    "Q^": ("G",),
    'Q"': ("G",),
    # --- nasals --------------------------------------------------------------------------------------
    "m": ("M",),
    "n": ("N",),
    "n.": ("N",),
    "n^": ("N",),
    "N": ("NG",),
    # --- approximants --------------------------------------------------------------------------------
    "l": ("L",),
    "l/2": ("L",),
    "l/3": ("L",),
    "l.": ("L",),
    "l^": ("L",),
    "L": ("L",),
    "L/": ("L",),
    "l#": ("L",),
    "l/": ("L",),
    "r": ("R",),
    "r-": ("R",),
    "r/": ("R",),
    "r.": ("R",),
    "R": ("R",),
    "R2": ("R",),
    "R3": ("R",),
    'r"': ("R",),
    "**": ("R",),
    "w": ("W",),
    "w#": ("W",),
    "j": ("Y",),
}

#: r-coloured vowels and the BATH vowel as spoken by espeak-ng's American tables (en-us, en-us-nyc).
_AMERICAN: dict[str, tuple[str, ...]] = {
    "3": ("ER",),
    "A@": ("AA", "R"),
    "O@": ("AO", "R"),
    "o@": ("AO", "R"),
    "e@": ("EH", "R"),
    "i@3": ("IH", "R"),
    "U@": ("UH", "R"),
    "aI@": ("AY", "ER"),
    "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"),
    "aa": ("AE",),
}

#: The same mnemonics in espeak-ng's British / Caribbean / Scottish tables (non-rhotic or explicit ``r``).
_BRITISH: dict[str, tuple[str, ...]] = {
    "3": ("AH",),
    "A@": ("AA",),
    "O@": ("AO",),
    "o@": ("AO",),
    "e@": ("EH",),
    "i@3": ("IH", "AH"),
    "U@": ("UH", "AH"),
    "aI@": ("AY", "AH"),
    "aI3": ("AY", "AH"),
    "aU@": ("AW", "AH"),
    "aa": ("AA",),
}

#: Every mnemonic this module knows (either accent).
KNOWN_MNEMONICS: frozenset[str] = frozenset(_COMMON) | frozenset(_AMERICAN) | frozenset(_BRITISH)


class UnknownPhonemeError(KeyError):
    """An espeak-ng mnemonic that has no ARPAbet mapping."""


def is_american_voice(voice: str) -> bool:
    """True for voices using espeak-ng's American tables (``en-us``, ``en-us-nyc``, with any ``+variant``)."""
    return voice.split("+", 1)[0].lower().startswith("en-us")


def to_arpabet(mnemonic: str, *, american: bool) -> tuple[str, ...]:
    """Map one espeak-ng mnemonic to ARPAbet phones (see the module docstring for the meaning of the result).

    Raises:
        UnknownPhonemeError: ``mnemonic`` is not in the table.
    """
    accent = _AMERICAN if american else _BRITISH
    if mnemonic in accent:
        return accent[mnemonic]
    try:
        return _COMMON[mnemonic]
    except KeyError:
        raise UnknownPhonemeError(mnemonic) from None


def strip_stress(phone: str) -> str:
    """``'AH0'`` → ``'AH'``; upper-cases; ``sil``/``sp`` → ``SIL``."""
    p = phone.strip().upper().rstrip("012")
    return SIL if p in ("SIL", "SP", "SPN", "<SIL>", "") else p


def collapse(phones: Iterable[str]) -> list[str]:
    """Phone sequence for comparisons: drop ``SIL``, merge ``ER R`` → ``ER`` and repeated identical phones."""
    out: list[str] = []
    for p in phones:
        if p == SIL:
            continue
        if out and (p == out[-1] or (p == "R" and out[-1] == "ER")):
            continue
        out.append(p)
    return out


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two phone sequences (unit costs)."""
    prev = list(range(len(b) + 1))
    for i, pa in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, pb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (pa != pb))
        prev = cur
    return prev[-1]


def load_cmudict(path: str) -> dict[str, list[list[str]]]:
    """Read a CMUdict-format file (``word PH1 PH2 …``, variants as ``word(2)``) into word → pronunciations.

    Stress digits are removed; comments after ``#`` are ignored.
    """
    prons: dict[str, list[list[str]]] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            word, *phones = line.split()
            base = word.split("(", 1)[0].lower()
            prons.setdefault(base, []).append([strip_stress(p) for p in phones])
    return prons
