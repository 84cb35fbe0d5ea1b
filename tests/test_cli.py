"""The `mien` command in-process: animate one or many files, formats, transcripts, plot, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import SPEECH
from mien.cli import main
from mien.emotion import Emotion, EmotionKeyframe, parse_emotion
from mien.errors import InvalidArgument


def test_one_file_with_text_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "go.csv"
    assert main(["animate", str(SPEECH / "goforward.wav"), "--text", "go forward ten meters", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert header[0] == "time" and "jawOpen" in header and "eyeYawLeft_deg" in header
    rows = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    assert rows.shape[1] == len(header)
    assert np.allclose(np.diff(rows[:, 0]), 1 / 60, atol=1e-6)


def test_many_files_transcripts_auto_json(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("goforward", "cards_001"):
        shutil.copy(SPEECH / f"{name}.wav", src)
        shutil.copy(SPEECH / f"{name}.txt", src)
    out = tmp_path / "out"
    assert main(["animate", str(src / "goforward.wav"), str(src / "cards_001.wav"), "--transcripts", "auto",
                 "--format", "json", "--fps", "30", "--emotion", "happy:0.5", "-o", str(out)]) == 0
    for name in ("goforward", "cards_001"):
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["fps"] == 30 and doc["info"]["mode"] == "aligned"
        assert len(doc["values"]) == doc["frame_count"] and len(doc["values"][0]) == len(doc["channel_names"])
        assert doc["phones"] and doc["info"]["emotion"] == {"happy": 0.5}


def test_no_text_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "x.csv", tmp_path / "x.png"
    assert main(["animate", str(SPEECH / "goforward.wav"), "--no-text", "--mode", "recognized", "-o", str(out),
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_bad_file_fails_alone(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    out = tmp_path / "out"
    code = main(["animate", str(bad), str(SPEECH / "goforward.wav"), "-o", str(out)])
    assert code == 1
    assert (out / "goforward.csv").exists() and not (out / "bad.csv").exists()


def test_usage_errors(tmp_path: Path) -> None:
    assert main(["animate", str(SPEECH / "goforward.wav"), "--emotion", "grumpy", "-o", str(tmp_path / "a.csv")]) == 2
    assert main(["animate", str(SPEECH / "goforward.wav"), "-o", str(tmp_path / "a.txt")]) == 1
    assert main(["--config", str(tmp_path / "missing.yaml"), "animate", str(SPEECH / "goforward.wav"),
                 "-o", str(tmp_path / "a.csv")]) == 2


def test_emotion_syntax() -> None:
    assert parse_emotion("angry:0.7") == Emotion.of("angry", 0.7)
    assert parse_emotion("joy") == Emotion.of("happy")
    frames = parse_emotion("0:neutral;1.5:angry:0.8")
    assert frames == (EmotionKeyframe(0.0, Emotion.neutral()), EmotionKeyframe(1.5, Emotion.of("angry", 0.8)))
    assert parse_emotion("vad:0.81,0.51,0.46").dominant == "happy"  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument):
        parse_emotion("vad:1,2")
