"""Optimizers by name, shared by the training loop and the pre-training loop."""

from __future__ import annotations

import torch
from torch import nn

from automl_har.errors import ConfigError
from automl_har.methods._lamb import Lamb

#: optimizer names :func:`make_optimizer` accepts (SGD with momentum 0.9)
OPTIMIZERS = ("adam", "adamw", "sgd", "lamb")


def make_optimizer(module: nn.Module, kind: str, lr: float, weight_decay: float = 0.0,
                   decay_weights_only: bool = False) -> torch.optim.Optimizer:
    """An optimizer over the trainable (``requires_grad``) parameters of ``module``.

    ``decay_weights_only``: weight decay on the weight matrices and kernels (``ndim > 1``) only;
    biases, normalisation parameters and learned tokens get none (the MAE/SparK convention)."""
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    if decay_weights_only:
        decayed = [p for name, p in named if name.endswith("weight") and p.ndim > 1]
        others = [p for name, p in named if not (name.endswith("weight") and p.ndim > 1)]
        params: list = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
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
