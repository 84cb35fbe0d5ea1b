#!/usr/bin/env python3
"""Robustness matrix of the aligned path: lip-sync quality and transcript checking per recording condition.

For every condition of ``bench/_conditions.py`` (telephone, radio, sample rates, 8-bit, MP3/OGG,
white and babble noise, reverb, levels, clipping) each clip is degraded, decoded by the sidecar's
own audio stage and animated with its correct transcript; the curves are scored with the reference
scorer against the reference timeline of the *clean* clip. Per condition:

* ``pbm``, ``vowel``, ``rest``, ``lag_ms`` (the reference scorer's definitions);
* ``false_mismatch``: the share of correct transcripts that got a "does not match the audio" warning
  (whole line or some words);
* ``detected``: the share of wrong transcripts that got one, per kind: ``other`` (a line of another
  speaker/source), ``same_speaker`` (another line of the same speaker), ``shuffled`` (the line's words in
  random order), ``one_word`` (one word replaced by a word of another line), ``foreign`` (a sentence in
  Spanish, French or German), ``missing`` (two consecutive words left out), ``extra`` (two words inserted).

Clips: the sets written by ``bench/eval_sets.py`` (``--sets DIR ...``, each holding X.wav, X.txt,
X.phones.tsv); by default the repository's fixtures plus, when ``$MIEN_EVAL_SETS`` names the output of
``eval_sets.py``, its held-out ``uqm/report`` and ``tuxpaint/report`` clips. Babble is made of the
``uqm/tune`` clips (never the clips measured), or of the fixtures when those are measured alone.

    python bench/bench_robustness.py [--sets DIR ...] [--conditions all|NAME,...] [--max-clips N]
                                     [--wrong N] [--set SECTION.KEY=VALUE ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from _conditions import CONDITIONS, Context, seed_of  # noqa: E402
from _settings import overrides  # noqa: E402

from mien import AnimationOptions, Animator, EncodedAudio, LineRequest, Track  # noqa: E402
from mien.config import config_from_dict  # noqa: E402
from support.lipsync import SCORER  # noqa: E402

MISMATCH = ("does not match the audio", "do not match the audio")  # whole line, some words
WRONG_KINDS = ("other", "same_speaker", "shuffled", "one_word", "foreign", "missing", "extra")
FILLER = ("indeed", "perhaps", "tomorrow", "captain", "of course", "right away")
FOREIGN = (  # written for this bench (Spanish, French, German): a transcript in another language
    "el capitan nos espera en el puerto antes de la noche",
    "no tengo tiempo para hablar contigo ahora mismo",
    "la porte du chateau est fermee depuis trois jours",
    "nous devons partir avant que la tempete arrive",
    "ich habe den schluessel im alten turm gefunden",
    "wir treffen uns morgen frueh am grossen tor",
)


@dataclass(frozen=True)
class Clip:
    name: str
    speaker: str
    samples: np.ndarray
    text: str
    ref: Path


def load_clips(dirs: list[Path], limit: int) -> list[Clip]:
    clips: list[Clip] = []
    for d in dirs:
        found = sorted(p.name[: -len(".phones.tsv")] for p in d.glob("*.phones.tsv"))
        if limit and len(found) > limit:  # an even spread over the set (speakers are contiguous by name)
            found = [found[int(i)] for i in np.linspace(0, len(found) - 1, limit).round()]
        for name in found:
            x, rate = sf.read(d / f"{name}.wav", dtype="float32")
            if rate != 16000:
                raise SystemExit(f"{d / name}.wav: evaluation clips are 16 kHz (bench/eval_sets.py writes them so)")
            parts = name.split("_")
            speaker = "_".join(parts[:2]) if parts[0] in ("uqm", "tux") else parts[0]
            clips.append(Clip(name, speaker, x, (d / f"{name}.txt").read_text().strip(), d / f"{name}.phones.tsv"))
    return clips


def wrong_transcripts(clips: list[Clip], n: int) -> list[tuple[int, str, str]]:
    """(clip index, kind, wrong text) for up to ``n`` clips per kind, deterministic."""
    rng = np.random.default_rng(12)
    out: list[tuple[int, str, str]] = []
    order = [int(i) for i in rng.permutation(len(clips))]
    for kind in WRONG_KINDS:
        made = 0
        for i in order:
            if made >= n:
                break
            c = clips[i]
            words = c.text.split()
            if kind == "other":
                others = [o for o in clips if o.speaker != c.speaker]
                text = others[int(rng.integers(len(others)))].text if others else ""
            elif kind == "same_speaker":
                same = [o for o in clips if o.speaker == c.speaker and o.text != c.text]
                text = same[int(rng.integers(len(same)))].text if same else ""
            elif kind == "shuffled":
                if len(words) < 4:
                    continue
                text = " ".join(words[int(j)] for j in rng.permutation(len(words)))
            elif kind == "one_word":
                if len(words) < 3:
                    continue
                pool = sorted({w for o in clips if o.speaker != c.speaker for w in o.text.split()
                               if len(w) >= 4} - set(words))
                if not pool:
                    continue
                k = int(rng.integers(len(words)))
                text = " ".join([*words[:k], pool[int(rng.integers(len(pool)))], *words[k + 1:]])
            elif kind == "foreign":
                text = FOREIGN[int(rng.integers(len(FOREIGN)))]
            elif kind == "missing":
                if len(words) < 5:
                    continue
                k = int(rng.integers(0, len(words) - 1))
                text = " ".join(words[:k] + words[k + 2:])
            else:
                k = int(rng.integers(0, len(words) + 1))
                text = " ".join([*words[:k], *FILLER[int(rng.integers(len(FILLER)))].split(), "now", *words[k:]])
            if text and text != c.text:
                out.append((i, kind, text))
                made += 1
    return out


def flagged(track: Track) -> bool:
    return any(m in w for m in MISMATCH for w in track.info.warnings)


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", type=Path)
    parser.add_argument("--conditions", default="all", help="'all' or comma-separated condition names (prefixes)")
    parser.add_argument("--max-clips", type=int, default=0, help="at most this many clips per set (0: all)")
    parser.add_argument("--wrong", type=int, default=12, help="wrong transcripts per kind and condition")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting changed from the defaults, to compare (e.g. phonemes.extra_recognizers=0)")
    parser.add_argument("--json")
    args = parser.parse_args()

    sets = args.sets
    babble_dirs: list[Path] = []
    if not sets:
        sets = [ROOT / "tests" / "fixtures" / "speech"]
        env = os.environ.get("MIEN_EVAL_SETS")
        if env and (Path(env) / "uqm" / "report").exists():
            sets = [Path(env) / "uqm" / "report", Path(env) / "tuxpaint" / "report", *sets]
            babble_dirs = [Path(env) / "uqm" / "tune"]
    clips = load_clips(sets, args.max_clips)
    babble_src = [c.samples for c in load_clips(babble_dirs, 40)] if babble_dirs else [c.samples for c in clips]
    wanted = list(CONDITIONS) if args.conditions == "all" else [
        n for n in CONDITIONS if any(n.startswith(p.strip()) for p in args.conditions.split(","))]
    wrong = wrong_transcripts(clips, args.wrong)

    config = config_from_dict({"state": {"db_path": ":memory:"}, **overrides(args.overrides)})
    animator = Animator(config)
    animator.recognizer.warm_up()
    options = AnimationOptions(blink_scale=0.0, gaze_scale=0.0, micro_motion_scale=0.0)
    pool = ThreadPoolExecutor(max_workers=args.threads)
    results: dict[str, dict[str, object]] = {}
    audio_s = sum(len(c.samples) for c in clips) / 16000
    print(f"{len(clips)} clips ({audio_s:.0f} s) from {', '.join(str(s) for s in sets)}; "
          f"{len(wrong)} wrong transcripts per condition", flush=True)
    started_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for cname in wanted:
            started = time.perf_counter()
            condition = CONDITIONS[cname]
            data = {c.name: condition(c.samples, Context(seed_of(c.name), [b for b in babble_src
                                                                            if b is not c.samples]))
                    for c in clips}

            def run(name: str, text: str, data: dict[str, bytes] = data) -> Track:
                return animator.animate(LineRequest(audio=EncodedAudio(data[name]), transcript=text, options=options))

            correct = list(pool.map(lambda c: run(c.name, c.text), clips))
            scored = []
            for c, track in zip(clips, correct, strict=True):
                path = Path(tmp) / f"{c.name}.csv"
                path.write_text(track.to_csv())
                scored.append(SCORER.score_clip(SCORER.read_ref(str(c.ref)), SCORER.Curves.read_csv(str(path))))
            s = SCORER.summarize(scored)
            wrong_tracks = list(pool.map(lambda w: run(clips[w[0]].name, w[2]), wrong))
            detected = {k: [flagged(t) for (_, kind, _), t in zip(wrong, wrong_tracks, strict=True) if kind == k]
                        for k in WRONG_KINDS}
            all_wrong = [x for v in detected.values() for x in v]
            false = [c.name for c, t in zip(clips, correct, strict=True) if flagged(t)]
            row: dict[str, object] = {
                "pbm": s["pbm"], "vowel": s["vowel"], "rest": s["rest"], "lag_ms": s["lag_ms"],
                "false_mismatch": round(len(false) / len(clips), 4), "false_mismatch_n": len(false),
                "detected": round(float(np.mean(all_wrong)), 4) if all_wrong else float("nan"),
                **{f"detected_{k}": round(float(np.mean(v)), 4) if v else float("nan") for k, v in detected.items()},
                "clips": len(clips), "wrong_n": len(all_wrong), "seconds": round(time.perf_counter() - started, 1),
                "falsely_flagged": false[:10],
            }
            results[cname] = row
            print(f"{cname:40s} pbm {row['pbm']:.3f} vowel {row['vowel']:.3f} rest {row['rest']:.3f} "
                  f"lag {row['lag_ms']:+.0f} false {row['false_mismatch']:.3f} ({len(false)}) "
                  f"detected {row['detected']:.3f} "
                  + " ".join(f"{k}={row[f'detected_{k}']:.2f}" for k in WRONG_KINDS)
                  + f"  [{row['seconds']:.0f} s]", flush=True)
    pool.shutdown()
    worst = {k: min(float(r[k]) for r in results.values()) for k in ("pbm", "detected")}  # type: ignore[arg-type]
    summary = {"clips": len(clips), "audio_s": round(audio_s, 1), "sets": [str(s) for s in sets],
               "wrong_per_condition": len(wrong), "conditions": results,
               "worst_pbm": worst["pbm"], "worst_detected": worst["detected"],
               "detected_overall": round(float(np.mean([r["detected"] for r in results.values()])), 4),  # type: ignore[arg-type]
               "worst_false_mismatch": max(float(r["false_mismatch"]) for r in results.values()),  # type: ignore[arg-type]
               "seconds": round(time.perf_counter() - started_all, 1)}
    print(json.dumps({k: v for k, v in summary.items() if k != "conditions"}))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
