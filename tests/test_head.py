"""Head motion from prosody (mien.head): causal, chunking-invariant, seeded, settles in pauses."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import speech_bytes, transcript
from mien import Animator, LineRequest
from mien.audio import Audio, decode_audio
from mien.channels import CHANNELS, HEAD_ROTATION, INDEX
from mien.config import config_from_dict
from mien.errors import InvalidArgument
from mien.head import HeadConfig, HeadMotion
from mien.request import AnimationOptions

HEAD = [INDEX[n] for n in HEAD_ROTATION]
FPS = 60.0


def speech(name: str = "librivox_0870") -> np.ndarray:
    return decode_audio(speech_bytes(name), max_duration_s=60).samples


def render(samples: np.ndarray, *, seed: int = 1, chunks: list[int] | None = None, vad: float = 0.0,
           fps: float = FPS) -> np.ndarray:
    """Head angles (frames x 3) of ``samples``, fed and rendered chunk by chunk like a stream."""
    head = HeadMotion(seed, fps)
    n = int(np.floor(len(samples) / 16000 * fps)) + 1
    out = np.zeros((n, len(CHANNELS)))
    sizes = chunks or [len(samples)]
    fed = done = 0
    for size in [*sizes, len(samples)]:
        head.feed(samples[fed:fed + size])
        fed = min(len(samples), fed + size)
        ready = n if fed >= len(samples) else int(np.floor(fed / 16000 * fps)) + 1
        if ready > done:
            head.render(out[done:ready], done, np.full((ready - done, 3), vad))
            done = ready
        if fed >= len(samples):
            break
    return out[:, HEAD]


def test_streamed_in_any_chunking_equals_the_whole_line() -> None:
    x = speech()
    whole = render(x)
    for seed in (0, 1):
        sizes = [int(s) for s in np.random.default_rng(seed).integers(1, 3000, size=2000)]
        assert np.array_equal(render(x, chunks=sizes), whole)


def test_no_look_ahead_a_frame_uses_only_the_audio_before_it() -> None:
    x = speech()
    cut = int(1.5 * 16000)
    other = x.copy()
    other[cut:] = np.random.default_rng(0).normal(0, 0.2, len(x) - cut)
    a, b = render(x), render(other)
    last_same = int(np.floor(cut / 16000 * FPS))  # the last frame at or before the cut
    assert np.array_equal(a[:last_same + 1], b[:last_same + 1])
    assert not np.array_equal(a[last_same + 1:], b[last_same + 1:])


def test_seeded_and_deterministic() -> None:
    x = speech()
    assert np.array_equal(render(x, seed=7), render(x, seed=7))
    assert not np.array_equal(render(x, seed=7), render(x, seed=8))


def test_the_head_moves_while_speaking_and_more_when_aroused() -> None:
    x = speech()
    calm, excited = render(x, vad=-0.6), render(x, vad=0.8)
    assert calm.std(axis=0).max() > 0.2
    assert np.abs(np.diff(excited, axis=0)).sum() > 1.3 * np.abs(np.diff(calm, axis=0)).sum()


def test_settles_in_a_long_pause() -> None:
    x = speech()
    pause = 3.0
    line = np.concatenate([x, np.zeros(int(pause * 16000), np.float32), x]).astype(np.float32)
    angles = render(line)
    start = len(x) / 16000 + 1.0  # one second after the pause began
    frames = slice(int(start * FPS), int((len(x) / 16000 + pause) * FPS))
    assert np.ptp(angles[frames], axis=0).max() < 0.5
    assert np.ptp(angles[: int(len(x) / 16000 * FPS)], axis=0).max() > 1.0  # but not before it


def test_pitch_accents_bring_downward_nods() -> None:
    """A synthetic voice: flat 120 Hz with 0.15 s rises to 150 Hz every second (pitch accents)."""
    rate, seconds = 16000, 6.0
    t = np.arange(int(rate * seconds)) / rate
    accents = np.arange(0.8, seconds - 0.5, 1.0)
    f0 = 120.0 + 30.0 * sum(np.exp(-0.5 * ((t - a) / 0.05) ** 2) for a in accents)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = (0.3 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)
    pitch = render(voice)[:, 1]
    velocity = np.diff(pitch) * FPS
    times = np.arange(len(velocity)) / FPS
    near = np.zeros(len(velocity), bool)
    for a in accents:
        near |= (times >= a) & (times < a + 0.25)
    assert velocity[near].mean() < -1.0  # degrees per second, chin going down after each accent
    assert np.corrcoef(-velocity, near.astype(float))[0, 1] > 0.2


def test_listening_track_has_back_channel_nods() -> None:
    head = HeadMotion(3, FPS, listening=True)
    out = np.zeros((int(20 * FPS), len(CHANNELS)))
    head.render(out, 0, np.zeros((len(out), 3)))
    pitch = out[:, INDEX["headPitch_deg"]]
    assert pitch.min() < -1.0 and np.abs(out[:, INDEX["headYaw_deg"]]).max() > 0.05


def test_frames_must_come_in_order_with_their_audio() -> None:
    head = HeadMotion(0, FPS)
    head.feed(np.zeros(1600, np.float32))
    with pytest.raises(ValueError, match="frame 3 requested"):
        head.render(np.zeros((2, len(CHANNELS))), 3, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="needs audio"):
        head.render(np.zeros((20, len(CHANNELS))), 0, np.zeros((20, 3)))


@pytest.fixture(scope="module")
def animator() -> Animator:
    return Animator()


def test_pipeline_switch_and_idle_tracks(animator: Animator) -> None:
    audio = Audio(speech())
    line = animator.animate(LineRequest(audio=audio, transcript=transcript("librivox_0870"), seed=2))
    still = animator.animate(LineRequest(audio=audio, transcript=transcript("librivox_0870"), seed=2,
                                         options=AnimationOptions(head_motion_scale=0)))
    for name in HEAD_ROTATION:
        assert np.abs(line.channel(name)).max() > 0.3
        assert not still.channel(name).any()
    # the mouth does not depend on the head
    assert np.array_equal(line.channel("jawOpen"), still.channel("jawOpen"))
    # the aligned line's head is the same stage a stream runs over the same audio
    assert np.allclose(np.stack([line.channel(n) for n in HEAD_ROTATION], 1), render(audio.samples, seed=2), atol=1e-5)
    idle = animator.animate(LineRequest(idle_duration_s=12.0, seed=2))
    assert np.abs(idle.channel("headPitch_deg")).max() > 0.5
    with pytest.raises(InvalidArgument, match="head_motion_scale"):
        AnimationOptions(head_motion_scale=3.0)


def test_config_is_validated() -> None:
    assert config_from_dict({"head": {"nod_deg": 4.0}}).head == HeadConfig(nod_deg=4.0)
    with pytest.raises(InvalidArgument, match=r"head\.nod_deg"):
        config_from_dict({"head": {"nod_deg": 90.0}})
    with pytest.raises(InvalidArgument, match=r"head\.nod_dgr"):
        config_from_dict({"head": {"nod_dgr": 1.0}})
