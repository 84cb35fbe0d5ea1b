"""The façade: one thread-safe engine holding every NPC's emotional state.

Per observation (see ``docs/emotion_state.md``):

1. Decay the stored state from its ``game_time_s`` to the new time (:mod:`.mood`).
2. ``speaker="other"``: the transition of Wen et al. (2021) from the current emotion point, the
   context (the NPC's last line + this reply) and the personality gain (:mod:`.transition`); the
   response classifier picks the category from the new point, the current category and the
   context; a non-neutral choice moves the point into that category's region if it is not there
   (:mod:`.classify`), a neutral one leaves the point where the transition put it.
   ``speaker="self"``: the NPC speaks with its current emotion; the line becomes the context of
   the next transition (encoded in the background, :meth:`TextEncoder.prefetch`).
   An explicit ``emotion`` (a writer's tag) replaces the model's choice in both cases: the NPC's
   emotion point becomes that emotion's VAD.
3. The new emotion point pulls the mood (``mood_gain``).
4. ``revision`` += 1, the state is written to SQLite (committed) and returned.

Concurrency: updates of one NPC are serialised by a per-NPC lock held across read-modify-write;
different NPCs proceed in parallel (the text encoding runs outside the lock). Determinism: the
same sequence of calls gives bit-identical states; wall-clock time is never read.

Unknown NPCs: with ``auto_create=False`` (the default) every call naming an NPC without a state
raises :class:`~mien.errors.NotFound` that says how to create one; with ``auto_create=True``,
``observe``/``get_state``/``current_emotion``/``reset_state`` create it with ``default_preset``.

Time: ``game_time_s=None`` means "no time has passed since the NPC's last update". A time earlier
than the state's (a game clock restarted) counts as no elapsed time and re-bases the NPC's clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ..emotion import Emotion, vad_of
from ..errors import InvalidArgument, NotFound
from .classify import Classification, classify_vad, intensity_toward, snap_to_category
from .context import TextEncoder
from .mood import decay, push_mood
from .personas import Persona, load_personas
from .state import NpcState, decode_state, encode_state
from .store import StateStore
from .temperament import check_ocean, temperament_pad
from .transition import TransitionHead

__all__ = ["SPEAKERS", "EmotionStateConfig", "EmotionStateEngine", "Observation"]

SPEAKERS: tuple[str, ...] = ("self", "other")
Speaker = Literal["self", "other"]


@dataclass(frozen=True)
class EmotionStateConfig:
    """Engine settings (the ``state`` section of the sidecar config, validated by :mod:`mien.config`)."""

    db_path: str = "mien_state.sqlite3"
    """SQLite file of the states (WAL mode); ``":memory:"`` keeps them in memory only."""
    mood_half_life_s: float = 120.0
    """Game seconds for the mood's distance to the resting point (temperament) to halve."""
    emotion_half_life_s: float = 15.0
    """Game seconds for the emotion's distance to the mood to halve; must be < mood_half_life_s."""
    mood_gain: float = 0.3
    """Fraction of the way each new emotion pulls the mood, in (0, 1]."""
    max_text_chars: int = 2000
    """Longest accepted utterance (characters); longer ones are rejected, not truncated."""
    max_npc_id_chars: int = 128
    """Longest accepted NPC id."""
    auto_create: bool = False
    """Create unknown NPCs with ``default_preset`` instead of raising NotFound."""
    default_preset: str = "average"
    """Persona of auto-created NPCs (a preset name)."""
    personas_path: str | None = None
    """Optional YAML file of extra/overriding presets (same shape as the shipped personas.yaml)."""
    sqlite_synchronous: str = "NORMAL"
    """SQLite ``PRAGMA synchronous``. NORMAL (WAL): every committed update survives a process crash or
    ``kill -9``; a power loss or OS crash may lose the last few. FULL also fsyncs each commit
    (survives power loss; ~3 ms more per update on this machine's disk)."""
    encoder_threads: int = 1
    """ONNX Runtime intra-op threads per encoding (1 lets concurrent requests use the cores)."""
    encoder_cache_size: int = 1024
    """Embeddings of this many recent distinct texts are kept (0 disables the cache)."""
    head_path: str | None = None
    """Transition head ``.npz``; None = the shipped one (tests and ablations pass another)."""


@dataclass(frozen=True)
class Observation:
    """The result of :meth:`EmotionStateEngine.observe`."""

    state: NpcState
    """The NPC's state after the update (persisted)."""
    response: Emotion
    """speaker=other: the selected response emotion; speaker=self: the emotion the line is spoken with."""
    category: str
    intensity: float
    vad: tuple[float, float, float]
    """The NPC's emotion point after the update."""
    delta_vad: tuple[float, float, float] | None = None
    """The context's ΔVAD before the personality gain (speaker=other without explicit emotion)."""
    gain: tuple[float, float, float] | None = None
    """The personality gain P applied to ΔVAD."""


