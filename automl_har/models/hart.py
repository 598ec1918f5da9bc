"""HART and MobileHART (Ek, Portet, Lalanda 2022) as used by Presotto et al., "Combining Public Human
Activity Recognition Datasets to Mitigate Labeled Data Scarcity" (SMARTCOMP 2023, §III-D, Table VI).

Both follow the authors' released Keras models (spec ``combined.md`` §3.3–3.4) and read acc+gyro
windows ``(N, T, 6)``, channels-last, accelerometer in channels 0:3 and gyroscope in 3:6: each sensor
gets its own patch or convolution stem, and the sensor-wise transformer layers
(:class:`~automl_har.models._keras_blocks.SensorWiseLayer`) attend within each sensor and mix the
two through a LightConv. The feature is the output of the 1024-unit swish Dense after its dropout
(the input of the softmax Dense in the release); ``head`` is ``Linear(1024, n_classes)``.

With the defaults and 6 classes (the head Table VI counted): HART 1,445,918 parameters, MobileHART-XS
2,542,942 (Keras count: trainable + BatchNorm running statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.models._keras_blocks import (
    LAYER_NORM_EPS,
    FeedForward,
    KerasMultiHeadAttention,
    SameConv1d,
    SensorWiseLayer,
    batch_norm_1d,
    drop_path_rates,
    keras_init_,
)

#: accelerometer then gyroscope, three axes each: the only input HART and MobileHART take
SENSOR_CHANNELS = 6
#: MobileHART halves the time axis five times (stem + four stride-2 inverted residuals)
MOBILEHART_STRIDE = 32


def check_hart_window(window_length: int, patch_size: int = 16) -> None:
    """Raise :class:`ConfigError` unless ``window_length`` is a positive multiple of ``patch_size``."""
    if patch_size < 1 or window_length < patch_size or window_length % patch_size:
        raise ConfigError(f"HART cuts windows into non-overlapping patches of {patch_size} samples, but got "
                          f"{window_length=}; use a window length divisible by {patch_size} "
                          f"(the paper: 128) or a patch_size that divides it")


def check_mobilehart_window(window_length: int) -> None:
    """Raise :class:`ConfigError` unless ``window_length`` is a positive multiple of 32."""
    if window_length < MOBILEHART_STRIDE or window_length % MOBILEHART_STRIDE:
        raise ConfigError(f"MobileHART halves time five times, so it needs a window length divisible by "
                          f"{MOBILEHART_STRIDE}, but got {window_length=}; use e.g. 128 (the paper) or 64")


def _check_sensor_input(name: str, x: Tensor, window_length: int) -> None:
    if x.dim() != 3 or x.shape[1] != window_length or x.shape[2] != SENSOR_CHANNELS:
        raise ConfigError(f"{name} takes (N, {window_length}, {SENSOR_CHANNELS}) windows (acc xyz then gyro xyz), "
                          f"but got shape {tuple(x.shape)}; build it with the window length and channels of the data")


class HART(nn.Module):
    """Human Activity Recognition Transformer on ``(N, window_length, 6)`` windows.

    Patches: per sensor a Conv1d(3 -> ``projection_dim / 2``, kernel = stride = ``patch_size``), the
    two concatenated along the width and a learned position embedding added; then one
    :class:`SensorWiseLayer` per entry of ``kernels`` (its LightConv kernel), drop-path rates growing
    linearly from 0 to ``drop_path``; LayerNorm, average over patches, Dense(``mlp_units``, swish),
    dropout.

    Args:
        n_classes: width of the head.
        window_length: T, the samples per window (a multiple of ``patch_size``).
        projection_dim: token width D (acc attention on D/4, LightConv on D/2, gyro attention on D/4).
        heads: heads of each sensor's attention (each of width D/4, Keras-style).
        patch_size: samples per patch (also the patch stride, as in the release).
        kernels: LightConv kernel of each layer; its length is the depth.
        dropout: attention, MLP and feature dropout.
        drop_path: stochastic-depth rate of the last layer. The release ties it to ``dropout``
            (both 0.3); here it is its own knob.
        conv_heads: kernels per LightConv (the release's ``filterAttentionHead``).
        mlp_units: width of the swish Dense before the head (= ``feature_dim``).
    """

    def __init__(self, n_classes: int, window_length: int, *, projection_dim: int = 192, heads: int = 3,
                 patch_size: int = 16, kernels: Sequence[int] = (3, 7, 15, 31, 31, 31), dropout: float = 0.3,
                 drop_path: float = 0.3, conv_heads: int = 4, mlp_units: int = 1024) -> None:
        super().__init__()
        check_hart_window(window_length, patch_size)
        if projection_dim % 4 or not kernels:
            raise ConfigError(f"HART needs a projection_dim divisible by 4 and at least one layer, but got "
                              f"{projection_dim=}, kernels={tuple(kernels)}; the paper uses 192 and (3, 7, 15, 31, 31, 31)")
        self.window_length = window_length
        half = projection_dim // 2
        self.acc_patches = nn.Conv1d(3, half, patch_size, stride=patch_size)
        self.gyro_patches = nn.Conv1d(3, half, patch_size, stride=patch_size)
        self.position = nn.Embedding(window_length // patch_size, projection_dim)
        self.layers = nn.ModuleList(
            SensorWiseLayer(projection_dim, heads, conv_heads, kernel, dropout, rate)
            for kernel, rate in zip(kernels, drop_path_rates(drop_path, len(kernels)))
        )
        self.norm = nn.LayerNorm(projection_dim, eps=LAYER_NORM_EPS)
        self.expand = nn.Linear(projection_dim, mlp_units)
        self.dropout = nn.Dropout(dropout)
        self.feature_dim = mlp_units
        self.head = nn.Linear(mlp_units, n_classes)
        keras_init_(self)

    def features(self, x: Tensor) -> Tensor:
        """``(N, T, 6)`` -> ``(N, mlp_units)``."""
        _check_sensor_input("HART", x, self.window_length)
        x = x.transpose(1, 2)  # (N, 6, T)
        tokens = torch.cat((self.acc_patches(x[:, :3]), self.gyro_patches(x[:, 3:])), dim=1)  # (N, D, P)
        h = tokens.transpose(1, 2) + self.position.weight  # (N, P, D)
        for layer in self.layers:
            h = layer(h)
        return self.dropout(F.silu(self.expand(self.norm(h).mean(dim=1))))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, n_classes)`` of windows ``(N, T, 6)`` (softmax lives in the loss)."""
        return self.head(self.features(x))


# ------------------------------------------------------------------ MobileHART building blocks
# Convolutional parts take (N, C, T); transformer parts work channels-last inside the blocks.

class ConvBlock(nn.Sequential):
    """The release's ``conv_block``: Conv1d with TF ``same`` padding and bias, then swish."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__(SameConv1d(in_channels, out_channels, kernel_size, stride=stride), nn.SiLU())


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> BN -> swish -> depthwise 3 (stride 1 or 2) -> BN -> swish
    -> 1x1 project -> BN, plus the input when the stride is 1 and the widths match.

    The release's ``ZeroPadding1D(1)`` + ``valid`` (stride 2) and ``same`` (stride 1) both pad one
    zero on each side of a 3-tap kernel, hence ``padding=1``.
    """

    def __init__(self, in_channels: int, expanded: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(in_channels, expanded, 1, bias=False), batch_norm_1d(expanded), nn.SiLU(),
            nn.Conv1d(expanded, expanded, 3, stride=stride, padding=1, groups=expanded, bias=False),
            batch_norm_1d(expanded), nn.SiLU(),
            nn.Conv1d(expanded, out_channels, 1, bias=False), batch_norm_1d(out_channels),
        )
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, T)`` -> ``(N, C_out, T / stride)``."""
        return x + self.block(x) if self.residual else self.block(x)


class TransformerLayer(nn.Module):
    """MobileViT's pre-norm layer: LN -> Keras MHA(heads, key_dim = dim) -> +; LN -> MLP(2 dim) -> +.

    The release computes drop-path rates here but applies none; neither does this layer.
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attention = KerasMultiHeadAttention(dim, heads, dim, dropout)
        self.mlp_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = FeedForward(dim, 2 * dim, dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, T, dim)`` -> ``(N, T, dim)``."""
        x = x + self.attention(self.attention_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class MobileViTBlock(nn.Module):
    """Local convolutions -> ``layers`` transformer layers -> fold back to the input width ->
    concatenate with the input -> fusing 3-tap convolution (``dim`` channels out)."""

    def __init__(self, in_channels: int, dim: int, layers: int, dropout: float, heads: int = 2) -> None:
        super().__init__()
        self.local = nn.Sequential(ConvBlock(in_channels, dim, 3), ConvBlock(dim, dim, 1))
        self.transformer = nn.Sequential(*(TransformerLayer(dim, heads, dropout) for _ in range(layers)))
        self.fold = ConvBlock(dim, in_channels, 1)
        self.fuse = ConvBlock(2 * in_channels, dim, 3)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, T)`` -> ``(N, dim, T)``."""
        tokens = self.transformer(self.local(x).transpose(1, 2)).transpose(1, 2)
        return self.fuse(torch.cat((x, self.fold(tokens)), dim=1))


