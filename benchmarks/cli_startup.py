"""Wall time of CLI commands that should answer at once (issue 11, item 8).

Each command runs as a fresh subprocess of this interpreter (``python -m automl_har.cli.main``),
``--repeats`` times (default 5); the median is reported next to ``python -c "import typer"``,
the floor any typer CLI pays, measured in the same run. ``autohar studies`` lists a small
study created in a temporary workspace. A last run of each command records which heavy
libraries it imported (torch, mlflow, ray, optuna, ...). Prints one JSON object.

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: seconds, median wall time (issue 11); None = no target, only measured
TARGETS_S = {"--help": 0.5, "methods": 1.0, "datasets": None, "studies": 1.5}
HEAVY = ("torch", "mlflow", "ray", "optuna", "sklearn", "matplotlib", "pandas", "scipy", "sqlalchemy")

#: runs the CLI like ``python -m automl_har.cli.main ARGS`` and prints the heavy modules it loaded
_REPORT_IMPORTS = """
import atexit, runpy, sys
heavy = {heavy!r}
atexit.register(lambda: print("IMPORTED " + ",".join(m for m in heavy if m in sys.modules), file=sys.stderr))
sys.argv = ["autohar", *{args!r}]
runpy.run_module("automl_har.cli.main", run_name="__main__")
"""


def _make_study(workdir: Path) -> None:
    """A study with two finished trials in the workspace's storage, where ``autohar studies`` looks."""
    import optuna

    from automl_har.storage import open_storage
    from automl_har.workspace import Workspace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    workdir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(study_name="supervised-synthetic", direction="maximize",
                                storage=open_storage(Workspace(workdir).optuna_storage_url))
    study.set_user_attr("method", "supervised")
    study.set_user_attr("dataset", "synthetic")
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-2, log=True), n_trials=2)


def _time(argv: list[str], env: dict, repeats: int) -> dict:
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return {"median_s": round(statistics.median(walls), 3), "runs_s": [round(w, 3) for w in walls]}


def _imported(args: list[str], env: dict) -> list[str]:
    code = _REPORT_IMPORTS.format(heavy=HEAVY, args=args)
    done = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    line = next((ln for ln in done.stderr.splitlines() if ln.startswith("IMPORTED ")), "IMPORTED ?")
    return [m for m in line.removeprefix("IMPORTED ").split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs per command; the median is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "runs"
        _make_study(workdir)
        env = {**os.environ, "AUTOHAR_HOME": str(workdir), "AUTOHAR_DATA": str(Path(tmp) / "data")}
        results = {"python -c 'import typer'": _time([sys.executable, "-c", "import typer"], env, args.repeats)}
        for command in TARGETS_S:
            argv = [command]
            result = _time([sys.executable, "-m", "automl_har.cli.main", *argv], env, args.repeats)
            result["target_s"] = TARGETS_S[command]
            result["imports"] = _imported(argv, env)
            results[f"autohar {command}"] = result
    timed = [r for r in results.values() if r.get("target_s") is not None]
    print(json.dumps({
        "benchmark": "cli_startup",
        "python": sys.executable,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "commands": results,
        "meets_targets": all(r["median_s"] <= r["target_s"] for r in timed)
        and not any({"torch", "mlflow", "ray"} & set(r["imports"]) for k, r in results.items()
                    if k in ("autohar --help", "autohar methods", "autohar datasets")),
    }, indent=2))


if __name__ == "__main__":
    main()
