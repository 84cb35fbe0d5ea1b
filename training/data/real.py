"""Real recorded speech with transcripts from Debian packages: the catalogue, the licence rules, extraction.

    python -m training.data.real list                          # sources, licences, what each is used for
    python -m training.data.real fetch --out DIR [--only NAME,...]

``fetch`` downloads each package with ``apt-get download`` and unpacks it with ``dpkg-deb -x`` (nothing is
installed), copies its copyright file, and writes per source ``DIR/<source>/<id>.wav`` (16 kHz mono PCM16,
resampled with a polyphase filter from the package's own rate) and ``DIR/<source>/manifest.jsonl`` (one row
per clip: transcript as the package has it, language, speaker, the original sample rate and sample format,
licence, split). Labels (phone timelines) are made afterwards by :mod:`training.data.label`.

Rules, enforced here (DATA_GUIDE.md):

* the reserved evaluation sets are refused by name before anything is downloaded: Debian
  ``asterisk-core-sounds-en*``, ``asterisk-core-sounds-es*`` (the same speaker), ``mbrola*``, ``drascula*``;
* ``uqm-voice`` (CC BY-NC-SA: non-commercial) is refused too: the shipped model is for commercial games;
* the freeware game audio ``beneath-a-steel-sky`` and ``flight-of-the-amazon-queen`` is not used for
  training: their licence lets anyone give the game away and modify it, but a modified version may only be
  distributed "under the terms set forth in this license" (free of charge, readme intact) and "all game
  content is (C)" its authors - nothing in it allows re-using the recordings in another product, such as
  the weights of a model shipped in a commercial game (see :data:`NOT_FOR_TRAINING`);
* whole speakers are held out (``split: heldout``) for validation: :data:`HELD_OUT`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

__all__ = ["ClipSpec", "Source", "SOURCES", "HELD_OUT", "RESERVED_PREFIXES", "NOT_FOR_TRAINING", "check_package",
           "fetch", "load_manifest"]

OUTPUT_SAMPLE_RATE = 16000
RESERVED_PREFIXES = ("asterisk-core-sounds-en", "asterisk-core-sounds-es", "mbrola", "drascula")
"""Debian packages held out for the issuer's acceptance: never downloaded, trained, tuned, used as noise or
evaluated on here."""
NOT_FOR_TRAINING = {
    "uqm-voice": "CC BY-NC-SA 2.5: non-commercial",
    "uqm-content": "the voice pack's texts (the voices are CC BY-NC-SA 2.5: non-commercial)",
    "beneath-a-steel-sky": "freeware licence: distribution of the game and of modified versions only under its own "
                           "terms (no fee for the game, readme intact); no permission to re-use the content elsewhere",
    "flight-of-the-amazon-queen": "freeware licence: as beneath-a-steel-sky (same text)",
}
"""Packages whose licence does not allow training the shipped model on them (refused by :func:`check_package`)."""
HELD_OUT: dict[str, frozenset[str]] = {
    "tuxpaint": frozenset({"ca"}),  # the Catalan reader: a whole speaker and language
    "asterisk_it": frozenset({"*"}),  # Carlo (it, 8 kHz telephone prompts): a whole speaker, source and language
}
"""Per source, the speakers (tuxpaint: languages, one reader each; ``*`` = all) kept for validation only."""


def check_package(package: str) -> None:
    """Refuse the reserved evaluation sets and the packages whose licence excludes training."""
    if package.startswith(RESERVED_PREFIXES):
        raise ValueError(f"{package} is a reserved evaluation set ({', '.join(p + '*' for p in RESERVED_PREFIXES)}): "
                         "never downloaded or used here")
    if package in NOT_FOR_TRAINING:
        raise ValueError(f"{package} is not usable for the shipped model: {NOT_FOR_TRAINING[package]}")


@dataclass(frozen=True)
class ClipSpec:
    clip_id: str
    path: Path  # inside an extracted package
    transcript: str
    language: str  # espeak-ng voice name of the language (en, cs, nl, fr, ...)
    speaker: str


@dataclass(frozen=True)
class Source:
    name: str
    packages: tuple[tuple[str, str], ...]  # (Debian package, version)
    licence: str
    licence_file: str  # inside the first package's tree
    weights_note: str  # what the licence means for weights trained on it (model card)
    description: str
    clips: Callable[[dict[str, Path]], Iterator[ClipSpec]] = field(repr=False)


# ------------------------------------------------------------------------------------------ tuxpaint
TUXPAINT_STAMPS = "usr/share/tuxpaint/stamps"
_DESC = re.compile(r"^(?P<stem>.+)_desc(?:_(?P<lang>[a-z]{2,3}))?\.ogg$")


def _stamp_texts(txt: Path) -> dict[str, str]:
    """A stamp's description per language: the first line is English, then ``xx.utf8=...`` lines."""
    lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    out: dict[str, str] = {}
    if lines and "=" not in lines[0].split(" ")[0]:
        out["en"] = lines[0].strip()
    for line in lines[1:]:
        m = re.match(r"^([a-z]{2,3})\.utf8=(.*)$", line.strip())
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def _tuxpaint(trees: dict[str, Path]) -> Iterator[ClipSpec]:
    root = trees["tuxpaint-stamps-default"] / TUXPAINT_STAMPS
    for ogg in sorted(root.rglob("*_desc*.ogg")):
        m = _DESC.match(ogg.name)
        if not m:
            continue  # e.g. a doubled extension
        lang = m.group("lang") or "en"
        txt = ogg.with_name(m.group("stem") + ".txt")
        if not txt.exists():
            continue
        text = _stamp_texts(txt).get(lang)
        if not text:
            continue
        rel = ogg.relative_to(root).with_suffix("")
        yield ClipSpec(f"{lang}_" + re.sub(r"[^A-Za-z0-9]+", "_", str(rel)), ogg, text, lang, f"tuxpaint {lang} reader")