class SensorWiseHARTBlock(nn.Module):
    """MobileHART's sensor-wise HART block on the acc and gyro streams (``in_channels`` each).

    Per stream: 3-tap then 1x1 conv to ``dim / 2``; the two concatenated (acc first) pass through
    ``layers`` :class:`SensorWiseLayer` (drop path 0 -> ``drop_path``); each half is folded back to
    ``in_channels``, concatenated with its stream's input and fused by a 3-tap conv to ``dim / 2``.
    """

    def __init__(self, in_channels: int, dim: int, *, layers: int = 2, kernel_size: int = 4, heads: int = 2,
                 dropout: float, drop_path: float) -> None:
        super().__init__()
        half = dim // 2
        self.local = nn.ModuleList(
            nn.Sequential(ConvBlock(in_channels, half, 3), ConvBlock(half, half, 1)) for _ in range(2))
        self.layers = nn.Sequential(*(SensorWiseLayer(dim, heads, heads, kernel_size, dropout, rate)
                                      for rate in drop_path_rates(drop_path, layers)))
        self.fold = nn.ModuleList(ConvBlock(half, in_channels, 1) for _ in range(2))
        self.fuse = nn.ModuleList(ConvBlock(2 * in_channels, half, 3) for _ in range(2))
        self.half = half

    def forward(self, acc: Tensor, gyro: Tensor) -> tuple[Tensor, Tensor]:
        """Two ``(N, in_channels, T)`` streams -> two ``(N, dim / 2, T)`` streams."""
        z = torch.cat([local(stream) for local, stream in zip(self.local, (acc, gyro))], dim=1)
        z = self.layers(z.transpose(1, 2)).transpose(1, 2)  # (N, dim, T)
        halves = (z[:, :self.half], z[:, self.half:])
        return tuple(fuse(torch.cat((stream, fold(part)), dim=1))  # type: ignore[return-value]
                     for fuse, fold, stream, part in zip(self.fuse, self.fold, (acc, gyro), halves))


