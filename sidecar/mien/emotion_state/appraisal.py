"""Appraisal: what a line said to an NPC means for it, decided by nearest prototype lines.

Every appraisal (threat, insult, loss, praise, ...) is a YAML entry with OCC variables (Ortony, Clore &
Collins 1988, *The Cognitive Structure of Emotions*) and prototype lines
(``mien/data/emotion_state/appraisals.yaml``; a game extends it with its own file or at run time).
A line is embedded by the shipped sentence encoder (all-MiniLM-L6-v2) and compared with every
prototype line by cosine similarity:

* the score of an appraisal is the mean of its ``TOP_K`` most similar prototypes;
* the appraisal weights are ``softmax(score / TEMPERATURE)``; weights below ``MIN_WEIGHT`` are dropped;
* the confidence is how well the best appraisal matches at all:
  ``clip((best score - SIM_FLOOR) / (SIM_FULL - SIM_FLOOR), 0, 1)`` — a line like nothing the NPC knows
  moves it little.

Two cheap text cues refine the match (``docs/emotion_state.md`` §2.2):

* **negation**: a line with a negation ("I will *not* hurt you", "nobody is going to rob you") whose
  best prototypes of a harmful appraisal (threat, harm, accusation) are *not* negated is a denial of
  that harm: its weight moves to the appraisal named by that entry's ``negated`` key (reassurance);
  a negated prototype ("Don't move or I'll stab you", "Nobody will ever find your body") that matches
  best keeps the line a threat;
* **target**: who the line is about, from its pronouns — an appraisal ``about: listener`` (the NPC's own
  fortune: "your brother died") loses weight on a line that speaks only of the speaker ("my brother
  died"), and one ``about: speaker`` loses weight on a line addressed only to the NPC.

Prototype embeddings are computed once when the model is built (the shipped lines come precomputed
from ``appraisals.npz``, keyed by the encoder's sha256 and each line's text), so classifying a line
costs one matrix-vector product beside the line's own encoding.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from ..errors import InvalidArgument
from .context import EMBEDDING_DIM, ENCODER_FILE, data_path

__all__ = [
    "ABOUT",
    "AGENTS",
    "APPRAISALS_FILE",
    "APPRAISALS_SCHEMA_VERSION",
    "EMBEDDINGS_FILE",
    "LIMITS",
    "PROSPECTS",
    "Appraisal",
    "AppraisalModel",
    "AppraisalSpec",
    "encoder_sha256",
    "load_appraisals",
    "merge_appraisals",
    "parse_appraisal_doc",
    "text_cues",
]

APPRAISALS_FILE = "appraisals.yaml"
EMBEDDINGS_FILE = "appraisals.npz"
APPRAISALS_SCHEMA_VERSION = 1
PROSPECTS: tuple[str, ...] = ("none", "likely", "disconfirmed")
ABOUT: tuple[str, ...] = ("listener", "speaker", "other")
AGENTS: tuple[str, ...] = ("none", "speaker", "other", "listener")

TOP_K = 2
"""Prototypes averaged per appraisal (the best ones)."""
TEMPERATURE = 0.04
"""Softmax temperature over the combined appraisal scores."""
MIN_WEIGHT = 0.02
"""Appraisal weights below this are dropped (and the rest renormalised)."""
SIM_FLOOR = 0.25
"""Best-match cosine at or below which the confidence is 0 (the line is like no prototype)."""
SIM_FULL = 0.55
"""Best-match cosine at or above which the confidence is 1."""
NEGATION_MISMATCH = 0.1
"""Cosine penalty of a prototype whose negation differs from the line's ("I will not hurt you" is far
from "I will hurt you", close to "I won't hurt you")."""
W_KNN = 1.0
"""Weight of the nearest-prototype score (mean cosine of the best TOP_K prototypes)."""
W_READOUT = 0.25
"""Weight of the linear read-out score (ridge regression on the prototype lines, ±1 targets)."""
W_KEYWORD = 0.5
"""Weight of the keyword score ``1 - 0.5^hits``."""
KEYWORD_CONFIDENCE = 0.9
"""Confidence given by a keyword alone (times its score)."""
READOUT_RIDGE = 0.1
"""Ridge penalty of the read-out fit."""
TARGET_PENALTY = 0.5
"""Factor on the weight of an appraisal whose ``about`` contradicts the line's pronouns."""


