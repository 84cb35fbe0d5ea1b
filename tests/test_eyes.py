"""Blinks and gaze over a 10-minute idle + speech timeline (issue 3 acceptance)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mien import AnimationOptions, Animator, Emotion, EncodedAudio, LineRequest
from mien.blinks import INTERVAL_SIGMA_LN_S, blink_curve, schedule_blinks
from mien.gaze import gaze_angles, saccade_duration_s, schedule_gaze
from mien.prosody import speaking_envelope
from mien.track import PhoneSegment

FPS = 60.0
DURATION_S = 600.0


def timeline() -> tuple[np.ndarray, np.ndarray]:
    """Alternating 12 s of speech (phrases of 2.5 s with 0.4 s pauses) and 12 s of listening."""
    phones = []
    t = 0.0
    while t < DURATION_S:
        talk_end = t + 12.0
        while t + 2.5 <= talk_end:
            phones.append(PhoneSegment(t, t + 2.5, "AH"))
            phones.append(PhoneSegment(t + 2.5, t + 2.9, "SIL"))
            t += 2.9
        phones.append(PhoneSegment(t, t + 12.0, "SIL"))
        t += 12.0
    n = int(DURATION_S * FPS) + 1
    speaking = speaking_envelope(phones, n, FPS)
    onsets = np.array([p.start_s for p in phones if p.phone == "SIL"])
    return speaking, onsets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blink_rate_duration_and_shape(seed: int) -> None:
    speaking, onsets = timeline()
    blinks = schedule_blinks(DURATION_S, np.random.default_rng(seed), speaking=speaking,
                             arousal=np.zeros_like(speaking), fps=FPS, pause_onsets_s=onsets)
    rate = len(blinks) / (DURATION_S / 60.0)
    assert 10 <= rate <= 30, rate
    for b in blinks:
        assert 0.100 <= b.duration_s <= 0.400
        assert b.close_s < b.open_s  # fast close, slower open
    depths = np.array([b.depth for b in blinks])
    assert (depths == 1.0).mean() > 0.7 and (depths < 1.0).any()  # mostly full, some partial
    # clustered at phrase boundaries: more blinks start within 0.3 s after a pause onset than chance
    near = np.mean([np.any((b.start_s - onsets >= 0) & (b.start_s - onsets <= 0.3)) for b in blinks])
    chance = len(onsets) * 0.3 / DURATION_S
    assert near > 2 * chance


def test_blink_rate_rises_with_arousal() -> None:
    speaking, onsets = timeline()
    calm = schedule_blinks(DURATION_S, np.random.default_rng(5), speaking=speaking,
                           arousal=np.full_like(speaking, -0.5), fps=FPS, pause_onsets_s=onsets)
    tense = schedule_blinks(DURATION_S, np.random.default_rng(5), speaking=speaking,
                            arousal=np.full_like(speaking, 0.8), fps=FPS, pause_onsets_s=onsets)
    assert len(tense) > len(calm) * 1.2


def test_blink_curve_shape() -> None:
    speaking, onsets = timeline()
    blinks = schedule_blinks(30.0, np.random.default_rng(0), speaking=speaking[: 30 * 60 + 1],
                             arousal=np.zeros(30 * 60 + 1), fps=240.0, pause_onsets_s=onsets[onsets < 30])
    curve = blink_curve(blinks, 30 * 240, 240.0)
    b = next(b for b in blinks if b.depth == 1.0)
    i0 = int(b.start_s * 240)
    peak = i0 + int(np.argmax(curve[i0:i0 + 120]))
    assert curve[peak] == pytest.approx(1.0, abs=0.01)
    rise = np.flatnonzero(curve[i0:peak + 1] > 0.01)
    assert (peak - (i0 + rise[0])) < (np.flatnonzero(curve[peak:] < 0.01)[0])  # closing shorter than opening


def test_blink_fit_is_documented() -> None:
    assert INTERVAL_SIGMA_LN_S == pytest.approx(0.80, abs=0.01)


def test_same_seed_same_curves_other_seed_different() -> None:
    animator = Animator()
    a = animator.animate(LineRequest(idle_duration_s=60, emotion=Emotion.of("happy", 0.5), seed=11))
    b = animator.animate(LineRequest(idle_duration_s=60, emotion=Emotion.of("happy", 0.5), seed=11))
    c = animator.animate(LineRequest(idle_duration_s=60, emotion=Emotion.of("happy", 0.5), seed=12))
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    assert not np.array_equal(a.channel("eyeBlinkLeft"), c.channel("eyeBlinkLeft"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_saccades_follow_the_main_sequence_and_fixations_hold(seed: int) -> None:
    speaking, onsets = timeline()
    saccades = schedule_gaze(DURATION_S, np.random.default_rng(seed), speaking=speaking, fps=FPS,
                             pause_onsets_s=onsets)
    assert len(saccades) > 200
    for s in saccades:
        assert abs(s.duration_s - saccade_duration_s(s.amplitude_deg)) <= 0.010
        assert abs(s.duration_s - (0.021 + 0.0022 * s.amplitude_deg)) <= 0.010
    for a, b in itertools.pairwise(saccades):
        assert b.start_s >= a.start_s + a.duration_s  # no overlap
        assert (b.yaw0, b.pitch0) == (a.yaw1, a.pitch1)  # the next saccade starts where the last one ended
    fine = 1000.0
    n = int(DURATION_S * fine)
    yaw, pitch = gaze_angles(saccades, n, fine)
    assert np.abs(yaw).max() <= 25 and np.abs(pitch).max() <= 20
    moving = np.zeros(n, dtype=bool)
    for s in saccades:
        moving[int(s.start_s * fine):int((s.start_s + s.duration_s) * fine) + 2] = True
    still = ~moving[1:] & ~moving[:-1]
    assert np.all(np.diff(yaw)[still] == 0) and np.all(np.diff(pitch)[still] == 0)  # fixations hold exactly
    # not snapping back to centre every time: many fixations are held away from the listener
    away = [s for s in saccades if np.hypot(s.yaw1, s.pitch1) > 3]
    assert len(away) > 0.2 * len(saccades)


def test_gaze_averts_more_while_speaking_and_returns_at_phrase_ends() -> None:
    speaking, onsets = timeline()
    saccades = schedule_gaze(DURATION_S, np.random.default_rng(7), speaking=speaking, fps=FPS, pause_onsets_s=onsets)
    yaw, pitch = gaze_angles(saccades, len(speaking), FPS)
    off = np.hypot(yaw, pitch) > 3
    assert off[speaking > 0.5].mean() > off[speaking < 0.5].mean() + 0.1
    returns = [s for s in saccades if np.hypot(s.yaw1, s.pitch1) < 3 and np.hypot(s.yaw0, s.pitch0) > 3]
    at_ends = [s for s in returns if np.any((s.start_s - onsets >= 0) & (s.start_s - onsets <= 0.15))]
    assert len(at_ends) > 0.3 * len(returns)


def test_gaze_channels_and_lids_follow(animate) -> None:  # type: ignore[no-untyped-def]
    track = animate("librivox_0870", seed=4)
    yaw, pitch = track.channel("eyeYawLeft_deg"), track.channel("eyePitchLeft_deg")
    assert np.array_equal(yaw, track.channel("eyeYawRight_deg"))
    left = yaw > 5
    if left.any():
        assert track.channel("eyeLookOutLeft")[left].min() > 0.1 and track.channel("eyeLookInRight")[left].min() > 0.1
    down = pitch < -4
    if down.any():
        assert track.channel("eyeLookDownLeft")[down].min() > 0.1
    no_gaze = animate("librivox_0870", seed=4, options=AnimationOptions(gaze_scale=0))
    assert np.all(no_gaze.channel("eyeYawLeft_deg") == 0)


def test_looking_down_lowers_the_lids() -> None:
    from mien.channels import CHANNELS, INDEX
    from mien.gaze import apply_gaze

    values = np.zeros((3, len(CHANNELS)))
    apply_gaze(values, np.zeros(3), np.array([0.0, -15.0, 12.0]))
    assert values[1, INDEX["eyeBlinkLeft"]] > 0.2 and values[0, INDEX["eyeBlinkLeft"]] == 0
    assert values[2, INDEX["eyeWideLeft"]] > 0.05


def test_ten_minute_track_end_to_end() -> None:
    """A real 10-minute track (speech clips alternating with idle): blink rate and clean curves."""
    from conftest import speech_bytes

    animator = Animator()
    idle = animator.animate(LineRequest(idle_duration_s=300, seed=9))
    speech = animator.animate(LineRequest(audio=EncodedAudio(speech_bytes("librivox_0870")), seed=9))
    for track in (idle, speech):
        assert np.isfinite(track.values).all()
    blink = idle.channel("eyeBlinkLeft")
    starts = np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))
    rate = len(starts) / 5.0
    assert 10 <= rate <= 30, rate


def test_schedulers_give_the_same_events_streamed_in_chunks() -> None:
    """Blinks and gaze decide causally: feeding the frames in random chunks changes nothing."""
    from mien.blinks import BlinkScheduler
    from mien.gaze import GazeScheduler

    speaking, onsets = timeline()
    n = 120 * 60
    speaking, onsets = speaking[:n], onsets[onsets < 120]
    whole_b = schedule_blinks(120.0, np.random.default_rng(3), speaking=speaking, arousal=np.zeros(n), fps=FPS,
                              pause_onsets_s=onsets)
    whole_g = schedule_gaze(120.0, np.random.default_rng(4), speaking=speaking, fps=FPS, pause_onsets_s=onsets)
    blinks, gaze = BlinkScheduler(np.random.default_rng(3), FPS), GazeScheduler(np.random.default_rng(4), FPS)
    chunks = np.random.default_rng(0).integers(1, 7, size=n)
    f = 0
    pending = sorted(onsets.tolist())
    for size in chunks:
        if f >= n:
            break
        end = min(n, f + int(size))
        while pending and pending[0] < end / FPS:  # a stream learns of a pause no later than its chunk
            t = pending.pop(0)
            blinks.pause_onset(t)
            gaze.pause_onset(t)
        blinks.advance(speaking[f:end], np.zeros(end - f))
        gaze.advance(speaking[f:end])
        f = end
    assert [b for b in blinks.blinks if b.start_s + b.duration_s <= 120.0] == whole_b
    assert [s for s in gaze.saccades if s.start_s + s.duration_s <= 120.0] == whole_g
