"""Export a trained checkpoint to ONNX (the runtime contract of :mod:`mien.neural`) + its ``.onnx.json``.

    python -m training.neural.export --checkpoint ~/.cache/mien/neural/run/best.pt \
        --out sidecar/mien/data/models/mien_a2c.onnx

Legacy TorchScript exporter (``dynamo=False``), opset 17. Inputs ``features`` (batch, frames, n_mels),
``emotion`` (batch, frames, 7) and the states ``state_conv{i}`` (batch, channels, context) and
``state_gru`` (1, batch, hidden); outputs ``curves`` (batch, frames, channels) and ``<state>_out``.
The frames and batch axes are dynamic. After writing, the export checks onnxruntime against PyTorch
(max abs diff <= 1e-4) on random features, and streaming (chunks of 1-6 frames, state carried)
against one call, and refuses to write a file that fails.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mien.emotion import EMOTIONS
from mien.features import FeatureConfig
from training.neural.common import FPS, LOOKAHEAD_FRAMES, SAMPLE_RATE
from training.neural.model import A2C

__all__ = ["OPSET", "export_onnx", "metadata", "parity", "streaming_parity", "main"]

OPSET = 17
NAME = "mien_a2c"
VERSION = "2.0.0"
LICENCE = "Apache-2.0 (the model weights; see MODEL_CARD.md for the training data and their licences)"


def export_onnx(model: A2C, path: Path) -> None:
    model = model.eval()
    b, t = 1, 8
    feats = torch.randn(b, t, model.config.n_mels)
    emotion = torch.softmax(torch.randn(b, t, model.config.n_emotions), dim=2)
    states = model.initial_state(b)
    names = model.state_names
    dynamic: dict[str, dict[int, str]] = {
        "features": {0: "batch", 1: "frames"}, "emotion": {0: "batch", 1: "frames"},
        "curves": {0: "batch", 1: "frames"}}
    for name in names:
        axis = 1 if name == "state_gru" else 0
        dynamic[name] = {axis: "batch"}
        dynamic[f"{name}_out"] = {axis: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (feats, emotion, *states), str(path), dynamo=False, opset_version=OPSET,
            input_names=["features", "emotion", *names], output_names=["curves", *[f"{n}_out" for n in names]],
            dynamic_axes=dynamic, do_constant_folding=True,
        )
    import onnx

    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    proto.producer_name = "mien training.neural.export"
    proto.doc_string = "Mien emotion-aware audio-to-controller model (see the .onnx.json beside it)"
    onnx.save(proto, str(path))


def _session(path: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _ort_run(sess: Any, model: A2C, feats: np.ndarray, emotion: np.ndarray,
             states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    names = model.state_names
    out = sess.run(["curves", *[f"{n}_out" for n in names]],
                   {"features": feats, "emotion": emotion, **dict(zip(names, states, strict=True))})
    return out[0], list(out[1:])


def parity(model: A2C, path: Path, frames: int = 300, batch: int = 2, seed: int = 0) -> float:
    """Max |torch - onnxruntime| over random features / emotions from zero and from random state."""
    rng = np.random.default_rng(seed)
    sess = _session(path)
    worst = 0.0
    for random_state in (False, True):
        feats = rng.standard_normal((batch, frames, model.config.n_mels)).astype(np.float32)
        e = rng.random((batch, frames, model.config.n_emotions)).astype(np.float32)
        e /= e.sum(2, keepdims=True)
        states = [s.numpy() for s in model.initial_state(batch)]
        if random_state:
            states = [(0.5 * rng.standard_normal(s.shape)).astype(np.float32) for s in states]
        with torch.no_grad():
            ref = model(torch.from_numpy(feats), torch.from_numpy(e), *[torch.from_numpy(s) for s in states])
        got, got_states = _ort_run(sess, model, feats, e, states)
        worst = max(worst, float(np.abs(got - ref[0].numpy()).max()))
        for a, r in zip(got_states, ref[1:], strict=True):
            worst = max(worst, float(np.abs(a - r.numpy()).max()))
    return worst


def streaming_parity(model: A2C, path: Path, frames: int = 240, seed: int = 0) -> float:
    """Max |chunked (1-6 frames, state carried) - one call| with onnxruntime."""
    rng = np.random.default_rng(seed)
    sess = _session(path)
    feats = rng.standard_normal((1, frames, model.config.n_mels)).astype(np.float32)
    e = rng.random((1, frames, model.config.n_emotions)).astype(np.float32)
    e /= e.sum(2, keepdims=True)
    zero = [s.numpy() for s in model.initial_state(1)]
    whole, _ = _ort_run(sess, model, feats, e, zero)
    states, parts, i = zero, [], 0
    while i < frames:
        k = int(rng.integers(1, 7))
        out, states = _ort_run(sess, model, feats[:, i: i + k], e[:, i: i + k], states)
        parts.append(out)
        i += k
    return float(np.abs(np.concatenate(parts, axis=1) - whole).max())


def metadata(model: A2C, stats: dict[str, list[float]], training_data: list[dict[str, Any]],
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    features = FeatureConfig(sample_rate_hz=SAMPLE_RATE, fps=FPS, n_mels=model.config.n_mels,
                             mean=tuple(stats["mean"]), std=tuple(stats["std"]))
    import onnx
    import onnxruntime

    meta: dict[str, Any] = {
        "format": 1,
        "name": NAME,
        "version": VERSION,
        "sample_rate_hz": SAMPLE_RATE,
        "fps": FPS,
        "lookahead_frames": LOOKAHEAD_FRAMES,
        "lookahead_ms": round(1000.0 * (LOOKAHEAD_FRAMES / FPS + features.half_window_s), 2),
        "channels": list(model.config.channels),
        "emotions": list(EMOTIONS),
        "features": features.to_metadata(),
        "licence": LICENCE,
        "training_data": training_data,
        "onnx_opset": OPSET,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "architecture": {
            "summary": "log-mel ++ emotion -> Linear -> causal dilated Conv1d blocks -> speech head "
                       "(mouth/jaw/tongue + closure logit) and expression head (brows/eyes/cheeks/nose) -> sigmoid "
                       "-> closure gate (lips together by the sharpened closure probability) -> causal smoothing FIR",
            **{k: v for k, v in model.config.to_dict().items() if k not in ("channels",)},
            "states": model.state_names,
        },
        "created_with": {"torch": torch.__version__.split("+")[0], "onnx": onnx.__version__,
                         "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
                         "exporter": "torch.onnx.export(dynamo=False)"},
    }
    meta.update(extra or {})
    return meta


def write_metadata(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def export(model: A2C, stats: dict[str, list[float]], out: Path, training_data: list[dict[str, Any]],
           extra: dict[str, Any] | None = None, check: bool = True) -> dict[str, Any]:
    """Write ``out`` (.onnx) and ``out.json``; return the metadata (with the parity numbers)."""
    export_onnx(model, out)
    report: dict[str, Any] = {}
    if check:
        p, s = parity(model, out), streaming_parity(model, out)
        if p > 1e-4 or s > 1e-4:
            out.unlink()
            raise RuntimeError(f"export parity failed: torch vs onnxruntime {p:.2e}, streaming vs offline {s:.2e}")
        report = {"parity_max_abs_torch_vs_onnxruntime": float(f"{p:.2e}"),
                  "parity_max_abs_streaming_vs_offline": float(f"{s:.2e}")}
    meta = metadata(model, stats, training_data, {**(extra or {}), **({"export_checks": report} if report else {})})
    write_metadata(out.with_name(out.name + ".json"), meta)
    return meta


def main(argv: list[str] | None = None) -> int:
    from training.neural.train import load_checkpoint

    ap = argparse.ArgumentParser(prog="python -m training.neural.export", description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="the .onnx to write (metadata beside it)")
    ap.add_argument("--metrics", type=Path, help="evaluation summary JSON to embed as `metrics`")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model, ck = load_checkpoint(args.checkpoint.expanduser())
    extra: dict[str, Any] = {"training": {"step": ck["step"], "best_validation": {
        k: round(float(v), 5) for k, v in dict(ck["val"]).items()}}}  # type: ignore[call-overload]
    if "data_manifest" in ck:
        extra["training"]["data"] = ck["data_manifest"]
    if args.metrics:
        extra["metrics"] = json.loads(args.metrics.read_text())
    meta = export(model, ck["stats"], args.out, ck["training_data"], extra)  # type: ignore[arg-type]
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, {meta['parameters']} parameters); checks {meta['export_checks']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
