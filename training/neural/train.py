"""Train the audio-to-controller network on the teacher data of :mod:`training.neural.data`.

    python -m training.neural.train                      # full run (~60 min on 2 busy cores)
    python -m training.neural.train --smoke --out DIR    # < 60 s: toy audio made with numpy, no downloads

Batches are whole lines from their start (zero state, as at run time), cropped to ``--max-frames``;
the network sees the log-mel frames up to ``lookahead_frames`` past each output frame (targets delayed
by the look-ahead). Loss (per valid frame, weighted by the frame's label confidence): L1 on all curves
(mouth channels x2) + L1 on the lip aperture (the reference scorer's) + hinges on the scorer's thresholds
(lips closed on p/b/m, open on vowels, at rest in long silences) + L1 on the frame-to-frame velocity of the
mouth channels and on the second difference of the aperture (jitter) + the closure decision: cross-entropy
of the closure logit against "the teacher's lips are closed" (x ``w_closure_bilabial`` on p/b/m frames, x
``w_closure_vowel`` on vowels, where it must stay open). The EMA of the weights is evaluated on the
validation split every ``--eval-every`` steps; the best one is kept.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from training.neural.common import (
    BILABIAL,
    CACHE,
    CHANNELS,
    LOOKAHEAD_FRAMES,
    REST,
    SPEECH_CHANNELS,
    VOWEL,
)
from training.neural.model import A2C, ModelConfig, aperture

__all__ = ["TrainConfig", "Split", "train", "load_checkpoint"]


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000
    batch: int = 16
    max_frames: int = 420
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    real_fraction: float = 0.6
    ema: float = 0.99
    eval_every: int = 250
    max_minutes: float = 85.0
    seed: int = 0
    threads: int = 2
    # loss weights
    w_mouth: float = 2.0
    w_aperture: float = 3.0
    w_closure: float = 10.0
    w_open: float = 2.0
    w_rest: float = 3.0
    w_velocity: float = 2.0
    w_jerk: float = 4.0
    w_bce: float = 1.0
    w_gate: float = 1.0
    w_closure_bilabial: float = 4.0
    w_closure_vowel: float = 2.0
    init: str = ""
    """Start from this checkpoint's weights (fine-tuning) instead of random ones."""
    init_onnx: str = ""
    """Start from the weights of an exported model (``.onnx``; e.g. the previously shipped one): its feature
    statistics are then used too, so its weights see the inputs they were trained on."""


class Split:
    """A data split in memory: normalised features and per-frame targets of concatenated clips."""

    def __init__(self, arrays: dict[str, np.ndarray], mean: np.ndarray, std: np.ndarray) -> None:
        self.feats = torch.from_numpy(((arrays["feats"] - mean) / std).astype(np.float32))
        self.targets = torch.from_numpy(arrays["targets"].astype(np.float32))
        self.weights = torch.from_numpy(arrays["weights"].astype(np.float32))
        self.labels = torch.from_numpy(arrays["labels"].astype(np.int64))
        conf = arrays["conf"] if "conf" in arrays else np.ones(len(arrays["labels"]), np.float32)
        self.conf = torch.from_numpy(conf.astype(np.float32))
        self.n = arrays["n_frames"].astype(np.int64)
        self.is_real = arrays["is_real"].astype(bool)
        self.t0 = np.concatenate([[0], np.cumsum(self.n)[:-1]])
        self.f0 = np.concatenate([[0], np.cumsum(self.n + LOOKAHEAD_FRAMES)[:-1]])

    @classmethod
    def load(cls, path: Path, mean: np.ndarray, std: np.ndarray) -> Split:
        with np.load(path) as z:
            return cls({k: z[k] for k in z.files}, mean, std)

    def __len__(self) -> int:
        return len(self.n)

    def batch(self, clips: np.ndarray, max_frames: int) -> dict[str, torch.Tensor]:
        """Inputs (T + lookahead frames) and targets (T frames) of line prefixes, zero-padded, with a mask."""
        lengths = np.minimum(self.n[clips], max_frames)
        t = int(lengths.max())
        b = len(clips)
        L = LOOKAHEAD_FRAMES
        feats = torch.zeros(b, t + L, self.feats.shape[1])
        emotion = torch.zeros(b, t + L, self.weights.shape[1])
        targets = torch.zeros(b, t, self.targets.shape[1])
        labels = torch.zeros(b, t, dtype=torch.long)
        mask = torch.zeros(b, t)
        conf = torch.zeros(b, t)
        for i, (c, n) in enumerate(zip(clips, lengths, strict=True)):
            f0, t0 = int(self.f0[c]), int(self.t0[c])
            feats[i, : n + L] = self.feats[f0: f0 + n + L]
            w = self.weights[t0: t0 + n]
            # the emotion of input frame k is that of the animation frame it produces (k - lookahead)
            emotion[i, :L] = w[0]
            emotion[i, L: n + L] = w
            targets[i, :n] = self.targets[t0: t0 + n]
            labels[i, :n] = self.labels[t0: t0 + n]
            mask[i, :n] = 1.0
            conf[i, :n] = self.conf[t0: t0 + n]
        return {"feats": feats, "emotion": emotion, "targets": targets, "labels": labels, "mask": mask * conf,
                "valid": mask}


