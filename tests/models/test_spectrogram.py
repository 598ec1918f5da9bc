"""Sensor -> image transform of IMG2IMU: scipy-equal power, RGB mapping, orientation, size, normalization,
and one fitted log-power range (brightness is intensity, Sec. III-A)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import spectrogram

from automl_har.errors import ConfigError
from automl_har.models.spectrogram import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SpectrogramImage,
    fit_log_power_range,
    power_to_rgb,
    segment_parameters,
    spectrogram_power,
)

FS = 50.0
#: a log10 power range that spans the test signals (unit-variance noise has PSD ~ 1/FS = 0.02)
RANGE = (-6.0, 0.0)


@pytest.mark.parametrize("nfft, noverlap", [(32, 30), (64, 56), (128, 120), (256, 240), (33, 17)])
def test_power_equals_scipy_spectrogram(nfft, noverlap):
    x = np.random.default_rng(nfft).normal(size=(2, 3, 200))
    nperseg = min(nfft, 200)  # nfft=256 > window: one 200-sample segment zero-padded to 256
    _, _, expected = spectrogram(x, fs=FS, window="hann", nperseg=nperseg, noverlap=min(noverlap, nperseg - 1), nfft=nfft)
    power = spectrogram_power(torch.from_numpy(x), FS, nfft, noverlap).numpy()
    assert power.shape == expected.shape == (2, 3, nfft // 2 + 1, expected.shape[-1])
    np.testing.assert_allclose(power, expected, rtol=1e-9, atol=1e-12 * expected.max())


def test_segment_length_and_overlap_are_clipped_to_the_window():
    assert segment_parameters(200, 256, 240) == (200, 199)
    assert segment_parameters(200, 64, 60) == (64, 60)
    with pytest.raises(ConfigError, match="nfft must be at least 2"):
        segment_parameters(200, 1, 0)


def test_axes_become_rgb_with_low_frequencies_at_the_bottom():
    t = np.arange(256) / FS
    x = np.zeros((1, 3, 256))
    x[0, 0] = np.sin(2 * np.pi * 2.0 * t)  # x axis: 2 Hz, a low frequency
    x[0, 1] = np.sin(2 * np.pi * 20.0 * t)  # y axis: 20 Hz, near Nyquist (25 Hz)
    x[0, 2] = np.random.default_rng(0).normal(size=256)  # z axis: broadband
    image = SpectrogramImage(FS, 64, 48, RANGE, normalize=False)(torch.from_numpy(x).float())[0]  # (3, 96, 128)
    assert image.shape == (3, 96, 128)
    assert 0 <= image.min() and image.max() <= 1
    red_row, green_row = image[0].mean(1).argmax(), image[1].mean(1).argmax()
    assert red_row > 80  # 2 Hz of 25 Hz: the bottom rows are brightest in red
    assert green_row < 30  # 20 Hz: near the top in green


def test_imagenet_normalization_and_one_fixed_range():
    x = torch.randn(4, 3, 100)
    raw = SpectrogramImage(FS, 32, 28, RANGE, height=24, width=32, normalize=False)(x)
    normalized = SpectrogramImage(FS, 32, 28, RANGE, height=24, width=32)(x)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(normalized, (raw - mean) / std)
    power = spectrogram_power(x, FS, 32, 28)
    expected = ((torch.log10(power) - RANGE[0]) / (RANGE[1] - RANGE[0])).clamp(0, 1).flip(-2)
    image = power_to_rgb(power, power.shape[-2], power.shape[-1], RANGE)  # same size: no resampling
    torch.testing.assert_close(image, expected)


def test_a_louder_axis_is_brighter_and_a_silent_axis_stays_dark():
    """Sec. III-A: brightness shows the intensity of motion, hue each axis's share; a per-window,
    per-axis min-max scaling would draw all three channels alike."""
    rng = np.random.default_rng(1)
    train = torch.from_numpy(rng.normal(size=(64, 3, 200))).float()  # unit-variance training windows
    log_power_range = fit_log_power_range(train, FS, 32, 28)
    to_image = SpectrogramImage(FS, 32, 28, log_power_range, height=24, width=32, normalize=False)
    x = torch.from_numpy(rng.normal(size=(8, 3, 200))).float()
    x[:, 1] *= 10  # the y axis moves 10 times as much
    x[:, 2] *= 1e-3  # the z axis is (nearly) silent: sensor noise only
    image = to_image(x)
    red, green, blue = image[:, 0].mean(), image[:, 1].mean(), image[:, 2].mean()
    assert green > red + 0.25  # +2 decades of power: much brighter in its own channel
    assert 0.3 < red < 0.8  # a training-like axis lies inside the range
    assert blue < 0.01  # near-silent: dark, not stretched to full range
    louder = to_image(x * 10)
    assert louder[:, 0].mean() > red + 0.25  # the whole window 10x: brighter


def test_the_range_is_robust_percentiles_of_the_pooled_training_log_power():
    rng = np.random.default_rng(2)
    train = torch.from_numpy(rng.normal(size=(200, 3, 100))).float()
    low, high = fit_log_power_range(train, FS, 32, 28)
    log_power = torch.log10(spectrogram_power(train, FS, 32, 28)).flatten().double()
    expected = torch.quantile(log_power, torch.tensor([0.01, 0.99]).double()).tolist()
    assert (low, high) == pytest.approx(tuple(expected), abs=1e-3)  # the zero-power DC bins are left out
    loud = train.clone()
    loud[0] *= 1e4  # one very loud window (+8 decades) barely moves the 99th percentile
    assert fit_log_power_range(loud, FS, 32, 28)[1] == pytest.approx(high, abs=0.1)
    flat = torch.zeros(4, 3, 100)
    flat_low, flat_high = fit_log_power_range(flat, FS, 32, 28)
    assert flat_high > flat_low  # all flat: still a usable range
    with pytest.raises(ConfigError, match="at least one training window"):
        fit_log_power_range(torch.zeros(0, 3, 100), FS, 32, 28)
    with pytest.raises(ConfigError, match="high > low"):
        SpectrogramImage(FS, 32, 28, (1.0, 1.0))


def test_flat_axis_is_black_not_nan():
    x = torch.zeros(1, 3, 100)
    x[0, 0] = torch.randn(100)
    image = SpectrogramImage(FS, 32, 30, RANGE, normalize=False)(x)
    assert torch.isfinite(image).all() and image[0, 1:].abs().max() == 0


def test_wrong_shape_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"\(N, 3, T\) tri-axial windows, but got shape \(2, 6, 50\)"):
        SpectrogramImage(FS, 32, 30, RANGE)(torch.zeros(2, 6, 50))