# ------------------------------------------------------------------------------------------- fillets
FILLETS = "usr/share/games/fillets-ng"
_DIALOG = re.compile(r'dialogId\(\s*"([^"]+)"\s*,\s*"([^"]*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)'
                     r'(?:\s*dialogStr\(\s*"((?:[^"\\]|\\.)*)"\s*\))?')


def _fillets_dialogs(script_dir: Path, lang: str) -> dict[str, tuple[str, str]]:
    """dialogId -> (character, text in ``lang``) of one level's ``dialogs_<lang>.lua`` (English: the dialogId's
    own text)."""
    out: dict[str, tuple[str, str]] = {}
    path = script_dir / f"dialogs_{'en' if lang == 'en' else lang}.lua"
    if not path.exists():
        return out
    for m in _DIALOG.finditer(path.read_text(encoding="utf-8", errors="replace")):
        text = m.group(3) if lang == "en" else m.group(4)
        if text:
            out[m.group(1)] = (m.group(2), text.replace('\\"', '"'))
    return out


def _fillets(lang: str) -> Callable[[dict[str, Path]], Iterator[ClipSpec]]:
    voice_package = "fillets-ng-data" if lang == "en" else f"fillets-ng-data-{lang}"

    def clips(trees: dict[str, Path]) -> Iterator[ClipSpec]:
        scripts = trees["fillets-ng-data"] / FILLETS / "script"
        sounds = trees[voice_package] / FILLETS / "sound"
        for level in sorted(p for p in sounds.iterdir() if p.is_dir()):
            folder = level / lang
            if not folder.is_dir():
                continue
            dialogs = _fillets_dialogs(scripts / level.name, lang)
            for ogg in sorted(folder.glob("*.ogg")):
                entry = dialogs.get(ogg.stem)
                if entry is None:
                    continue
                character, text = entry
                yield ClipSpec(f"{level.name}_{ogg.stem}", ogg, text, lang, f"fillets {lang} {character}")
    return clips


# ------------------------------------------------------------------------------------- asterisk sounds
def _asterisk(lang: str, speaker_dir: str) -> Callable[[dict[str, Path]], Iterator[ClipSpec]]:
    def clips(trees: dict[str, Path]) -> Iterator[ClipSpec]:
        listing = trees[f"asterisk-core-sounds-{lang}"] / f"usr/share/doc/asterisk-core-sounds-{lang}" / \
            f"core-sounds-{lang}.txt.gz"
        root = trees[f"asterisk-core-sounds-{lang}-wav"] / "usr/share/asterisk/sounds" / speaker_dir
        with gzip.open(listing, "rt", encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if line.startswith(";") or ":" not in line:
                    continue
                name, text = (s.strip() for s in line.split(":", 1))
                text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text).strip()  # [ascending tones], (ahooga)
                wav = root / f"{name}.wav"
                if not text or not re.search(r"\w", text) or not wav.exists():
                    continue
                yield ClipSpec(re.sub(r"[^A-Za-z0-9]+", "_", name), wav, text, lang, f"asterisk {speaker_dir}")
    return clips


