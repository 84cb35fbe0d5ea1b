"""Appraisal -> emotion -> VAD change: documented, personality-dependent rules (OCC / FAtiMA style).

The frame is Wen et al.'s (2021) transition, ``VAD_r = VAD_i + P ⊙ ΔVAD``:

1. **Elicited emotions** (OCC, Ortony, Clore & Collins 1988). Each appraisal in the line's mix
   (weight w, see :mod:`.appraisal`) gives OCC emotion intensities from its variables
   (desirability d, prospect, about, agent, praiseworthiness p, appeal, unexpectedness u, intensity I):

   * about the NPC (``about: listener``): d < 0 → *distress* (it happened) or *fear* (``prospect:
     likely``), |d|·I; d > 0 → *joy* or *hope*, d·I; ``prospect: disconfirmed`` → *relief*, |d|·I;
   * about the speaker or someone else: *pity* (d < 0) or *happy-for* (d > 0), |d|·I·empathy, with
     empathy = 0.3 + 0.7 A (agreeableness predicts empathic concern: Graziano, Habashi, Sheese &
     Tobin 2007, JPSP 93(4));
   * an agent to blame (p < 0, agent speaker/other) turns the harm (distress or fear) into *anger*
     by the share ``s_anger · |p|``, the rest stays distress or fear; blame with no harm is
     *reproach*, ``|p|·I/2``. Praise of the speaker's act (p > 0) adds *gratitude* ``p·I/2``; praise
     of the NPC's own act (agent listener) adds *pride* ``p·I·g_C``;
   * appeal < 0 → *disgust* ``|appeal|·I·g_disgust``; u → *surprise* ``u·I·g_O``.

   The intensities of all appraisals are summed with their weights and scaled by the appraisal's
   confidence.

2. **Personality** (OCEAN in [0, 1], centred ``x_c = 2x - 1``; T = the Mehrabian temperament):

   * *anger or fear/sadness* for blamed harm — ``s_anger = σ(2 (-0.9 A_c + 1.2 T_d - 0.4 N_c
     - 0.2 C_c))``: low agreeableness means anger (Meier & Robinson 2004, "Does quick to blame
     mean quick to anger? The role of agreeableness in dissociating blame and anger", PSPB 30(7);
     Kuppens 2005, J. Res. Personality 39(1)); high coping potential / dominance means anger, low
     means fear (Lerner & Keltner 2001, "Fear, anger, and risk", JPSP 81(1); Smith & Lazarus 1993);
     neuroticism leans to fear; conscientiousness restrains anger (effortful control: Jensen-Campbell
     et al. 2007, J. Res. Personality 41(2));
   * *distress as fear*: of distress that remains, ``φ = σ(2 (N_c - T_d) - 1)`` is felt as fear
     (anxious, low-dominance temperaments worry about what follows; Mehrabian 1997: trait anxiety ≈
     −P +A −D);
   * *openness*: surprise × ``g_O = exp(0.5 O_c)``, and novelty (``u`` of a harmless event) is
     interest — joy ``0.3·u·I·O_c`` — for the open, and unease — fear ``0.3·u·I·|O_c|`` — for the
     closed (Fayn, MacCann, Tiliopoulos & Silvia 2015, "Aesthetic emotions and aesthetic people:
     openness predicts sensitivity to novelty in the experiences of interest and pleasure", Front.
     Psychol. 6);
   * *disgust sensitivity* ``g_disgust = exp(0.3 N_c + 0.2 C_c - 0.3 O_c)`` (Druschel & Sherman 1999,
     "Disgust sensitivity as a function of the Big Five and gender", PAID 26(4));
   * *conscientiousness*: pride in one's work ``g_C = exp(0.3 C_c)`` (Fayard, Roberts, Robins &
     Watson 2012, "Uncovering the affective core of conscientiousness: the role of self-conscious
     emotions", J. Personality 80(1));
   * **the gain P** (per VAD axis; Wen et al.'s personality weights): ``P_v = exp(0.5 N_c)`` when
     the change lowers valence, ``exp(0.5 E_c)`` when it raises it — neuroticism predicts reactivity
     to negative, extraversion to positive events (Larsen & Ketelaar 1991, JPSP 61(1)); ``P_a = P_v ·
     exp(0.3 T_a)`` (trait arousability, Mehrabian 1995); ``P_d = 1``.

3. **VAD change**. The elicited emotions, with VAD points ``v_k`` (the Russell & Mehrabian 1977
   anchors for joy, distress = sadness, fear, anger, disgust and surprise; ALMA's OCC→PAD table,
   Gebhard 2005, for hope, relief, pity, happy-for, gratitude, pride and reproach) and intensities
   ``i_k``, ask for ``ΔVAD = λ (REACH ⊙ v̄ - PULL ⊙ VAD_i)`` with ``v̄`` the intensity-weighted mean
   of the ``v_k`` and ``λ = min(1, Σ i_k)`` (:data:`REACH` = (1.5, 1.5, 1.2), :data:`PULL` = (0, 1, 1)):
   arousal and dominance are pulled toward the emotion's own value, ``clip(VAD_i + P ⊙ ΔVAD, -1, 1)``;
   valence accumulates (bad news on a bad day is worse) and adds in atanh space,
   ``V_r = tanh(atanh(V_i) + P_v ΔV)``, so it has no hard stop at ±1.

4. **The category shown**. If one category's elicited intensity (times P_v, except for :data:`OWN_GAIN`'s
   disgust, whose sensitivity gain already holds neuroticism), its *strength*, reaches
   :data:`SHOW_THRESHOLD`, that is the NPC's response and the point is moved into that category's
   region (:func:`.classify.snap_to_category`, toward the anchor with the valence changed as little as the
   region allows, :func:`_snap_target`) when the pull left it short by at most
   :data:`SNAP_MAX` x the strength (:func:`transition`); either way the category and intensity
   reported are those of the final point (:func:`.classify.classify_vad`).

Neuroticism also makes negative responses *last longer*: :func:`decay_time_scale`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..emotion import VAD_ANCHORS
from .appraisal import Appraisal, AppraisalSpec
from .classify import category_of, snap_to_category
from .temperament import temperament_pad

__all__ = [
    "CATEGORY_OF",
    "OCC_VAD",
    "SHOW_THRESHOLD",
    "Elicited",
    "Personality",
    "decay_time_scale",
    "elicit",
    "respond",
    "transition",
]

OCC_VAD: Mapping[str, tuple[float, float, float]] = {
    "joy": VAD_ANCHORS["happy"],
    "distress": VAD_ANCHORS["sad"],
    "fear": VAD_ANCHORS["fear"],
    "anger": VAD_ANCHORS["angry"],
    "disgust": VAD_ANCHORS["disgust"],
    "surprise": VAD_ANCHORS["surprise"],
    "hope": (0.2, 0.2, -0.1),
    "relief": (0.2, -0.3, 0.4),
    "pity": (-0.4, -0.2, -0.5),
    "happy_for": (0.4, 0.2, 0.2),
    "gratitude": (0.4, 0.2, -0.3),
    "pride": (0.4, 0.3, 0.3),
    "reproach": (-0.3, -0.1, 0.4),
}
"""VAD point of each OCC emotion: Russell & Mehrabian (1977) anchors for the six categories,
ALMA's OCC→PAD mapping (Gebhard 2005) for the others."""

