"""Seeded generator of varied English sentences for speech synthesis (no copyrighted text).

Everything here is written for this project: small hand-made word lists, a template grammar, game-style
dialogue lines, spelled-out numbers, and random words from CMUdict (the public-domain dictionary shipped in
the
``pocketsphinx`` package, used only as a word list for phonetic coverage).  All output is plain ASCII and
numbers are spelled out, so the text is exactly what is spoken.
"""

from __future__ import annotations

import functools
import os
import re

import numpy as np

NAMES = (
    "Alice Bob Mara Tomas Greta Ivan Lena Oskar Priya Yusuf Nadia Felix Brenna Marcus Elise Hugo Ingrid "
    "Jonah "
    "Kira Liam Mabel Nico Olga Percy Quinn Rosa Silas Tara Ulric Vera Walter Xena Yara Zane Bertram Cedric "
    "Delia Edmund Fiona Gideon Hazel"
).split()
PLACES = (
    "the harbor|the old mill|the north gate|the tavern|the market|the castle|the swamp|the mountain pass|"
    "the village|the lighthouse|the forest|the mines|the temple|the bridge|the docks|the crossroads|"
    "the library|"
    "the barracks|the camp|the valley|the city walls|the cave|the palace|the farm|the chapel"
).split("|")
NOUNS = (
    "sword shield horse wagon lantern letter map key coin bread apple barrel rope boat storm fire river wolf "
    "dragon king queen soldier merchant child captain guard stranger friend brother sister mother father "
    "bridge tower door window garden road hill stone bottle candle ring crown book song story secret plan "
    "message potion arrow bow helmet boot cloak hammer anvil basket fish bird cat dog goat sheep cow pig "
    "bell clock chair table bed cup plate knife spoon pot kettle blanket pillow mirror painting statue coat"
).split()
ADJECTIVES = (
    "old young quiet loud bright dark cold warm heavy light small huge ancient broken golden silver wooden "
    "strange lovely terrible brave tired hungry angry happy careful dangerous empty full narrow wide muddy "
    "dusty shiny sharp soft rough green blue red black white purple yellow hidden lonely busy gentle"
).split()
VERBS_PAST = (
    "found lost saw heard stole carried dropped opened closed burned fixed built painted sold bought hid "
    "followed watched helped warned met called chased caught climbed crossed guarded"
).split()
VERBS_BASE = (
    "find bring take carry open close fix build sell buy hide follow watch help warn meet call chase catch "
    "climb cross guard check clean cook fetch feed light move pull push read send show wash"
).split()
TIME_WORDS = (
    "today|tonight|yesterday|tomorrow|at dawn|at noon|before sunset|after midnight|last winter|next spring|"
    "this morning|every evening|right now|in an hour|soon"
).split("|")
GREETINGS = (
    "Hello there|Good morning|Good evening|Welcome, traveler|Greetings|Well met|Ah, you again|Hey|"
    "Oh, it's you|Hail, friend"
).split("|")
DIALOGUE = (
    "Halt! Who goes there?",
    "Stay back, or I will call the guards!",
    "You shouldn't be here.",
    "What do you want from me?",
    "I've got nothing to say to you.",
    "The roads aren't safe after dark.",
    "Need something? I haven't got all day.",
    "Move along, citizen.",
    "Thank you, I owe you my life.",
    "Quick, follow me!",
    "Did you hear that?",
    "Hush. Keep your voice down.",
    "Is anybody there?",
    "Watch out behind you!",
    "We ride at first light.",
    "Bring me the head of the beast.",
    "This is not over!",
    "I knew you'd come back.",
    "Please, help us. They took everything.",
    "Hmm. Interesting. Very interesting.",
    "Ha! You call that a fight?",
    "No, no, no. That's not how it works.",
    "Well, well. Look who finally showed up.",
    "Oh, I wouldn't do that if I were you.",
    "Are you lost, friend?",
    "Ready when you are.",
    "I'm not paid enough for this.",
    "Get out of my shop!",
    "Looking to buy, or just looking?",
    "Rest here a while. You look exhausted.",
    "Wait! Don't leave me here!",
    "By the gods, what is that thing?",
    "Nice weather today, isn't it?",
    "The bridge is out. We'll have to swim.",
    "Open the gate!",
    "Fall back! Fall back!",
    "Yes, my lord.",
    "Right away, captain.",
    "Oh, that smells wonderful.",
    "Ugh, what is that smell?",
)
EMOTIVE = (
    "Oh no|Wow|Really|Seriously|Unbelievable|Of course|Absolutely|Never|Fine|Okay|Alright|Hey|Whoa|Great|"
    "Perfect|Wonderful|Look|Listen|Hurry|Run"
).split("|")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "zero ten twenty thirty forty fifty sixty seventy eighty ninety".split()
_THOUSAND = 1000
_HUNDRED = 100
_TWENTY = 20
_TEN = 10


