"""The four HAR nets of Presotto et al. (SMARTCOMP 2023, §III-D, Table VI; spec combined.md §3)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.models import ARCHITECTURES, build_har_net, check_har_input
from automl_har.models._keras_blocks import (
    DropPath,
    KerasMultiHeadAttention,
    LightConv,
    SameConv1d,
    same_padding,
)
from automl_har.models.deepconvlstm import DeepConvLSTM
from automl_har.models.hart import HART, MobileHART
from automl_har.models.ispl_inception import ISPLInception

#: the smallest windows each net takes (fast tests); Table VI's counts use T = 128
TINY_T = {"deepconvlstm": 24, "ispl_inception": 16, "hart": 32, "mobilehart_xs": 64}
FEATURE_DIM = {"deepconvlstm": 128, "ispl_inception": 256, "hart": 1024, "mobilehart_xs": 1024}
#: options that switch every dropout and drop path off (deterministic training steps)
NO_DROPOUT = {"deepconvlstm": {"dropout": 0.0}, "ispl_inception": {},
              "hart": {"dropout": 0.0, "drop_path": 0.0}, "mobilehart_xs": {"dropout": 0.0, "drop_path": 0.0}}


def tiny_net(architecture: str, n_classes: int = 4, **options) -> nn.Module:
    torch.manual_seed(0)
    return build_har_net(architecture, in_channels=6, n_classes=n_classes, window_length=TINY_T[architecture],
                         **options)


def tiny_batch(architecture: str, n: int = 3) -> torch.Tensor:
    return torch.randn(n, TINY_T[architecture], 6, generator=torch.Generator().manual_seed(1))


def keras_parameter_count(model: nn.Module) -> int:
    """Keras' ``count_params``: trainable parameters + BatchNorm moving mean/variance, with one
    LSTM bias per gate (PyTorch's second bias ``bias_hh`` is Keras-redundant and not counted)."""
    trainable = sum(p.numel() for name, p in model.named_parameters() if ".bias_hh" not in name)
    moving = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return trainable + moving


# ------------------------------------------------------------------------------ the net contract

@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_logits_features_and_head_follow_the_contract(architecture):
    model = tiny_net(architecture, n_classes=5).eval()
    x = tiny_batch(architecture)
    assert model.feature_dim == FEATURE_DIM[architecture] and isinstance(model.feature_dim, int)
    assert isinstance(model.head, nn.Linear)
    assert (model.head.in_features, model.head.out_features) == (model.feature_dim, 5)
    with torch.no_grad():
        features, logits = model.features(x), model(x)
    assert features.shape == (3, model.feature_dim) and logits.shape == (3, 5)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits, model.head(features))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_replaced_head_is_used_and_leaves_the_features_alone(architecture):
    model = tiny_net(architecture).eval()
    x = tiny_batch(architecture)
    with torch.no_grad():
        before = model.features(x)
        model.head = nn.Linear(model.feature_dim, 2)
        logits = model(x)
        torch.testing.assert_close(model.features(x), before)
    assert logits.shape == (3, 2)
    torch.testing.assert_close(logits, model.head(before))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_eval_mode_is_deterministic_and_a_seed_reproduces_the_net(architecture):
    x = tiny_batch(architecture)
    first, second = tiny_net(architecture).eval(), tiny_net(architecture).eval()
    with torch.no_grad():
        a, b, c = first(x), first(x), second(x)
    assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("architecture", ["deepconvlstm", "hart", "mobilehart_xs"])
def test_dropout_is_live_in_training_only(architecture):
    model = tiny_net(architecture).train()
    x = tiny_batch(architecture)
    with torch.no_grad():
        assert not torch.equal(model.features(x), model.features(x))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch(architecture):
    model = tiny_net(architecture, **NO_DROPOUT[architecture]).train()
    x = tiny_batch(architecture, n=8)
    y = torch.arange(8) % 4
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses, totals = [], []
    for _ in range(6):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        total = loss + model.l2_penalty() if isinstance(model, ISPLInception) else loss  # ISPL: Keras' L2 term
        total.backward()
        optimizer.step()
        losses.append(loss.item())
        totals.append(total.item())
    assert all(math.isfinite(value) for value in totals)
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(later < earlier for earlier, later in zip(totals, totals[1:])), totals


