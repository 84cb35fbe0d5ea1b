"""Benchmark of ``mien bake``: 200 lines of ~4 s, cold, warm (nothing changed) and one line changed.

Usage (from the repository root; about a minute on 2 cores)::

    python bench/bench_bake.py [--lines 200] [--jobs 2] [--keep DIR] [--check] [--json PATH]

The manifest is generated in a temporary folder: ``--lines`` lines over four characters (ARKit-52
with the sample face mesh and a persona, MetaHuman, VRM, Oculus visemes with an OCEAN
personality), each line one of six real speech fixtures of 2.8 to 6.1 s (mean 4.0 s) with its
transcript, distinct ids, emotions cycling through categories, intensities and keyframes, and
``auto`` emotions with made-up ``heard`` lines for the two characters with a personality;
``per_character_glb`` on. The audio files are symlinked into that folder (copied where symlinks
are not available), never duplicated in the repository.

Each bake is the command run as a subprocess, timed end to end (Python start-up and imports
included): ``mien bake`` when the ``mien`` front end has the command, else
``python -m mien_bake.cli`` (the same code). The report's own timings (planning, emotions,
baking, summed worker CPU) are printed too. ``--check`` exits 1 when cold > 60 s or warm > 5 s
(the issue's budget on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
CLIPS = ("cards_005", "librivox_0930", "librivox_0880", "librivox_0890", "librivox_0920", "goforward")
"""Six fixtures of 2.8 to 6.1 s, mean 4.0 s."""
FACE_MESH = "bake_sample_face.glb"
EMOTIONS = ("neutral", "happy:0.8", "sad:0.6", "angry:0.9", "fear:0.5", "disgust:0.7", "surprise:0.6",
            "vad:0.4,0.6,0.1", "0:neutral;1.5:angry:0.8", "0:happy;2:sad:0.5")
HEARD = ("Your prices are an outrage!", "Thank you, friend, that was kind.", "The wolves took my sheep again.",
         "I found your ring by the river.", "Get out of my way.", "Have you heard the king is dead?",
         "What a lovely morning it is.", "You lied to me about the map!")
CHARACTERS = {
    "smith": "{rig: arkit52, face_mesh: bake_sample_face.glb, persona: grumpy_blacksmith}",
    "guard": "{rig: metahuman}",
    "bard": "{rig: vrm}",
    "merchant": "{rig: oculus15, ocean: [0.6, 0.4, 0.7, 0.3, 0.8]}",
}
COLD_BUDGET_S = 60.0
WARM_BUDGET_S = 5.0


def _link(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst)
    except OSError:
        shutil.copy(src, dst)


def build_manifest(folder: Path, n_lines: int, seed: int = 0) -> Path:
    """Write the benchmark manifest (and link its audio) into ``folder``; returns its path."""
    rng = random.Random(seed)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for name in CLIPS:
        for ext in (".wav", ".txt"):
            _link(SPEECH / f"{name}{ext}", folder / "audio" / f"{name}{ext}")
    _link(SPEECH / FACE_MESH, folder / FACE_MESH)
    rows = ["version: 1", "defaults: {fps: 60, per_character_glb: true}", "characters:"]
    rows += [f"  {cid}: {body}" for cid, body in CHARACTERS.items()]
    rows.append("lines:")
    characters = list(CHARACTERS)
    for i in range(n_lines):
        cid = characters[i % len(characters)]
        clip = CLIPS[(i // len(characters) + i) % len(CLIPS)]
        row = f"  - {{id: {cid}_{i:04d}, character: {cid}, audio: audio/{clip}.wav, transcript_file: audio/{clip}.txt"
        if cid in ("smith", "merchant"):
            if rng.random() < 0.5:
                row += f", heard: {json.dumps(rng.choice(HEARD))}"
            row += f", game_time_s: {i * 5}"
        else:
            row += f", emotion: '{EMOTIONS[i % len(EMOTIONS)]}'"
        rows.append(row + "}")
    path = folder / "bench.yaml"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def bake_command() -> list[str]:
    """``mien bake`` through the front end when it has the command, else the bake's own entry point."""
    probe = subprocess.run([sys.executable, "-m", "mien", "bake", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "mien", "bake"]
    return [sys.executable, "-m", "mien_bake.cli"]


def timed_bake(command: list[str], manifest: Path, out: Path, jobs: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    # --allow-outside-inputs: the fixtures are symlinked into the generated manifest folder
    proc = subprocess.run([*command, str(manifest), "-o", str(out), "--jobs", str(jobs), "--progress", "none",
                           "--allow-outside-inputs"],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"bake failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall, json.loads((out / "bake_report.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", help="bake into this folder (kept) instead of a temporary one")
    parser.add_argument("--check", action="store_true", help="exit 1 if cold > 60 s or warm > 5 s")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    command = bake_command()
    with tempfile.TemporaryDirectory(prefix="mien-bench-bake-") as tmp:
        folder = Path(tmp) / "project"
        manifest = build_manifest(folder, args.lines)
        out = Path(args.keep) if args.keep else Path(tmp) / "out"
        if out.exists():
            shutil.rmtree(out)
        results: dict[str, Any] = {"lines": args.lines, "jobs": args.jobs, "cpus": os.cpu_count(),
                                   "command": " ".join(Path(c).name for c in command)}
        cold, report = timed_bake(command, manifest, out, args.jobs)
        audio_s = sum(line.get("audio_s", 0.0) for line in report["lines"])
        results["audio_s"] = round(audio_s, 1)
        results["cold"] = {"wall_s": round(cold, 2), "counts": report["counts"], "timings": report["timings"]}
        warm, report = timed_bake(command, manifest, out, args.jobs)
        results["warm"] = {"wall_s": round(warm, 2), "counts": report["counts"], "timings": report["timings"]}
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("emotion: 'happy:0.8'", "emotion: 'happy:0.7'", 1), encoding="utf-8")
        one, report = timed_bake(command, manifest, out, args.jobs)
        results["one_changed"] = {"wall_s": round(one, 2), "counts": report["counts"], "timings": report["timings"]}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import mien_bake.runner"], check=True)
        results["import_s"] = round(time.perf_counter() - start, 2)
    print(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    ok = cold <= COLD_BUDGET_S and warm <= WARM_BUDGET_S
    print(f"cold {cold:.1f} s (budget {COLD_BUDGET_S:g}), warm {warm:.1f} s (budget {WARM_BUDGET_S:g}), one line "
          f"changed {one:.1f} s; {audio_s:.0f} s of audio; Python start + imports alone {results['import_s']:.1f} s: "
          + ("within budget" if ok else "OVER BUDGET"))
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
