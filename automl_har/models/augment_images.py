"""The four sensor-aware image augmentations of IMG2IMU (Yoon et al., Sec. III-B2, Fig. 5).

Each acts on a batch of RGB images in [0, 1], ``(N, 3, H, W)``, draws its own random strength
per image from a ``torch.Generator`` (reproducible under a seed) and returns a new tensor:

* :class:`TranslateX` - random horizontal shift (a window may start anywhere in time);
* :class:`PermuteX` - cut the width into chunks and shuffle them (sensor "permutation");
* :class:`Hue` - rotate colours about the grey axis (RGB mixing that keeps brightness, i.e.
  interchangeable x/y/z axes of a rotated sensor);
* :class:`Jitter` - zero-centred uniform noise per pixel (sensor noise).

The paper gives no strengths; the defaults are chosen here and searchable (see the
``img2imu`` search space).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from automl_har.errors import ConfigError, UnknownNameError


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


@dataclass(frozen=True)
class TranslateX:
    """Shift each image left or right by up to ``max_fraction`` of its width; the vacated
    columns are filled with ``fill`` (0.5 = the grey fill of AutoAugment's TranslateX, whose
    default maximum of 150/331 of the width, about 0.45, is used here too)."""

    max_fraction: float = 0.45
    fill: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.max_fraction <= 1:
            raise ConfigError(f"TranslateX max_fraction must be in [0, 1], but got {self.max_fraction}")

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        n, _, _, width = images.shape
        max_shift = int(round(self.max_fraction * width))
        shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)  # (N,) columns
        source = torch.arange(width)[None, :] - shifts[:, None]  # (N, W) column each pixel comes from
        valid = (source >= 0) & (source < width)
        index = source.clamp(0, width - 1).to(images.device)
        shifted = images.gather(3, index[:, None, None, :].expand_as(images))
        return torch.where(valid.to(images.device)[:, None, None, :], shifted, torch.full_like(images, self.fill))


@dataclass(frozen=True)
class PermuteX:
    """Split the width into ``n_chunks`` (nearly) equal chunks and put them in a random order,
    keeping local time structure while changing the global one (Um et al.'s permutation)."""

    n_chunks: int = 4

    def __post_init__(self) -> None:
        if self.n_chunks < 1:
            raise ConfigError(f"PermuteX n_chunks must be at least 1, but got {self.n_chunks}")

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        n, _, _, width = images.shape
        bounds = torch.linspace(0, width, min(self.n_chunks, width) + 1).round().long().tolist()
        chunks = [torch.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        index = torch.stack([
            torch.cat([chunks[j] for j in torch.randperm(len(chunks), generator=generator).tolist()]) for _ in range(n)
        ])  # (N, W)
        return images.gather(3, index.to(images.device)[:, None, None, :].expand_as(images))


@dataclass(frozen=True)
class Hue:
    """Rotate each image's colours about the grey axis (1, 1, 1) by a random angle of up to
    ``max_shift`` of a full turn: a channel-mixing matrix that keeps R + G + B (brightness).
    A third of a turn maps R -> G -> B, i.e. permutes the sensor axes."""

    max_shift: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.max_shift <= 0.5:
            raise ConfigError(f"Hue max_shift must be in [0, 0.5] of a turn, but got {self.max_shift}")

    @staticmethod
    def rotation(turns: Tensor) -> Tensor:
        """``(N, 3, 3)`` rotations about the grey axis by ``turns`` ``(N,)`` fractions of a turn."""
        theta = 2 * math.pi * turns
        cos, sin = torch.cos(theta), torch.sin(theta)
        # Rodrigues' rotation about the unit axis u = (1, 1, 1)/sqrt(3): R = cI + s[u]x + (1-c)uu^T
        a = cos + (1 - cos) / 3
        b = (1 - cos) / 3 - sin / math.sqrt(3)
        c = (1 - cos) / 3 + sin / math.sqrt(3)
        return torch.stack([torch.stack([a, b, c], -1), torch.stack([c, a, b], -1), torch.stack([b, c, a], -1)], 1)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        turns = _uniform(len(images), -self.max_shift, self.max_shift, generator)  # (N,)
        return apply_color_matrix(images, self.rotation(turns).to(images)).clamp(0, 1)


def apply_color_matrix(images: Tensor, matrix: Tensor) -> Tensor:
    """``(N, 3, H, W)`` images with every pixel's RGB multiplied by ``matrix[n]`` ``(N, 3, 3)``."""
    return torch.einsum("nij,njhw->nihw", matrix, images)


@dataclass(frozen=True)
class Jitter:
    """Add uniform noise in ``[-magnitude, magnitude]`` to every pixel and channel (zero-centred,
    so the mean colour is kept)."""

    magnitude: float = 0.1

    def __post_init__(self) -> None:
        if self.magnitude < 0:
            raise ConfigError(f"Jitter magnitude must be >= 0, but got {self.magnitude}")

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.rand(images.shape, generator=generator).to(images) * 2 - 1
        return (images + self.magnitude * noise).clamp(0, 1)


#: the paper's names, in the order the augmentations are applied
AUGMENTATIONS = {"TranslateX": TranslateX, "PermuteX": PermuteX, "Hue": Hue, "Jitter": Jitter}


def parse_augmentations(text: str) -> tuple[str, ...]:
    """``"TranslateX+Hue"`` (or comma-separated) -> ``("TranslateX", "Hue")`` in canonical order."""
    names = [part.strip() for part in text.replace(",", "+").split("+") if part.strip()]
    if not names:
        raise ConfigError(f"augmentation subset is empty ({text!r}); choose some of {'+'.join(AUGMENTATIONS)}")
    for name in names:
        if name not in AUGMENTATIONS:
            raise UnknownNameError("augmentation", name, AUGMENTATIONS)
    return tuple(name for name in AUGMENTATIONS if name in names)


class SensorAwareAugment:
    """Applies the chosen augmentations in turn: one random view of a batch of images."""

    def __init__(self, augmentations: Sequence) -> None:
        self.augmentations = list(augmentations)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for augment in self.augmentations:
            images = augment(images, generator)
        return images

    def __repr__(self) -> str:
        return f"SensorAwareAugment({self.augmentations})"
