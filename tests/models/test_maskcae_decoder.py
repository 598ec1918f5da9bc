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


# ------------------------------------------------------------------ Table VII ablation switches
def test_plain_decoder_slides_along_time_only_and_never_mixes_sensor_axes():
    """'w/ plain decoder': (k, 1) kernels; a bump in one sensor column reaches no other column."""
    decoder = InformationFusionDecoder(kernel_size=5, fusion=False).eval()
    convs = [m for m in decoder.blocks[0].fuse if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 1)] * 2
    features = [f.detach() for f in FCNEncoder().eval()(torch.randn(1, 1, 32, 6))]
    bumped = [f.clone() for f in features]
    bumped[-1][..., 2] += 1.0
    with torch.no_grad():
        delta = (decoder(bumped) - decoder(features)).abs().sum(dim=(0, 1, 2))
    assert delta[2] > 0 and torch.all(delta[[0, 1, 3, 4, 5]] == 0)


def test_without_feature_projection_only_the_deepest_level_reaches_the_decoder():
    """'w/o FeatProj': no projection of levels 1-3; the deepest keeps its projection and mask token."""
    decoder = InformationFusionDecoder(feature_projection=False).eval()
    assert len(decoder.projections) == 1 and len(decoder.mask_tokens) == 1 and len(decoder.blocks) == 4
    features = [f.detach() for f in FCNEncoder().eval()(torch.randn(1, 1, 32, 6))]
    shallow_noise = [torch.randn_like(f) for f in features[:-1]] + [features[-1]]
    visible = random_visible_mask(1, 2, 6, 0.5)
    with torch.no_grad():
        assert torch.equal(decoder(features, visible), decoder(shallow_noise, visible))
        full = InformationFusionDecoder().eval()
        assert not torch.equal(full(features, visible), full(shallow_noise, visible))
        before = decoder(features, visible)
        decoder.mask_tokens[0].add_(1.0)
        assert not torch.allclose(before, decoder(features, visible))  # masked embeddings kept


def test_without_sparse_conv_the_encoder_runs_densely_over_the_zeroed_cells():
    """'w/o sparse conv': masked cells are zero at the input, but convolutions spread into them
    and BatchNorm counts them; the sparse encoder keeps every masked cell at zero."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 6)
    visible = random_visible_mask(4, 2, 6, 0.5)
    masked = ~mask_at(visible, 16)  # the first level's resolution
    sparse = FCNEncoder()
    dense = FCNEncoder()
    dense.load_state_dict(sparse.state_dict())
    first_sparse = sparse(x, visible)[0]
    first_dense = dense(x, visible, sparse=False)[0]
    assert torch.all(first_sparse.masked_select(masked.expand_as(first_sparse)) == 0)
    assert first_dense.masked_select(masked.expand_as(first_dense)).abs().sum() > 0
    # the dense encoder equals the plain FCN on the zeroed input
    reference = FCNEncoder()
    reference.load_state_dict(sparse.state_dict())
    assert torch.allclose(first_dense, reference(x * mask_at(visible, 32))[0])


@pytest.mark.parametrize("switch", ["sparse_conv", "fusion_decoder", "feature_projection"])
def test_each_ablation_switch_changes_the_pretraining_loss(switch):
    torch.manual_seed(0)
    x = torch.randn(4, 1, 32, 6)
    visible = random_visible_mask(4, 2, 6, 0.3)
    torch.manual_seed(1)
    paper = MaskedConvAutoencoder(decoder_width=32)
    torch.manual_seed(1)
    ablated = MaskedConvAutoencoder(decoder_width=32, **{switch: False})
    assert ablated(x, visible).item() != pytest.approx(paper(x, visible).item())
