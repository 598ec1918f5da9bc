"""Unimodal feature encoders and projection heads of Cosmo (Ouyang et al., MobiCom 2022).

Section 5.3.3 of the paper: "2D-CNN is used for inertial data and 3D-CNN is used for skeleton
... plus RNN layers to capture the time-series properties"; Eq. (2): a projection MLP per
modality maps the unimodal feature ``z_j`` to ``r_j`` of dimension D (128) on the unit sphere.

Every encoder takes one modality group as ``(N, T, C)`` and returns ``z`` of ``feature_dim``, so
the quality-guided attention (one shared ``W``) and the weighted-sum fusion see equal sizes.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.data.skeleton import BodyFrame, body_relative

#: encoder kinds :func:`make_encoder` builds
ENCODER_KINDS = ("inertial", "skeleton")


def pooled_length(length: int, depth: int) -> int:
    """Time steps left after ``depth`` blocks: every block after the first halves them (ceil)."""
    for _ in range(depth - 1):
        length = math.ceil(length / 2)
    return length


class TemporalHead(nn.Module):
    """The conv features of a window, ``(N, T, F)`` per time step, as one vector ``(N, feature_dim)``.

    With ``gru_layers=0`` they are flattened, as in Eq. (1) ``z = Flatten(f_enc(x))``, and mapped
    linearly to ``feature_dim`` (so every modality's ``z`` has one size, which the shared attention
    ``W`` and the weighted-sum fusion need); with ``gru_layers > 0`` a GRU of that many layers reads
    the steps ("plus RNN layers to capture the time-series properties", Sec. 5.3.3) and its last
    hidden state is the feature.
    """

    def __init__(self, in_features: int, steps: int, feature_dim: int, gru_layers: int) -> None:
        super().__init__()
        if gru_layers < 0:
            raise ValueError(f"gru_layers must be >= 0 (0 = flatten + linear), but got {gru_layers=}")
        self.gru = nn.GRU(in_features, feature_dim, num_layers=gru_layers, batch_first=True) if gru_layers else None
        self.linear = None if gru_layers else nn.Linear(in_features * steps, feature_dim)

    def forward(self, x: Tensor) -> Tensor:  # (N, T, F) -> (N, feature_dim)
        if self.gru is not None:
            _, h = self.gru(x)  # h: (layers, N, feature_dim)
            return h[-1]
        return self.linear(x.flatten(1))


class InertialEncoder(nn.Module):
    """2D convolutions over time x channels, then an optional GRU over time.

    Args:
        in_channels: sensor channels C of the group (6 for acc+gyro).
        in_length: time steps T of a window (100 for 2 s at 50 Hz).
        width: convolution filters of every block.
        depth: conv blocks; each one after the first halves the time axis (max-pool 2).
        kernel_size: temporal kernel (odd); the channel kernel is 3 ("same" padding).
        feature_dim: size of the output feature ``z``.
        gru_layers: layers of the GRU reading the conv features (0: flatten + linear, Eq. 1).
        dropout: dropout after every block.
    """

    def __init__(self, in_channels: int, in_length: int, width: int = 32, depth: int = 3, kernel_size: int = 5,
                 feature_dim: int = 128, gru_layers: int = 0, dropout: float = 0.2) -> None:
        super().__init__()
        check_kernel(kernel_size)
        blocks: list[nn.Module] = []
        channels = 1
        for i in range(depth):
            if i > 0:
                blocks.append(nn.MaxPool2d((2, 1), ceil_mode=True))
            blocks += [
                nn.Conv2d(channels, width, (kernel_size, 3), padding=(kernel_size // 2, 1), bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            ]
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = TemporalHead(width * in_channels, pooled_length(in_length, depth), feature_dim, gru_layers)
        self.out_dim = feature_dim

    def forward(self, x: Tensor) -> Tensor:  # x: (N, T, C) -> z: (N, feature_dim)
        h = self.blocks(x.unsqueeze(1))  # (N, width, T', C)
        h = h.permute(0, 2, 1, 3).flatten(2)  # (N, T', width * C)
        return self.head(h)


class SkeletonEncoder(nn.Module):
    """3D convolutions over frames x joints x xyz (the 60 channels read as 20 joints x 3), on each
    sample put in its body frame first (``data/skeleton.py``: centred on a body joint of frame 0,
    scaled by a body length; the release z-scores each axis over the data set instead).

    The first block's kernel spans the 3 coordinates (no padding there), so it maps
    ``(frames, joints, xyz)`` to ``(frames, joints, 1)``; later blocks convolve frames x joints
    only, which keeps the 3D-CNN affordable on a CPU.

    Args:
        in_channels: ``3 * n_joints`` channels, joint-major (j0x, j0y, j0z, j1x ...).
        in_length: frames T of a window (60 for 2 s at 30 Hz).
        width: convolution filters of every block.
        depth: conv blocks; each one after the first halves the frame axis (max-pool 2).
        kernel_size: temporal kernel (odd); the joint kernel is 3 ("same" padding).
        feature_dim: size of the output feature ``z``.
        gru_layers: layers of the GRU reading the conv features (0: flatten + linear, Eq. 1).
        dropout: dropout after every block.
        body_frame: ``BodyFrame.to_dict()`` of the dataset's joints (``body_frame_of`` its
            channel names); None = the centroid of frame 0 and the RMS spread.
    """

    def __init__(self, in_channels: int, in_length: int, width: int = 16, depth: int = 2, kernel_size: int = 5,
                 feature_dim: int = 128, gru_layers: int = 0, dropout: float = 0.2,
                 body_frame: dict | None = None) -> None:
        super().__init__()
        check_kernel(kernel_size)
        if in_channels % 3:
            raise ValueError(f"skeleton input needs 3 channels (x, y, z) per joint, but got {in_channels=}")
        self.n_joints = in_channels // 3
        self.body_frame = BodyFrame.from_dict(body_frame)
        self.body_frame.check(self.n_joints)
        blocks: list[nn.Module] = []
        channels = 1
        for i in range(depth):
            if i > 0:
                blocks.append(nn.MaxPool3d((2, 1, 1), ceil_mode=True))
            xyz = 3 if i == 0 else 1
            blocks += [
                nn.Conv3d(channels, width, (kernel_size, 3, xyz), padding=(kernel_size // 2, 1, 0), bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
            ]
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = TemporalHead(width * self.n_joints, pooled_length(in_length, depth), feature_dim, gru_layers)
        self.out_dim = feature_dim

    def forward(self, x: Tensor) -> Tensor:  # x: (N, T, 3J) -> z: (N, feature_dim)
        n, t, _ = x.shape
        x = body_relative(x, self.body_frame)
        h = self.blocks(x.reshape(n, 1, t, self.n_joints, 3))  # (N, width, T', J, 1)
        h = h.permute(0, 2, 1, 3, 4).flatten(2)  # (N, T', width * J)
        return self.head(h)


class ProjectionHead(nn.Module):
    """Eq. (2): ``r = Norm(h(z))``, an MLP to ``projection_dim`` followed by L2 normalization."""

    def __init__(self, feature_dim: int, projection_dim: int = 128) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim, feature_dim),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
            nn.Linear(feature_dim, projection_dim),
        )

    def forward(self, z: Tensor) -> Tensor:  # (N, feature_dim) -> (N, projection_dim), unit norm
        return F.normalize(self.mlp(z), dim=1)


def check_kernel(kernel_size: int) -> None:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"the temporal kernel must be odd to keep the window length, but got {kernel_size=}")


def make_encoder(kind: str, in_channels: int, in_length: int, *, width: int, depth: int, kernel_size: int,
                 feature_dim: int, gru_layers: int, dropout: float, body_frame: dict | None = None) -> nn.Module:
    """The encoder of one modality group: ``inertial`` (2D-CNN) or ``skeleton`` (3D-CNN, in
    ``body_frame``; an inertial group has none)."""
    cls = {"inertial": InertialEncoder, "skeleton": SkeletonEncoder}.get(kind)
    if cls is None:
        raise ValueError(f"unknown encoder kind {kind!r}; choose one of {', '.join(ENCODER_KINDS)}")
    frame = {"body_frame": body_frame} if kind == "skeleton" else {}
    return cls(in_channels, in_length, width=width, depth=depth, kernel_size=kernel_size,
               feature_dim=feature_dim, gru_layers=gru_layers, dropout=dropout, **frame)
