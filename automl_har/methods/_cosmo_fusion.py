"""The fusion parts of Cosmo (Ouyang et al., MobiCom 2022): modality groups, fusion-based feature
augmentation and the contrastive fusion loss (stage 1, Sec. 5.1), the quality-guided attention
fusion network (stage 2, Sec. 5.2.1) and the iterative encoder/classifier schedule (Sec. 5.2.2).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.data import WindowedData
from automl_har.data.skeleton import body_frame_of, is_skeleton
from automl_har.errors import ConfigError
from automl_har.models.cosmo_encoders import ProjectionHead, make_encoder

FUSIONS = ("sum", "concat")


# ------------------------------------------------------------------ modality groups
def resolve_groups(data: WindowedData, spec: str = "auto", method: str = "cosmo") -> dict[str, list[str]]:
    """Modality groups, each fed to one encoder: group name (members joined by ``+``) -> members.

    ``auto`` groups modalities of equal rate and window length (UTD-MHAD: ``acc+gyro`` and
    ``skeleton``); when that leaves fewer than two groups every modality is its own group (watch:
    ``acc`` vs ``gyro``). An explicit spec lists groups separated by commas, members by ``+``
    (``"acc+gyro,skeleton"``); modalities it does not name are not used.
    """
    if spec.strip() == "auto":
        by_shape: dict[tuple, list[str]] = {}
        for name, x in data.modalities.items():
            by_shape.setdefault((data.rates_hz[name], x.shape[1]), []).append(name)
        groups = list(by_shape.values())
        if len(groups) < 2:
            groups = [[name] for name in data.modalities]
    else:
        groups = [[m.strip() for m in part.split("+") if m.strip()] for part in spec.split(",") if part.strip()]
        named = [m for g in groups for m in g]
        for m in named:
            if m not in data.modalities:
                raise ConfigError(f"modality_groups names modality {m!r} but the data has {data.modality_names}; "
                                  "use those names, e.g. modality_groups=acc+gyro,skeleton")
        if len(set(named)) < len(named):
            raise ConfigError(f"modality_groups={spec!r} puts a modality in two groups; give each to one group")
        for g in groups:
            if len({data.modalities[m].shape[1] for m in g}) > 1:
                raise ConfigError(f"modality_groups={spec!r}: {'+'.join(g)} join modalities of different window "
                                  "lengths; put them in separate groups")
    if len(groups) < 2:
        raise ConfigError(f"{method} needs at least 2 modality groups but modality_groups={spec!r} gives "
                          f"{['+'.join(g) for g in groups]}; list two or more groups, e.g. acc+gyro,skeleton")
    return {"+".join(g): g for g in groups}


def encoder_kind(members: Sequence[str], channels: int | Sequence[str]) -> str:
    """``skeleton`` for a lone skeleton modality (``data.skeleton.is_skeleton``), else ``inertial``."""
    return "skeleton" if len(members) == 1 and is_skeleton(members[0], channels) else "inertial"


def group_named(groups: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The group whose name is ``name`` or that has ``name`` as a member (``acc`` -> ``acc+gyro``)."""
    return next((group for group, members in groups.items() if name in (group, *members)), None)


def group_shapes(data: WindowedData, groups: Mapping[str, Sequence[str]]) -> tuple[dict, dict, dict, dict]:
    """Per group: its channels (the members' summed), its window length, its encoder kind and, for
    a skeleton, the body frame of its joints (``BodyFrame.to_dict()`` from the channel names; None
    for an inertial group)."""
    channels = {g: sum(data.modalities[m].shape[2] for m in members) for g, members in groups.items()}
    lengths = {g: data.modalities[members[0]].shape[1] for g, members in groups.items()}
    kinds = {g: encoder_kind(members, channels[g]) for g, members in groups.items()}
    frames = {g: body_frame_of(data.channels[members[0]]).to_dict() if kinds[g] == "skeleton" else None
              for g, members in groups.items()}
    return channels, lengths, kinds, frames


