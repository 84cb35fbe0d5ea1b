"""Property-based fuzzing (hypothesis) of the three parsers of untrusted input.

* the audio decoder (``decode_audio`` on arbitrary bytes and on mutated valid WAV/FLAC/AIFF files,
  ``decode_pcm`` on arbitrary bytes and parameters): the only outcomes are ``InvalidArgument`` or a
  valid ``Audio`` (finite float32 samples in [-1, 1] at 16 kHz, no longer than the limit);
* the StreamAnimate state machine (``serve_stream`` with the toy model, fed random message
  sequences): only ``MienError`` subclasses escape, a stream that succeeds follows the protocol
  (header, contiguous frame batches, end), and the open-stream count returns to zero;
* the bake manifest parser (``load_manifest``, when the bake is present): never raises, only
  reports problems (each naming a key), and only the lines without a problem are returned.

CI runs a fast subset; ``MIEN_FUZZ_EXAMPLES=5000 pytest tests/hardening/test_fuzz.py`` runs long.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mien.audio import INTERNAL_SAMPLE_RATE_HZ, Audio, decode_audio, decode_pcm
from mien.config import config_from_dict
from mien.errors import InvalidArgument, MienError
from mien.server.stream_rpc import serve_stream
from mien.streaming import StreamRegistry
from mien.v1 import common_pb2 as pb
from mien.v1 import face_animation_pb2 as fa

from .conftest import fuzz_examples
from .harness import encode, tone

MAX_S = 5.0
FUZZ = settings(max_examples=fuzz_examples(150), deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _valid(audio: Audio) -> None:
    assert isinstance(audio, Audio)
    assert audio.sample_rate_hz == INTERNAL_SAMPLE_RATE_HZ
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) > 0
    assert np.isfinite(audio.samples).all()
    # [-1, 1] before resampling; the resampler's overshoot is bounded (the exact range: test_security)
    assert float(np.abs(audio.samples).max()) <= 2.0
    assert audio.duration_s <= MAX_S + 0.01


def _decode(data: bytes) -> None:
    try:
        audio = decode_audio(data, max_duration_s=MAX_S)
    except InvalidArgument as error:
        assert str(error) and error.field and error.field.startswith("audio")
        return
    _valid(audio)


# ----------------------------------------------------------------------------------- audio decoder


@FUZZ
@given(st.binary(max_size=4096))
def test_decode_audio_arbitrary_bytes(data: bytes) -> None:
    _decode(data)


@FUZZ
@given(st.sampled_from([b"RIFF", b"fLaC", b"FORM", b"OggS", b"ID3", b"\xff\xfb", b"RF64", b"riff"]),
       st.binary(max_size=2048))
def test_decode_audio_magic_then_garbage(magic: bytes, rest: bytes) -> None:
    _decode(magic + rest)


SEEDS = {
    "wav16": encode(tone(0.2)),
    "wav_float": encode(tone(0.2), subtype="FLOAT"),
    "wav_ulaw": encode(tone(0.2), subtype="ULAW"),
    "wav_adpcm": encode(tone(0.2), subtype="IMA_ADPCM"),
    "wav_stereo_44k": encode(tone(0.2, rate=44100, channels=2), rate=44100),
    "flac": encode(tone(0.2), fmt="FLAC"),
    "aiff": encode(tone(0.2), fmt="AIFF"),
}
INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 17, 24, 32, 255, 256, 3999, 4000, 16000, 384000, 384001, 0x7FFF, 0xFFFF,
               0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF]
WAV_FIELDS = [(4, "<I"), (20, "<H"), (22, "<H"), (24, "<I"), (28, "<I"), (32, "<H"), (34, "<H"), (40, "<I")]


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    if name.startswith("wav") and draw(st.booleans()):
        # forge whole header fields (sizes, channels, rates, block align, bits) with interesting values
        for offset, fmt in draw(st.lists(st.sampled_from(WAV_FIELDS), min_size=1, max_size=3)):
            width = struct.calcsize(fmt)
            value = draw(st.sampled_from(INTERESTING)) & ((1 << (8 * width)) - 1)
            data[offset:offset + width] = struct.pack(fmt, value)
    header = min(len(data), 128)
    for position, value in draw(st.lists(st.tuples(st.integers(0, header - 1), st.integers(0, 255)), max_size=6)):
        data[position] = value
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 4)) == 0:
        data += draw(st.binary(max_size=256))
    return bytes(data)


@FUZZ
@given(mutated_files())
def test_decode_audio_mutated_valid_files(data: bytes) -> None:
    _decode(data)


@FUZZ
@given(st.binary(max_size=4096), st.one_of(st.integers(-10, 10**10), st.floats(allow_nan=True)),
       st.sampled_from(["pcm_s16le", "pcm_f32le", "pcm_s24le", "", "PCM_S16LE"]), st.integers(-2, 20))
def test_decode_pcm_arbitrary(data: bytes, rate: Any, encoding: str, channels: int) -> None:
    try:
        audio = decode_pcm(data, sample_rate_hz=rate, encoding=encoding, channels=channels, max_duration_s=MAX_S)
    except InvalidArgument as error:
        assert str(error) and error.field
        return
    _valid(audio)


# ---------------------------------------------------------------------------- stream state machine


@pytest.fixture(scope="module")
def registry(toy_model: Path) -> StreamRegistry:
    from mien.neural import NeuralModel

    config = config_from_dict({"limits": {"stream_stall_timeout_s": 2.0, "max_chunk_s": 0.5, "max_audio_s": 5},
                               "state": {"db_path": ":memory:"}})
    return StreamRegistry(config, NeuralModel(str(toy_model)))


_EMOTIONS = st.one_of(
    st.just(pb.EmotionSpec()),
    st.builds(lambda n, i: pb.EmotionSpec(constant=pb.EmotionValue(category=pb.CategoryEmotion(name=n, intensity=i))),
              st.sampled_from(["happy", "sad", "grumpy", "", "ANGRY"]),
              st.one_of(st.floats(-1, 2), st.just(float("nan")))),
    st.builds(lambda t: pb.EmotionSpec(keyframes=pb.EmotionKeyframes(keyframes=[pb.EmotionKeyframe(
        time_s=t, value=pb.EmotionValue(category=pb.CategoryEmotion(name="sad")))])), st.floats(allow_nan=True)),
    st.just(pb.EmotionSpec(auto=pb.AutoEmotion())),
)

_HEADERS = st.one_of(
    st.just(fa.StreamHeader(sample_rate_hz=16000)),
    st.builds(
        lambda rate, enc, ch, fps, rig, emotion, seed: fa.StreamHeader(
            sample_rate_hz=rate, encoding=enc, channels=ch, fps=fps, rig=rig, emotion=emotion, seed=seed),
        st.sampled_from([0, 1, 3999, 8000, 16000, 22050, 44100, 384000, 384001, 2**32 - 1]),
        st.sampled_from([0, 1, 2, 3, 99]), st.integers(0, 20),
        st.one_of(st.sampled_from([0.0, 30.0, 60.0, 240.0, 241.0, -1.0]), st.floats(width=32)),
        st.sampled_from(["", "arkit52", "vrm", "nope", "/etc/passwd"]), _EMOTIONS, st.integers(0, 2**64 - 1)),
)


def _audio(data: bytes, keyframe_times: list[float]) -> fa.StreamAnimateRequest:
    keyframes = [pb.EmotionKeyframe(time_s=t, value=pb.EmotionValue(category=pb.CategoryEmotion(name="happy")))
                 for t in keyframe_times]
    return fa.StreamAnimateRequest(audio=fa.AudioChunk(data=data, emotion_keyframes=keyframes))


_CHUNKS = st.one_of(
    st.builds(lambda n: b"\x10\x00" * n, st.integers(0, 4000)),  # 0..250 ms at 16 kHz s16
    st.binary(max_size=3000),
    st.builds(lambda n, v: np.full(n, v, dtype="<f4").tobytes(), st.integers(0, 800),
              st.sampled_from([0.0, 0.5, 1e30, float("nan"), float("inf")])),
)

_MESSAGES = st.one_of(
    st.builds(lambda h: fa.StreamAnimateRequest(header=h), _HEADERS),
    st.builds(_audio, _CHUNKS, st.lists(st.one_of(st.floats(-1, 10), st.just(float("nan"))), max_size=2)),
    st.just(fa.StreamAnimateRequest(end=fa.EndOfAudio())),
    st.just(fa.StreamAnimateRequest()),
)


@st.composite
def stream_sequences(draw: st.DrawFn) -> list[fa.StreamAnimateRequest]:
    """Mostly well-started streams (so the deep states are reached), then anything."""
    messages = draw(st.lists(_MESSAGES, max_size=10))
    if draw(st.integers(0, 3)) > 0:
        messages.insert(0, fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000)))
    return messages


def _check_protocol(responses: list[fa.StreamAnimateResponse]) -> None:
    kinds = [r.WhichOneof("message") for r in responses]
    assert kinds[0] == "header" and kinds[-1] == "end" and set(kinds[1:-1]) <= {"frames"}, kinds
    channels = len(responses[0].header.channel_names)
    expected = 0
    for r in responses[1:-1]:
        assert r.frames.first_frame == expected
        assert len(r.frames.values) == r.frames.frame_count * channels
        assert all(math.isfinite(v) for v in r.frames.values)
        expected += r.frames.frame_count
    assert responses[-1].end.frame_count == expected


@FUZZ
@given(stream_sequences())
def test_stream_state_machine_random_sequences(registry: StreamRegistry, messages: list[Any]) -> None:
    def requests() -> Iterator[fa.StreamAnimateRequest]:
        yield from messages

    try:
        responses = list(serve_stream(registry, requests(), versions={"mien": "test"}))
    except MienError as error:
        assert str(error)
    else:
        _check_protocol(responses)
    assert registry.active == 0


@settings(max_examples=fuzz_examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=30), st.integers(0, 2**32))
def test_stream_chunking_never_changes_the_frames(registry: StreamRegistry, sizes: list[int], seed: int) -> None:
    """Any split of the same audio into chunks gives the same frames (up to float rounding of the model's
    batch shapes, as in tests/test_streaming.py)."""
    rng = np.random.default_rng(seed)
    pcm = (rng.standard_normal(16000) * 3000).astype("<i2").tobytes()

    def frames(chunks: list[bytes]) -> np.ndarray:
        msgs = [fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000, seed=3))]
        msgs += [fa.StreamAnimateRequest(audio=fa.AudioChunk(data=c)) for c in chunks]
        msgs.append(fa.StreamAnimateRequest(end=fa.EndOfAudio()))
        responses = list(serve_stream(registry, iter(msgs), versions={}))
        _check_protocol(responses)
        return np.concatenate([np.array(r.frames.values) for r in responses if r.WhichOneof("message") == "frames"])

    chunks, i = [], 0
    for size in sizes:
        chunks.append(pcm[i:i + 2 * size])
        i += 2 * size
    chunks += [pcm[j:j + 8000] for j in range(i, len(pcm), 8000)]  # the rest, within max_chunk_s
    chunks = [c for c in chunks if c]
    assume(chunks)
    reference = frames([pcm[j:j + 1280] for j in range(0, len(pcm), 1280)])
    got = frames(chunks)
    assert got.shape == reference.shape
    assert np.abs(got - reference).max() < 1e-5
    assert registry.active == 0


# -------------------------------------------------------------------------------- manifest parser

_KEYS = ["version", "defaults", "characters", "lines", "id", "character", "audio", "transcript", "transcript_file",
         "emotion", "heard", "game_time_s", "seed", "mode", "options", "rig", "fps", "formats", "persona", "ocean",
         "face_mesh", "per_character_glb", "expression_scale", "bogus"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                     st.text(max_size=30), st.sampled_from(["audio/good.wav", "../x.wav", "/etc/passwd", "arkit52",
                                                            "angry:0.8", "auto", "guard", "C:/x.wav", "good",
                                                            "0:sad;1:happy", "glb", "neural"]))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=4), st.dictionaries(st.sampled_from(_KEYS), children, max_size=5))


_VALUES = st.recursive(_SCALARS, _containers, max_leaves=25)


@st.composite
def manifests(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=300))
    doc: dict[str, Any] = {"version": draw(st.sampled_from([1, 1, 1, 2, "1", None]))}
    doc["characters"] = draw(st.one_of(
        st.just({"guard": {"rig": "arkit52"}}),
        st.dictionaries(st.sampled_from(["guard", "Guard", "../x", "", "con"]), _VALUES, max_size=3)))
    lines = draw(st.lists(st.one_of(
        st.just({"id": "good", "character": "guard", "audio": "audio/good.wav"}),
        st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6)), max_size=5))
    doc["lines"] = lines
    if draw(st.booleans()):
        doc["defaults"] = draw(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=4))
    if kind == 1:
        doc[draw(st.sampled_from(_KEYS))] = draw(_VALUES)
    return yaml.safe_dump(doc, allow_unicode=True)


def _manifest_parser() -> Any:
    try:
        from mien_bake.manifest import Problem, load_manifest
    except ImportError:
        return None
    return load_manifest, Problem


@pytest.fixture(scope="module")
def manifest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _manifest_parser() is None:
        pytest.skip("bake not available (mien_bake.manifest.load_manifest)")
    folder = tmp_path_factory.mktemp("fuzz_manifest")
    (folder / "audio").mkdir()
    (folder / "audio" / "good.wav").write_bytes(encode(tone(0.3)))
    return folder


@settings(max_examples=fuzz_examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(manifests())
def test_manifest_parser_never_raises(manifest_dir: Path, text: str) -> None:
    load_manifest, problem_type = _manifest_parser()
    path = manifest_dir / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    manifest = load_manifest(path)
    assert all(isinstance(p, problem_type) and p.key and p.message for p in manifest.problems)
    if manifest.fatal:
        assert not manifest.lines
    # every declared line is either returned or failed (never both, never lost)
    assert len(manifest.lines) + len(manifest.failed_line_ids) == len(manifest.declared_line_ids)
    for line in manifest.lines:
        assert line.audio.resolve().is_relative_to(manifest_dir.resolve()), line.audio