# ------------------------------------------------------------ Table VI parameter counts (Keras)

@pytest.mark.parametrize("architecture, n_classes, keras_count", [
    ("deepconvlstm", 10, 457_546),
    ("ispl_inception", 10, 1_327_714),
    ("hart", 6, 1_445_918),
    ("hart", 10, 1_450_018),
    ("mobilehart_xs", 6, 2_542_942),
    ("mobilehart_xs", 10, 2_547_042),
])
def test_parameter_counts_equal_table_vi_in_the_keras_convention(architecture, n_classes, keras_count):
    """Keras convention = PyTorch trainable parameters + BatchNorm running mean/var - the second LSTM bias.
    Table VI counted HART and MobileHART with a 6-class head, DeepConvLSTM and ISPL with 10 (spec §3)."""
    model = build_har_net(architecture, in_channels=6, n_classes=n_classes, window_length=128)
    assert keras_parameter_count(model) == keras_count


def test_deepconvlstm_pytorch_count_has_one_extra_bias_per_lstm_gate():
    model = DeepConvLSTM(6, 10)
    assert sum(p.numel() for p in model.parameters()) == 458_570 == 457_546 + 2 * 4 * 128


def test_keras_attention_of_48_dims_3_heads_key_dim_48_has_28128_parameters():
    assert sum(p.numel() for p in KerasMultiHeadAttention(48, 3, 48).parameters()) == 28_128


# ----------------------------------------------------------------------------- input checks

@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_paper_windows_pass_the_input_check(architecture):
    assert check_har_input(architecture, n_acc=3, n_gyro=3, window_length=128) is None


@pytest.mark.parametrize("architecture", ["hart", "mobilehart_xs"])
@pytest.mark.parametrize("n_acc, n_gyro", [(3, 0), (0, 3), (3, 6)])
def test_hart_family_needs_three_acc_and_three_gyro_channels(architecture, n_acc, n_gyro):
    with pytest.raises(ConfigError) as error:
        check_har_input(architecture, n_acc=n_acc, n_gyro=n_gyro, window_length=128)
    message = str(error.value)
    assert "\n" not in message
    assert "3 accelerometer + 3 gyroscope" in message and f"n_gyro={n_gyro}" in message
    assert "deepconvlstm or ispl_inception" in message  # the fix


@pytest.mark.parametrize("architecture", ["deepconvlstm", "ispl_inception"])
def test_cnn_and_lstm_nets_take_accelerometer_only_windows(architecture):
    check_har_input(architecture, n_acc=3, n_gyro=0, window_length=TINY_T[architecture])
    model = build_har_net(architecture, in_channels=3, n_classes=4, window_length=TINY_T[architecture]).eval()
    with torch.no_grad():
        assert model(torch.randn(2, TINY_T[architecture], 3)).shape == (2, 4)


@pytest.mark.parametrize("architecture, window_length, patch_size, fix", [
    ("hart", 100, 16, "divisible by 16"),
    ("hart", 128, 24, "divisible by 24"),
    ("hart", 8, 16, "divisible by 16"),
    ("mobilehart_xs", 100, 16, "divisible by 32"),
    ("deepconvlstm", 16, 16, "at least 17 samples"),
    ("ispl_inception", 0, 16, "positive window length"),
])
def test_window_lengths_the_net_cannot_take_are_named_with_the_fix(architecture, window_length, patch_size, fix):
    with pytest.raises(ConfigError, match=fix) as error:
        check_har_input(architecture, n_acc=3, n_gyro=3, window_length=window_length, patch_size=patch_size)
    assert f"window_length={window_length}" in str(error.value) or window_length == 0
    assert "\n" not in str(error.value)


def test_check_accepts_the_shortest_windows_and_other_patch_sizes():
    check_har_input("deepconvlstm", n_acc=3, n_gyro=3, window_length=17)
    check_har_input("hart", n_acc=3, n_gyro=3, window_length=96, patch_size=32)
    check_har_input("mobilehart_xs", n_acc=3, n_gyro=3, window_length=32)


def test_an_unknown_architecture_lists_the_known_ones():
    for call in (lambda: check_har_input("lstm", n_acc=3, n_gyro=3, window_length=128),
                 lambda: build_har_net("lstm", in_channels=6, n_classes=4, window_length=128)):
        with pytest.raises(UnknownNameError) as error:
            call()
        assert isinstance(error.value, ConfigError)
        assert str(error.value) == ("unknown architecture 'lstm'; choose one of "
                                    "deepconvlstm, hart, ispl_inception, mobilehart_xs")


