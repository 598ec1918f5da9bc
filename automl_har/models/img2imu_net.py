"""IMG2IMU's network: raw tri-axial windows -> RGB spectrogram image -> ResNet-18 -> logits.

Yoon et al., "IMG2IMU: Translating Knowledge from Large-Scale Images to IMU Sensing
Applications", Fig. 3-4: the spectrogram transform is part of the model, so a checkpoint runs on
new raw windows as they are.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from automl_har.models.resnet import ResNet18
from automl_har.models.spectrogram import SpectrogramImage


class Img2ImuClassifier(nn.Module):
    """Raw windows of one tri-axial modality -> spectrogram image -> ResNet-18 -> logits.

    ``encoder.fc`` is the linear head, so ``encoder`` keeps torchvision's ResNet-18 keys.
    ``log_power_low``/``log_power_high``: the log10 power drawn black and full-bright, fitted on
    the training windows (:func:`~automl_har.models.spectrogram.fit_log_power_range`); as build
    arguments they travel with checkpoints and export bundles (constants of the traced model).
    Inputs: ``{modality: (N, 3, T)}`` (all modalities of the data may be given) or ``(N, 3, T)``.
    """

    def __init__(self, modality: str, fs: float, nfft: int, noverlap: int, n_classes: int, *, log_power_low: float,
                 log_power_high: float, image_height: int = 96, image_width: int = 128) -> None:
        super().__init__()
        self.modality = modality
        self.to_image = SpectrogramImage(fs, nfft, noverlap, (log_power_low, log_power_high), image_height, image_width)
        self.encoder = ResNet18(num_classes=n_classes)

    def features(self, inputs: Tensor | dict[str, Tensor]) -> Tensor:  # -> (N, 512)
        x = inputs[self.modality] if isinstance(inputs, dict) else inputs
        return self.encoder.features(self.to_image(x))

    def forward(self, inputs: Tensor | dict[str, Tensor]) -> Tensor:  # -> (N, n_classes)
        return self.encoder.fc(self.features(inputs))


def state_hash(state: dict[str, Tensor]) -> str:
    """Content hash of a state dict (the encoder part of embedding cache keys)."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@contextmanager
def one_thread():
    """Run tiny ops (a linear head on cached embeddings) on one thread: a second thread only adds
    synchronisation waits, which cost ~20 ms per op on a busy 2-core machine (measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