CATEGORY_OF: Mapping[str, str] = {
    "joy": "happy",
    "hope": "happy",
    "happy_for": "happy",
    "gratitude": "happy",
    "pride": "happy",
    "distress": "sad",
    "pity": "sad",
    "fear": "fear",
    "anger": "angry",
    "reproach": "angry",
    "disgust": "disgust",
    "surprise": "surprise",
}
"""The category an OCC emotion shows as (relief shows as none: it calms)."""

OWN_GAIN: frozenset[str] = frozenset({"disgust"})
"""Categories whose elicited intensity already carries their own personality gain (disgust sensitivity,
Druschel & Sherman 1999, includes neuroticism): their strength is not multiplied by P_v as well, which
would count neuroticism twice (a very stable, cheerful NPC told of maggots in its stew stayed neutral)."""

SHOW_THRESHOLD = 0.3
"""Elicited intensity of one category (times P_v) from which it is the NPC's response."""
REACH = np.array([1.5, 1.5, 1.2])
"""Per axis, the change per unit of elicited intensity in units of the emotion's own value: strong news
carries a cheerful NPC past neutral (valence), and an emotion's arousal and dominance are reached quickly."""
PULL = np.array([0.0, 1.0, 1.0])
"""Per axis, how much of the current value the emotion replaces: 0 = additive (valence accumulates: bad news
on a bad day is worse), 1 = pulled toward the emotion's own value (arousal and dominance are states)."""
_EDGE = 0.995  # |p| cap before atanh
"""Elicited intensity of one category (times P_v) from which it is the NPC's response."""