def losses(pred: torch.Tensor, batch: dict[str, torch.Tensor], cfg: TrainConfig,
           logits: torch.Tensor | None = None, closure: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``pred`` = the model's curves; ``logits`` its channel logits before the closure gate and smoothing (the
    cross-entropy on them keeps a gradient where the sigmoid saturates: rare expressions such as a smile would
    otherwise stay stuck at 0); ``closure`` the closure logit. ``batch["mask"]`` holds each frame's weight
    (validity x label confidence)."""
    tgt, mask, labels = batch["targets"], batch["mask"], batch["labels"]
    denom = mask.sum().clamp(min=1.0)
    mouth = torch.tensor([cfg.w_mouth if n in SPEECH_CHANNELS else 1.0 for n in CHANNELS])
    curve = ((pred - tgt).abs() * mouth).mean(2)
    ap_p, ap_t = aperture(pred, CHANNELS), aperture(tgt, CHANNELS)
    closed = ((labels == BILABIAL) & (ap_t < 0.05)).float()
    opened = ((labels == VOWEL) & (ap_t > 0.16)).float()
    rest = ((labels == REST) & (ap_t < 0.03)).float()
    speech_idx = [CHANNELS.index(n) for n in SPEECH_CHANNELS]
    vel_mask = mask[:, 1:] * mask[:, :-1]
    dp = pred[:, 1:, speech_idx] - pred[:, :-1, speech_idx]
    dt = tgt[:, 1:, speech_idx] - tgt[:, :-1, speech_idx]
    out = {
        "curve": (curve * mask).sum() / denom,
        "aperture": ((ap_p - ap_t).abs() * mask).sum() / denom * cfg.w_aperture,
        "closure": (torch.relu(ap_p - 0.03) * closed * mask).sum() / denom * cfg.w_closure,
        "open": (torch.relu(0.16 - ap_p) * opened * mask).sum() / denom * cfg.w_open,
        "rest": (torch.relu(ap_p - 0.02) * rest * mask).sum() / denom * cfg.w_rest,
        "velocity": ((dp - dt).abs().mean(2) * vel_mask).sum() / vel_mask.sum().clamp(min=1.0) * cfg.w_velocity,
    }
    jerk_mask = mask[:, 2:] * mask[:, 1:-1] * mask[:, :-2]
    d2p = ap_p[:, 2:] - 2 * ap_p[:, 1:-1] + ap_p[:, :-2]
    d2t = ap_t[:, 2:] - 2 * ap_t[:, 1:-1] + ap_t[:, :-2]
    out["jerk"] = ((d2p - d2t).abs() * jerk_mask).sum() / jerk_mask.sum().clamp(min=1.0) * cfg.w_jerk
    if closure is not None and cfg.w_gate:
        shut = (ap_t < 0.04).float()
        known = ((ap_t < 0.04) | (ap_t > 0.10)).float()
        weight = known * (1.0 + (cfg.w_closure_bilabial - 1.0) * (labels == BILABIAL).float()
                          + (cfg.w_closure_vowel - 1.0) * (labels == VOWEL).float())
        ce = torch.nn.functional.binary_cross_entropy_with_logits(closure[..., 0], shut, reduction="none")
        out["gate"] = (ce * weight * mask).sum() / denom * cfg.w_gate
    if logits is not None and cfg.w_bce:
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, tgt, reduction="none")
        entropy = torch.nn.functional.binary_cross_entropy(tgt.clamp(1e-6, 1 - 1e-6), tgt, reduction="none")
        out["bce"] = (((bce - entropy) * mouth).mean(2) * mask).sum() / denom * cfg.w_bce
    out["total"] = sum(out.values())  # type: ignore[assignment]
    return out


@torch.no_grad()
def validate(model: A2C, split: Split, cfg: TrainConfig) -> dict[str, float]:
    """Mean losses on the whole split (full lines) + aperture proxies of the scorer's metrics per frame."""
    model.eval()
    order = np.argsort(split.n)
    sums: dict[str, float] = {}
    closed_ok = closed_n = open_ok = open_n = rest_ok = rest_n = 0.0
    sq = frames = jit = jit_frames = 0.0
    speech_idx = [CHANNELS.index(n) for n in SPEECH_CHANNELS]
    for i in range(0, len(order), 16):
        b = split.batch(order[i: i + 16], 10**9)
        pred, _, closure = (v[:, LOOKAHEAD_FRAMES:] if v is not None else None
                            for v in model.run_outputs(b["feats"], b["emotion"]))
        parts = losses(pred, b, cfg, closure=closure)
        w = float(b["mask"].sum())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v) * w
        ap = aperture(pred, CHANNELS)
        m = b["valid"] > 0
        lab = b["labels"]
        closed_ok += float(((ap <= 0.08) & m & (lab == BILABIAL)).sum())
        closed_n += float((m & (lab == BILABIAL)).sum())
        open_ok += float(((ap >= 0.12) & m & (lab == VOWEL)).sum())
        open_n += float((m & (lab == VOWEL)).sum())
        rest_ok += float(((ap <= 0.05) & m & (lab == REST)).sum())
        rest_n += float((m & (lab == REST)).sum())
        sq += float((((pred - b["targets"])[..., speech_idx] ** 2).mean(2) * b["mask"]).sum())
        d2 = ap[:, 2:] - 2 * ap[:, 1:-1] + ap[:, :-2]
        jit += float((d2.abs() * (b["valid"][:, 2:] > 0)).sum())
        jit_frames += float((b["valid"][:, 2:] > 0).sum())
        frames += w
    model.train()
    out = {k: v / frames for k, v in sums.items()}
    out.update(closed_frames=closed_ok / max(closed_n, 1), open_frames=open_ok / max(open_n, 1),
               rest_frames=rest_ok / max(rest_n, 1), mouth_rmse=math.sqrt(sq / frames),
               jitter_per_s=jit / max(jit_frames, 1) * 60.0)
    return out


