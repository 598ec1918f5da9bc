"""Network inputs as one tensor or one tensor per modality, and batched inference over them."""

from __future__ import annotations

from typing import Mapping, Union

import torch
from torch import Tensor, nn

#: a batch of network inputs: one tensor, or one tensor per modality
Inputs = Union[Tensor, Mapping[str, Tensor]]


def take(inputs: Inputs, index: Tensor) -> Inputs:
    """Rows ``index`` of ``inputs`` (a tensor or a dict of tensors)."""
    if isinstance(inputs, Tensor):
        return inputs[index]
    return {k: v[index] for k, v in inputs.items()}


def to_device(inputs: Inputs, device: torch.device) -> Inputs:
    if isinstance(inputs, Tensor):
        return inputs.to(device)
    return {k: v.to(device) for k, v in inputs.items()}


def n_rows(inputs: Inputs) -> int:
    return len(inputs) if isinstance(inputs, Tensor) else len(next(iter(inputs.values())))


@torch.no_grad()
def predict_logits(module: nn.Module, inputs: Inputs, device: torch.device, batch_size: int = 512) -> Tensor:
    module.eval()
    rows = n_rows(inputs)
    out = [
        module(to_device(take(inputs, torch.arange(i, min(i + batch_size, rows))), device)).cpu()
        for i in range(0, rows, batch_size)
    ]
    return torch.cat(out)
