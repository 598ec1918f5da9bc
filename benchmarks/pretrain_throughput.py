"""Throughput of the shared pre-training loop vs a bare PyTorch loop on the same model (issue 11, item 4).

Two workloads, each run both ways on the same network, optimizer, batches and step:

- ``maskcae``: the masked convolutional autoencoder (sparse FCN encoder + fusion decoder), LAMB
  with weight decay on conv weights, the paper's preset windows (30 Hz, 1 s, acc + gyro:
  ``(B, 1, 30, 6)``);
- ``cosmo_stage1``: Cosmo's per-group encoders + projection heads, SGD, the contrastive fusion loss
  on two modality groups shaped like UTD-MHAD (acc+gyro ``(B, 150, 6)``, skeleton ``(B, 40, 60)``).

The shared side is :func:`automl_har.methods._pretraining.pretrain_loop` (seeding, shuffled
batches, warm-up + cosine schedule, per-epoch metrics, divergence check). The bare side is
``for batch in batches: loss = step(batch); zero_grad; backward; step`` over batches cut once, in
order (no shuffling, no schedule, no metrics); building the network is timed on both sides.
Runs alternate and the best of ``--repeats`` is kept, to damp the noise of a shared CPU.

    python benchmarks/pretrain_throughput.py [--windows 1024] [--epochs 3] [--threads 1]

Prints one JSON object; target: ``ratio >= 0.95`` for both workloads.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import torch
from torch import nn

from automl_har.methods import MethodContext
from automl_har.methods._cosmo_fusion import ContrastiveFusionNet, GroupEncoders
from automl_har.methods._inputs import take
from automl_har.methods._optim import make_optimizer
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop
from automl_har.methods._schedules import WarmupCosine
from automl_har.methods.cosmo import CosmoParams, contrastive_fusion_step, encoder_sizes
from automl_har.methods.maskcae import MaskCAEParams, masked_reconstruction_step, scaled_lr
from automl_har.models.maskcae_decoder import MaskedConvAutoencoder

TARGET_RATIO = 0.95


def shared_windows_per_second(build, data, step, settings: PretrainSettings) -> float:
    started = time.perf_counter()
    pretrain_loop(build, data, step, settings, MethodContext(seed=0))
    seconds = time.perf_counter() - started
    return settings.epochs * (_rows(data) // settings.batch_size) * settings.batch_size / seconds


def bare_windows_per_second(build, data, step, settings: PretrainSettings) -> float:
    size = settings.batch_size
    batches = [take(data, torch.arange(i, i + size)) for i in range(0, _rows(data) - size + 1, size)]
    started = time.perf_counter()  # building the network counts on both sides
    torch.manual_seed(0)
    model = build().train()
    optimizer = make_optimizer(model, settings.optimizer, settings.lr, settings.weight_decay,
                               settings.decay_weights_only)
    generator = torch.Generator().manual_seed(1)
    for _ in range(settings.epochs):
        for batch in batches:
            loss = step(model, batch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    return settings.epochs * len(batches) * size / seconds


def _rows(data) -> int:
    return len(data) if isinstance(data, torch.Tensor) else len(next(iter(data.values())))


def maskcae_workload(windows: int, batch: int, epochs: int) -> tuple[Callable[[], nn.Module], object, object, PretrainSettings]:
    params = MaskCAEParams(pretrain_batch_size=batch)
    x = torch.randn(windows, 1, 30, 6, generator=torch.Generator().manual_seed(0))
    settings = PretrainSettings(epochs=epochs, batch_size=batch, optimizer="lamb",
                                lr=scaled_lr(params.pretrain_lr, batch), weight_decay=params.pretrain_weight_decay,
                                decay_weights_only=True, schedule=WarmupCosine(warmup=params.pretrain_warmup))

    def build() -> nn.Module:
        return MaskedConvAutoencoder(params.mask_ratio, params.decoder_kernel, params.norm_loss,
                                     decoder_width=params.decoder_width)

    return build, x, masked_reconstruction_step, settings


def cosmo_workload(windows: int, batch: int, epochs: int):
    params = CosmoParams(pretrain_batch_size=batch)
    generator = torch.Generator().manual_seed(0)
    data = {"acc": torch.randn(windows, 150, 3, generator=generator), "gyro": torch.randn(windows, 150, 3, generator=generator),
            "skeleton": torch.randn(windows, 40, 60, generator=generator)}
    groups = {"acc+gyro": ["acc", "gyro"], "skeleton": ["skeleton"]}
    channels, lengths = {"acc+gyro": 6, "skeleton": 60}, {"acc+gyro": 150, "skeleton": 40}
    kinds = {"acc+gyro": "inertial", "skeleton": "skeleton"}
    settings = PretrainSettings(epochs=epochs, batch_size=batch, optimizer="sgd", lr=params.pretrain_lr,
                                weight_decay=params.weight_decay, drop_last=False, loss_name="contrastive_loss")

    def build() -> nn.Module:
        encoders = GroupEncoders(groups, channels, lengths, kinds, encoder_sizes(params))
        return ContrastiveFusionNet(encoders, params.feature_dim, params.projection_dim)

    return build, data, contrastive_fusion_step(params, len(groups)), settings


def measure(workload, repeats: int) -> dict:
    build, data, step, settings = workload
    warm = PretrainSettings(**{**settings.__dict__, "epochs": 1})
    bare_windows_per_second(build, data, step, warm)  # warm-up: allocator, oneDNN kernels
    shared, bare = [], []
    for _ in range(repeats):
        shared.append(shared_windows_per_second(build, data, step, settings))
        bare.append(bare_windows_per_second(build, data, step, settings))
    ratio = max(shared) / max(bare)
    return {"shared_windows_per_s": round(max(shared), 1), "bare_windows_per_s": round(max(bare), 1),
            "ratio": round(ratio, 3), "meets_target": ratio >= TARGET_RATIO,
            "all_shared": [round(v, 1) for v in shared], "all_bare": [round(v, 1) for v in bare]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1024)
    parser.add_argument("--maskcae-batch", type=int, default=256)
    parser.add_argument("--cosmo-batch", type=int, default=64, help="the paper's stage-1 batch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 suits a shared CPU)")
    parser.add_argument("--only", choices=("maskcae", "cosmo_stage1"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workloads = {"maskcae": lambda: maskcae_workload(args.windows, args.maskcae_batch, args.epochs),
                 "cosmo_stage1": lambda: cosmo_workload(args.windows // 2, args.cosmo_batch, args.epochs)}
    result = {"benchmark": "pretrain_throughput", "target_ratio": TARGET_RATIO, "epochs": args.epochs,
              "threads": args.threads, "repeats": args.repeats}
    for name, make in workloads.items():
        if args.only in (None, name):
            result[name] = measure(make(), args.repeats)
    result["meets_target"] = all(result[name]["meets_target"] for name in workloads if name in result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
