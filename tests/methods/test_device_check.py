"""benchmarks/device_check.py: runs with only the method layer, skips cleanly without CUDA, and
its comparison is a real one (checked CPU against CPU here; CUDA where a GPU machine runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import automl_har

SCRIPT = Path(automl_har.__file__).resolve().parent.parent / "benchmarks" / "device_check.py"
HEAVY = ("pandas", "optuna", "mlflow", "ray", "yaml", "typer", "sqlalchemy")
ENV = {**os.environ, "PYTHONPATH": str(SCRIPT.parent.parent)}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=ENV, timeout=900)


def test_without_cuda_it_says_so_and_exits_0():
    if torch.cuda.is_available():
        return  # on a GPU machine the real check runs instead (below, with --device cuda)
    done = _run()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cuda_available"] is False and "no CUDA device" in report["skipped"]


def test_the_check_needs_only_the_method_layer():
    probe = (f"import runpy, sys; sys.argv = ['device_check', '--device', 'cpu', '--methods', 'supervised']\n"
             f"try:\n    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=ENV, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


def test_every_method_passes_the_self_check_on_cpu():
    done = _run("--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert set(report["methods"]) == set(__import__("automl_har.methods", fromlist=["x"]).method_names())
    for name, entry in report["methods"].items():
        assert entry["ok"], (name, entry)
        assert entry["cuda_vs_cpu"]["max_abs_diff"] == 0.0  # the same device twice: identical
