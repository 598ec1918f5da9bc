"""Supervised pre-training on combined public datasets, transfer to an unseen target.

Presotto, Ek, Civitarese, Portet, Lalanda, Bettini, "Combining Public Human Activity Recognition
Datasets to Mitigate Labeled Data Scarcity", SMARTCOMP 2023 (spec: ``shared/specs/combined.md``).
A network (DeepConvLSTM, ISPL-Inception, HART or MobileHART-XS, :mod:`automl_har.models.har_nets`)
is trained supervised on the merged labeled *source* datasets (Sec. III-C: Adam 5e-4, 200 epochs,
batch 128, checkpoint of the best source-validation accuracy), then transferred to the target:

- ``Rd``: random initialisation, everything trained on the target's few labels;
- ``PF``: pre-trained feature extractor frozen, a new head trained;
- ``PU``: pre-trained, everything trained (Sec. IV-A);
- zero-shot (``--label-ratio 0``): the pre-training head predicts the target directly.

Fine-tuning: Adam 5e-4, 200 epochs, batch 64, checkpoint of the best validation accuracy (IV-C).
Both stages run ``epochs x budget``. One pre-training (cached) serves every strategy, label ratio,
fine-tune hyperparameter and label draw of a target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from automl_har.data import WindowedData
from automl_har.data.combine import COMMON_SENSORS
from automl_har.errors import ConfigError, TrialSkipped
from automl_har.methods._base import Method, MethodContext, TrainedModel, register_method
from automl_har.methods._stages import finetuning, pretraining
from automl_har.methods._training import SELECT_ON, FitSettings, fit_classifier
from automl_har.models.har_nets import ARCHITECTURES, build_har_net, check_har_input
from automl_har.ranges import at_least, fraction, non_negative, one_of, positive, unit_interval

STRATEGIES = ("Rd", "PF", "PU")
HEADS = ("linear", "mlp")
HEAD_INPUTS = ("features", "softmax")
#: the prefix of each architecture's own fields (``dcl_filters``, ``hart_heads`` ...)
FIELD_PREFIX = {"deepconvlstm": "dcl_", "ispl_inception": "ispl_", "hart": "hart_", "mobilehart_xs": "mobilehart_"}
#: paper values of the dropout-like options, used for pre-training whatever fine-tuning tunes
_PAPER_REGULARISATION = {"deepconvlstm": {"dropout": 0.5}, "ispl_inception": {"l2_rate": 0.00593},
                         "hart": {"dropout": 0.3, "drop_path": 0.3}, "mobilehart_xs": {"dropout": 0.3, "drop_path": 0.3}}


@dataclass
class CombinedParams:
    """Hyperparameters with the paper's (or, where it is silent, the authors' code's) defaults.

    Shape fields are ``pretraining`` (a change means a new pre-training); the dropout / L2 fields
    apply to fine-tuning only, since they change no weight shape and pre-training uses the paper
    values, so the cached pre-trained network stays valid for every value tried.
    MobileHART's XXS variant is not offered: the paper uses XS (``mobilehart_xs``).
    """

    architecture: str = pretraining("hart", one_of(*ARCHITECTURES))
    pretrain_lr: float = pretraining(5e-4, positive)
    pretrain_batch_size: int = pretraining(128, at_least(1))
    pretrain_epochs: int = pretraining(200, at_least(1))
    pretrain_label_smoothing: float = pretraining(0.1, unit_interval)  # authors' code; the paper is silent
    dcl_filters: int = pretraining(64, at_least(1))
    dcl_kernel: int = pretraining(5, at_least(1))
    dcl_lstm_units: int = pretraining(128, at_least(1))
    ispl_filters: int = pretraining(64, at_least(1))
    ispl_depth: int = pretraining(5, at_least(1))
    ispl_max_kernel: int = pretraining(68, at_least(4))  # halved twice for the other branches
    ispl_bottleneck: int = pretraining(32, at_least(1))
    hart_projection_dim: int = pretraining(192, at_least(4))  # and a multiple of 4 (HART checks it)
    hart_heads: int = pretraining(3, at_least(1))
    hart_patch_size: int = pretraining(16, at_least(1))
    hart_kernels: str = pretraining("3,7,15,31,31,31")
    strategy: str = finetuning("PU", one_of(*STRATEGIES))
    # the paper's new last layer; "mlp" = the code's Dense 1024 swish head
    head: str = finetuning("linear", one_of(*HEADS))
    # "softmax": the code's head on the pre-trained softmax
    head_input: str = finetuning("features", one_of(*HEAD_INPUTS))
    finetune_lr: float = finetuning(5e-4, positive)
    finetune_batch_size: int = finetuning(64, at_least(1))
    finetune_epochs: int = finetuning(200, at_least(1))
    select_on: str = finetuning("accuracy", one_of(*SELECT_ON))  # both stages select on accuracy (spec A7)
    patience: int = finetuning(0, non_negative)  # 0: no early stopping (the paper)
    dcl_dropout: float = finetuning(0.5, fraction)
    ispl_l2: float = finetuning(0.00593, non_negative)
    hart_dropout: float = finetuning(0.3, fraction)
    hart_drop_path: float = finetuning(0.3, fraction)
    mobilehart_dropout: float = finetuning(0.3, fraction)
    mobilehart_drop_path: float = finetuning(0.3, fraction)

    def __post_init__(self) -> None:
        try:
            kernels = tuple(int(k) for k in self.hart_kernels.split(","))
        except ValueError:
            raise ConfigError(f"hart_kernels={self.hart_kernels!r} must be comma-separated integers, "
                              "e.g. 3,7,15,31,31,31") from None
        if len(kernels) != 6:
            raise ConfigError(f"hart_kernels needs one kernel per HART block (6), but got {self.hart_kernels!r}")

    def shape_options(self) -> dict[str, Any]:
        """The architecture's shape keywords (what the pre-trained weights depend on)."""
        return {
            "deepconvlstm": {"filters": self.dcl_filters, "kernel": self.dcl_kernel, "lstm_units": self.dcl_lstm_units},
            "ispl_inception": {"filters": self.ispl_filters, "depth": self.ispl_depth,
                               "max_kernel": self.ispl_max_kernel, "bottleneck": self.ispl_bottleneck},
            "hart": {"projection_dim": self.hart_projection_dim, "heads": self.hart_heads,
                     "patch_size": self.hart_patch_size,
                     "kernels": [int(k) for k in self.hart_kernels.split(",")]},
            "mobilehart_xs": {},
        }[self.architecture]

    def finetune_regularisation(self) -> dict[str, Any]:
        return {"deepconvlstm": {"dropout": self.dcl_dropout}, "ispl_inception": {"l2_rate": self.ispl_l2},
                "hart": {"dropout": self.hart_dropout, "drop_path": self.hart_drop_path},
                "mobilehart_xs": {"dropout": self.mobilehart_dropout, "drop_path": self.mobilehart_drop_path},
                }[self.architecture]


