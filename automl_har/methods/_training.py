"""The one supervised training loop every method's classifier stage uses.

Mini-batch training with early stopping on validation macro-F1: after every epoch the
validation macro-F1 is logged and reported to the pruner (``ctx.report``), and the weights of
the best epoch are restored at the end. Without validation windows (a paper's train/test-only
protocol) it trains for the fixed number of epochs and keeps the last weights: nothing is selected.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from automl_har.methods._base import MethodContext
from automl_har.methods._inputs import Inputs, predict_logits, take, to_device
from automl_har.methods._optim import make_optimizer
from automl_har.methods._schedules import step_scheduler
from automl_har.metrics import accuracy, macro_f1

#: validation metrics ``fit_classifier`` can select the best epoch on
SELECT_ON = ("macro_f1", "accuracy")

@dataclass(frozen=True)
class FitSettings:
    """Optimisation settings of one classifier fit.

    Attributes:
        epochs: maximum epochs (already scaled by the budget).
        lr: learning rate.
        batch_size: mini-batch size (capped at the number of labeled windows).
        weight_decay: L2 penalty (AdamW decoupled weight decay for ``adamw``).
        patience: stop after this many epochs without a better validation macro-F1.
        optimizer: ``adam``, ``adamw``, ``sgd`` (momentum 0.9) or ``lamb``
            (:func:`~automl_har.methods._optim.make_optimizer`).
        schedule: optional learning-rate multiplier as a function of training progress in
            [0, 1], applied after every optimizer step (e.g.
            :class:`~automl_har.methods._schedules.WarmupCosine`); None = constant ``lr``.
        lr_scales: ``(parameter-name prefix, scale)`` pairs: those parameters learn at
            ``scale * lr`` (:func:`~automl_har.methods._optim.make_optimizer`).
    """

    epochs: int
    lr: float = 1e-3
    batch_size: int = 16
    weight_decay: float = 0.0
    patience: int = 20
    optimizer: str = "adam"
    schedule: Callable[[float], float] | None = None
    lr_scales: tuple[tuple[str, float], ...] = ()


def fit_classifier(
    module: nn.Module,
    train_inputs: Inputs,
    train_y: np.ndarray,
    val_inputs: Inputs,
    val_y: np.ndarray,
    settings: FitSettings,
    ctx: MethodContext,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    on_epoch_start: Callable[[int], None] | None = None,
    regularizer: Callable[[], Tensor] | None = None,
    select_on: str = "macro_f1",
) -> dict[str, list[float]]:
    """Train ``module`` in place; keep the weights of the epoch with the best validation
    ``select_on`` metric (with no validation windows: train ``settings.epochs`` epochs and keep
    the last weights). The pruner always sees validation macro-F1, the trial's objective.

    ``on_epoch_start(epoch)``, if given, runs after ``module.train()`` at the start of every epoch;
    it may switch ``requires_grad`` of parameters (frozen ones get no gradient, so the optimizer,
    built once from every trainable parameter, leaves them alone) or put submodules in eval mode.
    ``regularizer()``, if given, is added to the loss of every step (e.g. MESEN's layer-aware
    L_FR, an L2 penalty); its per-epoch mean is logged as ``train_reg``. ``select_on`` is
    ``macro_f1`` or ``accuracy`` (Presotto et al. select on accuracy).

    Returns:
        per-epoch history: ``train_loss``, ``val_macro_f1``, and ``train_reg`` /
        ``val_accuracy`` when a regularizer / ``select_on="accuracy"`` is given.
    """
    if select_on not in SELECT_ON:
        raise ValueError(f"select_on must be one of {', '.join(SELECT_ON)}, but got {select_on!r}")
    device = ctx.device
    module.to(device)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = make_optimizer(module, settings.optimizer, settings.lr, settings.weight_decay,
                               lr_scales=settings.lr_scales)
    y = torch.as_tensor(train_y, dtype=torch.long)
    generator = torch.Generator().manual_seed(ctx.seed)
    n = len(y)
    batch_size = max(1, min(settings.batch_size, n))
    scheduler = None
    if settings.schedule is not None:
        scheduler = step_scheduler(optimizer, settings.schedule, settings.epochs * -(-n // batch_size))
    history: dict[str, list[float]] = {"train_loss": [], "val_macro_f1": []}
    if regularizer is not None:
        history["train_reg"] = []
    if select_on == "accuracy":
        history["val_accuracy"] = []
    best_score, best_state, since_best = -1.0, None, 0
    for epoch in range(settings.epochs):
        module.train()
        if on_epoch_start is not None:  # e.g. switch which parameters train (Cosmo's iterative training)
            on_epoch_start(epoch)
        order = torch.randperm(n, generator=generator)
        losses, penalties = [], []
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            if len(index) < 2 and n > 1:  # BatchNorm cannot train on a single sample
                continue
            logits = module(to_device(take(train_inputs, index), device))
            loss = loss_fn(logits, y[index].to(device))
            if regularizer is not None:
                penalty = regularizer()
                loss = loss + penalty
                penalties.append(penalty.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
        if ctx.epoch_monitor is not None:  # reporting only (a paper's rule): it selects nothing here
            ctx.epoch_monitor(module)
        epoch_metrics = {"train_loss": float(np.mean(losses)) if losses else float("nan")}
        if regularizer is not None:
            epoch_metrics["train_reg"] = float(np.mean(penalties)) if penalties else float("nan")
        if len(val_y) == 0:  # train/test-only protocol: fixed epochs, no selection
            _append(history, epoch_metrics)
            ctx.log_metrics(epoch_metrics, epoch)
            continue
        val_pred = predict_logits(module, val_inputs, device).argmax(1).numpy()
        epoch_metrics["val_macro_f1"] = macro_f1(val_y, val_pred)
        if select_on == "accuracy":
            epoch_metrics["val_accuracy"] = accuracy(val_y, val_pred)
        _append(history, epoch_metrics)
        ctx.log_metrics(epoch_metrics, epoch)
        ctx.report(epoch, epoch_metrics["val_macro_f1"])
        score = epoch_metrics[f"val_{select_on}"]
        if score > best_score:
            best_score, best_state, since_best = score, copy.deepcopy(module.state_dict()), 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


def _append(history: dict[str, list[float]], metrics: dict[str, float]) -> None:
    for key, value in metrics.items():
        history[key].append(value)
