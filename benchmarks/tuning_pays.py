"""Does tuning pay, per method? (issue 34, item 5): a search, then ``autohar verify`` on fresh draws.

For each dataset and each method: ``autohar search --trials N`` (default 20) at ``--budget``, then
``autohar verify STUDY --top 1 --repeats R --json`` (default 6: the fewest units a Wilcoxon test can
reject at p < 0.05). Reports the paired test gain of the winner over the paper defaults, its 95%
bootstrap CI and Wilcoxon p, the optimism (search-time validation value minus the fresh validation
mean), the verdict and the floors. Datasets as in ``method_selection.py``: ``watch``, ``utd-imu``
(acc + gyro) and ``utd-imu-skeleton`` (with skeleton; MESEN and Cosmo deploy acc + gyro there).

Prints one JSON object (also written to ``--out``); each pair is printed to stderr as it finishes:

    python benchmarks/tuning_pays.py --datasets watch,utd-imu --methods supervised,cosmo --trials 20 --budget 0.05
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from method_selection import SHARED, dataset_args, print_report  # noqa: E402 - the same datasets as the selection benchmark

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl_har.cli.main", *args], capture_output=True, text=True)


def tuning_gain(method: str, dataset: str, args, workdir: Path) -> dict:
    data = dataset_args(dataset, args.utd_dir)
    if dataset == "utd-imu-skeleton":  # multimodal methods pre-train on all and deploy the IMU; the others read it
        data = [*data, "--deploy-modalities", "acc,gyro"]
    study = f"{method}-{dataset}"
    searched = cli("search", "--method", method, *data, "--trials", str(args.trials), "--budget", str(args.budget),
                   "--study", study, "--workdir", str(workdir), "--quiet")
    if searched.returncode != 0:
        return {"error": (searched.stdout + searched.stderr).strip().splitlines()[-1:]}
    verified = cli("verify", study, "--top", "1", "--repeats", str(args.repeats), "--workdir", str(workdir), "--json")
    if verified.returncode != 0:
        return {"error": (verified.stdout + verified.stderr).strip().splitlines()[-1:]}
    summary = json.loads(verified.stdout)
    configs = summary["configs"]
    winner = f"trial {summary['winner_trial']}" if summary["winner_trial"] is not None else "defaults"
    return {"gain": summary["gain"], "optimism": summary["optimism"], "verdict": summary["verdict"],
            "floors": summary["floors"],
            "defaults_test_macro_f1": configs["defaults"]["test_macro_f1_mean"],
            "winner_test_macro_f1": configs[winner]["test_macro_f1_mean"],
            "test_linear_probe": configs["defaults"].get("test_linear_probe_macro_f1_mean")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="watch,utd-imu,utd-imu-skeleton")
    parser.add_argument("--methods", default="supervised,maskcae,mesen,cosmo,img2imu")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--budget", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--utd-dir", type=Path, default=SHARED / "utd_mhad")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report: dict = {"trials": args.trials, "budget": args.budget, "repeats": args.repeats, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            for method in args.methods.split(","):
                row = tuning_gain(method, dataset, args, Path(tmp) / f"{method}-{dataset}")
                report["results"][f"{method}@{dataset}"] = row
                print(json.dumps({f"{method}@{dataset}": row}), file=sys.stderr, flush=True)
    print_report(report, args.out)


if __name__ == "__main__":
    main()
