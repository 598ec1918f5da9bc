"""Tri-axial sensor windows -> RGB spectrogram images, batched in torch (IMG2IMU, Sec. III-A).

Yoon et al., "IMG2IMU: Translating Knowledge from Large-Scale Images to IMU Sensing
Applications", Sec. III-A and IV-A2: one spectrogram per axis, the x, y, z axes become the R, G,
B channels, the image is resized to 128x96 and normalized with ImageNet statistics; ``nfft`` and
``noverlap`` are hyperparameters.

The power spectrum is the one of ``scipy.signal.spectrogram(x, fs, window="hann",
nperseg=min(nfft, T), noverlap=min(noverlap, nperseg - 1), nfft=nfft)`` (one-sided PSD, mean of
each segment removed), so it can be checked against scipy; then ``log10(max(P, floor))``,
per-window per-axis min-max scaling to [0, 1], low frequencies at the bottom row, bilinear
resize to ``height x width`` and ImageNet mean/std.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError

#: ImageNet channel statistics used by every torchvision / MoCo model
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: power below this is clipped before log10 (a flat segment has zero power)
POWER_FLOOR = 1e-10


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


def power_to_rgb(power: Tensor, height: int, width: int, floor: float = POWER_FLOOR) -> Tensor:
    """``(N, 3, F, S)`` power -> ``(N, 3, height, width)`` image in [0, 1]: log10, per-axis
    min-max, low frequencies at the bottom (row ``height - 1``), bilinear resize."""
    log_power = torch.log10(power.clamp_min(floor))
    low = log_power.amin(dim=(-2, -1), keepdim=True)
    high = log_power.amax(dim=(-2, -1), keepdim=True)
    scaled = (log_power - low) / (high - low).clamp_min(1e-12)  # a flat axis becomes 0 (black)
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
        height: image height (frequency axis); 96 in the paper.
        width: image width (time axis); 128 in the paper.
        normalize: apply ImageNet mean/std (False gives the [0, 1] image, e.g. to plot or augment).
    """

    def __init__(self, fs: float, nfft: int, noverlap: int, height: int = 96, width: int = 128, normalize: bool = True):
        super().__init__()
        segment_parameters(nfft, nfft, noverlap)  # fail early on impossible values
        self.fs, self.nfft, self.noverlap = float(fs), int(nfft), int(noverlap)
        self.height, self.width, self.normalize = int(height), int(width), normalize

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != 3:
            raise ConfigError(f"spectrogram images need (N, 3, T) tri-axial windows, but got shape {tuple(x.shape)}")
        image = power_to_rgb(spectrogram_power(x.float(), self.fs, self.nfft, self.noverlap), self.height, self.width)
        return imagenet_normalize(image) if self.normalize else image

    def extra_repr(self) -> str:
        return f"fs={self.fs}, nfft={self.nfft}, noverlap={self.noverlap}, size={self.height}x{self.width}"
