"""MESEN's losses: L_CMF (Eqs. 2-4), L_MPC (Eqs. 5-7), L_PT with delta balancing (Eq. 8), L_FR (Eq. 9)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from automl_har.errors import ConfigError
from automl_har.methods._mesen_losses import (
    anchor_copies, balanced_delta, cross_modal_feature_loss, directional_feature_loss, gamma_profile,
    layer_aware_regularizer, marginal_entropy, pretraining_loss, pseudo_class_loss,
)
from automl_har.models.mesen_encoders import ConvTransformerEncoder


def unit(n: int, d: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR's loss over the 2N features: 2N - 2 negatives per anchor, intra-modality ones included."""
    z = torch.cat([z_a, z_b])
    logits = (z @ z.T / tau).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    n = len(z_a)
    return F.cross_entropy(logits, torch.cat([torch.arange(n) + n, torch.arange(n)]))


# ------------------------------------------------------------------ L_CMF
@pytest.mark.parametrize("n, tau", [(4, 0.5), (8, 0.25)])
def test_cmf_of_orthonormal_pairs_has_the_closed_form(n, tau):
    eye = torch.eye(n)
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + n - 1))
    assert cross_modal_feature_loss(eye, eye, tau).item() == pytest.approx(expected, rel=1e-5)


def test_cmf_is_the_symmetric_cross_entropy_of_the_cross_modal_similarities():
    z_a, z_b, tau = unit(6, 5, 0), unit(6, 5, 1), 0.5
    s = z_a @ z_b.T / tau
    expected = 0.5 * F.cross_entropy(s, torch.arange(6)) + 0.5 * F.cross_entropy(s.T, torch.arange(6))
    torch.testing.assert_close(cross_modal_feature_loss(z_a, z_b, tau), expected)
    # Eq. 2 row by row: the anchor's own modality never appears
    row = -torch.log(torch.exp(s[2, 2]) / torch.exp(s[2]).sum())
    torch.testing.assert_close(directional_feature_loss(z_a, z_b, tau),
                               -torch.log_softmax(s, 1).diagonal().mean())
    assert row.item() == pytest.approx(-torch.log_softmax(s, 1)[2, 2].item(), rel=1e-6)
    assert abs(cross_modal_feature_loss(z_a, z_b, tau) - nt_xent(z_a, z_b, tau)) > 1e-3


def test_swapping_pairs_raises_the_loss():
    z_a = unit(8, 16, 0)
    z_b = F.normalize(z_a + 0.1 * unit(8, 16, 1), dim=1)  # paired windows look alike
    aligned = cross_modal_feature_loss(z_a, z_b, 0.5)
    swapped = cross_modal_feature_loss(z_a, z_b[[1, 0, 3, 2, 5, 4, 7, 6]], 0.5)
    assert swapped > aligned + 0.5


def test_intra_modality_similarity_does_not_change_cmf():
    n, c = 4, math.cos(0.6)
    u = unit(n, 4, 0)
    z_b = torch.cat([unit(n, 4, 1), torch.zeros(n, 4)], dim=1)  # lives in the first 4 dims
    spread = torch.cat([c * u, math.sin(0.6) * torch.eye(4)], dim=1)  # z_a rows: distinct extra parts
    alike = torch.cat([c * u, math.sin(0.6) * torch.eye(4)[[0, 0, 0, 0]]], dim=1)  # ... one shared extra part
    torch.testing.assert_close(spread.norm(dim=1), torch.ones(n))
    assert not torch.allclose(spread @ spread.T, alike @ alike.T)
    torch.testing.assert_close(spread @ z_b.T, alike @ z_b.T)
    torch.testing.assert_close(cross_modal_feature_loss(spread, z_b, 0.5), cross_modal_feature_loss(alike, z_b, 0.5))
    assert abs(nt_xent(spread, z_b, 0.5) - nt_xent(alike, z_b, 0.5)) > 1e-2  # SimCLR's loss would differ


# ------------------------------------------------------------------ L_MPC
def one_hot(classes: list[int], n_cls: int) -> torch.Tensor:
    return F.one_hot(torch.tensor(classes), n_cls).float()


@pytest.mark.parametrize("k, per_class, tau_hat", [(3, 1, 1.0), (5, 2, 0.5)])
def test_balanced_one_hot_assignment_has_the_closed_form_and_no_entropy_penalty(k, per_class, tau_hat):
    y = one_hot([c for c in range(k) for _ in range(per_class)], k)
    total, contrast, entropy = pseudo_class_loss(y, y.clone(), tau_hat, lambda_pr=-1.0)
    assert contrast.item() == pytest.approx(math.log(1 + (2 * k - 2) * math.exp(-1 / tau_hat)), rel=1e-6)
    assert entropy.item() == pytest.approx(2 * math.log(k), rel=1e-6)  # H(P^a) + H(P^b), both uniform
    assert total.item() == pytest.approx(contrast.item(), rel=1e-6)  # lambda (L_PR - 2 log K) = 0


