"""Benchmark inputs built from the repository's real speech fixtures (tests/fixtures/speech)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"


def clips() -> list[str]:
    return sorted(p.stem for p in SPEECH.glob("*.txt"))


def long_line(seconds: float = 60.0, pause_s: float = 0.3) -> tuple[bytes, str]:
    """WAV bytes and transcript of at least ``seconds`` of real speech: the fixture clips in order,
    repeated, separated by short pauses (a long monologue)."""
    parts: list[np.ndarray] = []
    words: list[str] = []
    total = 0
    while total < seconds * 16000:
        for name in clips():
            x, rate = sf.read(SPEECH / f"{name}.wav", dtype="float32")
            assert rate == 16000
            parts += [x, np.zeros(int(pause_s * 16000), dtype=np.float32)]
            words.append((SPEECH / f"{name}.txt").read_text().strip())
            total += len(x) + int(pause_s * 16000)
            if total >= seconds * 16000:
                break
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue(), " ".join(words)
