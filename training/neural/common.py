"""Shared definitions of the neural model's training: channels, rates, the teacher, emotions, labels, splits.

The runtime reads everything about a model from its ``.onnx.json``; these constants are what the
export writes there, and what data generation / training / evaluation use, so all of them agree.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mien import AnimationOptions, Animator, Emotion, EmotionKeyframe, LineRequest
from mien.audio import Audio
from mien.channels import ARKIT52, MOUTH
from mien.config import Config
from mien.emotion import EMOTIONS, emotion_weights
from mien.features import FeatureConfig
from mien.phonemes import PhonemeConfig
from mien.track import PhoneSegment

__all__ = [
    "SAMPLE_RATE", "FPS", "LOOKAHEAD_FRAMES", "CHANNELS", "SPEECH_CHANNELS", "EXPRESSION_CHANNELS",
    "FEATURES", "CACHE", "Teacher", "EmotionSpec", "sample_emotion", "frame_labels", "read_phones",
    "write_phones", "warp_frames", "HELD_OUT_VARIANTS", "HELD_OUT_LANGUAGES", "TRAIN_SPEAKERS",
]

SAMPLE_RATE = 16000
FPS = 60.0
LOOKAHEAD_FRAMES = 4
"""4 frames at 60 fps = 66.7 ms, + 12.5 ms half window = 79.2 ms of audio after a frame (<= 80 ms)."""
CHANNELS: tuple[str, ...] = tuple(n for n in ARKIT52 if not n.startswith(("eyeBlink", "eyeLook")))
"""The 42 predicted channels (ARKit-52 without eyeBlink*/eyeLook*, which stay procedural), ARKit order."""
SPEECH_CHANNELS: tuple[str, ...] = tuple(n for n in CHANNELS if n in set(MOUTH))
EXPRESSION_CHANNELS: tuple[str, ...] = tuple(n for n in CHANNELS if n not in set(MOUTH))
FEATURES = FeatureConfig(sample_rate_hz=SAMPLE_RATE, fps=FPS)
"""Log-mel analysis (mean/std are added by the training data's statistics)."""
CACHE = Path(os.environ.get("MIEN_CACHE", "~/.cache/mien")).expanduser() / "neural"
"""Generated data and checkpoints (``$MIEN_CACHE/neural``, default ``~/.cache/mien/neural``); never the repo."""

# Frame labels (phone class of the reference timeline at the frame's time).
SIL, VOWEL, BILABIAL, LABIODENTAL, CONSONANT, REST = 0, 1, 2, 3, 4, 5
VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())

# Held-out synthetic voices (never trained on): espeak-ng variants and one accent.
HELD_OUT_VARIANTS = frozenset({"klatt3", "steph", "edward", "m6"})
HELD_OUT_LANGUAGES = frozenset({"en-gb-x-gbcwmd"})
# Real speech: the only speaker trained on (all others with transcripts are held out by speaker).
TRAIN_SPEAKERS = frozenset({"MFA author"})


def read_phones(path: Path) -> tuple[PhoneSegment, ...]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        if len(f) < 3:
            continue
        try:
            a, b = float(f[0]), float(f[1])
        except ValueError:
            continue  # header
        out.append(PhoneSegment(a, b, f[2].strip().upper().rstrip("012") or "SIL", f[3] if len(f) > 3 else ""))
    return tuple(out)


def write_phones(path: Path, phones: Sequence[PhoneSegment]) -> None:
    lines = ["start_s\tend_s\tphone\tword"] + [f"{p.start_s:.4f}\t{p.end_s:.4f}\t{p.phone}\t{p.word}" for p in phones]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def n_frames(n_samples: int) -> int:
    return math.floor(n_samples / SAMPLE_RATE * FPS) + 1


# ------------------------------------------------------------------------------------------- emotions
@dataclass(frozen=True)
class EmotionSpec:
    """An emotion as the teacher takes it: a constant blend, or keyframes (times in seconds)."""

    keys: tuple[tuple[float, tuple[tuple[str, float], ...]], ...]

    def request(self) -> Emotion | tuple[EmotionKeyframe, ...]:
        if len(self.keys) == 1:
            return Emotion(dict(self.keys[0][1]))
        return tuple(EmotionKeyframe(t, Emotion(dict(w))) for t, w in self.keys)

    def weights(self, n: int) -> np.ndarray:
        """(n, 7) per-frame category weights at FPS (rows sum to 1), as the runtime gets them."""
        return emotion_weights(self.request(), n, FPS)

    def describe(self) -> str:
        return " -> ".join(",".join(f"{k}:{v:.2f}" for k, v in w) or "neutral" for _, w in self.keys)

    @classmethod
    def of(cls, name: str, intensity: float = 1.0) -> EmotionSpec:
        return cls(((0.0, () if name == "neutral" else ((name, intensity),)),))