SOURCES: tuple[Source, ...] = (
    Source("tuxpaint", (("tuxpaint-stamps-default", "2022.06.04-1"),), "GPL-2",
           "usr/share/doc/tuxpaint-stamps-default/copyright",
           "GPL-2 covers the recordings; the weights are not a copy or a modification of them (no recording can be "
           "recovered from a 1 MB lip-sync model), so the GPL does not extend to the weights; the card credits the "
           "source.",
           "Tux Paint stamp descriptions read aloud, one reader per language (ro, es, ru, fr, bg, el, be, ca, da, lt, "
           "nl, ml, en); the sentence is the stamp's `xx.utf8=` line", _tuxpaint),
    Source("fillets_cs", (("fillets-ng-data", "1.0.1-1.1"), ("fillets-ng-data-cs", "1.0.1-1.1")), "GPL-2",
           "usr/share/doc/fillets-ng-data/copyright",
           "GPL-2 (as tuxpaint): the weights are not a copy or modification of the recordings.",
           "Fish Fillets NG game voice acting, Czech (two main characters and ~30 minor ones); text from "
           "dialogs_cs.lua", _fillets("cs")),
    Source("fillets_nl", (("fillets-ng-data", "1.0.1-1.1"), ("fillets-ng-data-nl", "1.0.1-1.1")), "GPL-2",
           "usr/share/doc/fillets-ng-data/copyright",
           "GPL-2 (as tuxpaint).", "Fish Fillets NG game voice acting, Dutch; text from dialogs_nl.lua",
           _fillets("nl")),
    Source("fillets_en", (("fillets-ng-data", "1.0.1-1.1"),), "GPL-2", "usr/share/doc/fillets-ng-data/copyright",
           "GPL-2 (as tuxpaint).", "Fish Fillets NG English narration lines; text from the dialogId entries",
           _fillets("en")),
    Source("asterisk_fr", (("asterisk-core-sounds-fr", "1.6.1-1"), ("asterisk-core-sounds-fr-wav", "1.6.1-1")),
           "CC-BY-SA-3.0", "usr/share/doc/asterisk-core-sounds-fr/copyright",
           "CC BY-SA 3.0: attribution is given in the model card; share-alike applies to adaptations of the "
           "recordings - the weights are not an adaptation of them (no recording can be recovered from them), so "
           "they are not bound by share-alike; if a court held otherwise, the weights would have to be offered "
           "under CC BY-SA too.",
           "Asterisk telephone prompts in Canadian French (June Wallack), 8 kHz; text from core-sounds-fr.txt",
           _asterisk("fr", "fr_CA_f_June")),
    Source("asterisk_ru", (("asterisk-core-sounds-ru", "1.6.1-1"), ("asterisk-core-sounds-ru-wav", "1.6.1-1")),
           "CC-BY-3.0", "usr/share/doc/asterisk-core-sounds-ru/copyright", "CC BY 3.0: attribution in the model card.",
           "Asterisk telephone prompts in Russian (IvrvoiceRU, female), 8 kHz; text from core-sounds-ru.txt",
           _asterisk("ru", "ru_RU_f_IvrvoiceRU")),
    Source("asterisk_it", (("asterisk-core-sounds-it", "1.6.1-1"), ("asterisk-core-sounds-it-wav", "1.6.1-1")),
           "CC-BY-SA-3.0", "usr/share/doc/asterisk-core-sounds-it/copyright", "held out: validation only",
           "Asterisk telephone prompts in Italian (Carlo, male), 8 kHz; text from core-sounds-it.txt",
           _asterisk("it", "it_IT_m_Carlo")),
)


# ------------------------------------------------------------------------------------------ fetching
def _run(cmd: Sequence[str], cwd: Path) -> None:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")


def extract_package(package: str, version: str, work: Path) -> Path:
    """``apt-get download`` + ``dpkg-deb -x`` (cached in ``work``); the unpacked tree."""
    check_package(package)
    tree = work / f"{package}-tree"
    if (tree / ".done").exists():
        return tree
    work.mkdir(parents=True, exist_ok=True)
    if not sorted(work.glob(f"{package}_*.deb")):
        _run(["apt-get", "download", f"{package}={version}"], work)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {package} produced no .deb")
    shutil.rmtree(tree, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(debs[0]), str(tree)], work)
    (tree / ".done").touch()
    return tree


