"""Trials per hour with 1 vs 2 Optuna worker processes and with the Ray engine; Ray's per-trial overhead.

The same tiny synthetic search (supervised method, every parameter pinned to its default so that
every trial does the same work, no pruning) runs three times in fresh workspaces. Targets (issue 6): 2 workers >= 1.7x one worker; Ray engine overhead
<= 0.5 s per trial after start-up. Prints one JSON object, last (Ray Tune may print its experiment
summary box on stdout before it). Each worker process still pays its imports at start (it asks
for its first trial, then loads torch and MLflow, see ``benchmarks/worker_startup.py``) and its
teardown at the end, so long trials show the speed-up best: ``--budget 6 --no-early-stopping``
gives ~20 s trials. Each Optuna run also reports where its wall time went (from the trials'
start and end times in the storage): before the first trial (checks, study, MLflow parent run,
worker start), the trials' median length, and after the last trial (plots, parent run, the
workers' exit). One worker runs its trials in this process with torch's default threads; the
workers get ``cpu_count // workers`` threads each (run with ``OMP_NUM_THREADS=1`` to compare
process parallelism alone). In this process a one-trial warm-up search runs first (untimed), so
the one-worker run does not pay the imports (torch, MLflow, matplotlib) that every spawned worker
pays again. With ``--cli`` each Optuna run is ``autohar search`` in a fresh process, as a user
runs it, imports and exit included.

    python benchmarks/parallel.py [--trials 12] [--budget 0.3]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from automl_har.engines import SearchSpec
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.search_spaces import get_space
from automl_har.workspace import Workspace


def _spec(tmp: str, args, workers: int) -> SearchSpec:
    experiment = ExperimentSpec(method="supervised", dataset="synthetic", budget=args.budget,
                                protocol=Protocol(labels_per_class=5, repeats=1))
    # Every parameter pinned to the paper's default, so every trial does the same work: the random
    # sampler of each worker process has its own seed (engines/_workers.py), so sampled trials
    # would differ between the 1- and the 2-worker run (0.6-5.6 s here) and so would the work.
    fixed = dict(get_space("supervised", "full").defaults)
    if args.no_early_stopping:
        fixed["patience"] = 10**6  # then --budget sets the trial length
    return SearchSpec(experiment, Workspace.resolve(tmp), n_trials=args.trials, sampler="random", pruner="none",
                      workers=workers, fixed_params=fixed)


def optuna_run(args, workers: int) -> dict:
    from automl_har.engines.optuna import search

    with tempfile.TemporaryDirectory() as tmp:
        spec = _spec(tmp, args, workers)
        started_at, started = datetime.datetime.now(), time.perf_counter()
        if args.cli:
            _cli_search(spec, args)
        else:
            search(spec)
        wall = time.perf_counter() - started
        timeline = _timeline(spec, started_at, wall)
    return {"workers": workers, "trials": timeline["trials"], "wall_s": round(wall, 2),
            "trials_per_hour": round(3600 * timeline["trials"] / wall, 1), **timeline}


def _cli_search(spec: SearchSpec, args) -> None:
    """``autohar search`` in a fresh interpreter, as a user runs it: its imports, the workers'
    and its exit count too (in this process the first run would pay the imports for both)."""
    argv = [sys.executable, "-m", "automl_har.cli.main", "search", "--method", "supervised", "--dataset", "synthetic",
            "--budget", str(args.budget), "--repeats", "1", "--labels-per-class", "5", "--trials", str(args.trials),
            "--sampler", "random", "--pruner", "none", "--workers", str(spec.workers), "--quiet",
            "--workdir", str(spec.workspace.root), *[a for k, v in spec.fixed_params.items() for a in ("--param", f"{k}={v}")]]
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"autohar search failed ({done.returncode}): {done.stderr.strip()[-800:]}")


def _timeline(spec: SearchSpec, started_at: datetime.datetime, wall: float) -> dict:
    """Seconds before the first trial, the median trial and seconds after the last one (Optuna's
    ``datetime_start`` is stamped when a trial is asked for, ``datetime_complete`` when told)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    url = spec.storage_url  # opened here, not with automl_har's helper, so this runs against older trees too
    storage = JournalStorage(JournalFileBackend(url.removeprefix("journal://"))) if url.startswith("journal://") else url
    trials = [t for t in optuna.load_study(study_name=spec.resolved_study_name, storage=storage).get_trials(deepcopy=False)
              if t.datetime_start and t.datetime_complete]
    counted = sum(t.state.is_finished() and not t.user_attrs.get("interrupted") for t in trials)
    if not trials:
        return {"trials": counted}
    first = min((t.datetime_start - started_at).total_seconds() for t in trials)
    last = max((t.datetime_complete - started_at).total_seconds() for t in trials)
    lengths = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials]
    return {"trials": counted, "before_first_trial_s": round(first, 2), "trial_median_s": round(statistics.median(lengths), 2),
            "after_last_trial_s": round(wall - last, 2)}


