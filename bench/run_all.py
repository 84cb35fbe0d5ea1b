#!/usr/bin/env python3
"""Run every benchmark and write the table of performance figures (``make bench``).

    python bench/run_all.py                          # all benchmarks, ~10 minutes on 2 cores -> docs/benchmarks.md
    python bench/run_all.py --quick --out /tmp/b.md  # smaller sizes, ~2 minutes: a smoke check, not figures
    python bench/run_all.py --only lipsync,neural --json /tmp/raw.json

Each benchmark script in ``bench/`` runs as its own subprocess (one after the other, so they do not
compete for the CPU; the latency-sensitive ones first, the streaming load tests that saturate the
machine last), with a timeout; its output and raw JSON are kept in ``--logs`` (build/bench).
The markdown file has the machine (CPU, cores, RAM, OS, Python, library versions, load average,
date, git commit), one table with every figure, its target from the issues and a pass/fail mark,
the lip-sync scores of every path beside the naive loudness-envelope baseline, and the exact
command behind each figure. A benchmark that fails or times out gets "failed: <reason>" in its
rows; the others are still run and written, and the exit status is then 1. ``--check`` also exits 1
when a figure misses its target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = "mien_a2c.onnx"
EMOFACE_CLIP = Path("dataset") / "validation" / "WAV" / "angry_gd04_001_021.wav"

Raw = dict[str, Any]


# --------------------------------------------------------------------------------------- the machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def load_average() -> str:
    return " ".join(_read("/proc/loadavg").split()[:3]) or "?"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    mem = re.search(r"MemTotal:\s+(\d+) kB", _read("/proc/meminfo"))
    os_name = next((line.split("=", 1)[1].strip().strip('"') for line in _read("/etc/os-release").splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.system())
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 0
    commit = _git("rev-parse", "--short=12", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "CPU": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "RAM": f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "?",
        "OS": f"{os_name}, kernel {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "libraries": ", ".join(f"{d} {_version(d)}" for d in ("mien", "onnxruntime", "torch", "numpy", "grpcio")),
        "load average at start": f"{load_average()} (1, 5, 15 min; other work on the machine is not stopped)",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git commit": commit,
    }


def bundled_model() -> Path | None:
    """The neural model the benchmarks load by default (the installed package's), or None."""
    spec = importlib.util.find_spec("mien")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "models" / MODEL_FILE
    return path if path.is_file() else None


def emoface_data() -> Path | None:
    """The EmoFace data folder bench_metahuman.py would find, or None."""
    places = [Path(os.environ["MIEN_EMOFACE_DATA"])] if os.environ.get("MIEN_EMOFACE_DATA") else []
    places += [Path("/work/shared/emoface_data"), ROOT.parent / "shared" / "emoface_data"]
    return next((p for p in places if (p / EMOFACE_CLIP).is_file()), None)


# ------------------------------------------------------------------------------------------ figures


@dataclass
class Figure:
    """One row of the table: ``value(raw)`` (KeyError/TypeError/IndexError when absent), shown by ``show``."""

    label: str
    value: Callable[[Raw], Any]
    show: Callable[[Any], str]
    target: str = ""
    ok: Callable[[Any], bool] | None = None
    needs_model: bool = False


@dataclass
class Row:
    area: str
    label: str
    value: str
    target: str
    result: str
    bench: str


@dataclass
class Outcome:
    """How one benchmark's run went."""

    name: str
    command: str
    status: str = "ok"
    """ok, failed or not run."""
    reason: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    load_before: str = ""
    raw: Raw = field(default_factory=dict)


@dataclass
class Options:
    quick: bool
    logs: Path
    model: Path | None


@dataclass
class Bench:
    name: str
    area: str
    script: str
    args: Callable[[Options], list[str]]
    figures: list[Figure]
    timeout_s: Callable[[Options], float]
    json_file: bool = True
    """The script writes ``--json PATH``; otherwise ``parse`` reads its stdout."""
    parse: Callable[[str], Raw] | None = None
    ok_codes: tuple[int, ...] = (0,)
    skip: Callable[[Options], str | None] = lambda _: None
    """A reason not to run it here (``not run: ...``), or None."""
    extra: Callable[[Raw, Options], None] = lambda raw, opts: None
    """Adds figures computed outside the subprocess (e.g. from files) to ``raw``."""


def _num(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "?"
    return f"{x:,.{digits}f}"


def _pair(unit: str, digits: int = 1) -> Callable[[Any], str]:
    return lambda v: f"{_num(v[0], digits)} / {_num(v[1], digits)} {unit}"


def _rt(key: str, seconds_key: str) -> Callable[[Raw], tuple[float, float, float]]:
    return lambda r: (r[key], r[seconds_key], r["audio_s"])


def _show_rt(v: tuple[float, float, float]) -> str:
    return f"×{_num(v[0])} real time ({_num(v[1], 2)} s for {_num(v[2])} s of audio)"


def _p(section: Callable[[Raw], Raw]) -> Callable[[Raw], tuple[float, float]]:
    return lambda r: (section(r)["p50"], section(r)["p99"])


def _vs_copy_previous(row: str) -> Callable[[Raw], tuple[float, float, float, float]]:
    """PELD row minus copy-previous: (d macro-F1, d weighted-F1, their 95 % interval low ends)."""
    def value(r: Raw) -> tuple[float, float, float, float]:
        b = r["peld"]["rows"][row]["vs_copy_previous"]
        return b["macro_f1_diff"], b["weighted_f1_diff"], b["macro_f1_ci95"][0], b["weighted_f1_ci95"][0]
    return value


# lip-sync: (key in bench_lipsync's JSON, label, {metric: threshold}, source of the targets)
LIPSYNC_PATHS: list[tuple[str, str, dict[str, float], str]] = [
    ("aligned (transcript)", "aligned (transcript)", {"pbm": 0.95, "vowel": 0.90, "rest": 0.95, "lag_ms": 20}, "#2"),
    ("recognized (no transcript)", "recognized (no transcript)",
     {"pbm": 0.80, "vowel": 0.85, "rest": 0.95, "lag_ms": 40}, "#2"),
    ("neural (no transcript)", "neural (no transcript)", {"pbm": 0.85, "vowel": 0.85, "rest": 0.95, "lag_ms": 40},
     "#4"),
    ("loudness baseline", "naive baseline: jaw = loudness envelope", {}, ""),
]
LIPSYNC_METRICS = [("pbm", "PBM closure"), ("vowel", "open vowel"), ("rest", "rest in silence"), ("lag_ms", "lag")]
LIPSYNC_SHORT = {"pbm": "PBM", "vowel": "vowel", "rest": "rest"}


def _lip_ok(metric: str, threshold: float) -> Callable[[Any], bool]:
    if metric == "lag_ms":
        return lambda v: abs(v) <= threshold
    return lambda v: v >= threshold


def _lip_target(metric: str, threshold: float, named: bool = False) -> str:
    if metric == "lag_ms":
        return f"|lag| ≤ {threshold:g} ms"
    return f"{LIPSYNC_SHORT[metric] + ' ' if named else ''}≥ {threshold:.2f}"


def _lip_value(key: str, metric: str) -> Callable[[Raw], float]:
    return lambda r: float(r["paths"][key][metric])


def _lip_show(metric: str) -> Callable[[float], str]:
    return (lambda v: f"{v:+.0f} ms") if metric == "lag_ms" else (lambda v: f"{v:.3f}")


def _lip_figures() -> list[Figure]:
    out = []
    for key, label, targets, source in LIPSYNC_PATHS:
        for metric, name in LIPSYNC_METRICS:
            threshold = targets.get(metric)
            out.append(Figure(
                f"{label}: {name}",
                _lip_value(key, metric),
                _lip_show(metric),
                f"{_lip_target(metric, threshold)} ({source})" if threshold is not None else "— (reference)",
                _lip_ok(metric, threshold) if threshold is not None else None,
                needs_model=key.startswith("neural"),
            ))
    return out


def _worst_of(raw: Raw, key: str, high: bool = False) -> str:
    """The condition where ``key`` is worst (lowest, or highest with ``high``)."""
    rows = raw["conditions"]
    return (max if high else min)(rows, key=lambda name: rows[name][key])


def _neural_extra(raw: Raw, opts: Options) -> None:
    """Parameter count from the model's metadata (bench_neural.py does not report it)."""
    if opts.model is None:
        return
    try:
        meta = json.loads(opts.model.with_name(opts.model.name + ".json").read_text(encoding="utf-8"))
        raw["parameters"] = int(meta["parameters"])
    except (OSError, ValueError, KeyError, TypeError):
        pass


def _metahuman_parse(stdout: str) -> Raw:
    raw: Raw = {"modes": {}}
    if stdout.startswith("bench_metahuman: skipped"):
        raw["_not_run"] = "data absent (" + stdout.split(":", 2)[-1].strip()[:200] + ")"
    for mode, r, lag in re.findall(r"^\s+(\w+)\s+r = ([+-]?[\d.]+) at lag ([+-]?\d+) ms", stdout, re.MULTILINE):
        raw["modes"][mode] = {"r": float(r), "lag_ms": int(lag)}
    return raw


def _no_model(opts: Options) -> str | None:
    return None if opts.model else "no bundled model"


def _no_emoface(opts: Options) -> str | None:
    return None if emoface_data() else "data absent (EmoFace validation clip, ../shared/emoface_data)"


def _load_args(streams: int, seconds: int, replicas: int, extra_clients: bool,
               chunk_ms: int = 40) -> Callable[[Options], list[str]]:
    """With the extra clients, the sidecar gets ``limits.max_stream_lag_s: 2`` (off by default, docs/scaling.md)
    so that the half-real-time client is timed out too."""
    def args(opts: Options) -> list[str]:
        if opts.quick:
            streams_, seconds_, warmup = min(streams, 4), min(seconds, 5), ["--warmup-s", "1"]
        else:
            streams_, seconds_, warmup = streams, seconds, []
        return ["--streams", str(streams_), "--seconds", str(seconds_), "--replicas", str(replicas),
                *(["--chunk-ms", str(chunk_ms)] if chunk_ms != 40 else []), *warmup,
                *(["--max-lag-s", "2"] if extra_clients else ["--no-extra"])]
    return args


def _load_extra(raw: Raw, opts: Options) -> None:
    config = raw.get("config", {})
    raw["_seconds"] = float(config.get("seconds") or 0)
    raw["_model"] = "bundled model" if opts.model else "test toy model (no bundled model)"
    raw["_setup"] = (f"{config.get('replicas', 1)} sidecars behind nginx grpc_pass" if config.get("replicas", 1) > 1
                     else "one sidecar") + f", {config.get('chunk_ms', 40)} ms chunks"


def _load_streams(target: str) -> Figure:
    return Figure("streams: errors",
                  lambda r: (r["streams"], r["_seconds"], r["errors"], r["frames"], r["_model"], r["_setup"],
                             r.get("error_codes") or [], r["wall_s"]),
                  lambda v: f"{v[2]} errors in {v[0]} streams × {v[1]:g} s ({v[3]:,} frames; {v[4]}; {v[5]}; "
                  f"wall {v[7]:g} s)" + (f": {'; '.join(v[6])[:200]}" if v[6] else ""),
                  target, lambda v: v[2] == 0)


def _load_latency(target: str = "", ok: Callable[[Any], bool] | None = None) -> Figure:
    return Figure("frame latency (look-ahead audio sent → frame received): p50 / p99",
                  _p(lambda r: r["latency_ms"]), _pair("ms"), target, ok)


def _load_memory() -> list[Figure]:
    return [
        Figure("sidecar RSS under load (summed over replicas): before / after / peak",
               lambda r: (r["rss_mb"]["before"], r["rss_mb"]["after"], r["rss_mb"]["peak"]),
               lambda v: f"{_num(v[0], 0)} / {_num(v[1], 0)} / {_num(v[2], 0)} MB"),
        Figure("memory growth over the measured round", lambda r: r["rss_mb"]["growth_pct"],
               lambda v: f"{v:+.1f} %", "≤ 10 % (#8)", lambda v: v <= 10),
    ]


def _extra_clients(r: Raw) -> tuple[str, bool]:
    clients = r["extra_clients"]
    if not clients:
        raise KeyError("extra_clients")
    text = "; ".join(f"{name}: {c.get('code')} after {c.get('ended_after_s')} s" for name, c in clients.items())
    return text, all(c.get("code") != "OK" for c in clients.values()) and r["errors"] == 0


MB = 1e6


BENCHES: list[Bench] = [
    Bench(
        "lipsync", "lip-sync (real fixtures, reference scorer)", "bench/bench_lipsync.py", lambda o: [],
        _lip_figures(), lambda o: 300,
    ),
    Bench(
        "speed", "offline real-time factor (60 s of real speech)", "bench/bench_speed.py",
        lambda o: ["--seconds", "10" if o.quick else "60"],
        [
            Figure("aligned: `mien animate` CLI end to end (new process, CSV written), best of 3",
                   _rt("aligned_cli_wall_x_realtime", "aligned_cli_wall_s"), _show_rt),
            Figure("aligned: in-process `Animator.animate`, best of 3",
                   _rt("aligned_inprocess_x_realtime", "aligned_inprocess_s"), _show_rt,
                   "≤ 3 s wall for 60 s, i.e. ≥ ×20 (#2)", lambda v: v[0] >= 20),
            Figure("recognized (no transcript): in-process",
                   _rt("recognized_inprocess_x_realtime", "recognized_inprocess_s"), _show_rt),
            Figure("neural: in-process whole line (model + eyes + rig), onnxruntime 1 thread, best of 3",
                   _rt("neural_inprocess_x_realtime", "neural_inprocess_s"), _show_rt, needs_model=True),
        ],
        lambda o: 420,
    ),
    Bench(
        "robustness", "aligned path under recording conditions (robustness matrix; clean-clip references)",
        "bench/bench_robustness.py",
        lambda o: ["--conditions", "clean,telephone", "--max-clips", "4", "--wrong", "2"] if o.quick else [],
        [
            Figure("worst PBM over the conditions", lambda r: (r["worst_pbm"], _worst_of(r, "pbm")),
                   lambda v: f"{v[0]:.3f} ({v[1]})", "≥ 0.93 in every condition (#12)", lambda v: v[0] >= 0.93),
            Figure("worst false-mismatch rate on correct transcripts",
                   lambda r: (r["worst_false_mismatch"], _worst_of(r, "false_mismatch", high=True)),
                   lambda v: f"{100 * v[0]:.1f} % ({v[1]})", "≤ 2 % in every condition (#12)",
                   lambda v: v[0] <= 0.02),
            Figure("wrong transcripts detected, all conditions and kinds", lambda r: r["detected_overall"],
                   lambda v: f"{100 * v:.1f} %", "≥ 95 % (#12)", lambda v: v >= 0.95),
        ],
        lambda o: 300 if o.quick else 3600,
    ),
    Bench(
        "neural", "neural model (one core)", "bench/bench_neural.py",
        lambda o: ["--seconds", "10", "--repeats", "2"] if o.quick else ["--seconds", "60", "--repeats", "5"],
        [
            Figure("offline RTF, log-mel + model, 1 thread: best / median",
                   lambda r: (r["offline_x_realtime"]["best"], r["offline_x_realtime"]["median"]),
                   lambda v: f"×{_num(v[0])} / ×{_num(v[1])} real time", "≥ ×200 (median) (#4)",
                   lambda v: v[1] >= 200, needs_model=True),
            Figure("offline RTF, whole neural line through `Animator`: best / median",
                   lambda r: (r["animator_line_x_realtime"]["best"], r["animator_line_x_realtime"]["median"]),
                   lambda v: f"×{_num(v[0])} / ×{_num(v[1])} real time", needs_model=True),
            Figure("streaming per-frame latency, in process (20 ms chunk: features + model step): p50 / p99",
                   _p(lambda r: r["stream_chunk_20ms_ms"]), _pair("ms", 2),
                   "p99 ≤ 30 ms beyond the look-ahead (#4)", lambda v: v[1] <= 30, needs_model=True),
            Figure("model step, one frame: p50 / p99", _p(lambda r: r["model_step_1_frame_ms"]), _pair("ms", 3),
                   needs_model=True),
            Figure("look-ahead (audio needed after a frame's time)", lambda r: r["lookahead_ms"],
                   lambda v: f"{_num(v)} ms", "≤ 80 ms (#4)", lambda v: v <= 80, needs_model=True),
            Figure("model size (ONNX file)", lambda r: r["onnx_bytes"] / MB, lambda v: f"{_num(v, 2)} MB",
                   "≤ 5 MB (#4)", lambda v: v <= 5, needs_model=True),
            Figure("model parameters (from its .onnx.json)", lambda r: r["parameters"], lambda v: f"{v:,}",
                   needs_model=True),
        ],
        lambda o: 240, skip=_no_model, extra=_neural_extra,
    ),
    Bench(
        "emotion", "emotion state, in process (100 NPCs)", "bench/bench_emotion_state.py",
        lambda o: (["--seconds", "3", "--npcs", "20", "--bursts", "1", "--sequential", "40", "--saturation", "160"]
                   if o.quick else []),
        [
            Figure("`ObserveUtterance` latency, scene (8 clients, 50 updates/s, fresh lines): p50 / p99",
                   _p(lambda r: r["scene"]), _pair("ms"), "p99 ≤ 30 ms (#6)", lambda v: v[1] <= 30),
            Figure("text encoder, one fresh utterance, wall: p50 / p99", _p(lambda r: r["encoder"]["wall"]),
                   _pair("ms", 2), "≤ 20 ms per utterance (#6)", lambda v: v[1] <= 20),
            Figure("text encoder size (int8 ONNX)", lambda r: r["encoder"]["bytes"] / MB,
                   lambda v: f"{_num(v)} MB"),
            Figure("service time, one call at a time, line said to the NPC: p50 / p99",
                   _p(lambda r: r["service_other"]), _pair("ms")),
            Figure("burst: every NPC at once, different fresh lines: p50 / p99",
                   _p(lambda r: r["burst_different"]), _pair("ms")),
            Figure("burst: every NPC at once, one shared line: p50 / p99",
                   _p(lambda r: r["burst_shared"]), _pair("ms")),
            Figure("saturation (16 threads back to back)", lambda r: r["saturation"]["updates_per_s"],
                   lambda v: f"{_num(v, 0)} updates/s"),
            Figure("process RSS with the engine loaded and used", lambda r: r["rss_final_mb"],
                   lambda v: f"{_num(v, 0)} MB"),
        ],
        lambda o: 420,
    ),
    Bench(
        "behaviour", "emotion state behaviour (behavioural suite, PELD test)", "bench/bench_emotion_behaviour.py",
        lambda o: ["--resamples", "200" if o.quick else "2000"],
        [
            Figure("behavioural suite, held-out part (never tuned on): default / no personality / no appraisal",
                   lambda r: tuple(r["behaviour"][f"heldout/{a}"]["percent"]
                                   for a in ("none", "no_personality", "no_appraisal")),
                   lambda v: " / ".join(f"{_num(x)} %" for x in v), "≥ 95 % (#17)", lambda v: v[0] >= 95),
            Figure("behavioural suite, dev part (tuned on): default / no personality / no appraisal",
                   lambda r: tuple(r["behaviour"][f"dev/{a}"]["percent"]
                                   for a in ("none", "no_personality", "no_appraisal")),
                   lambda v: " / ".join(f"{_num(x)} %" for x in v)),
            *[Figure(f"PELD test, {label} − copy-previous: macro-F1 / weighted-F1 (95 % CI low ends)",
                     _vs_copy_previous(row),
                     lambda v: f"{v[0]:+.4f} / {v[1]:+.4f} ({v[2]:+.4f} / {v[3]:+.4f})",
                     "both ≥ +0.02, CI above 0 (#17)", lambda v: min(v[0], v[1]) >= 0.02 and min(v[2], v[3]) > 0)
              for label, row in (("default (appraisal)", "appraisal"), ("peld option", "peld_head"))],
            Figure("PELD test, predictions the no-personality ablation changes (default model)",
                   lambda r: r["peld"]["rows"]["appraisal_no_personality"]["predictions_differ_from_full"],
                   lambda v: f"{v} predictions", "> 0 (#17)", lambda v: v > 0),
        ],
        lambda o: 300,
    ),
    Bench(
        "sidecar", "whole sidecar (every model loaded; gRPC)", "bench/bench_emotion_state.py",
        lambda o: ["--sidecar", *(["--seconds", "3", "--npcs", "20", "--bursts", "1"] if o.quick else [])],
        [
            Figure("sidecar RSS after start, every model loaded", lambda r: r["sidecar"]["rss_started_mb"],
                   lambda v: f"{_num(v, 0)} MB", "≤ 400 MB (#4)", lambda v: v <= 400),
            Figure("sidecar RSS after the gRPC scenarios", lambda r: r["sidecar"]["rss_after_mb"],
                   lambda v: f"{_num(v, 0)} MB", "≤ 400 MB (#4)", lambda v: v <= 400),
            Figure("`ObserveUtterance` over gRPC, scene (8 clients, 50 updates/s): p50 / p99",
                   _p(lambda r: r["sidecar"]["grpc_scene"]), _pair("ms"), "p99 ≤ 30 ms (#6)",
                   lambda v: v[1] <= 30),
            Figure("`ObserveUtterance` over gRPC, burst of different lines: p50 / p99",
                   _p(lambda r: r["sidecar"]["grpc_burst_different"]), _pair("ms")),
        ],
        lambda o: 360,
    ),
    Bench(
        "head", "head motion from prosody (real fixtures; held-out espeak lines)", "bench/bench_head.py",
        lambda o: [],
        [
            Figure("accent correlation: r(downward head-pitch velocity, 250 ms after each pitch accent), mean over "
                   "fixture lines with accents / held-out",
                   lambda r: (r["fixtures"]["r_downward_velocity_mean"], r["held_out"]["r_downward_velocity_mean"]),
                   lambda v: f"r = {v[0]:+.3f} / {v[1]:+.3f}", "> 0 (#16)", lambda v: v[0] > 0),
            Figure("largest head motion in a 3 s pause, 1 s after it began (peak to peak)",
                   lambda r: max(r["fixtures"]["pause_ptp_deg_max"], r["held_out"]["pause_ptp_deg_max"]),
                   lambda v: f"{_num(v, 3)} deg", "< 0.5 deg (#16)", lambda v: v < 0.5),
            Figure("stream (random 1-3000-sample chunks) vs whole line; same seed twice",
                   lambda r: (r["stream_vs_line_max_diff_deg"], r["same_seed_max_diff_deg"]),
                   lambda v: f"max diff {v[0]:g} / {v[1]:g} deg", "0: no extra look-ahead, deterministic (#16)",
                   lambda v: v[0] == 0 and v[1] == 0),
            Figure("cost of the head stage", lambda r: r["cpu_ms_per_audio_s"],
                   lambda v: f"{_num(v, 1)} ms CPU per s of audio"),
        ],
        lambda o: 180,
    ),
    Bench(
        "bake", "offline bake (`mien bake`, 2 jobs)", "bench/bench_bake.py",
        lambda o: ["--lines", "8" if o.quick else "200", "--jobs", "2"],
        [
            Figure("cold (nothing baked yet)", lambda r: (r["lines"], r["cold"]["wall_s"], r["audio_s"]),
                   lambda v: f"{v[0]} lines ({_num(v[2], 0)} s of audio) in {_num(v[1])} s: "
                   f"{_num(v[0] / v[1])} lines/s", "200 lines ≤ 60 s (#5)", lambda v: v[1] <= 60),
            Figure("warm (nothing changed)", lambda r: (r["lines"], r["warm"]["wall_s"]),
                   lambda v: f"{v[0]} lines in {_num(v[1])} s: {_num(v[0] / v[1])} lines/s", "≤ 5 s (#5)",
                   lambda v: v[1] <= 5),
            Figure("one line changed", lambda r: r["one_changed"]["wall_s"], lambda v: f"{_num(v)} s"),
            Figure("of which Python start-up + imports", lambda r: r["import_s"], lambda v: f"{_num(v)} s"),
        ],
        lambda o: 480,
    ),
    Bench(
        "bake-shards", "bakes on many machines (`mien bake --shard I/2` on two processes with separate line stores, "
        "merged with --cached-only; `--executor dask` on a local 2-worker cluster)", "bench/bench_bake_shards.py",
        lambda o: ["--lines", "8" if o.quick else "200"],
        [
            Figure("2 shards at once, then the merge: byte-identical to one machine",
                   lambda r: (r["lines"], r["shards"]["wall_s"], r["merge"]["wall_s"], r["one_machine"]["wall_s"],
                              r["merge"]["identical"]),
                   lambda v: f"{v[0]} lines: shards {_num(v[1])} s + merge {_num(v[2])} s (one machine {_num(v[3])} s)"
                   f"; {'identical' if v[4] else 'DIFFERENT'}", "byte-identical (#15)", lambda v: v[4]),
            Figure("Dask executor (local cluster, 2 workers): byte-identical to one machine",
                   lambda r: (r["lines"], r["dask"]["wall_s"], r["dask"]["identical"]),
                   lambda v: f"{v[0]} lines in {_num(v[1])} s; {'identical' if v[2] else 'DIFFERENT'}",
                   "runs the 200-line bake (#15)", lambda v: v[2]),
        ],
        lambda o: 900, ok_codes=(0, 1),
    ),
    Bench(
        "metahuman", "MetaHuman sanity check (EmoFace's one real clip)", "bench/bench_metahuman.py", lambda o: [],
        [
            Figure("jaw open vs EmoFace ground truth, recognized: Pearson r at best lag",
                   lambda r: (r["modes"]["recognized"]["r"], r["modes"]["recognized"]["lag_ms"]),
                   lambda v: f"r = {v[0]:+.3f} at {v[1]:+d} ms"),
            Figure("jaw open vs EmoFace ground truth, neural: Pearson r at best lag",
                   lambda r: (r["modes"]["neural"]["r"], r["modes"]["neural"]["lag_ms"]),
                   lambda v: f"r = {v[0]:+.3f} at {v[1]:+d} ms", needs_model=True),
        ],
        lambda o: 240, json_file=False, parse=_metahuman_parse, skip=_no_emoface,
    ),
    Bench(
        "limits", "sidecar peak memory under the largest requests the default limits allow (`mien serve`, gRPC, "
        "HTTP/JSON, streams; 300 s lines on metahuman at the largest fps max_output_values allows)",
        "bench/bench_limits.py", lambda o: ["--quick"] if o.quick else [],
        [
            Figure("peak RSS, one largest request (worst of idle, gRPC neural, HTTP neural, stream, gRPC aligned)",
                   lambda r: r["worst_one_mb"], lambda v: f"{_num(v)} MB", "≤ 600 MB (#11)", lambda v: v <= 600),
            Figure("peak RSS, 8 largest requests at once (worst scenario)", lambda r: r["worst_many_mb"],
                   lambda v: f"{_num(v)} MB", "≤ 1.2 GB (#11)", lambda v: v <= 1200),
        ],
        lambda o: 600 if o.quick else 2400, ok_codes=(0, 1),
    ),
    Bench(
        "latency", "streaming latency, light load (8 real-time streams, one sidecar with limits.max_stream_lag_s 2, "
        "+ a slow and a stalled client)",
        "bench/load.py", _load_args(8, 20, 1, True),
        [
            _load_streams("0 errors"),
            _load_latency("p99 ≤ 30 ms (#4); no worse than 22 ms (#15)", lambda v: v[1] <= 22),
            Figure("slow (½ real time) and stalled clients", _extra_clients, lambda v: v[0],
                   "timed out, the others unaffected (#8)", lambda v: v[1]),
        ],
        lambda o: 300, ok_codes=(0, 1), extra=_load_extra,
    ),
    Bench(
        "realtime100", "the same with 100 ms chunks (fewer messages per second of audio)",
        "bench/load.py", _load_args(32, 30, 2, False, chunk_ms=100),
        [
            _load_streams("0 errors"),
            _load_latency("not falling behind: p99 ≤ 30 ms (#4)", lambda v: v[1] <= 30),
        ],
        lambda o: 420, ok_codes=(0, 1), extra=_load_extra,
    ),
    Bench(
        "realtime", "32 concurrent real-time streams on this machine's 2 cores (2 sidecars behind nginx, 40 ms chunks)",
        "bench/load.py", _load_args(32, 20, 2, False),
        [
            _load_streams("0 errors"),
            _load_latency("not falling behind: p99 ≤ 30 ms (#4)", lambda v: v[1] <= 30),
            *_load_memory(),
        ],
        lambda o: 420, ok_codes=(0, 1), extra=_load_extra,
    ),
    Bench(
        "load", "64 concurrent streams for 60 s (2 sidecars behind nginx)", "bench/load.py",
        _load_args(64, 60, 2, False),
        [_load_streams("64 × 60 s, 0 errors (#8, #15)"),
         _load_latency("p99 ≤ 30 ms (#15)", lambda v: v[1] <= 30), *_load_memory()],
        lambda o: 600 if not o.quick else 300, ok_codes=(0, 1), extra=_load_extra,
    ),

    Bench(
        "stream_cost", "CPU per 40 ms stream chunk by pipeline stage, in process (8 streams), and the model called "
        "for B streams at once", "bench/bench_stream_cost.py", lambda o: ["--chunks", "60"] if o.quick else [],
        [Figure("animation CPU per 40 ms chunk (head motion, model)",
                lambda r: (r["stage_ms_per_chunk"]["total per chunk"], r["stage_ms_per_chunk"]["head motion"],
                           r["stage_ms_per_chunk"]["model (onnxruntime)"]),
                lambda v: f"{_num(v[0], 2)} ms ({_num(v[1], 2)}, {_num(v[2], 2)}); 64 × 40 ms streams: "
                          f"{_num(64 * 25 * v[0] / 1000)} cores", "reported (#15)", lambda v: v[0] > 0),
         Figure("model call for 64 streams at once, CPU per stream (vs 1)",
                lambda r: (r["model_batch"][-1]["ms_per_stream"], r["model_batch"][0]["ms_per_stream"],
                           all(x["identical"] for x in r["model_batch"])),
                lambda v: f"{_num(v[0], 2)} ms ({_num(v[1], 2)} ms alone), bit-identical: {v[2]}", "reported (#15)",
                lambda v: v[2])],
        lambda o: 300,
    ),
    Bench(
        "capacity", "the most real-time streams within p99 ≤ 30 ms, 100 ms chunks (2 sidecars behind nginx; a sweep "
        "of 20 s rounds of bench/load.py)", "bench/bench_capacity.py",
        lambda o: ["--counts", "2,4", "--seconds", "5"] if o.quick else [],
        [Figure("largest stream count with 0 errors and p99 ≤ 30 ms",
                lambda r: (r["largest_ok"], "; ".join(f"{x['streams']}: p99 {x['p99_ms']} ms" for x in r["rounds"])),
                lambda v: f"{v[0]} streams ({v[1]})", "reported (#15)", lambda v: v[0] > 0)],
        lambda o: 300 if o.quick else 900,
    ),
]
NAMES = [b.name for b in BENCHES]


# -------------------------------------------------------------------------------------------- running


def _tail(path: Path, n: int = 400) -> str:
    lines = [line.strip() for line in _read(str(path)).splitlines() if line.strip()]
    return lines[-1][-n:] if lines else ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the benchmark and whatever it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_bench(bench: Bench, opts: Options) -> Outcome:
    json_path = opts.logs / f"{bench.name}.json"
    argv = [sys.executable, bench.script, *bench.args(opts)]
    if bench.json_file:
        argv += ["--json", str(json_path)]
    shown = ["python", *[str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT)) else a for a in argv[1:]]]
    outcome = Outcome(bench.name, shlex.join(shown), load_before=load_average())
    skip = bench.skip(opts)
    if skip:
        outcome.status, outcome.reason = "not run", skip
        print(f"[{bench.name}] not run: {skip}", flush=True)
        return outcome
    json_path.unlink(missing_ok=True)
    out_path, err_path = opts.logs / f"{bench.name}.stdout", opts.logs / f"{bench.name}.stderr"
    timeout = bench.timeout_s(opts)
    print(f"[{bench.name}] {outcome.command}  (timeout {timeout:.0f} s, load {outcome.load_before})", flush=True)
    started = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, env=env, start_new_session=True)
        try:
            outcome.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            outcome.status, outcome.reason = "failed", f"timed out after {timeout:.0f} s"
        except BaseException:
            _kill_group(proc)
            raise
    outcome.seconds = time.monotonic() - started
    if outcome.status == "ok" and outcome.returncode not in bench.ok_codes:
        outcome.status = "failed"
        outcome.reason = f"exit {outcome.returncode}: {_tail(err_path) or _tail(out_path) or 'no output'}"
    if outcome.status == "ok":
        try:
            if bench.json_file:
                outcome.raw = json.loads(json_path.read_text(encoding="utf-8"))
            else:
                assert bench.parse is not None
                outcome.raw = bench.parse(out_path.read_text(encoding="utf-8", errors="replace"))
            bench.extra(outcome.raw, opts)
        except (OSError, ValueError) as exc:
            outcome.status = "failed"
            outcome.reason = f"no results ({type(exc).__name__}: {str(exc)[:200]}); {_tail(err_path)}"
    if outcome.status == "ok" and outcome.raw.get("_not_run"):
        outcome.status, outcome.reason = "not run", str(outcome.raw["_not_run"])
    elif outcome.status == "ok" and outcome.returncode != 0:
        outcome.reason = f"exit {outcome.returncode}"
    print(f"[{bench.name}] {outcome.status}{': ' + outcome.reason if outcome.reason else ''} "
          f"({outcome.seconds:.0f} s)", flush=True)
    return outcome


