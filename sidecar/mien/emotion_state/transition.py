"""Personality-affected emotion transition (Wen et al. 2021), run in numpy from a ``.npz`` head.

Wen, Cao, Yang, Liu & Shen (2021), "Automatically Select Emotion for Response via
Personality-affected Emotion Transition", Findings of ACL-IJCNLP, select the response emotion as

    VAD_response = VAD_preceding + P ⊙ ΔVAD

where ΔVAD is predicted from the dialogue context (the speaker's last utterance and the other
party's reply) and P is a personality gain computed from the speaker's temperament, and then map
the VAD point to an emotion category. Our form:

* Context: ``x = [u, r, u ⊙ r, |u - r|]`` with u, r the 384-d MiniLM embeddings of the NPC's last
  utterance and the other party's reply (the sentence-pair features of Conneau et al. 2017,
  InferSent); ``h = gelu(W_c x + b_c)``;
  ``ΔVAD = 2 tanh(W_d h + b_d) + κ ⊙ a(r)`` with the *appraisal* ``a(e) = tanh(W_a e + b_a)``: a
  linear VAD probe trained to read each utterance's own emotion (PELD's E1/E2 labels, mapped to
  their Russell-Mehrabian anchors), scaled by learned κ >= 0. It ties ΔVAD to what was said (an
  insult pulls valence down) where PELD's response labels alone barely do.
* Personality gain, from the temperament T = (T_p, T_a, T_d) (see :mod:`.temperament`), with
  learned non-negative strengths β (``softplus`` in training, so every direction below is fixed
  by construction and only its size is learned):

  - valence, negative change: ``P_v = exp(β_neg (T_a - T_p) / 2)`` — neurotic temperaments (high
    arousability, low pleasure) react more to bad news (Larsen & Ketelaar 1991, JPSP 61(1):
    neuroticism predicts susceptibility to negative mood induction);
  - valence, positive change: ``P_v = exp(β_pos (T_p + T_d) / 2)`` — extraverted temperaments
    (pleasant, dominant) react more to good news (same study: extraversion and positive mood);
  - arousal: ``P_a = exp(β_a T_a)`` — Mehrabian's trait arousability is emotional reactivity;
  - dominance: ``P_d = exp(β_d T_d)``.

  P = 1 for an average personality (T = 0).
* ``VAD_response = clip(VAD_preceding + P ⊙ ΔVAD, -1, 1)``.
* Category: a small MLP on ``[VAD_response, one-hot(preceding category), context features]``, the
  context features being the appraisals ``a(u)`` and ``a(r)`` of the two utterances (and, if the
  head was trained with them, the 7 class probabilities of a probe of the reply's own emotion).
  A model that sees the preceding category can fall back on "keep the current emotion", the strong
  baseline of PELD. Its logits get a fixed *logit adjustment* ``-τ log π`` (π the training class
  frequencies, τ chosen on the valid split; Menon et al. 2021, "Long-tail learning via logit
  adjustment", ICLR) and a temperature (fitted on valid) for calibrated probabilities.

The head is an ensemble of K members trained with different seeds (every array has a leading
member axis): each member computes its own ΔVAD, P, VAD point and logits, and the category comes
from the members' mean logits. The NPC's new VAD point is the transition with the members' mean
ΔVAD and mean β (so each documented personality direction holds exactly, as for one model). The
weights are trained on PELD by ``training/emotion_state/train.py`` and stored as a plain ``.npz``
(loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emotion import EMOTIONS
from .context import EMBEDDING_DIM, data_path

__all__ = [
    "CONTEXT_FEATURES",
    "GAIN_TERMS",
    "HEAD_FILE",
    "HEAD_FORMAT",
    "Transition",
    "TransitionHead",
    "gelu",
    "personality_gain",
]

HEAD_FILE = "transition_head.peld.npz"
HEAD_FORMAT = "mien.emotion_state.head/2"
GAIN_TERMS: tuple[str, ...] = ("valence_negative", "valence_positive", "arousal", "dominance")
"""Order of the four learned gain strengths β in ``gain_beta``."""
CONTEXT_FEATURES: tuple[str, ...] = ("none", "appraisal", "appraisal+probe")
"""What the classifier sees besides the VAD point and the preceding category."""

_V, _A, _D = 0, 1, 2  # VAD axis indices (valence, arousal, dominance), as in mien.emotion.VAD_ANCHORS
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_N_CLASSES = len(EMOTIONS)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (Hendrycks & Gimpel 2016); training uses the same form."""
    return np.asarray(0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))))