@dataclass(frozen=True)
class _Limits:
    max_appraisals: int = 256
    max_lines_per_appraisal: int = 2000
    max_lines_total: int = 20000
    max_line_chars: int = 500
    max_name_chars: int = 64
    max_description_chars: int = 500
    max_lines_per_template: int = 400
    max_keywords_per_appraisal: int = 300
    max_keyword_chars: int = 60
    max_vocabulary_words: int = 200


LIMITS = _Limits()
"""Bounds on appraisal files and run-time extensions (each refusal names the limit)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NEGATIONS = frozenset(
    {"not", "no", "never", "nobody", "none", "nothing", "noone", "neither", "nor", "nowhere", "cannot", "without"}
)
_SECOND = frozenset({"you", "your", "yours", "yourself", "yourselves", "thee", "thy", "thou", "ye", "ya"})
_FIRST = frozenset({"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves"})
_FIELDS_NUMERIC: dict[str, tuple[float, float]] = {
    "desirability": (-1.0, 1.0),
    "praiseworthiness": (-1.0, 1.0),
    "appeal": (-1.0, 1.0),
    "unexpectedness": (0.0, 1.0),
    "intensity": (0.0, 1.0),
}
_FIELDS_CHOICE: dict[str, tuple[str, ...]] = {"prospect": PROSPECTS, "about": ABOUT, "agent": AGENTS}
_DEFAULTS: dict[str, object] = {
    "description": "",
    "desirability": 0.0,
    "prospect": "none",
    "about": "listener",
    "agent": "none",
    "praiseworthiness": 0.0,
    "appeal": 0.0,
    "unexpectedness": 0.0,
    "intensity": 0.5,
    "negated": None,
    "ironic": None,
}
_KEYS = frozenset(_DEFAULTS) | {"lines", "templates", "keywords"}
_SLOT = re.compile(r"\{([a-z][a-z0-9_]*)\}")


@dataclass(frozen=True)
class AppraisalSpec:
    """One appraisal: its OCC variables and prototype lines (see ``appraisals.yaml``)."""

    name: str
    lines: tuple[str, ...]
    description: str = ""
    desirability: float = 0.0
    prospect: str = "none"
    about: str = "listener"
    agent: str = "none"
    praiseworthiness: float = 0.0
    appeal: float = 0.0
    unexpectedness: float = 0.0
    intensity: float = 0.5
    negated: str | None = None
    """The appraisal a negated line of this one means instead (``threat`` -> ``reassurance``)."""
    ironic: str | None = None
    """The appraisal a line of this one means when it also has a keyword of that one (sarcasm: "well done,
    you've ruined it again, genius" is mockery, ``praise`` -> ``insult``): its keywords then count for it."""
    keywords: tuple[str, ...] = ()
    """Words or phrases that signal this appraisal (whole words, lower case)."""


@dataclass(frozen=True)
class Appraisal:
    """What one line means for the NPC."""

    name: str
    """The best appraisal ("neutral" when no appraisal is known)."""
    confidence: float
    """0..1: how well the line matches the best appraisal's prototypes."""
    weights: Mapping[str, float]
    """Appraisal -> weight (sums to 1), the ones that count."""
    similarity: float
    """Cosine similarity of the best prototype."""
    negated: bool = False
    """A negation cue moved weight to a ``negated`` appraisal."""
    target: str = "unknown"
    """Who the line is about by its pronouns: listener, speaker or unknown."""
    prototype: str = ""
    """The most similar prototype line (for designers: why the line was read this way)."""


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
_IDIOMS = (  # negation words that negate nothing
    "never believe", "won't believe", "wouldn't believe", "can't believe", "couldn't believe", "never guess",
    "no way", "not only", "nothing but", "no doubt", "can't wait", "don't you know", "no matter",
)
_CONDITIONAL = frozenset({"if", "unless"})


def _normalise(text: str) -> str:
    """Lower case, curly apostrophes straightened, tokens joined by single spaces ('!' and '?' kept)."""
    return " ".join(_TOKEN.findall(text.lower().replace("\u2019", "'").replace("\u2018", "'")))


def _is_negation(word: str) -> bool:
    return word in _NEGATIONS or word.endswith("n't")


def _negations(tokens: list[str]) -> list[bool]:
    """Per token: it is a negation that negates the statement (not an idiom, not inside an if-clause)."""
    joined = " ".join(tokens)
    idiom = [False] * len(tokens)
    for phrase in _IDIOMS:
        n = len(phrase.split())
        for i in range(len(tokens) - n + 1):
            if " ".join(tokens[i:i + n]) == phrase:
                for k in range(i, i + n):
                    idiom[k] = True
    del joined
    out = []
    for i, w in enumerate(tokens):
        conditional = any(t in _CONDITIONAL for t in tokens[max(0, i - 3):i])
        out.append(_is_negation(w) and not idiom[i] and not conditional)
    return out


def text_cues(text: str) -> tuple[bool, str]:
    """(has a negation, target) of a line: target is listener (2nd person only), speaker (1st person only)
    or unknown. Idioms ("you won't believe it") and negations inside an if-clause ("if you don't pay")
    do not count as negations."""
    tokens = _normalise(text).split()
    negated = any(_negations(tokens)) or "no one" in " ".join(tokens)
    second = any(w.split("'")[0] in _SECOND for w in tokens)
    first = any(w.split("'")[0] in _FIRST for w in tokens)
    target = "listener" if second and not first else "speaker" if first and not second else "unknown"
    return negated, target


def _keyword_tokens(keyword: str) -> tuple[str, ...]:
    """A keyword as tokens: ``*`` alone matches any one word, ``word*`` any word starting with ``word``."""
    return tuple(t for t in keyword.lower().replace("\u2019", "'").split() if t)


def _token_matches(pattern: str, token: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return token.startswith(pattern[:-1])
    return token == pattern


@dataclass(frozen=True)
class KeywordIndex:
    """Every appraisal's keywords, indexed by their first token (exact words, prefixes, wildcards)."""

    exact: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]
    other: tuple[tuple[str, tuple[str, ...]], ...]  # first token is a prefix or a wildcard
    negated: Mapping[str, str | None]
    ironic: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, specs: Mapping[str, AppraisalSpec]) -> KeywordIndex:
        exact: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        other: list[tuple[str, tuple[str, ...]]] = []
        for spec in specs.values():
            for kw in spec.keywords:
                tokens = _keyword_tokens(kw)
                if not tokens:
                    continue
                if tokens[0].endswith("*"):
                    other.append((spec.name, tokens))
                else:
                    exact.setdefault(tokens[0], []).append((spec.name, tokens))
        return cls({k: tuple(v) for k, v in exact.items()}, tuple(other),
                   {name: spec.negated for name, spec in specs.items()},
                   {name: spec.ironic for name, spec in specs.items() if spec.ironic is not None})

    def hits(self, text: str) -> dict[str, int]:
        """Appraisal -> number of its keywords in ``text``; a keyword with a negation among the 3 words
        before it counts for the appraisal's ``negated`` appraisal instead (when it has one); in a line that
        also has a keyword of the appraisal an ``ironic`` key names, the keywords of the appraisal with that
        key count for the named one (sarcasm: praise words beside an insult's)."""
        tokens = _normalise(text).split()
        negs = _negations(tokens)
        out: dict[str, int] = {}
        for i, token in enumerate(tokens):
            candidates = self.exact.get(token, ())
            for name, pattern in (*candidates, *self.other):
                n = len(pattern)
                if i + n > len(tokens) or not all(_token_matches(p, tokens[i + j]) for j, p in enumerate(pattern)):
                    continue
                target = self.negated.get(name) if any(negs[max(0, i - 3):i]) else None
                key = target or name
                out[key] = out.get(key, 0) + 1
        for name, target in self.ironic.items():
            if out.get(name, 0) and out.get(target, 0):
                out[target] += out.pop(name)
        return out


