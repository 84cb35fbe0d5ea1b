"""Tests of training.data.augment (numpy/scipy only, no network)."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import augment as aug

SR = 16000


def _speechlike(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """Harmonic bursts with pauses: enough structure for the stretch / envelope checks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = (np.sin(2 * np.pi * 2.5 * t) > 0).astype(float)
    return (0.3 * x * env + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def test_deterministic_with_same_seed() -> None:
    x = _speechlike()
    for seed in range(6):
        a, sa = aug.augment(x, SR, np.random.default_rng(seed), babble_sources=[x[::-1].copy()])
        b, sb = aug.augment(x, SR, np.random.default_rng(seed), babble_sources=[x[::-1].copy()])
        assert sa == sb
        np.testing.assert_array_equal(a, b)


def test_different_seeds_differ() -> None:
    x = _speechlike()
    outs = [aug.augment(x, SR, np.random.default_rng(s))[0] for s in range(4)]
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert outs[i].shape != outs[j].shape or not np.allclose(outs[i], outs[j])


@pytest.mark.parametrize("strength", [0.0, 0.3, 1.0])
def test_finite_bounded_and_length_matches_time_scale(strength: float) -> None:
    x = _speechlike()
    for seed in range(12):
        y, scale = aug.augment(x, SR, np.random.default_rng(seed), strength=strength, babble_sources=[x])
        assert y.dtype == np.float32
        assert np.all(np.isfinite(y))
        assert np.max(np.abs(y)) <= 1.0
        assert len(y) == round(len(x) * scale)
        assert 0.84 <= scale <= 1.16
        if strength == 0.0:
            assert scale == 1.0


def test_strength_zero_is_near_identity() -> None:
    x = _speechlike()
    y, _ = aug.augment(x, SR, np.random.default_rng(3), strength=0.0)
    np.testing.assert_allclose(y, x, atol=1e-6)


def test_time_stretch_keeps_envelope_aligned_with_scaled_timeline() -> None:
    x = _speechlike(2.0)
    factor = 1.12
    y = aug.time_stretch(x, SR, factor)
    assert len(y) == round(len(x) * factor)
    hop = 160
    env_x = np.sqrt(np.convolve(x**2, np.ones(hop) / hop, "same"))[::hop]
    env_y = np.sqrt(np.convolve(y**2, np.ones(hop) / hop, "same"))
    # Envelope of y sampled at scaled times must match the original envelope.
    idx = np.minimum((np.arange(len(env_x)) * hop * factor).astype(int), len(env_y) - 1)
    corr = np.corrcoef(env_x, env_y[idx])[0, 1]
    assert corr > 0.9


def test_noise_snr() -> None:
    x = _speechlike()
    noise = aug.colored_noise(len(x), np.random.default_rng(0), 1.0)
    y = aug.add_noise(x, noise, 10.0)
    snr = 20 * np.log10(aug.rms(x) / aug.rms(y - x))
    assert abs(snr - 10.0) < 0.1


def test_pink_and_brown_spectra_slope_down() -> None:
    rng = np.random.default_rng(1)
    for exponent in (1.0, 2.0):
        n = aug.colored_noise(1 << 15, rng, exponent)
        spec = np.abs(np.fft.rfft(n)) ** 2
        lo, hi = spec[10:100].mean(), spec[5000:8000].mean()
        assert lo > 10 * hi


def test_telephone_removes_low_and_high_bands() -> None:
    rng = np.random.default_rng(2)
    white = rng.standard_normal(SR).astype(np.float32) * 0.1
    y = aug.telephone(white, SR, rng, mu_law=False)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    band = spec[(f > 500) & (f < 3000)].mean()
    assert spec[f > 4500].mean() < 1e-3 * band
    assert spec[f < 100].mean() < 0.05 * band


def test_rir_rt60_decay() -> None:
    rng = np.random.default_rng(4)
    rt60 = 0.5
    h = aug.room_impulse_response(SR, rng, rt60)
    tail = h[int(0.05 * SR) :]
    edc = np.cumsum(tail[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t20 = np.argmax(edc_db < -20) / SR  # time to -20 dB from 50 ms on
    assert 0.1 < t20 * 3 < 1.2  # extrapolated RT60 in a plausible band around 0.5 s


def test_scale_timeline() -> None:
    tl = [(0.0, 0.1, "SIL", ""), (0.1, 0.3, "AA", "a")]
    assert aug.scale_timeline(tl, 2.0) == [(0.0, 0.2, "SIL", ""), (0.2, 0.6, "AA", "a")]


def test_rejects_bad_strength() -> None:
    with pytest.raises(ValueError):
        aug.augment(np.zeros(100, np.float32), SR, np.random.default_rng(0), strength=1.5)