def test_collapsed_assignment_is_penalised_by_the_entropy_term():
    k = 4
    balanced = one_hot([0, 1, 2, 3, 0, 1, 2, 3], k)
    collapsed = one_hot([0] * 8, k)
    b = pseudo_class_loss(balanced, balanced, 1.0, -1.0)
    c = pseudo_class_loss(collapsed, collapsed, 1.0, -1.0)
    assert c.entropy.item() == pytest.approx(0.0, abs=1e-6)
    assert (c.total - c.contrast).item() == pytest.approx(2 * math.log(k), rel=1e-6)
    assert (b.total - b.contrast).item() == pytest.approx(0.0, abs=1e-6)
    assert c.total > b.total
    # without the regulariser only the contrast is left
    no_pr = pseudo_class_loss(collapsed, collapsed, 1.0, 0.0)
    torch.testing.assert_close(no_pr.total, no_pr.contrast)


def test_mpc_negatives_come_from_both_modalities():
    ya = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), 1)
    yb = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), 1)
    qa, qb = F.normalize(ya.T, dim=1), F.normalize(yb.T, dim=1)
    k, rows = 1, []
    for mine, other in ((qa, qb), (qb, qa)):  # Eq. 6 for q^a_1 and for q^b_1
        negatives = torch.cat([mine[[0, 2]], other[[0, 2]]])  # 2 N_cls - 2 = 4 other columns
        pos = torch.exp(mine[k] @ other[k])
        rows.append(-torch.log(pos / (pos + torch.exp(negatives @ mine[k]).sum())))
    columns = torch.cat([qa, qb])
    logits = (columns @ columns.T).masked_fill(torch.eye(6, dtype=torch.bool), float("-inf"))
    full = -torch.log_softmax(logits, 1)[torch.arange(6), torch.tensor([3, 4, 5, 0, 1, 2])]
    torch.testing.assert_close(full[[1, 4]], torch.stack(rows))
    torch.testing.assert_close(pseudo_class_loss(ya, yb, 1.0, 0.0).contrast, full.mean())


def test_positive_lambda_pr_and_bad_temperatures_raise():
    y = one_hot([0, 1], 2)
    with pytest.raises(ConfigError, match="lambda_pr"):
        pseudo_class_loss(y, y, 1.0, lambda_pr=0.5)
    with pytest.raises(ConfigError, match="pseudo_temperature"):
        pseudo_class_loss(y, y, 0.0, lambda_pr=-1.0)
    with pytest.raises(ConfigError, match="temperature"):
        cross_modal_feature_loss(torch.eye(2), torch.eye(2), -1.0)


