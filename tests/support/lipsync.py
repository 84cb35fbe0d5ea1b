"""Lip-sync scoring of tracks with the reference scorer (scripts/score_lipsync.py, vendored unchanged)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mien import Track

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "tests" / "fixtures" / "speech"


def _scorer() -> Any:
    spec = importlib.util.spec_from_file_location("score_lipsync", ROOT / "scripts" / "score_lipsync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["score_lipsync"] = module
    spec.loader.exec_module(module)
    return module


SCORER = _scorer()


def clips() -> list[str]:
    """Names of the real speech fixtures that have a transcript and a reference timeline."""
    return sorted(p.name[: -len(".phones.tsv")] for p in SPEECH.glob("*.phones.tsv"))


def score(tracks: Mapping[str, Track], tmp: Path, ref_dir: Path = SPEECH) -> dict[str, Any]:
    """Write each track as CSV into ``tmp`` and score them against the reference timelines."""
    tmp.mkdir(parents=True, exist_ok=True)
    results = []
    for name, track in tracks.items():
        path = tmp / f"{name}.csv"
        path.write_text(track.to_csv())
        segs = SCORER.read_ref(str(ref_dir / f"{name}.phones.tsv"))
        results.append(SCORER.score_clip(segs, SCORER.Curves.read_csv(str(path))))
    summary: dict[str, Any] = SCORER.summarize(results)
    return summary
