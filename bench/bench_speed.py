#!/usr/bin/env python3
"""Offline speed per path on 60 s of real speech (the fixtures, concatenated into one monologue).

* aligned: `mien animate` end to end as a user runs it (new process: start-up, model loading,
  decoding, alignment, animation, CSV written) and the in-process `Animator.animate` call;
* recognized: in-process (no transcript, speech recognition);
* neural: in-process, onnxruntime on one thread (features + model + eyes + rig);
* retarget: one hour of 60 fps internal curves onto the 177-channel metahuman rig (best of 3; was a timed
  test, < 1 s).

    python bench/bench_speed.py [--seconds 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _speech import long_line

from mien import Animator, EncodedAudio, LineRequest
from mien.channels import CHANNELS, EYE_ROTATION, EYE_ROTATION_LIMITS_DEG, INDEX
from mien.config import config_from_dict
from mien.rig import load_rig
from mien.server.app import load_neural_model


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    data, text = long_line(args.seconds)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav, txt = Path(tmp) / "line.wav", Path(tmp) / "line.txt"
        wav.write_bytes(data)
        txt.write_text(text)
        cli = [sys.executable, "-m", "mien", "animate", str(wav), "--text-file", str(txt),
               "-o", str(Path(tmp) / "o.csv")]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        out["aligned_cli_wall_s"] = best_of(3, lambda: subprocess.run(cli, check=True, capture_output=True, env=env))
    config = config_from_dict({"state": {"db_path": ":memory:"}, "neural": {"threads": 1}})
    animator = Animator(config, neural_model=load_neural_model(config))
    animator.recognizer.warm_up()
    audio_s = len(data) / 2 / 16000  # PCM16 mono 16 kHz (header bytes are negligible)
    out["audio_s"] = round(audio_s, 2)
    out["aligned_inprocess_s"] = best_of(3, lambda: animator.animate(LineRequest(audio=EncodedAudio(data),
                                                                                  transcript=text)))
    out["recognized_inprocess_s"] = best_of(1, lambda: animator.animate(LineRequest(audio=EncodedAudio(data),
                                                                                     mode="recognized")))
    if animator.neural_model is not None:
        out["neural_inprocess_s"] = best_of(3, lambda: animator.animate(LineRequest(audio=EncodedAudio(data),
                                                                                     mode="neural")))
    rig = load_rig("metahuman")
    rng = np.random.default_rng(11)
    hour = rng.random((60 * 60 * 60, len(CHANNELS)), dtype=np.float32)  # blendshapes in [0, 1]
    for name in EYE_ROTATION:  # eye rotations within their limits
        lo, hi = EYE_ROTATION_LIMITS_DEG[name]
        hour[:, INDEX[name]] = (lo + (hi - lo) * rng.random(len(hour))).astype(np.float32)
    out["retarget_1h_60fps_metahuman_s"] = round(best_of(3, lambda: rig.retarget(hour)), 3)
    for key in [k for k in out if k.endswith("_s") and k != "audio_s" and not k.startswith("retarget")]:
        out[key.replace("_s", "_x_realtime")] = round(audio_s / out[key], 1)
        out[key] = round(out[key], 3)
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