class EMA:
    """Exponential moving average of the weights, with the usual warm-up (decay (1 + t) / (10 + t) early on,
    so the random initialisation is forgotten quickly)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.shadow[k].copy_(v)


def train(train_split: Split, val_split: Split, model_cfg: ModelConfig, cfg: TrainConfig, out: Path,
          extra: dict[str, object] | None = None, log_every: int = 50) -> dict[str, object]:
    """Train; writes ``out/best.pt`` (EMA weights with the lowest validation loss) and ``out/last.pt``."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    model = A2C(model_cfg)
    if cfg.init:
        ck = torch.load(Path(cfg.init).expanduser(), map_location="cpu", weights_only=False)
        state = dict(ck.get("raw_state", ck["state"]))
        w = state["expr_head.0.weight"]
        want = model.expr_head[0].weight
        if w.shape != want.shape:  # older expression head (emotion only): widen it, new inputs start at 0
            wide = torch.zeros_like(want)
            wide[:, want.shape[1] - w.shape[1]:] = w
            state["expr_head.0.weight"] = wide
        model.load_state_dict(state)
        print(f"starting from {cfg.init} (step {ck['step']})", flush=True)
    if cfg.init_onnx:
        load_onnx_weights(model, Path(cfg.init_onnx).expanduser())
        print(f"starting from the weights of {cfg.init_onnx}", flush=True)
    ema = EMA(model, cfg.ema)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    t_start = time.perf_counter()

    def progress(step: int) -> float:
        """Fraction of the run done: by steps or by wall time, whichever is further (the schedule always
        anneals within ``max_minutes`` on a busy machine)."""
        return max(step / cfg.steps, (time.perf_counter() - t_start) / 60.0 / cfg.max_minutes)

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        p = min(1.0, progress(step))
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))

    real = np.flatnonzero(train_split.is_real)
    synth = np.flatnonzero(~train_split.is_real)
    p_real = cfg.real_fraction if len(real) and len(synth) else float(len(real) > 0)
    history: list[dict[str, object]] = []
    best = (math.inf, -1)
    running: dict[str, float] = {}
    eval_model = A2C(model_cfg)
    step = 0
    for step in range(cfg.steps):
        # a pool of clips sorted by length -> batches with little padding
        n_real = int(rng.binomial(cfg.batch, p_real))
        clips = np.concatenate([rng.choice(real, n_real) if n_real else np.zeros(0, np.int64),
                                rng.choice(synth, cfg.batch - n_real) if cfg.batch - n_real else np.zeros(0, np.int64)])
        b = train_split.batch(clips.astype(np.int64), cfg.max_frames)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        pred, logits, closure = (v[:, LOOKAHEAD_FRAMES:] if v is not None else None
                                 for v in model.run_outputs(b["feats"], b["emotion"]))
        parts = losses(pred, b, cfg, logits, closure)
        opt.zero_grad(set_to_none=True)
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model)
        for k, v in parts.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        elapsed = (time.perf_counter() - t_start) / 60.0
        last = step == cfg.steps - 1 or progress(step + 1) >= 1.0
        if (step + 1) % log_every == 0:
            print(f"step {step + 1} {elapsed:.1f} min lr {lr_at(step):.2e} "
                  + " ".join(f"{k} {v / log_every:.4f}" for k, v in running.items()), flush=True)
            running = {}
        if (step + 1) % cfg.eval_every == 0 or last:
            eval_model.load_state_dict(ema.shadow)
            val = validate(eval_model, val_split, cfg)
            history.append({"step": step + 1, "minutes": round(elapsed, 2), **{k: round(v, 5) for k, v in val.items()}})
            print("  val " + " ".join(f"{k} {v:.4f}" for k, v in val.items()), flush=True)
            save = {"model_config": model_cfg.to_dict(), "train_config": asdict(cfg), "state": ema.shadow,
                    "raw_state": model.state_dict(),
                    "step": step + 1, "val": val, "history": history, **(extra or {})}
            torch.save(save, out / "last.pt")
            if val["total"] < best[0]:
                best = (val["total"], step + 1)
                torch.save(save, out / "best.pt")
        if last:
            break
    summary = {"steps": step + 1, "best_step": best[1], "best_val_total": best[0],
               "minutes": round((time.perf_counter() - t_start) / 60.0, 2), "history": history}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def load_onnx_weights(model: A2C, path: Path) -> None:
    """Copy the initializers of an exported A2C into ``model``: named tensors by name, the Linear layers'
    (exported as transposed ``onnx::MatMul_*`` tensors) by their order in the graph; output rows the export
    does not have (a new closure logit) keep their fresh initialisation."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    tensors = [(i.name, torch.from_numpy(numpy_helper.to_array(i).copy())) for i in proto.graph.initializer]
    state = model.state_dict()
    linears = [k for k in state if k.endswith(".weight") and state[k].dim() == 2]
    matmuls = [t for n, t in tensors if n.startswith("onnx::MatMul")]
    if len(matmuls) != len(linears):
        raise ValueError(f"{path}: {len(matmuls)} MatMul weights for {len(linears)} Linear layers")
    new = dict(state)
    for key, weight in zip(linears, matmuls, strict=True):
        w = weight.T
        if w.shape[1] != state[key].shape[1]:
            raise ValueError(f"{path}: {key} has {w.shape[1]} inputs, the model {state[key].shape[1]}")
        new[key] = state[key].clone()
        new[key][: w.shape[0]] = w
    for name, t in tensors:
        if name in state:
            new[name] = state[name].clone()
            new[name][: t.shape[0]] = t
    model.load_state_dict(new)


def load_checkpoint(path: Path) -> tuple[A2C, dict[str, object]]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = A2C(ModelConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["state"])
    model.eval()
    return model, ck


def default_model_config(**kw: object) -> ModelConfig:
    """The shipped architecture: 6 causal dilated conv blocks (receptive field 127 frames = 2.1 s), no GRU, the
    closure head and gate, a 3-tap smoothing FIR."""
    base: dict[str, object] = {"gru_hidden": 0, "dilations": (1, 2, 4, 8, 16, 32), "closure_head": True,
                               "smooth_taps": (0.25, 0.5, 0.25)}
    base.update(kw)
    return ModelConfig(channels=CHANNELS, speech_channels=SPEECH_CHANNELS, **base)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ smoke
def toy_data(n_clips: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Harmonic 'vowels' separated by silent 'm' closures and pauses, with teacher targets: no downloads."""
    from mien.features import log_mel
    from mien.track import PhoneSegment
    from training.neural.common import FEATURES, SAMPLE_RATE, EmotionSpec, Teacher, frame_labels, n_frames

    teacher = Teacher()
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n_clips):
        phones, parts, t = [], [], 0.0
        f0 = rng.uniform(90, 220)
        for _ in range(int(rng.integers(2, 4))):
            for ph, dur in (("SIL", rng.uniform(0.1, 0.35)), ("M", rng.uniform(0.05, 0.09)),
                            ("AA", rng.uniform(0.12, 0.25))):
                n = int(dur * SAMPLE_RATE)
                tt = np.arange(n) / SAMPLE_RATE
                if ph == "AA":
                    x = sum(np.sin(2 * np.pi * k * f0 * tt) / k for k in range(1, 12)) * 0.2
                elif ph == "M":
                    x = 0.03 * np.sin(2 * np.pi * f0 * tt)
                else:
                    x = np.zeros(n)
                parts.append(x + 1e-4 * rng.standard_normal(n))
                phones.append(PhoneSegment(t, t + n / SAMPLE_RATE, ph))
                t += n / SAMPLE_RATE
        x = np.concatenate(parts).astype(np.float32)
        emo = EmotionSpec.of(["neutral", "happy", "angry", "sad"][i % 4], 0.8)
        n = n_frames(len(x))
        clips.append({
            "feats": log_mel(x, FEATURES, n + LOOKAHEAD_FRAMES),
            "targets": teacher.curves(x, emotion=emo, phones=phones),
            "weights": emo.weights(n).astype(np.float32),
            "labels": frame_labels(phones, n),
            "real": i % 3 == 0,
        })

    def pack(cs: list[dict[str, object]]) -> dict[str, np.ndarray]:
        return {
            "feats": np.concatenate([c["feats"] for c in cs]),  # type: ignore[misc]
            "targets": np.concatenate([c["targets"] for c in cs]),  # type: ignore[misc]
            "weights": np.concatenate([c["weights"] for c in cs]),  # type: ignore[misc]
            "labels": np.concatenate([c["labels"] for c in cs]),  # type: ignore[misc]
            "n_frames": np.array([len(c["targets"]) for c in cs]),  # type: ignore[arg-type]
            "is_real": np.array([c["real"] for c in cs]),
        }

    tr, va = pack(clips[: n_clips - 2]), pack(clips[n_clips - 2:])
    return tr, va, tr["feats"].mean(0), tr["feats"].std(0) + 1e-3