def group_input(inputs: Mapping[str, Tensor], members: Sequence[str]) -> Tensor:
    """The members' ``(N, T, C_m)`` tensors concatenated on channels: ``(N, T, sum C_m)``."""
    return torch.cat([inputs[m] for m in members], dim=-1)


class GroupEncoders(nn.Module):
    """One encoder per modality group; ``forward`` returns ``z``: ``(N, M, feature_dim)``. A
    skeleton group's encoder reads its body frame from ``body_frames`` (None: the centroid)."""

    def __init__(self, groups: Mapping[str, Sequence[str]], channels: Mapping[str, int], lengths: Mapping[str, int],
                 kinds: Mapping[str, str], encoder_sizes: Mapping[str, Mapping],
                 body_frames: Mapping[str, dict | None] | None = None) -> None:
        super().__init__()
        self.groups = {g: list(m) for g, m in groups.items()}
        frames = body_frames or {}
        self.encoders = nn.ModuleDict({  # keys may not contain "."; "+" is fine
            g: make_encoder(kinds[g], channels[g], lengths[g], **encoder_sizes[kinds[g]], body_frame=frames.get(g))
            for g in self.groups
        })

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return torch.stack([self.encoders[g](group_input(inputs, m)) for g, m in self.groups.items()], dim=1)


# ------------------------------------------------------------------ stage 1 (Sec. 5.1)
def sample_fusion_weights(n: int, n_fusions: int, n_groups: int, weight_min: float,
                          generator: torch.Generator | None = None) -> Tensor:
    """``alpha``: ``(n, P, M)`` random fusion weights, each row summing to 1 (Eq. 3).

    ``alpha = a + (1 - M a) * Dirichlet(1, ..., 1)`` with ``a = min(weight_min, 1 / M)``: every
    weight lies in ``[a, 1 - (M - 1) a]`` (within ``[a, 1 - a]``). For two modalities this is
    ``alpha_1 ~ U[a, 1 - a]`` and ``alpha_2 = 1 - alpha_1``, the paper's sampling range.
    """
    a = min(weight_min, 1.0 / n_groups)
    u = torch.rand(n, n_fusions, n_groups, generator=generator).clamp_min(1e-12)
    dirichlet = -u.log()  # Exponential(1) draws, normalized below -> uniform on the simplex
    dirichlet = dirichlet / dirichlet.sum(-1, keepdim=True)
    return a + (1 - n_groups * a) * dirichlet


def fuse(r: Tensor, alpha: Tensor) -> Tensor:
    """Eq. (3) + normalization: ``v_k = Norm(sum_j alpha_jk r_j)``; r ``(N, M, D)``, alpha ``(N, P, M)``
    -> v ``(N, P, D)``."""
    return F.normalize(torch.einsum("npm,nmd->npd", alpha, r), dim=-1)


def contrastive_fusion_loss(v: Tensor, temperature: float) -> Tensor:
    """Eq. (4), averaged over the ``P x N`` anchors: the positives of an anchor are the other
    fusions of the same sample, the denominator runs over every other fused feature of the batch.

    Args:
        v: ``(N, P, D)`` unit-norm fused features.
        temperature: tau.
    """
    n, p, _ = v.shape
    features = v.reshape(n * p, -1)  # (NP, D), row s = sample s // P
    sample = torch.arange(n, device=v.device).repeat_interleave(p)
    logits = features @ features.T / temperature  # (NP, NP)
    self_mask = torch.eye(n * p, dtype=torch.bool, device=v.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (sample[:, None] == sample[None, :]) & ~self_mask  # (NP, NP), P - 1 per row
    return -(log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1)).mean()


class ContrastiveFusionNet(nn.Module):
    """Stage-1 network: group encoders + one projection head per group; returns ``r`` ``(N, M, D)``."""

    def __init__(self, encoders: GroupEncoders, feature_dim: int, projection_dim: int) -> None:
        super().__init__()
        self.encoders = encoders
        self.heads = nn.ModuleDict({g: ProjectionHead(feature_dim, projection_dim) for g in encoders.groups})

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        z = self.encoders(inputs)  # (N, M, feature_dim)
        return torch.stack([self.heads[g](z[:, j]) for j, g in enumerate(self.encoders.groups)], dim=1)


