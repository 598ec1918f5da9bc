"""Fixtures shared across the test suite: tiny synthetic data and an isolated workspace."""

from __future__ import annotations

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
    import os

    def make(code: str) -> tuple[dict, Path]:
        site, events = tmp_path / "site", tmp_path / "events"
        site.mkdir()
        events.mkdir()
        (site / "sitecustomize.py").write_text(code)
        env = {**os.environ, "AUTOHAR_TEST_EVENTS": str(events),
               "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
        return env, events

    return make


def pytest_configure(config):
    """One torch thread: the models under test are tiny, and on a busy 2-core machine two
    OpenMP threads per process make them many times slower, not faster."""
    import torch

    torch.set_num_threads(1)
