"""Every registered method on CUDA vs CPU: pre-train + fine-tune + predict, stage cache included.

For each method, on tiny data shaped like UTD-MHAD (acc + gyro at 50 Hz, 100 samples; skeleton
20 joints x 3 at 30 Hz, 60 frames; 4 classes, class-dependent signals):

1. a first fit on ``cpu`` and one on ``cuda``, each with its own stage cache (misses);
2. a second fit on ``cuda`` with the same params and cache: pre-training and frozen-encoder
   embeddings now come from the cache (loaded on the CPU), which is where device mix-ups
   happen (e.g. cached embeddings fed to a head on the GPU);
3. ``predict`` with the trial's context (cached embeddings) and without it (the whole network).

CUDA and CPU logits must agree within ``--atol`` + ``--rtol`` * max|logit| (training is short,
so the two trajectories stay close), or their predicted classes must agree on at least
``--min-agreement`` of the windows. Prints one JSON object with per-method seconds on CPU and
CUDA and the differences; exits 1 when a method fails.

Needs only torch, numpy, scipy and scikit-learn with the repository on ``PYTHONPATH`` (the
method layer imports neither optuna, mlflow nor ray, and this script avoids the dataset
loaders, which use pandas):

    PYTHONPATH=. python benchmarks/device_check.py

Without CUDA it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from automl_har.cache import StageCache
from automl_har.data import WindowedData
from automl_har.methods import MethodContext, get_method, method_names

CLASSES = ["walk", "jump", "wave", "sit"]


def utd_shaped_windows(n_per_class: int = 12, n_subjects: int = 4, seed: int = 0) -> WindowedData:
    """Class-dependent sines plus noise, shaped like UTD-MHAD windows (IMU 50 Hz, skeleton 30 Hz)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    rng.shuffle(y)
    n = len(y)

    def signal(length: int, channels: int, rate: float) -> np.ndarray:
        t = np.arange(length) / rate
        freq = (1.0 + y)[:, None, None]  # one frequency per class
        phase = rng.uniform(0, 2 * np.pi, (n, 1, channels))
        return (np.sin(2 * np.pi * freq * t[None, :, None] + phase) + 0.3 * rng.standard_normal((n, length, channels))
                ).astype(np.float32)

    modalities = {"acc": signal(100, 3, 50.0), "gyro": signal(100, 3, 50.0), "skeleton": signal(60, 60, 30.0)}
    channels = {"acc": ["acc_x", "acc_y", "acc_z"], "gyro": ["gyro_x", "gyro_y", "gyro_z"],
                "skeleton": [f"joint{j}_{a}" for j in range(20) for a in "xyz"]}
    return WindowedData(modalities, y.astype(np.int64), (np.arange(n) % n_subjects).astype(np.int64), list(CLASSES),
                        {"acc": 50.0, "gyro": 50.0, "skeleton": 30.0}, channels)


def fit_and_predict(name: str, data: WindowedData, device: str, cache: StageCache, seed: int = 0):
    """``(logits with the trial's context, logits of the whole network, seconds)`` of one fit."""
    method = get_method(name)
    if not method.tags.get("multimodal"):
        data = data.select_modalities(["acc", "gyro"])
    params = method.parse_params(method.tiny_params)
    ctx = MethodContext(device=torch.device(device), seed=seed, n_classes=data.n_classes, cache=cache)
    train, val = data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]
    started = time.perf_counter()
    torch.manual_seed(seed)
    if method.tags.get("pretraining_data") == "labeled_sources":  # e.g. combined: two other "datasets"
        sources, sources_val = (utd_shaped_windows(seed=s).select_modalities(list(data.modalities)) for s in (1, 2))
        state = method.pretrain_sources(sources, sources_val, params, ctx)
    else:
        state = method.pretrain(train.without_labels(), params, ctx)
    model = method.finetune(state, train, val, params, ctx)
    with_context = method.predict(model, val, ctx)
    whole_network = method.predict(model, val)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return with_context, whole_network, time.perf_counter() - started


def compare(cpu: np.ndarray, cuda: np.ndarray, atol: float, rtol: float, min_agreement: float) -> dict:
    diff = float(np.abs(cpu - cuda).max()) if cpu.size else 0.0
    bound = atol + rtol * float(np.abs(cpu).max()) if cpu.size else atol
    agreement = float((cpu.argmax(1) == cuda.argmax(1)).mean()) if cpu.size else 1.0
    return {"max_abs_diff": round(diff, 6), "bound": round(bound, 6), "class_agreement": round(agreement, 4),
            "ok": bool(np.isfinite(cuda).all() and (diff <= bound or agreement >= min_agreement))}


def check_method(name: str, data: WindowedData, args) -> dict:
    with tempfile.TemporaryDirectory() as root:
        cpu_cache, cuda_cache = StageCache(Path(root) / "cpu"), StageCache(Path(root) / "cuda")
        cpu_ctx, cpu_whole, cpu_s = fit_and_predict(name, data, "cpu", cpu_cache)
        cuda_ctx, cuda_whole, cuda_s = fit_and_predict(name, data, args.device, cuda_cache)
        cached_ctx, cached_whole, cached_s = fit_and_predict(name, data, args.device, cuda_cache)  # cache hits
    checks = {
        "cuda_vs_cpu": compare(cpu_ctx, cuda_ctx, args.atol, args.rtol, args.min_agreement),
        "cuda_whole_network_vs_cpu": compare(cpu_whole, cuda_whole, args.atol, args.rtol, args.min_agreement),
        "cuda_cached_vs_cuda": compare(cuda_ctx, cached_ctx, args.atol, args.rtol, args.min_agreement),
        "cuda_cached_whole_vs_cached": compare(cached_whole, cached_ctx, args.atol, args.rtol, args.min_agreement),
    }
    return {"cpu_seconds": round(cpu_s, 3), "cuda_seconds": round(cuda_s, 3), "cuda_cached_seconds": round(cached_s, 3),
            **checks, "ok": all(c["ok"] for c in checks.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(method_names()), help="comma-separated (default: all)")
    parser.add_argument("--atol", type=float, default=1e-3)
    parser.add_argument("--rtol", type=float, default=5e-2)
    parser.add_argument("--min-agreement", type=float, default=0.95)
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU (cpu: a self-check)")
    args = parser.parse_args()
    result: dict = {"benchmark": "device_check", "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
                    "compared_device": args.device}
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        result["skipped"] = "no CUDA device: nothing to compare (run this on a GPU machine)"
        print(json.dumps(result, indent=2))
        return 0
    result["device_name"] = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    data = utd_shaped_windows()
    result["methods"] = {}
    for name in args.methods.split(","):
        try:
            result["methods"][name] = check_method(name, data, args)
        except Exception as err:  # noqa: BLE001 - report every method, then fail
            result["methods"][name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                                       "traceback": traceback.format_exc(limit=6)}
    result["ok"] = all(entry["ok"] for entry in result["methods"].values())
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