def load_audio(path: Path) -> tuple[np.ndarray, int, str]:
    """Mono float32 samples, the file's rate and its sample format (libsndfile subtype)."""
    info = sf.info(str(path))
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1).astype(np.float32), int(sr), str(info.subtype)


def to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == OUTPUT_SAMPLE_RATE:
        return x
    g = int(np.gcd(sr, OUTPUT_SAMPLE_RATE))
    return resample_poly(x.astype(np.float64), OUTPUT_SAMPLE_RATE // g, sr // g).astype(np.float32)


def split_of(source: str, speaker_key: str) -> str:
    held = HELD_OUT.get(source, frozenset())
    return "heldout" if "*" in held or speaker_key in held else "train"


def fetch(src: Source, out: Path, work: Path) -> dict[str, float]:
    """Extract one source into ``out/<name>``; minutes per split."""
    trees = {p: extract_package(p, v, work) for p, v in src.packages}
    folder = out / src.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = trees[src.packages[0][0]]
    shutil.copyfile(first / src.licence_file, folder / "LICENSE")
    minutes: dict[str, float] = {}
    seen: set[str] = set()
    with open(folder / "manifest.jsonl", "w", encoding="utf-8") as man:
        for clip in src.clips(trees):
            if clip.clip_id in seen:
                continue
            seen.add(clip.clip_id)
            x, sr, subtype = load_audio(clip.path)
            y = to_16k(x, sr)
            if len(y) < OUTPUT_SAMPLE_RATE // 4:
                continue
            pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
            sf.write(folder / f"{clip.clip_id}.wav", pcm, OUTPUT_SAMPLE_RATE, subtype="PCM_16")
            package = next(p for p, _ in src.packages if str(clip.path).startswith(str(trees[p])))
            split = split_of(src.name, clip.language if src.name == "tuxpaint" else clip.speaker)
            dur = len(pcm) / OUTPUT_SAMPLE_RATE
            minutes[split] = minutes.get(split, 0.0) + dur / 60
            man.write(json.dumps({
                "id": clip.clip_id, "source": src.name, "package": f"{package}={dict(src.packages)[package]}",
                "file": str(clip.path.relative_to(trees[package])), "original_sample_rate": sr,
                "original_format": subtype, "duration_s": round(dur, 3), "language": clip.language,
                "transcript": clip.transcript, "speaker": clip.speaker, "licence": src.licence, "split": split,
            }, ensure_ascii=False) + "\n")
    return minutes


def load_manifest(root: Path, sources: Sequence[str] | None = None) -> list[dict[str, object]]:
    """Every clip row of the fetched sources (``wav`` = its path)."""
    rows: list[dict[str, object]] = []
    for src in SOURCES:
        if sources is not None and src.name not in sources:
            continue
        man = root / src.name / "manifest.jsonl"
        if not man.exists():
            continue
        for line in man.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["wav"] = str(root / src.name / f"{row['id']}.wav")
            rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.real", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    fp = sub.add_parser("fetch")
    fp.add_argument("--out", type=Path, required=True)
    fp.add_argument("--only", default="")
    fp.add_argument("--downloads", type=Path, help="keep the .deb files and trees here (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for s in SOURCES:
            print(f"{s.name}: {', '.join(f'{p}={v}' for p, v in s.packages)} | {s.licence} | held out: "
                  f"{sorted(HELD_OUT.get(s.name, ())) or '-'} | {s.description}")
        for p, why in NOT_FOR_TRAINING.items():
            print(f"not used: {p}: {why}")
        print(f"reserved (never used): {', '.join(p + '*' for p in RESERVED_PREFIXES)}")
        return 0
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {s.name for s in SOURCES}
    if unknown:
        ap.error(f"unknown sources {sorted(unknown)}; accepted: {', '.join(s.name for s in SOURCES)}")
    with tempfile.TemporaryDirectory(prefix="mien-real-") as tmp:
        work = args.downloads or Path(tmp)
        for src in SOURCES:
            if wanted and src.name not in wanted:
                continue
            minutes = fetch(src, args.out.expanduser(), work)
            print(f"{src.name}: " + ", ".join(f"{k} {v:.1f} min" for k, v in sorted(minutes.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
