"""MaskCAE pre-training throughput: the package's training step vs a bare PyTorch loop.

Both run the same masked autoencoder (sparse FCN encoder + information-fusion decoder), the same
LAMB optimizer and the same batches of synthetic windows (the paper's preset: 30 Hz, 1 s, acc+gyro
-> (B, 1, 30, 6)). The package side is :func:`automl_har.methods.maskcae.pretrain_maskcae`
(shuffling, mask drawing, warm-up + cosine schedule, per-epoch logging); the bare side is a
plain ``for batch: loss = model(batch); backward; step`` loop. Runs alternate and the best of
``--repeats`` is kept for each, to damp the noise of a shared CPU.

Usage: ``python benchmarks/maskcae_throughput.py [--windows 1024] [--epochs 3] [--threads 1]``;
prints one JSON object. Target: ``ratio >= 0.8``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from automl_har.methods import MethodContext
from automl_har.methods._lamb import Lamb
from automl_har.methods.maskcae import MaskCAEParams, pretrain_maskcae, scaled_lr
from automl_har.models.maskcae_decoder import MaskedConvAutoencoder


def package_windows_per_second(x: torch.Tensor, params: MaskCAEParams, epochs: int) -> float:
    logged = []
    ctx = MethodContext(seed=0, metric_logger=lambda metrics, step: logged.append(metrics))
    started = time.perf_counter()
    pretrain_maskcae(x, params, epochs, ctx)
    seconds = time.perf_counter() - started
    batch = min(params.pretrain_batch_size, len(x))
    return epochs * (len(x) // batch) * batch / seconds


def bare_windows_per_second(x: torch.Tensor, params: MaskCAEParams, epochs: int) -> float:
    torch.manual_seed(0)
    model = MaskedConvAutoencoder(params.mask_ratio, params.decoder_kernel, params.norm_loss,
                                  decoder_width=params.decoder_width).train()
    batch = min(params.pretrain_batch_size, len(x))
    optimizer = Lamb(
        model.parameters(), lr=scaled_lr(params.pretrain_lr, batch), weight_decay=params.pretrain_weight_decay
    )
    batches = [x[i : i + batch] for i in range(0, len(x) - batch + 1, batch)]
    started = time.perf_counter()
    for _ in range(epochs):
        for inputs in batches:
            loss = model(inputs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    return epochs * len(batches) * batch / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1024)
    parser.add_argument("--window-length", type=int, default=30)
    parser.add_argument("--sensors", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 suits a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x = torch.randn(args.windows, 1, args.window_length, args.sensors, generator=torch.Generator().manual_seed(0))
    params = MaskCAEParams(pretrain_batch_size=args.batch)
    bare_windows_per_second(x[: args.batch * 2], params, 1)  # warm-up (allocator, oneDNN kernels)
    package, bare = [], []
    for _ in range(args.repeats):
        package.append(package_windows_per_second(x, params, args.epochs))
        bare.append(bare_windows_per_second(x, params, args.epochs))
    result = {
        "benchmark": "maskcae_pretraining_throughput",
        "input_shape": [args.batch, 1, args.window_length, args.sensors],
        "windows": args.windows,
        "epochs": args.epochs,
        "threads": args.threads,
        "package_windows_per_s": round(max(package), 1),
        "bare_windows_per_s": round(max(bare), 1),
        "ratio": round(max(package) / max(bare), 3),
        "target_ratio": 0.8,
        "all_package": [round(v, 1) for v in package],
        "all_bare": [round(v, 1) for v in bare],
    }
    result["meets_target"] = result["ratio"] >= result["target_ratio"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
