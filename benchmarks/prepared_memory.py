"""Peak memory (RSS) of a search whose trials share the prepared data (issue 32, item 6).

Each run is one ``autohar`` command in a fresh process and workspace; its peak resident set size is
read from ``getrusage(RUSAGE_CHILDREN)`` after it ends. Two runs:

- ``utd_search``: a 10-trial supervised search on UTD-MHAD (IMU + skeleton, ``--data-dir``), at a
  tiny budget (memory, not accuracy, is measured);
- ``lodo_target``: one leave-one-dataset-out target of ``combined`` (``autohar lodo --targets``) on a
  pool of synthetic domains written here in the custom .npz format (the six paper datasets are not
  on this machine), ``--domain-windows`` windows each.

Run it on two commits (e.g. from a ``git worktree``) to compare before and after; it prints one
JSON object with the commit it ran on:

    python benchmarks/prepared_memory.py [--utd-dir ../shared/data/utd_mhad] [--domain-windows 30000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb(args: list[str]) -> dict:
    """Run ``python -m automl_har.cli.main ARGS`` in a child of a fresh process; its peak RSS in MB."""
    probe = ("import resource, subprocess, sys; run = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, run.returncode); "
             "sys.stderr.write(run.stdout[-2000:] + run.stderr[-2000:])")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "automl_har.cli.main", *args],
                          capture_output=True, text=True, cwd=ROOT)
    kilobytes, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"`autohar {' '.join(args)}` failed:\n{done.stderr}")
    return {"peak_rss_mb": round(int(kilobytes) / 1024, 1), "seconds": round(time.perf_counter() - started, 1)}


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    return (found.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utd-dir", type=Path, default=ROOT.parent / "shared" / "data" / "utd_mhad")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--domain-windows", type=int, default=30000, help="windows per synthetic domain of the pool")
    parser.add_argument("--runs", default="utd_search,lodo_target", help="which runs, comma list")
    args = parser.parse_args()
    from automl_har.data.loaders.synthetic import write_synthetic_domains

    report: dict = {"commit": commit()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = args.runs.split(",")
        if "utd_search" in runs:
            report["utd_search"] = {"trials": args.trials, **peak_rss_mb([
            "search", "--method", "supervised", "--dataset", "utd-mhad", "--data-dir", str(args.utd_dir),
                "--trials", str(args.trials), "--budget", "0.02", "--repeats", "1", "--workdir", str(tmp / "utd"), "-q"])}
        if "lodo_target" in runs:
            pool = write_synthetic_domains(tmp / "pool", n_windows=args.domain_windows, n_subjects=8)
            report["lodo_target"] = {"domains": len(pool), "windows_per_domain": args.domain_windows, **peak_rss_mb([
                "lodo", "--datasets", ",".join(str(p) for p in pool), "--targets", str(pool[0]), "--label-map",
                "identity", "--ratios", "0.1", "--strategies", "PU,PF", "--param", "architecture=deepconvlstm",
                "--budget", "0.005", "--repeats", "1", "--workdir", str(tmp / "lodo"), "-q"])}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
