"""Tri-axial sensor windows -> RGB spectrogram images, batched in torch (IMG2IMU, Sec. III-A).

Yoon et al., "IMG2IMU: Translating Knowledge from Large-Scale Images to IMU Sensing
Applications", Sec. III-A and IV-A2: one spectrogram per axis, the x, y, z axes become the R, G,
B channels, the image is resized to 128x96 and normalized with ImageNet statistics; ``nfft`` and
``noverlap`` are hyperparameters.

The power spectrum is the one of ``scipy.signal.spectrogram(x, fs, window="hann",
nperseg=min(nfft, T), noverlap=min(noverlap, nperseg - 1), nfft=nfft)`` (one-sided PSD, mean of
each segment removed), so it can be checked against scipy; then ``log10(max(P, floor))``, mapped
to [0, 1] with ONE range ``(low, high)`` of log power fitted on the training windows
(:func:`fit_log_power_range`) and clipped, low frequencies at the bottom row, bilinear resize to
``height x width`` and ImageNet mean/std.

One fixed range, not a per-window or per-axis scaling: the paper (III-A) reads the image's
brightness as the intensity of motion and its hue as each axis's share, so a window that moves
10 times as much must be brighter, and a silent axis must stay dark in its colour channel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError

#: ImageNet channel statistics used by every torchvision / MoCo model
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: power below this is clipped before log10 (a flat segment has zero power)
POWER_FLOOR = 1e-10
#: percentiles of the training windows' log power that become black (0) and full brightness (1)
LOG_POWER_PERCENTILES = (1.0, 99.0)
#: the range is fitted on at most this many training windows (evenly spaced): enough for two percentiles
FIT_MAX_WINDOWS = 2048


def segment_parameters(n_samples: int, nfft: int, noverlap: int) -> tuple[int, int]:
    """``(nperseg, noverlap)`` actually used for windows of ``n_samples``: a segment is at most
    the window long and consecutive segments overlap by less than a segment."""
    if nfft < 2:
        raise ConfigError(f"nfft must be at least 2, but got {nfft=}; choose one of 32, 64, 128, 256")
    if noverlap < 0:
        raise ConfigError(f"noverlap must be >= 0, but got {noverlap=}; use nfft minus 2, 4, 8 or 16")
    nperseg = min(nfft, n_samples)
    return nperseg, min(noverlap, nperseg - 1)


def spectrogram_power(x: Tensor, fs: float, nfft: int, noverlap: int) -> Tensor:
    """One-sided power spectral density of every channel, as ``scipy.signal.spectrogram``.

    Args:
        x: ``(N, C, T)`` signals.
        fs: sampling rate in Hz (scales the density like scipy's ``scaling="density"``).
        nfft: FFT length; segments are ``min(nfft, T)`` samples, zero-padded to ``nfft``.
        noverlap: samples shared by consecutive segments (clipped below the segment length).

    Returns:
        ``(N, C, nfft // 2 + 1, n_segments)`` power, frequency ascending along dim 2.
    """
    n_samples = x.shape[-1]
    nperseg, noverlap = segment_parameters(n_samples, nfft, noverlap)
    window = torch.hann_window(nperseg, periodic=True, dtype=x.dtype, device=x.device)  # scipy's "hann"
    segments = x.unfold(-1, nperseg, nperseg - noverlap)  # (N, C, S, nperseg)
    segments = (segments - segments.mean(dim=-1, keepdim=True)) * window  # detrend="constant"
    spectrum = torch.fft.rfft(segments, n=nfft, dim=-1)  # (N, C, S, F)
    power = spectrum.real**2 + spectrum.imag**2
    power = power / (fs * (window**2).sum())
    if nfft % 2:  # one-sided: double every bin but DC (and Nyquist for even nfft)
        power[..., 1:] *= 2
    else:
        power[..., 1:-1] *= 2
    return power.transpose(-1, -2)  # (N, C, F, S)


def fit_log_power_range(windows: Tensor, fs: float, nfft: int, noverlap: int,
                        percentiles: tuple[float, float] = LOG_POWER_PERCENTILES,
                        max_windows: int = FIT_MAX_WINDOWS, floor: float = POWER_FLOOR) -> tuple[float, float]:
    """The ``(low, high)`` log10 power that :func:`power_to_rgb` maps to 0 and 1, fitted on
    training windows: robust percentiles of the log power of every pixel of their spectrograms,
    all three axes pooled (one range, so the axes stay comparable).

    The paper (III-A) gives no scale; percentiles (1st and 99th) rather than min and max keep one
    loud window or a flat (zero-power) segment from setting the range. Pixels at the power floor
    (flat signals) are left out of the fit, as they carry no level.

    Args:
        windows: ``(N, 3, T)`` training windows (unlabeled is enough).
        fs, nfft, noverlap: as in :class:`SpectrogramImage`; the range is one per spectrogram setting.
        percentiles: the percentiles that become black and full brightness.
        max_windows: fit on at most this many windows, evenly spaced over ``windows``.

    Raises:
        ConfigError: no window is given.
    """
    if len(windows) == 0:
        raise ConfigError("fitting the spectrogram's log-power range needs at least one training window, but got none")
    power = spectrogram_power(subsample(windows, max_windows).float(), fs, nfft, noverlap)
    log_power = torch.log10(power[power > floor]).double()
    if log_power.numel() == 0:  # every training window is flat: any range draws them black
        return math.log10(floor), math.log10(floor) + 1.0
    low, high = torch.quantile(_at_most(log_power, 1 << 24), torch.tensor(percentiles, dtype=torch.double) / 100).tolist()
    return float(low), float(max(high, low + 1e-3))  # a constant spectrum still gets a non-empty range


def subsample(windows: Tensor, max_windows: int = FIT_MAX_WINDOWS) -> Tensor:
    """At most ``max_windows`` of ``windows``, evenly spaced (all of them when there are fewer)."""
    return windows[:: max(1, -(-len(windows) // max_windows))]


def _at_most(values: Tensor, n: int) -> Tensor:
    """``values``, evenly subsampled to at most ``n`` (``torch.quantile`` takes at most 2**24)."""
    return values[:: -(-values.numel() // n)] if values.numel() > n else values


def power_to_rgb(power: Tensor, height: int, width: int, log_power_range: tuple[float, float],
                 floor: float = POWER_FLOOR) -> Tensor:
    """``(N, 3, F, S)`` power -> ``(N, 3, height, width)`` image in [0, 1]: log10, the fixed
    ``log_power_range`` ``(low, high)`` mapped to [0, 1] and clipped, low frequencies at the
    bottom (row ``height - 1``), bilinear resize."""
    low, high = log_power_range
    log_power = torch.log10(power.clamp_min(floor))
    scaled = ((log_power - low) / (high - low)).clamp(0, 1)  # below the training range: black
    scaled = scaled.flip(-2)  # row 0 = highest frequency, as a spectrogram is drawn
    return F.interpolate(scaled, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)


def imagenet_normalize(images: Tensor) -> Tensor:
    """``(N, 3, H, W)`` images in [0, 1] -> standardized with the ImageNet mean and std."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


class SpectrogramImage(nn.Module):
    """``(N, 3, T)`` tri-axial windows -> ``(N, 3, height, width)`` RGB spectrogram images.

    Args:
        fs: sampling rate of the windows in Hz.
        nfft: FFT length (the paper searches 32, 64, 128, 256).
        noverlap: segment overlap in samples (the paper searches ``nfft`` minus 2, 4, 8, 16).
        log_power_range: ``(low, high)`` log10 power drawn as 0 and 1, fitted on the training
            windows with :func:`fit_log_power_range` (a model stores it with its build arguments).
        height: image height (frequency axis); 96 in the paper.
        width: image width (time axis); 128 in the paper.
        normalize: apply ImageNet mean/std (False gives the [0, 1] image, e.g. to plot or augment).
    """

    def __init__(self, fs: float, nfft: int, noverlap: int, log_power_range: tuple[float, float], height: int = 96,
                 width: int = 128, normalize: bool = True):
        super().__init__()
        segment_parameters(nfft, nfft, noverlap)  # fail early on impossible values
        low, high = (float(v) for v in log_power_range)
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ConfigError(f"the log-power range must be finite with high > low, but got {log_power_range=}; "
                              "fit it with fit_log_power_range on the training windows")
        self.fs, self.nfft, self.noverlap = float(fs), int(nfft), int(noverlap)
        self.log_power_range = (low, high)  # plain floats: constants of a traced (TorchScript) model
        self.height, self.width, self.normalize = int(height), int(width), normalize

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != 3:
            raise ConfigError(f"spectrogram images need (N, 3, T) tri-axial windows, but got shape {tuple(x.shape)}")
        power = spectrogram_power(x.float(), self.fs, self.nfft, self.noverlap)
        image = power_to_rgb(power, self.height, self.width, self.log_power_range)
        return imagenet_normalize(image) if self.normalize else image

    def extra_repr(self) -> str:
        low, high = self.log_power_range
        return (f"fs={self.fs}, nfft={self.nfft}, noverlap={self.noverlap}, log10 power [{low:.3g}, {high:.3g}], "
                f"size={self.height}x{self.width}")
