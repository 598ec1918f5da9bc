"""How many methods should the halving keep after rung 0? A replay over recorded searches (issue 34, item 4).

Running ``--method auto`` for every allocation rule costs T per dataset and seed. This script instead
replays the rule over the per-method reference searches that ``benchmarks/method_selection.py``
recorded (its report's ``reference_curves``; every seed of a dataset must be in the report):

- each method's *stream* is its reference searches of the other seeds, one after the other (the
  later seeds first), without the repeated paper-defaults trial at the start of the second: what a
  search of that method alone proposes, trial by trial, at the recorded cost (a trial costs the time
  from the previous completion to its own, so pruned trials in between are paid too);
- the rule gives every method its first ``--rung0`` trials, then takes trials only from the ``keep``
  methods with the best value so far, the one with the fewest trials first;
- the measure is the benchmark's: the time until a trial first comes within ``--tolerance`` of this
  seed's reference best (never within the streams or within T counts as T in the median).

``keep = 1`` is what ``METHOD_HALVING`` does with three methods (the top half of three is one);
``keep = 2`` is the hedged halving; ``keep = all`` is round robin. The streams are TPE searches, as the
references are, not the staged search auto runs inside a method that pre-trains, so this compares
the allocation rules under one inner search; it does not predict auto's own time.

    python benchmarks/method_selection_replay.py REPORT.json --keep 1,2,3
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from method_selection import other_seeds  # the benchmark beside this script


def trial_costs(curve: list[dict], skip_first: bool = False) -> list[tuple[float, float]]:
    """``(cost in seconds, value)`` per completed trial of a recorded search, in order."""
    out, previous = [], 0.0
    for trial in sorted(curve, key=lambda t: t["seconds"]):
        out.append((trial["seconds"] - previous, trial["value"]))
        previous = trial["seconds"]
    return out[1:] if skip_first else out


def method_stream(curves_by_seed: dict[str, list[dict]], seed: str) -> list[tuple[float, float]]:
    """A method's stream for ``seed``: its searches of the other seeds, the later ones first."""
    others = other_seeds(list(curves_by_seed), seed)
    return [step for i, other in enumerate(others) for step in trial_costs(curves_by_seed[other], skip_first=i > 0)]


def replay_seconds(streams: dict[str, list[tuple[float, float]]], target: float, keep: int, rung0: int = 2,
                   tolerance: float = 0.01, time_s: float = float("inf")) -> float | None:
    """Seconds until the rule's first trial within ``tolerance`` of ``target`` (None: not within the
    streams or within ``time_s``)."""
    taken = {m: 0 for m in streams}
    best = {m: float("-inf") for m in streams}
    elapsed = 0.0
    while True:
        left = [m for m in streams if taken[m] < len(streams[m])]
        if not left:
            return None
        filling = [m for m in left if taken[m] < rung0]
        if filling:
            method = filling[0]
        else:
            kept = sorted(streams, key=lambda m: -best[m])[:keep]
            candidates = [m for m in kept if m in left]
            if not candidates:
                return None
            method = min(candidates, key=lambda m: taken[m])
        cost, value = streams[method][taken[method]]
        taken[method] += 1
        elapsed += cost
        if elapsed > time_s:
            return None
        best[method] = max(best[method], value)
        if value >= target - tolerance:
            return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report of benchmarks/method_selection.py (--out)")
    parser.add_argument("--keep", default="1,2,3", help="methods kept after rung 0, one replay each")
    parser.add_argument("--rung0", type=int, default=2, help="trials every method gets first")
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    try:
        report = json.loads(args.report.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"error: cannot read {args.report}: {err}; pass a report of benchmarks/method_selection.py")
    if not isinstance(report, dict) or not {"time_s", "datasets"} <= set(report):
        raise SystemExit(f"error: {args.report} is not a report of benchmarks/method_selection.py (no time_s and "
                         f"datasets); pass the file its --out wrote")
    time_s = report["time_s"]
    out: dict = {"time_s": time_s, "rung0": args.rung0, "tolerance": args.tolerance, "datasets": {}}
    for name, entry in report["datasets"].items():
        curves = {seed: row["reference_curves"] for seed, row in entry["seeds"].items() if "reference_curves" in row}
        if len(curves) < 2:
            raise SystemExit(f"error: {args.report} has reference curves of {len(curves)} seed(s) of {name}; "
                             f"a replay needs 2 or more (rerun the benchmark with --seeds 0,1,2)")
        result: dict = {}
        for keep in map(int, args.keep.split(",")):
            times = {}
            for seed, by_method in curves.items():
                target = max(t["value"] for curve in by_method.values() for t in curve)
                streams = {m: method_stream({s: curves[s][m] for s in curves}, seed) for m in by_method}
                times[seed] = replay_seconds(streams, target, keep, args.rung0, args.tolerance, time_s)
            median = statistics.median(t if t is not None else time_s for t in times.values())
            result[f"keep_{keep}"] = {"seconds_to_within": times, "median_over_T": median / time_s}
        out["datasets"][name] = result
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
