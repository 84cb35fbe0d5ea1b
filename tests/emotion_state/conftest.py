"""Shared fixtures: one ONNX text encoder per test session, engines on temporary databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mien.emotion_state import EmotionStateConfig, EmotionStateEngine
from mien.emotion_state.context import TextEncoder

# Made-up lines written for these tests (no dataset text).
GREETING = "Good morning! Can I help you with anything?"
HOSTILE = "You are a worthless liar and a thief, and I hate you!"
FRIENDLY = "Thank you so much, you saved my family. This is wonderful!"


@pytest.fixture(scope="session")
def encoder() -> TextEncoder:
    """The shipped encoder, loaded once."""
    return TextEncoder()


@pytest.fixture
def make_engine(tmp_path: Path, encoder: TextEncoder) -> Iterator[Callable[..., EmotionStateEngine]]:
    """Factory of engines on ``tmp_path`` databases sharing one save key, as one install (closed at teardown)."""
    made: list[EmotionStateEngine] = []

    def factory(name: str = "state.sqlite3", **overrides: Any) -> EmotionStateEngine:
        overrides.setdefault("db_path", str(tmp_path / name))
        overrides.setdefault("blob_key_path", str(tmp_path / "install.key"))  # one install: one save key
        engine = EmotionStateEngine(EmotionStateConfig(**overrides), encoder=encoder)
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()
