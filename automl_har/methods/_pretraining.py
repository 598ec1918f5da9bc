"""The one self-supervised pre-training loop: MoCo (IMG2IMU), MaskCAE and Cosmo stage 1 use it.

A method gives the loop three things: how to build the network, the unlabeled inputs, and one
*step*: ``step(model, batch, generator) -> loss`` (or ``(loss, {name: value})`` with extra
per-batch metrics, e.g. MoCo's top-1). The loop owns everything around that step:

- the seed (the network is built after ``torch.manual_seed(ctx.seed)``) and the device (the
  network and every batch are moved to ``ctx.device``);
- epochs, batching and shuffling (a seeded permutation per epoch; full batches only, or also the
  last partial one);
- the optimizer and its per-step learning-rate schedule;
- per-epoch metrics (mean over the epoch's batches, logged through ``ctx.log_metrics``) and a
  clear error when the loss diverges.

The step's randomness (masks, augmented views, fusion weights) comes from ``generator``, a CPU
generator seeded with ``ctx.seed + 1``, so a pre-training is a function of its inputs and seed.
Metrics are summed on the device and read once per epoch: no host sync per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Union

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from automl_har.errors import ConfigError
from automl_har.methods._base import MethodContext
from automl_har.methods._inputs import Inputs, n_rows, take, to_device
from automl_har.methods._optim import make_optimizer
from automl_har.methods._schedules import step_scheduler

#: what a step returns: the loss, or the loss and extra per-batch metrics (tensors or floats)
StepResult = Union[Tensor, tuple[Tensor, Mapping[str, Union[Tensor, float]]]]
#: ``step(model, batch_on_device, generator)``
Step = Callable[[nn.Module, Inputs, torch.Generator], StepResult]


@dataclass(frozen=True)
class PretrainSettings:
    """How the loop trains.

    Attributes:
        epochs: epochs to run (already scaled by the trial budget); 0 returns the untrained network.
        batch_size: windows per batch, capped at the number of windows.
        optimizer: ``adam``, ``adamw``, ``sgd`` or ``lamb`` (see ``make_optimizer``).
        lr: learning rate.
        weight_decay: weight decay of the optimizer.
        decay_weights_only: no weight decay on biases, normalisation parameters and tokens.
        schedule: learning-rate multiplier as a function of progress in [0, 1], stepped after every
            optimizer step (e.g. ``WarmupCosine``); None = constant.
        drop_last: full batches only (MoCo, MaskCAE); False also trains on the last, smaller batch.
        min_batch: the fewest windows a batch may have (contrastive losses and BatchNorm need 2).
        loss_name: name of the logged per-epoch loss (``pretrain_loss``, ``moco_loss`` ...).
    """

    epochs: int
    batch_size: int
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    decay_weights_only: bool = False
    schedule: Callable[[float], float] | None = None
    drop_last: bool = True
    min_batch: int = 2
    loss_name: str = "pretrain_loss"


def pretrain_loop(build: Callable[[], nn.Module], data: Inputs | Dataset, step: Step, settings: PretrainSettings,
                  ctx: MethodContext) -> tuple[nn.Module, dict[str, list[float]]]:
    """Build the network (seeded), train it with ``step`` over shuffled batches of ``data`` and
    return ``(network, history)``; ``history[name]`` is the per-epoch mean of every metric.

    ``data`` is one tensor, a dict of tensors (one per modality, same rows) or a ``Dataset`` of
    tensors (e.g. an image folder, read batch by batch)."""
    n = len(data) if isinstance(data, Dataset) else n_rows(data)
    if n < settings.min_batch:
        raise ConfigError(f"pre-training needs at least {settings.min_batch} unlabeled windows or images, but got "
                          f"{n}; give more data (or fewer test/validation subjects)")
    torch.manual_seed(ctx.seed)
    model = build().to(ctx.device).train()
    batch_size = max(settings.min_batch, min(settings.batch_size, n))
    steps_per_epoch = n // batch_size if settings.drop_last or n % batch_size < settings.min_batch \
        else n // batch_size + 1
    optimizer = make_optimizer(model, settings.optimizer, settings.lr, settings.weight_decay,
                               settings.decay_weights_only)
    scheduler = None
    if settings.schedule is not None:
        scheduler = step_scheduler(optimizer, settings.schedule, settings.epochs * steps_per_epoch)
    order_generator = torch.Generator().manual_seed(ctx.seed)
    step_generator = torch.Generator().manual_seed(ctx.seed + 1)
    history: dict[str, list[float]] = {settings.loss_name: []}
    for epoch in range(settings.epochs):
        model.train()
        sums: dict[str, Tensor] = {}
        for index in _batch_indices(n, batch_size, steps_per_epoch, order_generator):
            result = step(model, to_device(_take(data, index), ctx.device), step_generator)
            loss, extra = (result, {}) if isinstance(result, Tensor) else result
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            for name, value in {settings.loss_name: loss, **extra}.items():
                value = value.detach() if isinstance(value, Tensor) else torch.tensor(float(value))
                sums[name] = sums[name] + value if name in sums else value
        means = {name: float(total) / steps_per_epoch for name, total in sums.items()}  # one sync per metric
        for name, value in means.items():
            history.setdefault(name, []).append(value)
        ctx.log_metrics(means, epoch)
        loss_value = means[settings.loss_name]
        if loss_value != loss_value or abs(loss_value) == float("inf"):
            raise ConfigError(f"pre-training diverged ({settings.loss_name} {loss_value}) at epoch {epoch}; "
                              f"lower the pre-training learning rate (lr={settings.lr})")
    return model, history


def _batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[Tensor]:
    order = torch.randperm(n, generator=generator)
    for start in range(0, steps * batch_size, batch_size):
        yield order[start : start + batch_size]


def _take(data: Inputs | Dataset, index: Tensor) -> Inputs:
    if isinstance(data, Dataset):
        return torch.stack([data[int(i)] for i in index])
    return take(data, index)
