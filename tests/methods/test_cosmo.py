"""Cosmo's parts: modality groups, encoders, fusion augmentation, Eq. 4, attention fusion, params."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automl_har.data import WindowedData
from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method
from automl_har.methods._cosmo_fusion import (
    CosmoNet, QualityGuidedAttention, contrastive_fusion_loss, encoder_kind, fuse, iterative_schedule,
    resolve_groups, sample_fusion_weights,
)
from automl_har.methods.cosmo import encoder_sizes
from automl_har.models.cosmo_encoders import InertialEncoder, ProjectionHead, SkeletonEncoder, pooled_length


def utd_like(n: int = 60, n_classes: int = 3) -> WindowedData:
    """acc + gyro (50 Hz, 100 samples) and a 20-joint skeleton (30 Hz, 60 frames), like UTD-MHAD."""
    imu = make_synthetic(n_windows=n, n_classes=n_classes, n_subjects=3, rate_hz=50.0, window_s=2.0, seed=0)
    rng = np.random.default_rng(1)
    skeleton = rng.normal(size=(n_classes, 60, 60))[imu.y] + rng.normal(0, 0.5, size=(n, 60, 60))
    return WindowedData(modalities={**imu.modalities, "skeleton": skeleton}, y=imu.y, subject=imu.subject,
                        classes=imu.classes, rates_hz={**imu.rates_hz, "skeleton": 30.0})


# ------------------------------------------------------------------ fusion-based augmentation
@pytest.mark.parametrize("n_groups", [2, 3, 4])
def test_fusion_weights_sum_to_one_and_stay_in_range(n_groups):
    alpha = sample_fusion_weights(200, 9, n_groups, 0.1, torch.Generator().manual_seed(0))
    assert alpha.shape == (200, 9, n_groups)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(200, 9))
    assert alpha.min() >= 0.1 - 1e-6 and alpha.max() <= 0.9 + 1e-6


def test_two_modality_weights_cover_the_papers_range():
    alpha = sample_fusion_weights(2000, 9, 2, 0.1, torch.Generator().manual_seed(0))[..., 0]
    assert alpha.min() < 0.11 and alpha.max() > 0.89  # alpha_1 ~ U[0.1, 0.9]
    assert abs(alpha.mean().item() - 0.5) < 0.01
    assert len(torch.unique(alpha[0])) == 9  # the P fusions of a window differ


def test_weight_floor_above_one_over_m_is_clamped_to_equal_weights():
    alpha = sample_fusion_weights(10, 3, 3, 0.45, torch.Generator().manual_seed(0))
    torch.testing.assert_close(alpha, torch.full((10, 3, 3), 1 / 3))


def test_fused_features_are_unit_norm_weighted_sums():
    r = torch.nn.functional.normalize(torch.randn(4, 2, 8), dim=-1)
    alpha = sample_fusion_weights(4, 3, 2, 0.1, torch.Generator().manual_seed(1))
    v = fuse(r, alpha)
    expected = alpha[0, 1, 0] * r[0, 0] + alpha[0, 1, 1] * r[0, 1]
    torch.testing.assert_close(v[0, 1], expected / expected.norm())
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(4, 3))


def eq4_by_hand(v: torch.Tensor, tau: float) -> float:
    """Eq. 4 written as in the paper, one anchor at a time (averaged instead of summed)."""
    n, p, _ = v.shape
    flat = [(i, v[i, k]) for i in range(n) for k in range(p)]
    total = 0.0
    for s, (i, vs) in enumerate(flat):
        denominator = sum(torch.exp(vs @ va / tau) for a, (_, va) in enumerate(flat) if a != s)
        positives = [torch.log(torch.exp(vs @ vp / tau) / denominator)
                     for a, (j, vp) in enumerate(flat) if a != s and j == i]
        total += -sum(positives) / len(positives)
    return float(total / len(flat))


def test_contrastive_fusion_loss_is_eq4():
    v = torch.nn.functional.normalize(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert contrastive_fusion_loss(v, 0.5).item() == pytest.approx(eq4_by_hand(v, 0.5), rel=1e-5)


def test_contrastive_fusion_loss_rewards_agreeing_fusions():
    separate = torch.eye(4)[:, None, :].repeat(1, 3, 1)  # 4 windows, 3 identical fusions each, orthogonal
    mixed = torch.nn.functional.normalize(torch.randn(4, 3, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert contrastive_fusion_loss(separate, 0.07) < contrastive_fusion_loss(mixed, 0.07)
    v = mixed.clone().requires_grad_(True)
    contrastive_fusion_loss(v, 0.07).backward()
    assert torch.isfinite(v.grad).all()


# ------------------------------------------------------------------ modality groups
def test_auto_groups_join_equal_rate_and_length_modalities():
    assert resolve_groups(utd_like()) == {"acc+gyro": ["acc", "gyro"], "skeleton": ["skeleton"]}


def test_auto_groups_keep_two_groups_when_everything_matches(tiny_windows):
    assert resolve_groups(tiny_windows) == {"acc": ["acc"], "gyro": ["gyro"]}


def test_explicit_groups():
    groups = resolve_groups(utd_like(), "acc, gyro ,skeleton")
    assert groups == {"acc": ["acc"], "gyro": ["gyro"], "skeleton": ["skeleton"]}
    assert list(resolve_groups(utd_like(), "skeleton,acc")) == ["skeleton", "acc"]  # gyro not used


@pytest.mark.parametrize("spec, message", [
    ("acc+gyro", "at least 2 modality groups"),
    ("acc,magnet", "names modality 'magnet'"),
    ("acc+skeleton,gyro", "different window lengths"),
    ("acc,acc+gyro", "in two groups"),
])
def test_bad_group_specs_are_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        resolve_groups(utd_like(), spec)


# ------------------------------------------------------------------ encoders
@pytest.mark.parametrize("gru", [True, False])
def test_encoders_map_each_modality_to_the_feature_dim(gru):
    imu = InertialEncoder(6, 100, width=4, depth=3, feature_dim=16, gru_layers=2 if gru else 0)
    skeleton = SkeletonEncoder(60, 60, width=4, depth=2, feature_dim=16, gru_layers=2 if gru else 0)
    assert imu(torch.randn(5, 100, 6)).shape == (5, 16)
    assert pooled_length(100, 3) == 25 and pooled_length(60, 2) == 30 and pooled_length(25, 2) == 13
    assert skeleton(torch.randn(5, 60, 60)).shape == (5, 16)
    assert skeleton.n_joints == 20
    r = ProjectionHead(16, 128)(imu(torch.randn(5, 100, 6)))
    assert r.shape == (5, 128)
    torch.testing.assert_close(r.norm(dim=1), torch.ones(5))


def test_skeleton_encoder_reads_joint_major_xyz():
    encoder = SkeletonEncoder(6, 1, width=1, depth=1, kernel_size=1, feature_dim=2, gru_layers=0).eval()
    conv = encoder.blocks[0]
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 1, :] = 1.0  # sum x, y, z of the centre joint of the 3-joint kernel
    x = torch.tensor([[[0.0, 0.0, 0.0, 1.0, 2.0, 3.0]]])  # joint 0 at the origin, joint 1 at (1, 2, 3)
    h = encoder.blocks(x.reshape(1, 1, 1, 2, 3))  # the reshape forward() uses
    assert h.shape == (1, 1, 1, 2, 1)  # (N, width, T, joints, xyz collapsed)
    torch.testing.assert_close(h.flatten(), torch.tensor([0.0, 6.0]), atol=1e-3, rtol=1e-3)


def test_encoder_kind_picks_the_3d_cnn_for_skeletons_only():
    assert encoder_kind(["skeleton"], 60) == "skeleton"
    assert encoder_kind(["acc", "gyro"], 6) == "inertial"
    assert encoder_kind(["skeleton", "acc"], 63) == "inertial"
    assert encoder_kind(["skeleton"], [f"skeleton_{j}_{a}" for j in range(20) for a in "xyz"]) == "skeleton"


def test_a_cosmo_checkpoint_keeps_the_body_frame_of_the_datasets_joints(tmp_path):
    from automl_har.data.loaders.utd_mhad import JOINTS, skeleton_channels
    from automl_har.data.skeleton import BodyFrame
    from automl_har.objectives import load_model

    method = get_method("cosmo")
    plain = utd_like()
    data = WindowedData(plain.modalities, plain.y, plain.subject, plain.classes, plain.rates_hz,
                        {**plain.channels, "skeleton": skeleton_channels(JOINTS)})
    p = method.parse_params(method.tiny_params)
    state = method.pretrain(data.without_labels(), p, MethodContext(n_classes=data.n_classes))
    frame = {"origin": [2], "scale": [1, 2]}  # spine of frame 0, shoulder_center - spine
    assert state["body_frames"] == {"acc+gyro": None, "skeleton": frame}
    model = method.finetune(state, data, data[np.arange(0)], p, MethodContext())
    assert model.build_kwargs["body_frames"] == {"acc+gyro": None, "skeleton": frame}
    path = tmp_path / "checkpoint.pt"
    torch.save({"method": "cosmo", "build_kwargs": model.build_kwargs, "modalities": list(model.modalities),
                "state_dict": model.module.state_dict()}, path)
    loaded = load_model(torch.load(path))
    assert loaded.module.encoders.encoders["skeleton"].body_frame == BodyFrame((2,), (1, 2))
    np.testing.assert_allclose(method.predict(loaded, data), method.predict(model, data), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ stage 2 network
def test_attention_mixes_learned_and_quality_weights():
    z = torch.randn(7, 2, 8)
    beta_qom = [0.25, 0.75]
    attention = QualityGuidedAttention(8, beta_qom, quality_weight=1.0)
    torch.testing.assert_close(attention(z), torch.tensor(beta_qom).expand(7, 2))
    attention.quality_weight = 0.0
    mu = torch.tanh(attention.w(z))
    torch.testing.assert_close(attention(z), torch.softmax((mu * z).sum(-1), dim=1))
    attention.quality_weight = 0.5
    torch.testing.assert_close(attention(z).sum(1), torch.ones(7))


def tiny_net(fusion: str = "concat") -> CosmoNet:
    params = get_method("cosmo").parse_params(get_method("cosmo").tiny_params)
    return CosmoNet(groups={"acc": ["acc"], "gyro": ["gyro"]}, channels={"acc": 3, "gyro": 3},
                    lengths={"acc": 25, "gyro": 25},
                    kinds={"acc": "inertial", "gyro": "inertial"}, encoder_sizes=encoder_sizes(params),
                    n_classes=3, beta_qom=[0.5, 0.5], fusion=fusion, classifier_hidden=8)


@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_cosmo_net_fuses_groups(fusion, tiny_windows):
    net = tiny_net(fusion).eval()
    inputs = get_method("cosmo").model_inputs(tiny_windows[np.arange(6)])
    assert net(inputs).shape == (6, 3)
    assert net.classifier[0].in_features == (16 if fusion == "concat" else 8)
    torch.testing.assert_close(net.fusion_weights(inputs).sum(1), torch.ones(6))


def test_iterative_schedule_alternates_encoders_and_classifier():
    net = tiny_net()
    on_epoch_start = iterative_schedule(net, 2)
    trainable = []
    for epoch in range(6):
        net.train()
        on_epoch_start(epoch)
        encoders = {p.requires_grad for p in net.encoders.parameters()}
        head = {p.requires_grad for p in [*net.attention.parameters(), *net.classifier.parameters()]}
        assert len(encoders) == len(head) == 1 and encoders != head
        assert net.classifier.training == (not encoders.pop())  # the frozen part is in eval mode
        trainable.append("encoders" if net.encoders.training else "classifier")
    assert trainable == ["encoders", "encoders", "classifier", "classifier", "encoders", "encoders"]


def test_zero_iterative_epochs_trains_jointly():
    net = tiny_net()
    iterative_schedule(net, 0)(3)
    assert all(p.requires_grad for p in net.parameters())


# ------------------------------------------------------------------ m2u mode
def test_m2u_fine_tunes_and_predicts_with_one_group_only():
    method = get_method("cosmo")
    data = utd_like()
    train, val = data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]
    # a member names its group: acc selects acc+gyro
    p = get_method("cosmo").parse_params({**get_method("cosmo").tiny_params, "mode": "m2u", "m2u_modality": "acc"})
    state = method.pretrain(train.without_labels(), p, MethodContext(n_classes=train.n_classes))
    assert set(state["groups"]) == {"acc+gyro", "skeleton"}  # stage 1 still fuses both groups
    model = method.finetune(state, train, val, p, MethodContext())
    assert model.build_kwargs["groups"] == {"acc+gyro": ["acc", "gyro"]}
    assert model.build_kwargs["beta_qom"] == [1.0]
    without_skeleton = val[np.arange(len(val))]
    without_skeleton.modalities["skeleton"] = np.zeros_like(without_skeleton.modalities["skeleton"])
    np.testing.assert_allclose(method.predict(model, val), method.predict(model, without_skeleton))
    with pytest.raises(ConfigError, match="m2u_modality"):
        method.finetune(state, train, val, dataclasses.replace(p, m2u_modality="depth"), MethodContext())


# ------------------------------------------------------------------ params
@pytest.mark.parametrize("bad", [
    {"mode": "late"}, {"fusion": "max"}, {"n_fusions": 1}, {"fusion_weight_min": 0.5},
    {"quality_weight": 1.5}, {"iterative_epochs": -1}, {"kernel_size": 4},
])
def test_bad_params_are_config_errors(bad):
    with pytest.raises(ConfigError):
        get_method("cosmo").parse_params(bad)


def test_defaults_are_the_papers():
    p = get_method("cosmo").parse_params({})
    assert (p.fusion_weight_min, p.n_fusions, p.temperature, p.iterative_epochs) == (0.1, 9, 0.07, 5)
    assert (p.pretrain_lr, p.pretrain_batch_size, p.finetune_lr, p.finetune_batch_size) == (0.01, 64, 0.001, 16)
    assert p.projection_dim == 128 and (p.pretrain_epochs, p.finetune_epochs) == (300, 500)


# ------------------------------------------------------------------ search space
def test_search_space_covers_the_issue_ranges():
    import optuna

    from automl_har.search_spaces import get_space

    space = get_space("cosmo")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    points = []
    for _ in range(200):
        trial = study.ask()
        points.append(space.space(trial))
        study.tell(trial, 0.0)
    assert all(0.05 <= p["fusion_weight_min"] <= 0.45 and 0.03 <= p["temperature"] <= 0.5 for p in points)
    assert {p["n_fusions"] for p in points} == {3, 5, 9}
    assert {p["iterative_epochs"] for p in points} == {0, 1, 2, 5, 10, 20}
    assert {p["fusion"] for p in points} == {"sum", "concat"}
    assert all(0 <= p["quality_weight"] <= 1 for p in points)
    assert space.defaults["n_fusions"] == 9 and space.defaults["iterative_epochs"] == 5
