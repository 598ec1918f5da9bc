"""The losses of MESEN (Xu et al., SenSys 2023), spec ``mesen.md`` §2 and §3.

Pre-training (Sec. 4.2): the cross-modal feature contrast L_CMF (Eqs. 2-4), the multimodal
pseudo-classification aligning L_MPC (Eqs. 5-7) and their balanced sum L_PT (Eq. 8), over every
pair of modality groups. Fine-tuning (Sec. 4.3): the layer-aware regulariser L_FR (Eq. 9).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from automl_har.errors import ConfigError

PRETRAIN_LOSSES = ("both", "cmf", "mpc")
DELTA_MODES = ("balance", "fixed")


def _check_temperature(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be > 0, but got {value}; use e.g. {name}=0.5")


# ------------------------------------------------------------------ L_CMF (Sec. 4.2.1)
def directional_feature_loss(z_a: Tensor, z_b: Tensor, tau: float) -> Tensor:
    """``(1/N) sum_i L_i^(a->b)`` of Eq. 2: for anchor ``z^a_i`` the positive is ``z^b_i`` and the
    negatives are the N - 1 other ``z^b_j`` only (no intra-modality ``z^a_j``), i.e. the row-wise
    cross-entropy of ``S = Z^a Z^b^T / tau`` with targets ``arange(N)``.

    Args:
        z_a, z_b: ``(N, N_fc)`` L2-normalised features of the same N windows.
        tau: temperature.
    """
    _check_temperature("temperature", tau)
    logits = z_a @ z_b.T / tau
    return F.cross_entropy(logits, torch.arange(len(z_a), device=z_a.device))


def cross_modal_feature_loss(z_a: Tensor, z_b: Tensor, tau: float, alpha: float = 0.5, beta: float = 0.5) -> Tensor:
    """L_CMF of Eq. 4: ``(1/N) sum_i (alpha L_i^(a->b) + beta L_i^(b->a))`` with the paper's
    ``alpha = beta = 0.5`` -- the CLIP-style ``0.5 CE(S, arange N) + 0.5 CE(S^T, arange N)`` over
    ``S = Z^a Z^b^T / tau``. Only inter-modality non-pairs are negatives, so the loss depends on the
    features through ``Z^a Z^b^T`` alone.

    Args:
        z_a, z_b: ``(N, N_fc)`` L2-normalised features (rows) of the N aligned pairs.
        tau: temperature of Eqs. 2-3.
        alpha, beta: weights of the two directions (> 0).
    """
    if not (alpha > 0 and beta > 0):
        raise ConfigError(f"the L_CMF weights must be > 0, but got {alpha=}, {beta=}; keep alpha = beta = 0.5")
    return alpha * directional_feature_loss(z_a, z_b, tau) + beta * directional_feature_loss(z_b, z_a, tau)


# ------------------------------------------------------------------ L_MPC (Sec. 4.2.2)
class PseudoClassLoss(NamedTuple):
    """L_MPC of one pair and its parts: ``total = contrast + lambda_pr (entropy - 2 log N_cls)``."""

    total: Tensor
    contrast: Tensor  # (1 / 2N_cls) sum_k (L^(a)_k + L^(b)_k) of Eq. 7
    entropy: Tensor  # L_PR = H(P^a) + H(P^b)


def marginal_entropy(y: Tensor) -> Tensor:
    """``H(P) = -sum_k P_k log P_k`` of the pseudo-class marginal ``P_k = (1/N) sum_i y_ik``
    (the Shannon entropy of Eq. 7's L_PR, per modality); at most ``log N_cls``."""
    p = y.mean(0)
    return -(p * p.clamp_min(1e-12).log()).sum()


def pseudo_class_loss(y_a: Tensor, y_b: Tensor, tau_hat: float, lambda_pr: float) -> PseudoClassLoss:
    """L_MPC of Eqs. 5-7 (spec §2.2) for one pair of modalities.

    The columns ``q^m_k`` (Eq. 5: which windows of the batch fall in pseudo-class k) are
    L2-normalised over the batch and stacked, ``C = [Q^a; Q^b]`` ``(2N_cls, N)``. Row k's positive
    is the same pseudo-class of the other modality, its negatives are the 2N_cls - 2 other columns
    of both modalities (Eq. 6, with ``s`` = cosine similarity and the numerator read as
    ``q^b_k``): the cross-entropy of ``C C^T / tau_hat`` with the diagonal masked, averaged over the
    2N_cls rows. Then ``+ lambda_pr (H(P^a) + H(P^b) - 2 log N_cls)``: Eq. 7 shifted by a constant
    (same gradient) so that the total stays >= 0.

    Args:
        y_a, y_b: ``(N, N_cls)`` softmax pseudo-class probabilities of the N aligned windows.
        tau_hat: temperature of Eq. 6.
        lambda_pr: weight of the entropy regulariser, <= 0 (the paper's lambda_PR in R^-).
    """
    _check_temperature("pseudo_temperature", tau_hat)
    if lambda_pr > 0:
        raise ConfigError(f"lambda_pr must be <= 0 (Eq. 7: a negative weight maximises the pseudo-class entropy), "
                          f"but got {lambda_pr}; use e.g. lambda_pr=-1.0")
    n_cls = y_a.shape[1]
    columns = F.normalize(torch.cat([y_a.T, y_b.T]), dim=1)  # (2 N_cls, N), unit rows
    logits = columns @ columns.T / tau_hat
    logits = logits.masked_fill(torch.eye(2 * n_cls, dtype=torch.bool, device=logits.device), float("-inf"))
    k = torch.arange(n_cls, device=logits.device)
    contrast = F.cross_entropy(logits, torch.cat([k + n_cls, k]))
    entropy = marginal_entropy(y_a) + marginal_entropy(y_b)
    return PseudoClassLoss(contrast + lambda_pr * (entropy - 2 * math.log(n_cls)), contrast, entropy)


# ------------------------------------------------------------------ L_PT (Sec. 4.2.3)
def balanced_delta(l_cmf: Tensor, l_mpc: Tensor) -> Tensor:
    """delta of Eq. 8 (spec §2.3, ``delta_mode="balance"``): ``sg(L_CMF) / max(sg(L_MPC), 1e-6)``,
    so ``delta L_MPC`` equals ``L_CMF`` in value; a tensor without gradient."""
    return l_cmf.detach() / l_mpc.detach().clamp_min(1e-6)


@dataclass
class PretrainingLoss:
    """One batch's L_PT (Eq. 8) and what the pre-training loop logs.

    ``total`` is what to back-propagate; ``cmf`` and ``mpc`` are both computed whatever
    ``losses`` says; ``delta`` is Eq. 8's weight for this batch (used in ``total`` only when
    ``losses="both"``); ``entropy`` is the mean over groups of ``H(P^m)`` (<= log N_cls);
    ``agreement`` is the share of windows whose argmax pseudo-class agrees between two groups,
    averaged over the pairs. All but ``total``, ``cmf`` and ``mpc`` are detached.
    """

    total: Tensor
    cmf: Tensor
    mpc: Tensor
    delta: Tensor
    entropy: Tensor
    agreement: Tensor


def pretraining_loss(z: Mapping[str, Tensor], y: Mapping[str, Tensor], tau: float, tau_hat: float,
                     lambda_pr: float, losses: str = "both", delta_mode: str = "balance",
                     delta: float = 1.0) -> PretrainingLoss:
    """L_PT of Eq. 8 over every modality group (spec §2.3-2.5).

    ``L_CMF`` is the mean over the M(M-1) ordered pairs (a, b) of the one-directional loss
    ``(1/N) sum_i L_i^(a->b)`` (for two groups exactly Eq. 4 with alpha = beta = 0.5), ``L_MPC``
    the mean over the M(M-1)/2 unordered pairs of Eq. 7. ``losses="both"``:
    ``L_CMF + delta L_MPC`` with delta from :func:`balanced_delta` (``delta_mode="balance"``) or the
    constant ``delta`` (``"fixed"``); ``"cmf"``: ``L_CMF``; ``"mpc"``: ``L_MPC`` (no delta).

    Args:
        z: group -> ``(N, N_fc)`` L2-normalised projector features (rows aligned across groups).
        y: group -> ``(N, N_cls)`` softmax pseudo-class probabilities, same groups as ``z``.
        tau, tau_hat, lambda_pr: as in :func:`cross_modal_feature_loss` and :func:`pseudo_class_loss`.
        losses: ``both``, ``cmf`` or ``mpc`` (``pretrain_losses=none`` does not pre-train at all).
        delta_mode: ``balance`` or ``fixed``.
        delta: the fixed delta (> 0).
    """
    if losses not in PRETRAIN_LOSSES:
        raise ConfigError(f"unknown pre-training losses {losses!r}; choose one of {', '.join(PRETRAIN_LOSSES)} "
                          "(pretrain_losses=none skips pre-training instead)")
    if delta_mode not in DELTA_MODES:
        raise ConfigError(f"unknown delta_mode {delta_mode!r}; choose one of {', '.join(DELTA_MODES)}")
    if delta_mode == "fixed" and not delta > 0:
        raise ConfigError(f"a fixed delta must be > 0 (Eq. 8: delta in R^+), but got {delta}; use e.g. delta=1.0")
    groups = list(z)
    if len(groups) < 2:
        raise ConfigError(f"MESEN pre-trains on at least 2 modality groups but got {groups}; "
                          "list two or more groups, e.g. modality_groups=acc+gyro,skeleton")
    if set(y) != set(groups):
        raise ConfigError(f"the pseudo-class outputs cover groups {sorted(y)} but the features {sorted(groups)}; "
                          "give both for the same groups")
    cmf = torch.stack([directional_feature_loss(z[a], z[b], tau)
                       for a, b in itertools.permutations(groups, 2)]).mean()
    pairs = list(itertools.combinations(groups, 2))
    mpc = torch.stack([pseudo_class_loss(y[a], y[b], tau_hat, lambda_pr).total for a, b in pairs]).mean()
    d = balanced_delta(cmf, mpc) if delta_mode == "balance" else torch.tensor(float(delta), device=cmf.device)
    total = {"both": lambda: cmf + d * mpc, "cmf": lambda: cmf, "mpc": lambda: mpc}[losses]()
    with torch.no_grad():
        entropy = torch.stack([marginal_entropy(y[g]) for g in groups]).mean()
        agreement = torch.stack([(y[a].argmax(1) == y[b].argmax(1)).float().mean() for a, b in pairs]).mean()
    return PretrainingLoss(total, cmf, mpc, d, entropy, agreement)


# ------------------------------------------------------------------ L_FR (Sec. 4.3)
def gamma_profile(n_layers: int, first: float = 1.0, last: float = 0.1) -> list[float]:
    """The gamma_i of Eq. 9 (spec §3), geometric from input to output:
    ``gamma_i = first (last / first)^((i - 1) / (n_e - 1))``, ``[first]`` for one layer."""
    if n_layers < 1:
        raise ConfigError(f"the encoder has {n_layers} layers for L_FR; it needs at least one")
    if not (first > 0 and last > 0):
        raise ConfigError(f"fr_gamma_first and fr_gamma_last must be > 0, but got {first}, {last}; use e.g. 1.0, 0.1")
    if n_layers == 1:
        return [float(first)]
    return [first * (last / first) ** (i / (n_layers - 1)) for i in range(n_layers)]


def anchor_copies(encoder_groups: Sequence[Sequence[Tensor]]) -> list[list[Tensor]]:
    """theta^0 for :func:`layer_aware_regularizer`: detached copies of the (pre-trained) encoder
    parameters, group by group."""
    return [[p.detach().clone() for p in group] for group in encoder_groups]


def layer_aware_regularizer(encoder_groups: Sequence[Sequence[Tensor]], head_params: Iterable[Tensor],
                            anchors: Sequence[Sequence[Tensor]] | None, gammas: Sequence[float]) -> Tensor:
    """L_FR of Eq. 9 (spec §3): ``sum_i gamma_i ||theta_e,i - theta^0_e,i||^2 + ||theta_c||^2``.

    Args:
        encoder_groups: the encoder's layers, input to output (``layer_groups_of(encoder)``).
        head_params: theta_c, the classifier's weight and bias (decayed toward zero).
        anchors: theta^0 per group (:func:`anchor_copies` of the pre-trained weights); ``None``
            anchors at zero, the literal Eq. 9.
        gammas: gamma_i per group (:func:`gamma_profile`).
    """
    # theta in Eq. 9: the paper writes the weights themselves, but the term is meant to keep "the learned
    # knowledge from the pre-training stage" (Sec. 4.3); as in L2-SP (Li et al. 2018) we read the encoder
    # term as the distance to the pre-trained weights theta^0 and decay only the new head toward zero.
    if len(gammas) != len(encoder_groups):
        raise ConfigError(f"L_FR got {len(gammas)} gammas for {len(encoder_groups)} encoder layers; give one per layer")
    if anchors is not None and [len(a) for a in anchors] != [len(g) for g in encoder_groups]:
        raise ConfigError("L_FR anchors do not match the encoder layers; build them with anchor_copies(encoder_groups)")
    terms: list[Tensor] = []
    for i, (group, gamma) in enumerate(zip(encoder_groups, gammas)):
        for j, p in enumerate(group):
            diff = p if anchors is None else p - anchors[i][j]
            terms.append(gamma * diff.pow(2).sum())
    terms += [p.pow(2).sum() for p in head_params]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()