def _ray_search(args, n_trials: int):
    from automl_har.engines.ray import RayOptions, search

    with tempfile.TemporaryDirectory() as tmp:
        spec = dataclasses.replace(_spec(tmp, args, 1), n_trials=n_trials)
        started = time.perf_counter()
        result = search(spec, RayOptions(workers=1))  # one trial at a time, each in full (pruner none)
        return time.perf_counter() - started, sum(t.wall_seconds for t in result.trials), len(result.trials)


def ray_run(args) -> dict:
    """Ray's per-trial overhead after start-up: the marginal cost of N more trials (a run of N
    and a run of 2N on the same Ray instance), minus the time spent inside those trials."""
    import ray

    from automl_har.engines.ray import OBJECT_STORE_BYTES

    started = time.perf_counter()
    ray.init(num_cpus=1, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, log_to_driver=False,
             configure_logging=False)
    startup = time.perf_counter() - started
    try:
        wall_n, in_trial_n, n = _ray_search(args, args.trials)
        wall_2n, in_trial_2n, n2 = _ray_search(args, 2 * args.trials)
    finally:
        ray.shutdown()
    marginal = ((wall_2n - wall_n) - (in_trial_2n - in_trial_n)) / max(n2 - n, 1)
    return {"workers": 1, "ray_init_s": round(startup, 2),
            "run_n": {"trials": n, "wall_s": round(wall_n, 2), "in_trial_s": round(in_trial_n, 2)},
            "run_2n": {"trials": n2, "wall_s": round(wall_2n, 2), "in_trial_s": round(in_trial_2n, 2)},
            "trials_per_hour": round(3600 * n / (wall_n + startup), 1),
            "overhead_per_trial_s": round(marginal, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--no-early-stopping", action="store_true", help="every trial runs budget x 100 epochs")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--cli", action="store_true", help="time each Optuna run as `autohar search` in a fresh process")
    args = parser.parse_args()
    if not args.cli:  # pay this process's imports before the clock starts (see the docstring)
        optuna_run(argparse.Namespace(**{**vars(args), "trials": 1}), 1)
    one, two = optuna_run(args, 1), optuna_run(args, 2)
    ray_result = None if args.skip_ray else ray_run(args)
    speedup = two["trials_per_hour"] / one["trials_per_hour"]
    print(json.dumps({
        "benchmark": "parallel",
        "search": {"method": "supervised", "dataset": "synthetic", "trials": args.trials, "budget": args.budget,
                   "runs": "autohar search in a fresh process" if args.cli else "search() in this process"},
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "optuna_1_worker": one,
        "optuna_2_workers": two,
        "speedup_2_vs_1": round(speedup, 2),
        "target_speedup": 1.7,
        "ray": ray_result,
        "target_ray_overhead_per_trial_s": 0.5,
        "meets_targets": speedup >= 1.7 and (ray_result is None or ray_result["overhead_per_trial_s"] <= 0.5),
    }, indent=2))


if __name__ == "__main__":
    main()
