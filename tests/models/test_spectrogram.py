"""Sensor -> image transform of IMG2IMU: scipy-equal power, RGB mapping, orientation, size, normalization."""

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
    power_to_rgb,
    segment_parameters,
    spectrogram_power,
)

FS = 50.0


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
    image = SpectrogramImage(FS, 64, 48, normalize=False)(torch.from_numpy(x).float())[0]  # (3, 96, 128)
    assert image.shape == (3, 96, 128)
    assert 0 <= image.min() and image.max() <= 1
    red_row, green_row = image[0].mean(1).argmax(), image[1].mean(1).argmax()
    assert red_row > 80  # 2 Hz of 25 Hz: the bottom rows are brightest in red
    assert green_row < 30  # 20 Hz: near the top in green
    for channel in image:  # each axis min-max scaled on its own
        assert channel.max() > 0.95 and channel.min() < 0.05


def test_imagenet_normalization_and_per_axis_scaling():
    x = torch.randn(4, 3, 100)
    raw = SpectrogramImage(FS, 32, 28, height=24, width=32, normalize=False)(x)
    normalized = SpectrogramImage(FS, 32, 28, height=24, width=32)(x)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(normalized, (raw - mean) / std)
    scaled = power_to_rgb(spectrogram_power(x * 1000, FS, 32, 28), 24, 32)  # scale-free per axis
    torch.testing.assert_close(scaled, raw, atol=1e-5, rtol=1e-4)


def test_flat_axis_is_black_not_nan():
    x = torch.zeros(1, 3, 100)
    x[0, 0] = torch.randn(100)
    image = SpectrogramImage(FS, 32, 30, normalize=False)(x)
    assert torch.isfinite(image).all() and image[0, 1:].abs().max() == 0


def test_wrong_shape_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"\(N, 3, T\) tri-axial windows, but got shape \(2, 6, 50\)"):
        SpectrogramImage(FS, 32, 30)(torch.zeros(2, 6, 50))