_BETA_N = 0.5  # P_v for valence-lowering changes: exp(β_N N_c)
_BETA_E = 0.5  # P_v for valence-raising changes: exp(β_E E_c)
_BETA_AROUSAL = 0.3  # P_a = P_v exp(β T_a)
_NOVELTY = 0.3
_SURPRISE_OF_HARM = 0.25  # a harmful surprise is mostly the harm
_DECAY_GAMMA_N = 0.5  # negative affect half-lives x 2^(γ N_c)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class Personality:
    """The personality quantities the rules use (all derived from OCEAN)."""

    o: float
    c: float
    e: float
    a: float
    n: float
    """Centred traits x_c = 2x - 1 in [-1, 1]."""
    agreeableness: float
    """A in [0, 1] (for empathy)."""
    temperament: tuple[float, float, float]

    @classmethod
    def of(cls, ocean: tuple[float, float, float, float, float]) -> Personality:
        o, c, e, a, n = (2.0 * x - 1.0 for x in ocean)
        return cls(o, c, e, a, n, float(ocean[3]), temperament_pad(ocean))

    @property
    def anger_share(self) -> float:
        """s_anger: how much blamed harm becomes anger (vs fear / distress)."""
        return _sigmoid(2.0 * (-0.9 * self.a + 1.2 * self.temperament[2] - 0.4 * self.n - 0.2 * self.c))

    @property
    def fear_share(self) -> float:
        """φ: how much remaining distress is felt as fear."""
        return _sigmoid(2.0 * (self.n - self.temperament[2]) - 1.0)

    def gain(self, lowers_valence: bool) -> np.ndarray:
        """P = (P_v, P_a, P_d) for a change that lowers (True) or raises valence."""
        p_v = math.exp(_BETA_N * self.n) if lowers_valence else math.exp(_BETA_E * self.e)
        return np.array([p_v, p_v * math.exp(_BETA_AROUSAL * self.temperament[1]), 1.0])


AVERAGE = Personality.of((0.5, 0.5, 0.5, 0.5, 0.5))
"""The population-average personality (the no-personality ablation uses it for every NPC)."""


@dataclass(frozen=True)
class Elicited:
    """The OCC emotions a line elicits in one NPC, and the VAD change they ask for."""

    intensities: Mapping[str, float]
    """OCC emotion -> intensity (confidence and appraisal weights applied)."""

    @property
    def total(self) -> float:
        """Σ i_k, capped at 1 (the share of the current state the emotion replaces)."""
        return min(1.0, float(sum(self.intensities.values())))

    def target(self) -> np.ndarray | None:
        """The intensity-weighted mean VAD of the elicited emotions (None if nothing is elicited)."""
        s = float(sum(self.intensities.values()))
        if s <= 1e-12:
            return None
        return np.asarray(sum(i * np.asarray(OCC_VAD[k]) for k, i in self.intensities.items()) / s)

    def by_category(self) -> dict[str, float]:
        """Elicited intensity per shown category (relief has none)."""
        out: dict[str, float] = {}
        for k, i in self.intensities.items():
            if k in CATEGORY_OF:
                out[CATEGORY_OF[k]] = out.get(CATEGORY_OF[k], 0.0) + i
        return out


