"""Encoders and projector of MESEN (Xu et al., SenSys 2023), spec ``mesen.md`` §1.2.

Sec. 5.1.3 of the paper: "convolutional layers and transformer encoder layers" for every modality
but skeleton, which uses the co-occurrence network HCN (Li et al., IJCAI 2018); the projectors are
"two-layer convolutional layers". Layer counts and sizes are not given; these are the spec's.

Every encoder maps one modality group ``(N, T, C)`` to a feature sequence ``h``: ``(N, D, L)``,
D channels at L positions, so the projector and the fine-tuning head work the same way for
every kind of encoder. :meth:`layer_groups` lists the parameters of each layer, input to output,
for the layer-aware fine-tuning regulariser L_FR (Eq. 9; ``methods/_mesen_losses.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.data.skeleton import BodyFrame, body_relative
from automl_har.errors import ConfigError
from automl_har.models.cosmo_encoders import check_kernel

#: encoder kinds :func:`make_mesen_encoder` builds
MESEN_ENCODER_KINDS = ("inertial", "skeleton")

#: normalisation layers, whose parameters L_FR leaves alone (spec §1.2)
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _weights_of(module: nn.Module) -> list[nn.Parameter]:
    """Every parameter of ``module`` and its submodules except those of normalisation layers."""
    return [p for m in module.modules() if not isinstance(m, _NORMS) for p in m.parameters(recurse=False)]


def layer_groups_of(module: nn.Module) -> list[list[nn.Parameter]]:
    """The layers of an encoder for L_FR (Eq. 9), input to output: ``module.layer_groups()`` when
    the module has one (:class:`ConvTransformerEncoder`, :class:`CoOccurrenceEncoder`), else the
    fallback of spec §1.2: every module, in ``named_modules()`` order, whose *direct* parameters
    include one with ``ndim >= 2`` is one layer holding its direct parameters (weight and bias of a
    Conv/Linear, every weight and bias of a GRU). Norm layers have only 1-d parameters, so they
    never count."""
    own = getattr(module, "layer_groups", None)
    if callable(own):
        return own()
    groups = []
    for _, m in module.named_modules():
        direct = list(m.parameters(recurse=False))
        if any(p.ndim >= 2 for p in direct):
            groups.append(direct)
    return groups


def sinusoidal_encoding(length: int, dim: int, device: torch.device | None = None,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    """Fixed positional encoding of Vaswani et al., ``(length, dim)``:
    ``PE[t, 2i] = sin(t / 10000^(2i/dim))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/dim))``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return pe.to(dtype)


