"""Train the transition head on PELD (train split), selecting everything on the valid split.

Usage (from the repository root; ~15-25 min on 2 shared CPU cores, plus ~2 min once to embed PELD)::

    PYTHONPATH=sidecar python -m training.emotion_state.train \\
        --peld ../shared/emotion_data/peld --out sidecar/mien/data/emotion_state

Model (see ``mien/emotion_state/transition.py`` for the formulas): frozen MiniLM embeddings (of the
shipped int8 encoder) of utterance 1 (the NPC's line) and utterance 2 (the other party's reply) ->
ΔVAD (a context MLP plus an appraisal term: a linear VAD probe of the reply, supervised with the
utterances' own emotion labels E1/E2, scaled by a learned non-negative κ); personality gain from the
Mehrabian temperament with four learned non-negative strengths; ``VAD = clip(VAD(E1) + P ⊙ ΔVAD)``;
an MLP classifies ``[VAD, one-hot(E1), context features]`` into the 7 categories (context features:
the appraisals of both utterances, optionally the class probabilities of a probe of the reply's own
emotion E2). Loss: class-weighted cross entropy (weights ``(N / n_c)^p``, normalised to mean 1) +
``λ`` · MSE between the VAD point and the Russell-Mehrabian anchor of the true response emotion
(keeps the VAD point meaningful) + ``μ`` · MSE of the appraisal probe against the anchors of E1
(utterance 1) and E2 (utterance 2) + ``ν`` · mean squared context term (keeps the free context MLP
small, so ΔVAD follows what was said) [+ the E2 probe's cross entropy].

Protocol (the test split is never read here; ``evaluate.py`` reports it once):

* every configuration trains an ensemble of ``seeds`` members (seeds SEED, SEED+1, ...); the
  ensemble's logits are the mean of the members' logits;
* the selection score is the mean of macro-F1 and weighted-F1 on **valid** (the goal asks for both
  F1s to beat copy-previous; macro-F1 alone picked ensembles whose weighted-F1 merely tied it);
* for each configuration, the number of epochs and the logit adjustment τ (logits - τ log π, π the
  train class frequencies) with the best valid selection score of the ensemble are kept (ties:
  smaller |τ|, then fewer epochs);
* the configuration (grid :data:`GRID`) with the best valid selection score wins;
* a temperature is fitted on valid (negative log-likelihood; it does not change any prediction);
* the two ablations (no personality: P = 1; no context: ΔVAD a learned constant and no context
  features) are trained with the winning configuration and the same epoch/τ selection, and are
  written to ``--work`` (not shipped).

Everything is seeded and single-threaded, so the same command produces the same weights on the
same machine and library versions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mien.emotion import EMOTIONS, VAD_ANCHORS
from mien.emotion_state.temperament import temperament_pad_batch
from mien.emotion_state.transition import GAIN_TERMS, HEAD_FILE, HEAD_FORMAT, TransitionHead

from .metrics import scores
from .peld import PeldData, default_cache_dir, load_peld

__all__ = ["GRID", "TAUS", "VARIANTS", "Ensemble", "HParams", "main", "selection_score", "train_ensemble"]

VARIANTS: tuple[str, ...] = ("full", "no_personality", "no_context")
GRID: tuple[dict[str, Any], ...] = (
    {"class_weight_power": 0.5, "context_features": "appraisal"},
    {"class_weight_power": 1.0, "context_features": "appraisal"},
    {"class_weight_power": 0.5, "context_features": "appraisal+probe"},
    {"class_weight_power": 1.0, "context_features": "appraisal+probe"},
)
"""Configurations tried for the full model; the best valid selection score wins."""
TAUS: tuple[float, ...] = (-0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
"""Logit-adjustment strengths tried on valid."""
TEMPERATURES: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(51))
SEED = 20210801
N_CLASSES = len(EMOTIONS)


@dataclass(frozen=True)
class HParams:
    """Training hyper-parameters (the grid varies ``class_weight_power`` and ``context_features``)."""

    hidden: int = 128
    dropout: float = 0.5
    clf_hidden: int = 32
    epochs: int = 20
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    vad_loss_weight: float = 0.5
    appraisal_loss_weight: float = 1.0
    probe_loss_weight: float = 0.5
    context_l2: float = 1.0
    class_weight_power: float = 0.5
    context_features: str = "appraisal"
    seeds: int = 5


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)


def _build(variant: str, hp: HParams) -> tuple[Any, Any]:
    import torch
    from torch import nn

    anchors = torch.tensor([VAD_ANCHORS[e] for e in EMOTIONS], dtype=torch.float32)
    dim = 384
    neg, pos = GAIN_TERMS.index("valence_negative"), GAIN_TERMS.index("valence_positive")
    aro, dom = GAIN_TERMS.index("arousal"), GAIN_TERMS.index("dominance")
    v_axis, a_axis, d_axis = 0, 1, 2  # VAD order of mien.emotion.VAD_ANCHORS
    features = "none" if variant == "no_context" else hp.context_features
    n_feats = {"none": 0, "appraisal": 6, "appraisal+probe": 6 + N_CLASSES}[features]

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = features
            self.ctx = nn.Linear(4 * dim, hp.hidden)
            self.delta = nn.Linear(hp.hidden, 3)
            self.delta_const = nn.Parameter(torch.zeros(3))
            self.appraisal = nn.Linear(dim, 3)
            self.probe = nn.Linear(dim, N_CLASSES)
            self.kappa_raw = nn.Parameter(torch.zeros(3))
            self.beta_raw = nn.Parameter(torch.zeros(len(GAIN_TERMS)))
            self.clf1 = nn.Linear(3 + N_CLASSES + n_feats, hp.clf_hidden)
            self.clf2 = nn.Linear(hp.clf_hidden, N_CLASSES)
            self.drop = nn.Dropout(hp.dropout)
            self.context_delta = torch.zeros(0)

        def beta(self) -> torch.Tensor:
            return nn.functional.softplus(self.beta_raw)

        def kappa(self) -> torch.Tensor:
            return nn.functional.softplus(self.kappa_raw)

        def appraise(self, emb: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.appraisal(emb))

        def forward(self, b: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            prev = anchors[b["e1"]]
            n = prev.shape[0]
            if variant == "no_context":
                delta = (2.0 * torch.tanh(self.delta_const)).expand(n, 3)
                feats = torch.zeros(n, 0)
            else:
                u, r = b["u"], b["r"]
                x = self.drop(torch.cat([u, r, u * r, (u - r).abs()], dim=1))
                h = self.drop(nn.functional.gelu(self.ctx(x), approximate="tanh"))
                self.context_delta = 2.0 * torch.tanh(self.delta(h))
                appraise_u, appraise_r = self.appraise(u), self.appraise(r)
                delta = self.context_delta + self.kappa() * appraise_r
                parts = [appraise_u, appraise_r]
                if features == "appraisal+probe":
                    parts.append(torch.softmax(self.probe(r), dim=1))
                feats = torch.cat(parts, dim=1)
            if variant == "no_personality":
                gain = torch.ones_like(delta)
            else:
                t, beta = b["t"], self.beta()
                g_neg = torch.exp(beta[neg] * (t[:, a_axis] - t[:, v_axis]) / 2.0)
                g_pos = torch.exp(beta[pos] * (t[:, v_axis] + t[:, d_axis]) / 2.0)
                g_v = torch.where(delta[:, v_axis] < 0, g_neg, g_pos)
                gain = torch.stack([g_v, torch.exp(beta[aro] * t[:, a_axis]), torch.exp(beta[dom] * t[:, d_axis])], 1)
            vad = torch.clamp(prev + gain * delta, -1.0, 1.0)
            onehot = nn.functional.one_hot(b["e1"], N_CLASSES).float()
            z = torch.cat([vad, onehot, feats], dim=1)
            logits = self.clf2(nn.functional.gelu(self.clf1(z), approximate="tanh"))
            return vad, logits

    return Head(), anchors


def _tensors(d: PeldData) -> dict[str, Any]:
    import torch

    return {
        "u": torch.tensor(d.emb_1, dtype=torch.float32),
        "r": torch.tensor(d.emb_2, dtype=torch.float32),
        "t": torch.tensor(temperament_pad_batch(d.ocean), dtype=torch.float32),
        "e1": torch.tensor(d.emotion_1, dtype=torch.int64),
        "e2": torch.tensor(d.emotion_2, dtype=torch.int64),
        "y": torch.tensor(d.emotion_3, dtype=torch.int64),
    }


def _train_member(
    variant: str, tr: Mapping[str, Any], va: Mapping[str, Any], hp: HParams, seed: int
) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
    """One member: (valid logits after each epoch, npz arrays after each epoch)."""
    import torch
    from torch.nn import functional as F

    _seed_everything(seed)
    model, anchors = _build(variant, hp)
    y_tr = tr["y"]
    counts = torch.bincount(y_tr, minlength=N_CLASSES).float()
    weights = (counts.sum() / counts.clamp(min=1.0)) ** hp.class_weight_power
    weights = weights / weights.mean()
    opt = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = int(y_tr.shape[0])
    logits_per_epoch: list[np.ndarray] = []
    arrays_per_epoch: list[dict[str, np.ndarray]] = []
    for _ in range(hp.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, hp.batch):
            idx = perm[start : start + hp.batch]
            batch = {k: v[idx] for k, v in tr.items()}
            vad, logits = model(batch)
            loss = F.cross_entropy(logits, batch["y"], weight=weights)
            loss = loss + hp.vad_loss_weight * F.mse_loss(vad, anchors[batch["y"]])
            if variant != "no_context":
                # The appraisal probe reads an utterance's own emotion (E1 of utterance 1, E2 of 2).
                loss = loss + hp.appraisal_loss_weight * (
                    F.mse_loss(model.appraise(batch["u"]), anchors[batch["e1"]])
                    + F.mse_loss(model.appraise(batch["r"]), anchors[batch["e2"]])
                )
                # Keep the free context term small so the appraisal carries what was said.
                loss = loss + hp.context_l2 * (model.context_delta**2).mean()
                if model.features == "appraisal+probe":
                    loss = loss + hp.probe_loss_weight * F.cross_entropy(model.probe(batch["r"]), batch["e2"])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            _, logits = model(va)
        logits_per_epoch.append(logits.numpy().astype(np.float64))
        arrays_per_epoch.append(_member_arrays(model, variant))
    return logits_per_epoch, arrays_per_epoch


def _member_arrays(model: Any, variant: str) -> dict[str, np.ndarray]:
    """One member's weights in the runtime layout (x @ W, float32)."""
    import torch

    with torch.no_grad():

        def w(layer: torch.nn.Linear) -> np.ndarray:
            return layer.weight.detach().numpy().T.astype(np.float32).copy()

        def b(layer: torch.nn.Linear) -> np.ndarray:
            return layer.bias.detach().numpy().astype(np.float32).copy()

        arrays: dict[str, np.ndarray] = {
            "clf_w1": w(model.clf1),
            "clf_b1": b(model.clf1),
            "clf_w2": w(model.clf2),
            "clf_b2": b(model.clf2),
            "gain_beta": (
                np.zeros(len(GAIN_TERMS), dtype=np.float32)
                if variant == "no_personality"
                else model.beta().detach().numpy().astype(np.float32)
            ),
        }
        if variant == "no_context":
            arrays["delta_const"] = (2.0 * torch.tanh(model.delta_const)).numpy().astype(np.float32)
        else:
            arrays.update(
                ctx_w=w(model.ctx),
                ctx_b=b(model.ctx),
                delta_w=w(model.delta),
                delta_b=b(model.delta),
                appraisal_w=w(model.appraisal),
                appraisal_b=b(model.appraisal),
                appraisal_kappa=model.kappa().detach().numpy().astype(np.float32),
            )
            if model.features == "appraisal+probe":
                arrays.update(probe_w=w(model.probe), probe_b=b(model.probe))
    return arrays