# ------------------------------------------------------------------ L_PT
def batch(groups: str, n: int = 8, n_cls: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = {m: F.normalize(torch.randn(n, 5, generator=g), dim=1).requires_grad_() for m in groups}
    y = {m: torch.randn(n, n_cls, generator=g).softmax(1).requires_grad_() for m in groups}
    return z, y


def test_balanced_delta_equalises_the_terms_and_carries_no_gradient():
    z, y = batch("ab")
    out = pretraining_loss(z, y, 0.5, 1.0, -1.0)
    assert not out.delta.requires_grad
    assert (out.delta * out.mpc).item() == pytest.approx(out.cmf.item(), rel=1e-5)
    assert out.total.item() == pytest.approx(2 * out.cmf.item(), rel=1e-5)
    grads = torch.autograd.grad(out.total, [*z.values(), *y.values()])
    const = out.delta.item()  # the same sum with delta as a plain number
    z2, y2 = batch("ab")
    plain = cross_modal_feature_loss(z2["a"], z2["b"], 0.5) + const * pseudo_class_loss(y2["a"], y2["b"], 1.0, -1.0)[0]
    for got, want in zip(grads, torch.autograd.grad(plain, [*z2.values(), *y2.values()])):
        torch.testing.assert_close(got, want)
    assert balanced_delta(torch.tensor(2.0), torch.tensor(0.0)).item() == pytest.approx(2e6)


def test_fixed_delta_and_single_loss_switches():
    z, y = batch("ab")
    fixed = pretraining_loss(z, y, 0.5, 1.0, -1.0, delta_mode="fixed", delta=3.0)
    torch.testing.assert_close(fixed.total, fixed.cmf + 3.0 * fixed.mpc)
    torch.testing.assert_close(pretraining_loss(z, y, 0.5, 1.0, -1.0, losses="cmf").total, fixed.cmf)
    torch.testing.assert_close(pretraining_loss(z, y, 0.5, 1.0, -1.0, losses="mpc").total, fixed.mpc)
    torch.testing.assert_close(fixed.cmf, cross_modal_feature_loss(z["a"], z["b"], 0.5))  # alpha = beta = 0.5
    with pytest.raises(ConfigError, match="none"):
        pretraining_loss(z, y, 0.5, 1.0, -1.0, losses="none")
    with pytest.raises(ConfigError, match="delta_mode"):
        pretraining_loss(z, y, 0.5, 1.0, -1.0, delta_mode="auto")
    with pytest.raises(ConfigError, match="at least 2"):
        pretraining_loss({"a": z["a"]}, {"a": y["a"]}, 0.5, 1.0, -1.0)


def test_three_groups_average_over_pairs():
    z, y = batch("abc", seed=3)
    out = pretraining_loss(z, y, 0.5, 1.0, -1.0)
    cmf = sum(directional_feature_loss(z[a], z[b], 0.5) for a, b in itertools.permutations("abc", 2)) / 6
    mpc = sum(pseudo_class_loss(y[a], y[b], 1.0, -1.0).total for a, b in itertools.combinations("abc", 2)) / 3
    torch.testing.assert_close(out.cmf, cmf)
    torch.testing.assert_close(out.mpc, mpc)
    torch.testing.assert_close(out.total, cmf + out.delta * mpc)
    agree = sum((y[a].argmax(1) == y[b].argmax(1)).float().mean() for a, b in itertools.combinations("abc", 2)) / 3
    torch.testing.assert_close(out.agreement, agree)
    torch.testing.assert_close(out.entropy, sum(marginal_entropy(y[g]) for g in "abc") / 3)


def test_agreement_counts_windows_with_the_same_argmax():
    z, _ = batch("ab", n=4)
    y = {"a": one_hot([0, 1, 2, 0], 3), "b": one_hot([0, 1, 0, 1], 3)}
    assert pretraining_loss(z, y, 0.5, 1.0, -1.0).agreement.item() == pytest.approx(0.5)


# ------------------------------------------------------------------ L_FR
def test_gamma_profile_is_geometric_from_first_to_last():
    gammas = gamma_profile(5)
    assert gammas[0] == pytest.approx(1.0) and gammas[-1] == pytest.approx(0.1)
    assert [b / a for a, b in zip(gammas, gammas[1:])] == pytest.approx([0.1 ** 0.25] * 4)
    assert gamma_profile(1) == [1.0]
    assert gamma_profile(3, first=2.0, last=0.5) == pytest.approx([2.0, 1.0, 0.5])
    with pytest.raises(ConfigError):
        gamma_profile(0)


def test_layer_aware_regularizer_starts_at_the_head_term_and_grows_when_weights_move():
    torch.manual_seed(0)
    encoder = ConvTransformerEncoder(3, width=4, n_conv=2, n_transformer=1, n_heads=2, ff_dim=8)
    head = nn.Linear(4, 3)
    groups = encoder.layer_groups()
    gammas = gamma_profile(len(groups))
    anchors = anchor_copies(groups)
    head_term = head.weight.pow(2).sum() + head.bias.pow(2).sum()
    start = layer_aware_regularizer(groups, head.parameters(), anchors, gammas)
    torch.testing.assert_close(start, head_term)  # the encoder term is 0 at the pre-trained weights
    with torch.no_grad():
        groups[1][0].add_(0.1)  # move the second conv
    moved = layer_aware_regularizer(groups, head.parameters(), anchors, gammas)
    expected = head_term + gammas[1] * 0.01 * groups[1][0].numel()
    torch.testing.assert_close(moved, expected)
    # norm layers are not regularised
    with torch.no_grad():
        encoder.blocks[0].bn.weight.add_(5.0)
        encoder.transformer[0].norm1.bias.add_(5.0)
    torch.testing.assert_close(layer_aware_regularizer(groups, head.parameters(), anchors, gammas), expected)
    # the gradient pulls the moved weights back toward the anchor: 2 gamma (theta - theta0)
    moved = layer_aware_regularizer(groups, head.parameters(), anchors, gammas)
    moved.backward()
    torch.testing.assert_close(groups[1][0].grad, torch.full_like(groups[1][0], 2 * gammas[1] * 0.1))
    assert groups[0][0].grad.abs().sum() == 0


def test_zero_anchor_is_the_literal_eq_9():
    torch.manual_seed(0)
    encoder = ConvTransformerEncoder(3, width=4, n_conv=1, n_transformer=1, n_heads=2, ff_dim=8)
    head = nn.Linear(4, 2)
    groups = encoder.layer_groups()
    gammas = [0.5, 2.0]
    literal = sum(g * sum(p.pow(2).sum() for p in group) for g, group in zip(gammas, groups))
    literal = literal + sum(p.pow(2).sum() for p in head.parameters())
    torch.testing.assert_close(layer_aware_regularizer(groups, head.parameters(), None, gammas), literal)
    with pytest.raises(ConfigError, match="gammas"):
        layer_aware_regularizer(groups, head.parameters(), None, [1.0])
