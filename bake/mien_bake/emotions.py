"""``auto`` emotions: replay each character's lines, in manifest order, through the NPC emotion state.

For a character with a personality (``persona`` preset or ``ocean``), a fresh in-memory
:class:`~mien.emotion_state.EmotionStateEngine` NPC is created and, for each of its valid lines in
manifest order:

1. ``heard`` (optional): ``observe(npc, "other", heard)`` — the other party's line moves the
   NPC's emotion (the personality-affected transition);
2. the line itself: ``observe(npc, "self", transcript, emotion=tag)``, where ``tag`` is the
   line's explicit emotion (a writer's tag, which also sets the NPC's state; for keyframes, the
   last keyframe) or ``None`` for ``auto``. An ``auto`` line is animated with the emotion this
   returns (the NPC's current emotion).

``game_time_s`` (optional per line) is passed to both calls, so mood and emotion decay between
lines; without it no game time passes. The engine is deterministic, so the same manifest gives
the same emotions.

Replays are cached by a *chain key*: the hash of the engine's fingerprint, the personality, and
every earlier line's inputs (heard, transcript, tag, time). When every ``auto`` line of a
character has a cached emotion, the engine is not loaded at all (a warm bake stays fast).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mien.emotion import Emotion, EmotionKeyframe
from mien.emotion_state import EmotionStateConfig, EmotionStateEngine
from mien.errors import MienError

from .cache import canonical_json, emotion_json, emotion_state_fingerprint, sha256_hex
from .manifest import Character, Line, Manifest

__all__ = ["EngineFactory", "ResolvedEmotions", "resolve_emotions"]

EngineFactory = Callable[[], EmotionStateEngine]


def _default_engine() -> EmotionStateEngine:
    return EmotionStateEngine(EmotionStateConfig(db_path=":memory:"))


@dataclass
class ResolvedEmotions:
    """The fixed emotion of every valid line, and the lines whose emotion could not be resolved."""

    by_line: dict[str, Emotion | tuple[EmotionKeyframe, ...]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    engine_loaded: bool = False
    seconds: float = 0.0


def _tag(line: Line) -> Emotion | None:
    """The writer's tag that the line passes to the emotion state (None for auto)."""
    if not line.explicit_emotion or line.emotion is None:
        return None
    if isinstance(line.emotion, Emotion):
        return line.emotion
    return line.emotion[-1].emotion if line.emotion else None


def _chain_keys(character: Character, lines: Sequence[Line], fingerprint: str) -> list[str]:
    key = sha256_hex(canonical_json({"engine": fingerprint, "persona": character.persona,
                                     "ocean": list(character.ocean) if character.ocean else None}))
    keys = []
    for line in lines:
        tag = _tag(line)
        key = sha256_hex(canonical_json({
            "previous": key, "heard": line.heard, "text": line.transcript or "",
            "tag": emotion_json(tag) if tag is not None else None, "game_time_s": line.game_time_s,
        }))
        keys.append(key)
    return keys


def _replay(engine: EmotionStateEngine, character: Character, lines: Sequence[Line],
            keys: Sequence[str]) -> dict[str, Any]:
    """Run the character's lines through the engine: chain key -> {"emotion": weights} or {"error": text}."""
    npc = character.id
    engine.delete_state(npc)
    if character.persona is not None:
        engine.set_persona(npc, preset=character.persona)
    else:
        engine.set_persona(npc, ocean=character.ocean)
    out: dict[str, Any] = {}
    for line, key in zip(lines, keys, strict=True):
        try:
            if line.heard is not None:
                engine.observe(npc, "other", line.heard, game_time_s=line.game_time_s)
            observation = engine.observe(npc, "self", line.transcript or "", emotion=_tag(line),
                                         game_time_s=line.game_time_s)
        except MienError as exc:
            out[key] = {"error": f"emotion state: {exc}"}
            continue
        out[key] = {"emotion": emotion_json(observation.response)}
    return out


def resolve_emotions(manifest: Manifest, cached: MutableMapping[str, Any],
                     engine_factory: EngineFactory | None = None) -> ResolvedEmotions:
    """Fix every valid line's emotion; ``cached`` (chain key -> weights) is read and updated."""
    started = time.perf_counter()
    result = ResolvedEmotions()
    by_character: dict[str, list[Line]] = {}
    for line in manifest.lines:
        if line.emotion is not None:
            result.by_line[line.id] = line.emotion
        by_character.setdefault(line.character, []).append(line)
    todo: list[tuple[Character, list[Line], list[str]]] = []
    fingerprint = ""
    for cid, lines in by_character.items():
        character = manifest.characters[cid]
        if not character.has_personality or not any(line.is_auto for line in lines):
            continue
        fingerprint = fingerprint or emotion_state_fingerprint()
        keys = _chain_keys(character, lines, fingerprint)
        if all(_valid(cached.get(key)) for key in keys):
            _fill(result, lines, keys, cached)
        else:
            todo.append((character, lines, keys))
    if todo:
        try:
            engine = (engine_factory or _default_engine)()
        except (MienError, OSError, ValueError, RuntimeError, ImportError) as exc:
            # No engine (a missing or mismatched model file, onnxruntime absent): the auto lines fail with
            # the reason; lines with an explicit emotion do not need the engine and still bake.
            for _character, lines, _keys in todo:
                for line in lines:
                    if line.is_auto:
                        result.failures[line.id] = f"emotion auto: the emotion-state engine cannot start: {exc}"
            result.seconds = time.perf_counter() - started
            return result
        result.engine_loaded = True
        try:
            for character, lines, keys in todo:
                cached.update(_replay(engine, character, lines, keys))
                _fill(result, lines, keys, cached)
        finally:
            engine.close()
            del engine
            gc.collect()  # free the ONNX session before worker processes are forked
    result.seconds = time.perf_counter() - started
    return result


def _valid(entry: object) -> bool:
    """A cache entry of the right shape (a damaged cache is replayed, not trusted)."""
    if not isinstance(entry, dict):
        return False
    if "error" in entry:
        return isinstance(entry["error"], str)
    weights = entry.get("emotion")
    if not isinstance(weights, dict) or not all(isinstance(v, float | int) for v in weights.values()):
        return False
    try:
        Emotion(weights)
    except MienError:
        return False
    return True


def _fill(result: ResolvedEmotions, lines: Sequence[Line], keys: Sequence[str], cached: Mapping[str, Any]) -> None:
    for line, key in zip(lines, keys, strict=True):
        entry = cached[key]
        if "error" in entry:
            result.failures[line.id] = str(entry["error"])
            result.by_line.pop(line.id, None)
        elif line.is_auto:
            result.by_line[line.id] = Emotion(dict(entry["emotion"]))
