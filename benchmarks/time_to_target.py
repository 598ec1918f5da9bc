"""Wall time until a search first comes within ``--tolerance`` of a long reference search's best
validation value, for random search, TPE over the full space and the staged search (issue 16).

For each method (``maskcae`` and ``cosmo`` on UTD-MHAD by default):

1. a *reference* search: the staged search with ``--reference-trials`` trials (sampler seed
   ``--reference-seed``, not one of the compared seeds), or an earlier one read back with
   ``--reference-journal``; its best validation macro-F1 less ``--tolerance`` is the target;
2. for each of ``--seeds`` sampler seeds (from ``--first-seed``), each mode of ``--modes``:
   ``random``, ``tpe_full`` (TPE, ``--space full``) and the staged search with each fidelity
   (``staged``: inner trials; ``staged_epochs``: ``--fidelity epochs``, rungs 0 and 1 pre-train a
   ninth and a third of the epochs), each with its sampler's default pruner (median; none for the
   staged search), and on request ``tpe_full_unpruned`` (TPE without a pruner). Every search gets
   the same wall time, ``--timeout`` seconds (and at most ``--max-trials`` trials): a mode whose
   trials are cheaper runs more of them, as it would for a user. A search stops at its first
   finished trial that reaches the target; its time to target is its wall time then (from its
   start, data preparation included), or null when it did not reach it in its time;
3. per mode the median over the seeds (null when fewer than half reached it) and, per staged
   mode, the ratio of its median to TPE's (``over_tpe_full``; when TPE's median is null, the ratio
   is at most the staged median / ``--timeout``, given in ``over_tpe_full_at_most``).

Every search runs in its own fresh workspace, so no search reuses another's cached pre-training.
Prints one JSON object (also written to ``--out`` when given).

    python benchmarks/time_to_target.py --data-dir ../shared/data/utd_mhad [--budget 0.02] [--timeout 300]
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
#: mode -> (sampler, space, staged fidelity, pruner: None = the sampler's default, median but none
#: for the staged search); ``tpe_full_unpruned`` shows what TPE's default pruner is worth to it
MODES = {"random": ("random", "full", "trials", None), "tpe_full": ("tpe", "full", "trials", None),
         "tpe_full_unpruned": ("tpe", "full", "trials", "none"),
         "staged": ("staged", "full", "trials", None), "staged_epochs": ("staged", "full", "epochs", None)}
DEFAULT_MODES = ("random", "tpe_full", "staged", "staged_epochs")
STAGED_MODES = tuple(m for m, (sampler, *_) in MODES.items() if sampler == "staged")


class TargetReached(Exception):
    """Raised after the trial that first reaches the target: the search stops there."""


def timed_search(method: str, args, sampler: str, space: str, seed: int, trials: int, target: float | None = None,
                 timeout: float | None = None, fidelity: str = "trials", pruner: str | None = None) -> dict:
    """One search in a fresh workspace: its best value and when each new best was reached; it
    stops at the first trial that reaches ``target`` (None: runs all its trials)."""
    experiment = ExperimentSpec(method=method, dataset="utd-mhad", data_dir=args.data_dir, budget=args.budget,
                                protocol=Protocol(labels_per_class=args.labels_per_class, repeats=args.repeats))
    root = Path(tempfile.mkdtemp(prefix=f"ttt-{method}-{sampler}-{fidelity}-{seed}-"))
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(root), study_name=f"{method}-{sampler}",
                      n_trials=trials, timeout=timeout, sampler=sampler, space=space, seed=seed, fidelity=fidelity,
                      pruner=args.pruner or pruner)
    started, curve, best, summaries = time.perf_counter(), [], float("-inf"), []

    def on_trial_end(summary, _result) -> None:
        nonlocal best
        summaries.append(summary)
        if summary.state == "COMPLETE" and summary.value > best:
            best = summary.value
            curve.append([round(time.perf_counter() - started, 2), summary.number, round(best, 4)])
            if target is not None and best >= target:
                raise TargetReached()

    try:
        search(spec, on_trial_end)
    except TargetReached:
        pass
    return {"seed": seed, "trials": len(summaries), "pruner": spec.pruner,
            "pruned": sum(t.state == "PRUNED" for t in summaries), "seconds": round(time.perf_counter() - started, 1),
            "best": None if best == float("-inf") else round(best, 4),
            "pretrainings": _pretrainings(method, summaries), "continued": _continued(summaries), "curve": curve,
            "journal": str(Workspace.resolve(root).journal_path)}


def _pretrainings(method: str, summaries) -> int:
    """Trials whose pre-training was computed (a stage-cache miss), not loaded from the cache."""
    return sum(t.tags.get(f"cache.{PRETRAIN_STAGES[method]}") == "miss" for t in summaries)


def _continued(summaries) -> int:
    """Of those, the pre-trainings that continued from a shorter one's checkpoint (``--fidelity epochs``)."""
    return sum("pretrain.resumed_from_epoch" in t.tags for t in summaries)


