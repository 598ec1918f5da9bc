"""A synthetic three-domain leave-one-dataset-out row of ``combined`` (issue 14), timed.

Three synthetic datasets share 4 classes and differ in subjects, gains, offsets and noise
(``write_synthetic_domains``). For one target (domain 0, the others are sources) and one
architecture, every strategy runs at every ratio through ``run_trial`` with one stage cache, as
``autohar lodo`` runs the cells of a row. It measures:

* the first trial's seconds (it pre-trains: a cache miss) and every later trial's (hits);
* the share of a row's time the single pre-training takes, and how much the cache saves
  against pre-training once per cell;
* each cell's test macro-F1 mean over the label draws (zero-shot: PU only).

Prints one JSON object.

    python benchmarks/combined_lodo.py [--architecture deepconvlstm] [--budget 0.05] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from automl_har.cache import StageCache
from automl_har.data.loaders.synthetic import write_synthetic_domains
from automl_har.objectives import ExperimentSpec, Protocol, TrialHooks, run_trial
from automl_har.objectives.prepared import prepare_folds

RATIOS = (0.0, 0.01, 0.1, 0.7)
STRATEGIES = ("Rd", "PF", "PU")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="deepconvlstm")
    parser.add_argument("--budget", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--windows", type=int, default=480, help="windows per synthetic domain")
    args = parser.parse_args()
    torch.set_num_threads(1)

    folder = Path(tempfile.mkdtemp(prefix="combined-lodo-"))
    target, *sources = (str(p) for p in write_synthetic_domains(folder / "pool", n_windows=args.windows,
                                                                 window_s=2.56, rate_hz=50.0))
    cache, tags = StageCache(folder / "cache"), {}
    hooks = TrialHooks(cache=cache, set_tag=tags.__setitem__)
    started = time.perf_counter()
    base = ExperimentSpec(method="combined", dataset=target, sources=tuple(sources), label_map="identity",
                          normalization="sensor", budget=args.budget,
                          protocol=Protocol(labels_per_class=None, label_ratio=0.1, repeats=args.repeats,
                                            split="within_subject", ratio_of="dataset", draw_by_subject=True))
    (fold,) = prepare_folds(base)
    data_seconds = time.perf_counter() - started

    cells, seconds, cache_tags = {}, [], []
    for ratio in RATIOS:
        for strategy in (("PU",) if ratio == 0 else STRATEGIES):
            spec = dataclasses.replace(base, protocol=dataclasses.replace(base.protocol, label_ratio=ratio))
            tags.clear()
            began = time.perf_counter()
            result = run_trial({"architecture": args.architecture, "strategy": strategy}, spec, hooks)
            seconds.append(time.perf_counter() - began)
            cache_tags.append(tags.get("cache.combined_pretrain", "none"))
            cells[f"{100 * ratio:g}% {strategy}"] = round(sum(result.test_f1) / len(result.test_f1), 4)
    first_miss = cache_tags.index("miss")
    pretrain_seconds = seconds[first_miss] - min(s for s, t in zip(seconds, cache_tags) if t == "hit")
    pretrained_cells = sum(1 for t in cache_tags if t in ("hit", "miss"))
    row_seconds = sum(seconds)
    print(json.dumps({
        "architecture": args.architecture, "budget": args.budget, "repeats": args.repeats,
        "windows_per_domain": args.windows, "n_train_target": len(fold.train), "n_sources": len(fold.sources),
        "data_seconds": round(data_seconds, 2),
        "trial_seconds": [round(s, 2) for s in seconds],
        "cache": cache_tags,
        "pretrain_seconds_estimate": round(pretrain_seconds, 2),
        "row_seconds": round(row_seconds, 2),
        "row_seconds_without_cache_estimate": round(row_seconds + pretrain_seconds * (pretrained_cells - 1), 2),
        "test_macro_f1": cells,
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
