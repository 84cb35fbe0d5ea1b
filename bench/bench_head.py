"""Benchmark of head motion from prosody (``mien.head``, issue 16).

Usage (from the repository root; about half a minute on 2 cores)::

    python bench/bench_head.py [--json PATH] [--check]

Figures, on the real speech fixtures (tests/fixtures/speech, "fixtures") and on a held-out set
synthesised here with espeak-ng (four voices, pitch 35-75, rate 140-190 wpm; never used to tune):

* **accent correlation**: Pearson r between the head's downward pitch velocity (-d headPitch/dt,
  deg/s) and an indicator of the 250 ms after each pitch accent, over every frame of each line.
  The accents come from an independent whole-line (non-causal) analysis: local F0 maxima of
  ``mien.prosody.line_pitch_hz`` at least 1.5 semitones above the line's median on 5 voiced hops
  (Ladd's criterion, as ``mien.prosody.analyse`` uses), not from the head's own causal detector.
  Also r for the head speed |d headPitch/dt|.
* **pauses**: each line followed by 3 s of silence and itself again; the largest peak-to-peak
  range of any head angle from 1 s after the pause began to its end (settled motion).
* **determinism / look-ahead**: the same line twice with one seed (max difference), two seeds
  (must differ), and the stream: the line fed in random 1-3000-sample chunks, rendered as frames
  become ready, against the whole line (max difference; 0 = 0 ms extra look-ahead).
* **cost**: milliseconds of CPU per second of audio for the head stage.

``--check`` exits 1 when the mean accent correlation is not > 0 on either set, a pause moves
0.5 deg or more, or a stream differs from its line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sidecar"))

from mien.audio import decode_audio  # noqa: E402
from mien.channels import CHANNELS, INDEX  # noqa: E402
from mien.head import HeadMotion  # noqa: E402
from mien.prosody import line_pitch_hz  # noqa: E402

SPEECH = ROOT / "tests" / "fixtures" / "speech"
FPS = 60.0
RATE = 16000
HELD_OUT = [
    ("en-us", 35, 150, "I told you already, the bridge is closed until the storm passes over the valley."),
    ("en", 60, 170, "Nobody comes to this village anymore, not since the mines fell silent."),
    ("en-us+f3", 70, 190, "Really? You found the key under the old oak tree? That changes everything!"),
    ("en+m3", 45, 140, "Keep your voice down. The guards change shifts at midnight, and then we move."),
    ("en-us+f2", 75, 160, "Welcome, traveller. Rest by the fire and tell me where your road has taken you."),
    ("en+m1", 50, 180, "Gold, silver, copper coins, I will take them all, but I do not bargain twice."),
]


def head_angles(samples: np.ndarray, seed: int = 1, chunks: list[int] | None = None) -> np.ndarray:
    head = HeadMotion(seed, FPS)
    n = int(np.floor(len(samples) / RATE * FPS)) + 1
    out = np.zeros((n, len(CHANNELS)))
    fed = done = 0
    for size in [*(chunks or []), len(samples)]:
        head.feed(samples[fed:fed + size])
        fed = min(len(samples), fed + size)
        ready = n if fed >= len(samples) else int(np.floor(fed / RATE * FPS)) + 1
        if ready > done:
            head.render(out[done:ready], done, np.zeros((ready - done, 3)))
            done = ready
        if fed >= len(samples):
            break
    return out[:, [INDEX["headYaw_deg"], INDEX["headPitch_deg"], INDEX["headRoll_deg"]]]


def reference_accents(samples: np.ndarray) -> np.ndarray:
    """Pitch-accent times (s) from the whole line: voiced local F0 maxima >= 1.5 st above the median."""
    f0 = line_pitch_hz(samples, RATE)
    voiced = f0 > 0
    if voiced.sum() < 5:
        return np.zeros(0)
    semis = np.zeros_like(f0)
    semis[voiced] = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    times: list[float] = []
    for i in range(2, len(f0) - 2):
        if voiced[i - 2:i + 3].all() and semis[i] >= 1.5 and semis[i] == semis[i - 2:i + 3].max():
            if not times or i * 0.01 - times[-1] >= 0.25:
                times.append(i * 0.01)
    return np.array(times)


def accent_correlation(samples: np.ndarray) -> tuple[float, float, int]:
    pitch = head_angles(samples)[:, 1]
    velocity = np.diff(pitch) * FPS
    t = (np.arange(len(velocity)) + 0.5) / FPS
    accents = reference_accents(samples)
    near = np.zeros(len(velocity))
    for a in accents:
        near[(t >= a) & (t < a + 0.25)] = 1.0
    if not near.any() or near.all():
        return float("nan"), float("nan"), len(accents)
    return (float(np.corrcoef(-velocity, near)[0, 1]), float(np.corrcoef(np.abs(velocity), near)[0, 1]),
            len(accents))


def pause_motion(samples: np.ndarray, pause_s: float = 3.0, settle_s: float = 1.0) -> float:
    line = np.concatenate([samples, np.zeros(int(pause_s * RATE), np.float32), samples])
    angles = head_angles(line)
    start = len(samples) / RATE
    frames = slice(int(np.ceil((start + settle_s) * FPS)), int((start + pause_s) * FPS))
    return float(np.ptp(angles[frames], axis=0).max())


def load_fixtures() -> dict[str, np.ndarray]:
    return {p.stem: decode_audio(p.read_bytes(), max_duration_s=120).samples for p in sorted(SPEECH.glob("*.wav"))}


def synthesise_held_out(folder: Path) -> dict[str, np.ndarray]:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return {}
    out = {}
    for i, (voice, pitch, rate, text) in enumerate(HELD_OUT):
        wav = folder / f"held_{i}.wav"
        subprocess.run([espeak, "-v", voice, "-p", str(pitch), "-s", str(rate), "-w", str(wav), text], check=True,
                       capture_output=True)
        out[f"espeak_{voice}_{pitch}"] = decode_audio(wav.read_bytes(), max_duration_s=120).samples
    return out


def evaluate(lines: dict[str, np.ndarray]) -> dict[str, object]:
    per_line = {}
    for name, x in lines.items():
        r_down, r_speed, n_accents = accent_correlation(x)
        per_line[name] = {"r_downward_velocity": r_down, "r_speed": r_speed, "accents": n_accents,
                          "pause_ptp_deg": pause_motion(x)}
    rs = [v["r_downward_velocity"] for v in per_line.values() if np.isfinite(v["r_downward_velocity"])]
    speeds = [v["r_speed"] for v in per_line.values() if np.isfinite(v["r_speed"])]
    return {
        "lines": len(lines),
        "r_downward_velocity_mean": float(np.mean(rs)) if rs else float("nan"),
        "r_downward_velocity_min": float(np.min(rs)) if rs else float("nan"),
        "r_speed_mean": float(np.mean(speeds)) if speeds else float("nan"),
        "lines_with_r_above_0": int(sum(r > 0 for r in rs)),
        "pause_ptp_deg_max": max(v["pause_ptp_deg"] for v in per_line.values()),
        "per_line": per_line,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 when an acceptance figure is missed")
    args = parser.parse_args()

    fixtures = load_fixtures()
    with tempfile.TemporaryDirectory() as tmp:
        held_out = synthesise_held_out(Path(tmp))
    result: dict[str, object] = {"fixtures": evaluate(fixtures), "held_out": evaluate(held_out) if held_out else {}}

    x = fixtures["librivox_0870"]
    chunks = [int(c) for c in np.random.default_rng(0).integers(1, 3000, size=5000)]
    whole = head_angles(x, seed=3)
    result["same_seed_max_diff_deg"] = float(np.abs(head_angles(x, seed=3) - whole).max())
    result["other_seed_differs"] = bool(not np.array_equal(head_angles(x, seed=4), whole))
    result["stream_vs_line_max_diff_deg"] = max(
        float(np.abs(head_angles(y, seed=3, chunks=chunks) - head_angles(y, seed=3)).max()) for y in fixtures.values())
    total_s = sum(len(y) for y in fixtures.values()) / RATE
    start = time.process_time()
    for y in fixtures.values():
        head_angles(y)
    result["cpu_ms_per_audio_s"] = (time.process_time() - start) * 1000.0 / total_s

    fx, ho = result["fixtures"], result["held_out"]
    assert isinstance(fx, dict) and isinstance(ho, dict)
    print(f"fixtures ({fx['lines']} lines): accent r (downward velocity) mean {fx['r_downward_velocity_mean']:+.3f}, "
          f"min {fx['r_downward_velocity_min']:+.3f}, {fx['lines_with_r_above_0']} lines > 0; "
          f"r (speed) {fx['r_speed_mean']:+.3f}; pause motion max {fx['pause_ptp_deg_max']:.3f} deg")
    if ho:
        print(f"held-out espeak ({ho['lines']} lines): accent r mean {ho['r_downward_velocity_mean']:+.3f}, "
              f"min {ho['r_downward_velocity_min']:+.3f}; pause motion max {ho['pause_ptp_deg_max']:.3f} deg")
    print(f"same seed max diff {result['same_seed_max_diff_deg']:.3g} deg; other seed differs "
          f"{result['other_seed_differs']}; stream vs line max diff {result['stream_vs_line_max_diff_deg']:.3g} deg; "
          f"cost {result['cpu_ms_per_audio_s']:.1f} ms CPU per s of audio")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    ok = (fx["r_downward_velocity_mean"] > 0 and (not ho or ho["r_downward_velocity_mean"] > 0)
          and fx["pause_ptp_deg_max"] < 0.5 and (not ho or ho["pause_ptp_deg_max"] < 0.5)
          and result["stream_vs_line_max_diff_deg"] == 0.0 and result["same_seed_max_diff_deg"] == 0.0
          and result["other_seed_differs"])
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