def smoke(out: Path, steps: int = 60) -> dict[str, object]:
    tr, va, mean, std = toy_data(10, 0)
    cfg = TrainConfig(steps=steps, batch=4, max_frames=200, lr=3e-3, warmup=5, eval_every=steps, ema=0.9)
    model_cfg = default_model_config(conv_channels=32, gru_hidden=16, head_hidden=32, expr_hidden=16,
                                     dilations=(1, 2))
    extra = {"stats": {"mean": mean.tolist(), "std": std.tolist()}, "training_data": [
        {"name": "toy", "source": "numpy harmonic tones (smoke test)", "licence": "n/a", "minutes": 0.3,
         "use": "smoke training"}]}
    return train(Split(tr, mean, std), Split(va, mean, std), model_cfg, cfg, out, extra, log_every=20)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.neural.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=CACHE / "data")
    ap.add_argument("--out", type=Path, default=CACHE / "run")
    ap.add_argument("--smoke", action="store_true", help="tiny training on toy audio (< 60 s, no data needed)")
    for f in TrainConfig.__dataclass_fields__.values():
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    ap.add_argument("--conv-channels", type=int, default=128)
    ap.add_argument("--gru-hidden", type=int, default=0, help="0 = no GRU (convolutions only)")
    args = ap.parse_args(argv)
    out = args.out.expanduser()
    if args.smoke:
        print(json.dumps(smoke(out), indent=1)[:2000])
        return 0
    cfg = TrainConfig(**{k: getattr(args, k) for k in TrainConfig.__dataclass_fields__})
    data = args.data.expanduser()
    stats = json.loads((data / "stats.json").read_text())
    if cfg.init_onnx:
        features = json.loads(Path(cfg.init_onnx + ".json").expanduser().read_text())["features"]
        stats = {"mean": features["mean"], "std": features["std"]}
    mean, std = np.array(stats["mean"]), np.array(stats["std"])
    manifest = json.loads((data / "manifest.json").read_text())
    t0 = time.perf_counter()
    tr = Split.load(data / "train.npz", mean, std)
    va = Split.load(data / "val.npz", mean, std)
    print(f"loaded {len(tr)} training / {len(va)} validation clips in {time.perf_counter() - t0:.0f} s", flush=True)
    model_cfg = default_model_config(conv_channels=args.conv_channels, gru_hidden=args.gru_hidden)
    from training.data.real import SOURCES as REAL_SOURCES

    real = {s.name: s for s in REAL_SOURCES}
    training_data = []
    for name, src in manifest["training_sources"].items():
        entry = {"name": name, "source": src.get("source", name), "licence": src["licence"],
                 "minutes": src["minutes_unique"], "use": "training (teacher targets; augmented copies)"}
        if name in real:
            entry["source"] = "Debian " + ", ".join(f"{p}={v}" for p, v in real[name].packages)
            entry["what"] = real[name].description
            entry["licence_for_weights"] = real[name].weights_note
        training_data.append(entry)
    extra = {"stats": stats, "training_data": training_data, "data_manifest": {
        k: manifest[k] for k in ("seed", "espeak_n", "festival_n", "synthetic_copies", "real_copies", "min_conf",
                                 "splits", "labels", "real_train_speakers", "held_out_synthetic_voices",
                                 "held_out_real_speakers") if k in manifest}}
    summary = train(tr, va, model_cfg, cfg, out, extra)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
