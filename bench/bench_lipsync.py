#!/usr/bin/env python3
"""Lip-sync quality on the repository's real speech, per path, next to a naive baseline.

Paths: aligned (with transcript), recognized (no transcript, speech recognition), neural (no
transcript, the shipped model), and the baseline many games use: the jaw follows the audio's
loudness envelope. Scored with the reference scorer (scripts/score_lipsync.py) against
pocketsphinx alignments of the transcripts (tests/fixtures/speech/*.phones.tsv).

    python bench/bench_lipsync.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mien import Animator, EncodedAudio, LineRequest, Track, TrackInfo  # noqa: E402
from mien.articulation import loudness_db  # noqa: E402
from mien.audio import decode_audio  # noqa: E402
from mien.channels import CHANNELS, INDEX  # noqa: E402
from mien.config import Config  # noqa: E402
from mien.server.app import load_neural_model  # noqa: E402
from support.lipsync import SPEECH, clips, score  # noqa: E402


def loudness_baseline(data: bytes, fps: float = 60.0) -> Track:
    """jawOpen = the loudness envelope mapped from [peak - 30 dB, peak - 5 dB] to [0, 0.7], nothing else."""
    audio = decode_audio(data, max_duration_s=600)
    n = int(audio.duration_s * fps) + 1
    level = loudness_db(audio.samples, audio.sample_rate_hz, n, fps)
    peak = float(np.percentile(level, 99))
    values = np.zeros((n, len(CHANNELS)), dtype=np.float32)
    values[:, INDEX["jawOpen"]] = 0.7 * np.clip((level - (peak - 30.0)) / 25.0, 0.0, 1.0)
    return Track(CHANNELS, fps, values, (), TrackInfo(mode="loudness baseline"))


def main() -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    config = Config()
    neural = load_neural_model(config)
    animator = Animator(config, neural_model=neural)
    animator.recognizer.warm_up()
    names = clips()
    data = {name: (SPEECH / f"{name}.wav").read_bytes() for name in names}
    text = {name: (SPEECH / f"{name}.txt").read_text().strip() for name in names}
    paths = {
        "aligned (transcript)": lambda n: animator.animate(LineRequest(audio=EncodedAudio(data[n]),
                                                                        transcript=text[n])),
        "recognized (no transcript)": lambda n: animator.animate(LineRequest(audio=EncodedAudio(data[n]),
                                                                              mode="recognized")),
        "loudness baseline": lambda n: loudness_baseline(data[n]),
    }
    if neural is not None:
        paths["neural (no transcript)"] = lambda n: animator.animate(LineRequest(audio=EncodedAudio(data[n]),
                                                                                  mode="neural"))
    results: dict[str, dict[str, float]] = {}
    audio_s = sum(decode_audio(d, max_duration_s=600).duration_s for d in data.values())
    with tempfile.TemporaryDirectory() as tmp:
        for label, run in paths.items():
            started = time.perf_counter()
            tracks = {name: run(name) for name in names}
            elapsed = time.perf_counter() - started
            s = score(tracks, Path(tmp) / label.split()[0])
            results[label] = {k: s[k] for k in ("pbm", "vowel", "rest", "lag_ms", "corr", "jitter")}
            results[label]["x_realtime"] = round(audio_s / elapsed, 1)
    print(f"{len(names)} real clips, {audio_s:.1f} s of speech (tests/fixtures/speech)")
    print(f"{'path':<28} {'pbm':>6} {'vowel':>6} {'rest':>6} {'lag_ms':>7} {'jitter':>7} {'x RT':>6}")
    for label, r in results.items():
        print(f"{label:<28} {r['pbm']:6.3f} {r['vowel']:6.3f} {r['rest']:6.3f} {r['lag_ms']:7.0f} {r['jitter']:7.2f} "
              f"{r['x_realtime']:6.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"clips": len(names), "audio_s": audio_s, "paths": results}, indent=1))
    return results


if __name__ == "__main__":
    main()