class TransferNet(nn.Module):
    """A HAR network (``net``, with its pre-training head) plus the target's new ``head``.

    ``head_input="features"``: ``head(net.features(x))`` (the paper); ``"softmax"``:
    ``head(softmax(net(x)))`` (the authors' code). ``head=None`` (zero-shot): ``net(x)``.
    """

    def __init__(self, *, architecture: str, in_channels: int, window_length: int, source_classes: int,
                 n_classes: int, net_options: dict, head: str | None, head_input: str = "features") -> None:
        super().__init__()
        self.net = build_har_net(architecture, in_channels=in_channels, n_classes=source_classes,
                                 window_length=window_length, **net_options)
        self.head_input = head_input
        width = self.net.feature_dim if head_input == "features" else source_classes
        if head is None:
            self.head = None
        elif head == "linear":
            self.head = nn.Linear(width, n_classes)
        else:  # the code's head: Dense(1024, swish) -> Dropout(0.3) -> Dense(K)
            self.head = nn.Sequential(nn.Linear(width, 1024), nn.SiLU(), nn.Dropout(0.3), nn.Linear(1024, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        if self.head is None:
            return self.net(x)
        features = self.net.features(x) if self.head_input == "features" else self.net(x).softmax(-1)
        return self.head(features)

    def regularizer(self) -> Tensor | None:
        """ISPL-Inception's L2 on its kernels and on the new head's (None for the other nets)."""
        if not hasattr(self.net, "l2_penalty"):
            return None
        weights = [m.weight for m in (self.head.modules() if self.head is not None else []) if isinstance(m, nn.Linear)]
        return self.net.l2_penalty() + self.net.l2_rate * sum(w.square().sum() for w in weights)


@register_method
class Combined(Method):
    """Supervised pre-training on labeled source datasets; Rd / PF / PU transfer or zero-shot."""

    name = "combined"
    description = "supervised pre-training on combined labeled datasets, transfer to a new one (Presotto et al.)"
    citation = ("Presotto, Ek, Civitarese, Portet, Lalanda, Bettini. Combining Public Human Activity Recognition "
                "Datasets to Mitigate Labeled Data Scarcity. IEEE SMARTCOMP 2023")
    tags = {"multimodal": False, "input": "raw", "reads": "inertial",
            "pretraining_data": "labeled_sources", "zero_shot": True, "normalization": "sensor",
            "default_window": {"window_s": 2.56, "overlap": 0.5, "rate_hz": 50.0}}
    Params = CombinedParams
    # DeepConvLSTM: the suite's windows (25 samples) are too short for HART's patches
    tiny_params = {"architecture": "deepconvlstm", "dcl_filters": 4, "dcl_lstm_units": 8, "pretrain_epochs": 1,
                   "finetune_epochs": 1, "pretrain_batch_size": 16, "finetune_batch_size": 8}

    # ------------------------------------------------------------------ data
    def check_data(self, data: WindowedData, params: CombinedParams | None = None) -> None:
        super().check_data(data)
        sensors = [s for s in COMMON_SENSORS if s in data.modalities]
        if not sensors:
            raise ConfigError(f"method 'combined' reads the sensors acc and gyro, but the data has "
                              f"{', '.join(data.modalities)}; map one with 'inputs' in a --label-map file")
        if params is not None:
            shape = {s: data.modalities[s].shape for s in sensors}
            check_har_input(params.architecture, n_acc=shape.get("acc", (0, 0, 0))[2],
                            n_gyro=shape.get("gyro", (0, 0, 0))[2], window_length=shape[sensors[0]][1],
                            patch_size=params.hart_patch_size)

    def model_inputs(self, data: WindowedData) -> Tensor:
        """acc then gyro, channels-last ``(N, T, C)`` (HART splits channels 0:3 / 3:6)."""
        return torch.from_numpy(np.concatenate([data.modalities[s] for s in COMMON_SENSORS if s in data.modalities], -1))

    def build_model(self, **build_kwargs: Any) -> TransferNet:
        return TransferNet(**build_kwargs)

    def _build_kwargs(self, data: WindowedData, p: CombinedParams, source_classes: int, head: str | None,
                      regularisation: dict) -> dict[str, Any]:
        x = self.model_inputs(data[np.arange(1)])
        return {"architecture": p.architecture, "in_channels": x.shape[2], "window_length": x.shape[1],
                "source_classes": source_classes, "n_classes": data.n_classes,
                "net_options": {**p.shape_options(), **regularisation}, "head": head, "head_input": p.head_input}

    # ---------------------------------------------------------------- stages
    def pretrain_sources(self, sources: WindowedData, sources_val: WindowedData, p: CombinedParams,
                         ctx: MethodContext) -> dict[str, Any] | None:
        if p.strategy == "Rd":
            return None  # nothing to learn: Rd starts from random weights (spec A22: a seeded init)
        epochs = ctx.epochs(p.pretrain_epochs)
        key = self.pretraining_key(p, sources.content_hash() + sources_val.content_hash(), ctx)
        # the chosen network's fields only: another architecture's shape changes nothing here
        own = ("architecture", "pretrain_", FIELD_PREFIX[p.architecture])
        key["params"] = {k: v for k, v in key["params"].items() if k.startswith(own)}
        key["scaled_epochs"] = epochs
        return self.cached_stage(ctx, "combined_pretrain", key,
                                 lambda: self._pretrain(sources, sources_val, p, epochs, ctx))

    def _pretrain(self, sources, sources_val, p: CombinedParams, epochs: int, ctx: MethodContext) -> dict[str, Any]:
        torch.manual_seed(ctx.seed)
        kwargs = self._build_kwargs(sources, p, sources.n_classes, None, _PAPER_REGULARISATION[p.architecture])
        module = self.build_model(**kwargs).to(ctx.device)
        smoothing = nn.CrossEntropyLoss(label_smoothing=p.pretrain_label_smoothing)
        # patience = epochs: no early stopping; the best source-validation accuracy is kept (paper; spec A6)
        settings = FitSettings(epochs=epochs, lr=p.pretrain_lr, batch_size=p.pretrain_batch_size, patience=epochs)
        history = fit_classifier(module, self.model_inputs(sources), sources.y, self.model_inputs(sources_val),
                                 sources_val.y, settings, _source_stage_context(ctx), loss_fn=smoothing, regularizer=_regularizer_of(module),
                                 select_on="accuracy")
        state = {k: v.detach().cpu() for k, v in module.net.state_dict().items()}
        return {"net_state": state, "source_classes": sources.n_classes, "classes": list(sources.classes),
                "in_channels": kwargs["in_channels"], "window_length": kwargs["window_length"],
                "sensors": list(self._sensors(sources)), "history": history}

    def finetune(self, state: dict | None, labeled: WindowedData, val: WindowedData, p: CombinedParams,
                 ctx: MethodContext) -> TrainedModel:
        torch.manual_seed(ctx.seed)
        if p.strategy != "Rd" and state is None:
            raise ConfigError(f"strategy {p.strategy} needs pre-training on source datasets; give --datasets, "
                              "or use strategy Rd")
        source_classes = state["source_classes"] if state is not None else labeled.n_classes
        kwargs = self._build_kwargs(labeled, p, source_classes, p.head, p.finetune_regularisation())
        module = self.build_model(**kwargs).to(ctx.device)
        if p.strategy != "Rd":
            module.net.load_state_dict(state["net_state"])
        frozen = p.strategy == "PF"
        if frozen:  # linear-probe semantics: the whole extractor in eval mode (spec A15)
            for parameter in module.net.parameters():
                parameter.requires_grad_(False)
        epochs = ctx.epochs(p.finetune_epochs)
        settings = FitSettings(epochs=epochs, lr=p.finetune_lr, batch_size=p.finetune_batch_size,
                               patience=p.patience or epochs)
        history = fit_classifier(module, self.model_inputs(labeled), labeled.y, self.model_inputs(val), val.y,
                                 settings, ctx, on_epoch_start=(lambda _: module.net.eval()) if frozen else None,
                                 regularizer=_regularizer_of(module), select_on=p.select_on)
        return TrainedModel(module, kwargs, self._sensors(labeled), history)

    def zero_shot(self, state: dict | None, p: CombinedParams, ctx: MethodContext) -> TrainedModel:
        if p.strategy == "Rd":
            raise TrialSkipped("strategy Rd has nothing to transfer at --label-ratio 0; use PU (or PF)")
        if p.strategy == "PF":  # no training at 0 %: PF and PU are the same model (the paper reports PU)
            raise TrialSkipped("strategy PF at --label-ratio 0 duplicates PU (nothing is trained); duplicate_of=PU")
        if state is None:
            raise ConfigError("zero-shot needs pre-training on source datasets; give --datasets A,B,C --target D")
        net_options = {**p.shape_options(), **_PAPER_REGULARISATION[p.architecture]}
        kwargs = {"architecture": p.architecture, "in_channels": int(state["in_channels"]),
                  "window_length": int(state["window_length"]), "source_classes": state["source_classes"],
                  "n_classes": state["source_classes"], "net_options": net_options, "head": None,
                  "head_input": p.head_input}
        module = self.build_model(**kwargs)
        module.net.load_state_dict(state["net_state"])
        return TrainedModel(module.to(ctx.device).eval(), kwargs, tuple(state["sensors"]))

    @staticmethod
    def _sensors(data: WindowedData) -> tuple[str, ...]:
        return tuple(s for s in COMMON_SENSORS if s in data.modalities)


def _source_stage_context(ctx: MethodContext) -> MethodContext:
    """``ctx`` for pre-training on the sources: its curves are logged as ``source_*`` (apart from
    the fine-tuning's ``val_macro_f1``), and nothing reaches the pruner, which judges the
    target's validation score only."""
    def log_source_metrics(metrics, step):
        ctx.log_metrics({f"source_{name}": value for name, value in metrics.items()}, step)
    return replace(ctx, reporter=None, metric_logger=log_source_metrics)


def _regularizer_of(module: TransferNet):
    """``module.regularizer`` when the network has a penalty (ISPL-Inception's L2), else None."""
    return module.regularizer if module.regularizer() is not None else None
