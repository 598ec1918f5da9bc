"""Keras behaviour in PyTorch, shared by the HAR nets of Presotto et al. (SMARTCOMP 2023, §III-D).

The four networks of ``har_nets`` were released in TensorFlow/Keras; their results depend on Keras
details that PyTorch does differently (spec ``combined.md`` §3.5):

- TF ``same`` padding puts the extra sample of an even kernel or a stride-2 convolution on the
  right (:func:`same_padding`, :class:`SameConv1d`);
- Keras initialisers (:func:`keras_init_`): glorot_uniform kernels with Keras' fan rule, zero
  biases, orthogonal LSTM recurrent kernels with forget-gate bias 1, Embedding U(-0.05, 0.05);
- ``layers.MultiHeadAttention`` projects to ``heads x key_dim`` whatever the input width
  (:class:`KerasMultiHeadAttention`), unlike ``torch.nn.MultiheadAttention``;
- HART's pieces: the softmax-normalised depthwise convolution (:class:`LightConv`), per-sample
  stochastic depth (:class:`DropPath`), the transformer MLP (:class:`FeedForward`) and the
  sensor-wise transformer layer of HART and MobileHART (:class:`SensorWiseLayer`).

All sequence modules here take channels-last ``(N, T, C)`` except the convolutions, which take
PyTorch's ``(N, C, T)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.errors import ConfigError

#: Keras' BatchNormalization defaults in PyTorch terms (Keras momentum 0.99 = PyTorch 0.01)
BATCH_NORM_MOMENTUM = 0.01
BATCH_NORM_EPS = 1e-3
#: Keras' LayerNormalization epsilon used by HART and MobileHART
LAYER_NORM_EPS = 1e-6


def same_padding(length: int, kernel_size: int, stride: int = 1) -> tuple[int, int]:
    """(left, right) zeros TF ``padding="same"`` adds to a sequence of ``length`` samples.

    The output has ``ceil(length / stride)`` samples; an odd total is split with the extra
    sample on the right (kernel 68: 33 left, 34 right).
    """
    out_length = -(-length // stride)
    total = max((out_length - 1) * stride + kernel_size - length, 0)
    return total // 2, total - total // 2


class SameConv1d(nn.Conv1d):
    """``nn.Conv1d`` with TF ``same`` padding (asymmetric for even kernels and strides > 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, groups=groups, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, T)`` -> ``(N, C_out, ceil(T / stride))``."""
        x = F.pad(x, same_padding(x.shape[-1], self.kernel_size[0], self.stride[0]))
        return super().forward(x)


def batch_norm_1d(channels: int) -> nn.BatchNorm1d:
    """A BatchNorm over ``(N, C, T)`` with Keras' momentum and epsilon."""
    return nn.BatchNorm1d(channels, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM)


def glorot_uniform_(weight: Tensor, fan_sum: int | None = None) -> Tensor:
    """Keras glorot_uniform: U(-b, b), ``b = sqrt(6 / (fan_in + fan_out))``.

    ``fan_sum`` overrides the fans PyTorch reads from the shape, for kernels whose Keras shape
    has a different fan rule (Keras' 3-D EinsumDense kernels of the attention).
    """
    if fan_sum is None:
        receptive_field = weight[0][0].numel()  # kernel taps; 1 for a Linear
        fan_sum = (weight.shape[0] + weight.shape[1]) * receptive_field  # (out + in) x taps
    bound = math.sqrt(6.0 / fan_sum)
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def lecun_uniform_(weight: Tensor) -> Tensor:
    """Keras lecun_uniform: U(-b, b), ``b = sqrt(3 / fan_in)`` (fan_in = inputs x kernel taps)."""
    bound = math.sqrt(3.0 / weight[0].numel())
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def _init_lstm_(lstm: nn.LSTM) -> None:
    """Keras LSTM init: glorot kernel, orthogonal recurrent kernel, forget-gate bias 1.

    PyTorch has two bias vectors per layer (``b_ih + b_hh``) where Keras has one: the forget
    gate's 1 goes into ``b_ih`` and ``b_hh`` stays zero, so their sum equals Keras' bias.
    """
    units = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            glorot_uniform_(param)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(param)
        else:
            with torch.no_grad():
                param.zero_()
                if name.startswith("bias_ih"):
                    param[units:2 * units] = 1.0  # gate order i, f, g, o: the forget gate is the 2nd block


