"""MaskCAE's information-fusion UNet decoder, the masked autoencoder and its reconstruction loss.

Cheng et al., "MaskCAE: Masked Convolutional AutoEncoder via Sensor Data Reconstruction for
Self-Supervised Human Activity Recognition", IEEE JBHI 2024, Sec. III-B (Eqs. 2-3, Fig. 5).

The decoder mirrors the 4-level FCN encoder. At every level the sparse encoder features get a
learnable mask token written into their masked cells (``F'_Ei``) and pass through a feature
projection ``FP_i`` (one convolution, no downsampling); the decoder adds them up from the deepest
level (Eq. 2: ``F_D4 = FP_4(F'_E4)``, ``F_Di = D_i(F_D(i+1)) + FP_i(F'_Ei)``). Each ``D_i`` doubles
the time axis with a ``(4, 1)`` transposed convolution and then fuses neighbouring sensor axes with
two square ``k x k`` convolutions (+BN+ReLU6), unlike the encoder's ``(5, 1)`` kernels. A final
1x1 convolution gives the one-channel reconstruction ``(B, 1, T, S)``.

Table VII's ablations, as in the authors' release (``pretrain/decoder.py``, ``pretrain/MaskCAE.py``):
``fusion=False`` is "w/ plain decoder", whose convolutions are ``(k, 1)`` and slide along time only,
so no sensor axis sees another (the paper: it "only extracts activity features along temporal axis
in a separate manner"); ``feature_projection=False`` is "w/o FeatProj": only the deepest level,
``F_D4 = FP_4(F'_E4)`` with its mask tokens, enters the decoder and the projections of levels 1-3
are gone (``F_Di = D_i(F_D(i+1))``; the release's ``WithoutInfoProj`` keeps the deepest feature
map only, "while preserving masked embeddings").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from automl_har.models.fcn import FCN_CHANNELS, FCNEncoder, mask_at, pad_time, random_visible_mask

#: decoder kernel sizes the paper's ablation compares (5 x 5 is its default)
DECODER_KERNELS = (3, 5, 7)


class UNetBlock(nn.Module):
    """2x temporal upsampling, then two ``k x k`` conv + BN + ReLU6 that mix sensor axes
    (``fusion=False``: ``(k, 1)`` convolutions that keep every sensor axis separate)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, fusion: bool = True) -> None:
        super().__init__()
        kernel = (kernel_size, kernel_size) if fusion else (kernel_size, 1)
        pad = (kernel_size // 2, kernel_size // 2) if fusion else (kernel_size // 2, 0)
        self.up = nn.ConvTranspose2d(in_channels, in_channels, (4, 1), stride=(2, 1), padding=(1, 0))
        self.fuse = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, kernel, padding=pad, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.ReLU6(inplace=True),
            nn.Conv2d(in_channels, out_channels, kernel, padding=pad, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, t, S) -> (B, C_out, 2t, S)
        return self.fuse(self.up(x))


class InformationFusionDecoder(nn.Module):
    """Hierarchical UNet decoder with feature projections and mask tokens.

    Args:
        encoder_channels: channels of the encoder levels, shallow to deep (16, 32, 64, 128).
        width: channels of the deepest decoder level; halved at each upsampling.
        kernel_size: square kernel of the fusion convolutions (3, 5 or 7).
        fusion: square kernels that fuse sensor axes (False: Table VII's plain decoder).
        feature_projection: project every encoder level into the decoder (False: Table VII's
            "w/o FeatProj", the deepest level only).
    """

    def __init__(
        self, encoder_channels: tuple[int, ...] = FCN_CHANNELS, width: int = 128, kernel_size: int = 5,
        fusion: bool = True, feature_projection: bool = True,
    ) -> None:
        super().__init__()
        deep_first = list(reversed(encoder_channels))
        widths = [max(1, width // 2**i) for i in range(len(deep_first) + 1)]  # 128, 64, 32, 16, 8
        if not feature_projection:
            deep_first = deep_first[:1]  # the deepest level only
        self.mask_tokens = nn.ParameterList(nn.Parameter(torch.zeros(1, c, 1, 1)) for c in deep_first)
        for token in self.mask_tokens:
            nn.init.trunc_normal_(token, std=0.02, a=-0.02, b=0.02)
        # FP_i: a 1x1 conv at the deepest level, a (5, 1) temporal conv at the others
        self.projections = nn.ModuleList(
            nn.Conv2d(c, w, (1, 1) if i == 0 else (5, 1), padding=(0, 0) if i == 0 else (2, 0))
            for i, (c, w) in enumerate(zip(deep_first, widths))
        )
        self.blocks = nn.ModuleList(
            UNetBlock(w_in, w_out, kernel_size, fusion) for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        self.head = nn.Conv2d(widths[-1], 1, 1)

    def forward(self, features: list[Tensor], visible: Tensor | None = None) -> Tensor:
        """Reconstruct ``(B, 1, T, S)`` from the encoder's features (shallow to deep).

        Args:
            features: ``[(B, 16, T/2, S), ..., (B, 128, T/16, S)]``.
            visible: the ``(B, 1, T/16, S)`` grid mask the features were encoded under, or None.
        """
        x: Tensor | float = 0.0
        deep_first = list(reversed(features))
        for level, block in enumerate(self.blocks):
            if level < len(self.projections):  # F_Di = D_i(F_D(i+1)) + FP_i(F'_Ei)
                feature = deep_first[level]
                if visible is not None:  # F'_Ei: mask tokens fill the empty (masked) cells
                    here = mask_at(visible, feature.shape[2])
                    feature = torch.where(here, feature, self.mask_tokens[level].to(feature.dtype))
                x = x + self.projections[level](feature)
            x = block(x)
        return self.head(x)


def masked_reconstruction_loss(
    target: Tensor, reconstruction: Tensor, visible: Tensor, norm_loss: bool = True
) -> Tensor:
    """Eq. 3: mean squared error over the masked cells of the ``(T/16, S)`` grid.

    Each grid cell is a patch of ``T/grid_t`` samples of one sensor axis. With ``norm_loss`` the
    target patch is normalized by its own mean and standard deviation (MAE's patch-normalized
    loss); cells that are all visible (``mask_ratio = 0``, the "w/o masking" ablation) fall back to
    the loss over every cell.

    Args:
        target, reconstruction: ``(B, 1, T, S)``.
        visible: ``(B, 1, grid_t, S)`` bool, True = visible.
    """
    b, _, t, s = target.shape
    grid_t = visible.shape[2]
    patch = t // grid_t

    def patches(x: Tensor) -> Tensor:  # (B, 1, T, S) -> (B, grid_t, S, patch)
        return x.reshape(b, grid_t, patch, s).transpose(2, 3)

    goal, guess = patches(target), patches(reconstruction)
    if norm_loss:
        goal = (goal - goal.mean(-1, keepdim=True)) / (goal.var(-1, keepdim=True) + 1e-6).sqrt()
    per_cell = (guess - goal).square().mean(-1)  # (B, grid_t, S)
    masked = (~visible.view(b, grid_t, s)).to(per_cell.dtype)
    if masked.sum() == 0:
        return per_cell.mean()
    return (per_cell * masked).sum() / masked.sum()


class MaskedConvAutoencoder(nn.Module):
    """MaskCAE pre-training network: sparse FCN encoder + information-fusion decoder.

    ``forward(x)`` draws a random grid mask, encodes the visible cells sparsely, reconstructs the
    whole window and returns the loss on the masked cells.

    Args:
        mask_ratio: fraction of grid cells masked (paper: 0.3).
        decoder_kernel: square kernel of the decoder's fusion convolutions (paper: 5).
        norm_loss: normalize the target per patch (paper: on).
        channels: encoder widths (Table I).
        decoder_width: channels of the deepest decoder level.
        sparse_conv: sparse encoding of the visible cells (False: Table VII's "w/o sparse conv").
        fusion_decoder: square fusion kernels in the decoder (False: "w/ plain decoder").
        feature_projection: every encoder level projected into the decoder (False: "w/o FeatProj").
    """

    def __init__(self, mask_ratio: float = 0.3, decoder_kernel: int = 5, norm_loss: bool = True,
                 channels: tuple[int, ...] = FCN_CHANNELS, decoder_width: int = 128, sparse_conv: bool = True,
                 fusion_decoder: bool = True, feature_projection: bool = True) -> None:
        super().__init__()
        self.mask_ratio, self.norm_loss, self.sparse_conv = mask_ratio, norm_loss, sparse_conv
        self.encoder = FCNEncoder(tuple(channels))
        self.decoder = InformationFusionDecoder(tuple(channels), decoder_width, decoder_kernel,
                                                fusion=fusion_decoder, feature_projection=feature_projection)

    def draw_mask(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A random visible-cell grid ``(B, 1, T/16, S)`` for the (padded) batch ``x``."""
        grid_t = x.shape[2] // self.encoder.downsample
        return random_visible_mask(x.shape[0], grid_t, x.shape[3], self.mask_ratio, generator).to(x.device)

    def reconstruct(self, x: Tensor, visible: Tensor) -> Tensor:
        """Reconstruction ``(B, 1, T, S)`` of the padded batch ``x`` seen through ``visible``."""
        return self.decoder(self.encoder(x, visible, sparse=self.sparse_conv), visible)

    def forward(self, x: Tensor, visible: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        x = pad_time(x, self.encoder.downsample)  # (B, 1, T16, S)
        visible = self.draw_mask(x, generator) if visible is None else visible
        return masked_reconstruction_loss(x, self.reconstruct(x, visible), visible, self.norm_loss)
