"""Where a trial's wall time goes: data preparation, training, MLflow logging, Optuna storage.

Runs a default-budget supervised search on the embedded ``watch`` dataset in a fresh temporary
workspace (SQLite Optuna storage + SQLite MLflow backend, as a user gets by default) and prints
one JSON object. Target (issue 2): everything except training is at most 5% of trial time.

    python benchmarks/overhead.py [--trials 6] [--dataset watch] [--budget 0.2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from automl_har.engines import SearchSpec
from automl_har.engines.optuna import search
from automl_har.objectives import ExperimentSpec, Protocol, check_experiment
from automl_har.objectives.prepared import _prepare
from automl_har.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--dataset", default="watch")
    parser.add_argument("--budget", type=float, default=0.2)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()

    experiment = ExperimentSpec(method="supervised", dataset=args.dataset, protocol=Protocol(), budget=args.budget)
    started = time.perf_counter()
    check_experiment(experiment)
    data_preparation_once = time.perf_counter() - started  # load + window + split + normalize, cached per study

    with tempfile.TemporaryDirectory() as tmp:
        spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(tmp), n_trials=args.trials,
                          sampler=args.sampler, pruner="median")
        started = time.perf_counter()
        result = search(spec)
        search_wall = time.perf_counter() - started

    trials = []
    for t in result.trials:
        row = {"number": t.number, "state": t.state, "wall_s": round(t.wall_seconds, 4)}
        row.update({f"{k}_s": round(v, 4) for k, v in t.seconds.items()})
        overhead = t.wall_seconds - t.seconds.get("training", 0.0)
        row["non_training_fraction"] = round(overhead / t.wall_seconds, 4)
        trials.append(row)
    total_wall = sum(t.wall_seconds for t in result.trials)
    totals = {key: sum(t.seconds.get(key, 0.0) for t in result.trials) for key in ("data", "training", "mlflow", "optuna")}
    other = total_wall - sum(totals.values())
    non_training = total_wall - totals["training"]
    print(json.dumps({
        "benchmark": "overhead",
        "dataset": args.dataset,
        "method": "supervised",
        "budget": args.budget,
        "trials": len(result.trials),
        "per_trial_mean_s": {
            "wall": round(total_wall / len(result.trials), 4),
            **{k: round(v / len(result.trials), 4) for k, v in totals.items()},
            "other": round(other / len(result.trials), 4),
        },
        "non_training_fraction": round(non_training / total_wall, 4),
        "target_non_training_fraction": 0.05,
        "meets_target": non_training / total_wall <= 0.05,
        "once_per_study_s": {
            "data_preparation": round(data_preparation_once, 4),
            "study_setup_and_plots": round(search_wall - total_wall, 4),
        },
        "trials_detail": trials,
    }, indent=2))
    _prepare.cache_clear()


if __name__ == "__main__":
    main()