def rows_of(bench: Bench, outcome: Outcome, opts: Options) -> list[Row]:
    rows = []
    for fig in bench.figures:
        target = fig.target or "—"
        if outcome.status == "failed":
            value, result = f"failed: {outcome.reason}", "failed"
        elif outcome.status == "not run":
            value, result = f"not run: {outcome.reason}", "not run"
        elif fig.needs_model and opts.model is None:
            value, result = "not run: no bundled model", "not run"
        else:
            try:
                v = fig.value(outcome.raw)
                value = fig.show(v)
            except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError):
                value, result = "not reported", "—" if fig.ok is None else "missing"
            else:
                if fig.ok is None:
                    result = "—"
                else:
                    try:
                        result = "pass" if fig.ok(v) else "**FAIL**"
                    except TypeError:
                        result = "missing"
        rows.append(Row(bench.area, fig.label, value, target, result, bench.name))
    return rows


# -------------------------------------------------------------------------------------------- writing


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def lipsync_table(outcome: Outcome, opts: Options) -> list[str]:
    """The paths side by side with the naive baseline."""
    head = "| path | " + " | ".join(name for _, name in LIPSYNC_METRICS) + " | jitter | × real time | targets |"
    lines = [head, "|" + "---|" * (len(LIPSYNC_METRICS) + 4)]
    for key, label, targets, source in LIPSYNC_PATHS:
        if outcome.status != "ok":
            cells = [f"{outcome.status}: {outcome.reason}"] + [""] * (len(LIPSYNC_METRICS) + 2)
        elif key.startswith("neural") and opts.model is None:
            cells = ["not run: no bundled model"] + [""] * (len(LIPSYNC_METRICS) + 2)
        elif key not in outcome.raw.get("paths", {}):
            cells = ["not reported"] + [""] * (len(LIPSYNC_METRICS) + 2)
        else:
            r = outcome.raw["paths"][key]
            cells = []
            for metric, _ in LIPSYNC_METRICS:
                v = r[metric]
                text = f"{v:+.0f} ms" if metric == "lag_ms" else f"{v:.3f}"
                if metric in targets:
                    text += " ✓" if _lip_ok(metric, targets[metric])(v) else " ✗"
                cells.append(text)
            cells += [f"{r.get('jitter', math.nan):.2f}", f"×{_num(r.get('x_realtime'))}"]
        goal = (", ".join(_lip_target(m, t, named=True) for m, t in targets.items()) + f" ({source})"
                if targets else "— (what many games do)")
        lines.append(f"| {_cell(label)} | " + " | ".join(_cell(c) for c in cells) + f" | {_cell(goal)} |")
    return lines