class ConvBlock(nn.Module):
    """Conv1d (no bias, "same" padding) -> BN1d -> ReLU -> Dropout -> optional MaxPool1d(2)."""

    def __init__(self, in_channels: int, width: int, kernel_size: int, dropout: float, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, width, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm1d(width)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        # ceil_mode: 100 -> 50 -> 25 as floor would, but a length-1 sequence stays 1
        self.pool = nn.MaxPool1d(2, ceil_mode=True) if pool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:  # (N, C_in, T) -> (N, width, T or ceil(T / 2))
        return self.pool(self.dropout(self.relu(self.bn(self.conv(x)))))


class ConvTransformerEncoder(nn.Module):
    """Inertial encoder: ``n_conv`` conv blocks (max-pool 2 after every block but the last, i.e.
    after blocks 1 and 2 of 3), a fixed sinusoidal positional encoding and ``n_transformer``
    post-norm ``nn.TransformerEncoderLayer``; ``(N, T, C) -> h: (N, width, L)``, on UTD IMU
    ``(N, 100, 6) -> (N, 64, 25)``.

    Args:
        in_channels: sensor channels C of the group (6 for acc+gyro).
        width: conv filters and transformer ``d_model`` (D).
        n_conv: conv blocks.
        kernel_size: temporal kernel (odd).
        n_transformer: transformer encoder layers.
        n_heads: attention heads (must divide ``width``).
        ff_dim: transformer feed-forward width.
        dropout: dropout of the conv blocks and the transformer layers.
    """

    def __init__(self, in_channels: int, width: int = 64, n_conv: int = 3, kernel_size: int = 5,
                 n_transformer: int = 2, n_heads: int = 4, ff_dim: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        check_kernel(kernel_size)
        if n_conv < 1 or n_transformer < 0:
            raise ConfigError(f"the IMU encoder needs n_conv >= 1 and n_transformer >= 0, but got {n_conv=}, "
                              f"{n_transformer=}; raise imu_conv_layers to 1 or more")
        if width % n_heads:
            raise ConfigError(f"imu_width={width} is not a multiple of transformer_heads={n_heads}; choose a width "
                              "divisible by the number of heads, e.g. imu_width=64, transformer_heads=4")
        self.blocks = nn.ModuleList(
            ConvBlock(in_channels if i == 0 else width, width, kernel_size, dropout, pool=i < n_conv - 1)
            for i in range(n_conv)
        )
        self.transformer = nn.ModuleList(
            nn.TransformerEncoderLayer(width, n_heads, dim_feedforward=ff_dim, dropout=dropout, batch_first=True)
            for _ in range(n_transformer)
        )
        self.out_channels = width

    def forward(self, x: Tensor) -> Tensor:  # x: (N, T, C) -> h: (N, D, L)
        h = x.transpose(1, 2)  # (N, C, T)
        for block in self.blocks:
            h = block(h)
        h = h.transpose(1, 2)  # (N, L, D)
        h = h + sinusoidal_encoding(h.shape[1], h.shape[2], h.device, h.dtype)
        for layer in self.transformer:
            h = layer(h)
        return h.transpose(1, 2)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """``[conv_1], ..., [conv_n], [transformer layer 1], ...`` (n_e = 5 by default): the conv
        weights, then each transformer layer's attention and feed-forward weights and biases;
        BatchNorm and LayerNorm parameters excluded."""
        return [[block.conv.weight] for block in self.blocks] + [_weights_of(layer) for layer in self.transformer]


class HalvingMaxPool2d(nn.Module):
    """HCN's ``MaxPool2d(2)`` (floor) on every axis with at least 2 positions; an axis of length 1
    is left as is instead of vanishing (tiny widths / short windows). On UTD it is plain MaxPool2d(2)."""

    def forward(self, x: Tensor) -> Tensor:
        kernel = tuple(2 if size >= 2 else 1 for size in x.shape[-2:])
        return F.max_pool2d(x, kernel)


class CoOccurrenceEncoder(nn.Module):
    """Skeleton encoder: the co-occurrence network HCN (Li et al., IJCAI 2018) without fc7/fc8.

    ``(N, T, 3J)`` joint-major, first put in each sample's body frame (``data/skeleton.py``:
    centred on a body joint of frame 0, scaled by a body length), -> ``(N, 3, T, J)``. The
    position branch (conv1 1x1 + ReLU, conv2 3x1 temporal, joints -> channels, conv3 3x3 + pool,
    conv4 3x3 + dropout + pool) and the motion branch (the same layers, ``conv1m`` ... ``conv4m``,
    on the frame differences bilinearly upsampled back to T frames) are concatenated, then conv5
    (2w -> 2w) and conv6 (2w -> 4w), each + ReLU + dropout + pool. The spatial positions are
    flattened: ``h: (N, 4w, L)``; on UTD ``(N, 60, 60) -> (N, 256, 6)`` (plane (60, 32) -> (30, 16)
    -> (15, 8) -> (7, 4) -> (3, 2)). Dropout is HCN's ``Dropout2d`` (whole feature maps).

    Args:
        n_joints: joints J (20 for the Kinect v1 skeleton of UTD-MHAD).
        width: w, HCN's ``out_channel`` (even; 64 in HCN).
        dropout: dropout after conv4, conv5 and conv6 (HCN: 0.5; MESEN's ``hcn_dropout`` sets 0.1).
        batchnorm: a BatchNorm2d after every conv (``bnN``), before its ReLU, as the public
            UTD-MHAD co-occurrence encoder (cmc-cmkm, ``models/skeleton_coocurrence.py``) has;
            HCN has none. The convs then have no bias (the norm's shift replaces it).
        body_frame: ``BodyFrame.to_dict()`` of the dataset's joints (``body_frame_of`` its
            channel names); None = the centroid of frame 0 and the RMS spread.
    """

    def __init__(self, n_joints: int, width: int = 64, dropout: float = 0.5, batchnorm: bool = True,
                 body_frame: dict | None = None) -> None:
        super().__init__()
        if width < 2 or width % 2:
            raise ConfigError(f"hcn_width={width} must be even and at least 2 (conv2 and conv3 use width / 2); "
                              "choose e.g. hcn_width=64")
        self.body_frame = BodyFrame.from_dict(body_frame)
        self.body_frame.check(n_joints)
        half = width // 2
        shapes = {"1": (3, width, 1, 0), "2": (width, half, (3, 1), (1, 0)), "3": (n_joints, half, 3, 1),
                  "4": (half, width, 3, 1)}
        for suffix in ("", "m"):  # position branch, motion branch
            for depth, (c_in, c_out, kernel, padding) in shapes.items():
                conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=not batchnorm)
                setattr(self, f"conv{depth}{suffix}", conv)
                setattr(self, f"bn{depth}{suffix}", nn.BatchNorm2d(c_out) if batchnorm else nn.Identity())
        self.conv5 = nn.Conv2d(2 * width, 2 * width, 3, padding=1, bias=not batchnorm)
        self.bn5 = nn.BatchNorm2d(2 * width) if batchnorm else nn.Identity()
        self.conv6 = nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=not batchnorm)
        self.bn6 = nn.BatchNorm2d(4 * width) if batchnorm else nn.Identity()
        self.dropout = nn.Dropout2d(dropout)
        self.pool = HalvingMaxPool2d()
        self.n_joints = n_joints
        self.out_channels = 4 * width

    def positions(self, length: int) -> int:
        """L, the positions of ``h`` for windows of ``length`` frames: the plane (T, w/2) after
        four halving pools (conv3, conv4, conv5, conv6)."""
        plane = [length, self.conv2.out_channels]
        for _ in range(4):
            plane = [size // 2 if size >= 2 else size for size in plane]
        return plane[0] * plane[1]

    def _layer(self, name: str, h: Tensor) -> Tensor:
        return getattr(self, f"bn{name}")(getattr(self, f"conv{name}")(h))

    def _branch(self, x: Tensor, suffix: str) -> Tensor:  # (N, 3, T, J) -> (N, w, T', w')
        h = F.relu(self._layer(f"1{suffix}", x))
        h = self._layer(f"2{suffix}", h)  # (N, w/2, T, J)
        h = h.permute(0, 3, 2, 1)  # joints become channels: (N, J, T, w/2)
        h = self.pool(self._layer(f"3{suffix}", h))
        return self.pool(self.dropout(self._layer(f"4{suffix}", h)))

    def forward(self, x: Tensor) -> Tensor:  # x: (N, T, 3J) -> h: (N, 4w, L)
        n, t, c = x.shape
        if c != 3 * self.n_joints:
            raise ValueError(f"the skeleton encoder expects {3 * self.n_joints} channels (joint-major xyz), got {c}")
        x = body_relative(x, self.body_frame)
        pos = x.reshape(n, t, self.n_joints, 3).permute(0, 3, 1, 2)  # (N, 3, T, J)
        motion = pos[:, :, 1:] - pos[:, :, :-1]
        motion = F.interpolate(motion, size=(t, self.n_joints), mode="bilinear", align_corners=False)
        h = torch.cat([self._branch(pos, ""), self._branch(motion, "m")], dim=1)  # (N, 2w, T', w')
        h = self.pool(self.dropout(F.relu(self._layer("5", h))))
        h = self.pool(self.dropout(F.relu(self._layer("6", h))))
        return h.flatten(2)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """``[conv1, conv1m], [conv2, conv2m], [conv3, conv3m], [conv4, conv4m], [conv5], [conv6]``
        (n_e = 6): the two branches of one depth share a group and so a gamma; BatchNorm excluded."""
        groups = [_weights_of(getattr(self, f"conv{d}")) + _weights_of(getattr(self, f"conv{d}m")) for d in range(1, 5)]
        return groups + [_weights_of(self.conv5), _weights_of(self.conv6)]


class Projector(nn.Module):
    """The modality projector g^M (Eq. 1; "two-layer convolutional"): pointwise
    Conv1d(D, D) -> BN1d -> ReLU -> Conv1d(D, N_fc), then the mean over the L positions:
    ``h: (N, D, L) -> ĥ: (N, N_fc)``. ``ĥ`` is not normalised (M_Norm is the caller's)."""

    def __init__(self, in_channels: int, projection_dim: int = 128) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, in_channels, 1)
        self.bn = nn.BatchNorm1d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(in_channels, projection_dim, 1)
        self.out_channels = projection_dim

    def forward(self, h: Tensor) -> Tensor:
        return self.conv2(self.relu(self.bn(self.conv1(h)))).mean(-1)


