"""MaskCAE's information-fusion decoder (Eq. 2) and masked, patch-normalized loss (Eq. 3)."""

from __future__ import annotations

import pytest
import torch

from automl_har.models.fcn import FCNEncoder, mask_at, random_visible_mask
from automl_har.models.maskcae_decoder import (
    InformationFusionDecoder,
    MaskedConvAutoencoder,
    masked_reconstruction_loss,
)


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_decoder_reconstructs_the_input_shape_with_square_kernels(kernel):
    decoder = InformationFusionDecoder(kernel_size=kernel)
    features = FCNEncoder()(torch.randn(2, 1, 32, 6))
    assert decoder(features).shape == (2, 1, 32, 6)
    assert len(decoder.blocks) == 4 and len(decoder.projections) == 4 and len(decoder.mask_tokens) == 4
    block = decoder.blocks[0]
    assert block.up.kernel_size == (4, 1) and block.up.stride == (2, 1)
    convs = [m for m in block.fuse if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(kernel, kernel)] * 2
    assert sum(isinstance(m, torch.nn.ReLU6) for m in block.fuse) == 2
    assert decoder.head.kernel_size == (1, 1) and decoder.head.out_channels == 1


def test_decoder_fuses_neighbouring_sensor_axes():
    decoder = InformationFusionDecoder().eval()
    features = [f.detach() for f in FCNEncoder().eval()(torch.randn(1, 1, 32, 6))]
    bumped = [f.clone() for f in features]
    bumped[-1][..., 2] += 1.0  # one sensor column of the deepest map
    with torch.no_grad():
        delta = (decoder(bumped) - decoder(features)).abs().sum(dim=(0, 1, 2))
    assert delta[1] > 0 and delta[3] > 0  # the neighbours of column 2 change too


def test_mask_tokens_fill_the_masked_cells():
    torch.manual_seed(0)
    decoder = InformationFusionDecoder().eval()
    features = [torch.zeros(1, c, 32 // 2 ** (i + 1), 6) for i, c in enumerate((16, 32, 64, 128))]
    visible = random_visible_mask(1, 2, 6, 0.5)
    with torch.no_grad():
        before = decoder(features, visible)
        decoder.mask_tokens[0].add_(1.0)  # the deepest level's token
        after = decoder(features, visible)
        assert not torch.allclose(before, after)
        decoder.mask_tokens[0].sub_(1.0)
        assert torch.allclose(decoder(features, None), decoder(features, None))
        everything = torch.ones_like(visible)
        decoder.mask_tokens[0].add_(1.0)
        unchanged = decoder(features, everything)
        decoder.mask_tokens[0].sub_(1.0)
        assert torch.allclose(unchanged, decoder(features, everything))  # no masked cell, no token


def test_loss_counts_masked_cells_only():
    torch.manual_seed(0)
    target = torch.randn(2, 1, 32, 6)
    guess = torch.randn(2, 1, 32, 6)
    visible = random_visible_mask(2, 2, 6, 0.3)
    loss = masked_reconstruction_loss(target, guess, visible)
    shown = mask_at(visible, 32)
    changed = torch.where(shown, guess + 100.0, guess)  # wrong only where visible
    assert masked_reconstruction_loss(target, changed, visible) == pytest.approx(loss.item())
    changed = torch.where(shown, guess, guess + 1.0)
    assert masked_reconstruction_loss(target, changed, visible) != pytest.approx(loss.item())


def test_norm_loss_normalizes_each_patch_and_can_be_switched_off():
    target = torch.arange(32.0).view(1, 1, 32, 1) * 3 + 7  # two patches of 16 samples
    visible = torch.tensor([True, False]).view(1, 1, 2, 1)  # second patch masked
    patch = target[0, 0, 16:, 0]
    normalized = (patch - patch.mean()) / torch.sqrt(patch.var() + 1e-6)
    guess = torch.zeros_like(target)
    guess[0, 0, 16:, 0] = normalized
    assert masked_reconstruction_loss(target, guess, visible, norm_loss=True).item() == pytest.approx(0.0, abs=1e-8)
    raw = masked_reconstruction_loss(target, guess, visible, norm_loss=False)
    assert raw.item() == pytest.approx(((patch - normalized) ** 2).mean().item(), rel=1e-5)
    guess[0, 0, 16:, 0] = patch
    assert masked_reconstruction_loss(target, guess, visible, norm_loss=False).item() == pytest.approx(0.0)


def test_zero_mask_ratio_reconstructs_every_cell():
    target, guess = torch.randn(2, 1, 32, 6), torch.zeros(2, 1, 32, 6)
    everything = torch.ones(2, 1, 2, 6, dtype=torch.bool)
    loss = masked_reconstruction_loss(target, guess, everything, norm_loss=False)
    assert loss.item() == pytest.approx(target.square().mean().item(), rel=1e-5)


def test_autoencoder_pads_masks_and_learns_to_reconstruct():
    torch.manual_seed(0)
    model = MaskedConvAutoencoder(mask_ratio=0.3, decoder_kernel=3, decoder_width=32)
    t = torch.linspace(0, 6.28, 30)
    x = torch.stack([torch.sin(t * f) for f in (1, 2, 3, 1, 2, 3)], -1).expand(8, 30, 6).unsqueeze(1).contiguous()
    x = x + 0.05 * torch.randn_like(x)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(20):
        loss = model(x, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