def read_reference(journal: str) -> dict:
    """An earlier reference search (its Optuna journal file): its size, best value and length."""
    import optuna

    from automl_har.storage import open_storage

    storage = open_storage(f"journal://{Path(journal).resolve()}")
    (summary,) = optuna.get_all_study_summaries(storage)
    trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials(deepcopy=False)
    completed = [t for t in trials if t.state.name == "COMPLETE"]
    ended = [t.datetime_complete for t in trials if t.datetime_complete]
    return {"trials": len(trials), "best": round(max(t.value for t in completed), 4),
            "seconds": round((max(ended) - min(t.datetime_start for t in trials)).total_seconds(), 1),
            "pretrainings": len({json.dumps(t.system_attrs.get("staged:pretrain"), sort_keys=True) for t in trials}),
            "journal": str(journal)}


def time_to(target: float, curve: list) -> float | None:
    return next((seconds for seconds, _, best in curve if best >= target), None)


def summarize(runs: dict, timeout: float) -> dict:
    """What a search reached in the same wall time, per mode: the median best validation value,
    and the median seconds each mode took to reach the best that TPE (full space) reached with
    the same seed (null for a seed where it did not; absent when TPE was not run)."""
    same_time = {"median_best_within_timeout": {m: statistics.median(r["best"] for r in rs) for m, rs in runs.items()},
                 "timeout_s": timeout}
    if "tpe_full" in runs:
        tpe_best = [r["best"] for r in runs["tpe_full"]]
        same_time["median_time_to_tpe_full_best_s"] = {
            m: median_or_none([time_to(b, r["curve"]) for r, b in zip(rs, tpe_best)]) for m, rs in runs.items()}
    return same_time


def ratios_to_tpe(medians: dict, timeout: float) -> dict:
    """Per staged mode, its median time to target over TPE's (``over_tpe_full``); where TPE's median
    is null (it did not reach the target within ``timeout`` on most seeds), the bound
    ``staged median / timeout`` instead (``over_tpe_full_at_most``). Null where either is unknown."""
    ratios, bounds = {}, {}
    for mode in (m for m in STAGED_MODES if m in medians and "tpe_full" in medians):
        staged, tpe = medians[mode], medians["tpe_full"]
        ratios[mode] = round(staged / tpe, 3) if staged is not None and tpe not in (None, 0) else None
        bounds[mode] = round(staged / timeout, 3) if staged is not None and tpe is None else None
    return {"over_tpe_full": ratios, "over_tpe_full_at_most": bounds}


def median_or_none(values: list) -> float | None:
    reached = [v for v in values if v is not None]
    if len(reached) * 2 < len(values):
        return None
    return statistics.median([v if v is not None else float("inf") for v in values])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="maskcae,cosmo")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared/data/utd_mhad"))
    parser.add_argument("--budget", type=float, default=0.02, help="fraction of the paper's epochs")
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="label draws per trial")
    parser.add_argument("--timeout", type=float, default=300, help="wall seconds of each compared search")
    parser.add_argument("--max-trials", type=int, default=500, help="trials at most per compared search")
    parser.add_argument("--reference-trials", type=int, default=30)
    parser.add_argument("--reference-journal", default=None,
                        help="the Optuna journal of an earlier reference search of the one method to read back")
    parser.add_argument("--reference-seed", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="the compared seeds are first-seed ... first-seed + seeds - 1")
    parser.add_argument("--pruner", default=None,
                        help="the pruner of every search (reference included); default: each mode's own")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES),
                        help="the compared searches, a subset of " + ",".join(MODES) + " (e.g. to give one a longer --timeout)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not Path(args.data_dir).is_dir():
        print(f"error: UTD-MHAD folder {args.data_dir} not found; pass --data-dir", file=sys.stderr)
        return 2
    unknown = [m for m in args.modes.split(",") if m not in MODES]
    if unknown:
        print(f"error: --modes names unknown searches {unknown}; use a subset of {','.join(MODES)}", file=sys.stderr)
        return 2
    modes = {m: MODES[m] for m in args.modes.split(",")}

    report = {"settings": {k: v for k, v in vars(args).items() if k != "out"}, "methods": {}}
    for method in args.methods.split(","):
        if args.reference_journal:
            reference = read_reference(args.reference_journal)
        else:
            reference = timed_search(method, args, "staged", "full", args.reference_seed, args.reference_trials)
        target = reference["best"] - args.tolerance
        runs = {mode: [] for mode in modes}
        for seed in range(args.first_seed, args.first_seed + args.seeds):  # modes interleaved per seed: load drifts alike
            for mode, (sampler, space, fidelity, pruner) in modes.items():
                run = timed_search(method, args, sampler, space, seed, args.max_trials, target, args.timeout, fidelity,
                                   pruner)
                run["time_to_target"] = time_to(target, run["curve"])
                runs[mode].append(run)
                print(json.dumps({method: mode, **{k: run[k] for k in ("seed", "best", "time_to_target", "seconds")}}),
                      file=sys.stderr, flush=True)
        medians = {mode: median_or_none([r["time_to_target"] for r in rs]) for mode, rs in runs.items()}
        report["methods"][method] = {
            "reference": {"sampler": "staged", **{k: v for k, v in reference.items() if k != "curve"}},
            "target": round(target, 4), "median_time_to_target_s": medians,
            **ratios_to_tpe(medians, args.timeout), "same_time": summarize(runs, args.timeout), "runs": runs,
        }
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