_SIZES = {
    "inertial": ("width", "n_conv", "kernel_size", "n_transformer", "n_heads", "ff_dim", "dropout"),
    "skeleton": ("width", "dropout", "batchnorm", "body_frame"),
}


def make_mesen_encoder(kind: str, channels: int, **sizes: Any) -> ConvTransformerEncoder | CoOccurrenceEncoder:
    """The MESEN encoder of one modality group (spec §1.2): ``inertial`` ->
    :class:`ConvTransformerEncoder` (``channels`` sensor channels), ``skeleton`` ->
    :class:`CoOccurrenceEncoder` (``channels // 3`` joints). ``sizes`` are that class's keyword
    arguments (inertial: width, n_conv, kernel_size, n_transformer, n_heads, ff_dim, dropout;
    skeleton: width, dropout, batchnorm, body_frame)."""
    if kind not in _SIZES:
        raise ConfigError(f"unknown MESEN encoder kind {kind!r}; choose one of {', '.join(MESEN_ENCODER_KINDS)}")
    unknown = sorted(set(sizes) - set(_SIZES[kind]))
    if unknown:
        raise ConfigError(f"the {kind} MESEN encoder takes no size {', '.join(unknown)}; "
                          f"pass only {', '.join(_SIZES[kind])}")
    if kind == "inertial":
        return ConvTransformerEncoder(channels, **sizes)
    if channels % 3:
        raise ConfigError(f"a skeleton group needs 3 channels (x, y, z) per joint but has {channels}; "
                          "give the skeleton modality joint-major xyz channels or use it as an inertial group")
    return CoOccurrenceEncoder(channels // 3, **sizes)
