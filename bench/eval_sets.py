#!/usr/bin/env python3
"""Evaluation sets for the phone stage, re-created from packages (nothing here is committed audio).

Each set is a directory of clips ``X.wav`` (16 kHz mono PCM16), ``X.txt`` (the transcript) and
``X.phones.tsv`` (the reference timeline, the lip-sync scorer's format), split by speaker or source
into ``tune/`` (for choosing settings) and ``report/`` (held out: only measured, never tuned on):

* ``uqm``: The Ur-Quan Masters voice acting (Debian non-free ``uqm-voice`` + ``uqm-content``,
  CC BY-NC-SA 2.5: evaluation only). 11.025 kHz OGG clips of ~27 casts; the game's subtitle file
  (``<race>.txt``) and line timings (``<race>.ts``) cut each clip into lines, each cut snapped to the
  quietest 10 ms within 0.3 s. Only lines whose every word is in the pronouncing dictionary are kept.
  Races alternate between the splits (sorted by name: even -> tune, odd -> report).
  Reference: pocketsphinx forced alignment with default settings (``scripts/make_reference_phones.py``)
  of the line at 16 kHz; lines the reference cannot align are dropped.
* ``tuxpaint``: the English stamp descriptions of Debian ``tuxpaint-stamps-default`` (GPL-2), one
  speaker; all in ``report/``. Same reference.
* ``fixtures``: the repository's real clips (tests/fixtures/speech, the tests tune on them): ``tune/``.
* ``espeak_fast``: espeak-ng (GPL-3 program, output free) at 260-380 words/min, exact synthesiser
  timings; en-us voices in ``tune/`` seeds, other seeds in ``report/``.
* ``festival_fast``: Festival kal/ked diphones and the slt HTS voice at duration stretch 0.6-0.8
  (fast speech), exact timings; kal in ``tune/``, ked and slt in ``report/``.

    python bench/eval_sets.py --out /work/scratch/$USER/sets [--sets uqm tuxpaint fixtures espeak_fast
                               festival_fast] [--per-race 12] [--debs DIR]

``--debs`` is a directory holding the ``.deb`` files (``apt-get download uqm-voice uqm-content
tuxpaint-stamps-default``; uqm is in Debian's non-free component); without it they are downloaded
with ``apt-get download`` into the output directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mien.audio import resample  # noqa: E402

RATE = 16000


def _reference_module():  # type: ignore[no-untyped-def]
    path = ROOT / "scripts" / "make_reference_phones.py"
    spec = importlib.util.spec_from_file_location("make_reference_phones", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmudict() -> set[str]:
    from mien._sphinx import model_path

    words = set()
    with open(model_path("cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            words.add(line.split(" ", 1)[0].split("(")[0])
    return words


def write_clip(out: Path, name: str, samples: np.ndarray, rate: int, text: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    x = resample(samples.astype(np.float32), rate, RATE) if rate != RATE else samples.astype(np.float32)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0.99:
        x = x * (0.99 / peak)
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    wav = out / f"{name}.wav"
    sf.write(wav, pcm, RATE, subtype="PCM_16")
    (out / f"{name}.txt").write_text(text.strip() + "\n", encoding="utf-8")
    return wav


def write_reference(wav: Path, text: str) -> bool:
    """The reference timeline of a real clip; False (and the clip removed) when it does not align."""
    ref = _reference_module()
    try:
        rows = ref.reference(wav, text)
    except SystemExit:
        rows = []
    words = [r for r in rows if r[2] != "SIL"]
    if not words:
        for suffix in (".wav", ".txt"):
            wav.with_suffix(suffix).unlink(missing_ok=True)
        return False
    with open(wav.with_suffix("").with_suffix(".phones.tsv"), "w") as f:
        f.write("start_s\tend_s\tphone\tword\n")
        for a, b, p, w in rows:
            f.write(f"{a:.2f}\t{b:.2f}\t{p}\t{w}\n")
    return True


def deb_tree(package: str, debs: Path | None, work: Path) -> Path:
    """The extracted files of a Debian package (``dpkg -x``), downloading the .deb if needed."""
    tree = work / "x" / package
    if tree.exists():
        return tree
    found = sorted((debs or work).glob(f"{package}_*.deb")) if (debs or work).exists() else []
    if not found:
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", package], cwd=work, check=True)
        found = sorted(work.glob(f"{package}_*.deb"))
    tree.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(found[-1]), str(tree)], check=True)
    return tree


# ------------------------------------------------------------------------------------------------ uqm
def _uqm_lines(txt: str, ts: str) -> Iterator[tuple[str, list[str], list[int]]]:
    """(clip file, its subtitle lines, line durations in ms) per voiced clip of a race."""
    timings = {}
    for line in ts.splitlines():
        m = re.match(r"#\((\w+)\)\s*(.*)", line)
        if m:
            timings[m.group(1)] = [int(v) for v in m.group(2).split(",") if v.strip()]
    key, clip, lines = None, None, []
    for line in [*txt.splitlines(), "#(end)"]:
        m = re.match(r"#\((\w+)\)\s*(\S*)", line)
        if m:
            if key and clip and lines:
                yield clip, lines, timings.get(key, [])
            key, clip, lines = m.group(1), m.group(2) or None, []
        elif line.strip():
            lines.append(line.strip())


def _snap(level: np.ndarray, frame: int, reach: int = 30) -> int:
    lo, hi = max(1, frame - reach), min(len(level) - 1, frame + reach)
    return lo + int(np.argmin(level[lo:hi])) if hi > lo else frame


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()


def build_uqm(out: Path, work: Path, debs: Path | None, per_race: int) -> int:
    voice = deb_tree("uqm-voice", debs, work)
    content = deb_tree("uqm-content", debs, work)
    vdir, cdir = work / "uqm" / "voice", work / "uqm" / "content"
    if not vdir.exists():
        zipfile.ZipFile(next(voice.rglob("*.uqm"))).extractall(vdir)
        zipfile.ZipFile(next(content.rglob("*.uqm"))).extractall(cdir)
    known = cmudict()
    races = sorted(p.name for p in (vdir / "3dovoice").iterdir() if p.is_dir())
    n = 0
    for k, race in enumerate(races):
        split = "tune" if k % 2 == 0 else "report"
        txt = cdir / "base" / "comm" / race / f"{race}.txt"
        ts = vdir / "3dovoice" / race / f"{race}.ts"
        if not txt.exists() or not ts.exists():
            continue
        candidates: list[tuple[str, np.ndarray, int, str]] = []
        for clip, lines, durations in _uqm_lines(txt.read_text(errors="replace"), ts.read_text(errors="replace")):
            path = vdir / "3dovoice" / race / clip
            if not path.exists():
                continue
            x, rate = sf.read(path, dtype="float32", always_2d=True)
            x = x.mean(1)
            hop = rate // 100
            level = 10 * np.log10(np.add.reduceat(x ** 2, np.arange(0, len(x), hop)) / hop + 1e-10)
            bounds = [0]
            for d in durations[: len(lines) - 1]:
                bounds.append(_snap(level, bounds[-1] + d // 10))
            bounds.append(len(level))
            if len(bounds) != len(lines) + 1:
                continue
            for i, text in enumerate(lines):
                a, b = bounds[i] * hop, bounds[i + 1] * hop
                words = _words(text)
                if not 1.2 <= (b - a) / rate <= 10.0 or len(words) < 3 or any(w not in known for w in words):
                    continue
                candidates.append((f"uqm_{race}_{Path(clip).stem.split('-')[-1]}_{i:02d}", x[a:b], rate,
                                   " ".join(words)))
        rng = np.random.default_rng(sum(map(ord, race)))
        order = rng.permutation(len(candidates))
        kept = 0
        for j in order:
            if kept >= per_race:
                break
            name, samples, rate, text = candidates[int(j)]
            wav = write_clip(out / "uqm" / split, name, samples, rate, text)
            if write_reference(wav, text):
                kept += 1
        n += kept
        print(f"uqm {race:12s} {split:6s} {kept:3d} lines of {len(candidates)} candidates", flush=True)
    return n


def build_tuxpaint(out: Path, work: Path, debs: Path | None) -> int:
    tree = deb_tree("tuxpaint-stamps-default", debs, work)
    known = cmudict()
    n = 0
    for ogg in sorted(tree.rglob("*_desc.ogg")):
        txt = ogg.with_name(ogg.name[: -len("_desc.ogg")] + ".txt")
        if not txt.exists():
            continue
        text = txt.read_text(errors="replace").splitlines()[0]
        words = _words(text)
        if len(words) < 3 or any(w not in known for w in words):
            continue
        x, rate = sf.read(ogg, dtype="float32", always_2d=True)
        wav = write_clip(out / "tuxpaint" / "report", f"tux_{ogg.parent.name}_{txt.stem}", x.mean(1), rate,
                         " ".join(words))
        n += write_reference(wav, " ".join(words))
    print(f"tuxpaint: {n} clips", flush=True)
    return n


def build_fixtures(out: Path) -> int:
    src = ROOT / "tests" / "fixtures" / "speech"
    dst = out / "fixtures" / "tune"
    dst.mkdir(parents=True, exist_ok=True)
    n = 0
    for ref in sorted(src.glob("*.phones.tsv")):
        name = ref.name[: -len(".phones.tsv")]
        for suffix in (".wav", ".txt", ".phones.tsv"):
            shutil.copy(src / f"{name}{suffix}", dst / f"{name}{suffix}")
        n += 1
    return n


# ------------------------------------------------------------------------------------------ synthetic
def _write_synthetic(out: Path, name: str, samples: np.ndarray, rate: int, text: str,
                     phones: list[tuple[float, float, str, str]]) -> None:
    write_clip(out, name, samples, rate, text)
    end = len(samples) / rate
    with open(out / f"{name}.phones.tsv", "w") as f:
        f.write("start_s\tend_s\tphone\tword\n")
        for a, b, p, w in phones:
            if a < end:
                f.write(f"{a:.4f}\t{min(b, end):.4f}\t{p}\t{w}\n")


def build_espeak(out: Path, n: int) -> int:
    from training.data.espeak import Espeak, VoiceSettings
    from training.data.textgen import SentenceGenerator

    engine = Espeak.get()
    made = 0
    for i in range(n):
        rng = np.random.default_rng([0xE5, i])
        split = "tune" if i % 2 == 0 else "report"
        voice = ("en-us", "en-us+m3", "en-us+f2", "en")[int(rng.integers(4))] if split == "tune" else \
            ("en-us+m7", "en-us+f4", "en-gb-x-rp", "en-us+klatt")[int(rng.integers(4))]
        text = SentenceGenerator(rng).utterance()
        settings = VoiceSettings(voice=voice, rate=int(rng.integers(260, 381)), pitch=int(rng.integers(30, 71)))
        syn = engine.synthesize(text, settings)
        _write_synthetic(out / "espeak_fast" / split, f"espeak_{i:04d}", syn.samples, syn.sample_rate, text,
                         [(p.start, p.end, p.phone, p.word) for p in syn.phones])
        made += 1
    print(f"espeak_fast: {made} clips", flush=True)
    return made


def build_festival(out: Path, n: int) -> int:
    from training.data.festival import ClipSpec, _render_chunk
    from training.data.textgen import SentenceGenerator

    voices = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
    made = 0
    for split, names in (("tune", voices[:1]), ("report", voices[1:])):
        specs = []
        for i in range(n // 3 * len(names)):
            rng = np.random.default_rng([0xFA57, i, len(split)])
            specs.append(ClipSpec(f"festival_{split}_{i:04d}", SentenceGenerator(rng).utterance(),
                                  names[i % len(names)], round(float(rng.uniform(0.6, 0.8)), 3),
                                  round(float(rng.uniform(90.0, 140.0)), 1)))
        dst = out / "festival_fast" / split
        dst.mkdir(parents=True, exist_ok=True)
        for k in range(0, len(specs), 20):
            made += len(_render_chunk((specs[k:k + 20], str(dst))))
    print(f"festival_fast: {made} clips", flush=True)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="downloads and extracted packages (default: OUT/_work)")
    parser.add_argument("--debs", type=Path)
    parser.add_argument("--sets", nargs="+", default=["uqm", "tuxpaint", "fixtures", "espeak_fast", "festival_fast"])
    parser.add_argument("--per-race", type=int, default=12)
    parser.add_argument("--synthetic", type=int, default=120, help="clips per synthetic set")
    args = parser.parse_args()
    work = args.work or args.out / "_work"
    for name in args.sets:
        if (args.out / name).exists():
            shutil.rmtree(args.out / name)
        if name == "uqm":
            build_uqm(args.out, work, args.debs, args.per_race)
        elif name == "tuxpaint":
            build_tuxpaint(args.out, work, args.debs)
        elif name == "fixtures":
            build_fixtures(args.out)
        elif name == "espeak_fast":
            build_espeak(args.out, args.synthetic)
        elif name == "festival_fast":
            build_festival(args.out, args.synthetic)
        else:
            raise SystemExit(f"unknown set {name!r}; known: uqm tuxpaint fixtures espeak_fast festival_fast")


if __name__ == "__main__":
    main()
