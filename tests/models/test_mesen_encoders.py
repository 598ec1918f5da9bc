"""MESEN's encoders (conv + transformer, HCN co-occurrence), projector and layer groups (spec §1.2)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from automl_har.errors import ConfigError
from automl_har.models.cosmo_encoders import InertialEncoder
from automl_har.models.mesen_encoders import (
    CoOccurrenceEncoder, ConvTransformerEncoder, Projector, layer_groups_of, make_mesen_encoder, sinusoidal_encoding,
)

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


def norm_params(module: nn.Module) -> set[int]:
    return {id(p) for m in module.modules() if isinstance(m, NORMS) for p in m.parameters(recurse=False)}


def grouped(module: nn.Module) -> list[int]:
    return [id(p) for group in layer_groups_of(module) for p in group]


def test_imu_encoder_maps_utd_windows_to_64_channels_at_25_positions():
    torch.manual_seed(0)
    encoder = ConvTransformerEncoder(6)
    assert encoder(torch.randn(4, 100, 6)).shape == (4, 64, 25)
    assert encoder.out_channels == 64
    conv = encoder.blocks[0].conv
    assert conv.kernel_size == (5,) and conv.padding == (2,) and conv.bias is None
    assert [type(b.pool).__name__ for b in encoder.blocks] == ["MaxPool1d", "MaxPool1d", "Identity"]
    layer = encoder.transformer[0]
    assert layer.self_attn.num_heads == 4 and layer.linear1.out_features == 128
    assert 100_000 < sum(p.numel() for p in encoder.parameters()) < 120_000  # spec: about 110k


def test_skeleton_encoder_maps_utd_windows_to_256_channels_at_6_positions():
    torch.manual_seed(0)
    encoder = CoOccurrenceEncoder(20)
    assert encoder(torch.randn(4, 60, 60)).shape == (4, 256, 6)  # plane (60, 32) -> (3, 2)
    assert encoder.out_channels == 256
    assert encoder.conv3.in_channels == 20  # joints are the channels of conv3
    assert 400_000 < sum(p.numel() for p in encoder.parameters()) < 600_000  # spec: about 0.5M


def test_tiny_widths_and_short_windows_still_give_a_sequence():
    imu = ConvTransformerEncoder(6, width=8, n_conv=1, n_transformer=1, n_heads=2)
    assert imu(torch.randn(2, 25, 6)).shape == (2, 8, 25)  # one block: no pooling
    assert ConvTransformerEncoder(3, width=8, n_heads=2)(torch.randn(2, 25, 3)).shape == (2, 8, 7)  # 25 -> 13 -> 7
    skeleton = CoOccurrenceEncoder(20, width=4)
    assert skeleton(torch.randn(2, 60, 60)).shape == (2, 16, 3)  # the width-2 axis stops halving at 1


def test_projector_is_two_pointwise_convs_then_the_mean_over_positions():
    torch.manual_seed(0)
    projector = Projector(64, projection_dim=128).eval()
    h = torch.randn(4, 64, 25)
    out = projector(h)
    assert out.shape == (4, 128)
    # pointwise: permuting the positions does not change the mean
    torch.testing.assert_close(projector(h[:, :, torch.randperm(25)]), out)
    by_position = projector.conv2(projector.relu(projector.bn(projector.conv1(h))))
    torch.testing.assert_close(by_position.mean(-1), out)


def test_imu_layer_groups_are_three_convs_then_two_transformer_layers_without_norms():
    encoder = ConvTransformerEncoder(6)
    groups = encoder.layer_groups()
    assert len(groups) == 5
    assert [g[0] is b.conv.weight for g, b in zip(groups[:3], encoder.blocks)] == [True] * 3
    assert all(len(g) == 1 for g in groups[:3])
    layer = encoder.transformer[0]
    expected = [layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias, layer.self_attn.out_proj.weight,
                layer.self_attn.out_proj.bias, layer.linear1.weight, layer.linear1.bias, layer.linear2.weight,
                layer.linear2.bias]
    assert [id(p) for p in groups[3]] == [id(p) for p in expected]
    ids = grouped(encoder)
    assert len(ids) == len(set(ids))
    assert not set(ids) & norm_params(encoder)  # BatchNorm / LayerNorm excluded
    # every parameter is either in a layer or in a norm layer
    assert set(ids) | norm_params(encoder) == {id(p) for p in encoder.parameters()}


@pytest.mark.parametrize("batchnorm", [True, False])
def test_skeleton_layer_groups_share_a_group_per_depth_of_both_branches(batchnorm):
    encoder = CoOccurrenceEncoder(20, width=8, batchnorm=batchnorm)
    groups = encoder.layer_groups()
    assert len(groups) == 6
    for depth, group in enumerate(groups[:4], start=1):
        conv, motion = getattr(encoder, f"conv{depth}"), getattr(encoder, f"conv{depth}m")
        expected = [conv.weight, motion.weight] if batchnorm else [conv.weight, conv.bias, motion.weight, motion.bias]
        assert [id(p) for p in group] == [id(p) for p in expected]
    assert groups[5][0] is encoder.conv6.weight
    assert not set(grouped(encoder)) & norm_params(encoder)  # BatchNorm excluded from L_FR
    # every parameter is either in a layer or in a norm layer (HCN without BN has none)
    assert set(grouped(encoder)) | norm_params(encoder) == {id(p) for p in encoder.parameters()}
    assert bool(norm_params(encoder)) == batchnorm


def test_skeleton_encoder_is_hcn_with_batch_norm_and_dropout_2d():
    encoder = CoOccurrenceEncoder(20, width=8)
    assert isinstance(encoder.dropout, torch.nn.Dropout2d) and encoder.dropout.p == 0.5  # HCN's
    assert all(isinstance(getattr(encoder, f"bn{d}{s}"), torch.nn.BatchNorm2d) for d in range(1, 5) for s in ("", "m"))
    assert isinstance(encoder.bn6, torch.nn.BatchNorm2d) and encoder.conv6.bias is None
    plain = CoOccurrenceEncoder(20, width=8, batchnorm=False)
    assert isinstance(plain.bn5, torch.nn.Identity) and plain.conv5.bias is not None
    for length in (60, 40, 7, 2):
        assert plain(torch.randn(2, length, 60)).shape[-1] == plain.positions(length)


def test_fallback_groups_take_every_layer_with_a_matrix_and_skip_batch_norm():
    encoder = InertialEncoder(6, 32, width=4, depth=2, kernel_size=3, feature_dim=8)
    groups = layer_groups_of(encoder)
    assert len(groups) == 3  # two Conv2d and the head's Linear
    assert [len(g) for g in groups] == [1, 1, 2]  # the convs have no bias
    assert groups[-1][0] is encoder.head.linear.weight
    assert not set(grouped(encoder)) & norm_params(encoder)
    ours = ConvTransformerEncoder(6, width=8, n_heads=2)
    assert layer_groups_of(ours) == ours.layer_groups()  # an encoder's own grouping wins


@pytest.mark.parametrize("make, x", [
    (lambda: ConvTransformerEncoder(6, width=8, n_heads=2), torch.randn(4, 100, 6)),
    (lambda: CoOccurrenceEncoder(20, width=4), torch.randn(4, 60, 60)),
])
def test_gradients_reach_every_layer(make, x):
    torch.manual_seed(0)
    encoder = make()
    out = encoder(x)
    (out * torch.randn_like(out)).sum().backward()  # a plain sum would vanish behind LayerNorm
    for i, group in enumerate(encoder.layer_groups()):
        for p in group:
            assert p.grad is not None and p.grad.abs().sum() > 0, i


def test_motion_branch_reads_frame_differences():
    torch.manual_seed(0)
    encoder = CoOccurrenceEncoder(20, width=4)
    static = torch.randn(2, 1, 60).expand(2, 60, 60).contiguous()  # the same pose in every frame
    out = encoder(static)
    (out * torch.randn_like(out)).sum().backward()
    assert encoder.conv1m.weight.grad.abs().sum() == 0  # zero motion: its first conv sees zeros
    assert encoder.conv1.weight.grad.abs().sum() > 0


def test_positional_encoding_is_the_fixed_sinusoid():
    pe = sinusoidal_encoding(25, 64)
    assert pe.shape == (25, 64)
    torch.testing.assert_close(pe[0, 0::2], torch.zeros(32))
    torch.testing.assert_close(pe[0, 1::2], torch.ones(32))
    torch.testing.assert_close(pe[3, 2], torch.sin(torch.tensor(3.0) / 10000 ** (2 / 64)))
    assert sinusoidal_encoding(4, 5).shape == (4, 5)
    assert not any("pe" in k for k in ConvTransformerEncoder(6).state_dict())  # fixed: not a weight


def test_state_dict_keys_are_plain_attribute_names():
    imu = list(ConvTransformerEncoder(6, n_conv=1, n_transformer=1).state_dict())
    assert imu[0] == "blocks.0.conv.weight" and "transformer.0.self_attn.in_proj_weight" in imu
    skeleton = set(CoOccurrenceEncoder(20, width=4).state_dict())
    convs = {f"conv{d}{s}.weight" for d in range(1, 5) for s in ("", "m")}
    assert convs | {"conv5.weight", "bn6.running_mean"} <= skeleton
    assert set(Projector(8, 4).state_dict()) >= {"conv1.weight", "bn.running_mean", "conv2.bias"}


def test_make_mesen_encoder_chooses_by_kind_and_names_the_fix():
    imu = make_mesen_encoder("inertial", 6, width=8, n_heads=2, n_conv=1, n_transformer=1)
    assert isinstance(imu, ConvTransformerEncoder) and imu.out_channels == 8
    skeleton = make_mesen_encoder("skeleton", 60, width=4, dropout=0.0)
    assert isinstance(skeleton, CoOccurrenceEncoder) and skeleton.n_joints == 20
    with pytest.raises(ConfigError, match="3 channels"):
        make_mesen_encoder("skeleton", 61)
    with pytest.raises(ConfigError, match="choose one of"):
        make_mesen_encoder("depth", 6)
    with pytest.raises(ConfigError, match="n_heads"):
        make_mesen_encoder("skeleton", 60, n_heads=2)
    with pytest.raises(ConfigError, match="multiple of transformer_heads"):
        ConvTransformerEncoder(6, width=10, n_heads=4)
    with pytest.raises(ConfigError, match="even"):
        CoOccurrenceEncoder(20, width=5)


def test_module_imports_only_torch():
    code = ("import sys, automl_har.models.mesen_encoders; "
            "print([m for m in ('optuna', 'mlflow', 'ray', 'pandas') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