def _occ(spec: AppraisalSpec, p: Personality) -> dict[str, float]:
    """OCC emotion intensities of one appraisal for one personality (before weights and confidence)."""
    out: dict[str, float] = {}

    def add(name: str, value: float) -> None:
        if value > 0.0:
            out[name] = out.get(name, 0.0) + value

    d, i = spec.desirability, spec.intensity
    harm = 0.0
    if spec.about == "listener":
        if spec.prospect == "disconfirmed":
            add("relief", abs(d) * i)
        elif d < 0:
            harm = -d * i
        elif spec.prospect == "likely":
            add("hope", d * i)
        else:
            add("joy", d * i)
    else:
        empathy = 0.3 + 0.7 * p.agreeableness
        add("pity" if d < 0 else "happy_for", abs(d) * i * empathy)
    blame = -spec.praiseworthiness if spec.agent in ("speaker", "other") and spec.praiseworthiness < 0 else 0.0
    if harm > 0.0:
        anger = harm * blame * p.anger_share
        rest = harm - anger
        add("anger", anger)
        if spec.prospect == "likely":
            add("fear", rest)
        else:
            phi = p.fear_share
            add("fear", rest * phi)
            add("distress", rest * (1.0 - phi))
    elif blame > 0.0:
        add("reproach", blame * i / 2.0 * p.anger_share)
    if spec.praiseworthiness > 0:
        if spec.agent == "speaker":
            add("gratitude", spec.praiseworthiness * i / 2.0)
        elif spec.agent == "listener":
            add("pride", spec.praiseworthiness * i * math.exp(0.3 * p.c))
    if spec.appeal < 0:
        add("disgust", -spec.appeal * i * math.exp(0.3 * p.n + 0.2 * p.c - 0.3 * p.o))
    elif spec.appeal > 0:
        add("joy", spec.appeal * i / 2.0)
    if spec.unexpectedness > 0:
        u = spec.unexpectedness * i
        harmless = harm == 0.0 and d >= 0.0
        add("surprise", u * math.exp(0.5 * p.o) * (1.0 if harmless else _SURPRISE_OF_HARM))
        if harmless:  # novelty: interest for the open, unease for the closed
            add("joy" if p.o > 0 else "fear", _NOVELTY * u * abs(p.o))
    return out


def elicit(appraisal: Appraisal, specs: Mapping[str, AppraisalSpec], personality: Personality) -> Elicited:
    """The OCC emotions a line appraised as ``appraisal`` elicits in an NPC of ``personality``."""
    total: dict[str, float] = {}
    for name, weight in appraisal.weights.items():
        spec = specs.get(name)
        if spec is None:
            continue
        for k, v in _occ(spec, personality).items():
            total[k] = total.get(k, 0.0) + weight * appraisal.confidence * v
    return Elicited({k: v for k, v in total.items() if v > 1e-9})


@dataclass(frozen=True)
class Response:
    """The transition for one line: ``vad = preceding + gain ⊙ delta``, and the category to show."""

    delta: np.ndarray
    """ΔVAD: the change the elicited emotions ask for (before the gain)."""
    gain: np.ndarray
    """P, the personality gain per axis."""
    vad: np.ndarray
    """The transition's point (before any move into the shown category's region)."""
    show: str | None
    """The category the NPC shows as its response, or None (the point's own category)."""
    strength: float = 0.0
    """Elicited intensity of ``show`` times P_v (how far the point may be moved to show it)."""


def respond(preceding: np.ndarray, elicited: Elicited, personality: Personality) -> Response:
    """The transition of an NPC at ``preceding`` to the emotions ``elicited`` (module docstring, step 3)."""
    p = np.asarray(preceding, dtype=np.float64)
    target = elicited.target()
    if target is None:
        return Response(np.zeros(3), np.ones(3), p.copy(), None)
    lam = elicited.total
    # Each axis: `reach` x the emotion's own value, minus `pull` x where the point already is.
    delta = lam * (REACH * target - PULL * p)
    gain = personality.gain(lowers_valence=bool(delta[0] < 0.0))
    step = gain * delta
    vad = np.clip(p + step, -1.0, 1.0)
    # The additive axes add in atanh space: no hard stop at ±1, and less gain the further out a point is.
    additive = PULL == 0.0
    inner = np.arctanh(np.clip(p, -_EDGE, _EDGE))
    vad = np.where(additive, np.tanh(inner + step), vad)
    strength = {c: v * (1.0 if c in OWN_GAIN else float(gain[0])) for c, v in elicited.by_category().items()}
    show = max(strength, key=lambda c: strength[c]) if strength else None
    if show is not None and strength[show] < SHOW_THRESHOLD:
        show = None
    return Response(delta, gain, vad, show, strength.get(show, 0.0) if show else 0.0)


