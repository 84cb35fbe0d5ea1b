"""A picture of the lip-sync: the waveform, the phone labels, and the mouth curves under it."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from .audio import Audio
from .track import Track

__all__ = ["plot_track"]

_MOUTH = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthRollLower",
          "mouthPressLeft", "tongueOut")


def plot_track(track: Track, audio: Audio | None, path: str | Path | BinaryIO, title: str = "",
               fmt: str | None = None) -> None:
    """Write a picture (PNG unless ``fmt`` or the extension says svg/pdf): waveform with phones on top, mouth
    curves and lip aperture below. ``path`` may be a binary file object."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_wave, ax_curves) = plt.subplots(2, 1, figsize=(max(8.0, track.duration_s * 2.0), 6.0), sharex=True,
                                             gridspec_kw={"height_ratios": [1, 2]})
    if audio is not None:
        t = np.arange(len(audio.samples)) / audio.sample_rate_hz
        ax_wave.plot(t, audio.samples, color="0.4", linewidth=0.5)
    for p in track.phones:
        if p.phone != "SIL":
            ax_wave.axvspan(p.start_s, p.end_s, color="C0" if p.phone in ("P", "B", "M") else "0.9", alpha=0.3)
            ax_wave.text(0.5 * (p.start_s + p.end_s), 0.9, p.phone, ha="center", va="top", fontsize=7,
                         transform=ax_wave.get_xaxis_transform())
    ax_wave.set_ylabel("audio")
    ax_wave.set_title(title or f"{track.info.mode} · {track.fps:g} fps · {track.info.rig}")
    times = track.times_s
    names = [n for n in _MOUTH if n in track.channel_names]
    for name in names:
        ax_curves.plot(times, track.channel(name), label=name, linewidth=1.0)
    if "jawOpen" in track.channel_names and "mouthClose" in track.channel_names:
        aperture = np.maximum(0.0, track.channel("jawOpen") - track.channel("mouthClose"))
        ax_curves.fill_between(times, aperture, color="k", alpha=0.12, label="lip aperture")
    ax_curves.set_ylim(0, 1)
    ax_curves.set_xlabel("time (s)")
    ax_curves.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format=fmt)
    plt.close(fig)