def test_build_rejects_bad_channels_windows_and_options():
    with pytest.raises(ConfigError, match="6 channels"):
        build_har_net("hart", in_channels=3, n_classes=4, window_length=128)
    with pytest.raises(ConfigError, match="divisible by 32"):
        build_har_net("mobilehart_xs", in_channels=6, n_classes=4, window_length=100)
    with pytest.raises(ConfigError, match="at least 13 samples"):
        build_har_net("deepconvlstm", in_channels=6, n_classes=4, window_length=12, kernel=4)
    with pytest.raises(ConfigError, match="no option filter;.*filters"):
        build_har_net("ispl_inception", in_channels=6, n_classes=4, window_length=128, filter=32)
    with pytest.raises(ConfigError, match="no option variant"):
        build_har_net("mobilehart_xs", in_channels=6, n_classes=4, window_length=128, variant="xxs")
    model = tiny_net("hart")
    with pytest.raises(ConfigError, match=r"\(N, 32, 6\).*\(2, 64, 6\)"):
        model(torch.randn(2, 64, 6))


def test_options_reach_the_constructors():
    hart = build_har_net("hart", in_channels=6, n_classes=3, window_length=64, patch_size=32, kernels=(3, 5),
                         projection_dim=64)
    assert isinstance(hart, HART) and len(hart.layers) == 2 and hart.position.num_embeddings == 2
    ispl = build_har_net("ispl_inception", in_channels=6, n_classes=3, window_length=64, filters=8, depth=3)
    assert ispl.feature_dim == 32 and len(ispl.blocks) == 3 and len(ispl.shortcuts) == 1
    xxs = MobileHART(3, 64, variant="xxs")
    assert xxs.variant == "xxs" and xxs.stages[-1][0].out_channels == 320
    with pytest.raises(UnknownNameError, match="choose one of xs, xxs"):
        MobileHART(3, 64, variant="s")


# ------------------------------------------------------------------ Keras layers and initialisers

def test_normalisation_layers_use_keras_momentum_and_epsilons():
    for architecture in ARCHITECTURES:
        modules = list(tiny_net(architecture).modules())
        for bn in (m for m in modules if isinstance(m, nn.BatchNorm1d)):
            assert (bn.momentum, bn.eps) == (0.01, 1e-3)
        for ln in (m for m in modules if isinstance(m, nn.LayerNorm)):
            assert ln.eps == 1e-6
    assert any(isinstance(m, nn.BatchNorm1d) for m in tiny_net("mobilehart_xs").modules())
    assert any(isinstance(m, nn.LayerNorm) for m in tiny_net("hart").modules())


def test_kernels_are_glorot_uniform_with_zero_biases():
    model = tiny_net("hart")
    bound = math.sqrt(6 / (192 + 1024))  # Dense(192 -> 1024)
    weight = model.expand.weight
    assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
    assert abs(weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
    patch_bound = math.sqrt(6 / ((3 + 96) * 16))  # Conv1D kernel (16, 3, 96)
    assert model.acc_patches.weight.abs().max() <= patch_bound
    assert model.acc_patches.weight.abs().max() > 0.95 * patch_bound
    for name, parameter in model.named_parameters():
        if name.endswith(".bias") and "norm" not in name:
            assert torch.count_nonzero(parameter) == 0, name
    assert model.position.weight.abs().max() <= 0.05  # Keras Embedding U(-0.05, 0.05)


def test_ispl_uses_lecun_uniform_kernels():
    model = tiny_net("ispl_inception")
    conv = model.blocks[1].branches[0]  # Conv1D(32 -> 64, kernel 68)
    bound = math.sqrt(3 / (32 * 68))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.99 * bound


def test_lstm_has_orthogonal_recurrent_kernels_and_forget_bias_one():
    model = tiny_net("deepconvlstm")
    for lstm in (model.lstm1, model.lstm2):
        recurrent = lstm.weight_hh_l0  # (4 units, units), Keras' (units, 4 units) transposed
        torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(128), atol=1e-5, rtol=0)
        keras_bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
        assert torch.equal(keras_bias, torch.cat([torch.zeros(128), torch.ones(128), torch.zeros(256)]))


