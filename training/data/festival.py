"""Festival speech with exact phone timings: voices built from real human recordings.

espeak-ng is a formant synthesiser: its /p b m/ closures are not a human's. Festival's voices in Debian are
made of real speech: ``kal_diphone`` and ``ked_diphone`` concatenate diphones recorded by two American men
(residual-LPC coded), ``cmu_us_slt_arctic_hts`` is a statistical (HTS) voice trained on CMU ARCTIC's SLT
(an American woman). Their bilabial closures, nasal murmurs and bursts come from those recordings, which
brings the training audio closer to real voices. The phone timeline is the synthesiser's own segment
relation (``utt.save.segs``), so it is exact.

Needs Debian ``festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts`` (apt). Output per clip:
16 kHz ``.wav``, ``.phones.tsv`` (ARPAbet, the scorer's REF format), ``.txt``; and ``manifest.jsonl``.
Clip ``i`` depends only on ``(seed, i)``; festival runs as a fresh process per chunk.

    python -m training.data.festival --n 900 --seed 0 --out ~/.cache/mien/neural/festival
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from mien.track import PhoneSegment
from training.data.espeak import resample
from training.data.textgen import SentenceGenerator
from training.neural.common import write_phones

__all__ = ["VOICES", "ClipSpec", "plan_clips", "parse_segs", "build_dataset", "festival_available"]

OUTPUT_SAMPLE_RATE = 16000
CHUNK_SIZE = 25
# voice -> (description, licence of the voice data)
VOICES: dict[str, tuple[str, str]] = {
    "kal_diphone": ("US male diphones (festvox-kallpc16k)", "festvox-kallpc16k: free licence (CSTR/CMU, modify and "
                    "redistribute)"),
    "ked_diphone": ("US male diphones (festvox-kdlpc16k)", "festvox-kdlpc16k: free licence (CSTR/CMU)"),
    "cmu_us_slt_arctic_hts": ("US female HTS voice trained on CMU ARCTIC slt (festvox-us-slt-hts)",
                              "festvox-us-slt-hts: CMU ARCTIC free-use licence"),
}
LICENCE = ("generated with Festival 2.5 (X11-style free licence) and the kal/ked diphone and slt HTS voices "
           "(free licences, see training/data/festival.py)")
DIPHONE_F0_HZ = (85.0, 150.0)
# Festival's US phone set (radio) -> ARPAbet as used by mien
_PHONES = {"pau": "SIL", "h#": "SIL", "brk": "SIL", "ax": "AH", "axr": "ER", "ix": "IH", "dx": "D", "el": "L",
           "em": "M", "en": "N", "nx": "N", "hv": "HH"}
_ARPABET = set("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V "
               "W Y Z ZH".split())


@dataclass(frozen=True)
class ClipSpec:
    clip_id: str
    text: str
    voice: str
    duration_stretch: float
    f0_mean_hz: float


def festival_available() -> bool:
    return shutil.which("festival") is not None and all(
        any(Path("/usr/share/festival/voices").glob(f"*/{v}")) for v in VOICES)


def plan_clips(n: int, seed: int) -> list[ClipSpec]:
    voices = sorted(VOICES)
    specs = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 0xFE5])
        text = SentenceGenerator(rng).utterance()
        specs.append(ClipSpec(f"festival_s{seed}_{i:06d}", text, voices[i % len(voices)],
                              round(float(rng.uniform(0.8, 1.35)), 3), round(float(rng.uniform(*DIPHONE_F0_HZ)), 1)))
    return specs


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", " ").replace('"', " ") + '"'


def _script(specs: Sequence[ClipSpec], work: Path) -> str:
    lines = []
    for s in specs:
        lines.append(f"(voice_{s.voice})")
        lines.append(f"(Parameter.set 'Duration_Stretch {s.duration_stretch})")
        if s.voice.endswith("_diphone"):
            lines.append(f"(set! int_lr_params '((target_f0_mean {s.f0_mean_hz}) (target_f0_std "
                         f"{s.f0_mean_hz * 0.15:.1f}) (model_f0_mean 170) (model_f0_std 34)))")
        lines.append(f"(set! utt (utt.synth (Utterance Text {_scheme_string(s.text)})))")
        lines.append(f'(utt.save.wave utt "{work / s.clip_id}.wav" \'riff)')
        lines.append(f'(utt.save.segs utt "{work / s.clip_id}.segs")')
    return "\n".join(lines) + "\n"


def parse_segs(text: str) -> list[PhoneSegment]:
    """Festival's segment label file (``end_s 100 phone`` after a ``#`` line) -> ARPAbet segments."""
    body = text.split("#", 1)[1] if "#" in text else text
    out: list[PhoneSegment] = []
    start = 0.0
    for line in body.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        end, name = float(parts[0]), parts[2].lower()
        phone = _PHONES.get(name, name.upper())
        if phone not in _ARPABET and phone != "SIL":
            raise ValueError(f"unknown festival phone {name!r}")
        if end > start:
            if out and out[-1].phone == phone == "SIL":
                out[-1] = PhoneSegment(out[-1].start_s, end, "SIL")
            else:
                out.append(PhoneSegment(start, end, phone))
        start = end
    return out