@dataclass(frozen=True)
class MobileHARTVariant:
    """Widths of a MobileHART size, as the release's ``projectionDims`` / ``filterCount`` / ``expansion_factor``."""

    projection_dims: tuple[int, int, int]
    filters: tuple[int, int, int, int, int, int, int]
    expansion: int


#: the release's ``mobileHART_XS`` and ``mobileHART_XXS`` defaults
MOBILEHART_VARIANTS = {
    "xs": MobileHARTVariant((96, 120, 144), (8, 16, 24, 32, 80, 96, 384), 4),
    "xxs": MobileHARTVariant((64, 80, 96), (8, 8, 12, 24, 64, 80, 320), 2),
}


def _sensor_stream(variant: MobileHARTVariant) -> nn.Sequential:
    """Stem (stride 2) and the five inverted residuals of one sensor (two more halvings)."""
    f, e = variant.filters, variant.expansion
    return nn.Sequential(
        ConvBlock(3, f[0], 3, stride=2),
        InvertedResidual(f[0], f[0] * e, f[1]),
        InvertedResidual(f[1], f[1] * e, f[2], stride=2),
        InvertedResidual(f[2], f[2] * e, f[2]),
        InvertedResidual(f[2], f[2] * e, f[2]),
        InvertedResidual(f[2], f[2] * e, f[3], stride=2),
    )


