"""Lip-sync quality on real speech, scored with the reference scorer (acceptance of issues 2 and 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mien import Emotion, Track
from mien.channels import ARKIT52
from mien.emotion import EMOTIONS
from support.lipsync import clips, score


@pytest.fixture(scope="module")
def aligned_tracks(animate) -> dict[str, Track]:  # type: ignore[no-untyped-def]
    return {name: animate(name) for name in clips()}


def test_with_transcript(aligned_tracks: dict[str, Track], tmp_path: Path) -> None:
    s = score(aligned_tracks, tmp_path)
    assert s["pbm_n"] >= 30 and s["vowel_n"] >= 90
    assert s["pbm"] >= 0.95, s
    assert s["vowel"] >= 0.90, s
    assert s["rest"] >= 0.95, s
    assert abs(s["lag_ms"]) <= 20, s


def test_without_transcript(animate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tracks = {name: animate(name, text=False, mode="recognized") for name in clips()}
    assert all(t.info.mode == "recognized" for t in tracks.values())
    s = score(tracks, tmp_path)
    assert s["pbm"] >= 0.80, s
    assert s["vowel"] >= 0.85, s
    assert s["rest"] >= 0.95, s
    assert abs(s["lag_ms"]) <= 40, s


@pytest.mark.parametrize("emotion", [e for e in EMOTIONS if e != "neutral"])
def test_lipsync_holds_under_every_emotion(animate, tmp_path: Path, emotion: str) -> None:  # type: ignore[no-untyped-def]
    tracks = {name: animate(name, emotion=Emotion.of(emotion, 1.0)) for name in clips()}
    s = score(tracks, tmp_path)
    assert s["pbm"] >= 0.95, (emotion, s)
    assert s["rest"] >= 0.95, (emotion, s)
    assert s["vowel"] >= 0.90, (emotion, s)


def test_curves_are_clean(aligned_tracks: dict[str, Track]) -> None:
    for track in aligned_tracks.values():
        blend = track.values[:, : len(ARKIT52)]
        assert np.isfinite(track.values).all()
        assert blend.min() >= 0.0 and blend.max() <= 1.0
        assert track.fps == 60.0
        assert track.n_frames == int(track.info.audio_duration_s * 60) + 1


def test_face_leads_never_lags(aligned_tracks: dict[str, Track], tmp_path: Path) -> None:
    """Per-clip lag: the face may lead (negative) slightly but is never late by more than one 10 ms step."""
    from support.lipsync import SCORER, SPEECH

    for name, track in aligned_tracks.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(track.to_csv())
        r = SCORER.score_clip(SCORER.read_ref(str(SPEECH / f"{name}.phones.tsv")), SCORER.Curves.read_csv(str(path)))
        assert r["lag_ms"] <= 10, (name, r["lag_ms"])
