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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from ..emotion import Emotion, vad_of
from ..errors import FailedPrecondition, InvalidArgument, NotFound
from .appraisal import Appraisal, AppraisalModel, AppraisalSpec, load_appraisals, parse_appraisal_doc
from .classify import Classification, classify_vad, snap_to_category
from .context import TextEncoder, data_path
from .mood import decay, push_mood
from .personas import Persona, load_personas
from .rules import AVERAGE, Personality, decay_time_scale, elicit, transition
from .saves import SaveKey, open_blob, seal
from .state import MAX_GAME_TIME_S, MAX_REVISION, NpcState, check_state, decode_state, encode_state
from .store import StateStore
from .temperament import check_ocean, temperament_pad
from .transition import HEAD_FILE, TransitionHead

__all__ = ["ABLATIONS", "MODELS", "PELD_HEAD_FILE", "SPEAKERS", "EmotionStateConfig", "EmotionStateEngine",
           "Observation"]

SPEAKERS: tuple[str, ...] = ("self", "other")
Speaker = Literal["self", "other"]
MODELS: tuple[str, ...] = ("appraisal", "peld")
"""``appraisal`` (default, licence-clean): prototype appraisal + documented rules. ``peld``: the transition
head trained on PELD (research-only data; see MODEL_CARD.md), for comparison."""
ABLATIONS: tuple[str, ...] = ("none", "no_personality", "no_appraisal")
"""Evaluation switches of the appraisal model: every NPC with the average personality, or lines that
change nothing (only decay)."""
PELD_HEAD_FILE = HEAD_FILE


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
    model: str = "appraisal"
    """How a line said to the NPC moves it: ``appraisal`` (default; prototype lines + documented OCC rules,
    no trained weights) or ``peld`` (the transition head trained on PELD: research-only data, not for
    shipping; see MODEL_CARD.md)."""
    appraisals_path: str | None = None
    """Optional YAML file of extra/overriding appraisals (same shape as the shipped appraisals.yaml)."""
    head_path: str | None = None
    """model ``peld``: the transition head ``.npz``; None = ``transition_head.peld.npz`` of a source checkout."""
    blob_key_path: str | None = None
    """Key file of the HMAC that authenticates exported state blobs (ExportState/ImportState); None =
    ``<db_path>.key`` beside the database (created on first use, 0600), or a key that lives only in the
    process for ``db_path: ":memory:"``. See mien.emotion_state.saves."""
    accept_foreign_blobs: bool = False
    """Import blobs sealed by another install (another key) and unauthenticated blobs of earlier releases;
    every field is still range- and consistency-checked."""
    ablation: str = "none"
    """Evaluation only: ``no_personality`` (every NPC appraises as the average personality) or
    ``no_appraisal`` (lines change nothing); ``none`` in production."""


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
    appraisal: Appraisal | None = None
    """What the line meant for the NPC (model ``appraisal``, speaker=other without explicit emotion)."""


