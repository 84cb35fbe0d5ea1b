"""`mien live` driven by a fake microphone (a file source): CI has no audio device, so no stream is opened."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from conftest import SPEECH
from mien import Animator
from mien.live import FileSource, Meters, run_live
from mien.neural import NeuralModel
from mien.streaming import FrameBatch, StreamStart

pytest.importorskip("torch", reason="the toy model is built with torch (the train extra)")
from support.toy_model import build_toy_model


@pytest.fixture(scope="module")
def animator(tmp_path_factory: pytest.TempPathFactory) -> Animator:
    return Animator(neural_model=NeuralModel(build_toy_model(tmp_path_factory.mktemp("toy"))))


def test_fake_microphone_streams_frames_to_meters(animator: Animator) -> None:
    source = FileSource(SPEECH / "goforward.wav", realtime=False)
    out = io.StringIO()
    meters = Meters(("jawOpen", "mouthClose"), out)
    batches: list[FrameBatch] = []

    def sink(batch: FrameBatch) -> None:
        batches.append(batch)
        meters(batch)

    assert animator.streams is not None
    session = run_live(animator.streams, source, StreamStart(sample_rate_hz=source.sample_rate_hz), sink)
    meters_out = out.getvalue()
    assert batches and batches[0].first_frame == 0
    total = sum(len(b.values) for b in batches)
    assert total == int(session.audio_s * 60) + 1
    assert "\r" in meters_out and "frame" in meters_out
    assert animator.streams.active == 0


def test_meters_show_named_channels() -> None:
    out = io.StringIO()
    meters = Meters(("jawOpen", "mouthClose", "eyeBlinkLeft"), out)
    meters(FrameBatch(0, np.array([[1.0, 0.0, 0.5]], dtype=np.float32)))
    text = out.getvalue()
    assert "jawOpen ##########" in text and "eyeBlinkLe #####" in text


def test_seconds_limit(animator: Animator) -> None:
    source = FileSource(SPEECH / "librivox_0870.wav", realtime=False)
    assert animator.streams is not None
    session = run_live(animator.streams, source, StreamStart(sample_rate_hz=16000), lambda b: None, seconds=1.0)
    assert 1.0 <= session.audio_s < 1.1


def test_cli_live_with_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mien.cli import main

    model = build_toy_model(tmp_path)
    config = tmp_path / "mien.yaml"
    config.write_text(f"neural:\n  model: {model}\nstate:\n  db_path: ':memory:'\n")
    code = main(["--config", str(config), "live", "--input", str(SPEECH / "cards_001.wav"), "--fast"])
    assert code == 0
    assert "s of audio, 60 fps" in capsys.readouterr().out