def _render_chunk(args: tuple[list[ClipSpec], str]) -> list[dict[str, object]]:
    specs, out_dir = args
    out = Path(out_dir)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "run.scm").write_text(_script(specs, work))
        subprocess.run(["festival", "-b", str(work / "run.scm")], check=True, capture_output=True, timeout=900)
        for s in specs:
            x, sr = sf.read(str(work / f"{s.clip_id}.wav"), dtype="float32")
            if x.ndim > 1:
                x = x.mean(1)
            phones = parse_segs((work / f"{s.clip_id}.segs").read_text())
            audio = resample(x, sr, OUTPUT_SAMPLE_RATE)
            end = len(audio) / OUTPUT_SAMPLE_RATE
            if phones and phones[-1].end_s < end:  # festival's last segment ends before the wave's padding
                last = phones[-1]
                phones[-1] = PhoneSegment(last.start_s, end, "SIL") if last.phone == "SIL" else last
                if last.phone != "SIL":
                    phones.append(PhoneSegment(last.end_s, end, "SIL"))
            phones = [p for p in phones if p.start_s < end]
            pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
            sf.write(out / f"{s.clip_id}.wav", pcm, OUTPUT_SAMPLE_RATE, subtype="PCM_16")
            write_phones(out / f"{s.clip_id}.phones.tsv", phones)
            (out / f"{s.clip_id}.txt").write_text(s.text + "\n", encoding="utf-8")
            rows.append({"id": s.clip_id, "voice": f"festival {s.voice}", "duration_stretch": s.duration_stretch,
                         "f0_mean_hz": s.f0_mean_hz if s.voice.endswith("_diphone") else None,
                         "duration_s": round(len(pcm) / OUTPUT_SAMPLE_RATE, 4), "text": s.text,
                         "native_sample_rate": sr, "sample_rate": OUTPUT_SAMPLE_RATE,
                         "n_phones": sum(p.phone != "SIL" for p in phones), "licence": LICENCE})
    return rows


def build_dataset(n: int, seed: int, out: Path, workers: int = 2) -> Path:
    """Generate ``n`` clips into ``out``; return the manifest path."""
    if not festival_available():
        raise RuntimeError("festival or its voices are missing: apt-get install festival festvox-kallpc16k "
                           "festvox-kdlpc16k festvox-us-slt-hts")
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_clips(n, seed)
    jobs = [(specs[i:i + CHUNK_SIZE], str(out)) for i in range(0, len(specs), CHUNK_SIZE)]
    rows: list[dict[str, object]] = []
    with mp.get_context("fork").Pool(max(1, workers)) as pool:
        for chunk in pool.imap(_render_chunk, jobs):
            rows.extend(chunk)
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.festival", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=900)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("~/.cache/mien/neural/festival"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    print(build_dataset(args.n, args.seed, args.out.expanduser(), args.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
