"""MESEN: multimodal pre-training for a unimodal few-label model.

Xu, Gu, Tan, He, Chen, "MESEN: Exploit Multimodal Data to Design Unimodal Human Activity
Recognition with Few Labels", SenSys 2023. The authors released no code; ``../shared/specs/mesen.md``
maps the paper onto this package, and every choice the paper leaves open is that spec's unless a
comment here says otherwise.

Pre-training (:meth:`Mesen.pretrain`, Sec. 4.2, unlabeled aligned windows of two or more modality
groups): per group an encoder ``h = f(x)`` (conv + transformer for inertial data, the HCN
co-occurrence network for skeletons, or Cosmo's encoders), a projector ``ĥ = g(h)`` and
``z = ĥ / ||ĥ||``; one shared pseudo-classification head ``ŷ = softmax(c(ĥ))``. The loss is
``L_CMF + δ L_MPC`` (Eq. 2-8): cross-modal feature contrast with inter-modal negatives only, and
pseudo-class column contrast with an entropy term. It runs once per trial on every training
window (labels unused) and is cached by its parameters, the data and the seed.

Fine-tuning (:meth:`Mesen.finetune`, Sec. 4.3): the deployed group's encoder plus a new linear
head, trained on the labeled draw with ``L_CLS + λ_FR L_FR`` (Eq. 9-10, the layer-aware
regulariser, through ``fit_classifier``'s ``regularizer`` hook). The projectors and the pseudo
head are dropped: the model reads only its own modality group, so a checkpoint, a bundle and
``autohar predict`` ask for nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.data import WindowedData
from automl_har.errors import ConfigError
from automl_har.methods._base import Method, MethodContext, TrainedModel, register_method
from automl_har.methods._cosmo_fusion import group_input, group_named, group_shapes, resolve_groups
from automl_har.methods._mesen_losses import anchor_copies, gamma_profile, layer_aware_regularizer, pretraining_loss
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop
from automl_har.methods._stages import finetuning, pretraining
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.models.cosmo_encoders import make_encoder as make_cosmo_encoder
from automl_har.models.mesen_encoders import Projector, layer_groups_of, make_mesen_encoder
from automl_har.ranges import at_least, at_most, fraction, non_negative, one_of, positive

ENCODERS = ("paper", "cosmo")
PRETRAIN_LOSSES = ("both", "cmf", "mpc", "none")
DELTA_MODES = ("balance", "fixed")
FR_ANCHORS = ("pretrained", "zero")
#: the skeleton classifier's head: HCN's fc7/fc8 on the flattened positions, or their mean + one Linear
HCN_HEADS = ("flatten", "mean")
#: HCN's fc7 width (2 * 256)
HCN_FC7 = 512


@dataclass
class MesenParams:
    """Hyperparameters of MESEN; defaults are the paper's where it states them (Sec. 5.1.3: Adam
    1e-3 in both stages, pre-training batch 128, fine-tuning batch 64; N_cls = the number of
    activity classes, Sec. 4.2.2), ``mesen.md``'s choices elsewhere (its section 7).

    Attributes:
        modality: the deployed modality group (``skeleton``, ``acc+gyro``) or one of its members;
            "" = the first group. Only this group's encoder is fine-tuned and deployed.
        modality_groups: ``auto`` or an explicit ``acc+gyro,skeleton`` (see ``resolve_groups``).
        encoder: ``paper`` (conv + transformer for inertial groups, HCN for skeletons) or
            ``cosmo`` (Cosmo's 2D/3D CNN encoders at their default sizes).
        imu_width, transformer_layers, heads, ff_dim, hcn_width, dropout: encoder sizes (the
            paper gives none; spec A1); ``dropout`` is the IMU encoder's.
        hcn_dropout, hcn_batchnorm, hcn_head: the skeleton encoder where the paper is silent: the
            dropout after conv4-6 and fc7 (HCN: 0.5; 0.1 measured better, see the field), a
            BatchNorm after every conv (the public UTD-MHAD co-occurrence encoder, cmc-cmkm; HCN has
            none) and HCN's head (``flatten``: fc7 512 + ReLU + dropout, fc8) or the mean over the
            positions + one Linear (``mean``).
        projection_dim: N_fc, the contrastive feature dimension (spec A2: 128).
        temperature: tau of L_CMF (Eq. 2; spec A4: 0.5). cluster_temperature: tau-hat of L_MPC
            (Eq. 6; 1.0).
        lambda_pr: weight of the pseudo-class entropy in Eq. 7; <= 0 (the paper: lambda_PR in R-).
        pseudo_class_factor: N_cls = max(2, round(factor * number of classes)); 1 = the paper.
        delta_mode / delta: Eq. 8's delta balanced per batch (``balance``) or the fixed ``delta``.
        pretrain_losses: ``both`` (the paper), ``cmf`` or ``mpc`` only, or ``none`` (no
            pre-training: with lambda_fr=0 the paper's *Labeltrain* baseline).
        pretrain_lr / pretrain_batch_size / pretrain_epochs: Adam (paper: 1e-3, 128); 300
            epochs at budget 1.0 (not in the paper; spec A14).
        lambda_fr: weight of L_FR in Eq. 10 (spec A12: 0.01); 0 switches it off ("w/o F_c3").
        fr_gamma_first / fr_gamma_last: the geometric gamma profile over the encoder's layers,
            input to output (spec A11).
        fr_anchor: what theta is in Eq. 9 for the encoder: ``pretrained`` (distance to the
            pre-trained weights, L2-SP) or ``zero`` (the literal weights).
        finetune_lr / finetune_batch_size / finetune_epochs / patience: Adam (paper: 1e-3, 64 or
            the label count); 300 epochs with early stopping on validation macro-F1 (spec A14).
    """

    modality: str = finetuning("")
    modality_groups: str = pretraining("auto")
    encoder: str = pretraining("paper", one_of(*ENCODERS))
    imu_width: int = pretraining(64, at_least(1))
    transformer_layers: int = pretraining(2, non_negative)  # 0: the conv blocks only
    heads: int = pretraining(4, at_least(1))
    ff_dim: int = pretraining(128, at_least(1))
    hcn_width: int = pretraining(64, at_least(2))  # and even (CoOccurrenceEncoder checks it)
    dropout: float = pretraining(0.1, fraction)
    # HCN's 0.5 measured worse (labeltrain-utd-skeleton, budget 0.2 = 60 steps, 5 draws, with BN and
    # the flatten head), read on the entry's validation windows: 0.5 -> accuracy 0.288 +- 0.057,
    # 0.1 -> 0.518 +- 0.088 (linear probe 0.600). The shared 0.1 of the IMU encoder is kept;
    # --param hcn_dropout=0.5 gives HCN's.
    hcn_dropout: float = pretraining(0.1, fraction)
    hcn_batchnorm: bool = pretraining(True)
    hcn_head: str = finetuning("flatten", one_of(*HCN_HEADS))
    projection_dim: int = pretraining(128, at_least(1))
    temperature: float = pretraining(0.5, positive)
    cluster_temperature: float = pretraining(1.0, positive)
    lambda_pr: float = pretraining(-1.0, at_most(0))  # the paper's lambda_PR is negative (Eq. 7)
    pseudo_class_factor: float = pretraining(1.0, positive)
    delta_mode: str = pretraining("balance", one_of(*DELTA_MODES))
    delta: float = pretraining(1.0, positive)
    pretrain_losses: str = pretraining("both", one_of(*PRETRAIN_LOSSES))
    pretrain_lr: float = pretraining(1e-3, positive)
    pretrain_batch_size: int = pretraining(128, at_least(1))
    pretrain_epochs: int = pretraining(300, non_negative)  # 0: no pre-training
    lambda_fr: float = finetuning(0.01, non_negative)  # 0: no L_FR
    fr_gamma_first: float = finetuning(1.0, positive)
    fr_gamma_last: float = finetuning(0.1, positive)
    fr_anchor: str = finetuning("pretrained", one_of(*FR_ANCHORS))
    finetune_lr: float = finetuning(1e-3, positive)
    finetune_batch_size: int = finetuning(64, at_least(1))
    finetune_epochs: int = finetuning(300, at_least(1))
    patience: int = finetuning(100, non_negative)

    def __post_init__(self) -> None:
        if self.imu_width % self.heads:
            raise ConfigError(f"imu_width ({self.imu_width}) must be a multiple of heads ({self.heads}): it is the "
                              "transformer's d_model")


class FeatureSequence(nn.Module):
    """A Cosmo encoder's ``(N, D)`` features as a length-1 feature sequence ``(N, D, 1)``, so the
    projector and the classifier read every encoder the same way (``encoder="cosmo"``)."""

    def __init__(self, encoder: nn.Module, out_channels: int) -> None:
        super().__init__()
        self.encoder, self.out_channels = encoder, out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x).unsqueeze(-1)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return layer_groups_of(self.encoder)


def build_encoder(encoder: str, kind: str, channels: int, length: int, sizes: Mapping[str, Any],
                  body_frame: dict | None = None) -> nn.Module:
    """One group's encoder ``(N, T, C) -> (N, D, L)`` with ``out_channels`` and ``layer_groups()``;
    a skeleton encoder puts its input in ``body_frame`` (``group_shapes``; None: the centroid)."""
    frame = {"body_frame": body_frame} if kind == "skeleton" else {}
    if encoder == "cosmo":  # Cosmo's encoders at Cosmo's default sizes (spec 1.2)
        from automl_har.methods.cosmo import CosmoParams, encoder_sizes

        cosmo = encoder_sizes(CosmoParams())[kind]
        return FeatureSequence(make_cosmo_encoder(kind, channels, length, **cosmo, **frame), cosmo["feature_dim"])
    return make_mesen_encoder(kind, channels, **sizes[kind], **frame)


def encoder_sizes(params: MesenParams) -> dict[str, dict]:
    """Constructor keywords of each ``paper`` encoder kind (see ``make_mesen_encoder``)."""
    return {
        "inertial": dict(width=params.imu_width, n_transformer=params.transformer_layers, n_heads=params.heads,
                         ff_dim=params.ff_dim, dropout=params.dropout),
        "skeleton": dict(width=params.hcn_width, dropout=params.hcn_dropout, batchnorm=params.hcn_batchnorm),
    }


class MesenPretrainNet(nn.Module):
    """Pre-training network: per group an encoder and a projector, one shared pseudo-class head
    (spec A7); ``forward`` gives ``z`` (unit-norm ĥ) and ``ŷ`` (softmax of the head on ĥ) per group."""

    def __init__(self, groups: Mapping[str, Sequence[str]], encoders: Mapping[str, nn.Module], projection_dim: int,
                 n_pseudo_classes: int) -> None:
        super().__init__()
        self.groups = {g: list(m) for g, m in groups.items()}
        self.encoders = nn.ModuleDict(dict(encoders))
        self.projectors = nn.ModuleDict({g: Projector(e.out_channels, projection_dim) for g, e in encoders.items()})
        self.pseudo_head = nn.Linear(projection_dim, n_pseudo_classes)

    def forward(self, inputs: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        z, y = {}, {}
        for g, members in self.groups.items():
            projected = self.projectors[g](self.encoders[g](group_input(inputs, members)))  # ĥ: (N, N_fc)
            z[g] = F.normalize(projected, dim=1)  # M_Norm, per sample (spec A3)
            y[g] = self.pseudo_head(projected).softmax(dim=1)
        return z, y


class MesenClassifier(nn.Module):
    """The deployed model: one group's encoder and a head. It reads only ``inputs[m] for m in
    members``. The head is the mean over the encoder's positions + one Linear, except for the
    ``paper`` skeleton encoder with ``hcn_head="flatten"``: HCN's fc7 (flattened positions -> 512,
    ReLU, dropout) and fc8 (-> classes)."""

    def __init__(self, members: Sequence[str], kind: str, channels: int, length: int, encoder: str,
                 encoder_sizes: Mapping[str, Mapping[str, Any]], n_classes: int, body_frame: dict | None = None,
                 hcn_head: str = "mean") -> None:
        super().__init__()
        self.members = list(members)
        self.encoder = build_encoder(encoder, kind, channels, length, encoder_sizes, body_frame)
        self.flat_head = encoder == "paper" and kind == "skeleton" and hcn_head == "flatten"
        if self.flat_head:
            flat = self.encoder.out_channels * self.encoder.positions(length)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, HCN_FC7), nn.ReLU(),
                                      nn.Dropout(encoder_sizes[kind]["dropout"]), nn.Linear(HCN_FC7, n_classes))
        else:
            self.head = nn.Linear(self.encoder.out_channels, n_classes)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        h = self.encoder(group_input(inputs, self.members))  # (N, D, L)
        return self.head(h if self.flat_head else h.mean(dim=-1))


def pretraining_step(params: MesenParams):
    """The pre-training step: ``L_CMF + δ L_MPC`` and the per-batch metrics the loop logs per epoch."""

    def step(net: MesenPretrainNet, batch: dict[str, Tensor], generator: torch.Generator):
        z, y = net(batch)
        parts = pretraining_loss(z, y, tau=params.temperature, tau_hat=params.cluster_temperature,
                                 lambda_pr=params.lambda_pr, losses=params.pretrain_losses,
                                 delta_mode=params.delta_mode, delta=params.delta)
        return parts.total, {"l_cmf": parts.cmf, "l_mpc": parts.mpc, "delta": parts.delta,
                             "pseudo_entropy": parts.entropy, "pseudo_agreement": parts.agreement}

    return step


def deployed_group(groups: Mapping[str, Sequence[str]], modality: str) -> str:
    """The group named by ``modality`` (its name or one of its members); "" = the first group."""
    if not modality:
        return next(iter(groups))
    if (group := group_named(groups, modality)) is not None:
        return group
    raise ConfigError(f"modality={modality!r} is not among the modality groups {list(groups)} (or their members); "
                      f"e.g. --param modality={next(iter(groups))}")


@register_method
class Mesen(Method):
    """Multimodal contrastive + pseudo-class pre-training, unimodal layer-aware fine-tuning."""

    name = "mesen"
    description = "multimodal pre-training (cross-modal contrast + pseudo-classes), unimodal few-label fine-tuning"
    citation = "Xu et al., MESEN: Exploit Multimodal Data to Design Unimodal HAR with Few Labels, SenSys 2023"
    tags = {"multimodal": True, "input": "raw", "deploy_subset": {"modality_groups": "{groups}", "modality": "{deployed}"}}
    input_layout = "per_modality_channels_last"  # (N, T_m, C_m) per modality; a network concatenates each group's
    Params = MesenParams
    tiny_params = {
        "imu_width": 8, "transformer_layers": 1, "heads": 2, "ff_dim": 16, "hcn_width": 4, "projection_dim": 8,
        "pretrain_epochs": 1, "pretrain_batch_size": 32, "finetune_epochs": 2, "finetune_lr": 0.01,
    }

    def build_model(self, **build_kwargs: Any) -> MesenClassifier:
        return MesenClassifier(**build_kwargs)

    def pretrain(self, unlabeled: WindowedData, params: MesenParams, ctx: MethodContext) -> dict:
        if ctx.n_classes is None:
            raise ConfigError("mesen's pseudo-classes need the number of classes; pass MethodContext(n_classes=...)")
        groups = resolve_groups(unlabeled, params.modality_groups, method=self.name)
        deployed_group(groups, params.modality)  # a wrong modality= stops before the pre-training runs
        n_pseudo = max(2, round(params.pseudo_class_factor * ctx.n_classes))
        # pretrain_losses="none": no pre-training, the encoders stay at their seeded initialisation
        epochs = ctx.epochs(params.pretrain_epochs) if params.pretrain_losses != "none" and params.pretrain_epochs else 0
        key = {**self.pretraining_key(params, unlabeled.content_hash(), ctx), "epochs": epochs, "groups": groups,
               "n_pseudo_classes": n_pseudo}
        state = self.cached_stage(ctx, "mesen_pretrain", key,
                                  lambda: self._pretrain(unlabeled, groups, epochs, n_pseudo, params, ctx))
        ctx.set_tag("mesen.pretrain_epochs", str(epochs))
        ctx.set_tag("mesen.pseudo_classes", str(n_pseudo))
        return state

    def _pretrain(self, data: WindowedData, groups: dict, epochs: int, n_pseudo: int, params: MesenParams,
                  ctx: MethodContext) -> dict:
        channels, lengths, kinds, frames = group_shapes(data, groups)
        sizes = encoder_sizes(params)
        settings = PretrainSettings(epochs=epochs, batch_size=params.pretrain_batch_size, optimizer="adam",
                                    lr=params.pretrain_lr, weight_decay=0.0, drop_last=True)  # spec A13, A15

        def build() -> MesenPretrainNet:
            encoders = {g: build_encoder(params.encoder, kinds[g], channels[g], lengths[g], sizes, frames[g])
                        for g in groups}
            return MesenPretrainNet(groups, encoders, params.projection_dim, n_pseudo)

        net, history = pretrain_loop(build, self.model_inputs(data), pretraining_step(params), settings, ctx)
        return {
            "groups": groups, "channels": channels, "lengths": lengths, "kinds": kinds, "body_frames": frames,
            "encoders": {g: {k: v.detach().cpu() for k, v in net.encoders[g].state_dict().items()} for g in groups},
            "history": history,
        }

    def finetune(self, state: dict | None, labeled: WindowedData, val: WindowedData, params: MesenParams,
                 ctx: MethodContext) -> TrainedModel:
        if not state:
            raise ConfigError("mesen fine-tunes an encoder of its pre-training; call pretrain() before finetune()")
        group = deployed_group(state["groups"], params.modality)
        members = state["groups"][group]
        build_kwargs = dict(members=members, kind=state["kinds"][group], channels=state["channels"][group],
                            length=state["lengths"][group], encoder=params.encoder, encoder_sizes=encoder_sizes(params),
                            n_classes=labeled.n_classes, body_frame=state["body_frames"][group], hcn_head=params.hcn_head)
        torch.manual_seed(ctx.seed)
        net = self.build_model(**build_kwargs)
        net.encoder.load_state_dict(state["encoders"][group])
        net.to(ctx.device)  # before the regularizer copies its anchors
        ctx.set_tag("mesen.deployed_group", group)
        settings = FitSettings(epochs=ctx.epochs(params.finetune_epochs), lr=params.finetune_lr,
                               batch_size=params.finetune_batch_size, weight_decay=0.0, patience=params.patience,
                               optimizer="adam")
        history = fit_classifier(net, self.model_inputs(labeled), labeled.y, self.model_inputs(val), val.y, settings,
                                 ctx, regularizer=fine_tuning_regularizer(net, params))
        read = set(members)
        return TrainedModel(net.eval(), build_kwargs, tuple(m for m in labeled.modalities if m in read), history)


def fine_tuning_regularizer(net: MesenClassifier, params: MesenParams):
    """``λ_FR · L_FR`` (Eq. 9-10) over the encoder's layer groups and the head, or None when
    ``lambda_fr`` is 0. The encoder is anchored on the weights it holds now (the pre-trained
    ones, ``fr_anchor="pretrained"``) unless the anchor is ``zero`` or nothing was pre-trained."""
    if params.lambda_fr == 0:
        return None
    groups = net.encoder.layer_groups()
    gammas = gamma_profile(len(groups), params.fr_gamma_first, params.fr_gamma_last)
    anchored = params.fr_anchor == "pretrained" and params.pretrain_losses != "none"
    anchors = anchor_copies(groups) if anchored else None
    head = list(net.head.parameters())

    def regularizer() -> Tensor:
        return params.lambda_fr * layer_aware_regularizer(groups, head, anchors, gammas)

    return regularizer
