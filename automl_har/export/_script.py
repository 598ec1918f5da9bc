"""The deployable network: z-score + the method's input layout + the trained model, as one
TorchScript file (and optionally ONNX).

A method declares how its network reads windows (``Method.input_layout``, one of
:data:`~automl_har.methods._inputs.LAYOUTS`, written in tensor operations); the traced file
applies that same layout, so it takes *raw* windows (one ``(N, T_m, C_m)`` tensor per modality, in
the bundle's modality order) and does everything after windowing itself. A method that declares
no layout (it overrides ``model_inputs``) is exported network-only (``input: network``; predict
then calls ``model_inputs`` in Python), which the bundle's ``autohar.yaml`` records.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from automl_har.errors import ConfigError, DependencyError
from automl_har.methods import LAYOUTS


class DeployedModel(nn.Module):
    """``forward(*windows)``: raw windows per modality -> z-score -> layout -> network -> logits."""

    def __init__(self, network: nn.Module, modalities: list[str], normalization: dict, layout: str) -> None:
        super().__init__()
        self.network, self.modalities, self.layout = network, list(modalities), layout
        for i, name in enumerate(self.modalities):
            self.register_buffer(f"mean_{i}", torch.tensor(normalization["means"][name], dtype=torch.float32))
            self.register_buffer(f"std_{i}", torch.tensor(normalization["stds"][name], dtype=torch.float32))

    def forward(self, *windows: Tensor) -> Tensor:
        xs = {name: (x - getattr(self, f"mean_{i}")) / getattr(self, f"std_{i}")
              for i, (name, x) in enumerate(zip(self.modalities, windows))}
        return self.network(LAYOUTS[self.layout](xs))  # the method's own layout, traced


class NetworkOnly(nn.Module):
    """``forward(*inputs)`` for a network whose inputs stay Python-built (dict inputs as tuple)."""

    def __init__(self, network: nn.Module, keys: list[str] | None) -> None:
        super().__init__()
        self.network, self.keys = network, keys

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.network(dict(zip(self.keys, inputs)) if self.keys else inputs[0])


def as_tuple(inputs: Any) -> tuple[Tensor, ...]:
    return tuple(inputs.values()) if isinstance(inputs, dict) else (inputs,)


def trace(module: nn.Module, example: tuple[Tensor, ...]) -> torch.jit.ScriptModule:
    """``torch.jit.trace`` and check that the trace agrees with eager mode at batch 1 and 3."""
    module.eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
        for n in (1, 3):
            batch = tuple(x[:1].repeat(n, *([1] * (x.dim() - 1))) for x in example)
            if not torch.allclose(traced(*batch), module(*batch), atol=1e-4, rtol=1e-4):
                raise ConfigError(f"the traced model differs from the eager one at batch {n}; "
                                  "the network has input-dependent control flow and cannot be traced")
    return traced


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError as err:
        raise DependencyError('ONNX export needs the onnx package; run pip install -e ".[onnx]"') from err


def save_onnx(module: nn.Module, example: tuple[Tensor, ...], path: Path, input_names: list[str]) -> None:
    """``torch.onnx.export`` with a dynamic batch axis; needs the ``onnx`` extra."""
    require_onnx()
    dynamic = {name: {0: "batch"} for name in input_names}
    # the TorchScript-based exporter needs only onnx; the dynamo one would also need onnxscript
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module.eval(), example, str(path), input_names=input_names, output_names=["logits"],
                          dynamic_axes={**dynamic, "logits": {0: "batch"}}, dynamo=False)
