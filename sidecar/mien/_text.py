"""Transcript normalisation: free text in, the spoken words the aligner can pronounce out.

Handles case, punctuation, curly quotes, accents (NFKD), hyphens, numbers (cardinals,
decimals, ordinals, years, percentages, currency), ampersands and common abbreviations.
Tokens with no Latin letters left (e.g. CJK text) are reported as unspeakable so the caller
can recognise that span instead of aligning it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Token", "tokenize", "number_words"]

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "ms": "miss", "dr": "doctor", "st": "saint", "vs": "versus",
                  "etc": "et cetera", "sgt": "sergeant", "capt": "captain", "lt": "lieutenant", "jr": "junior",
                  "sr": "senior", "no": "no", "ok": "okay"}
_SYMBOLS = {"&": "and", "%": "percent", "+": "plus", "=": "equals", "@": "at", "#": "number"}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros", "¥": "yen"}

_TOKEN_RE = re.compile(r"[$£€¥]?\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th|s)?%?|[^\W\d_]+(?:['’][^\W\d_]+)*|[&%+=@#]",
                       re.UNICODE)


@dataclass(frozen=True)
class Token:
    """One written token and the lowercase spoken words for it (empty: nothing to say)."""

    text: str
    words: tuple[str, ...]
    speakable: bool = True


def _below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        out.append(_TENS[n // 10])
        n %= 10
        if n:
            out.append(_ONES[n])
    elif n or not out:
        out.append(_ONES[n])
    return out


def number_words(n: int) -> list[str]:
    """Cardinal number in words: 1205 -> one thousand two hundred five."""
    if n < 0:
        return ["minus", *number_words(-n)]
    if n == 0:
        return ["zero"]
    out: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            out += [*number_words(n // scale), name]
            n %= scale
    if n:
        out += _below_thousand(n)
    return out


def _year_words(n: int) -> list[str]:
    hi, lo = divmod(n, 100)
    if lo == 0:
        return [*_below_thousand(hi), "hundred"]
    if lo < 10:
        return [*_below_thousand(hi), "oh", _ONES[lo]]
    return [*_below_thousand(hi), *_below_thousand(lo)]


def _ordinal(words: list[str]) -> list[str]:
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return [*words[:-1], last]


def _number_token(tok: str) -> list[str]:
    currency = _CURRENCY.get(tok[0])
    if currency:
        tok = tok[1:]
    percent = tok.endswith("%")
    tok = tok.rstrip("%")
    suffix = ""
    m = re.match(r"^([\d,.]+)(st|nd|rd|th|s)?$", tok)
    if not m:
        return []
    digits, suffix = m.group(1).replace(",", ""), m.group(2) or ""
    whole, _, frac = digits.partition(".")
    n = int(whole) if whole else 0
    if suffix in ("st", "nd", "rd", "th"):
        words = _ordinal(number_words(n))
    elif not frac and not currency and len(whole) == 4 and (1100 <= n <= 1999 or 2010 <= n <= 2099):
        words = _year_words(n)
    elif currency and frac:
        cents = int(frac[:2].ljust(2, "0"))
        words = [*number_words(n), currency, *number_words(cents), "cents"] if cents else [*number_words(n), currency]
        currency = None
    else:
        words = number_words(n)
        if frac:
            words += ["point", *(_ONES[int(d)] for d in frac)]
    if suffix == "s":
        last = words[-1]
        words = [*words[:-1], last[:-1] + "ies" if last.endswith("y") else last + "s"]
    if percent:
        words.append("percent")
    if currency:
        words.append(currency)
    return words


def _fold(text: str) -> str:
    """Lowercase, curly quotes straightened, accents removed (é -> e)."""
    text = text.replace("’", "'").replace("‘", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokenize(transcript: str) -> list[Token]:
    """Split a transcript into tokens with their spoken words (punctuation dropped)."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(_fold(transcript)):
        raw = m.group(0)
        if raw[0].isdigit() or raw[0] in _CURRENCY:
            tokens.append(Token(raw, tuple(_number_token(raw))))
        elif raw in _SYMBOLS:
            tokens.append(Token(raw, (_SYMBOLS[raw],)))
        elif re.fullmatch(r"[a-z']+", raw):
            tokens.append(Token(raw, (_ABBREVIATIONS.get(raw, raw) if raw in _ABBREVIATIONS else raw,)))
        else:
            # letters outside a-z remain (CJK, Cyrillic, ...): keep any Latin part, flag the rest
            latin = re.sub(r"[^a-z']+", " ", raw).split()
            tokens.append(Token(raw, tuple(latin), speakable=False))
    # abbreviations may expand to two words ("et cetera")
    return [Token(t.text, tuple(w for word in t.words for w in word.split()), t.speakable) for t in tokens]
