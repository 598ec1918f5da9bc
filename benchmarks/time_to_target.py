"""Wall time until a search first comes within ``--tolerance`` of a long reference search's best
validation value, for random search, TPE over the full space and the staged search (issue 16).

For each method (``maskcae`` and ``cosmo`` on UTD-MHAD by default):

1. a *reference* search: the staged search with ``--reference-trials`` trials (sampler seed
   ``--reference-seed``, not one of the compared seeds); its best validation macro-F1 less
   ``--tolerance`` is the target;
2. for each of ``--seeds`` sampler seeds, a random, a TPE (``--space full``) and a staged search of
   ``--trials`` trials each, or until ``--timeout`` seconds; the time to target is the search's
   wall time (from its start, data preparation included) when a finished trial first reaches
   the target, or null when none did within the search;
3. per mode the median over the seeds (null when fewer than half reached it) and the ratio of the
   staged median to TPE's.

Every search runs in its own fresh workspace, so no search reuses another's cached pre-training.
Prints one JSON object (also written to ``--out`` when given).

    python benchmarks/time_to_target.py --data-dir ../shared/data/utd_mhad [--budget 0.01] [--trials 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from automl_har.engines import SearchSpec
from automl_har.engines.optuna import search
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.workspace import Workspace

#: the cached stage that holds each method's pre-training
PRETRAIN_STAGES = {"maskcae": "maskcae_pretrain", "cosmo": "cosmo_stage1"}
MODES = {"random": ("random", "full"), "tpe_full": ("tpe", "full"), "staged": ("staged", "full")}


def timed_search(method: str, args, sampler: str, space: str, seed: int, trials: int) -> dict:
    """One search in a fresh workspace: its best value and when each new best was reached."""
    experiment = ExperimentSpec(method=method, dataset="utd-mhad", data_dir=args.data_dir, budget=args.budget,
                                protocol=Protocol(labels_per_class=args.labels_per_class, repeats=args.repeats))
    root = Path(tempfile.mkdtemp(prefix=f"ttt-{method}-{sampler}-{seed}-"))
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(root), study_name=f"{method}-{sampler}",
                      n_trials=trials, timeout=args.timeout, sampler=sampler, space=space, seed=seed)
    started, curve, best = time.perf_counter(), [], float("-inf")

    def on_trial_end(summary, _result) -> None:
        nonlocal best
        if summary.state == "COMPLETE" and summary.value > best:
            best = summary.value
            curve.append([round(time.perf_counter() - started, 2), summary.number, round(best, 4)])

    result = search(spec, on_trial_end)
    return {"seed": seed, "trials": result.n_finished, "seconds": round(time.perf_counter() - started, 1),
            "best": None if result.best_value is None else round(result.best_value, 4),
            "pretrainings": _pretrainings(method, result), "curve": curve}


def _pretrainings(method: str, result) -> int:
    """Trials whose pre-training was computed (a stage-cache miss), not loaded from the cache."""
    return sum(t.tags.get(f"cache.{PRETRAIN_STAGES[method]}") == "miss" for t in result.trials)


def time_to(target: float, curve: list) -> float | None:
    return next((seconds for seconds, _, best in curve if best >= target), None)


def median_or_none(values: list) -> float | None:
    reached = [v for v in values if v is not None]
    if len(reached) * 2 < len(values):
        return None
    return statistics.median([v if v is not None else float("inf") for v in values])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="maskcae,cosmo")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/utd_mhad"))
    parser.add_argument("--budget", type=float, default=0.01, help="fraction of the paper's epochs")
    parser.add_argument("--labels-per-class", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="label draws per trial")
    parser.add_argument("--trials", type=int, default=16, help="trials per compared search")
    parser.add_argument("--reference-trials", type=int, default=48)
    parser.add_argument("--reference-seed", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per compared search")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not Path(args.data_dir).is_dir():
        print(f"error: UTD-MHAD folder {args.data_dir} not found; pass --data-dir", file=sys.stderr)
        return 2

    report = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "methods": {}}
    for method in args.methods.split(","):
        reference = timed_search(method, args, "staged", "full", args.reference_seed, args.reference_trials)
        target = reference["best"] - args.tolerance
        runs = {mode: [] for mode in MODES}
        for seed in range(args.seeds):  # modes interleaved per seed: machine load drifts alike for all
            for mode, (sampler, space) in MODES.items():
                run = timed_search(method, args, sampler, space, seed, args.trials)
                run["time_to_target"] = time_to(target, run["curve"])
                runs[mode].append(run)
                print(json.dumps({method: mode, **{k: run[k] for k in ("seed", "best", "time_to_target", "seconds")}}),
                      file=sys.stderr, flush=True)
        medians = {mode: median_or_none([r["time_to_target"] for r in rs]) for mode, rs in runs.items()}
        ratio = None
        if medians["staged"] is not None and medians["tpe_full"] not in (None, 0):
            ratio = round(medians["staged"] / medians["tpe_full"], 3)
        report["methods"][method] = {
            "reference": {"sampler": "staged", "trials": reference["trials"], "best": reference["best"],
                          "seconds": reference["seconds"], "pretrainings": reference["pretrainings"]},
            "target": round(target, 4), "median_time_to_target_s": medians, "staged_over_tpe_full": ratio,
            "runs": runs,
        }
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
