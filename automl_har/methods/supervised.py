"""The supervised baseline: a randomly initialised 1D-CNN trained on the few labels only.

Every paper autohar implements reports this baseline ("supervised" / "random init") next to
its own method. All modalities of the data are used: each is linearly resampled to the
longest window length and the channels are stacked, giving one ``(N, C, T)`` input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from automl_har.data import WindowedData
from automl_har.methods._base import Method, MethodContext, TrainedModel, register_method
from automl_har.methods._stages import finetuning
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.models import Conv1dClassifier
from automl_har.ranges import at_least, fraction, non_negative, positive


@dataclass
class SupervisedParams:
    """Hyperparameters of the supervised baseline.

    No single paper fixes them; the defaults are a small CNN trained with Adam as in the
    baselines of the MaskCAE and Combined papers (Adam, lr 1e-3), with 100 epochs at budget 1.0.
    """

    depth: int = finetuning(3, at_least(1))
    width: int = finetuning(32, at_least(1))
    kernel_size: int = finetuning(5, at_least(1))
    dropout: float = finetuning(0.1, fraction)
    lr: float = finetuning(1e-3, positive)
    weight_decay: float = finetuning(1e-4, non_negative)
    batch_size: int = finetuning(16, at_least(1))
    epochs: int = finetuning(100, at_least(1))
    patience: int = finetuning(20, non_negative)


@register_method
class Supervised(Method):
    """Random-init 1D-CNN trained with early stopping on validation macro-F1."""

    name = "supervised"
    description = "random-init 1D-CNN on the few labels (the baseline every paper reports)"
    tags = {"multimodal": False, "input": "raw"}
    input_layout = "stacked_channels_first"
    Params = SupervisedParams
    tiny_params = {"depth": 1, "width": 8, "epochs": 2, "batch_size": 8}

    def build_model(self, **build_kwargs: Any) -> Conv1dClassifier:
        return Conv1dClassifier(**build_kwargs)

    def finetune(
        self, state: Any, labeled: WindowedData, val: WindowedData, params: SupervisedParams, ctx: MethodContext
    ) -> TrainedModel:
        torch.manual_seed(ctx.seed)
        x_train, x_val = self.model_inputs(labeled), self.model_inputs(val)
        build_kwargs = dict(
            in_channels=x_train.shape[1],
            n_classes=labeled.n_classes,
            depth=params.depth,
            width=params.width,
            kernel_size=params.kernel_size,
            dropout=params.dropout,
        )
        module = self.build_model(**build_kwargs)
        settings = FitSettings(
            epochs=ctx.epochs(params.epochs),
            lr=params.lr,
            batch_size=params.batch_size,
            weight_decay=params.weight_decay,
            patience=params.patience,
        )
        history = fit_classifier(module, x_train, labeled.y, x_val, val.y, settings, ctx)
        return TrainedModel(module, build_kwargs, tuple(labeled.modalities), history)
