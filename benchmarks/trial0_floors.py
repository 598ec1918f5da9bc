"""Does every method's trial 0 (its paper defaults) beat its floors at the default budget? (issue 30, item 7)

For each dataset and each method that can run on it, one ``autohar search --trials 1`` (trial 0 =
the paper's defaults; the default protocol: subject split, 10 labels per class, 3 label draws,
budget 0.2) in a fresh workspace, then its stored value and floors: the validation macro-F1
(the search value) against the validation linear probe and majority floors, and the same on test.

Datasets: ``watch`` (embedded), ``utd-mhad`` IMU (acc + gyro; ``--utd-dir``) and a small npz in the
generic format (docs/custom-data.md) built here from the Daphnet recordings (``--daphnet-dir``):
ankle, thigh and trunk accelerometers, 2 s windows, freeze vs no freeze, 5 patients. ``combined``
pre-trains on labeled source datasets, so a single dataset cannot run it (its LODO entries do).

Prints one JSON object (also written to ``--out``):

    python benchmarks/trial0_floors.py [--methods supervised,img2imu] [--datasets watch,utd-imu,daphnet-npz]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
METHODS = ("supervised", "img2imu", "maskcae", "mesen", "cosmo")
DATASETS = ("watch", "utd-imu", "daphnet-npz")


def daphnet_npz(folder: Path, out: Path) -> Path:
    """The Daphnet recordings as an npz of 2 s windows in the generic format."""
    from automl_har.data.registry import WindowOptions, load_dataset

    data = load_dataset("daphnet", str(folder), WindowOptions(window_s=2.0, overlap=0.5))
    arrays = {f"X_{name}": x for name, x in data.modalities.items()}
    arrays.update({f"rate_{name}": np.float64(rate) for name, rate in data.rates_hz.items()})
    arrays.update({f"channels_{name}": np.array(channels) for name, channels in data.channels.items()})
    np.savez(out, y=np.array(data.classes)[data.y], subject=data.subject, **arrays)
    return out


def dataset_args(name: str, args, scratch: Path) -> list[str]:
    if name == "watch":
        return ["--dataset", "watch"]
    if name == "utd-imu":
        return ["--dataset", "utd-mhad", "--data-dir", str(args.utd_dir), "--modalities", "acc,gyro"]
    if name == "daphnet-npz":
        return ["--dataset", str(daphnet_npz(args.daphnet_dir, scratch / "daphnet.npz"))]
    raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def trial0(method: str, data: list[str], budget: float, workdir: Path) -> dict:
    """Run trial 0 through the CLI and read its value and floors back from the study."""
    import optuna

    from automl_har.storage import open_storage
    from automl_har.workspace import Workspace

    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "automl_har.cli.main", "search", "--method", method, *data,
                          "--trials", "1", "--budget", str(budget), "--workdir", str(workdir), "--study", "t0",
                          "--quiet"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        return {"error": (run.stdout + run.stderr).strip().splitlines()[-1:], "seconds": round(seconds, 1)}
    study = optuna.load_study(study_name="t0", storage=open_storage(Workspace.resolve(workdir).optuna_storage_url))
    (trial,) = study.trials
    if trial.state.name != "COMPLETE":
        return {"error": trial.user_attrs.get("fail_reason", trial.state.name), "seconds": round(seconds, 1)}
    a = trial.user_attrs
    row = {
        "val_macro_f1": trial.value,
        "val_linear_probe": a.get("val_linear_probe_macro_f1_mean"),
        "val_majority": a.get("val_majority_macro_f1_mean"),
        "val_classes_predicted_min": a.get("val_classes_predicted_min"),
        "test_macro_f1": a.get("test_macro_f1_mean"),
        "test_linear_probe": a.get("test_linear_probe_macro_f1_mean"),
        "test_majority": a.get("test_majority_macro_f1_mean"),
        "seconds": round(seconds, 1),
    }
    row["beats_val_probe"] = row["val_macro_f1"] > row["val_linear_probe"]
    row["beats_test_probe"] = row["test_macro_f1"] > row["test_linear_probe"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--budget", type=float, default=0.2, help="the search's default budget")
    parser.add_argument("--utd-dir", type=Path, default=SHARED / "utd_mhad")
    parser.add_argument("--daphnet-dir", type=Path, default=SHARED / "daphnet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for dataset in args.datasets.split(","):
            data = dataset_args(dataset, args, scratch)
            for method in args.methods.split(","):
                row = trial0(method, data, args.budget, scratch / f"{dataset}-{method}")
                results[f"{method}@{dataset}"] = row
                print(json.dumps({f"{method}@{dataset}": row}), file=sys.stderr, flush=True)
    report = {"budget": args.budget, "trials": results,
              "all_beat_val_probe": all(r.get("beats_val_probe", False) for r in results.values())}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
