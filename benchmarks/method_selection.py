"""Does ``--method auto`` find a method and its settings faster than separate per-method searches? (issue 34, item 4)

For each dataset and seed, in fresh workspaces:

- **reference**: one ``autohar search --method M --timeout T/k`` per method M that can run (k of
  them), so the k searches share one total time T; ``reference_best`` is the best validation value
  any of them reached; each deploys what M's trials of the auto study deploy (``--deploy-modalities``);
- **measure**: ``autohar search --method auto --timeout T`` and the time its study takes until a
  COMPLETE trial first comes within ``--tolerance`` (0.01) of ``reference_best`` (None: never within
  T); the target is a median of at most 0.5 T.

Auto is seeded apart from its references (``--seed`` + :data:`AUTO_SEED_OFFSET`): a method's
sampler inside auto seeded as its reference search would replay that search trial for trial, and
the measure would time a replay rather than a search.

The reference searches do not depend on auto's code (``--seed`` seeds their sampler; their objective
is deterministic), so ``--references REPORT`` takes them from an earlier report of this benchmark
(its ``reference_curves``, same ``--time`` and ``--budget``) and runs only auto: a change to auto is
measured in half the time, against the same references.

With ``--warm``, the auto search of each dataset after the first also runs in a workspace holding
the earlier datasets' auto studies (warm starts from their winners) and both times are reported: the
first dataset's (cold) auto search runs in that workspace, and a warm run of it, which would have
nothing to warm from, is not run.

What bounds the measure from below is reported beside it: how many trials each reference search ran
in its T/k and which of them reached its best (``reference_trials_per_method``,
``reference_best_trial_per_method``; trial 0 is the paper's defaults), and when auto had finished
every method's paper defaults (``auto_defaults_done_seconds``: they are its first k trials, enqueued,
and its search inside any method begins only after them). Where the reference's best is a
method's first trial or two, auto cannot beat the reference by much: it pays those same trials.

What bounds it for any selector: ``perfect_selector_seconds_to_within`` (with 2 seeds or more), the time
the other seeds' reference searches of this seed's best method take, run one after the other, to come
within the tolerance of this seed's reference best: a selector that knew the method from the start and
searched it as the reference does, before it paid any method's first trials.

Datasets: ``watch`` (embedded), ``utd-imu`` (UTD-MHAD acc + gyro) and ``utd-imu-skeleton`` (UTD-MHAD
acc + gyro + skeleton, deploying acc + gyro). Times are wall seconds from the study's first trial
start, on this machine. Prints one JSON object (also written to ``--out``):

    python benchmarks/method_selection.py --datasets watch --seeds 0,1,2 --time 600 --budget 0.05
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATASETS = ("watch", "utd-imu", "utd-imu-skeleton")
#: auto's --seed is the reference's plus this, so that no sampler inside auto replays a reference search
AUTO_SEED_OFFSET = 1000


def dataset_args(name: str, utd_dir: Path) -> list[str]:
    if name == "watch":
        return ["--dataset", "watch"]
    if name == "utd-imu":
        return ["--dataset", "utd-mhad", "--data-dir", str(utd_dir), "--modalities", "acc,gyro"]
    if name == "utd-imu-skeleton":
        return ["--dataset", "utd-mhad", "--data-dir", str(utd_dir), "--modalities", "acc,gyro,skeleton"]
    raise SystemExit(f"error: unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def search(args: list[str], workdir: Path, study: str) -> list[dict]:
    """Run one ``autohar search``; its COMPLETE trials in order of completion: ``seconds`` since its
    first trial started, ``value``, trial ``number``, ``method``, ``defaults`` and ``warm_start`` (auto: the
    earlier study's trial it re-runs, else None)."""
    import optuna

    from automl_har.attrs import TRIAL_METHOD_ATTR, WARM_START_ATTR
    from automl_har.engines.method_selection import DEFAULTS_ATTR
    from automl_har.storage import open_storage
    from automl_har.workspace import Workspace

    run = subprocess.run([sys.executable, "-m", "automl_har.cli.main", "search", *args, "--workdir", str(workdir),
                          "--study", study, "--quiet"], capture_output=True, text=True)
    if run.returncode != 0 and "no complete trial" not in run.stdout + run.stderr:
        raise SystemExit(last_line(run, f"the search of {study} in {workdir}"))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=study, storage=open_storage(Workspace.resolve(workdir).optuna_storage_url)).trials
    started = [t.datetime_start for t in trials if t.datetime_start]
    if not started:
        return []
    origin = min(started)
    return sorted(({"seconds": (t.datetime_complete - origin).total_seconds(), "value": t.value, "number": t.number,
                    "method": t.user_attrs.get(TRIAL_METHOD_ATTR), "defaults": bool(t.user_attrs.get(DEFAULTS_ATTR)),
                    "warm_start": t.user_attrs.get(WARM_START_ATTR)}
                   for t in trials if t.state.name == "COMPLETE"), key=lambda trial: trial["seconds"])