def selection_score(sc: Mapping[str, float]) -> float:
    """What the valid split is maximised for: the mean of macro-F1 and weighted-F1."""
    return 0.5 * (sc["macro_f1"] + sc["weighted_f1"])


def log_prior(train: PeldData) -> np.ndarray:
    """log π of the train split's response classes (each class counted at least once)."""
    counts = np.bincount(train.emotion_3, minlength=N_CLASSES).astype(np.float64)
    counts = np.maximum(counts, 1.0)
    return np.asarray(np.log(counts / counts.sum()))


@dataclass
class Ensemble:
    """A trained ensemble with its selected epoch count and logit adjustment."""

    variant: str
    hp: HParams
    epochs: int
    tau: float
    valid: dict[str, float]
    valid_logits: np.ndarray  # (n_valid, 7) mean member logits, before the adjustment
    arrays: dict[str, np.ndarray]


def train_ensemble(variant: str, train: PeldData, valid: PeldData, hp: HParams) -> Ensemble:
    """Train ``hp.seeds`` members; select epochs and τ on valid (the ensemble's selection score)."""
    tr, va = _tensors(train), _tensors(valid)
    members = [_train_member(variant, tr, va, hp, SEED + k) for k in range(hp.seeds)]
    prior = log_prior(train)
    best: tuple[float, float, int] = (-1.0, 0.0, 0)
    for epoch in range(hp.epochs):
        mean_logits = np.mean([m[0][epoch] for m in members], axis=0)
        for tau in sorted(TAUS, key=abs):
            sc = selection_score(scores(valid.emotion_3, (mean_logits - tau * prior).argmax(1)))
            if sc > best[0] + 1e-12:
                best = (sc, tau, epoch)
    _, tau, epoch = best
    mean_logits = np.mean([m[0][epoch] for m in members], axis=0)
    valid_scores = scores(valid.emotion_3, (mean_logits - tau * prior).argmax(1))
    stacked = {key: np.stack([m[1][epoch][key] for m in members]) for key in members[0][1][epoch]}
    return Ensemble(variant, hp, epoch + 1, tau, valid_scores, mean_logits, stacked)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature (grid :data:`TEMPERATURES`) minimising the negative log-likelihood of ``y``."""
    best = (np.inf, 1.0)
    for t in TEMPERATURES:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())
        if nll < best[0]:
            best = (nll, t)
    return best[1]


def _arrays_for_file(ens: Ensemble, train: PeldData, valid: PeldData) -> tuple[dict[str, np.ndarray], float]:
    adjust = (-ens.tau * log_prior(train)).astype(np.float32)
    temperature = fit_temperature(ens.valid_logits + adjust, valid.emotion_3)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(HEAD_FORMAT),
        "classes": np.array(EMOTIONS),
        "context_features": np.array("none" if ens.variant == "no_context" else ens.hp.context_features),
        "logit_adjust": adjust,
        "temperature": np.array(temperature, dtype=np.float32),
        **ens.arrays,
    }
    return arrays, temperature


def _save(arrays: Mapping[str, np.ndarray], path: Path, meta: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    savez: Any = np.savez_compressed  # numpy's stub types **kwds as allow_pickle's bool
    with open(path, "wb") as fh:
        savez(fh, **arrays)
    full = dict(meta)
    full["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    full["bytes"] = path.stat().st_size
    Path(str(path) + ".json").write_text(json.dumps(full, indent=2) + "\n")


RUNTIME_TOLERANCE = 0.005
"""Largest macro-F1 gap on valid allowed between the torch ensemble and the shipped numpy runtime."""


def runtime_valid_scores(path: Path, data: PeldData) -> dict[str, object]:
    """Valid scores of the head at ``path`` through the sidecar's own code (shipped int8 encoder on this
    machine's ONNX Runtime kernels + the numpy head), with what they depend on.

    This, not the torch figure, is what ``tests/emotion_state/test_peld_eval.py`` reproduces: int8
    kernels differ between CPUs (e.g. AVX2 vs AVX-512 VNNI), so the embeddings the torch ensemble was
    selected on need not be bit-identical to the ones the runtime computes elsewhere.
    """
    import onnxruntime

    from mien.emotion_state.context import ENCODER_FILE, data_path

    from .metrics import predict_with_head

    sc = scores(data.emotion_3, predict_with_head(TransitionHead.load(path), data))
    return {
        **sc,
        "encoder_sha256": hashlib.sha256(data_path(ENCODER_FILE).read_bytes()).hexdigest(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def _runtime_check(runtime: Mapping[str, object], expect: Mapping[str, float]) -> None:
    """The numpy runtime must reproduce the torch ensemble's valid scores (within RUNTIME_TOLERANCE)."""
    macro = runtime["macro_f1"]
    assert isinstance(macro, float)
    if abs(macro - expect["macro_f1"]) > RUNTIME_TOLERANCE:
        raise RuntimeError(f"numpy runtime disagrees with torch on valid: {runtime} vs {expect}")


