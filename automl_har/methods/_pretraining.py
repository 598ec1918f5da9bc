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
Metrics are summed on the device and read once per epoch: no host sync per batch. A step keeps
no state of its own: what persists across batches (MoCo's queue) is a buffer of the module.

Pre-training epochs as a fidelity (``ctx.pretrain_fraction``): the learning-rate schedule always
spans the whole budget-scaled pre-training, ``settings.epochs`` epochs, and a fraction *truncates*
that trajectory to ``max(1, round(fraction * settings.epochs))`` epochs. A run at fraction 1/3 is
therefore exactly the first third of the run at fraction 1. (A schedule spanning only the
truncated epochs would anneal a short run early, and it would not be a prefix of a long one.)

Inside a cached stage (``ctx.stage_in_progress``, set by ``MethodContext.cached``) the loop stores
resumable checkpoints in ``ctx.cache`` under the stage ``<stage>.checkpoints`` and the key
``<fraction-free key>-epoch<e>``: at the epochs ``round(f * settings.epochs)`` of
``ctx.checkpoint_fractions`` that the run passes, and at its own end (not at the end of the whole
trajectory: no run is longer, so none would continue from it). A checkpoint holds the network,
optimizer and scheduler states, the batch-order and step generators, torch's global RNG (dropout)
and the history so far. A run first looks for the longest stored checkpoint of its key at or
before its own last epoch and continues from it (tag ``pretrain.resumed_from_epoch``), bit-identical
to an uninterrupted run under the same seed; the resumed epochs' metrics are not logged again, but
the returned history is complete. Without a cache nothing is stored and every run starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Union

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from automl_har.cache import StageCache
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
    tensors (e.g. an image folder, read batch by batch). The loop runs the first
    :func:`truncated_epochs` of ``settings.epochs`` (``ctx.pretrain_fraction``), continuing from
    a stored checkpoint where the cache holds one (see the module docstring)."""
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
    if settings.schedule is not None:  # over the whole trajectory, whatever fraction of it runs
        scheduler = step_scheduler(optimizer, settings.schedule, settings.epochs * steps_per_epoch)
    run = _Run(model, optimizer, scheduler, torch.Generator().manual_seed(ctx.seed),
               torch.Generator().manual_seed(ctx.seed + 1), ctx.device, steps_per_epoch)
    history: dict[str, list[float]] = {settings.loss_name: []}
    stop = truncated_epochs(ctx.pretrain_fraction, settings.epochs)
    checkpoints = _Checkpoints.of(ctx)
    start = 0
    if checkpoints is not None and (found := checkpoints.latest(stop, steps_per_epoch)) is not None:
        start, history = run.restore(found), found["history"]
        ctx.set_tag("pretrain.resumed_from_epoch", str(start))
    stored = {truncated_epochs(f, settings.epochs) for f in ctx.checkpoint_fractions} | {stop}
    for epoch in range(start, stop):
        model.train()
        sums: dict[str, Tensor] = {}
        for index in _batch_indices(n, batch_size, steps_per_epoch, run.order_generator):
            result = step(model, to_device(_take(data, index), ctx.device), run.step_generator)
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
        if checkpoints is not None and epoch + 1 in stored and epoch + 1 < settings.epochs:
            checkpoints.put(epoch + 1, run.state(epoch + 1, history))
    return model, history


def truncated_epochs(fraction: float, epochs: int) -> int:
    """The epochs a pre-training of ``epochs`` runs at ``fraction`` of its trajectory:
    ``max(1, round(fraction * epochs))``, and 0 when ``epochs`` is 0."""
    return 0 if epochs == 0 else min(epochs, max(1, round(fraction * epochs)))


@dataclass
class _Run:
    """What a pre-training changes from epoch to epoch, so a checkpoint can save and restore it."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    order_generator: torch.Generator
    step_generator: torch.Generator
    device: torch.device
    steps_per_epoch: int

    def state(self, epoch: int, history: Mapping[str, list[float]]) -> dict[str, Any]:
        """Everything an uninterrupted run would carry into ``epoch`` (0-based: epochs done)."""
        return {
            "format": CHECKPOINT_FORMAT, "epoch": epoch, "steps_per_epoch": self.steps_per_epoch,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "order_generator": self.order_generator.get_state(), "step_generator": self.step_generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout draws from it
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "history": {name: list(values) for name, values in history.items()},
        }

    def restore(self, checkpoint: Mapping[str, Any]) -> int:
        """Load a :meth:`state` back; returns its epoch (the number of epochs done)."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.order_generator.set_state(checkpoint["order_generator"])
        self.step_generator.set_state(checkpoint["step_generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        if self.device.type == "cuda" and checkpoint["cuda_rng"] is not None:
            torch.cuda.set_rng_state(checkpoint["cuda_rng"], self.device)
        return int(checkpoint["epoch"])


#: the ``format`` of a stored pre-training checkpoint; another format is never resumed from
CHECKPOINT_FORMAT = "autohar-pretrain-checkpoint/1"


@dataclass(frozen=True)
class _Checkpoints:
    """The resumable checkpoints of one cached stage: ``<stage>.checkpoints/<key>-epoch<e>``."""

    cache: StageCache
    stage: str
    key: str

    @classmethod
    def of(cls, ctx: MethodContext) -> _Checkpoints | None:
        """The checkpoints of the stage being computed, or None (no cache, or not in a stage)."""
        if ctx.cache is None or ctx.stage_in_progress is None:
            return None
        stage, key = ctx.stage_in_progress
        return cls(ctx.cache, f"{stage}.checkpoints", key)

    def put(self, epoch: int, state: Mapping[str, Any]) -> None:
        self.cache.put(self.stage, f"{self.key}-epoch{epoch}", dict(state))

    def latest(self, stop: int, steps_per_epoch: int) -> dict[str, Any] | None:
        """The stored checkpoint with the most epochs, at most ``stop``, or None."""
        prefix = f"{self.key}-epoch"
        epochs = sorted((int(k[len(prefix):]) for k in self.cache.keys(self.stage, prefix)
                         if k[len(prefix):].isdigit()), reverse=True)
        for epoch in (e for e in epochs if 0 < e <= stop):
            found = self.cache.get(self.stage, f"{prefix}{epoch}")  # a corrupt file reads as None
            if isinstance(found, dict) and found.get("format") == CHECKPOINT_FORMAT \
                    and found.get("steps_per_epoch") == steps_per_epoch:
                return found
        return None


def _batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[Tensor]:
    order = torch.randperm(n, generator=generator)
    for start in range(0, steps * batch_size, batch_size):
        yield order[start : start + batch_size]


def _take(data: Inputs | Dataset, index: Tensor) -> Inputs:
    if isinstance(data, Dataset):
        return torch.stack([data[int(i)] for i in index])
    return take(data, index)