def last_line(run: subprocess.CompletedProcess, what: str) -> str:
    """A failed ``autohar`` run as one ``error:`` line: its own last line (autohar's errors are one
    ``error: ...`` line that names the fix), else what failed and its exit code."""
    lines = (run.stdout + run.stderr).strip().splitlines()
    if lines and lines[-1].startswith("error: "):
        return lines[-1]
    return f"error: {what} exited {run.returncode}: {lines[-1] if lines else 'no output'}"


def runnable(data: list[str], methods: str, scratch: Path) -> list[str]:
    """The methods ``--method auto`` would search on ``data`` (its dry run's spaces)."""
    selected = ["--methods", methods] if methods else ["--method", "auto"]
    run = subprocess.run([sys.executable, "-m", "automl_har.cli.main", "search", *selected, *data, "--dry-run",
                          "--workdir", str(scratch)], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(last_line(run, "autohar search --dry-run"))
    return [line.split(" of ")[1].split(":")[0] for line in run.stdout.splitlines() if line.startswith("search space ")]


def first_within(curve: list[dict], target: float, tolerance: float) -> float | None:
    return next((trial["seconds"] for trial in curve if trial["value"] >= target - tolerance), None)


def best_of(curve: list[dict]) -> dict | None:
    return max(curve, key=lambda trial: trial["value"], default=None)


def other_seeds(seeds: list[str], seed: str) -> list[str]:
    """The seeds other than ``seed``, the later ones first, then the earlier ones: the order in which
    another seed's searches stand in for this seed's (a perfect selector here, a replay's streams)."""
    at = seeds.index(seed)
    return seeds[at + 1:] + seeds[:at]


def perfect_selector_seconds(target: float, curves: list[list[dict]], tolerance: float) -> float | None:
    """How long a selector that knew the best method from the start, searching it as the reference does,
    takes to come within ``tolerance`` of ``target``: ``curves`` are that method's reference searches
    of the other seeds (independent runs on the same objective: ``--seed`` seeds the sampler only), run
    one after the other. None: not within them. A floor for ``--method auto`` with that inner search,
    before it pays any method's first trials."""
    elapsed = 0.0
    for curve in curves:
        hit = first_within(curve, target, tolerance)
        if hit is not None:
            return elapsed + hit
        elapsed += max((trial["seconds"] for trial in curve), default=0.0)
    return None


def defaults_done(curve: list[dict], methods: list[str]) -> float | None:
    """When every method's paper-defaults trial of an auto study had completed (None: not all did)."""
    done = {trial["method"]: trial["seconds"] for trial in curve if trial["defaults"]}
    return max(done.values()) if set(done) >= set(methods) else None


def earlier_references(path: Path | None, time_s: float, budget: float) -> dict:
    """``{dataset: {seed: {method: curve}}}`` from an earlier report's ``reference_curves`` (``--references``);
    {} without one. A report of another ``--time`` or ``--budget`` measured other searches: refused."""
    if path is None:
        return {}
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"error: cannot read --references {path}: {err}; pass a report this benchmark wrote (--out)")
    if not isinstance(report, dict):
        raise SystemExit(f"error: --references {path} is not a report of this benchmark; pass the file its --out wrote")
    if (report.get("time_s"), report.get("budget")) != (time_s, budget):
        raise SystemExit(f"error: --references {path} ran --time {report.get('time_s')} --budget {report.get('budget')}, "
                         f"not --time {time_s} --budget {budget}; rerun with those, or without --references")
    return {name: {seed: row["reference_curves"] for seed, row in entry["seeds"].items() if "reference_curves" in row}
            for name, entry in report.get("datasets", {}).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--time", type=float, default=600.0, help="T: the total seconds of the reference searches")
    parser.add_argument("--budget", type=float, default=0.05)
    parser.add_argument("--methods", default="", help="restrict the methods (default: every one that can run)")
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--warm", action="store_true", help="also run warm-started auto searches")
    parser.add_argument("--utd-dir", type=Path, default=SHARED / "utd_mhad")
    parser.add_argument("--references", type=Path,
                        help="take the reference searches from this earlier report (--out) and run only auto")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    common = ["--budget", str(args.budget), "--trials", "100000"]
    report: dict = {"time_s": args.time, "budget": args.budget, "tolerance": args.tolerance, "datasets": {}}
    earlier = earlier_references(args.references, args.time, args.budget)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        datasets = args.datasets.split(",")
        # every dataset's dry run first: a missing folder stops the benchmark before its first search, not after
        deployed = {name: ["--deploy-modalities", "acc,gyro"] if name == "utd-imu-skeleton" else [] for name in datasets}
        candidates = {name: runnable([*dataset_args(name, args.utd_dir), *deployed[name]], args.methods, scratch / "dry")
                      for name in datasets}
        for seed in args.seeds.split(","):
            warm_home = scratch / f"warm-{seed}"
            for position, name in enumerate(datasets):
                data, deploy, methods = dataset_args(name, args.utd_dir), deployed[name], candidates[name]
                share = args.time / len(methods)
                # a reference search deploys what the method's trials of the auto study deploy: without
                # it, on utd-imu-skeleton the references read the skeleton at test time and auto did not
                if earlier:
                    references = earlier.get(name, {}).get(seed)
                    if references is None or sorted(references) != sorted(methods):
                        raise SystemExit(f"error: --references {args.references} has no reference searches of "
                                         f"{', '.join(methods)} on {name} seed {seed}; rerun without --references")
                else:
                    references = {method: search(["--method", method, *data, *deploy, *common, "--seed", seed,
                                                  "--timeout", str(share)], scratch / f"ref-{name}-{seed}-{method}",
                                                 "ref")
                                  for method in methods}
                bests = {method: best_of(curve) for method, curve in references.items()}
                reached = [trial["value"] for trial in bests.values() if trial is not None]
                best = max(reached) if reached else None
                selected = ["--methods", ",".join(methods)]
                auto_seed = str(int(seed) + AUTO_SEED_OFFSET)
                chain_starts = args.warm and position == 0  # the later datasets warm from its study
                cold = search([*selected, *data, *deploy, *common, "--seed", auto_seed, "--timeout", str(args.time),
                               "--no-warm-start"], warm_home if chain_starts else scratch / f"auto-{name}-{seed}",
                              f"auto-{name}")
                row = {"methods": methods, "reference_best": best,
                       "reference_per_method": {m: trial and trial["value"] for m, trial in bests.items()},
                       "reference_trials_per_method": {m: len(curve) for m, curve in references.items()},
                       "reference_best_trial_per_method": {m: trial and trial["number"] for m, trial in bests.items()},
                       "auto_best": max((trial["value"] for trial in cold), default=None),
                       "auto_trials": len(cold),
                       "auto_trials_per_method": dict(Counter(trial["method"] for trial in cold)),
                       "auto_defaults_done_seconds": defaults_done(cold, methods),
                       "auto_seconds_to_within": first_within(cold, best, args.tolerance) if best is not None else None,
                       "reference_curves": references, "auto_curve": cold}
                if args.warm and not chain_starts:
                    warm = search([*selected, *data, *deploy, *common, "--seed", auto_seed, "--timeout", str(args.time)],
                                  warm_home, f"warm-{name}")
                    row["warm_seconds_to_within"] = first_within(warm, best, args.tolerance) if best is not None else None
                    row["warm_best"] = max((trial["value"] for trial in warm), default=None)
                    row["warm_curve"] = warm
                report["datasets"].setdefault(name, {"seeds": {}})["seeds"][seed] = row
                print(json.dumps({name: {seed: row}}), file=sys.stderr, flush=True)  # kept if a later run fails
    for name, entry in report["datasets"].items():
        seeds = list(entry["seeds"])
        for seed, row in entry["seeds"].items():  # the best method's reference searches of the other seeds
            if row["reference_best"] is not None and len(seeds) > 1:
                best = max(row["reference_per_method"], key=lambda m: row["reference_per_method"][m] or -1.0)
                others = [entry["seeds"][other]["reference_curves"][best] for other in other_seeds(seeds, seed)]
                row["perfect_selector_seconds_to_within"] = perfect_selector_seconds(row["reference_best"], others,
                                                                                     args.tolerance)
        for key in ("auto_seconds_to_within", "warm_seconds_to_within", "auto_defaults_done_seconds",
                    "perfect_selector_seconds_to_within"):
            times = [row[key] for row in entry["seeds"].values() if key in row]
            if times:  # never (within, or done) in T counts as T (a lower bound of its time)
                median = statistics.median(t if t is not None else args.time for t in times)
                entry[f"median_{key}"] = median
                entry[f"median_{key}_over_T"] = median / args.time
        entry["meets_target"] = entry.get("median_auto_seconds_to_within_over_T", 1.0) <= 0.5
    print_report(report, args.out)


def print_report(report: dict, out: Path | None) -> None:
    """The benchmark's JSON on stdout, and in ``out`` when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")


if __name__ == "__main__":
    main()
