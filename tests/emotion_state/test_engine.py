"""EmotionStateEngine: personas, observations, personality directions, decay, errors, determinism."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from mien.config import config_from_dict
from mien.emotion import Emotion
from mien.emotion_state import EmotionStateEngine, encode_state
from mien.emotion_state.classify import category_of
from mien.emotion_state.rules import decay_time_scale
from mien.emotion_state.temperament import temperament_pad
from mien.errors import InvalidArgument, NotFound

from .conftest import FRIENDLY, GREETING, HOSTILE

Factory = Callable[..., EmotionStateEngine]
V = 0  # valence axis
CALM = (0.5, 0.5, 0.5, 0.5, 0.1)  # low neuroticism, otherwise average
NERVOUS = (0.5, 0.5, 0.5, 0.5, 0.9)  # high neuroticism, otherwise average


def test_presets_listed_and_usable(make_engine: Factory) -> None:
    engine = make_engine()
    names = {p.name for p in engine.list_personas()}
    assert {"stoic_guard", "anxious_merchant", "cheerful_innkeeper", "grumpy_blacksmith"} <= names
    state = engine.set_persona("guard", preset="stoic_guard")
    assert state.persona == "stoic_guard" and state.revision == 0
    assert state.temperament_pad == temperament_pad(state.ocean)
    assert state.mood_vad == state.emotion_vad == state.baseline_vad == state.temperament_pad


def test_baseline_overrides_temperament(make_engine: Factory) -> None:
    engine = make_engine()
    state = engine.set_persona("inn", preset="cheerful_innkeeper", baseline=Emotion.of("sad", 0.5))
    assert state.baseline_vad[V] < 0 < state.temperament_pad[V]


def test_hostile_line_lowers_valence_friendly_raises(make_engine: Factory) -> None:
    engine = make_engine()
    out = {}
    for line in (HOSTILE, FRIENDLY):
        engine.set_persona(line[:8], ocean=CALM)
        engine.observe(line[:8], "self", GREETING, game_time_s=1.0)
        obs = engine.observe(line[:8], "other", line, game_time_s=2.0)
        assert obs.delta_vad is not None
        out[line] = obs.delta_vad[V]
    assert out[HOSTILE] < 0.0 < out[FRIENDLY]


def test_neurotic_valence_drops_further_under_hostility(make_engine: Factory) -> None:
    """Documented direction: same dialogue, the high-neuroticism persona's valence drops more."""
    engine = make_engine()
    drops = {}
    for name, ocean in (("calm", CALM), ("nervous", NERVOUS)):
        before = engine.set_persona(name, ocean=ocean)
        engine.observe(name, "self", GREETING, game_time_s=1.0)
        obs = engine.observe(name, "other", HOSTILE, game_time_s=1.0)
        assert obs.gain is not None
        drops[name] = before.emotion_vad[V] - obs.vad[V]
        assert drops[name] > 0.0
    assert drops["nervous"] > drops["calm"] + 0.01  # a real margin, not float noise


def test_extravert_valence_rises_further_on_good_news(make_engine: Factory) -> None:
    engine = make_engine()
    rises = {}
    for name, e in (("introvert", 0.1), ("extravert", 0.9)):
        before = engine.set_persona(name, ocean=(0.5, 0.5, e, 0.5, 0.5))
        engine.observe(name, "self", GREETING, game_time_s=1.0)
        obs = engine.observe(name, "other", FRIENDLY, game_time_s=1.0)
        rises[name] = obs.vad[V] - before.emotion_vad[V]
    assert rises["extravert"] > rises["introvert"] + 0.01
    assert rises["introvert"] > 0.0