def _vec(v: Sequence[float]) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _tup(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


class EmotionStateEngine:
    """Thread-safe emotional state of many NPCs, persisted in SQLite."""

    def __init__(
        self,
        config: EmotionStateConfig | None = None,
        *,
        encoder: TextEncoder | None = None,
    ) -> None:
        self.config = config if config is not None else EmotionStateConfig()
        self._personas = load_personas(self.config.personas_path)
        if self.config.default_preset not in self._personas:
            raise InvalidArgument(
                f"config.default_preset {self.config.default_preset!r} is not a preset; "
                f"accepted: {', '.join(sorted(self._personas))}",
                field="default_preset",
            )
        self._head = TransitionHead.load(Path(self.config.head_path) if self.config.head_path else None)
        self._owns_encoder = encoder is None
        self._encoder = (
            encoder
            if encoder is not None
            else TextEncoder(threads=self.config.encoder_threads, cache_size=self.config.encoder_cache_size)
        )
        self._store = StateStore(self.config.db_path, synchronous=self.config.sqlite_synchronous)
        self._states: dict[str, NpcState] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._closed = False

    # ----------------------------------------------------------------- validation helpers

    def _check_npc_id(self, npc_id: object) -> str:
        if not isinstance(npc_id, str) or not npc_id.strip():
            raise InvalidArgument("npc_id must be a non-empty string", field="npc_id")
        if len(npc_id) > self.config.max_npc_id_chars:
            raise InvalidArgument(
                f"npc_id is {len(npc_id)} characters; accepted: at most {self.config.max_npc_id_chars}",
                field="npc_id",
            )
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in npc_id):
            raise InvalidArgument("npc_id must not contain control characters", field="npc_id")
        return npc_id

    def _check_time(self, game_time_s: float | None) -> float | None:
        if game_time_s is None:
            return None
        if (
            isinstance(game_time_s, bool)
            or not isinstance(game_time_s, (int, float))
            or not math.isfinite(game_time_s)
            or game_time_s < 0
        ):
            raise InvalidArgument(
                f"game_time_s must be a finite number of seconds >= 0 (or omitted), got {game_time_s!r}",
                field="game_time_s",
            )
        return float(game_time_s)

    def _check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise InvalidArgument(f"text must be a string, got {type(text).__name__}", field="text")
        if len(text) > self.config.max_text_chars:
            raise InvalidArgument(
                f"text is {len(text)} characters; accepted: at most {self.config.max_text_chars} "
                "(split long speeches into lines)",
                field="text",
            )
        return text

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("EmotionStateEngine is closed")

    def _lock_for(self, npc_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(npc_id)
            if lock is None:
                lock = self._locks[npc_id] = threading.Lock()
            return lock

    # ----------------------------------------------------------------- state helpers

    @staticmethod
    def _classify(vad: np.ndarray) -> Classification:
        return classify_vad(vad)

    def _new_state(
        self,
        npc_id: str,
        ocean: tuple[float, float, float, float, float],
        persona: str | None,
        baseline: Emotion | None,
        game_time_s: float,
    ) -> NpcState:
        temperament = temperament_pad(ocean)
        base = vad_of(baseline) if baseline is not None else temperament
        cls = self._classify(_vec(base))
        return NpcState(
            npc_id=npc_id,
            persona=persona,
            ocean=ocean,
            temperament_pad=temperament,
            baseline_vad=base,
            mood_vad=base,
            emotion_vad=base,
            category=cls.category,
            intensity=cls.intensity,
            game_time_s=game_time_s,
            revision=0,
        )

    def _load(self, npc_id: str) -> NpcState | None:
        """Cached or stored state (caller holds the NPC lock)."""
        state = self._states.get(npc_id)
        if state is None:
            blob = self._store.get(npc_id)
            if blob is not None:
                state = decode_state(blob)
                self._states[npc_id] = state
        return state

    def _load_or_create(self, npc_id: str, game_time_s: float | None) -> NpcState:
        state = self._load(npc_id)
        if state is not None:
            return state
        if not self.config.auto_create:
            raise NotFound(
                f"npc {npc_id!r} has no emotion state; create it with SetPersona (set_persona(npc_id, "
                f"ocean=[O, C, E, A, N]) or preset=one of {', '.join(sorted(self._personas))}), "
                "or enable auto_create",
                field="npc_id",
            )
        preset = self._personas[self.config.default_preset]
        state = self._new_state(
            npc_id, preset.ocean, preset.name, preset.baseline, game_time_s if game_time_s is not None else 0.0
        )
        self._save(state)
        return state

    def _save(self, state: NpcState) -> None:
        self._store.put(state.npc_id, state.revision, encode_state(state))
        self._states[state.npc_id] = state

    def _decayed(self, state: NpcState, game_time_s: float | None) -> NpcState:
        """The state advanced to ``game_time_s`` without new input (not saved)."""
        if game_time_s is None:
            return state
        elapsed = game_time_s - state.game_time_s
        if elapsed <= 0.0:
            return replace(state, game_time_s=game_time_s) if elapsed < 0.0 else state
        mood, emotion = decay(
            _vec(state.baseline_vad),
            _vec(state.mood_vad),
            _vec(state.emotion_vad),
            elapsed,
            self.config.emotion_half_life_s,
            self.config.mood_half_life_s,
        )
        cls = self._classify(emotion)
        return replace(
            state,
            mood_vad=_tup(mood),
            emotion_vad=_tup(emotion),
            category=cls.category,
            intensity=cls.intensity,
            game_time_s=game_time_s,
        )

    # ----------------------------------------------------------------- public API

    @property
    def encoder(self) -> TextEncoder:
        """The text encoder in use (shared with tests and the benchmark)."""
        return self._encoder

    def list_personas(self) -> list[Persona]:
        """Every preset (shipped + ``personas_path``), sorted by name."""
        return [self._personas[k] for k in sorted(self._personas)]

    def set_persona(
        self,
        npc_id: str,
        ocean: Sequence[float] | None = None,
        *,
        preset: str | None = None,
        baseline: Emotion | None = None,
        game_time_s: float | None = None,
    ) -> NpcState:
        """Create an NPC, or change its personality (its current mood and emotion are kept).

        Give exactly one of ``ocean`` (5 numbers O, C, E, A, N in [0, 1]) or ``preset``. ``baseline``
        (optional) is the emotion the NPC rests at instead of its temperament.
        """
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        t = self._check_time(game_time_s)
        if (ocean is None) == (preset is None):
            raise InvalidArgument(
                "give exactly one of ocean (5 numbers O, C, E, A, N in [0, 1]) or preset "
                f"(one of {', '.join(sorted(self._personas))})",
                field="ocean" if ocean is None else "preset",
            )
        if baseline is not None and not isinstance(baseline, Emotion):
            raise InvalidArgument("baseline must be an Emotion", field="baseline")
        persona_name: str | None = None
        if preset is not None:
            if preset not in self._personas:
                raise InvalidArgument(
                    f"preset {preset!r} is not a persona; accepted: {', '.join(sorted(self._personas))}",
                    field="preset",
                )
            p = self._personas[preset]
            values, persona_name = p.ocean, p.name
            baseline = baseline if baseline is not None else p.baseline
        else:
            assert ocean is not None
            values = check_ocean(ocean)
        with self._lock_for(npc_id):
            old = self._load(npc_id)
            fresh = self._new_state(npc_id, values, persona_name, baseline, t if t is not None else 0.0)
            if old is None:
                state = fresh
            else:
                current = self._decayed(old, t)
                state = replace(
                    current,
                    persona=persona_name,
                    ocean=values,
                    temperament_pad=fresh.temperament_pad,
                    baseline_vad=fresh.baseline_vad,
                    revision=old.revision + 1,
                )
            self._save(state)
            return state

    def observe(
        self,
        npc_id: str,
        speaker: Speaker,
        text: str,
        *,
        emotion: Emotion | None = None,
        game_time_s: float | None = None,
    ) -> Observation:
        """Record a line of dialogue heard (``other``) or spoken (``self``) by the NPC."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        if speaker not in SPEAKERS:
            raise InvalidArgument(f"speaker must be one of {', '.join(SPEAKERS)}, got {speaker!r}", field="speaker")
        text = self._check_text(text)
        t = self._check_time(game_time_s)
        if emotion is not None and not isinstance(emotion, Emotion):
            raise InvalidArgument("emotion must be an Emotion or omitted", field="emotion")
        need_model = speaker == "other" and emotion is None and self._head.uses_context
        emb_other = self._encoder.encode(text) if need_model else None
        if speaker == "self" and self._head.uses_context:
            self._encoder.prefetch(text)  # the context of the next transition: encoded in the background
        # Encode the NPC's last line outside the lock too (normally an encoder-cache hit).
        peek = self._states.get(npc_id)
        emb_self_text = peek.last_self_text if peek is not None else None
        emb_self = self._encoder.encode(emb_self_text) if need_model and emb_self_text is not None else None
        with self._lock_for(npc_id):
            state = self._decayed(self._load_or_create(npc_id, t), t)
            delta_t: tuple[float, float, float] | None = None
            gain_t: tuple[float, float, float] | None = None
            if emotion is not None:
                point = _vec(vad_of(emotion))
                response = emotion
                category = emotion.dominant
                intensity = float(emotion.weights.get(category, 0.0))
            elif speaker == "self":
                point = _vec(state.emotion_vad)
                response = state.emotion
                category, intensity = state.category, state.intensity
            else:
                if self._head.uses_context:
                    if emb_self is None or emb_self_text != state.last_self_text:
                        emb_self = self._encoder.encode(state.last_self_text)
                    assert emb_other is not None
                step = self._head.transition(
                    emb_self, emb_other, _vec(state.emotion_vad), state.category, _vec(state.temperament_pad)
                )
                category = step.category
                # A selected emotion is shown: the point is moved into its region if it is not there
                # (see classify.py). A neutral choice moves nothing: the transition stands.
                point = step.vad if category == "neutral" else snap_to_category(step.vad, category)
                intensity = intensity_toward(point, category)
                response = Emotion.of(category, intensity)
                delta_t = _tup(step.delta)
                gain_t = _tup(step.gain)
            changes_point = emotion is not None or speaker == "other"
            mood = (
                push_mood(_vec(state.mood_vad), point, self.config.mood_gain) if changes_point else _vec(state.mood_vad)
            )
            new = replace(
                state,
                mood_vad=_tup(mood),
                emotion_vad=_tup(point),
                category=category,
                intensity=intensity,
                revision=state.revision + 1,
                last_self_text=text if speaker == "self" else state.last_self_text,
            )
            self._save(new)
        return Observation(new, response, category, intensity, new.emotion_vad, delta_t, gain_t)

    def get_state(self, npc_id: str, game_time_s: float | None = None) -> NpcState:
        """The NPC's state, decayed to ``game_time_s`` if given (a read: nothing is written)."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        t = self._check_time(game_time_s)
        with self._lock_for(npc_id):
            return self._decayed(self._load_or_create(npc_id, t), t)

    def current_emotion(self, npc_id: str, game_time_s: float | None = None) -> Emotion:
        """The emotion to animate a line with when the caller asks for emotion ``auto``."""
        return self.get_state(npc_id, game_time_s).emotion

    def export_state(self, npc_id: str) -> bytes:
        """The NPC's stored state as an opaque, versioned, checksummed blob (for game saves)."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        with self._lock_for(npc_id):
            state = self._load(npc_id)
            if state is None:
                raise NotFound(
                    f"npc {npc_id!r} has no emotion state to export; create it with SetPersona", field="npc_id"
                )
            return encode_state(state)

    def import_state(self, blob: bytes, npc_id: str | None = None) -> NpcState:
        """Restore a blob from :meth:`export_state` (as ``npc_id`` if given, else the blob's NPC).

        The state is stored exactly as exported, revision included. A malformed or foreign blob
        raises ``InvalidArgument`` and changes nothing.
        """
        self._check_open()
        state = decode_state(blob)
        if npc_id is not None:
            state = replace(state, npc_id=self._check_npc_id(npc_id))
        else:
            self._check_npc_id(state.npc_id)
        if len(state.last_self_text) > self.config.max_text_chars:
            raise InvalidArgument("state blob: last_self_text is longer than max_text_chars", field="state")
        with self._lock_for(state.npc_id):
            self._save(state)
        return state

    def reset_state(self, npc_id: str, game_time_s: float | None = None) -> NpcState:
        """Calm the NPC: mood and emotion back to its resting point, context forgotten; persona kept."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        t = self._check_time(game_time_s)
        with self._lock_for(npc_id):
            old = self._load_or_create(npc_id, t)
            cls = self._classify(_vec(old.baseline_vad))
            state = replace(
                old,
                mood_vad=old.baseline_vad,
                emotion_vad=old.baseline_vad,
                category=cls.category,
                intensity=cls.intensity,
                game_time_s=t if t is not None else old.game_time_s,
                revision=old.revision + 1,
                last_self_text="",
            )
            self._save(state)
            return state

    def delete_state(self, npc_id: str) -> bool:
        """Forget the NPC entirely; True if it existed."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        with self._lock_for(npc_id):
            self._states.pop(npc_id, None)
            return self._store.delete(npc_id)

    def npc_ids(self) -> list[str]:
        """Every NPC with a stored state."""
        self._check_open()
        return self._store.npc_ids()

    def close(self) -> None:
        """Close the database (idempotent). Every update was already committed."""
        if not self._closed:
            self._closed = True
            self._store.close()
            if self._owns_encoder:
                self._encoder.close()

    def __enter__(self) -> EmotionStateEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