def robustness_table(outcome: Outcome) -> list[str]:
    """The robustness matrix: one row per recording condition."""
    raw = outcome.raw
    out = ["## Aligned path under recording conditions (robustness matrix)", "",
           f"{raw.get('clips', '?')} clips ({_num(raw.get('audio_s'))} s) from {', '.join(raw.get('sets', []))}, "
           "each degraded, decoded by the sidecar's audio stage and animated with its correct transcript, scored "
           "against the reference timeline of the clean clip; "
           f"{raw.get('wrong_per_condition', '?')} wrong transcripts per condition (another speaker's line, another "
           "line of the same speaker, two words missing, two words added). Targets (#12): PBM ≥ 0.93 and false "
           "mismatch ≤ 2 % in every condition, ≥ 95 % of wrong transcripts detected.", "",
           "| condition | PBM | vowel | rest | lag | false mismatch | detected | other | same speaker | missing | "
           "extra |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in raw.get("conditions", {}).items():
        out.append(f"| {_cell(name)} | {r['pbm']:.3f} | {r['vowel']:.3f} | {r['rest']:.3f} | {r['lag_ms']:+.0f} ms | "
                   f"{100 * r['false_mismatch']:.1f} % ({r['false_mismatch_n']}) | {100 * r['detected']:.0f} % | "
                   + " | ".join(f"{100 * r['detected_' + k]:.0f} %" for k in ("other", "same_speaker", "missing",
                                                                            "extra")) + " |")
    return [*out, ""]


def markdown(info: dict[str, str], rows: list[Row], outcomes: list[Outcome], opts: Options, total_s: float,
             load_end: str) -> str:
    by_name = {o.name: o for o in outcomes}
    out = ["# Benchmarks", ""]
    out += [f"Written by `python bench/run_all.py{' --quick' if opts.quick else ''}` (`make bench`); "
            "every figure below comes from the command in its *command* column (see [Commands](#commands)). "
            "Targets are the issues' acceptance figures (#N = issue N); ✓/✗ and pass/FAIL compare against them.", ""]
    if opts.quick:
        out += ["> **Quick run** (`--quick`): reduced sizes for a smoke check. These are *not* the figures; "
                "targets stated for the full sizes (60 s, 64 streams, 200 lines, 100 NPCs) do not apply.", ""]
    out += ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in info.items()]
    out += [f"| load average at the end | {load_end} |",
            f"| total run time | {total_s / 60:.1f} min (benchmarks run one after the other) |", ""]
    out += ["## Figures", "", "| area | figure | value | target | result | command |", "|---|---|---|---|---|---|"]
    area = None
    for row in rows:
        shown_area = row.area if row.area != area else ""
        area = row.area
        out.append(f"| {_cell(shown_area)} | {_cell(row.label)} | {_cell(row.value)} | {_cell(row.target)} | "
                   f"{row.result} | [{row.bench}](#commands) |")
    out.append("")
    if "lipsync" in by_name:
        lip = by_name["lipsync"]
        audio = lip.raw.get("audio_s")
        out += ["## Lip-sync: every path beside the naive baseline", "",
                f"{lip.raw.get('clips', '?')} real clips ({_num(audio)} s of speech, `tests/fixtures/speech`), "
                "scored with the reference scorer (`scripts/score_lipsync.py`) against pocketsphinx alignments of "
                "their transcripts. The baseline drives only the jaw from the audio's loudness envelope. "
                "✓/✗: the path's target.", ""]
        out += lipsync_table(lip, opts)
        out.append("")
    if by_name.get("robustness") and by_name["robustness"].status == "ok":
        out += robustness_table(by_name["robustness"])
    out += ["## Commands", "", "From the repository root, in this order; raw output and JSON in "
            f"`{opts.logs.relative_to(ROOT) if opts.logs.is_relative_to(ROOT) else opts.logs}/<name>.*`.", "",
            "| name | command | status | run time | load average before |", "|---|---|---|---|---|"]
    for o in outcomes:
        status = o.status + (f": {o.reason}" if o.reason else "")
        out.append(f"| {o.name} | `{o.command}` | {_cell(status)} | {o.seconds:.0f} s | {o.load_before} |")
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke check; not the figures)")
    parser.add_argument("--only", help=f"comma-separated benchmarks to run: {','.join(NAMES)}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="the markdown table")
    parser.add_argument("--json", type=Path, help="also write every raw result here")
    parser.add_argument("--logs", type=Path, default=ROOT / "build" / "bench",
                        help="each benchmark's output and JSON (default build/bench)")
    parser.add_argument("--check", action="store_true", help="also exit 1 when a figure misses its target")
    args = parser.parse_args(argv)
    selected = NAMES
    if args.only:
        selected = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(selected) - set(NAMES))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    logs = args.logs.resolve()
    logs.mkdir(parents=True, exist_ok=True)
    opts = Options(quick=args.quick, logs=logs, model=bundled_model())
    info = machine()
    info["neural model"] = (f"{opts.model.name} ({opts.model.stat().st_size / MB:.2f} MB)" if opts.model
                            else "none bundled: neural figures not run")
    print(f"machine: {info['CPU']}, {info['cores']}, load {info['load average at start']}", flush=True)
    started = time.monotonic()
    outcomes, rows = [], []
    for bench in BENCHES:
        if bench.name not in selected:
            continue
        outcome = run_bench(bench, opts)
        outcomes.append(outcome)
        rows += rows_of(bench, outcome, opts)
    total_s = time.monotonic() - started
    text = markdown(info, rows, outcomes, opts, total_s, load_average())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({total_s / 60:.1f} min)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "quick": args.quick, "machine": info, "total_s": round(total_s, 1),
            "benchmarks": {o.name: {"command": o.command, "status": o.status, "reason": o.reason,
                                    "returncode": o.returncode, "seconds": round(o.seconds, 1),
                                    "load_before": o.load_before, "raw": o.raw} for o in outcomes},
            "rows": [row.__dict__ for row in rows],
        }, indent=1) + "\n", encoding="utf-8")
    failed = [o.name for o in outcomes if o.status == "failed"]
    missed = [f"{r.bench}: {r.label}" for r in rows if r.result in ("**FAIL**", "missing")]
    if missed:
        print(f"{len(missed)} figure(s) miss their target: " + "; ".join(missed))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
