"""Learning-rate schedules shared by methods: linear warm-up followed by cosine annealing.

A schedule is a multiplier of the base learning rate as a function of training *progress* in
[0, 1] (optimizer steps done / total steps), so the same object serves step-wise and
epoch-wise stepping and any epoch budget. Papers state warm-up in epochs; convert with
``warmup = warmup_epochs / epochs``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from automl_har.errors import ConfigError


@dataclass(frozen=True)
class WarmupCosine:
    """Linear warm-up from ``start`` to 1 over the first ``warmup`` fraction, then cosine to ``end``.

    Attributes:
        warmup: fraction of training spent warming up, in [0, 1).
        start: multiplier at progress 0 (e.g. 1e-3 for a warm-up from lr/1000).
        end: multiplier at progress 1 (0 = anneal to zero, as in SGDR/MAE).

    Example:
        IMG2IMU's linear evaluation (1e-8 → 1e-5 in 10 of 50 epochs, cosine to 1e-6) is
        ``WarmupCosine(warmup=0.2, start=1e-3, end=0.1)`` with base lr 1e-5.
    """

    warmup: float = 0.0
    start: float = 0.0
    end: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"warm-up fraction must be in [0, 1), but got warmup={self.warmup}")
        if self.start < 0 or self.end < 0:
            raise ConfigError(f"schedule multipliers must be >= 0, but got start={self.start}, end={self.end}")

    def __call__(self, progress: float) -> float:
        progress = min(max(progress, 0.0), 1.0)
        if progress < self.warmup:
            return self.start + (1.0 - self.start) * progress / self.warmup
        cosine_progress = (progress - self.warmup) / (1.0 - self.warmup)
        return self.end + (1.0 - self.end) * 0.5 * (1.0 + math.cos(math.pi * cosine_progress))


def step_scheduler(
    optimizer: torch.optim.Optimizer, schedule: WarmupCosine, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that applies ``schedule`` over ``total_steps`` calls of ``scheduler.step()``."""
    total = max(1, int(total_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule(step / total))
