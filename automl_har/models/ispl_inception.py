"""ISPL-Inception (Ronald, Poulose, Han 2021) as used by Presotto et al., "Combining Public Human
Activity Recognition Datasets to Mitigate Labeled Data Scarcity" (SMARTCOMP 2023, §III-D, Table VI).

The layers follow the authors' released Keras model (spec ``combined.md`` §3.2): BatchNorm on the
input, ``depth`` inception modules (1x1 bottleneck, three convolutions of ``max_kernel``,
``max_kernel/2`` and ``max_kernel/4`` taps, and a max-pool branch, concatenated to
``4 * filters`` channels -> BatchNorm -> ReLU), a residual shortcut after every third module,
global average pooling (the ``4 * filters``-d feature) and a linear head. Convolutions have no
bias and TF ``same`` padding (even kernels: the extra zero on the right).

Keras details kept: lecun_uniform kernels, BatchNorm momentum 0.01 / eps 1e-3, and the kernel L2
of the release, ``regularization_rate = 0.00593``, which Keras adds to the loss as
``rate * sum(w^2)`` (not ``rate / 2``) for the branch, max-pool-branch, shortcut and head kernels
(not the bottleneck): :meth:`ISPLInception.l2_penalty` returns that term, to be added to the loss
in both stages (it is not Adam's ``weight_decay``). With the defaults and 10 classes: 1,327,714
Keras parameters (= trainable + BatchNorm running statistics), Table VI.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError
from automl_har.models._keras_blocks import SameConv1d, batch_norm_1d, keras_init_, lecun_uniform_

#: a residual shortcut joins after every this many inception modules
RESIDUAL_EVERY = 3
#: the release's ``regularization_rate``: Keras ``l2(0.00593)`` on the marked kernels
L2_RATE = 0.00593


class InceptionModule(nn.Module):
    """Bottleneck -> three ``same`` convolutions, plus max-pool -> 1x1 convolution; concat -> BN -> ReLU.

    The bottleneck is skipped when the input has a single channel (as in the release).
    Output: ``(N, 4 * filters, T)``.
    """

    def __init__(self, in_channels: int, filters: int, max_kernel: int, bottleneck: int) -> None:
        super().__init__()
        self.bottleneck = SameConv1d(in_channels, bottleneck, 1, bias=False) if in_channels > 1 else None
        branch_input = bottleneck if in_channels > 1 else in_channels
        self.branches = nn.ModuleList(
            SameConv1d(branch_input, filters, max_kernel // 2 ** level, bias=False) for level in range(3)
        )
        self.pool = nn.MaxPool1d(3, stride=1, padding=1)  # odd window: symmetric -inf padding = TF same
        self.pool_conv = SameConv1d(in_channels, filters, 1, bias=False)
        self.norm = batch_norm_1d(4 * filters)

    def l2_kernels(self) -> Iterator[Tensor]:
        """The kernels Keras regularises with L2 (the bottleneck is not one of them)."""
        for conv in (*self.branches, self.pool_conv):
            yield conv.weight

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, T)`` -> ``(N, 4 * filters, T)``."""
        narrow = F.relu(self.bottleneck(x)) if self.bottleneck is not None else x
        outputs = [F.relu(conv(narrow)) for conv in self.branches]
        outputs.append(F.relu(self.pool_conv(self.pool(x))))
        return F.relu(self.norm(torch.cat(outputs, dim=1)))


class Shortcut(nn.Module):
    """The residual join: ``ReLU(BN(Conv1x1(residual)) + x)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = SameConv1d(in_channels, out_channels, 1, bias=False)
        self.norm = batch_norm_1d(out_channels)

    def forward(self, residual: Tensor, x: Tensor) -> Tensor:
        """Both ``(N, ·, T)``; returns ``(N, out_channels, T)``."""
        return F.relu(self.norm(self.conv(residual)) + x)


class ISPLInception(nn.Module):
    """ISPL-Inception on channels-last windows ``(N, T, C)`` of any length and channel count.

    Args:
        in_channels: C, the sensor axes.
        n_classes: width of the head.
        filters: output channels of each inception branch (module width ``4 * filters``).
        depth: number of inception modules.
        max_kernel: longest branch kernel (the others are ``max_kernel // 2`` and ``// 4``).
        bottleneck: channels of the 1x1 bottleneck.
        l2_rate: coefficient of :meth:`l2_penalty` (the release's 0.00593).
    """

    def __init__(self, in_channels: int, n_classes: int, *, filters: int = 64, depth: int = 5,
                 max_kernel: int = 68, bottleneck: int = 32, l2_rate: float = L2_RATE) -> None:
        super().__init__()
        if in_channels < 1 or depth < 1:
            raise ConfigError(f"ISPL-Inception needs in_channels >= 1 and depth >= 1, but got {in_channels=}, {depth=}")
        if max_kernel < 4:
            raise ConfigError(f"ISPL-Inception max_kernel must be at least 4 (it is halved twice), but got {max_kernel}")
        width = 4 * filters
        self.l2_rate = l2_rate
        self.input_norm = batch_norm_1d(in_channels)  # "added batchnorm (not in original paper)" [release]
        self.blocks = nn.ModuleList(
            InceptionModule(in_channels if index == 0 else width, filters, max_kernel, bottleneck)
            for index in range(depth)
        )
        residual_widths = [in_channels] + [width] * (depth // RESIDUAL_EVERY)
        self.shortcuts = nn.ModuleList(
            Shortcut(residual_widths[index], width) for index in range(depth // RESIDUAL_EVERY)
        )
        self.feature_dim = width
        self.head = nn.Linear(width, n_classes)
        keras_init_(self, kernel_init=lecun_uniform_)

    def l2_penalty(self) -> Tensor:
        """``l2_rate * sum(w^2)`` over the kernels Keras marks with L2: add it to the loss.

        The marked kernels are the branch and max-pool-branch convolutions, the shortcuts and the
        head (the current one, so a replaced ``nn.Linear`` head is regularised as the release's
        Dense was); the bottleneck, BatchNorms and biases are not.
        """
        kernels = [kernel for module in self.blocks for kernel in module.l2_kernels()]
        kernels += [shortcut.conv.weight for shortcut in self.shortcuts]
        if isinstance(self.head, nn.Linear):
            kernels.append(self.head.weight)
        return self.l2_rate * torch.stack([kernel.square().sum() for kernel in kernels]).sum()

    def features(self, x: Tensor) -> Tensor:
        """``(N, T, C)`` -> ``(N, 4 * filters)``: global average of the last module's maps."""
        x = self.input_norm(x.transpose(1, 2))  # (N, C, T)
        residual = x
        for index, module in enumerate(self.blocks):
            x = module(x)
            if index % RESIDUAL_EVERY == RESIDUAL_EVERY - 1:
                x = self.shortcuts[index // RESIDUAL_EVERY](residual, x)
                residual = x
        return x.mean(dim=2)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, n_classes)`` of windows ``(N, T, C)`` (softmax lives in the loss)."""
        return self.head(self.features(x))