class MobileHART(nn.Module):
    """MobileHART (``variant`` "xs" or "xxs") on ``(N, window_length, 6)`` windows; T % 32 == 0.

    Per sensor: stem + inverted residuals (T/8) -> sensor-wise HART block -> concat -> Dense(swish)
    -> dropout -> inverted residual (T/16) -> MobileViT (4 layers) -> inverted residual (T/32) ->
    MobileViT (3 layers) -> 1x1 conv -> global average -> Dense(1024, swish) -> dropout.

    Args:
        n_classes: width of the head.
        window_length: T, the samples per window (a multiple of 32).
        variant: "xs" (Table VI's MobileHART-XS) or "xxs".
        dropout: attention, MLP and feature dropout.
        drop_path: stochastic-depth rate of the sensor-wise block's last layer.
        mlp_units: width of the swish Dense before the head (= ``feature_dim``).
    """

    def __init__(self, n_classes: int, window_length: int, *, variant: str = "xs", dropout: float = 0.3,
                 drop_path: float = 0.3, mlp_units: int = 1024) -> None:
        super().__init__()
        if variant not in MOBILEHART_VARIANTS:
            raise UnknownNameError("MobileHART variant", variant, MOBILEHART_VARIANTS)
        check_mobilehart_window(window_length)
        self.window_length, self.variant = window_length, variant
        spec = MOBILEHART_VARIANTS[variant]
        d, f, e = spec.projection_dims, spec.filters, spec.expansion
        self.acc_stream, self.gyro_stream = _sensor_stream(spec), _sensor_stream(spec)
        self.sensor_wise = SensorWiseHARTBlock(f[3], d[0], dropout=dropout, drop_path=drop_path)
        self.mix = nn.Linear(d[0], d[0])
        self.mix_dropout = nn.Dropout(dropout)
        self.stages = nn.Sequential(
            InvertedResidual(d[0], d[0] * e, f[4], stride=2), MobileViTBlock(f[4], d[1], 4, dropout),
            InvertedResidual(d[1], d[1] * e, f[5], stride=2), MobileViTBlock(f[5], d[2], 3, dropout),
            ConvBlock(d[2], f[6], 1),
        )
        self.expand = nn.Linear(f[6], mlp_units)
        self.dropout = nn.Dropout(dropout)
        self.feature_dim = mlp_units
        self.head = nn.Linear(mlp_units, n_classes)
        keras_init_(self)

    def features(self, x: Tensor) -> Tensor:
        """``(N, T, 6)`` -> ``(N, mlp_units)``."""
        _check_sensor_input("MobileHART", x, self.window_length)
        x = x.transpose(1, 2)  # (N, 6, T)
        acc, gyro = self.sensor_wise(self.acc_stream(x[:, :3]), self.gyro_stream(x[:, 3:]))  # (N, d0/2, T/8) each
        mixed = self.mix_dropout(F.silu(self.mix(torch.cat((acc, gyro), dim=1).transpose(1, 2))))  # (N, T/8, d0)
        maps = self.stages(mixed.transpose(1, 2))  # (N, f6, T/32)
        return self.dropout(F.silu(self.expand(maps.mean(dim=2))))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, n_classes)`` of windows ``(N, T, 6)`` (softmax lives in the loss)."""
        return self.head(self.features(x))