def test_mood_decays_toward_each_personas_own_temperament(make_engine: Factory) -> None:
    engine = make_engine(mood_half_life_s=60.0, emotion_half_life_s=10.0)
    for name in ("cheerful_innkeeper", "grumpy_blacksmith"):
        engine.set_persona(name, preset=name)
        for i in range(4):
            engine.observe(
                name, "other", "Everything is ruined.", emotion=Emotion.of("angry", 1.0), game_time_s=float(i)
            )
    gaps = {}
    for name in ("cheerful_innkeeper", "grumpy_blacksmith"):
        s0 = engine.get_state(name, 3.0)
        base = np.array(s0.temperament_pad)
        d0 = np.linalg.norm(np.array(s0.mood_vad) - base)
        # one half-life, scaled by neuroticism while the mood is below the resting valence (rules.decay_time_scale)
        negative = s0.mood_vad[0] < s0.baseline_vad[0]
        scale = decay_time_scale(s0.ocean, negative=negative)
        assert scale == (2.0 ** (0.5 * (2.0 * s0.ocean[4] - 1.0)) if negative else 1.0)
        s1 = engine.get_state(name, 3.0 + 60.0 * scale)
        d1 = np.linalg.norm(np.array(s1.mood_vad) - base)
        assert d1 == pytest.approx(d0 / 2, rel=1e-9)
        s_late = engine.get_state(name, 3.0 + 60.0 * 20)
        np.testing.assert_allclose(s_late.mood_vad, base, atol=1e-5)
        np.testing.assert_allclose(s_late.emotion_vad, base, atol=1e-5)
        gaps[name] = s_late.mood_vad
    assert gaps["cheerful_innkeeper"][V] > gaps["grumpy_blacksmith"][V]


