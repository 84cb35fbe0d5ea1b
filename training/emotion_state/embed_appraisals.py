"""Precompute the sentence embeddings of the shipped appraisal prototype lines (``appraisals.npz``).

Usage (from the repository root; ~15-30 s, deterministic: the same file on every run)::

    PYTHONPATH=sidecar python -m training.emotion_state.embed_appraisals

Every line of ``mien/data/emotion_state/appraisals.yaml`` (templates expanded) is encoded by the shipped
encoder, one text per ONNX run exactly as the sidecar encodes it, and stored as float16 (cosine error
< 1e-3) with the encoder's sha256. The engine then needs no encoder run for the shipped prototypes at
start-up; lines added by a game are encoded when they are loaded. ``tests/emotion_state`` checks that
the file covers every shipped line and matches the encoder.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from mien.emotion_state.appraisal import EMBEDDINGS_FILE, encoder_sha256, shipped_lines
from mien.emotion_state.context import TextEncoder, data_path

__all__ = ["build", "main"]


def build(out: Path) -> int:
    """Write ``out``; returns the number of lines."""
    lines = sorted(set(shipped_lines()))
    encoder = TextEncoder(cache_size=0)
    try:
        vectors = encoder.encode_many(lines).astype(np.float16)
    finally:
        encoder.close()
    arrays = {"texts": np.array(lines), "vectors": vectors, "encoder_sha256": np.array(encoder_sha256())}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:  # fixed timestamps: a byte-identical file
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array, allow_pickle=False)
            zf.writestr(info, buf.getvalue())
    return len(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help=f"default: the package's {EMBEDDINGS_FILE}")
    args = ap.parse_args(argv)
    out = args.out if args.out is not None else data_path(EMBEDDINGS_FILE)
    n = build(out)
    print(f"{out}: {n} prototype lines, {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