def keras_init_(module: nn.Module, kernel_init: Callable[[Tensor], Tensor] = glorot_uniform_) -> None:
    """Re-initialise ``module`` and its children as Keras would build them.

    Convolution and Linear kernels get ``kernel_init`` (glorot_uniform by default) and zero
    biases; LSTMs see :func:`_init_lstm_`; Embeddings U(-0.05, 0.05); normalisation layers
    ones and zeros. A module with a ``reset_keras_parameters`` method initialises itself (its
    children are left to it).
    """
    if hasattr(module, "reset_keras_parameters"):
        module.reset_keras_parameters()
        return
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
        kernel_init(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LSTM):
        _init_lstm_(module)
    elif isinstance(module, nn.Embedding):
        nn.init.uniform_(module.weight, -0.05, 0.05)
    elif isinstance(module, (nn.BatchNorm1d, nn.LayerNorm)):
        module.reset_parameters()
    for child in module.children():
        keras_init_(child, kernel_init)


class KerasMultiHeadAttention(nn.Module):
    """Self-attention as Keras' ``layers.MultiHeadAttention(num_heads, key_dim, dropout)``.

    Query, key and value are Dense(dim -> heads x key_dim, bias), scores ``QK^T / sqrt(key_dim)``,
    softmax, dropout on the probabilities, then Dense(heads x key_dim -> dim, bias). The head
    width ``key_dim`` is independent of ``dim`` (HART: 48 dims, 3 heads of 48).

    Args:
        dim: width of the input and output, the last axis of ``(N, T, dim)``.
        heads: number of attention heads.
        key_dim: width of each head (query, key and value).
        dropout: dropout rate on the attention probabilities (training only).
    """

    def __init__(self, dim: int, heads: int, key_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim, self.heads, self.key_dim, self.dropout = dim, heads, key_dim, dropout
        self.query = nn.Linear(dim, heads * key_dim)
        self.key = nn.Linear(dim, heads * key_dim)
        self.value = nn.Linear(dim, heads * key_dim)
        self.output = nn.Linear(heads * key_dim, dim)
        self.reset_keras_parameters()

    def reset_keras_parameters(self) -> None:
        """Glorot with Keras' fans of the 3-D kernels: ``(dim, heads, key_dim)`` for Q/K/V,
        ``(heads, key_dim, dim)`` for the output (Keras multiplies both fans by the leading axes)."""
        for projection in (self.query, self.key, self.value):
            glorot_uniform_(projection.weight, fan_sum=self.dim * (self.heads + self.key_dim))
            nn.init.zeros_(projection.bias)
        glorot_uniform_(self.output.weight, fan_sum=self.heads * (self.key_dim + self.dim))
        nn.init.zeros_(self.output.bias)

    def _split_heads(self, x: Tensor) -> Tensor:
        n, t, _ = x.shape
        return x.view(n, t, self.heads, self.key_dim).transpose(1, 2)  # (N, heads, T, key_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, T, dim)`` -> ``(N, T, dim)``: every step attends to every step of ``x``."""
        q, k, v = (self._split_heads(projection(x)) for projection in (self.query, self.key, self.value))
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.output(attended.transpose(1, 2).flatten(2))  # (N, T, heads * key_dim) -> (N, T, dim)


class LightConv(nn.Module):
    """HART's "liteFormer": a depthwise convolution over time whose kernels are softmax-normalised.

    The ``channels`` are split into ``heads`` contiguous groups; every channel of group ``h`` is
    convolved (stride 1, TF ``same`` padding, no bias) with ``softmax(weight[h])``, a kernel of
    ``kernel_size`` taps that sums to 1.

    This is the intended operation (spec §3.3): softmax in the forward pass, weights untouched.
    The released code assigns ``softmax(kernel)`` back into the variable at every training call
    (so kernels are re-normalised again and again), reshapes ``(N, T, C)`` to ``(-1, heads, T)``
    in raw memory order (mixing time and channels) and draws its drop-path mask per head instead
    of per sample; none of this is reproduced.
    """

    def __init__(self, channels: int, heads: int, kernel_size: int) -> None:
        super().__init__()
        if channels % heads:
            raise ConfigError(f"LightConv splits {channels} channels into {heads} heads; "
                              f"use a channel count divisible by {heads}")
        self.channels, self.heads, self.kernel_size = channels, heads, kernel_size
        self.weight = nn.Parameter(torch.empty(heads, kernel_size))
        self.reset_keras_parameters()

    def reset_keras_parameters(self) -> None:
        """Keras glorot_uniform of a ``(kernel_size, 1, 1)`` kernel: bound ``sqrt(3 / kernel_size)``."""
        glorot_uniform_(self.weight, fan_sum=2 * self.kernel_size)

    def effective_kernel(self) -> Tensor:
        """The ``(heads, kernel_size)`` kernels actually applied; each row sums to 1."""
        return torch.softmax(self.weight, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, T, channels)`` -> ``(N, T, channels)``."""
        per_channel = self.effective_kernel().repeat_interleave(self.channels // self.heads, dim=0)
        x = F.pad(x.transpose(1, 2), same_padding(x.shape[1], self.kernel_size))  # (N, C, T + k - 1)
        return F.conv1d(x, per_channel.unsqueeze(1), groups=self.channels).transpose(1, 2)


class DropPath(nn.Module):
    """Stochastic depth per sample: drop a residual branch for a whole window.

    In training each sample keeps the branch with probability ``1 - rate`` and kept samples are
    scaled by ``1 / (1 - rate)``; at evaluation (or with rate 0) it is the identity.
    """

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"drop-path rate must be in [0, 1), but got {rate}")
        self.rate = rate

    def forward(self, x: Tensor) -> Tensor:
        """``x`` of any shape ``(N, ...)``."""
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device) < keep
        return x * mask / keep


def drop_path_rates(max_rate: float, n_layers: int) -> list[float]:
    """Rates growing linearly from 0 to ``max_rate`` over ``n_layers`` layers (``linspace``)."""
    return [max_rate * i / (n_layers - 1) if n_layers > 1 else 0.0 for i in range(n_layers)]


class FeedForward(nn.Module):
    """The transformer MLP of HART and MobileViT: Dense(hidden, swish) -> Dropout -> Dense(dim)."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.expand = nn.Linear(dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, T, dim)`` -> ``(N, T, dim)``."""
        return self.project(self.dropout(F.silu(self.expand(x))))


class SensorWiseLayer(nn.Module):
    """One transformer layer of HART (Ek et al. 2022), also used by MobileHART's sensor-wise block.

    ``x`` of width ``dim`` holds the accelerometer tokens in its first half and the gyroscope's in
    the second. After a LayerNorm, self-attention runs on the first quarter (acc only), a
    :class:`LightConv` on the middle half (the inner acc and gyro quarters, mixing both) and a
    second self-attention on the last quarter (gyro only); each branch has its own drop-path
    draw, their concatenation joins the residual; then LayerNorm -> MLP (``2 * dim``, swish) ->
    drop path -> residual.

    Args:
        dim: token width (divisible by 4).
        heads: heads of each attention (key_dim = ``dim // 4``, Keras-style).
        conv_heads: kernels of the LightConv (its ``dim // 2`` channels split into that many groups).
        kernel_size: taps of the LightConv kernels.
        dropout: attention-probability and MLP dropout.
        drop_path: stochastic-depth rate of this layer.
    """

    def __init__(self, dim: int, heads: int, conv_heads: int, kernel_size: int, dropout: float,
                 drop_path: float) -> None:
        super().__init__()
        if dim % 4:
            raise ConfigError(f"a sensor-wise HART layer splits its width into quarters, but got {dim=}; "
                              f"use a multiple of 4 (HART's default is 192)")
        quarter = dim // 4
        self.quarter = quarter
        self.attention_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.acc_attention = KerasMultiHeadAttention(quarter, heads, quarter, dropout)
        self.light_conv = LightConv(2 * quarter, conv_heads, kernel_size)
        self.gyro_attention = KerasMultiHeadAttention(quarter, heads, quarter, dropout)
        self.mlp_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = FeedForward(dim, 2 * dim, dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, T, dim)`` -> ``(N, T, dim)``."""
        q = self.quarter
        z = self.attention_norm(x)
        mixed = torch.cat((self.drop_path(self.acc_attention(z[..., :q])),
                           self.drop_path(self.light_conv(z[..., q:3 * q])),
                           self.drop_path(self.gyro_attention(z[..., 3 * q:]))), dim=-1)
        x = x + mixed
        return x + self.drop_path(self.mlp(self.mlp_norm(x)))