def test_deepconvlstm_keeps_sensor_axes_apart_until_the_lstm():
    model = tiny_net("deepconvlstm").eval()
    x = tiny_batch("deepconvlstm")
    y = x.clone()
    y[..., 2] += 1.0
    with torch.no_grad():
        a, b = model.convs(x.unsqueeze(1)), model.convs(y.unsqueeze(1))  # (N, 64, T', 6)
    changed = (a != b).flatten(0, 2).any(0)
    assert changed.tolist() == [False, False, True, False, False, False]


def test_tf_same_padding_puts_the_extra_zero_on_the_right():
    assert same_padding(128, 68) == (33, 34) and same_padding(128, 34) == (16, 17)
    assert same_padding(128, 17) == (8, 8) and same_padding(128, 3, stride=2) == (0, 1)
    conv = SameConv1d(1, 1, 2, bias=False)
    nn.init.constant_(conv.weight, 1.0)
    out = conv(torch.tensor([[[1.0, 2.0, 3.0]]]))
    assert out.tolist() == [[[3.0, 5.0, 3.0]]]  # pad (0, 1): the last sample meets the right zero
    assert SameConv1d(4, 4, 3, stride=2)(torch.randn(1, 4, 65)).shape == (1, 4, 33)


def test_light_conv_applies_softmax_kernels_per_channel_group_without_changing_weights():
    conv = LightConv(channels=8, heads=2, kernel_size=3).train()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[0.0, 5.0, 0.0], [1.0, 2.0, 3.0]]))
    stored = conv.weight.detach().clone()
    x = torch.randn(2, 10, 8)
    out = conv(x)
    assert torch.equal(conv.weight, stored)  # the release re-assigns softmax(kernel); this does not
    kernels = torch.softmax(stored, dim=-1)
    expected = F.conv1d(F.pad(x.transpose(1, 2), (1, 1)), kernels.repeat_interleave(4, 0).unsqueeze(1), groups=8)
    torch.testing.assert_close(out, expected.transpose(1, 2))
    constant = conv(torch.ones(1, 10, 8))
    torch.testing.assert_close(constant[:, 1:-1], torch.ones(1, 8, 8))  # kernels sum to 1


def test_keras_attention_matches_a_hand_computation():
    torch.manual_seed(0)
    attention = KerasMultiHeadAttention(dim=6, heads=2, key_dim=5).eval()
    x = torch.randn(2, 4, 6)
    q, k, v = (layer(x).view(2, 4, 2, 5).transpose(1, 2) for layer in (attention.query, attention.key, attention.value))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(5), dim=-1)
    expected = attention.output((weights @ v).transpose(1, 2).reshape(2, 4, 10))
    torch.testing.assert_close(attention(x), expected)
    assert attention.query.out_features == 10 and attention.output.out_features == 6


def test_drop_path_drops_whole_samples_and_rescales_the_rest():
    torch.manual_seed(0)
    layer = DropPath(0.5).train()
    x = torch.ones(400, 3, 2)
    out = layer(x)
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert 150 < int((per_sample[:, 0] == 0).sum()) < 250
    assert torch.equal(layer.eval()(x), x)
    with pytest.raises(ConfigError):
        DropPath(1.0)


def test_ispl_l2_penalty_is_the_keras_term_on_the_marked_kernels():
    model = ISPLInception(6, 10)
    marked = [conv.weight for block in model.blocks for conv in (*block.branches, block.pool_conv)]
    marked += [model.shortcuts[0].conv.weight, model.head.weight]
    assert len(marked) == 5 * 4 + 1 + 1
    expected = 0.00593 * sum(w.square().sum() for w in marked)
    penalty = model.l2_penalty()
    torch.testing.assert_close(penalty, expected)
    penalty.backward()
    assert model.blocks[0].bottleneck.weight.grad is None  # the bottleneck carries no regulariser
    torch.testing.assert_close(model.head.weight.grad, 2 * 0.00593 * model.head.weight)
    model.head = nn.Linear(256, 3)  # a fine-tuning head is regularised in place of the old one
    expected = expected - 0.00593 * marked[-1].square().sum() + 0.00593 * model.head.weight.square().sum()
    torch.testing.assert_close(model.l2_penalty(), expected)
