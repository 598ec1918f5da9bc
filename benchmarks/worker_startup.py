"""Seconds from the start of an ``autohar worker`` process to its first ``study.ask()`` (issue 11, item 9).

A study is prepared the way ``autohar search --workers 2`` prepares it (journal storage, the
spec stored in the study, trial 0 enqueued), then one worker process joins it and runs one
tiny trial (supervised method, synthetic data). The worker is not instrumented: Optuna stamps
``datetime_start`` on a trial when ``ask()`` hands it out, so the time to the first ask is that
stamp minus the moment the process was spawned. Repeated ``--repeats`` times in fresh
workspaces; prints one JSON object with the median.

    python benchmarks/worker_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import tempfile
import time

from automl_har.engines import SearchSpec
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.workspace import Workspace

TARGET_S = 2.0


def _prepared_study(tmp: str) -> SearchSpec:
    """Create the study, its MLflow parent run and trial 0, as the search coordinator does."""
    from automl_har.engines.optuna import prepare_study

    experiment = ExperimentSpec(method="supervised", dataset="synthetic", budget=0.05,
                                protocol=Protocol(labels_per_class=5, repeats=1))
    spec = SearchSpec(experiment, Workspace.resolve(tmp), n_trials=1, sampler="random", pruner="none", workers=2)
    prepare_study(spec)
    return spec


def one_worker(env: dict) -> dict:
    import optuna

    from automl_har.engines import worker_command
    from automl_har.storage import open_storage

    with tempfile.TemporaryDirectory() as tmp:
        spec = _prepared_study(tmp)
        spawned = datetime.datetime.now()
        started = time.perf_counter()
        done = subprocess.run(worker_command(spec.resolved_study_name, spec.storage_url), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"worker failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
        first = min(study.get_trials(deepcopy=False), key=lambda t: t.number)
    return {"to_first_ask_s": round((first.datetime_start - spawned).total_seconds(), 3),
            "trial_s": round((first.datetime_complete - first.datetime_start).total_seconds(), 3),
            "process_s": round(wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as the coordinator sets them
    runs = [one_worker(env) for _ in range(args.repeats)]
    median = statistics.median(r["to_first_ask_s"] for r in runs)
    print(json.dumps({
        "benchmark": "worker_startup",
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "runs": runs,
        "median_to_first_ask_s": median,
        "target_s": TARGET_S,
        "meets_target": median <= TARGET_S,
    }, indent=2))


if __name__ == "__main__":
    main()
