"""Fixtures shared across the test suite: tiny synthetic data, an isolated workspace and a
PostgreSQL server (``postgres_url``)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_windows():
    """120 synthetic windows, 3 classes, 4 subjects, acc+gyro at 25 Hz, 1 s windows."""
    from automl_har.data.loaders.synthetic import make_synthetic

    return make_synthetic(n_windows=120, n_classes=3, n_subjects=4, rate_hz=25.0, window_s=1.0, seed=0)


@pytest.fixture
def pretrain_like_a_trial():
    """``pretrain(method, train, params, ctx)``: pre-training the way a trial runs it
    (``run_pretraining``): on ``train`` without labels, or, for a method that pre-trains on
    labeled source datasets, on two synthetic sources with ``train``'s classes and shape."""
    from types import SimpleNamespace

    from automl_har.data.loaders.synthetic import make_synthetic
    from automl_har.objectives._trial import run_pretraining

    def pretrain(method, train, params, ctx):
        modality = next(iter(train.modalities))
        rate = train.rates_hz[modality]
        shape = {"n_classes": train.n_classes, "n_subjects": 4, "rate_hz": rate,
                 "window_s": train.modalities[modality].shape[1] / rate}
        data = SimpleNamespace(train=train, sources=make_synthetic(n_windows=96, seed=11, **shape),
                               sources_val=make_synthetic(n_windows=24, seed=12, **shape))
        return run_pretraining(method, data, params, ctx)

    return pretrain


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A fresh workspace; $AUTOHAR_HOME points at it so nothing lands in the repo."""
    path = tmp_path / "runs"
    monkeypatch.setenv("AUTOHAR_HOME", str(path))
    return path


@pytest.fixture
def sitecustomized_env(tmp_path):
    """``make(code) -> (env, events)``: an environment in which every Python process (a search and
    the workers it spawns) runs ``code`` as its ``sitecustomize`` at start-up, with
    ``$AUTOHAR_TEST_EVENTS`` naming an empty folder that ``code`` and the test talk through."""

    def make(code: str) -> tuple[dict, Path]:
        site, events = tmp_path / "site", tmp_path / "events"
        site.mkdir()
        events.mkdir()
        (site / "sitecustomize.py").write_text(code)
        env = {**os.environ, "AUTOHAR_TEST_EVENTS": str(events),
               "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
        return env, events

    return make


# --- a real PostgreSQL server as a study storage ----------------------------------------------
# Made with ``initdb`` + ``pg_ctl`` in a temporary folder on a free localhost port, run as an
# unprivileged user. Outside CI a test that asks for it skips when PostgreSQL cannot be started;
# in CI (``CI=true``, where ``.ci/run`` installs the ``postgresql`` package) that is a failure.

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


def pytest_configure(config):
    """One torch thread: the models under test are tiny, and on a busy 2-core machine two
    OpenMP threads per process make them many times slower, not faster."""
    import torch

    torch.set_num_threads(1)