def keyword_hits(text: str, specs: Mapping[str, AppraisalSpec]) -> dict[str, int]:
    """:meth:`KeywordIndex.hits` for ``specs`` (convenience; the model keeps its index)."""
    return KeywordIndex.of(specs).hits(text)


def _bad(source: str, where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{source}: appraisals.{where}: {problem}", field="appraisals")


def _check_lines(raw: object, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _bad(source, where, "lines must be a list of strings")
    if len(raw) > LIMITS.max_lines_per_appraisal:
        raise _bad(source, where, f"{len(raw)} lines; accepted: at most {LIMITS.max_lines_per_appraisal}")
    out = []
    for i, line in enumerate(raw):
        text = line.strip()
        if not text:
            raise _bad(source, f"{where}.lines[{i}]", "a line must not be empty")
        if len(text) > LIMITS.max_line_chars:
            raise _bad(source, f"{where}.lines[{i}]",
                       f"{len(text)} characters; accepted: at most {LIMITS.max_line_chars}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(source, f"{where}.lines[{i}]", "not valid Unicode text (lone surrogate)") from None
        out.append(text)
    return tuple(out)


def expand_template(pattern: str, vocabulary: Mapping[str, Sequence[str]], source: str, where: str) -> list[str]:
    """Every line of ``pattern`` with each ``{slot}`` replaced by each word of ``vocabulary[slot]``."""
    slots = list(dict.fromkeys(_SLOT.findall(pattern)))
    missing = [slot for slot in slots if slot not in vocabulary]
    if missing:
        raise _bad(source, where, f"template {pattern[:60]!r} uses {{{missing[0]}}}, which the vocabulary does not "
                   f"define; defined: {', '.join(sorted(vocabulary)) or 'none'}")
    count = math.prod(len(vocabulary[slot]) for slot in slots)
    if count > LIMITS.max_lines_per_template:
        raise _bad(source, where, f"template {pattern[:60]!r} makes {count} lines; accepted: at most "
                   f"{LIMITS.max_lines_per_template}")
    lines = [pattern]
    for slot in slots:
        lines = [line.replace("{" + slot + "}", word) for line in lines for word in vocabulary[slot]]
    return lines


def _vocabulary(raw: object, source: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidArgument(f"{source}: vocabulary must be a mapping of slot -> list of words", field="appraisals")
    out: dict[str, tuple[str, ...]] = {}
    for slot, words in raw.items():
        if not isinstance(slot, str) or not _NAME.match(slot):
            raise InvalidArgument(f"{source}: vocabulary slot names must be lower_snake_case", field="appraisals")
        if (not isinstance(words, list) or not words or len(words) > LIMITS.max_vocabulary_words
                or not all(isinstance(w, str) and w.strip() and len(w) <= 100 for w in words)):
            raise InvalidArgument(f"{source}: vocabulary.{slot} must be a list of 1..{LIMITS.max_vocabulary_words} "
                                  "words (each 1..100 characters)", field="appraisals")
        out[slot] = tuple(w.strip() for w in words)
    return out


def _parse_entry(
    name: object, body: object, source: str, base: AppraisalSpec | None,
    vocabulary: Mapping[str, Sequence[str]] | None = None,
) -> AppraisalSpec:
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(source, str(name)[:64], "names must be lower_snake_case ([a-z][a-z0-9_]*, at most 64 characters)")
    if not isinstance(body, Mapping):
        raise _bad(source, name, "must be a mapping of OCC variables and lines")
    unknown = set(body) - _KEYS
    if unknown:
        raise _bad(source, name, f"unknown keys {sorted(map(str, unknown))[:5]}; accepted: {', '.join(sorted(_KEYS))}")
    values: dict[str, object] = {}
    for key, (lo, hi) in _FIELDS_NUMERIC.items():
        if key in body:
            x = body[key]
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or not lo <= x <= hi:
                raise _bad(source, f"{name}.{key}", f"must be a number in [{lo:g}, {hi:g}], got {str(x)[:40]!r}")
            values[key] = float(x)
    for key, choices in _FIELDS_CHOICE.items():
        if key in body:
            if body[key] not in choices:
                raise _bad(source, f"{name}.{key}", f"{str(body[key])[:40]!r}; accepted: {', '.join(choices)}")
            values[key] = str(body[key])
    if "description" in body:
        if not isinstance(body["description"], str) or len(body["description"]) > LIMITS.max_description_chars:
            raise _bad(source, f"{name}.description", f"must be a string of at most {LIMITS.max_description_chars} "
                       "characters")
        values["description"] = body["description"]
    if "negated" in body:
        target = body["negated"]
        if target is not None and (not isinstance(target, str) or not _NAME.match(target)):
            raise _bad(source, f"{name}.negated", "must name an appraisal (lower_snake_case) or be null")
        values["negated"] = target
    if "ironic" in body:
        target = body["ironic"]
        if target is not None and (not isinstance(target, str) or not _NAME.match(target)):
            raise _bad(source, f"{name}.ironic", "must name an appraisal (lower_snake_case) or be null")
        values["ironic"] = target
    raw_kw = body.get("keywords", [])
    if (not isinstance(raw_kw, list) or len(raw_kw) > LIMITS.max_keywords_per_appraisal
            or not all(isinstance(k, str) and k.strip() and len(k) <= LIMITS.max_keyword_chars for k in raw_kw)):
        raise _bad(source, f"{name}.keywords", f"must be a list of at most {LIMITS.max_keywords_per_appraisal} "
                   f"words or phrases (each 1..{LIMITS.max_keyword_chars} characters)")
    keywords = tuple(dict.fromkeys(" ".join(_keyword_tokens(k)) for k in raw_kw if _keyword_tokens(k)))
    raw_lines = body.get("lines", [])
    templates = body.get("templates", [])
    if not isinstance(templates, list) or not all(isinstance(t, str) for t in templates):
        raise _bad(source, name, "templates must be a list of strings with {slot} fields")
    if isinstance(raw_lines, list):
        for i, pattern in enumerate(templates):
            raw_lines = raw_lines + expand_template(pattern, vocabulary or {}, source, f"{name}.templates[{i}]")
    lines = tuple(dict.fromkeys(_check_lines(raw_lines, source, name)))
    if base is None:
        if not lines:
            raise _bad(source, name, "a new appraisal needs at least one prototype line")
        merged = {**_DEFAULTS, **values}
        return AppraisalSpec(name=name, lines=lines, keywords=keywords, **merged)  # type: ignore[arg-type]
    seen = set(base.lines)
    extra = tuple(dict.fromkeys(line for line in lines if line not in seen))
    more_kw = tuple(k for k in keywords if k not in base.keywords)
    return replace(base, lines=base.lines + extra, keywords=base.keywords + more_kw, **values)  # type: ignore[arg-type]


def parse_appraisal_doc(doc: object, source: str) -> tuple[Mapping[str, object], dict[str, tuple[str, ...]]]:
    """The ``appraisals`` mapping and the ``vocabulary`` of a parsed appraisal file (schema checked, entries
    not yet)."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("appraisals"), Mapping):
        raise InvalidArgument(f"{source}: expected a mapping with an 'appraisals' mapping", field="appraisals")
    version = doc.get("schema_version", APPRAISALS_SCHEMA_VERSION)
    if version != APPRAISALS_SCHEMA_VERSION:
        raise InvalidArgument(
            f"{source}: schema_version {str(version)[:20]!r} is not supported; accepted: {APPRAISALS_SCHEMA_VERSION}",
            field="appraisals",
        )
    unknown = set(doc) - {"schema_version", "appraisals", "vocabulary"}
    if unknown:
        raise InvalidArgument(f"{source}: unknown top-level keys {sorted(map(str, unknown))[:5]}; accepted: "
                              "schema_version, vocabulary, appraisals", field="appraisals")
    entries = doc["appraisals"]
    assert isinstance(entries, Mapping)
    return entries, _vocabulary(doc.get("vocabulary"), source)


def merge_appraisals(
    base: Mapping[str, AppraisalSpec], entries: Mapping[str, object], source: str,
    vocabulary: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, AppraisalSpec]:
    """``base`` with ``entries`` applied: an existing name gets the lines added and the variables given
    overridden; a new name is a new appraisal. Bounds in :data:`LIMITS`; nothing changes on error."""
    out = dict(base)
    if len(set(out) | set(map(str, entries))) > LIMITS.max_appraisals:
        raise InvalidArgument(f"{source}: more than {LIMITS.max_appraisals} appraisals; accepted: at most "
                              f"{LIMITS.max_appraisals}", field="appraisals")
    for name, body in entries.items():
        spec = _parse_entry(name, body, source, out.get(str(name)), vocabulary)
        out[spec.name] = spec
    for spec in out.values():
        if spec.negated is not None and spec.negated not in out:
            raise _bad(source, f"{spec.name}.negated", f"names no appraisal: {spec.negated!r}")
        if spec.ironic is not None and spec.ironic not in out:
            raise _bad(source, f"{spec.name}.ironic", f"names no appraisal: {spec.ironic!r}")
    total = sum(len(s.lines) for s in out.values())
    if total > LIMITS.max_lines_total:
        raise InvalidArgument(f"{source}: {total} prototype lines in all; accepted: at most {LIMITS.max_lines_total}",
                              field="appraisals")
    return out


def _read_yaml(path: Path, field: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{field}: cannot read {path}: {exc}", field=field) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{path}: not valid YAML: {str(exc)[:300]}", field=field) from None


def load_appraisals(path: str | Path | None = None) -> dict[str, AppraisalSpec]:
    """The shipped appraisals, then (if ``path`` is given) that file's entries on top of them."""
    shipped = data_path(APPRAISALS_FILE)
    entries, vocabulary = parse_appraisal_doc(_read_yaml(shipped, "appraisals"), str(shipped))
    specs = merge_appraisals({}, entries, str(shipped), vocabulary)
    if path is not None:
        p = Path(path)
        entries, own = parse_appraisal_doc(_read_yaml(p, "appraisals_path"), str(p))
        specs = merge_appraisals(specs, entries, str(p), {**vocabulary, **own})
    return specs


def encoder_sha256() -> str:
    """sha256 of the shipped encoder, from its metadata (keys the precomputed prototype embeddings)."""
    meta = json.loads(data_path(ENCODER_FILE + ".json").read_text(encoding="utf-8"))
    return str(meta["sha256"])


def _shipped_vectors() -> dict[str, np.ndarray]:
    path = data_path(EMBEDDINGS_FILE)
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as npz:
        if str(npz["encoder_sha256"]) != encoder_sha256():
            return {}
        texts = [str(t) for t in npz["texts"]]
        vectors = np.asarray(npz["vectors"], dtype=np.float32)
    return dict(zip(texts, vectors, strict=True))


def line_key(text: str) -> str:
    """Stable key of a prototype line (for caches)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


Embedder = Callable[[str], np.ndarray]


_READOUTS: dict[str, np.ndarray] = {}
"""Process-wide cache of fitted read-outs, keyed by the sha256 of the prototype set."""


def _fit_readout(matrix: np.ndarray, owner: np.ndarray, classes: int) -> np.ndarray:
    """Ridge regression of the ±1 class indicators on [embedding, 1], each class weighted equally.

    Closed form ``W = (Xᵀ S X + λ I)⁻¹ Xᵀ S (2Y - 1)`` (S: per-line weights 1/lines of its class), so a
    game's new lines are fitted in milliseconds and the result is deterministic.
    """
    x = np.hstack([matrix.astype(np.float64), np.ones((matrix.shape[0], 1))])
    counts = np.bincount(owner, minlength=classes).astype(np.float64)
    w = 1.0 / counts[owner]
    w *= len(w) / w.sum()
    y = np.where(np.arange(classes)[None, :] == owner[:, None], 1.0, -1.0)
    xw = x * w[:, None]
    return np.linalg.solve(xw.T @ x + READOUT_RIDGE * np.eye(x.shape[1]), xw.T @ y)


@dataclass(frozen=True)
class AppraisalModel:
    """The appraisals with their prototype embeddings and read-out; immutable (extending returns a new model)."""

    specs: Mapping[str, AppraisalSpec]
    names: tuple[str, ...]
    matrix: np.ndarray  # (M, 384) float32 unit rows
    owner: np.ndarray  # (M,) index into names
    negated_line: np.ndarray  # (M,) bool: the prototype has a negation cue
    lines: tuple[str, ...]
    readout: np.ndarray  # (385, K) linear read-out of [embedding, 1]
    keywords: KeywordIndex
    _groups: tuple[np.ndarray, ...] = field(repr=False, default=())

    @classmethod
    def build(
        cls, specs: Mapping[str, AppraisalSpec], embed: Embedder, known: Mapping[str, np.ndarray] | None = None
    ) -> AppraisalModel:
        """Embed every prototype line (``known`` vectors by text are reused; the shipped ones by default)."""
        cache = dict(_shipped_vectors() if known is None else known)
        names = tuple(sorted(specs))
        rows: list[np.ndarray] = []
        owner: list[int] = []
        flags: list[bool] = []
        lines: list[str] = []
        for index, name in enumerate(names):
            for line in specs[name].lines:
                vec = cache.get(line)
                if vec is None:
                    vec = cache[line] = np.asarray(embed(line), dtype=np.float32)
                rows.append(np.asarray(vec, dtype=np.float32))
                owner.append(index)
                flags.append(text_cues(line)[0])
                lines.append(line)
        matrix = np.ascontiguousarray(np.stack(rows) if rows else np.zeros((0, EMBEDDING_DIM)), dtype=np.float32)
        own = np.asarray(owner, dtype=np.int64)
        groups = tuple(np.flatnonzero(own == i) for i in range(len(names)))
        key = hashlib.sha256(matrix.tobytes() + own.tobytes()).hexdigest()
        readout = _READOUTS.get(key)
        if readout is None:
            readout = np.zeros((EMBEDDING_DIM + 1, len(names))) if not rows else _fit_readout(matrix, own, len(names))
            readout.setflags(write=False)
            _READOUTS[key] = readout
        return cls(dict(specs), names, matrix, own, np.asarray(flags, dtype=bool), tuple(lines), readout,
                   KeywordIndex.of(specs), groups)

    def extended(
        self, entries: Mapping[str, object], source: str, embed: Embedder,
        vocabulary: Mapping[str, Sequence[str]] | None = None,
    ) -> AppraisalModel:
        """A new model with ``entries`` merged (see :func:`merge_appraisals`); this one is unchanged."""
        specs = merge_appraisals(self.specs, entries, source, vocabulary)
        known = {line: self.matrix[i] for i, line in enumerate(self.lines)}
        return AppraisalModel.build(specs, embed, known)

    def vectors(self) -> dict[str, np.ndarray]:
        """Prototype line -> embedding (what ``appraisals.npz`` stores)."""
        return {line: self.matrix[i] for i, line in enumerate(self.lines)}

    def scores(self, embedding: np.ndarray, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per appraisal: (nearest-prototype score, read-out score, keyword score, best prototype row)."""
        e = np.asarray(embedding, dtype=np.float32)
        # np.einsum, not `@`: no multi-threaded BLAS call from request threads (see transition.py).
        sims = np.einsum("md,d->m", self.matrix, e).astype(np.float64)
        negated, _ = text_cues(text)
        sims = np.where(self.negated_line != negated, sims - NEGATION_MISMATCH, sims)
        knn = np.empty(len(self.names))
        best_row = np.empty(len(self.names), dtype=np.int64)
        for i, rows in enumerate(self._groups):
            group = sims[rows]
            k = min(TOP_K, group.size)
            top = np.argpartition(group, group.size - k)[group.size - k:]
            knn[i] = float(group[top].mean())
            best_row[i] = rows[int(np.argmax(group))]
        x = np.append(e.astype(np.float64), 1.0)
        readout = np.einsum("d,dk->k", x, self.readout)
        hits = self.keywords.hits(text)
        kw = np.array([1.0 - 0.5 ** hits.get(name, 0) for name in self.names])
        return knn, readout, kw, best_row

    def appraise(self, embedding: np.ndarray, text: str) -> Appraisal:
        """What ``text`` (whose encoder embedding is ``embedding``) means for the NPC."""
        if not self.names:
            return Appraisal("neutral", 0.0, {}, 0.0)
        knn, readout, kw, best_row = self.scores(embedding, text)
        score = W_KNN * knn + W_READOUT * readout + W_KEYWORD * kw
        z = np.exp((score - score.max()) / TEMPERATURE)
        weights = z / z.sum()
        _, target = text_cues(text)
        if target != "unknown":
            for i, name in enumerate(self.names):
                about = self.specs[name].about
                if (about == "listener" and target == "speaker") or (about == "speaker" and target == "listener"):
                    weights[i] *= TARGET_PENALTY
        weights = np.where(weights >= MIN_WEIGHT * weights.sum(), weights, 0.0)
        weights = weights / weights.sum()
        top_index = int(np.argmax(weights))
        best_sim = float(knn.max())
        match = float(np.clip((best_sim - SIM_FLOOR) / (SIM_FULL - SIM_FLOOR), 0.0, 1.0))
        confidence = max(match, KEYWORD_CONFIDENCE * float(kw.max()))
        return Appraisal(
            name=self.names[top_index],
            confidence=confidence,
            weights={self.names[i]: float(w) for i, w in enumerate(weights) if w > 0.0},
            similarity=best_sim,
            negated=text_cues(text)[0],
            target=target,
            prototype=self.lines[int(best_row[top_index])],
        )


def shipped_lines() -> Iterable[str]:
    """Every prototype line of the shipped file (for the embedding cache)."""
    for spec in load_appraisals().values():
        yield from spec.lines


def check_npz(vectors: Mapping[str, np.ndarray], lines: Sequence[str]) -> list[str]:
    """Lines missing from precomputed ``vectors`` (a test keeps ``appraisals.npz`` complete)."""
    return [line for line in lines if line not in vectors]
