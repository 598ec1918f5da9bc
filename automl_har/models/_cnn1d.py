"""A plain 1D-CNN for windows of stacked sensor channels ``(N, C, T)``."""

from __future__ import annotations

from torch import Tensor, nn


class Conv1dEncoder(nn.Module):
    """``depth`` blocks of Conv1d → BatchNorm → ReLU → Dropout (``width`` channels in the first
    block, ``2 * width`` after it), then global average pooling over time.

    Args:
        in_channels: sensor channels C.
        depth: number of conv blocks.
        width: channels of the first block.
        kernel_size: temporal kernel (odd, "same" padding).
        dropout: dropout after every block.
    """

    def __init__(self, in_channels: int, depth: int = 3, width: int = 32, kernel_size: int = 5, dropout: float = 0.1):
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for i in range(depth):
            out = width if i == 0 else 2 * width  # wider blocks cost CPU time, not F1, on few labels
            blocks += [
                nn.Conv1d(channels, out, kernel_size, padding=kernel_size // 2, bias=False),
                nn.BatchNorm1d(out),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            ]
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = channels

    def forward(self, x: Tensor) -> Tensor:  # x: (N, C, T) -> (N, out_dim)
        return self.blocks(x).mean(dim=-1)


class Conv1dClassifier(nn.Module):
    """:class:`Conv1dEncoder` followed by a linear head to ``n_classes`` logits."""

    def __init__(self, in_channels: int, n_classes: int, depth: int = 3, width: int = 32, kernel_size: int = 5, dropout: float = 0.1):
        super().__init__()
        self.encoder = Conv1dEncoder(in_channels, depth, width, kernel_size, dropout)
        self.head = nn.Linear(self.encoder.out_dim, n_classes)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, T) -> (N, n_classes)
        return self.head(self.encoder(x))
