"""A PNG of one example spectrogram image per class (logged with IMG2IMU trials)."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
import torch

from automl_har.data import WindowedData
from automl_har.models.spectrogram import SpectrogramImage


def example_indices(y: np.ndarray, n_classes: int) -> list[int]:
    """The first window of every class present in ``y``."""
    return [int(np.flatnonzero(y == c)[0]) for c in range(n_classes) if (y == c).any()]


def spectrogram_examples_png(images: torch.Tensor, titles: Sequence[str], suptitle: str = "") -> bytes:
    """``(K, 3, H, W)`` images in [0, 1] side by side, one title each, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(images)
    figure, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.6), squeeze=False)
    for ax, image, title in zip(axes[0], images, titles):
        ax.imshow(image.permute(1, 2, 0).numpy(), aspect="auto")
        ax.set_title(str(title), fontsize=9)
        ax.set_xlabel("time")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_ylabel("frequency (low at bottom)")
    if suptitle:
        figure.suptitle(suptitle, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


@torch.no_grad()
def examples_png(data: WindowedData, modality: str, nfft: int, noverlap: int, log_power_range: tuple[float, float],
                 height: int, width: int) -> bytes:
    """PNG of the spectrogram image (before ImageNet normalization) of the first window of each class,
    drawn with the model's log-power range (so the brightness of the classes can be compared)."""
    rows = example_indices(data.y, data.n_classes)
    to_image = SpectrogramImage(data.rates_hz[modality], nfft, noverlap, log_power_range, height, width, normalize=False)
    windows = torch.from_numpy(data.modalities[modality][np.asarray(rows)]).transpose(1, 2)  # (K, 3, T)
    title = f"{modality}: nfft={nfft}, noverlap={noverlap}, x->R y->G z->B"
    return spectrogram_examples_png(to_image(windows), [data.classes[data.y[i]] for i in rows], title)
