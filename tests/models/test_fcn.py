"""The MaskCAE FCN (Table I) and its sparse masked encoding (Eq. 1)."""

from __future__ import annotations

import pytest
import torch

from automl_har.models.fcn import (
    FCNClassifier,
    FCNEncoder,
    mask_at,
    pad_time,
    random_visible_mask,
    sparse_batch_norm,
)


def test_four_blocks_halve_time_keep_sensors_and_use_the_papers_layers():
    encoder = FCNEncoder()
    features = encoder(torch.randn(3, 1, 64, 6))
    assert [tuple(f.shape) for f in features] == [(3, 16, 32, 6), (3, 32, 16, 6), (3, 64, 8, 6), (3, 128, 4, 6)]
    block = encoder.blocks[0]
    assert block.conv.kernel_size == (5, 1) and block.conv.stride == (1, 1)
    assert block.pool.kernel_size == (5, 1) and block.pool.stride == (2, 1)
    assert isinstance(block.bn, torch.nn.BatchNorm2d)


def test_sensor_axes_never_mix_in_the_encoder():
    encoder = FCNEncoder().eval()
    x = torch.randn(2, 1, 32, 6)
    y = x.clone()
    y[..., 4] += 5.0  # change one sensor axis only
    with torch.no_grad():
        a, b = encoder(x)[-1], encoder(y)[-1]
    assert torch.equal(a[..., :4], b[..., :4]) and torch.equal(a[..., 5], b[..., 5])
    assert not torch.equal(a[..., 4], b[..., 4])


@pytest.mark.parametrize("length, padded", [(30, 32), (32, 32), (100, 112), (1, 16)])
def test_time_is_padded_to_a_multiple_of_16(length, padded):
    x = torch.randn(2, 1, length, 3)
    out = pad_time(x, 16)
    assert out.shape == (2, 1, padded, 3)
    assert torch.equal(out[:, :, :length], x)
    assert torch.equal(out[:, :, -1], x[:, :, -1])  # edge replicated, not zero
    logits = FCNClassifier(n_sensors=3, window_length=length, n_classes=5)(x)
    assert logits.shape == (2, 5)


def test_classifier_is_flatten_plus_linear_over_the_deepest_map():
    model = FCNClassifier(n_sensors=6, window_length=30, n_classes=4)
    assert model.classifier.in_features == 128 * 2 * 6  # 30 -> 32 samples -> 2 rows x 6 axes


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5, 0.7])
def test_mask_ratio_holds_at_every_level(ratio):
    torch.manual_seed(0)
    visible = random_visible_mask(8, 4, 6, ratio)  # grid of a 64 x 6 window
    keep = round(24 * (1 - ratio))
    assert (visible.view(8, -1).sum(1) == keep).all()
    for length in (64, 32, 16, 8, 4):
        level = mask_at(visible, length)
        assert level.shape == (8, 1, length, 6)
        assert level.float().mean().item() == pytest.approx(keep / 24)
    # the upsampled mask is the grid mask repeated along time: cells keep their shape
    assert torch.equal(mask_at(visible, 64)[:, :, ::16], visible)


def test_sparse_encoding_never_sees_masked_cells_and_keeps_them_zero():
    torch.manual_seed(0)
    encoder = FCNEncoder().train()
    x = torch.randn(4, 1, 64, 6)
    visible = random_visible_mask(4, 4, 6, 0.3)
    corrupted = torch.where(mask_at(visible, 64), x, torch.randn_like(x) * 100)
    state = {k: v.clone() for k, v in encoder.state_dict().items()}
    first = encoder(x, visible)
    encoder.load_state_dict(state)
    second = encoder(corrupted, visible)
    for a, b in zip(first, second):
        assert torch.allclose(a, b, atol=1e-5)  # masked input values have no influence
        hidden = ~mask_at(visible, a.shape[2]).expand_as(a)
        assert (a[hidden] == 0).all()  # every level's masked cells stay zero


def test_sparse_batch_norm_uses_visible_cells_only():
    bn = torch.nn.BatchNorm2d(3).train()
    x = torch.randn(4, 3, 8, 5)
    visible = torch.rand(4, 1, 8, 5) > 0.4
    out = sparse_batch_norm(bn, x * visible, visible)
    chosen = x.permute(0, 2, 3, 1)[visible[:, 0]]  # (n_visible, C)
    expected = (chosen - chosen.mean(0)) / torch.sqrt(chosen.var(0, unbiased=False) + bn.eps)
    assert torch.allclose(out.permute(0, 2, 3, 1)[visible[:, 0]], expected, atol=1e-5)
    assert (out.permute(0, 2, 3, 1)[~visible[:, 0]] == 0).all()
    assert torch.allclose(bn.running_mean, 0.1 * chosen.mean(0), atol=1e-6)


def test_all_visible_sparse_encoding_equals_the_dense_fcn():
    torch.manual_seed(0)
    dense, sparse = FCNEncoder().train(), FCNEncoder().train()
    sparse.load_state_dict(dense.state_dict())
    x = torch.randn(4, 1, 32, 6)
    everything = torch.ones(4, 1, 2, 6, dtype=torch.bool)
    for a, b in zip(dense(x), sparse(x, everything)):
        assert torch.allclose(a, b, atol=1e-5)
    for name, value in dense.state_dict().items():  # same running statistics too
        assert torch.allclose(value.float(), sparse.state_dict()[name].float(), atol=1e-5), name


def test_frozen_blocks_keep_weights_and_batch_norm_statistics():
    torch.manual_seed(0)
    model = FCNClassifier(n_sensors=6, window_length=32, n_classes=3)
    model.freeze_blocks(3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    loss = model(torch.randn(8, 1, 32, 6)).sum()
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    for name in before:
        changed = not torch.equal(before[name], after[name])
        frozen = name.startswith(("encoder.blocks.0.", "encoder.blocks.1.", "encoder.blocks.2."))
        if name.endswith("num_batches_tracked"):
            continue
        assert changed != frozen, name
