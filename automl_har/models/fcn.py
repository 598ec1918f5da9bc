"""The lightweight fully convolutional network (FCN) of MaskCAE and its sparse masked encoding.

Cheng, Zhang, Qin, Wang, Wu, Song, "MaskCAE: Masked Convolutional AutoEncoder via Sensor Data
Reconstruction for Self-Supervised Human Activity Recognition", IEEE JBHI 2024, Table I and
Sec. III-B.

A window is an image ``(B, 1, T, S)`` with one column per sensor axis. Each of the 4 blocks is a
``(5, 1)`` convolution (stride 1) -> BatchNorm -> ReLU -> ``(5, 1)`` max-pool with stride
``(2, 1)``: kernels slide along time only, so sensor axes never mix (guideline G2), and the time
axis halves per block (``T/2, T/4, T/8, T/16``). ``T`` is padded to a multiple of 16.

Sparse encoding (Eq. 1): a binary mask on the ``(T/16, S)`` grid of the deepest feature map is
repeated along time to every level. Masked input cells are zero and every layer's output is
multiplied by the mask of its resolution; BatchNorm statistics are taken over visible cells only,
so the encoder never sees a masked cell and the mask ratio is the same at every level. With no
mask (fine-tuning) the same weights run as a plain dense FCN. ``sparse=False`` is Table VII's
"w/o sparse conv": the masked cells are zeroed but every layer runs densely over them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the paper's channel widths of the 4 blocks (Table I)
FCN_CHANNELS = (16, 32, 64, 128)


def padded_length(window_length: int, multiple: int) -> int:
    """``window_length`` rounded up to a multiple of ``multiple``."""
    return -(-window_length // multiple) * multiple


def pad_time(x: Tensor, multiple: int) -> Tensor:
    """Pad ``x`` ``(B, 1, T, S)`` along time to a multiple of ``multiple`` by repeating the last sample.

    The paper pads its windows by replication; repeating the edge keeps the padded rows inside the
    data range (zeros would look like masked cells).
    """
    extra = padded_length(x.shape[2], multiple) - x.shape[2]
    return F.pad(x, (0, 0, 0, extra), mode="replicate") if extra else x


def random_visible_mask(batch: int, grid_t: int, grid_s: int, mask_ratio: float,
                        generator: torch.Generator | None = None) -> Tensor:
    """A random ``(B, 1, grid_t, grid_s)`` bool mask, True = visible, with exactly
    ``round(grid_t * grid_s * (1 - mask_ratio))`` visible cells per window (at least one)."""
    cells = grid_t * grid_s
    keep = min(cells, max(1, round(cells * (1 - mask_ratio))))
    order = torch.rand(batch, cells, generator=generator).argsort(dim=1)  # (B, cells)
    visible = torch.zeros(batch, cells, dtype=torch.bool).scatter_(1, order[:, :keep], True)
    return visible.view(batch, 1, grid_t, grid_s)


def mask_at(visible: Tensor, length: int) -> Tensor:
    """The grid mask ``(B, 1, t, S)`` repeated along time to ``length`` rows ``(B, 1, length, S)``."""
    return visible.repeat_interleave(length // visible.shape[2], dim=2)


def sparse_batch_norm(bn: nn.BatchNorm2d, x: Tensor, visible: Tensor) -> Tensor:
    """BatchNorm whose statistics use visible cells only; masked cells stay zero.

    Keeps ``bn``'s parameters and running statistics, so the weights transfer to a dense FCN.
    """
    weight = visible.to(x.dtype)  # (B, 1, T, S)
    if bn.training:
        n = weight.sum().clamp_min(1.0)
        mean = (x * weight).sum((0, 2, 3)) / n  # (C,)
        var = ((x - mean.view(1, -1, 1, 1)).square() * weight).sum((0, 2, 3)) / n
        with torch.no_grad():
            momentum = bn.momentum if bn.momentum is not None else 0.1
            bn.running_mean.lerp_(mean.detach(), momentum)
            bn.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1.0), momentum)
            bn.num_batches_tracked += 1
    else:
        mean, var = bn.running_mean, bn.running_var
    scale = bn.weight * torch.rsqrt(var + bn.eps)  # (C,)
    y = (x - mean.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    return y * weight


class ConvBlock(nn.Module):
    """Conv ``(k, 1)`` -> BN -> ReLU -> max-pool ``(p, 1)`` stride ``(2, 1)`` (Fig. 3)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, pool_size: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), padding=(kernel_size // 2, 0))
        self.bn = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d((pool_size, 1), stride=(2, 1), padding=(pool_size // 2, 0))

    def forward(self, x: Tensor, visible: Tensor | None = None) -> Tensor:
        """Dense when ``visible`` is None, else sparse under the grid mask ``visible`` (B, 1, t, S)."""
        if visible is None:
            return self.pool(F.relu(self.bn(self.conv(x))))
        here = mask_at(visible, x.shape[2])  # conv output has the input's resolution
        x = self.conv(x) * here  # compute only where the kernel centre is visible
        x = F.relu(sparse_batch_norm(self.bn, x, here))
        x = self.pool(x)  # masked cells are 0 <= relu outputs, so the max ignores them
        return x * mask_at(visible, x.shape[2])


class FCNEncoder(nn.Module):
    """The 4-block FCN of Table I on ``(B, 1, T, S)`` inputs (T a multiple of 16)."""

    downsample = 2 ** len(FCN_CHANNELS)  # 16

    def __init__(self, channels: tuple[int, ...] = FCN_CHANNELS, kernel_size: int = 5, pool_size: int = 5) -> None:
        super().__init__()
        widths = (1, *channels)
        self.channels = tuple(channels)
        self.downsample = 2 ** len(channels)
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, kernel_size, pool_size) for c_in, c_out in zip(widths[:-1], widths[1:])
        )

    def forward(self, x: Tensor, visible: Tensor | None = None, sparse: bool = True) -> list[Tensor]:
        """Feature maps of every level, ``[(B, 16, T/2, S), ..., (B, 128, T/16, S)]``.

        Args:
            x: ``(B, 1, T, S)`` with T a multiple of 16 (see :func:`pad_time`).
            visible: optional ``(B, 1, T/16, S)`` bool grid mask (True = visible): masked input
                cells are zeroed first.
            sparse: under a mask, compute only at visible cells (the paper); False = Table VII's
                "w/o sparse conv": regular convolutions and BatchNorm see the zeroed cells too
                (the release's ``plain_conv``).
        """
        if visible is not None:
            x = x * mask_at(visible, x.shape[2])
        features = []
        for block in self.blocks:
            x = block(x, visible if sparse else None)
            features.append(x)
        return features


class FCNClassifier(nn.Module):
    """FCN encoder + flatten + linear (Table I); input ``(B, 1, T, S)`` of any T.

    Args:
        n_sensors: S, the number of sensor axes (columns).
        window_length: T of the windows it is built for (padded to a multiple of 16 inside).
        n_classes: number of activities.
        channels: widths of the blocks.
        kernel_size: temporal kernel of the convolutions.
    """

    def __init__(self, n_sensors: int, window_length: int, n_classes: int,
                 channels: tuple[int, ...] = FCN_CHANNELS, kernel_size: int = 5) -> None:
        super().__init__()
        self.encoder = FCNEncoder(tuple(channels), kernel_size)
        self.window_length = window_length
        grid_t = padded_length(window_length, self.encoder.downsample) // self.encoder.downsample
        self.classifier = nn.Linear(self.encoder.channels[-1] * grid_t * n_sensors, n_classes)
        self.frozen_blocks = 0

    def freeze_blocks(self, n: int) -> None:
        """Freeze the first ``n`` encoder blocks (weights and BatchNorm statistics)."""
        self.frozen_blocks = n
        for i, block in enumerate(self.encoder.blocks):
            block.requires_grad_(i >= n)
        self.train(self.training)

    def train(self, mode: bool = True) -> "FCNClassifier":
        super().train(mode)
        for block in self.encoder.blocks[: self.frozen_blocks]:
            block.eval()  # frozen blocks keep their pre-trained BN statistics
        return self

    def forward(self, x: Tensor) -> Tensor:
        x = pad_time(x, self.encoder.downsample)  # (B, 1, T16, S)
        features = self.encoder(x)[-1]  # (B, 128, T16/16, S)
        return self.classifier(features.flatten(1))  # (B, n_classes)
