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

from automl_har.models.resnet import FEATURE_DIM, ResNet18
from automl_har.models.spectrogram import SpectrogramImage


class EmbeddingStandardizer(nn.Module):
    """z-score of the encoder's 512-d embeddings, with statistics fitted on the unlabeled training
    windows' embeddings (:meth:`fit`); ``mean``/``std`` are persistent buffers, so checkpoints, the
    export bundle and ``autohar predict`` apply them.

    Why: a frozen (e.g. random) ResNet-18's embeddings share a large common offset (Daphnet: mean 1.0,
    across-window std 0.2), so a fresh ``fc`` gives nearly every window the same class, and the
    paper's linear-eval schedule (peak lr 1e-5, Sec. IV-A4) cannot move it away from there. Fitted for a
    frozen encoder only; a fully fine-tuned one keeps the identity (its BatchNorm statistics move). A state
    dict without the buffers (saved before them) loads as the identity, which is what it was trained with.
    """

    #: standard deviations below this are a constant feature (scaled by 1.0), as in data.splits.Standardizer
    min_std = 1e-8

    def __init__(self, dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, embeddings: Tensor) -> "EmbeddingStandardizer":  # embeddings: (N, dim)
        mean, std = embeddings.double().mean(0), embeddings.double().std(0, unbiased=False)
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std < self.min_std, torch.ones_like(std), std))
        return self

    def forward(self, embeddings: Tensor) -> Tensor:  # (N, dim) -> (N, dim)
        return (embeddings - self.mean) / self.std

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        for name, identity in (("mean", torch.zeros_like(self.mean)), ("std", torch.ones_like(self.std))):
            state_dict.setdefault(prefix + name, identity)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class Img2ImuClassifier(nn.Module):
    """Raw windows of one tri-axial modality -> spectrogram image -> ResNet-18 -> z-scored embedding -> logits.

    ``encoder.fc`` is the linear head, so ``encoder`` keeps torchvision's ResNet-18 keys; the
    embedding z-score (``standardize``, :class:`EmbeddingStandardizer`) sits outside it.
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
        self.standardize = EmbeddingStandardizer()

    def features(self, inputs: Tensor | dict[str, Tensor]) -> Tensor:  # -> (N, 512)
        x = inputs[self.modality] if isinstance(inputs, dict) else inputs
        return self.encoder.features(self.to_image(x))

    def head(self, embeddings: Tensor) -> Tensor:  # (N, 512) raw embeddings -> (N, n_classes)
        return self.encoder.fc(self.standardize(embeddings))

    def forward(self, inputs: Tensor | dict[str, Tensor]) -> Tensor:  # -> (N, n_classes)
        return self.head(self.features(inputs))


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
