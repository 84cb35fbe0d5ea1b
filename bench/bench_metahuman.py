"""MetaHuman sanity check: our jaw-open control against EmoFace's ground truth on its one real clip.

Usage (from the repository root; a few seconds)::

    python bench/bench_metahuman.py [--data DIR]

The clip is EmoFace's validation sample (Mandarin, angry; SJTU-Lucy/EmoFace, CC BY-NC 4.0,
research use only): ``dataset/validation/WAV/angry_gd04_001_021.wav`` and its 60 fps MetaHuman
controller values ``dataset/validation/VALID_CTR/angry_gd04_001_021.txt`` (174 columns named by
``dataset/valid_attr_names.txt``). It is read from ``--data``, else ``$MIEN_EMOFACE_DATA``, else
``/work/shared/emoface_data``, else ``../shared/emoface_data`` beside the repository; when it is
absent the script says so and exits 0. Nothing from it is copied or written anywhere: only the
summary statistics below are printed.

The line is animated without a transcript (mode ``recognized`` and, when a neural model is
installed, ``neural``), emotion angry, rig ``metahuman``, 60 fps. For each mode the script prints
the Pearson correlation between our ``CTRL_C_jaw-translateY`` (jaw open) and the ground truth's
at the best lag within +-200 ms, and that lag (positive: ours is later). One clip is a sanity
check, not a score.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Literal

import numpy as np

from mien import Animator, EncodedAudio, LineRequest
from mien.config import Config
from mien.emotion import Emotion
from mien.errors import MienError

ROOT = Path(__file__).resolve().parents[1]
CLIP = "angry_gd04_001_021"
JAW = "CTRL_C_jaw-translateY"
FPS = 60.0
MAX_LAG_S = 0.2
Mode = Literal["recognized", "neural"]
DEFAULT_PLACES = (Path("/work/shared/emoface_data"), ROOT.parent / "shared" / "emoface_data")


def find_data(explicit: str | None) -> Path | None:
    """The emoface_data folder, or None when it is not on this machine."""
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = [Path(os.environ["MIEN_EMOFACE_DATA"])] if os.environ.get("MIEN_EMOFACE_DATA") else []
        candidates += DEFAULT_PLACES
    for folder in candidates:
        if (folder / "dataset" / "validation" / "WAV" / f"{CLIP}.wav").is_file():
            return folder
    return None


def best_lag(ours: np.ndarray, truth: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Pearson r maximised over integer lags in [-max_lag, max_lag] frames; lag > 0: ``ours`` is later."""
    best = (-2.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        a = ours[lag:] if lag >= 0 else ours[:lag]
        b = truth[: len(truth) - lag] if lag >= 0 else truth[-lag:]
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        if n < 3 or a.std() == 0 or b.std() == 0:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[0]:
            best = (r, lag)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the emoface_data folder")
    parser.add_argument("--neural-model", help="an .onnx model (with its .onnx.json) for mode neural; default: "
                        "config neural.model, else the bundled model if installed")
    args = parser.parse_args(argv)
    data = find_data(args.data)
    if data is None:
        print("bench_metahuman: skipped: the EmoFace validation clip is not on this machine (looked in --data, "
              "$MIEN_EMOFACE_DATA, " + ", ".join(dict.fromkeys(str(p) for p in DEFAULT_PLACES)) + ")")
        return 0
    dataset = data / "dataset"
    names = [n.strip() for n in (dataset / "valid_attr_names.txt").read_text().splitlines() if n.strip()]
    truth_table = np.loadtxt(dataset / "validation" / "VALID_CTR" / f"{CLIP}.txt", delimiter=",", ndmin=2)
    if truth_table.shape[1] != len(names) or JAW not in names:
        print(f"bench_metahuman: unexpected ground truth: {truth_table.shape[1]} columns, {len(names)} names")
        return 1
    truth = truth_table[:, names.index(JAW)]
    audio = (dataset / "validation" / "WAV" / f"{CLIP}.wav").read_bytes()

    config = Config()
    from mien_bake.runner import find_speech_model

    model_path = Path(args.neural_model) if args.neural_model else find_speech_model(config)
    model = None
    if model_path is not None:
        from mien.neural import NeuralModel

        model = NeuralModel(model_path, threads=1)
    animator = Animator(config, neural_model=model) if model is not None else Animator(config)
    modes: list[Mode] = ["recognized", "neural"] if model is not None else ["recognized"]
    print(f"clip {CLIP} (Mandarin, angry): {len(truth)} ground-truth frames at {FPS:g} fps; our {JAW} vs theirs, "
          f"best lag within +-{MAX_LAG_S * 1000:.0f} ms")
    for mode in modes:
        try:
            track = animator.animate(LineRequest(audio=EncodedAudio(audio), transcript=None,
                                                 emotion=Emotion.of("angry"), fps=FPS, rig="metahuman",
                                                 mode=mode))
        except MienError as exc:
            print(f"  {mode}: failed: {exc}")
            continue
        ours = track.channel(JAW).astype(np.float64)
        r, lag = best_lag(ours, truth, round(MAX_LAG_S * FPS))
        print(f"  {mode:<10} r = {r:+.3f} at lag {lag * 1000 / FPS:+.0f} ms ({lag:+d} frames); "
              f"{track.n_frames} frames, mode reported {track.info.mode!r}")
    if model is None:
        print("  neural     not run: no neural model is installed (--neural-model, config neural.model or the "
              "bundled mien/data/models/mien_a2c.onnx)")
    else:
        print(f"  (neural model: {model_path}, {model.name} {model.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
