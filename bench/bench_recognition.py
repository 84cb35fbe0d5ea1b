#!/usr/bin/env python3
"""The recognized path (no transcript, speech recognition): speed on a long line, and lip-sync quality (issue 12).

* speed: ``Animator.animate(mode="recognized")`` in process on ``--seconds`` of real speech (the fixtures
  concatenated into one monologue, ``bench/_speech.py``), and the phone stage alone; x real time;
* quality: the reference scorer's PBM, vowel, rest, lag and jitter of the recognized path on each set, the
  clips one by one and, to exercise the cuts of a long line into parallel chunks, joined into lines of
  about ``--long-s`` seconds (their reference timelines joined alike). ``--mode aligned`` scores the aligned
  path (the clips' transcripts, joined alike) instead: its long lines are aligned in parallel chunks too,
  and no other benchmark scores those.

Sets: directories of X.wav (16 kHz), X.txt, X.phones.tsv (``bench/eval_sets.py``); by default the held-out
``report`` sets under ``$MIEN_EVAL_SETS`` when present, and the repository's fixtures. Settings of the
phone stage can be changed to compare (``--set phonemes.extra_recognizers=0``).

    python bench/bench_recognition.py [--sets DIR ...] [--seconds 60] [--long-s 60] [--mode aligned]
                                      [--set KEY=VALUE ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _conditions import wav  # noqa: E402
from _settings import overrides  # noqa: E402
from _speech import long_line  # noqa: E402
from bench_robustness import load_clips  # noqa: E402

from mien import Animator, EncodedAudio, LineRequest  # noqa: E402
from mien.audio import decode_audio  # noqa: E402
from mien.config import config_from_dict  # noqa: E402
from mien.pipeline import AnimationOptions  # noqa: E402
from support.lipsync import SCORER  # noqa: E402

GAP_S = 0.25  # silence between clips joined into a long line


def _default_sets() -> list[Path]:
    sets = []
    env = os.environ.get("MIEN_EVAL_SETS")
    if env:
        sets = [p for p in (Path(env) / "uqm" / "report", Path(env) / "tuxpaint" / "report") if p.exists()]
    return [*sets, ROOT / "tests" / "fixtures" / "speech"]


Line = tuple[str, np.ndarray, str, list[list[str]]]  # name, samples, transcript, reference rows


def _clips(d: Path) -> list[Line]:
    """The set's clips (``bench_robustness.load_clips``) with their reference rows, to join them."""
    out = []
    for clip in load_clips([d], 0):
        rows = [line.split("\t") for line in clip.ref.read_text().splitlines() if line.strip()]
        if rows and rows[0][0] == "start_s":
            rows = rows[1:]  # the header
        out.append((clip.name, clip.samples, clip.text, rows))
    return out


def _joined(clips: list[Line], long_s: float) -> list[Line]:
    """The clips joined in order into lines of about ``long_s`` seconds, with their transcripts and reference
    rows joined alike."""
    lines, parts, texts, rows, t = [], [], [], [], 0.0
    gap = np.zeros(int(GAP_S * 16000), dtype=np.float32)
    for _, x, text, ref in clips:
        if parts:
            parts.append(gap)
            rows.append([f"{t:.3f}", f"{t + GAP_S:.3f}", "SIL", ""])
            t += GAP_S
        for r in ref:
            rows.append([f"{float(r[0]) + t:.3f}", f"{float(r[1]) + t:.3f}", *r[2:]])
        parts.append(x)
        texts.append(text)
        t += len(x) / 16000
        if t >= long_s:
            lines.append((f"long{len(lines):02d}", np.concatenate(parts), " ".join(texts), rows))
            parts, texts, rows, t = [], [], [], 0.0
    if parts and t >= long_s / 2:
        lines.append((f"long{len(lines):02d}", np.concatenate(parts), " ".join(texts), rows))
    return lines


def _score(animator: Animator, clips: list[Line], tmp: Path, mode: str) -> dict[str, Any]:
    options = AnimationOptions(blink_scale=0.0, gaze_scale=0.0, micro_motion_scale=0.0)
    results = []
    for name, x, text, rows in clips:
        transcript = text if mode == "aligned" else None
        track = animator.animate(LineRequest(audio=EncodedAudio(wav(x)), transcript=transcript, mode=mode,
                                             options=options))
        (tmp / f"{name}.csv").write_text(track.to_csv())
        (tmp / f"{name}.phones.tsv").write_text("start_s\tend_s\tphone\tword\n"
                                                + "\n".join("\t".join(r) for r in rows) + "\n")
        results.append(SCORER.score_clip(SCORER.read_ref(str(tmp / f"{name}.phones.tsv")),
                                         SCORER.Curves.read_csv(str(tmp / f"{name}.csv"))))
    s = SCORER.summarize(results)
    return {k: s[k] for k in ("pbm", "vowel", "rest", "lag_ms", "jitter") if k in s} | {"clips": len(clips)}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", type=Path)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the speed line (0: no speed run)")
    parser.add_argument("--long-s", type=float, default=60.0, help="length of the joined lines (0: none)")
    parser.add_argument("--mode", choices=("recognized", "aligned"), default="recognized",
                        help="the path scored (the speed run is always the recognized path)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--json")
    args = parser.parse_args()
    config = config_from_dict({"state": {"db_path": ":memory:"}, **overrides(args.overrides)})
    animator = Animator(config)
    animator.recognizer.warm_up()
    out: dict[str, Any] = {"settings": args.overrides, "mode": args.mode}
    if args.seconds > 0:
        data, _ = long_line(args.seconds)
        audio = decode_audio(data, max_duration_s=3600)
        animator.recognizer.recognize(audio)  # every decoder loaded, caches warm
        started = time.perf_counter()
        animator.recognizer.recognize(audio)
        phones_s = time.perf_counter() - started
        started = time.perf_counter()
        animator.animate(LineRequest(audio=EncodedAudio(data), mode="recognized"))
        line_s = time.perf_counter() - started
        out["speed"] = {"audio_s": round(audio.duration_s, 2), "phone_stage_s": round(phones_s, 3),
                        "phone_stage_x_realtime": round(audio.duration_s / phones_s, 1),
                        "animate_s": round(line_s, 3), "animate_x_realtime": round(audio.duration_s / line_s, 1)}
        print(json.dumps(out["speed"]), flush=True)
    out["quality"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.sets or _default_sets():
            clips = _clips(d)
            label = f"{d.parent.name}/{d.name}" if d.name in ("report", "tune") else d.name
            row = {"clips": _score(animator, clips, Path(tmp), args.mode)}
            if args.long_s > 0:
                joined = _joined(clips, args.long_s)
                if joined:
                    row["joined"] = _score(animator, joined, Path(tmp), args.mode)
            out["quality"][label] = row
            print(label, json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
