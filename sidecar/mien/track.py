"""The result of animating a line: named per-frame curves plus the phone/viseme timeline.

Also the two plain-text export formats every consumer shares (CLI, bake, tests):
CSV (`time,<channel names...>`, one row per frame, time in seconds; Unreal's curve-table import
reads it) and JSON (the same content, plus the timeline and the metadata).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PhoneSegment", "TrackInfo", "Track"]


@dataclass(frozen=True)
class PhoneSegment:
    """One phone of the line: [start_s, end_s), ARPAbet without stress (``SIL`` for pauses)."""

    start_s: float
    end_s: float
    phone: str
    word: str = ""
    viseme: str = ""


@dataclass(frozen=True)
class TrackInfo:
    """How a track was made: the path taken, warnings, timings and versions."""

    mode: str = ""
    """``aligned`` (transcript forced alignment), ``recognized`` (phonetic recognition),
    ``neural`` (the audio-to-controller network) or ``idle`` (no audio)."""
    warnings: tuple[str, ...] = ()
    audio_duration_s: float = 0.0
    processing_ms: float = 0.0
    seed: int = 0
    rig: str = "arkit52"
    versions: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""
    emotion: Mapping[str, float] = field(default_factory=dict)
    """The emotion used, as category weights (empty for neutral or keyframed emotion)."""


@dataclass(frozen=True)
class Track:
    """Frame-major curves: ``values[frame, channel]``; frame ``i`` is at ``i / fps`` seconds."""

    channel_names: tuple[str, ...]
    fps: float
    values: np.ndarray
    phones: tuple[PhoneSegment, ...] = ()
    info: TrackInfo = field(default_factory=TrackInfo)

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.channel_names):
            raise ValueError(
                f"values must be (frames, {len(self.channel_names)}), got {self.values.shape}"
            )

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def channel(self, name: str) -> np.ndarray:
        """The curve of one channel by name (KeyError names the available channels)."""
        try:
            return self.values[:, self.channel_names.index(name)]
        except ValueError:
            raise KeyError(f"no channel {name!r}; channels: {', '.join(self.channel_names)}") from None

    def to_csv(self) -> str:
        """`time,<channels...>` then one row per frame; 6 decimals, deterministic."""
        out = io.StringIO()
        out.write("time," + ",".join(self.channel_names) + "\n")
        table = np.column_stack([self.times_s, self.values.astype(np.float64)])
        np.savetxt(out, table, fmt="%.6f", delimiter=",")
        return out.getvalue()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: channels, fps, frame-major values, timeline and metadata."""
        return {
            "channel_names": list(self.channel_names),
            "fps": self.fps,
            "frame_count": self.n_frames,
            "values": [[round(float(v), 6) for v in row] for row in self.values],
            "phones": [
                {"start_s": round(p.start_s, 4), "end_s": round(p.end_s, 4), "phone": p.phone,
                 "word": p.word, "viseme": p.viseme}
                for p in self.phones
            ],
            "info": {
                "mode": self.info.mode,
                "warnings": list(self.info.warnings),
                "audio_duration_s": round(self.info.audio_duration_s, 4),
                "seed": self.info.seed,
                "rig": self.info.rig,
                "versions": dict(self.info.versions),
                "emotion": {k: round(float(v), 4) for k, v in self.info.emotion.items()},
            },
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=False)
