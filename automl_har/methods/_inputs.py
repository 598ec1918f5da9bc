"""Network inputs, as one tensor or one tensor per modality: the input layouts methods declare
(``Method.input_layout``) and batched inference over them.

A layout turns the windows of every modality, ``{name: (N, T_m, C_m)}`` tensors, into what a
network takes. It is written once, in tensor operations only, so the same function builds a
trial's inputs (:meth:`Method.model_inputs <automl_har.methods._base.Method.model_inputs>`) and
runs inside an exported TorchScript model (:mod:`automl_har.export._script`), which therefore
takes raw windows and needs no Python at deployment.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from automl_har.data import WindowedData
from automl_har.data.tensors import shared_tensor

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


def stacked_channels_first(xs: dict[str, Tensor]) -> Tensor:
    """All modalities as one ``(N, sum C_m, T_max)`` tensor (shorter ones linearly resampled)."""
    t_max = max(x.shape[1] for x in xs.values())
    parts = []
    for x in xs.values():
        part = x.transpose(1, 2)  # (N, T_m, C_m) -> (N, C_m, T_m)
        if part.shape[-1] != t_max:
            part = F.interpolate(part, size=t_max, mode="linear", align_corners=False)
        parts.append(part)
    return torch.cat(parts, dim=1).contiguous()


#: name -> layout (input: modality -> (N, T_m, C_m), in the model's modality order)
LAYOUTS: dict[str, Callable[[dict[str, Tensor]], Any]] = {
    "stacked_channels_first": stacked_channels_first,  # (N, C, T): a 1D CNN over every axis
    "stacked_image": lambda xs: stacked_channels_first(xs).transpose(1, 2).unsqueeze(1).contiguous(),  # (N, 1, T, C)
    "per_modality_channels_first": lambda xs: {k: v.transpose(1, 2).contiguous() for k, v in xs.items()},
    "per_modality_channels_last": lambda xs: dict(xs),
}


def window_tensors(data: WindowedData) -> dict[str, Tensor]:
    """Every modality of ``data`` as an ``(N, T_m, C_m)`` tensor (no copy)."""
    return {name: shared_tensor(x) for name, x in data.modalities.items()}


def stack_modalities(data: WindowedData) -> Tensor:
    """``data`` in the ``stacked_channels_first`` layout: ``(N, sum C_m, T_max)``."""
    return stacked_channels_first(window_tensors(data))
