"""Train the transition head on PELD (train split), selecting hyper-parameters on the valid split.

Usage (from the repository root; ~5 min on 2 CPU cores, plus ~5 min once to embed PELD)::

    PYTHONPATH=sidecar python -m training.emotion_state.train \\
        --peld ../shared/emotion_data/peld --out sidecar/mien/data/emotion_state

Model (see ``mien/emotion_state/transition.py`` for the formulas): frozen MiniLM embeddings of
utterance 1 (the NPC's line) and utterance 2 (the other party's reply) -> ΔVAD (a context MLP plus
an appraisal term: a linear VAD probe of the reply, supervised with the utterances' own emotion
labels E1/E2, scaled by a learned non-negative κ); personality gain
from the Mehrabian temperament with four learned non-negative strengths; ``VAD = clip(VAD(E1) + P ⊙
ΔVAD)``; a small MLP classifies the VAD point into the 7 categories. Loss: class-weighted cross
entropy (weights ``(N / n_c)^0.5``, normalised to mean 1) + ``λ`` · MSE between the VAD point and the
Russell-Mehrabian anchor of the true response emotion, which keeps the VAD point meaningful.

Selection: for each grid point the epoch with the best valid macro-F1 is kept; the grid point
with the best valid macro-F1 wins. The test split is never read here (``evaluate.py`` reports it).
The two ablations (no personality: P = 1; no context: ΔVAD a learned constant) are trained with
the same procedure and written to ``--work`` (not shipped).

Everything is seeded and single-threaded, so the same command produces the same weights on the
same machine and library versions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mien.emotion import EMOTIONS, VAD_ANCHORS
from mien.emotion_state.temperament import temperament_pad_batch
from mien.emotion_state.transition import GAIN_TERMS, HEAD_FILE, HEAD_FORMAT, TransitionHead

from .metrics import scores
from .peld import PeldData, default_cache_dir, load_peld

__all__ = ["VARIANTS", "HParams", "main", "train_variant"]

VARIANTS: tuple[str, ...] = ("full", "no_personality", "no_context")
GRID: tuple[tuple[int, float], ...] = ((128, 0.5), (128, 2.0), (256, 0.5), (256, 2.0))
"""(hidden, vad_loss_weight) pairs tried; the best valid macro-F1 wins."""
SEED = 20210801


@dataclass(frozen=True)
class HParams:
    """Training hyper-parameters (the grid varies ``hidden`` and ``vad_loss_weight``)."""

    hidden: int = 128
    dropout: float = 0.5
    clf_hidden: int = 32
    epochs: int = 40
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    vad_loss_weight: float = 0.5
    appraisal_loss_weight: float = 1.0
    class_weight_power: float = 0.5


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

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ctx = nn.Linear(4 * dim, hp.hidden)
            self.delta = nn.Linear(hp.hidden, 3)
            self.delta_const = nn.Parameter(torch.zeros(3))
            self.appraisal = nn.Linear(dim, 3)
            self.kappa_raw = nn.Parameter(torch.zeros(3))
            self.beta_raw = nn.Parameter(torch.zeros(len(GAIN_TERMS)))
            self.clf1 = nn.Linear(3, hp.clf_hidden)
            self.clf2 = nn.Linear(hp.clf_hidden, len(EMOTIONS))
            self.drop = nn.Dropout(hp.dropout)

        def beta(self) -> torch.Tensor:
            return nn.functional.softplus(self.beta_raw)

        def kappa(self) -> torch.Tensor:
            return nn.functional.softplus(self.kappa_raw)

        def appraise(self, emb: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.appraisal(emb))

        def forward(self, b: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            prev = anchors[b["e1"]]
            if variant == "no_context":
                delta = (2.0 * torch.tanh(self.delta_const)).expand(prev.shape[0], 3)
            else:
                u, r = b["u"], b["r"]
                x = self.drop(torch.cat([u, r, u * r, (u - r).abs()], dim=1))
                h = self.drop(nn.functional.gelu(self.ctx(x), approximate="tanh"))
                delta = 2.0 * torch.tanh(self.delta(h)) + self.kappa() * self.appraise(r)
            if variant == "no_personality":
                gain = torch.ones_like(delta)
            else:
                t, beta = b["t"], self.beta()
                g_neg = torch.exp(beta[neg] * (t[:, a_axis] - t[:, v_axis]) / 2.0)
                g_pos = torch.exp(beta[pos] * (t[:, v_axis] + t[:, d_axis]) / 2.0)
                g_v = torch.where(delta[:, v_axis] < 0, g_neg, g_pos)
                gain = torch.stack([g_v, torch.exp(beta[aro] * t[:, a_axis]), torch.exp(beta[dom] * t[:, d_axis])], 1)
            vad = torch.clamp(prev + gain * delta, -1.0, 1.0)
            logits = self.clf2(nn.functional.gelu(self.clf1(vad), approximate="tanh"))
            return vad, logits

    return Head(), anchors


def _tensors(d: PeldData) -> dict[str, object]:
    import torch

    return {
        "u": torch.tensor(d.emb_1, dtype=torch.float32),
        "r": torch.tensor(d.emb_2, dtype=torch.float32),
        "t": torch.tensor(temperament_pad_batch(d.ocean), dtype=torch.float32),
        "e1": torch.tensor(d.emotion_1, dtype=torch.int64),
        "e2": torch.tensor(d.emotion_2, dtype=torch.int64),
        "y": torch.tensor(d.emotion_3, dtype=torch.int64),
    }


def train_variant(
    variant: str, train: PeldData, valid: PeldData, hp: HParams, seed: int = SEED
) -> tuple[dict[str, np.ndarray], dict[str, float], int]:
    """Train one variant; return (npz arrays of the best valid epoch, its valid scores, the epoch)."""
    import torch
    from torch.nn import functional as F

    _seed_everything(seed)
    model, anchors = _build(variant, hp)
    tr, va = _tensors(train), _tensors(valid)
    y_tr = tr["y"]
    assert isinstance(y_tr, torch.Tensor)
    counts = torch.bincount(y_tr, minlength=len(EMOTIONS)).float()
    weights = (counts.sum() / counts.clamp(min=1.0)) ** hp.class_weight_power
    weights = weights / weights.mean()
    opt = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = int(y_tr.shape[0])
    best: tuple[float, int, dict[str, float], dict[str, torch.Tensor]] = (-1.0, -1, {}, {})
    for epoch in range(hp.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, hp.batch):
            idx = perm[start : start + hp.batch]
            batch = {k: v[idx] for k, v in tr.items() if isinstance(v, torch.Tensor)}
            vad, logits = model(batch)
            loss = F.cross_entropy(logits, batch["y"], weight=weights)
            loss = loss + hp.vad_loss_weight * F.mse_loss(vad, anchors[batch["y"]])
            if variant != "no_context":
                # The appraisal probe reads an utterance's own emotion (E1 of utterance 1, E2 of 2).
                loss = loss + hp.appraisal_loss_weight * (
                    F.mse_loss(model.appraise(batch["u"]), anchors[batch["e1"]])
                    + F.mse_loss(model.appraise(batch["r"]), anchors[batch["e2"]])
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            _, logits = model(va)
        y_va = va["y"]
        assert isinstance(y_va, torch.Tensor)
        sc = scores(y_va.numpy(), logits.argmax(1).numpy())
        if sc["macro_f1"] > best[0]:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best = (sc["macro_f1"], epoch, sc, state)
    model.load_state_dict(best[3])
    arrays = _to_npz(model, variant)
    return arrays, best[2], best[1]


def _to_npz(model: Any, variant: str) -> dict[str, np.ndarray]:
    """The head's weights in the runtime layout (x @ W, float32)."""
    import torch

    with torch.no_grad():
        def w(layer: torch.nn.Linear) -> np.ndarray:
            return layer.weight.detach().numpy().T.astype(np.float32).copy()

        def b(layer: torch.nn.Linear) -> np.ndarray:
            return layer.bias.detach().numpy().astype(np.float32).copy()

        arrays: dict[str, np.ndarray] = {
            "format": np.array(HEAD_FORMAT),
            "classes": np.array(EMOTIONS),
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
                ctx_w=w(model.ctx), ctx_b=b(model.ctx), delta_w=w(model.delta), delta_b=b(model.delta),
                appraisal_w=w(model.appraisal), appraisal_b=b(model.appraisal),
                appraisal_kappa=model.kappa().detach().numpy().astype(np.float32),
            )
    return arrays