def _one(rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
    u = rng.random()
    if u < 0.2:
        return ()
    if u < 0.85:
        return ((EMOTIONS[1 + int(rng.integers(6))], float(rng.uniform(0.3, 1.0))),)
    a, b = rng.choice(np.arange(1, 7), size=2, replace=False)
    total = float(rng.uniform(0.5, 1.0))
    share = float(rng.uniform(0.25, 0.75))
    return ((EMOTIONS[int(a)], total * share), (EMOTIONS[int(b)], total * (1 - share)))


def sample_emotion(rng: np.random.Generator, duration_s: float) -> EmotionSpec:
    """Per clip: neutral (25 %), one category x intensity 0.3-1 (about 55 %), blends of two (about 10 %),
    and in 20 % of clips a change of emotion mid-clip (two keyframes) so the model learns transitions."""
    if rng.random() < 0.25:
        return EmotionSpec(((0.0, ()),))
    first = _one(rng)
    if rng.random() < 0.2 and duration_s > 1.5:
        t0 = float(rng.uniform(0.2, 0.6) * duration_s)
        t1 = min(duration_s, t0 + float(rng.uniform(0.05, 0.8)))
        second = _one(rng)
        return EmotionSpec(((t0, first), (t1, second)))
    return EmotionSpec(((0.0, first),))


# ---------------------------------------------------------------------------------------------- teacher
class Teacher:
    """The aligner-based pipeline (mien.pipeline) as the source of targets: blinks, gaze and micro-motion off."""

    OPTIONS = AnimationOptions(blink_scale=0.0, gaze_scale=0.0, micro_motion_scale=0.0)

    def __init__(self) -> None:
        self.animator = Animator()
        # Corpus transcripts are known to be exact: align them even where the voice is unusual (falsetto,
        # creaky, whisper) instead of testing them against the audio as the runtime does.
        self.aligner = Animator(Config(phonemes=PhonemeConfig(check_transcript=False))).recognizer

    def curves(self, samples: np.ndarray, *, emotion: EmotionSpec, phones: Sequence[PhoneSegment] | None = None,
               transcript: str | None = None) -> np.ndarray:
        """(frames, len(CHANNELS)) float32 teacher curves at FPS for clean audio + a timeline or transcript."""
        request = LineRequest(audio=Audio(np.asarray(samples, dtype=np.float32)), fps=FPS,
                              phones=tuple(phones) if phones is not None else None,
                              transcript=transcript, emotion=emotion.request(), options=self.OPTIONS,
                              rig="arkit52")
        track = self.animator.animate(request)
        return np.stack([track.channel(n) for n in CHANNELS], axis=1).astype(np.float32)

    def align(self, samples: np.ndarray, transcript: str) -> tuple[tuple[PhoneSegment, ...], str, tuple[str, ...]]:
        timeline = self.aligner.align(Audio(np.asarray(samples, dtype=np.float32)), transcript)
        return timeline.phones, timeline.mode, timeline.warnings


# ----------------------------------------------------------------------------------------------- labels
def frame_labels(phones: Sequence[PhoneSegment], n: int) -> np.ndarray:
    """(n,) uint8 phone class at each frame time: SIL, VOWEL, BILABIAL, LABIODENTAL, CONSONANT, or REST
    (the scorer's silence-rest region: >= 150 ms into a silence lasting >= 300 ms)."""
    t = np.arange(n) / FPS
    out = np.full(n, SIL, dtype=np.uint8)
    for p in phones:
        m = (t >= p.start_s) & (t < p.end_s)
        if p.phone == "SIL":
            if p.end_s - p.start_s >= 0.3:
                out[m & (t >= p.start_s + 0.15)] = REST
            continue
        if p.phone in VOWELS:
            code = VOWEL
        elif p.phone in ("P", "B", "M"):
            code = BILABIAL
        elif p.phone in ("F", "V"):
            code = LABIODENTAL
        else:
            code = CONSONANT
        out[m] = code
    if phones:
        out[t >= phones[-1].end_s] = REST if phones[-1].phone == "SIL" else SIL
    return out


def warp_frames(values: np.ndarray, n_out: int, time_scale: float, *, nearest: bool = False) -> np.ndarray:
    """Resample per-frame values of a clip whose audio got ``time_scale`` times longer to ``n_out`` frames."""
    if time_scale == 1.0 and len(values) == n_out:
        return values
    src = np.arange(n_out) / time_scale
    if nearest:
        return values[np.clip(np.round(src).astype(int), 0, len(values) - 1)]
    grid = np.arange(len(values))
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(src, grid, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((n_out, *values.shape[1:])).astype(values.dtype)


def save_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")