def rerecord_runtime(head: Path, valid: PeldData) -> dict[str, object]:
    """Recompute ``runtime_valid_scores`` of an existing head and write them into its ``.json`` (weights,
    torch ``valid_scores`` and everything else unchanged). For a new encoder, ONNX Runtime or numpy."""
    meta_path = Path(str(head) + ".json")
    meta = json.loads(meta_path.read_text())
    if meta.get("sha256") != hashlib.sha256(head.read_bytes()).hexdigest():
        raise RuntimeError(f"{meta_path}: sha256 does not match {head}; retrain instead of re-recording")
    meta["runtime_valid_scores"] = runtime_valid_scores(head, valid)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta["runtime_valid_scores"]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peld", type=Path, default=Path("../shared/emotion_data/peld"))
    ap.add_argument("--out", type=Path, default=Path("sidecar/mien/data/emotion_state"))
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (default ~/.cache/mien/...)")
    ap.add_argument("--work", type=Path, default=None, help="where ablation heads go (default: cache dir)")
    ap.add_argument("--rerecord-runtime", action="store_true",
                    help="no training: recompute the shipped head's runtime_valid_scores in its .json")
    args = ap.parse_args(argv)
    cache = args.cache if args.cache is not None else default_cache_dir()
    work = args.work if args.work is not None else cache
    data = load_peld(args.peld, cache)
    train, valid = data["train"], data["valid"]
    if args.rerecord_runtime:
        print(json.dumps(rerecord_runtime(args.out / HEAD_FILE, valid), indent=2))
        return

    grid_log: list[dict[str, object]] = []
    best: Ensemble | None = None
    for point in GRID:
        ens = train_ensemble("full", train, valid, replace(HParams(), **point))
        grid_log.append({**point, "epochs": ens.epochs, "tau": ens.tau, "valid": ens.valid})
        print(f"grid {point}: valid {ens.valid} (epochs {ens.epochs}, tau {ens.tau})", flush=True)
        if best is None or selection_score(ens.valid) > selection_score(best.valid):
            best = ens
    assert best is not None
    results: dict[str, object] = {}
    for variant in VARIANTS:
        ens = best if variant == "full" else train_ensemble(variant, train, valid, best.hp)
        print(f"{variant}: valid {ens.valid} (epochs {ens.epochs}, tau {ens.tau})", flush=True)
        arrays, temperature = _arrays_for_file(ens, train, valid)
        path = args.out / HEAD_FILE if variant == "full" else work / f"transition_head.{variant}.npz"
        meta = {
            "name": "Mien emotion transition head (context -> ΔVAD, personality gain, response classifier)",
            "format": HEAD_FORMAT,
            "version": "2",
            "variant": variant,
            "members": ens.hp.seeds,
            "inputs": {
                "emb_self": "float32 [384] MiniLM embedding of the NPC's last utterance",
                "emb_other": "float32 [384] MiniLM embedding of the other party's reply",
                "preceding_vad": "float [3] valence, arousal, dominance in [-1, 1]",
                "preceding_category": f"one of {list(EMOTIONS)}",
                "temperament": "float [3] Mehrabian PAD from OCEAN",
            },
            "outputs": {"vad": "float [3]", "probabilities": f"float [7] in order {list(EMOTIONS)}"},
            "hyperparameters": asdict(ens.hp),
            "selected_epochs": ens.epochs,
            "logit_adjustment_tau": ens.tau,
            "selection": "valid split, mean of macro-F1 and weighted-F1 (epochs, tau, configuration)",
            "temperature": temperature,
            "seeds": [SEED + k for k in range(ens.hp.seeds)],
            "valid_scores": ens.valid,
            "grid": grid_log if variant == "full" else "the full model's winning configuration",
            "gain_beta_mean": dict(
                zip(GAIN_TERMS, (round(float(x), 6) for x in arrays["gain_beta"].mean(axis=0)), strict=True)
            ),
            "training_data": "PELD (Wen et al. 2021) train split of peld_labels_only.csv, 5,275 triples; "
            "selection on its valid split (585); research-only data, see MODEL_CARD.md",
            "licence": "weights: research and evaluation use only (trained on PELD, which has no licence); "
            "see MODEL_CARD.md",
        }
        _save(arrays, path, meta)
        runtime = rerecord_runtime(path, valid)
        _runtime_check(runtime, ens.valid)
        results[variant] = {"valid": ens.valid, "epochs": ens.epochs, "tau": ens.tau, "path": str(path)}
    print(json.dumps({"hyperparameters": asdict(best.hp), "results": results}, indent=2))


if __name__ == "__main__":
    main()