def number_to_words(n: int) -> str:
    """Spell a non-negative integer below one billion (``121`` → ``one hundred and twenty one``)."""
    if n < 0 or n >= 10**9:
        raise ValueError(f"number out of range: {n}")
    if n < _TWENTY:
        return _ONES[n]
    if n < _HUNDRED:
        tens, ones = divmod(n, _TEN)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < _THOUSAND:
        hundreds, rest = divmod(n, _HUNDRED)
        return f"{_ONES[hundreds]} hundred" + (f" and {number_to_words(rest)}" if rest else "")
    for scale, name in ((10**6, "million"), (_THOUSAND, "thousand")):
        if n >= scale:
            big, rest = divmod(n, scale)
            tail = ""
            if rest:
                tail = (" and " if rest < _HUNDRED else " ") + number_to_words(rest)
            return f"{number_to_words(big)} {name}{tail}"
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=1)
def cmudict_words() -> tuple[str, ...]:
    """Plain alphabetic words (3–10 letters) from pocketsphinx's CMUdict, sorted; empty if unavailable."""
    try:
        import pocketsphinx
    except ImportError:
        return ()
    path = os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")
    if not os.path.exists(path):
        return ()
    words = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split(" ", 1)[0]
            if re.fullmatch(r"[a-z]{3,10}", w):
                words.add(w)
    return tuple(sorted(words))


class SentenceGenerator:
    """Draws sentences from a template grammar with a caller-supplied :class:`numpy.random.Generator`."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def pick(self, items: tuple[str, ...] | list[str]) -> str:
        """Uniform choice."""
        return items[int(self.rng.integers(len(items)))]

    def noun_phrase(self) -> str:
        """``the old sword``, ``a lantern``, ``Mara's ring`` …"""
        r = self.rng.random()
        noun = self.pick(NOUNS)
        if r < 0.35:
            return f"the {self.pick(ADJECTIVES)} {noun}"
        if r < 0.55:
            art = "an" if noun[0] in "aeiou" else "a"
            return f"{art} {noun}"
        if r < 0.7:
            return f"{self.pick(NAMES)}'s {noun}"
        if r < 0.8:
            return f"{number_to_words(int(self.rng.integers(2, 20)))} {noun}s"
        return f"the {noun}"

    def number_phrase(self) -> str:
        """Counts, prices, years, codes."""
        r = self.rng.random()
        if r < 0.3:
            return f"{number_to_words(int(self.rng.integers(2, 1000)))} gold coins"
        if r < 0.5:
            year = int(self.rng.integers(1100, 2100))
            hi, lo = divmod(year, 100)
            return f"the year {number_to_words(hi)} {number_to_words(lo) if lo >= 10 else 'oh ' + _ONES[lo]}"
        if r < 0.7:
            digits = " ".join(
                _ONES[int(d)] for d in self.rng.integers(0, 10, size=int(self.rng.integers(3, 7)))
            )
            return f"code {digits}"
        return number_to_words(int(self.rng.integers(0, 10 ** int(self.rng.integers(1, 7)))))

    def rare_word(self) -> str:
        """A random CMUdict word (phonetic coverage), or a noun if CMUdict is unavailable."""
        words = cmudict_words()
        return self.pick(words) if words else self.pick(NOUNS)

    def clause(self) -> str:
        """One sentence (with final punctuation)."""
        name, place, when = self.pick(NAMES), self.pick(PLACES), self.pick(TIME_WORDS)
        templates = (
            lambda: f"{name} {self.pick(VERBS_PAST)} {self.noun_phrase()} near {place} {when}.",
            lambda: f"Did you {self.pick(VERBS_BASE)} {self.noun_phrase()} {when}?",
            lambda: f"{self.pick(GREETINGS)}! Have you seen {self.noun_phrase()}?",
            lambda: f"Please {self.pick(VERBS_BASE)} {self.noun_phrase()} to {place}.",
            lambda: f"I think {self.noun_phrase()} is {self.pick(ADJECTIVES)}.",
            lambda: f"We need {self.number_phrase()} before {when.replace('at ', '')}.",
            lambda: f"That will be {self.number_phrase()}, {self.pick(NAMES)}.",
            lambda: f"{self.pick(EMOTIVE)}! {self.noun_phrase().capitalize()} is gone!",
            lambda: f"Why is {self.noun_phrase()} in {place}?",
            lambda: f"Nobody goes to {place} {when}, not even {name}.",
            lambda: f"The word is {self.rare_word()}, not {self.rare_word()}.",
            lambda: f"Say {self.rare_word()}, {self.rare_word()} and {self.rare_word()} again.",
            lambda: (
                f"{name}, {self.pick(VERBS_BASE)} {self.noun_phrase()} and {self.pick(VERBS_BASE)} "
                f"{self.noun_phrase()}."
            ),
            lambda: (
                f"How many {self.pick(NOUNS)}s are there in {place}? "
                f"{number_to_words(int(self.rng.integers(0, 200)))}."
            ),
            lambda: self.pick(DIALOGUE),
            lambda: self.pick(DIALOGUE),
        )
        text = templates[int(self.rng.integers(len(templates)))]()
        return text[0].upper() + text[1:]

    def utterance(self, max_sentences: int = 3) -> str:
        """One to ``max_sentences`` sentences joined by spaces."""
        k = 1 + int(self.rng.integers(max_sentences))
        return " ".join(self.clause() for _ in range(k))