def personality_gain(temperament: np.ndarray, delta: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """P for ΔVAD (..., 3) and β (..., 4) (order :data:`GAIN_TERMS`), broadcast over leading axes."""
    t = np.asarray(temperament, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    d = np.asarray(delta, dtype=np.float64)
    t_p, t_a, t_d = t[..., _V], t[..., _A], t[..., _D]
    g_neg = np.exp(b[..., 0] * (t_a - t_p) / 2.0)
    g_pos = np.exp(b[..., 1] * (t_p + t_d) / 2.0)
    g_v = np.where(d[..., _V] < 0.0, g_neg, g_pos)
    g_a = np.broadcast_to(np.exp(b[..., 2] * t_a), g_v.shape)
    g_d = np.broadcast_to(np.exp(b[..., 3] * t_d), g_v.shape)
    return np.stack([g_v, g_a, g_d], axis=-1)


@dataclass(frozen=True)
class Transition:
    """One transition: the mean over the ensemble members, and the selected category."""

    vad: np.ndarray
    """(3,) VAD_response = clip(preceding + P ⊙ ΔVAD) with the members' mean ΔVAD and P from their mean β."""
    delta: np.ndarray
    """(3,) ΔVAD from the context (before the gain), the mean over the members."""
    gain: np.ndarray
    """(3,) personality gain P for that ΔVAD and the members' mean β."""
    probabilities: np.ndarray
    """(7,) class probabilities in EMOTIONS order (adjusted and calibrated)."""

    @property
    def category(self) -> str:
        """The selected response category (the most probable class)."""
        return EMOTIONS[int(np.argmax(self.probabilities))]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return np.asarray(e / e.sum())


@dataclass(frozen=True)
class TransitionHead:
    """The trained head: context -> ΔVAD, personality gain, and the response classifier (K members)."""

    ctx_w: np.ndarray | None  # (K, 4*384, H); None for the no-context ablation
    ctx_b: np.ndarray | None  # (K, H)
    delta_w: np.ndarray | None  # (K, H, 3)
    delta_b: np.ndarray | None  # (K, 3)
    appraisal_w: np.ndarray | None  # (K, 384, 3) VAD probe of an utterance
    appraisal_b: np.ndarray | None  # (K, 3)
    appraisal_kappa: np.ndarray | None  # (K, 3) >= 0
    probe_w: np.ndarray | None  # (K, 384, 7) emotion probe of the reply (context "appraisal+probe")
    probe_b: np.ndarray | None  # (K, 7)
    delta_const: np.ndarray  # (K, 3) the constant ΔVAD of the no-context ablation (zeros otherwise)
    gain_beta: np.ndarray  # (K, 4) >= 0; zeros for the no-personality ablation
    clf_w1: np.ndarray  # (K, 3 + 7 + F, C)
    clf_b1: np.ndarray  # (K, C)
    clf_w2: np.ndarray  # (K, C, 7) in EMOTIONS order
    clf_b2: np.ndarray  # (K, 7)
    logit_adjust: np.ndarray  # (7,) added to the mean logits (-τ log π)
    temperature: float
    context_features: str
    meta: dict[str, object]

    @classmethod
    def load(cls, path: Path | None = None) -> TransitionHead:
        """Load a head ``.npz`` (and its ``.json`` metadata when present); never unpickles."""
        path = path if path is not None else data_path(HEAD_FILE)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
        fmt = str(arrays.pop("format")) if "format" in arrays else ""
        if fmt != HEAD_FORMAT:
            raise ValueError(f"{path}: not a {HEAD_FORMAT} file (format {fmt!r})")
        classes = tuple(str(c) for c in arrays.pop("classes"))
        if classes != EMOTIONS:
            raise ValueError(f"{path}: classes {classes} differ from mien.emotion.EMOTIONS {EMOTIONS}")
        context_features = str(arrays.pop("context_features"))
        if context_features not in CONTEXT_FEATURES:
            raise ValueError(f"{path}: context_features {context_features!r} not one of {CONTEXT_FEATURES}")
        meta_path = Path(str(path) + ".json")
        meta: dict[str, object] = json.loads(meta_path.read_text()) if meta_path.exists() else {}

        def f64(key: str) -> np.ndarray:
            return np.asarray(arrays[key], dtype=np.float64)

        def opt(key: str) -> np.ndarray | None:
            return f64(key) if key in arrays else None

        gain_beta = f64("gain_beta")
        members = gain_beta.shape[0] if gain_beta.ndim == 2 else 0
        head = cls(
            ctx_w=opt("ctx_w"),
            ctx_b=opt("ctx_b"),
            delta_w=opt("delta_w"),
            delta_b=opt("delta_b"),
            appraisal_w=opt("appraisal_w"),
            appraisal_b=opt("appraisal_b"),
            appraisal_kappa=opt("appraisal_kappa"),
            probe_w=opt("probe_w"),
            probe_b=opt("probe_b"),
            delta_const=f64("delta_const") if "delta_const" in arrays else np.zeros((max(members, 1), 3)),
            gain_beta=gain_beta,
            clf_w1=f64("clf_w1"),
            clf_b1=f64("clf_b1"),
            clf_w2=f64("clf_w2"),
            clf_b2=f64("clf_b2"),
            logit_adjust=f64("logit_adjust"),
            temperature=float(f64("temperature")),
            context_features=context_features,
            meta=meta,
        )
        head._validate(path, members)
        _ = head._flat  # built now, not on the first request
        return head

    def _validate(self, path: Path, members: int) -> None:
        problems = []
        if members < 1 or self.gain_beta.shape != (members, len(GAIN_TERMS)) or (self.gain_beta < 0).any():
            problems.append(f"gain_beta must be (K, {len(GAIN_TERMS)}) non-negative numbers")
        uses_context = self.ctx_w is not None
        if uses_context != (self.context_features != "none"):
            problems.append("context weights and context_features disagree")
        if uses_context:
            for name in ("ctx_b", "delta_w", "delta_b", "appraisal_w", "appraisal_b", "appraisal_kappa"):
                value = getattr(self, name)
                if value is None or value.shape[0] != members:
                    problems.append(f"{name} missing or not {members} members")
            assert self.ctx_w is not None
            if self.ctx_w.shape[:2] != (members, 4 * EMBEDDING_DIM):
                problems.append(f"ctx_w must be ({members}, {4 * EMBEDDING_DIM}, H), got {self.ctx_w.shape}")
            if self.appraisal_kappa is not None and (self.appraisal_kappa < 0).any():
                problems.append("appraisal_kappa must be non-negative")
        if (self.context_features == "appraisal+probe") != (self.probe_w is not None and self.probe_b is not None):
            problems.append("probe weights and context_features disagree")
        if self.clf_w1.shape[:2] != (members, 3 + _N_CLASSES + self.n_context_features):
            problems.append(f"clf_w1 must be ({members}, {3 + _N_CLASSES + self.n_context_features}, C)")
        if self.clf_w2.shape[0] != members or self.clf_w2.shape[2] != _N_CLASSES:
            problems.append(f"clf_w2 must be ({members}, C, {_N_CLASSES})")
        if self.logit_adjust.shape != (_N_CLASSES,) or not math.isfinite(self.temperature) or self.temperature <= 0:
            problems.append("logit_adjust must have 7 values and temperature must be > 0")
        if problems:
            raise ValueError(f"{path}: " + "; ".join(problems))

    @functools.cached_property
    def _flat(self) -> dict[str, np.ndarray]:
        """(D, K*W) float32 copies of the (K, D, W) input projections: one product per input, and half
        the memory traffic of float64 (the 5-member context layer is 3.9 MB in float32)."""
        out: dict[str, np.ndarray] = {}
        for name in ("ctx_w", "appraisal_w", "probe_w"):
            w = getattr(self, name)
            if w is not None:
                out[name] = np.ascontiguousarray(w.transpose(1, 0, 2).reshape(w.shape[1], -1), dtype=np.float32)
        return out

    @property
    def members(self) -> int:
        """Number of ensemble members K."""
        return int(self.gain_beta.shape[0])

    @property
    def uses_context(self) -> bool:
        """False for the no-context ablation head (it never needs the text)."""
        return self.ctx_w is not None

    @property
    def n_context_features(self) -> int:
        """Width of the classifier's context-feature input."""
        return {"none": 0, "appraisal": 6, "appraisal+probe": 6 + _N_CLASSES}[self.context_features]

    def _context(self, emb_self: np.ndarray, emb_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per member: ΔVAD (K, 3) and the classifier's context features (K, F)."""
        k = self.members
        if (
            self.ctx_w is None
            or self.ctx_b is None
            or self.delta_w is None
            or self.delta_b is None
            or self.appraisal_w is None
            or self.appraisal_b is None
            or self.appraisal_kappa is None
        ):
            return self.delta_const.copy(), np.zeros((k, 0))
        u = np.asarray(emb_self, dtype=np.float64)
        r = np.asarray(emb_other, dtype=np.float64)
        x = np.concatenate([u, r, u * r, np.abs(u - r)]).astype(np.float32)
        ur = np.stack([u, r]).astype(np.float32)
        # One product each for all members (the member axis folded into the columns). np.einsum, not
        # `@`: `@` calls the multi-threaded BLAS, whose threads, started from many request threads at
        # once, contend for 2 cores (measured: 8 -> 14.5 ms CPU per update, p50 16 -> 300 ms).
        flat = self._flat
        h = gelu(np.einsum("i,ij->j", x, flat["ctx_w"]).reshape(k, -1).astype(np.float64) + self.ctx_b)  # (K, H)
        appraisals = np.einsum("ni,ij->nj", ur, flat["appraisal_w"]).reshape(2, k, 3).astype(np.float64)
        appraisals = np.tanh(appraisals + self.appraisal_b)
        delta = 2.0 * np.tanh(np.einsum("kh,khj->kj", h, self.delta_w) + self.delta_b)
        delta = delta + self.appraisal_kappa * appraisals[1]
        feats = [appraisals[0], appraisals[1]]
        if self.probe_w is not None and self.probe_b is not None:
            z = np.einsum("i,ij->j", ur[1], flat["probe_w"]).reshape(k, -1).astype(np.float64) + self.probe_b
            z = np.exp(z - z.max(axis=1, keepdims=True))
            feats.append(z / z.sum(axis=1, keepdims=True))
        return delta, np.concatenate(feats, axis=1)

    def transition(
        self,
        emb_self: np.ndarray | None,
        emb_other: np.ndarray | None,
        preceding_vad: np.ndarray,
        preceding_category: str,
        temperament: np.ndarray,
    ) -> Transition:
        """The response to the other party's reply ``emb_other`` after the NPC's line ``emb_self``.

        ``preceding_vad``/``preceding_category`` are the NPC's emotion before the reply, and
        ``temperament`` its Mehrabian PAD. The embeddings may be None for a no-context head.
        """
        if self.uses_context:
            if emb_self is None or emb_other is None:
                raise ValueError("this head needs the embeddings of both utterances")
            delta, feats = self._context(emb_self, emb_other)
        else:
            delta, feats = self.delta_const.copy(), np.zeros((self.members, 0))
        gain = personality_gain(np.asarray(temperament, dtype=np.float64)[None, :], delta, self.gain_beta)
        prev = np.asarray(preceding_vad, dtype=np.float64)
        vad = np.clip(prev[None, :] + gain * delta, -1.0, 1.0)
        onehot = np.zeros((self.members, _N_CLASSES))
        onehot[:, EMOTIONS.index(preceding_category)] = 1.0
        z = np.concatenate([vad, onehot, feats], axis=1)
        hidden = gelu(np.einsum("ki,kic->kc", z, self.clf_w1) + self.clf_b1)
        logits = np.einsum("kc,kcj->kj", hidden, self.clf_w2) + self.clf_b2
        adjusted = logits.mean(axis=0) + self.logit_adjust
        # The NPC's point: the transition with the members' mean ΔVAD and mean β, so the documented
        # personality directions hold exactly (one ΔVAD, one monotone gain), whatever the members.
        mean_delta = delta.mean(axis=0)
        t = np.asarray(temperament, dtype=np.float64)
        mean_gain = personality_gain(t, mean_delta, self.gain_beta.mean(axis=0))
        return Transition(
            vad=np.clip(prev + mean_gain * mean_delta, -1.0, 1.0),
            delta=mean_delta,
            gain=mean_gain,
            probabilities=_softmax(adjusted / self.temperature),
        )
