"""Optimizers by name, shared by the training loop and the pre-training loop."""

from __future__ import annotations

import torch
from torch import nn

from automl_har.errors import ConfigError
from automl_har.methods._lamb import Lamb

#: optimizer names :func:`make_optimizer` accepts (SGD with momentum 0.9)
OPTIMIZERS = ("adam", "adamw", "sgd", "lamb")


def make_optimizer(module: nn.Module, kind: str, lr: float, weight_decay: float = 0.0,
                   decay_weights_only: bool = False,
                   lr_scales: tuple[tuple[str, float], ...] = ()) -> torch.optim.Optimizer:
    """An optimizer over the trainable (``requires_grad``) parameters of ``module``.

    ``decay_weights_only``: weight decay on the weight matrices and kernels (``ndim > 1``) only;
    biases, normalisation parameters and learned tokens get none (the MAE/SparK convention).
    ``lr_scales``: ``(prefix, scale)`` pairs: the parameters whose name starts with ``prefix``
    learn at ``scale * lr`` (the first matching prefix counts; e.g. Cosmo's released code trains
    its encoders at a tenth of its classifier's rate). A schedule multiplies every group alike."""
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    if lr_scales:
        for prefix, scale in lr_scales:
            if not scale > 0:
                raise ConfigError(f"a learning-rate scale must be > 0, but got {scale} for {prefix!r}")

        def scale_of(name: str) -> float:
            return next((scale for prefix, scale in lr_scales if name.startswith(prefix)), 1.0)

        scales = sorted({scale_of(name) for name, _ in named})
        params: list = [{"params": [p for name, p in named if scale_of(name) == scale], "lr": lr * scale}
                        for scale in scales]
    elif decay_weights_only:
        decayed = [p for name, p in named if name.endswith("weight") and p.ndim > 1]
        others = [p for name, p in named if not (name.endswith("weight") and p.ndim > 1)]
        params = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    else:
        params = [p for _, p in named]
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if kind == "lamb":
        return Lamb(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")