SNAP_MAX = 1.5
"""The point is moved into the category the rules show only if that is at most SNAP_MAX x the reaction's
strength away (VAD units); a point farther away keeps its own category, so a weak reaction is never
inflated into a strong one. Chosen on the behavioural suite's dev part, the smallest of the best values.
First pass (1.0 / 1.1 / 1.2 / 1.3 / 1.5 / 2.0 / 3.0: 97.9 / 98.2 / 98.2 / 98.9 / 98.9 / 98.9 / 98.4 %): at 1.0 a
cheerful NPC told of maggots in the stew stayed neutral and an insulted disagreeable smith showed disgust, not
anger. Third pass, with the snap changing the valence as little as the category's region allows
(:func:`_snap_target`) and the dev part extended by disgust for cheerful personas, condolences, sarcasm and
veiled threats: before the new prototype lines (1.3 / 1.5 / 1.7 / 2.0 / 2.5, snap toward the anchor itself):
95.2 / 95.8 / 96.0 / 96.0 / 95.6 % (1.3 left a cheerful innkeeper neutral at a sneeze in the porridge; at 2.5
an insulted smith snapped into joy); with them and the valence-keeping snap: 98.9 / 99.4 / 99.4 / 99.4 /
99.0 % -> 1.5. An introvert's larger excursion no longer comes from the snap: the snap keeps the valence the
personality gain gave whenever the region allows (tests/emotion_state/test_engine.py)."""


def _snap_target(point: np.ndarray, step: Response) -> np.ndarray | None:
    """The point to move toward when showing ``step.show``: the category's anchor with the valence kept at the
    transition's own value, or moved the least of :data:`_SNAP_VALENCE_STEPS` toward the anchor's that lies in
    the category's region (None: the anchor itself). Showing a category then moves arousal and dominance
    first, so it never undoes the valence change the personality gain gave (showing anger after an insult
    must not raise a sullen NPC's valence, nor showing joy carry an introvert past an extravert)."""
    assert step.show is not None
    anchor = np.asarray(VAD_ANCHORS[step.show], dtype=np.float64)
    v, av = float(point[0]), float(anchor[0])
    for f in _SNAP_VALENCE_STEPS:
        toward = anchor.copy()
        toward[0] = v + f * (av - v)
        if category_of(toward) == step.show and category_of(_SNAP_MARGIN * toward) == step.show:
            return toward
    return None


_SNAP_VALENCE_STEPS = (0.0, 0.25, 0.5, 0.75)
_SNAP_MARGIN = 0.8  # the target must stay of the category when shrunk toward neutral: the moved point keeps a margin


def transition(preceding: np.ndarray, elicited: Elicited, personality: Personality) -> tuple[np.ndarray, Response]:
    """The NPC's new emotion point: :func:`respond`, then moved into the shown category's region when the
    reaction is strong enough to reach it (:data:`SNAP_MAX`). Returns (point, response)."""
    step = respond(preceding, elicited, personality)
    point = step.vad
    if step.show is not None and category_of(point) != step.show:
        # Toward the category's anchor, but with the valence as close to the transition's own as possible.
        moved = snap_to_category(point, step.show, toward=_snap_target(point, step))
        if float(np.linalg.norm(moved - point)) <= SNAP_MAX * step.strength:
            point = moved
    return point, step


def decay_time_scale(ocean: tuple[float, float, float, float, float], negative: bool) -> float:
    """Factor on the half-lives while the NPC's affect is negative: ``2^(0.5 N_c)`` (1 otherwise).

    More neurotic people recover more slowly from negative affect (Hemenover 2003, "Individual
    differences in rate of affect change: studies in affective chronometry", JPSP 85(1); Suls &
    Martin 2005, "The daily life of the garden-variety neurotic", J. Personality 73(6)).
    """
    if not negative:
        return 1.0
    return float(2.0 ** (_DECAY_GAMMA_N * (2.0 * ocean[4] - 1.0)))
