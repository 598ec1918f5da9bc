"""On-device cost of a model: batch-1 latency on this CPU, parameter count and MACs.

MACs are counted with forward hooks on the layers that carry almost all of the arithmetic of
the networks autohar builds (Conv1d/2d, Linear, LSTM/GRU); elementwise work (norms, activations,
pooling) is left out, as in the usual ``thop``/``ptflops`` convention. No extra dependency.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Any, Sequence

import torch
from torch import Tensor, nn

#: runs whose median is the latency, after :data:`WARMUP_RUNS` untimed ones
TIMED_RUNS = 50
WARMUP_RUNS = 10
#: batch-1 inference on one thread, as on a phone core: on a shared multi-core CPU, intra-op
#: threads spin-wait for each other and make a sub-millisecond model look 1000x slower
LATENCY_THREADS = 1


def count_parameters(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def _conv_macs(layer: nn.Module, out: Tensor) -> int:
    kernel = int(torch.tensor(layer.kernel_size).prod())
    return int(out.numel() // out.shape[0]) * (layer.in_channels // layer.groups) * kernel


def _rnn_macs(layer: nn.RNNBase, inp: Tensor) -> int:
    gates = {"LSTM": 4, "GRU": 3}.get(layer.mode, 1)
    steps = inp.shape[0 if not layer.batch_first else 1] if inp.dim() == 3 else inp.shape[0]
    directions = 2 if layer.bidirectional else 1
    total, size_in = 0, layer.input_size
    for _ in range(layer.num_layers):
        total += directions * gates * layer.hidden_size * (size_in + layer.hidden_size) * steps
        size_in = layer.hidden_size * directions
    return total


def count_macs(module: nn.Module, inputs: Sequence[Any]) -> int:
    """Multiply-accumulates of one forward pass over ``inputs`` (one window: batch 1), per window."""
    total = [0]

    def hook(layer: nn.Module, args: tuple, out: Any) -> None:
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            total[0] += _conv_macs(layer, out) * out.shape[0]
        elif isinstance(layer, nn.Linear):
            total[0] += int(out.numel()) * layer.in_features
        elif isinstance(layer, nn.RNNBase) and args and isinstance(args[0], Tensor):
            total[0] += _rnn_macs(layer, args[0]) * (args[0].shape[0] if layer.batch_first else args[0].shape[1])

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.RNNBase))]
    try:
        with torch.no_grad():
            module.eval()(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    batch = _batch_size(inputs)
    return int(total[0] // max(batch, 1))


def _batch_size(inputs: Sequence[Any]) -> int:
    first = inputs[0]
    if isinstance(first, dict):
        first = next(iter(first.values()))
    return int(first.shape[0])


def latency_ms(module: nn.Module, inputs: Sequence[Any], runs: int = TIMED_RUNS, warmup: int = WARMUP_RUNS,
               threads: int = LATENCY_THREADS) -> float:
    """Median wall-clock milliseconds of ``module(*inputs)`` (batch 1) after ``warmup`` runs, on
    ``threads`` torch threads."""
    module.eval()
    times = []
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            for _ in range(warmup):
                module(*inputs)
            for _ in range(runs):
                started = time.perf_counter()
                module(*inputs)
                times.append((time.perf_counter() - started) * 1000.0)
    finally:
        torch.set_num_threads(previous)
    return float(statistics.median(times))


def measure(module: nn.Module, inputs: Sequence[Any], runs: int = TIMED_RUNS,
            timed_module: nn.Module | None = None) -> dict[str, Any]:
    """Latency (of ``timed_module``, e.g. the TorchScript file, else ``module``), size and MACs.

    ``inputs`` must be a batch of one window.
    """
    return {
        "latency_ms": round(latency_ms(timed_module or module, inputs, runs), 4),
        "n_params": count_parameters(module),
        "macs": count_macs(module, inputs),
        "batch_size": 1,
        "timed_runs": runs,
        "torch_threads": LATENCY_THREADS,
        "cpu": platform.processor() or platform.machine(),
        "device": "cpu",
    }
