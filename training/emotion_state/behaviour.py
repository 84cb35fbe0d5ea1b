"""Behavioural suite of the NPC emotion state: personas x situations with directional expectations.

Usage (from the repository root; ~10-20 s with a warm encoder)::

    PYTHONPATH=sidecar python -m training.emotion_state.behaviour --split dev      # tune on this one only
    PYTHONPATH=sidecar python -m training.emotion_state.behaviour --split heldout  # report only
    PYTHONPATH=sidecar python -m training.emotion_state.behaviour --split heldout --ablation no_personality

The cases live in ``behaviour/dev.yaml`` and the held-out parts ``behaviour/heldout.yaml``,
``heldout2.yaml`` and ``heldout3.yaml`` (written by hand before the tuning pass each belongs to; see their
headers). A case runs a short dialogue on a fresh NPC per persona — the persona is
created at game time 0, the optional ``context`` (the NPC's own line) is observed at 1 s, then the
``line`` (or each of ``steps``) from 2 s on — and checks expectations on what the engine reports.

Expectation tokens (``EPS`` = 0.02 VAD units; "change" = the NPC's emotion point right after the
line minus the point right before it, both at the line's game time):

* ``v-`` / ``v+`` / ``a-`` / ``a+`` / ``d-`` / ``d+``: the valence / arousal / dominance change is
  <= -EPS / >= +EPS; ``v>=``: the valence change is > -EPS (does not go down);
* ``small``: every axis changes by at most 0.15; ``same_cat``: the category is unchanged;
* ``{cat: [..]}`` / ``{not: [..]}``: the category reported after the line is / is not one of these;
* after a ``wait`` step: ``toward_rest`` (the point is closer to the NPC's resting point than
  before the wait) and ``at_rest`` (within 0.05 of it, with the resting point's category);
* ``{gt: [metric, A, B]}`` (``compare`` cases): metric of persona A > metric of persona B, where
  metric is ``v``/``a``/``d`` (after), ``dv``/``da``/``dd`` (change), ``drop`` (-dv), ``rise`` (dv),
  ``anger``/``surprise``/``fear_or_sad`` (that part of ``emotion_from_vad`` of the point) or, after
  a wait, ``remain_v`` (the fraction of the line's valence excursion from rest still left).

Every observation is also checked for coherence (the reported category and intensity are those of
the state's VAD point); a failure there counts as one more failed expectation.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mien.emotion import emotion_from_vad
from mien.emotion_state import EmotionStateConfig, EmotionStateEngine, NpcState
from mien.emotion_state.classify import classify_vad
from mien.emotion_state.context import TextEncoder

__all__ = ["EPS", "HELDOUT_SPLITS", "SPLITS", "CaseResult", "Check", "load_suite", "main", "run_suite"]

EPS = 0.02
SMALL = 0.15
SPLITS: tuple[str, ...] = ("dev", "heldout", "heldout2", "heldout3")
HELDOUT_SPLITS: tuple[str, ...] = tuple(s for s in SPLITS if s.startswith("heldout"))
SUITE_DIR = Path(__file__).resolve().parent / "behaviour"


@dataclass(frozen=True)
class Check:
    """One expectation for one persona (or one pair) and whether it held."""

    case: str
    who: str
    expectation: str
    passed: bool
    detail: str = ""


@dataclass
class CaseResult:
    """Every check of one case."""

    case: str
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class _Step:
    before: NpcState
    after: NpcState
    kind: str  # "other", "self" or "wait"


def load_suite(split: str) -> dict[str, Any]:
    """The parsed YAML of one split (one of :data:`SPLITS`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    doc = yaml.safe_load((SUITE_DIR / f"{split}.yaml").read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise ValueError(f"{split}.yaml: expected schema_version 1")
    return doc


def suite_lines(split: str) -> list[str]:
    """Every line of dialogue in a split (to check that no appraisal prototype copies one)."""
    out: list[str] = []
    for case in load_suite(split)["cases"]:
        for key in ("context", "line"):
            if key in case:
                out.append(str(case[key]))
        for step in case.get("steps", []):
            for key in ("other", "self"):
                if key in step:
                    out.append(str(step[key]))
    return out


def _vec(v: Sequence[float]) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _steps(case: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "steps" in case:
        return [dict(s) for s in case["steps"]]
    return [{"other": case["line"], "expect": case.get("expect", [])}]


def _run_dialogue(
    engine: EmotionStateEngine, npc: str, persona: Mapping[str, Any], case: Mapping[str, Any]
) -> tuple[list[_Step], list[Check]]:
    if "preset" in persona:
        engine.set_persona(npc, preset=str(persona["preset"]), game_time_s=0.0)
    else:
        engine.set_persona(npc, ocean=[float(x) for x in persona["ocean"]], game_time_s=0.0)
    if "context" in case:
        engine.observe(npc, "self", str(case["context"]), game_time_s=1.0)
    t = 2.0
    records: list[_Step] = []
    coherence: list[Check] = []
    for step in _steps(case):
        before = engine.get_state(npc, game_time_s=t)
        if "wait" in step:
            t += float(step["wait"])
            after = engine.get_state(npc, game_time_s=t)
            kind = "wait"
        else:
            kind = "other" if "other" in step else "self"
            after = engine.observe(npc, kind, str(step[kind]), game_time_s=t).state  # type: ignore[arg-type]
        cls = classify_vad(_vec(after.emotion_vad))
        ok = cls.category == after.category and math.isclose(cls.intensity, after.intensity, abs_tol=1e-9)
        if not ok:
            coherence.append(
                Check(str(case["id"]), npc, "coherent", False,
                      f"reported {after.category}@{after.intensity:.3f}, point is {cls.category}@{cls.intensity:.3f}")
            )
        records.append(_Step(before, after, kind))
    return records, coherence


def _blend(state: NpcState) -> Mapping[str, float]:
    return emotion_from_vad(*state.emotion_vad).weights


def _metric(name: str, steps: list[_Step], index: int) -> float:
    rec = steps[index]
    after, before = _vec(rec.after.emotion_vad), _vec(rec.before.emotion_vad)
    change = after - before
    simple: dict[str, Callable[[], float]] = {
        "v": lambda: float(after[0]),
        "a": lambda: float(after[1]),
        "d": lambda: float(after[2]),
        "dv": lambda: float(change[0]),
        "da": lambda: float(change[1]),
        "dd": lambda: float(change[2]),
        "drop": lambda: float(-change[0]),
        "rise": lambda: float(change[0]),
        "anger": lambda: _blend(rec.after).get("angry", 0.0),
        "surprise": lambda: _blend(rec.after).get("surprise", 0.0),
        "fear_or_sad": lambda: _blend(rec.after).get("fear", 0.0) + _blend(rec.after).get("sad", 0.0),
    }
    if name in simple:
        return simple[name]()
    if name == "remain_v":
        # the last non-wait step before this one is the line whose excursion is measured
        line = max(i for i in range(index) if steps[i].kind != "wait")
        rest = steps[line].after.baseline_vad[0]
        excursion = steps[line].after.emotion_vad[0] - rest
        return float((rec.after.emotion_vad[0] - rest) / excursion) if abs(excursion) > 1e-9 else 0.0
    raise ValueError(f"unknown metric {name!r}")


def _check_one(token: Any, steps: list[_Step], index: int) -> tuple[bool, str]:
    rec = steps[index]
    after, before = _vec(rec.after.emotion_vad), _vec(rec.before.emotion_vad)
    change = after - before
    detail = (f"{rec.before.category}->{rec.after.category}@{rec.after.intensity:.2f} "
              f"vad {np.round(before, 2).tolist()}->{np.round(after, 2).tolist()}")
    if isinstance(token, str):
        axis = {"v": 0, "a": 1, "d": 2}
        if len(token) == 2 and token[0] in axis and token[1] in "+-":
            value = float(change[axis[token[0]]])
            return (value >= EPS if token[1] == "+" else value <= -EPS), detail
        if token == "v>=":
            return float(change[0]) > -EPS, detail
        if token == "small":
            return float(np.max(np.abs(change))) <= SMALL, detail
        if token == "same_cat":
            return rec.after.category == rec.before.category, detail
        rest = _vec(rec.after.baseline_vad)
        if token == "toward_rest":
            return float(np.linalg.norm(after - rest)) < float(np.linalg.norm(before - rest)), detail
        if token == "at_rest":
            near = float(np.linalg.norm(after - rest)) < 0.05
            return near and rec.after.category == classify_vad(rest).category, detail
        raise ValueError(f"unknown expectation {token!r}")
    if isinstance(token, dict) and "cat" in token:
        return rec.after.category in token["cat"], detail
    if isinstance(token, dict) and "not" in token:
        return rec.after.category not in token["not"], detail
    raise ValueError(f"unknown expectation {token!r}")


def _token_name(token: Any) -> str:
    return token if isinstance(token, str) else yaml.safe_dump(token, default_flow_style=True).strip()


@contextmanager
def _engine(encoder: TextEncoder | None, **config: Any) -> Iterator[EmotionStateEngine]:
    engine = EmotionStateEngine(EmotionStateConfig(db_path=":memory:", **config), encoder=encoder)
    try:
        yield engine
    finally:
        engine.close()


def run_suite(split: str, encoder: TextEncoder | None = None, **config: Any) -> list[CaseResult]:
    """Run every case of ``split`` on fresh in-memory engines (``config``: EmotionStateConfig fields)."""
    doc = load_suite(split)
    personas: Mapping[str, Mapping[str, Any]] = doc["personas"]
    results: list[CaseResult] = []
    with _engine(encoder, **config) as engine:
        for n, case in enumerate(doc["cases"]):
            cid = str(case["id"])
            result = CaseResult(cid)
            names = list(case.get("compare", case.get("who", [])))
            runs: dict[str, list[_Step]] = {}
            for who in names:
                npc = f"{cid}#{who}#{n}"
                runs[who], coherence = _run_dialogue(engine, npc, personas[who], case)
                result.checks.extend(coherence)
            for index, step in enumerate(_steps(case)):
                for token in step.get("expect", []):
                    if isinstance(token, dict) and "gt" in token:
                        metric, a, b = token["gt"]
                        va, vb = _metric(metric, runs[a], index), _metric(metric, runs[b], index)
                        result.checks.append(
                            Check(cid, f"{a}>{b}", _token_name(token), va > vb, f"{metric}: {va:.3f} vs {vb:.3f}")
                        )
                        continue
                    for who in names:
                        ok, detail = _check_one(token, runs[who], index)
                        result.checks.append(Check(cid, who, _token_name(token), ok, detail))
            results.append(result)
    return results


def summarise(results: list[CaseResult]) -> tuple[int, int]:
    """(passed, total) expectations."""
    checks = [c for r in results for c in r.checks]
    return sum(c.passed for c in checks), len(checks)


ABLATIONS: dict[str, dict[str, Any]] = {
    "none": {},
    "no_personality": {"ablation": "no_personality"},
    "no_appraisal": {"ablation": "no_appraisal"},
}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: print every failed expectation and the pass rate."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=SPLITS, default="dev")
    ap.add_argument("--ablation", choices=tuple(ABLATIONS), default="none")
    ap.add_argument("--model", default=None, help="state.model (default: the engine's default)")
    ap.add_argument("--verbose", action="store_true", help="print passed expectations too")
    args = ap.parse_args(argv)
    config = dict(ABLATIONS[args.ablation])
    if args.model:
        config["model"] = args.model
    results = run_suite(args.split, **config)
    for r in results:
        for c in r.checks:
            if args.verbose or not c.passed:
                print(f"{'ok  ' if c.passed else 'FAIL'} {c.case:28s} {c.who:22s} {c.expectation:28s} {c.detail}")
    passed, total = summarise(results)
    print(f"{args.split} ({args.ablation}): {passed}/{total} expectations = {100.0 * passed / total:.1f} %")


if __name__ == "__main__":
    main()
