#!/usr/bin/env python3
"""Write reference phone timelines (X.phones.tsv) for speech clips with transcripts (X.wav + X.txt).

The reference is plain pocketsphinx forced alignment of the transcript (word pass, then phone
pass), independent of Mien's own code, in the format of the lip-sync scorer
(`start_s end_s phone word`, tab-separated, ARPAbet without stress, SIL for pauses).

    python scripts/make_reference_phones.py tests/fixtures/speech [OUT_DIR]
"""

import sys
from pathlib import Path

import soundfile as sf
from pocketsphinx import Decoder


def reference(wav: Path, text: str) -> list[tuple[float, float, str, str]]:
    samples, rate = sf.read(wav, dtype="int16")
    if rate != 16000 or samples.ndim != 1:
        raise SystemExit(f"{wav}: reference clips must be 16 kHz mono")
    d = Decoder(samprate=16000, bestpath=False, loglevel="FATAL")
    d.set_align_text(text)  # pass 1: words
    d.start_utt()
    d.process_raw(samples.tobytes(), full_utt=True)
    d.end_utt()
    if d.seg() is None:
        raise SystemExit(f"{wav}: transcript does not align")
    d.set_alignment()  # pass 2: phones within the word alignment
    d.start_utt()
    d.process_raw(samples.tobytes(), full_utt=True)
    d.end_utt()
    rows = []
    for word in d.get_alignment():
        for p in word:
            name = p.name if p.name in ("SIL",) or p.name.isalpha() else "SIL"
            rows.append((p.start / 100, (p.start + p.duration) / 100, name, word.name.split("(")[0]))
    end = len(samples) / 16000
    if rows and rows[-1][1] < end - 1e-6:
        rows.append((rows[-1][1], end, "SIL", ""))
    return rows


def main() -> None:
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else src
    out.mkdir(parents=True, exist_ok=True)
    for txt in sorted(src.glob("*.txt")):
        wav = txt.with_suffix(".wav")
        rows = reference(wav, txt.read_text().strip())
        with open(out / (txt.stem + ".phones.tsv"), "w") as f:
            f.write("start_s\tend_s\tphone\tword\n")
            for a, b, p, w in rows:
                f.write(f"{a:.2f}\t{b:.2f}\t{p}\t{w}\n")


if __name__ == "__main__":
    main()
