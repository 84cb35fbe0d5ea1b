"""Config: YAML into frozen dataclasses, every problem named with its key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mien.config import Config, config_from_dict, load_config
from mien.errors import InvalidArgument


def test_defaults_are_frozen_and_typed() -> None:
    config = load_config(None)
    assert config == Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]
    assert config.server.host == "127.0.0.1"


def test_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "mien.yaml"
    path.write_text("server:\n  port: 6000\nlimits:\n  max_audio_s: 60\narticulation:\n  lead_ms: 20\n")
    config = load_config(path)
    assert config.server.port == 6000 and config.limits.max_audio_s == 60.0 and config.articulation.lead_ms == 20.0


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"server": {"prot": 1}}, "server.prot: unknown setting (did you mean 'port'?)"),
        ({"serverr": {}}, "serverr: unknown setting (did you mean 'server'?)"),
        ({"server": {"port": "fast"}}, "server.port: expected an integer"),
        ({"server": {"port": 70000}}, "server.port: 70000 is out of range; accepted: 0 to 65535"),
        ({"limits": {"max_audio_s": -1}}, "limits.max_audio_s"),
        ({"animation": {"default_fps": 300}}, "animation.default_fps"),
        ({"animation": {"min_fps": 30, "default_fps": 24}}, "must lie within min_fps..max_fps"),
        ({"server": {"log_level": "LOUD"}}, "server.log_level"),
        ({"server": {"tls_cert_file": "a.pem"}}, "set both tls_cert_file and tls_key_file"),
        ({"blinks": {"partial_probability": 2}}, "blinks.partial_probability"),
        ({"state": {"auto_create": "yes"}}, "expected true or false"),
        ({"state": {"emotion_half_life_s": 500}}, "must be shorter than state.mood_half_life_s"),
        ({"state": {"sqlite_synchronous": "SOMETIMES"}}, "state.sqlite_synchronous"),
        # 0 decoders would make every line wait for a decoder forever
        ({"phonemes": {"aligners": 0}}, "phonemes.aligners: 0 is out of range; accepted: 1 to 16"),
        ({"phonemes": {"recognizers": 0}}, "phonemes.recognizers: 0 is out of range; accepted: 1 to 16"),
        ({"phonemes": {"recognize_chunk_s": 120}}, "phonemes.recognize_chunk_s"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_config_names_the_key(data: object, needle: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        config_from_dict(data, "mien.yaml")
    assert needle in str(err.value) and str(err.value).startswith("mien.yaml")


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: [unclosed\n")
    with pytest.raises(InvalidArgument, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(InvalidArgument, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(InvalidArgument, match="not valid YAML"):  # safe_load refuses python tags
        load_config(evil)