# ------------------------------------------------------------------ stage 2 (Sec. 5.2)
class QualityGuidedAttention(nn.Module):
    """Eqs. (5)-(7): ``mu_j = tanh(W z_j + b)``, ``beta_attn = softmax_j(mu_j . z_j)``,
    ``beta = normalize((1 - lambda) beta_attn + lambda beta_QoM)``."""

    def __init__(self, feature_dim: int, beta_qom: Sequence[float], quality_weight: float) -> None:
        super().__init__()
        self.w = nn.Linear(feature_dim, feature_dim)  # shared by every modality
        self.register_buffer("beta_qom", torch.tensor(list(beta_qom), dtype=torch.float32))
        self.quality_weight = quality_weight

    def forward(self, z: Tensor) -> Tensor:  # z: (N, M, D) -> beta: (N, M)
        mu = torch.tanh(self.w(z))  # (N, M, D)
        beta_attn = torch.softmax((mu * z).sum(-1), dim=1)
        beta = (1 - self.quality_weight) * beta_attn + self.quality_weight * self.beta_qom
        return beta / beta.sum(1, keepdim=True)


class CosmoNet(nn.Module):
    """Stage-2 network: encoders -> quality-guided attention fusion (Eq. 8 sum / Eq. 9 concat) ->
    MLP classifier. Takes the dict of every modality ``(N, T_m, C_m)``; uses its groups' members."""

    def __init__(self, groups: Mapping[str, Sequence[str]], channels: Mapping[str, int], lengths: Mapping[str, int],
                 kinds: Mapping[str, str], encoder_sizes: Mapping[str, Mapping], n_classes: int,
                 beta_qom: Sequence[float],
                 quality_weight: float = 0.8, fusion: str = "concat", classifier_hidden: int = 128,
                 dropout: float = 0.2, body_frames: Mapping[str, dict | None] | None = None) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        self.encoders = GroupEncoders(groups, channels, lengths, kinds, encoder_sizes, body_frames)
        feature_dim = next(iter(self.encoders.encoders.values())).out_dim
        self.attention = QualityGuidedAttention(feature_dim, beta_qom, quality_weight)
        self.fusion = fusion
        fused_dim = feature_dim * (len(groups) if fusion == "concat" else 1)
        self.classifier = nn.Sequential(
            nn.Linear(fused_dim, classifier_hidden),
            nn.BatchNorm1d(classifier_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(classifier_hidden, n_classes),
        )

    def fusion_weights(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """``beta``: ``(N, M)`` the weight of every modality group for every window."""
        return self.attention(self.encoders(inputs))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:  # -> logits (N, n_classes)
        z = self.encoders(inputs)  # (N, M, D)
        weighted = self.attention(z).unsqueeze(-1) * z  # (N, M, D)
        fused = weighted.sum(1) if self.fusion == "sum" else weighted.flatten(1)
        return self.classifier(fused)


def iterative_schedule(net: CosmoNet, iterative_epochs: int) -> Callable[[int], None]:
    """``on_epoch_start`` hook for :func:`fit_classifier` (Sec. 5.2.2): the encoders train for
    ``T_iter`` epochs with the attention + classifier frozen, then those for ``T_iter`` epochs with
    the encoders frozen, alternating; ``T_iter = 0`` trains everything jointly. The frozen part is
    also put in eval mode so its BatchNorm statistics and dropout stay fixed."""
    encoders = list(net.encoders.parameters())
    head = list(net.attention.parameters()) + list(net.classifier.parameters())

    def on_epoch_start(epoch: int) -> None:
        if iterative_epochs <= 0:
            return
        train_encoders = (epoch // iterative_epochs) % 2 == 0
        for p in encoders:
            p.requires_grad_(train_encoders)
        for p in head:
            p.requires_grad_(not train_encoders)
        frozen = [net.attention, net.classifier] if train_encoders else [net.encoders]
        for module in frozen:
            module.eval()

    return on_epoch_start
