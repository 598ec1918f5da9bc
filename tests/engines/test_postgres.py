"""A real PostgreSQL server as the study storage, shared by two worker processes.

The server is made with ``initdb`` + ``pg_ctl`` in a temporary folder on a free localhost port,
run as an unprivileged user. Outside CI the test skips when PostgreSQL cannot be started; in CI
(``CI=true``, where ``.ci/run`` installs the ``postgresql`` package) that is a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI but {reason}")
    pytest.skip(f"PostgreSQL server cannot be started here: {reason}")


def _as_user(user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--"] if user else []


@pytest.fixture
def postgres_url():
    bin_dir = _postgres_bin()
    if bin_dir is None:
        _unavailable("pg_ctl/initdb are not installed (Debian package `postgresql`)")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _unavailable("the psycopg2 driver is missing (pip install psycopg2-binary)")
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        for candidate in ("postgres", "nobody"):
            try:
                pwd.getpwnam(candidate)
                user = candidate
                break
            except KeyError:
                continue
    root = Path(tempfile.mkdtemp(prefix="autohar-pg-"))  # not under pytest's root-only tmp folder
    data = root / "data"
    if user:
        shutil.chown(root, user=user)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    init = subprocess.run([*_as_user(user), str(bin_dir / "initdb"), "-D", str(data), "-U", "autohar", "--auth=trust"],
                          capture_output=True, text=True)
    if init.returncode != 0:
        _unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    start = subprocess.run([*_as_user(user), str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                            "-l", str(root / "server.log"), "-w", "-t", "60", "start"], capture_output=True, text=True)
    if start.returncode != 0:
        _unavailable(f"pg_ctl start failed: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg2://autohar@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*_as_user(user), str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_search_against_a_real_postgres(postgres_url, tmp_path):
    args = ["search", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "1",
            "--labels-per-class", "5", "--trials", "4", "--workers", "2", "--storage", postgres_url,
            "--quiet", "--workdir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="supervised-synthetic", storage=postgres_url)
    assert [t.state for t in study.get_trials()].count(TrialState.COMPLETE) == 4
    client = MlflowClient(tracking_uri=Workspace.resolve(tmp_path).tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert sum("mlflow.parentRunId" in r.data.tags for r in runs) == 4
    listed = CliRunner().invoke(app, ["studies", "--storage", postgres_url])
    assert listed.exit_code == 0 and "supervised-synthetic" in listed.output