def _bad_char(ch: str) -> bool:
    """Control characters (C0, DEL, C1), line/paragraph separators and lone surrogates."""
    o = ord(ch)
    return o < 32 or 127 <= o < 160 or o in (0x2028, 0x2029) or 0xD800 <= o <= 0xDFFF


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
        if self.config.model not in MODELS:
            raise InvalidArgument(f"config.model {self.config.model!r}; accepted: {', '.join(MODELS)}", field="model")
        if self.config.ablation not in ABLATIONS:
            raise InvalidArgument(f"config.ablation {self.config.ablation!r}; accepted: {', '.join(ABLATIONS)}",
                                  field="ablation")
        self._owns_encoder = encoder is None
        self._encoder = (
            encoder
            if encoder is not None
            else TextEncoder(threads=self.config.encoder_threads, cache_size=self.config.encoder_cache_size)
        )
        self._head: TransitionHead | None = None
        self._appraisals: AppraisalModel | None = None
        self._appraisals_lock = threading.Lock()
        try:
            if self.config.model == "peld":
                path = Path(self.config.head_path) if self.config.head_path else data_path(PELD_HEAD_FILE)
                if not path.exists():
                    raise InvalidArgument(
                        f"state.model peld: no transition head at {path} (it is not part of an installed package: "
                        "train it with training/emotion_state/train.py and set state.head_path)", field="head_path")
                self._head = TransitionHead.load(path)
            else:
                self._appraisals = AppraisalModel.build(load_appraisals(self.config.appraisals_path),
                                                        self._encoder.encode)
        except BaseException:
            if self._owns_encoder:
                self._encoder.close()
            raise
        try:
            self._save_key = (
                SaveKey.load_or_create(self.config.blob_key_path or self.config.db_path + ".key")
                if self.config.blob_key_path or self.config.db_path != ":memory:"
                else SaveKey.ephemeral()
            )
        except BaseException:
            if self._owns_encoder:
                self._encoder.close()
            raise
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
        if any(_bad_char(ch) for ch in npc_id):
            raise InvalidArgument("npc_id must not contain control characters, line separators or lone surrogates",
                                  field="npc_id")
        return npc_id

    def _check_time(self, game_time_s: float | None) -> float | None:
        if game_time_s is None:
            return None
        if (
            isinstance(game_time_s, bool)
            or not isinstance(game_time_s, (int, float))
            or not math.isfinite(game_time_s)
            or not 0 <= game_time_s <= MAX_GAME_TIME_S
        ):
            raise InvalidArgument(
                f"game_time_s must be a finite number of seconds in [0, {MAX_GAME_TIME_S:g}] (or omitted), "
                f"got {str(game_time_s)[:40]}",
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
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument("text is not valid Unicode (lone surrogate)", field="text") from None
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
                cls = self._classify(_vec(state.emotion_vad))
                if (cls.category, cls.intensity) != (state.category, state.intensity):
                    # A row of an earlier release that reported another category than its point's.
                    state = replace(state, category=cls.category, intensity=cls.intensity)
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
            elapsed / self._time_scale(state),
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

    @staticmethod
    def _next_revision(revision: int) -> int:
        """revision + 1, saturating at MAX_REVISION (so no accepted state can overflow SQLite's INTEGER)."""
        return min(revision + 1, MAX_REVISION)

    def _personality(self, state: NpcState) -> Personality:
        return AVERAGE if self.config.ablation == "no_personality" else Personality.of(state.ocean)

    def _time_scale(self, state: NpcState) -> float:
        """Half-life factor of this decay (rules.decay_time_scale): > 1 while a neurotic NPC's affect is
        negative. The sign of the mood's valence offset never changes while it decays (nor the emotion's
        when the mood is at rest), so the scale is the same over any split of an interval: path independent."""
        if self._head is not None or self.config.ablation == "no_personality":
            return 1.0
        offset = state.mood_vad[0] - state.baseline_vad[0]
        if offset == 0.0:
            offset = state.emotion_vad[0] - state.baseline_vad[0]
        return decay_time_scale(state.ocean, negative=offset < 0.0)

    # ----------------------------------------------------------------- public API

    @property
    def encoder(self) -> TextEncoder:
        """The text encoder in use (shared with tests and the benchmark)."""
        return self._encoder

    def list_appraisals(self) -> list[AppraisalSpec]:
        """Every appraisal (shipped + ``appraisals_path`` + run-time extensions), sorted by name; empty for
        model ``peld``."""
        model = self._appraisals
        return [] if model is None else [model.specs[k] for k in model.names]

    def extend_appraisals(self, entries: Mapping[str, object] | str, source: str = "extend_appraisals") -> list[str]:
        """Add prototype lines to appraisals, or new appraisals, at run time (kept until the engine closes).

        ``entries`` is the ``appraisals`` mapping of an appraisal file (or that file's YAML text): an existing
        name gets its ``lines`` added and the OCC variables given overridden, a new name is a new appraisal
        (see ``appraisals.yaml``). The new lines are encoded now. Returns the names changed. Invalid entries
        raise ``InvalidArgument`` and change nothing. Only for model ``appraisal``.
        """
        self._check_open()
        if self._appraisals is None:
            raise FailedPrecondition("appraisals exist only for state.model appraisal", field="appraisals")
        vocabulary: dict[str, tuple[str, ...]] = {}
        if isinstance(entries, str):
            try:
                doc = yaml.safe_load(entries)
            except yaml.YAMLError as exc:
                raise InvalidArgument(f"{source}: not valid YAML: {str(exc)[:300]}", field="appraisals") from None
            entries, vocabulary = parse_appraisal_doc(doc, source)
        if not isinstance(entries, Mapping):
            raise InvalidArgument(f"{source}: expected a mapping of appraisal name -> entry", field="appraisals")
        with self._appraisals_lock:
            self._appraisals = self._appraisals.extended(entries, source, self._encoder.encode, vocabulary)
        return sorted(map(str, entries))

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
                    revision=self._next_revision(old.revision),
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
        head = self._head
        model = self._appraisals
        hears = speaker == "other" and emotion is None and self.config.ablation != "no_appraisal"
        emb_other = self._encoder.encode(text) if hears else None
        appraisal = model.appraise(emb_other, text) if model is not None and emb_other is not None else None
        emb_self_text: str | None = None
        emb_self: np.ndarray | None = None
        if head is not None and head.uses_context:
            if speaker == "self":
                self._encoder.prefetch(text)  # the context of the next transition: encoded in the background
            # Encode the NPC's last line outside the lock too (normally an encoder-cache hit).
            peek = self._states.get(npc_id)
            emb_self_text = peek.last_self_text if peek is not None else None
            emb_self = self._encoder.encode(emb_self_text) if hears and emb_self_text is not None else None
        with self._lock_for(npc_id):
            state = self._decayed(self._load_or_create(npc_id, t), t)
            delta_t: tuple[float, float, float] | None = None
            gain_t: tuple[float, float, float] | None = None
            response: Emotion | None = None
            if emotion is not None:
                # A writer's tag: the line is spoken with it, and the NPC's point shows its category.
                response = emotion
                point = _vec(vad_of(emotion))
                if emotion.dominant != "neutral":
                    point = snap_to_category(point, emotion.dominant)
            elif not hears:
                point = _vec(state.emotion_vad)
            elif head is not None:
                if head.uses_context and (emb_self is None or emb_self_text != state.last_self_text):
                    emb_self = self._encoder.encode(state.last_self_text)
                step = head.transition(
                    emb_self, emb_other, _vec(state.emotion_vad), state.category, _vec(state.temperament_pad)
                )
                # The classifier's choice is shown: the point is moved into its region (neutral included).
                point = snap_to_category(step.vad, step.category)
                delta_t, gain_t = _tup(step.delta), _tup(step.gain)
            else:
                assert model is not None and appraisal is not None
                personality = self._personality(state)
                elicited = elicit(appraisal, model.specs, personality)
                point, step_r = transition(_vec(state.emotion_vad), elicited, personality)
                delta_t, gain_t = _tup(step_r.delta), _tup(step_r.gain)
            # Coherence: the category and intensity reported are always those of the point.
            cls = self._classify(point)
            category, intensity = cls.category, cls.intensity
            if response is None:
                response = cls.emotion
            changes_point = emotion is not None or hears
            mood = (
                push_mood(_vec(state.mood_vad), point, self.config.mood_gain) if changes_point else _vec(state.mood_vad)
            )
            new = replace(
                state,
                emotion_vad=_tup(point),
                mood_vad=_tup(mood),
                category=category,
                intensity=intensity,
                revision=self._next_revision(state.revision),
                last_self_text=text if speaker == "self" else state.last_self_text,
            )
            self._save(new)
        return Observation(new, response, category, intensity, new.emotion_vad, delta_t, gain_t, appraisal)

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
        """The NPC's stored state as an opaque blob for game saves, authenticated with this install's key."""
        self._check_open()
        npc_id = self._check_npc_id(npc_id)
        with self._lock_for(npc_id):
            state = self._load(npc_id)
            if state is None:
                raise NotFound(
                    f"npc {npc_id!r} has no emotion state to export; create it with SetPersona", field="npc_id"
                )
            return seal(state, self._save_key)

    def import_state(self, blob: bytes, npc_id: str | None = None) -> NpcState:
        """Restore a blob from :meth:`export_state` (as ``npc_id`` if given, else the blob's NPC).

        The blob must be authenticated by this install's key (``accept_foreign_blobs`` also takes other
        installs' and earlier releases' blobs), and every field is range- and consistency-checked
        (:func:`.state.check_state`), so an accepted state never makes a later call fail. The state is
        stored exactly as exported, revision included. A refused blob raises ``InvalidArgument`` and
        changes nothing.
        """
        self._check_open()
        state = open_blob(blob, self._save_key, accept_foreign=self.config.accept_foreign_blobs)
        if npc_id is not None:
            state = replace(state, npc_id=self._check_npc_id(npc_id))
        else:
            try:
                self._check_npc_id(state.npc_id)
            except InvalidArgument as exc:
                raise InvalidArgument(f"state blob: {exc.message}", field="state") from None
        check_state(state, max_text_chars=self.config.max_text_chars)
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
                revision=self._next_revision(old.revision),
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