def test_shouting_match_fades(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("smith", preset="average")
    for i in range(5):
        obs = engine.observe("smith", "self", "Get out!", emotion=Emotion.of("angry", 1.0), game_time_s=float(i))
    assert obs.category == "angry" and obs.intensity == pytest.approx(1.0)
    later = engine.current_emotion("smith", game_time_s=4.0 + 600.0)
    assert later.weights.get("angry", 0.0) < 0.2
    # get_state is a read: the stored state is unchanged.
    assert engine.get_state("smith").emotion_vad == obs.vad


def test_self_line_keeps_emotion_and_sets_context(make_engine: Factory) -> None:
    engine = make_engine()
    s0 = engine.set_persona("a", preset="average")
    obs = engine.observe("a", "self", GREETING, game_time_s=0.0)
    assert obs.state.emotion_vad == s0.emotion_vad
    assert obs.state.last_self_text == GREETING and obs.state.revision == 1


def test_explicit_emotion_overrides(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("a", preset="average")
    obs = engine.observe("a", "other", "Hello.", emotion=Emotion.of("fear", 0.6))
    assert obs.response == Emotion.of("fear", 0.6)
    assert obs.category == "fear" and obs.intensity == pytest.approx(0.6)
    assert engine.current_emotion("a") == obs.state.emotion


def test_deterministic_across_engines(make_engine: Factory) -> None:
    blobs = []
    for db in ("one.sqlite3", "two.sqlite3"):
        engine = make_engine(db)
        engine.set_persona("n", preset="anxious_merchant")
        for i, (who, line) in enumerate(
            [("self", GREETING), ("other", HOSTILE), ("self", "Please leave."), ("other", FRIENDLY)]
        ):
            engine.observe("n", who, line, game_time_s=3.0 * i)  # type: ignore[arg-type]
        blobs.append(engine.export_state("n"))
    assert blobs[0] == blobs[1]


def test_unknown_npc_not_found_by_default(make_engine: Factory) -> None:
    engine = make_engine()
    for call in (
        lambda: engine.observe("ghost", "other", "hi"),
        lambda: engine.get_state("ghost"),
        lambda: engine.current_emotion("ghost"),
        lambda: engine.export_state("ghost"),
        lambda: engine.reset_state("ghost"),
    ):
        with pytest.raises(NotFound) as err:
            call()
        assert "SetPersona" in err.value.message and err.value.field == "npc_id"


def test_unknown_npc_auto_created_when_configured(make_engine: Factory) -> None:
    engine = make_engine(auto_create=True, default_preset="stoic_guard")
    state = engine.get_state("new_guard", game_time_s=5.0)
    assert state.persona == "stoic_guard" and state.game_time_s == 5.0
    assert engine.observe("other_guard", "other", "Hi.").state.revision == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ocean": [0.5] * 4}, "ocean"),
        ({"ocean": [0.5, 0.5, 0.5, 0.5, 2.0]}, "ocean"),
        ({"ocean": [0.5, 0.5, math.nan, 0.5, 0.5]}, "ocean"),
        ({}, "ocean"),
        ({"ocean": [0.5] * 5, "preset": "average"}, "preset"),
    ],
)
def test_set_persona_bad_input(make_engine: Factory, kwargs: dict[str, object], field: str) -> None:
    engine = make_engine()
    with pytest.raises(InvalidArgument) as err:
        engine.set_persona("x", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_unknown_preset(make_engine: Factory) -> None:
    engine = make_engine()
    with pytest.raises(InvalidArgument) as err:
        engine.set_persona("x", preset="dragon")
    assert "stoic_guard" in err.value.message and err.value.field == "preset"


def test_observe_bad_input(make_engine: Factory) -> None:
    engine = make_engine(max_text_chars=50)
    engine.set_persona("x", preset="average")
    before = engine.export_state("x")
    cases = [
        (lambda: engine.observe("x", "narrator", "hi"), "speaker"),  # type: ignore[arg-type]
        (lambda: engine.observe("x", "other", "a" * 51), "text"),
        (lambda: engine.observe("x", "other", 42), "text"),  # type: ignore[arg-type]
        (lambda: engine.observe("x", "other", "hi", game_time_s=-1.0), "game_time_s"),
        (lambda: engine.observe("x", "other", "hi", game_time_s=math.inf), "game_time_s"),
        (lambda: engine.observe("x", "other", "hi", emotion="angry"), "emotion"),  # type: ignore[arg-type]
        (lambda: engine.observe("", "other", "hi"), "npc_id"),
        (lambda: engine.observe("a\x00b", "other", "hi"), "npc_id"),
        (lambda: engine.observe("n" * 500, "other", "hi"), "npc_id"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidArgument) as err:
            call()
        assert err.value.field == field
    assert engine.export_state("x") == before


def test_bad_blob_import_changes_nothing(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("a", preset="average")
    engine.set_persona("b", preset="stoic_guard")
    blobs = {n: engine.export_state(n) for n in ("a", "b")}
    good = blobs["a"]
    for bad in (
        b"",
        b"garbage" * 10,
        good[:-1],
        good[:40] + b"X" + good[41:],
        b"MIENEMO1" + good[8:].replace(b"\x00\x01", b"\x00\x09", 1),
    ):
        with pytest.raises(InvalidArgument):
            engine.import_state(bad)
    assert {n: engine.export_state(n) for n in ("a", "b")} == blobs


def test_config_validation() -> None:
    for kwargs in (
        {"mood_half_life_s": 0.0},
        {"mood_half_life_s": math.nan},
        {"emotion_half_life_s": 200.0, "mood_half_life_s": 100.0},
        {"mood_gain": 1.5},
        {"max_text_chars": 0},
        {"sqlite_synchronous": "SOMETIMES"},
        {"db_path": ""},
    ):
        with pytest.raises(InvalidArgument) as err:
            config_from_dict({"state": kwargs}, "mien.yaml")
        assert str(err.value).startswith("mien.yaml: state.")


def test_reset_state(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("a", preset="grumpy_blacksmith")
    engine.observe("a", "other", "Hello.", emotion=Emotion.of("angry", 1.0))
    state = engine.reset_state("a")
    assert state.emotion_vad == state.mood_vad == state.baseline_vad
    assert state.last_self_text == "" and state.revision == 2


def test_set_persona_again_keeps_feelings(make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("a", preset="average")
    angry = engine.observe("a", "other", "Hello.", emotion=Emotion.of("angry", 1.0)).state
    changed = engine.set_persona("a", preset="cheerful_innkeeper")
    assert changed.emotion_vad == angry.emotion_vad and changed.revision == angry.revision + 1
    assert changed.baseline_vad != angry.baseline_vad
    assert encode_state(changed) != encode_state(angry)


def test_response_is_shown(make_engine: Factory) -> None:
    """The selected response is the current emotion right away; a non-neutral one is also where the
    point is (with a margin: still the same a second later), a neutral one leaves the transition's
    point alone."""
    engine = make_engine()
    seen = set()
    for npc, preset in (("a", "average"), ("b", "hotheaded_mercenary"), ("c", "timid_villager")):
        engine.set_persona(npc, preset=preset)
        t = 0.0
        for line in (GREETING, HOSTILE, "Get out of my sight, you coward!", FRIENDLY, "Thank you, truly."):
            engine.observe(npc, "self", "What do you want from me?", game_time_s=t)
            obs = engine.observe(npc, "other", line, game_time_s=t + 1.0)
            assert engine.get_state(npc, game_time_s=t + 1.0).category == obs.category
            assert engine.current_emotion(npc, game_time_s=t + 1.0) == obs.response
            if obs.category != "neutral":
                assert category_of(np.array(obs.vad)) == obs.category
                assert engine.get_state(npc, game_time_s=t + 2.0).category == obs.category
            seen.add(obs.category)
            t += 30.0
    assert len(seen) >= 2, seen  # not a constant answer
