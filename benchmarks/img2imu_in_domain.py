"""IMG2IMU in-domain MoCo (``pretrain_source=windows``) on Daphnet: does its loss fall, and does
its linear probe beat a random encoder (``pretrain_source=random``)?

The protocol of the ``img2imu-daphnet-random`` reproduce target (ankle accelerometer at 50 Hz,
4 s windows, user-wise split of the 5 local patients, 10 labels per class): MoCo pre-trains on
the unlabeled training windows with the windows defaults (``_moco.SOURCE_DEFAULTS``) for
``--pretrain-epochs`` epochs; then both encoders are probed linearly (the paper's fine-tuning,
50 epochs) on ``--repeats`` label draws. Prints one JSON object: the MoCo loss and top-1 per epoch,
the queue size used, seconds, and val / test macro-F1 per source.

    python benchmarks/img2imu_in_domain.py [--data-dir DIR] [--pretrain-epochs 5] [--repeats 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from automl_har.cache import StageCache
from automl_har.methods import MethodContext, get_method
from automl_har.metrics import macro_f1
from automl_har.papers import get_target
from automl_har.objectives.prepared import prepare_folds
from automl_har.search_spaces import get_space

DAPHNET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "daphnet"


def probe(method, state, fold, protocol, params, cache) -> dict:
    """Linear evaluation on every label draw: val and test macro-F1."""
    val_f1, test_f1 = [], []
    for draw in range(protocol.repeats):
        ctx = MethodContext(seed=protocol.draw_seed(draw), cache=cache)
        labeled = fold.train[fold.labeled_draw(protocol, draw)]
        val = fold.validation_for_draw(protocol, draw)
        model = method.finetune(state, labeled, val, params, ctx)
        val_f1.append(macro_f1(val.y, method.predict(model, val, ctx).argmax(1)))
        test_f1.append(macro_f1(fold.test.y, method.predict(model, fold.test, ctx).argmax(1)))
    return {"val_macro_f1": [round(v, 4) for v in val_f1], "test_macro_f1": [round(v, 4) for v in test_f1],
            "val_mean": round(float(np.mean(val_f1)), 4), "val_std": round(float(np.std(val_f1)), 4),
            "test_mean": round(float(np.mean(test_f1)), 4), "test_std": round(float(np.std(test_f1)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(DAPHNET))
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", default=None, help="stage cache folder (default: a temporary one)")
    args = parser.parse_args()

    target = get_target("img2imu-daphnet-random")
    spec = target.experiment(budget=1.0, repeats=args.repeats, data_dir=args.data_dir)
    (fold,) = prepare_folds(spec)
    method = get_method("img2imu")
    defaults = get_space("img2imu").defaults
    out: dict = {"benchmark": "img2imu_in_domain_moco", "protocol": target.notes,
                 "windows": {"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)},
                 "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        cache = StageCache(Path(args.workdir or tmp))
        results = {}
        for source in ("windows", "random"):
            params = method.parse_params({**defaults, "pretrain_source": source, "pretrain_epochs": args.pretrain_epochs})
            curves: dict[str, list[float]] = {}
            tags: dict[str, str] = {}

            def log_epoch(metrics, step, curves=curves, started=time.perf_counter()):
                for k, v in metrics.items():
                    curves.setdefault(k, []).append(round(float(v), 4))
                print(f"epoch {step}: {dict(metrics)} at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

            ctx = MethodContext(seed=spec.protocol.seed, cache=cache, n_classes=fold.train.n_classes,
                                tag_logger=tags.__setitem__, metric_logger=log_epoch)
            started = time.perf_counter()
            state = method.pretrain(fold.train.without_labels(), params, ctx)
            pretrain_s = time.perf_counter() - started
            started = time.perf_counter()
            results[source] = {"pretrain_s": round(pretrain_s, 1), **curves, **probe(method, state, fold, spec.protocol, params, cache),
                               "probe_s": round(time.perf_counter() - started, 1)}
            if source == "windows":
                moco = params.moco("windows")
                results[source]["moco"] = {"lr": moco.lr, "batch_size": moco.batch_size, "momentum": moco.momentum,
                                           "epochs": args.pretrain_epochs, "queue_requested": moco.queue_size,
                                           "queue_used": int(tags["img2imu.moco_queue_size"])}
            print(json.dumps({source: results[source]}), flush=True)
    out["sources"] = results
    out["windows_minus_random_test"] = round(results["windows"]["test_mean"] - results["random"]["test_mean"], 4)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
