"""Appraisal model: the shipped file, designer extensions, negation and target cues, coherence for every
input (hypothesis), personality directions of the rules, ablations."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mien.emotion import EMOTIONS, Emotion
from mien.emotion_state import EmotionStateEngine
from mien.emotion_state.appraisal import (
    EMBEDDINGS_FILE,
    LIMITS,
    Appraisal,
    AppraisalModel,
    encoder_sha256,
    keyword_hits,
    load_appraisals,
    text_cues,
)
from mien.emotion_state.classify import classify_vad, snap_to_category
from mien.emotion_state.context import TextEncoder, data_path
from mien.emotion_state.rules import AVERAGE, Personality, decay_time_scale, elicit, respond, transition
from mien.errors import FailedPrecondition, InvalidArgument
from training.emotion_state.behaviour import suite_lines

Factory = Callable[..., EmotionStateEngine]


@pytest.fixture(scope="module")
def model(encoder: TextEncoder) -> AppraisalModel:
    return AppraisalModel.build(load_appraisals(), encoder.encode)


def test_shipped_embeddings_cover_every_line_and_match_the_encoder(encoder: TextEncoder) -> None:
    with np.load(data_path(EMBEDDINGS_FILE), allow_pickle=False) as npz:
        assert str(npz["encoder_sha256"]) == encoder_sha256()
        vectors = dict(zip((str(t) for t in npz["texts"]), np.asarray(npz["vectors"], dtype=np.float32), strict=True))
    lines = [line for spec in load_appraisals().values() for line in spec.lines]
    missing = [line for line in lines if line not in vectors]
    assert not missing, f"{len(missing)} lines missing: run training/emotion_state/embed_appraisals.py ({missing[:3]})"
    for line in lines[:: max(1, len(lines) // 25)]:  # a sample against the encoder itself
        assert float(vectors[line] @ encoder.encode(line)) > 0.999


def test_no_prototype_copies_a_behaviour_suite_line(model: AppraisalModel, encoder: TextEncoder) -> None:
    """The suites measure generalisation: no prototype is a suite line, and none is a near copy of a held-out
    line (cosine > 0.9). Formulaic lines of three words or fewer ("Good morning!") are exempt."""
    protos = {line.lower().strip(" .!?") for line in model.lines}
    for split in ("dev", "heldout"):
        for line in suite_lines(split):
            if len(line.split()) > 3:
                assert line.lower().strip(" .!?") not in protos, (split, line)
    held = np.stack([encoder.encode(line) for line in set(suite_lines("heldout")) if len(line.split()) > 3])
    closest = (model.matrix @ held.T).max(axis=0)
    assert float(closest.max()) < 0.9, float(closest.max())


@pytest.mark.parametrize(
    ("line", "appraisals"),
    [
        ("I'll burn your barn down if you talk.", {"threat"}),
        ("I will not hurt you.", {"reassurance"}),
        ("Nobody is going to harm your family, I give you my word.", {"reassurance"}),
        ("If you don't pay, we'll break your arms.", {"threat"}),
        ("You're a brainless coward.", {"insult"}),
        ("Your sister died last night.", {"loss"}),
        ("My sister died last night.", {"misfortune_of_others"}),
        ("There are maggots in the porridge.", {"disgust"}),
        ("Thank you, that was kind.", {"gratitude", "praise"}),
        ("I'm sorry, I was wrong.", {"apology"}),
        ("Where can I buy a horse?", {"request"}),
    ],
)
def test_appraisal_of_plain_lines(model: AppraisalModel, encoder: TextEncoder, line: str, appraisals: set[str]) -> None:
    assert model.appraise(encoder.encode(line), line).name in appraisals


def test_text_cues() -> None:
    assert text_cues("I will not hurt you") == (True, "unknown")
    assert text_cues("You won't believe it, your cow won the fair!")[0] is False  # idiom
    assert text_cues("If you don't pay, your shop burns.")[0] is False  # negation inside an if-clause
    assert text_cues("Your brother died.") == (False, "listener")
    assert text_cues("My brother died.") == (False, "speaker")


def test_designers_extend_appraisals_at_run_time_and_from_a_file(tmp_path: Path, make_engine: Factory) -> None:
    engine = make_engine()
    engine.set_persona("m", preset="anxious_merchant")
    line = "The Crimson Eye has marked your door."
    before = engine.observe("m", "other", line).appraisal
    assert before is not None
    changed = engine.extend_appraisals({"threat": {"lines": [line, "The Crimson Eye is watching you."]}})
    assert changed == ["threat"]
    engine.set_persona("n", preset="anxious_merchant")
    after = engine.observe("n", "other", line)
    assert after.appraisal is not None and after.appraisal.name == "threat" and after.appraisal.prototype == line
    assert after.category == "fear"
    spec = {s.name: s for s in engine.list_appraisals()}["threat"]
    assert line in spec.lines
    # a whole new appraisal, from YAML text, with a template
    engine.extend_appraisals(
        "vocabulary: {beast: [dragon, wyvern]}\nappraisals:\n  dragon_sighting:\n"
        "    desirability: -0.8\n    prospect: likely\n    unexpectedness: 0.8\n    intensity: 1.0\n"
        "    templates: ['A {beast} is circling the village!']\n    keywords: ['dragon*']\n"
    )
    assert "dragon_sighting" in {s.name for s in engine.list_appraisals()}
    # the same from a file given in the config
    path = tmp_path / "game.yaml"
    path.write_text("schema_version: 1\nappraisals:\n  threat:\n    lines: ['The Crimson Eye has marked your door.']\n")
    other = make_engine("other.sqlite3", appraisals_path=str(path))
    other.set_persona("m", preset="anxious_merchant")
    obs = other.observe("m", "other", line)
    assert obs.appraisal is not None and obs.appraisal.name == "threat"


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        ({"Bad Name": {"lines": ["x"]}}, "lower_snake_case"),
        ({"new_one": {"desirability": 0.5}}, "at least one prototype"),
        ({"threat": {"desirability": 3}}, "desirability"),
        ({"threat": {"prospect": "maybe"}}, "prospect"),
        ({"threat": {"lines": ["x" * (LIMITS.max_line_chars + 1)]}}, "characters"),
        ({"threat": {"lines": [""]}}, "empty"),
        ({"threat": {"lines": "not a list"}}, "list of strings"),
        ({"threat": {"colour": "red"}}, "unknown keys"),
        ({"threat": {"negated": "no_such_appraisal"}}, "names no appraisal"),
        ({"praise": {"ironic": "no_such_appraisal"}}, "names no appraisal"),
        ({"praise": {"ironic": "Not A Name"}}, "ironic"),
        ({"threat": {"templates": ["{nope} burns"]}}, "vocabulary"),
        ({"threat": {"keywords": ["k" * 100]}}, "keywords"),
        ({f"a{i}": {"lines": ["x"]} for i in range(LIMITS.max_appraisals + 1)}, "appraisals"),
    ],
)
def test_bad_extensions_are_refused_and_change_nothing(make_engine: Factory, entries: object, needle: str) -> None:
    engine = make_engine()
    before = engine.list_appraisals()
    with pytest.raises(InvalidArgument, match=needle) as err:
        engine.extend_appraisals(entries)  # type: ignore[arg-type]
    assert err.value.field == "appraisals"
    assert engine.list_appraisals() == before


def test_extension_yaml_text_errors(make_engine: Factory) -> None:
    engine = make_engine()
    for text in ("appraisals: [", "just a string", "schema_version: 9\nappraisals: {}"):
        with pytest.raises(InvalidArgument):
            engine.extend_appraisals(text)
    peld = make_engine("peld.sqlite3", model="peld")
    with pytest.raises(FailedPrecondition):
        peld.extend_appraisals({"threat": {"lines": ["x"]}})


def test_negated_threat_reassures_and_plain_threat_frightens(make_engine: Factory) -> None:
    engine = make_engine()
    out = {}
    for line in ("I will hurt you.", "I will not hurt you."):
        engine.set_persona(line, preset="anxious_merchant")
        out[line] = engine.observe(line, "other", line, game_time_s=1.0)
    assert out["I will hurt you."].category == "fear"
    assert out["I will not hurt you."].category not in ("fear", "angry")
    assert out["I will not hurt you."].vad[0] > out["I will hurt you."].vad[0] + 0.3


def test_sarcasm_is_mockery_and_plain_praise_pleases(model: AppraisalModel, encoder: TextEncoder) -> None:
    """`ironic`: praise words in a line that also has insult words count for the insult (keywords only)."""
    specs = load_appraisals()
    assert specs["praise"].ironic == "insult"
    assert keyword_hits("Well done, genius.", specs).get("praise", 0) >= 2
    sarcastic = keyword_hits("Well done, genius, you've ruined it again.", specs)
    assert "praise" not in sarcastic and sarcastic.get("insult", 0) >= 3
    heroic = keyword_hits("You're so brave, you fought off the bandits.", specs)  # a harm beaten, no insult
    assert heroic.get("praise", 0) >= 1 and "insult" not in heroic
    for line, name in (("Great job, genius, you burned the bread again.", "insult"),
                       ("Great job, you fixed the roof in a single day!", "praise")):
        assert model.appraise(encoder.encode(line), line).name == name, line


def test_disgust_strength_counts_neuroticism_once() -> None:
    """A very stable, cheerful NPC shows disgust at vermin in its food (its disgust sensitivity holds N;
    the show strength is not multiplied by the neuroticism gain P_v as well)."""
    sunny = Personality.of((0.8, 0.35, 0.9, 0.8, 0.1))
    appraisal = Appraisal("disgust", 1.0, {"disgust": 1.0}, 0.9)
    point, step = transition(np.array(sunny.temperament), elicit(appraisal, load_appraisals(), sunny), sunny)
    assert step.show == "disgust" and classify_vad(point).category == "disgust"
    assert step.gain[0] < 1.0 and step.strength == pytest.approx(elicit(
        appraisal, load_appraisals(), sunny).by_category()["disgust"])


def test_showing_a_category_keeps_the_valence_when_the_region_allows() -> None:
    """The snap into the shown category moves arousal and dominance first: showing anger after an insult
    does not raise a sullen NPC's valence back toward the anger anchor's."""
    smith = Personality.of((0.3, 0.7, 0.5, 0.15, 0.65))
    insult = Appraisal("insult", 1.0, {"insult": 1.0}, 0.9)
    start = np.array([-0.47, -0.1, 0.19])
    step = respond(start, elicit(insult, load_appraisals(), smith), smith)
    point, _ = transition(start, elicit(insult, load_appraisals(), smith), smith)
    assert step.show == "angry" and classify_vad(point).category == "angry"
    plain = snap_to_category(step.vad, "angry")  # straight toward the anchor (valence -0.51)
    assert point[0] < plain[0] - 0.05 and point[0] < start[0] - 0.1


def test_personality_rules_directions() -> None:
    smith = Personality.of((0.3, 0.7, 0.35, 0.15, 0.65))
    villager = Personality.of((0.35, 0.5, 0.25, 0.7, 0.8))
    assert smith.anger_share > 0.7 > 0.3 > villager.anger_share  # agreeableness -> less anger
    assert villager.fear_share > smith.fear_share  # neuroticism, low dominance -> fear
    nervous, calm = Personality.of((0.5, 0.5, 0.5, 0.5, 0.9)), Personality.of((0.5, 0.5, 0.5, 0.5, 0.1))
    assert nervous.gain(True)[0] > 1.0 > calm.gain(True)[0]  # stronger negative reactions
    extravert, introvert = Personality.of((0.5, 0.5, 0.9, 0.5, 0.5)), Personality.of((0.5, 0.5, 0.1, 0.5, 0.5))
    assert extravert.gain(False)[0] > 1.0 > introvert.gain(False)[0]  # more joy
    np.testing.assert_allclose(AVERAGE.gain(True), [1.0, 1.0, 1.0])
    assert decay_time_scale((0.5,) * 4 + (0.9,), True) > 1.0 > decay_time_scale((0.5,) * 4 + (0.1,), True)
    assert decay_time_scale((0.5,) * 4 + (0.9,), False) == 1.0


def test_ablations_change_the_response(make_engine: Factory) -> None:
    full, flat, none = make_engine("a.sqlite3"), make_engine("b.sqlite3", ablation="no_personality"), make_engine(
        "c.sqlite3", ablation="no_appraisal")
    results = {}
    for name, engine in (("full", full), ("flat", flat), ("none", none)):
        for npc, preset in (("smith", "grumpy_blacksmith"), ("villager", "timid_villager")):
            engine.set_persona(npc, preset=preset)
            results[name, npc] = engine.observe(npc, "other", "You're a worthless coward and a liar.", game_time_s=1.0)
    assert results["full", "smith"].category == "angry" and results["full", "villager"].category != "angry"
    # without personality both NPCs appraise alike (only their resting points differ)
    assert results["flat", "smith"].gain == results["flat", "villager"].gain == (1.0, 1.0, 1.0)
    assert results["flat", "smith"].vad != results["full", "smith"].vad
    # without appraisal nothing moves
    for npc in ("smith", "villager"):
        assert results["none", npc].vad == none.get_state(npc).emotion_vad == results["none", npc].state.baseline_vad


words = st.sampled_from(
    "you your my I will burn kill thank sorry dead maggots stew brother shop not never won't hello fire run "
    "gold safe fool great news the a is was and or else please why ! ? , . guards bandits love hate".split()
)
texts = st.one_of(st.lists(words, max_size=14).map(" ".join), st.text(max_size=40))
oceans = st.tuples(*[st.floats(0.0, 1.0)] * 5)
tags = st.one_of(st.none(), st.builds(Emotion.of, st.sampled_from(EMOTIONS), st.floats(0.0, 1.0)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ocean=oceans,
    steps=st.lists(st.tuples(st.sampled_from(["self", "other"]), texts, tags, st.floats(0.0, 120.0)),
                   min_size=1, max_size=6),
    model=st.sampled_from(["appraisal", "peld"]),
)
def test_reported_category_is_always_the_points(make_engine: Factory, ocean: tuple[float, ...],
                                                 steps: list[tuple[str, str, Emotion | None, float]],
                                                 model: str) -> None:
    """Coherence (issue 17, build 2), for every input: after every update, and at every later time, the
    category and intensity reported are those of the state's VAD point."""
    engine = make_engine(f"{model}.sqlite3", model=model)
    engine.set_persona("npc", ocean=ocean, game_time_s=0.0)
    t = 0.0
    for speaker, text, tag, dt in steps:
        t += dt
        obs = engine.observe("npc", speaker, text, emotion=tag, game_time_s=t)  # type: ignore[arg-type]
        for state in (obs.state, engine.get_state("npc", t + 0.5), engine.get_state("npc", t + 60.0)):
            cls = classify_vad(np.array(state.emotion_vad))
            assert cls.category == state.category
            assert math.isclose(cls.intensity, state.intensity, abs_tol=1e-12)
        assert (obs.category, obs.intensity) == (obs.state.category, obs.state.intensity)
        if tag is None:
            assert obs.response == obs.state.emotion
        elif tag.dominant != "neutral":
            assert obs.category == tag.dominant  # a writer's tag is shown