def _save(arrays: Mapping[str, np.ndarray], path: Path, meta: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    savez: Any = np.savez_compressed  # numpy's stub types **kwds as allow_pickle's bool
    with open(path, "wb") as fh:
        savez(fh, **arrays)
    full = dict(meta)
    full["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    full["bytes"] = path.stat().st_size
    Path(str(path) + ".json").write_text(json.dumps(full, indent=2) + "\n")


def _runtime_check(path: Path, data: PeldData, expect: Mapping[str, float]) -> None:
    """The numpy runtime must reproduce the torch head's valid scores."""
    from .metrics import predict_with_head

    head = TransitionHead.load(path)
    sc = scores(data.emotion_3, predict_with_head(head, data))
    if abs(sc["macro_f1"] - expect["macro_f1"]) > 0.01:
        raise RuntimeError(f"numpy runtime disagrees with torch on valid: {sc} vs {expect}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peld", type=Path, default=Path("../shared/emotion_data/peld"))
    ap.add_argument("--out", type=Path, default=Path("sidecar/mien/data/emotion_state"))
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (default ~/.cache/mien/...)")
    ap.add_argument("--work", type=Path, default=None, help="where ablation heads go (default: cache dir)")
    args = ap.parse_args(argv)
    cache = args.cache if args.cache is not None else default_cache_dir()
    work = args.work if args.work is not None else cache
    data = load_peld(args.peld, cache)
    train, valid = data["train"], data["valid"]

    results: dict[str, object] = {}
    best_hp: HParams | None = None
    best_score = -1.0
    for hidden, vad_loss_weight in GRID:
        hp = HParams(hidden=hidden, vad_loss_weight=vad_loss_weight)
        _, sc, epoch = train_variant("full", train, valid, hp)
        print(f"grid hidden={hidden} vad_loss_weight={vad_loss_weight}: valid {sc} (epoch {epoch})", flush=True)
        if sc["macro_f1"] > best_score:
            best_score, best_hp = sc["macro_f1"], hp
    assert best_hp is not None
    for variant in VARIANTS:
        arrays, sc, epoch = train_variant(variant, train, valid, best_hp)
        print(f"{variant}: valid {sc} (epoch {epoch})", flush=True)
        path = args.out / HEAD_FILE if variant == "full" else work / f"transition_head.{variant}.npz"
        meta = {
            "name": "Mien emotion transition head (context -> ΔVAD, personality gain, VAD classifier)",
            "format": HEAD_FORMAT,
            "version": "1",
            "variant": variant,
            "inputs": {
                "emb_self": "float32 [384] MiniLM embedding of the NPC's last utterance",
                "emb_other": "float32 [384] MiniLM embedding of the other party's reply",
                "preceding_vad": "float [3] valence, arousal, dominance in [-1, 1]",
                "temperament": "float [3] Mehrabian PAD from OCEAN",
            },
            "outputs": {"vad": "float [3]", "logits": f"float [7] in order {list(EMOTIONS)}"},
            "hyperparameters": best_hp.__dict__,
            "selected_epoch": epoch,
            "seed": SEED,
            "valid_scores": sc,
            "gain_beta": dict(zip(GAIN_TERMS, (round(float(x), 6) for x in arrays["gain_beta"]), strict=True)),
            "training_data": "PELD (Wen et al. 2021) train split of peld_labels_only.csv, 5,275 triples; "
            "research-only data, see MODEL_CARD.md",
            "licence": "weights: research and evaluation use only (trained on PELD, which has no licence); "
            "see MODEL_CARD.md",
        }
        _save(arrays, path, meta)
        _runtime_check(path, valid, sc)
        results[variant] = {"valid": sc, "epoch": epoch, "path": str(path)}
    print(json.dumps({"hyperparameters": best_hp.__dict__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
