"""Faults lose nothing: the MLflow tracking server dies in the middle of a trial (and comes back),
or the workspace stops taking writes (a full disk) in the middle of a trial.

Each fault strikes once the trial's model has trained, so its result exists and must not be lost.
After it the search stops with one ``error:`` line (no traceback), every trial that trained is
COMPLETE in Optuna, and once the fault is gone a re-run of the same command resumes the study and
leaves Optuna and MLflow in agreement about every finished trial. Each test runs on the
workspace's journal file and on a PostgreSQL storage (skipped where PostgreSQL cannot start).
The kill -9 and SIGTERM faults are in ``test_terminated_search.py`` and ``test_postgres.py``.
"""

from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from typing import Callable

import optuna
import pytest
from mlflow import MlflowClient
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.attrs import (
    BEST_CHECKPOINT_TRIAL_TAG, CHECKPOINT_ERROR_TAG, INTERRUPTED_ATTR, MLFLOW_PARENT_TAG, PARENT_RUN_ATTR, STATE_TAG,
    TRIAL_RUN_ATTR, TRIAL_TAG,
)
from automl_har.cli.main import app
from automl_har.methods.supervised import Supervised
from automl_har.mlflow_server import start_server
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

STUDY = "supervised-synthetic"
SEARCH = ["search", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.01", "--repeats", "1",
          "--labels-per-class", "5", "--pruner", "none", "--quiet"]
#: MLflow run status of each finished Optuna state (FAIL: KILLED when its process was stopped)
RUN_STATUS = {"COMPLETE": {"FINISHED"}, "PRUNED": {"FINISHED"}, "FAIL": {"FAILED", "KILLED"}}


@pytest.fixture(params=["journal", "postgres"])
def storage_url(request, tmp_path) -> str | None:
    """None: the workspace's journal file (the default); else a PostgreSQL URL."""
    return None if request.param == "journal" else request.getfixturevalue("postgres_url")


def _search(tmp_path, storage_url: str | None, *extra: str):
    storage = ["--storage", storage_url] if storage_url else []
    return CliRunner().invoke(app, [*SEARCH, "--workdir", str(tmp_path), *storage, *extra])


def _study(tmp_path, storage_url: str | None) -> optuna.Study:
    url = storage_url or Workspace.resolve(tmp_path).optuna_storage_url
    return optuna.load_study(study_name=STUDY, storage=open_storage(url))


@contextmanager
def _fault_once_trained(trial_index: int, fault: Callable[[pytest.MonkeyPatch], None]):
    """Within the block, ``fault(monkeypatch)`` strikes right after the ``trial_index``-th model of
    this process has trained (one model per trial with ``--repeats 1``); yields the list of trials
    whose model trained. Leaving the block undoes the fault (the server is back, space is freed)."""
    trained: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        finetune = Supervised.finetune

        def finetune_then_fault(self, *args, **kwargs):
            model = finetune(self, *args, **kwargs)
            trained.append(len(trained))
            if len(trained) == trial_index + 1:
                fault(patch)
            return model

        patch.setattr(Supervised, "finetune", finetune_then_fault)
        yield trained


def _assert_one_error_line(result, *fragments: str) -> str:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def _lost(study: optuna.Study, trained: list[int]) -> list[int]:
    """Trials whose model trained but that are not COMPLETE in Optuna."""
    complete = {t.number for t in study.get_trials() if t.state == TrialState.COMPLETE}
    return sorted(set(trained) - complete)


def assert_optuna_and_mlflow_agree(study: optuna.Study, tracking_uri: str) -> None:
    """No trial is left RUNNING, every finished trial has one MLflow run under the study's parent
    run and no other trial does, in the matching state (COMPLETE <-> FINISHED, FAIL <-> FAILED), no
    run is left open. A trial closed before its run was created (``interrupted``) has none."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    parent = study.user_attrs[PARENT_RUN_ATTR]
    runs = client.search_runs([experiment], f"tags.`{MLFLOW_PARENT_TAG}` = '{parent}'")
    by_trial = {int(r.data.tags[TRIAL_TAG]): r for r in runs if TRIAL_TAG in r.data.tags}
    assert len(by_trial) == sum(TRIAL_TAG in r.data.tags for r in runs)  # one run per trial
    trials = study.get_trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    finished = {t.number: t.state.name for t in trials if t.state.is_finished()
                and not (t.user_attrs.get(INTERRUPTED_ATTR) and t.number not in by_trial)}
    assert set(by_trial) == set(finished), (sorted(by_trial), finished)
    for number, state in finished.items():
        run = by_trial[number]
        assert run.info.status in RUN_STATUS[state], (number, state, run.info.status)
        assert run.data.tags.get(STATE_TAG) == state, (number, state, run.data.tags)
    for trial in trials:
        if trial.state == TrialState.COMPLETE:  # its value is in MLflow, whatever the fault
            assert by_trial[trial.number].data.metrics["val_macro_f1_mean"] == pytest.approx(trial.value)


@pytest.mark.slow
def test_tracking_server_dying_mid_trial_keeps_the_trial_and_a_resume_records_it(storage_url, tmp_path, monkeypatch):
    """The server dies once trial 1 has trained: trial 1 is COMPLETE in Optuna, the search stops with
    one line; with the server back, re-running the command closes trial 1's open run and goes on."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's default retries take minutes
    workspace = Workspace.resolve(tmp_path)
    server = start_server(workspace)
    try:
        tracking = ["--tracking-uri", server.url, "--trials", "3"]
        with _fault_once_trained(1, lambda patch: server.stop()) as trained:
            stopped = _search(tmp_path, storage_url, *tracking)
        _assert_one_error_line(stopped, server.url, "re-run")
        study = _study(tmp_path, storage_url)
        assert trained == [0, 1] and _lost(study, trained) == []
        assert not [t.number for t in study.get_trials() if t.state == TrialState.RUNNING]

        server = start_server(workspace, port=server.port)  # it comes back
        resumed = _search(tmp_path, storage_url, *tracking)
        assert resumed.exit_code == 0, resumed.output
        assert _lost(study, trained) == []
        assert sum(t.state == TrialState.COMPLETE for t in study.get_trials()) == 3
        assert_optuna_and_mlflow_agree(study, server.url)
    finally:
        server.stop()


@pytest.mark.slow
def test_tracking_server_back_within_mlflow_retries_lets_the_search_go_on(tmp_path, monkeypatch):
    """The server dies once trial 1 has trained and is back seconds later, within the MLflow client's
    retries: the search goes on as if nothing happened (on any storage: Optuna is not involved)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "6")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")  # retries over about a minute
    workspace = Workspace.resolve(tmp_path)
    servers = [start_server(workspace)]
    url, port = servers[0].url, servers[0].port

    def die_and_come_back(patch) -> None:
        servers[0].stop()
        threading.Thread(target=lambda: servers.append(start_server(workspace, port=port)), daemon=True).start()

    try:
        with _fault_once_trained(1, die_and_come_back) as trained:
            result = _search(tmp_path, None, "--tracking-uri", url, "--trials", "3")
        assert result.exit_code == 0, result.output
        study = _study(tmp_path, None)
        assert trained == [0, 1, 2] and _lost(study, trained) == []
        assert_optuna_and_mlflow_agree(study, url)
    finally:
        for server in servers:
            server.stop()


def _disk_full(patch: pytest.MonkeyPatch) -> None:
    """Every artifact written into the workspace (checkpoints, plots) fails as on a full disk."""

    def no_space(self, local_path, artifact_path=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), local_path)

    patch.setattr(LocalArtifactRepository, "log_artifact", no_space)
    patch.setattr(LocalArtifactRepository, "log_artifacts", no_space)


@pytest.mark.slow
def test_full_workspace_mid_trial_keeps_the_trial_and_a_resume_goes_on(storage_url, tmp_path):
    """The disk fills once trial 0 has trained, as its checkpoint is written (the first trial always
    keeps one): trial 0 stays COMPLETE (without a checkpoint) in both stores, the search stops with
    one line; with space freed, re-running the command goes on."""
    with _fault_once_trained(0, _disk_full) as trained:
        stopped = _search(tmp_path, storage_url, "--trials", "2")
    _assert_one_error_line(stopped, "No space left on device", "re-run")
    study = _study(tmp_path, storage_url)
    assert trained == [0] and _lost(study, trained) == []
    tracking_uri = Workspace.resolve(tmp_path).tracking_uri
    assert_optuna_and_mlflow_agree(study, tracking_uri)  # nothing was left open: MLflow itself still answered
    run = MlflowClient(tracking_uri).get_run(study.trials[0].user_attrs[TRIAL_RUN_ATTR])
    assert "No space left on device" in run.data.tags[CHECKPOINT_ERROR_TAG]  # why export must re-train it

    resumed = _search(tmp_path, storage_url, "--trials", "2")
    assert resumed.exit_code == 0, resumed.output
    assert _lost(study, trained) == []
    assert sum(t.state == TrialState.COMPLETE for t in study.get_trials()) == 2
    assert_optuna_and_mlflow_agree(study, tracking_uri)
    parent = MlflowClient(tracking_uri).get_run(study.user_attrs[PARENT_RUN_ATTR])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags.get(BEST_CHECKPOINT_TRIAL_TAG) != "0"  # trial 0 has no checkpoint to stand for it


def _write_fails(patch: pytest.MonkeyPatch) -> None:
    """A write of the trial's training fails as on a full disk (e.g. a stage cache entry)."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "cache/pretrain/entry.pt")


@pytest.mark.slow
def test_full_disk_before_a_trial_has_its_result_stops_it_unfinished_and_a_resume_reruns_it(storage_url, tmp_path):
    """A write inside trial 1's training fails: trial 1 has no result, so it is closed as a kill
    closes it (FAIL, interrupted, not counted) in both stores, trial 0 stays COMPLETE and the search
    stops with one line; with space freed, re-running the command completes the study."""
    with _fault_once_trained(1, _write_fails):
        stopped = _search(tmp_path, storage_url, "--trials", "2")
    _assert_one_error_line(stopped, "No space left on device", "during trial 1", "re-run")
    study = _study(tmp_path, storage_url)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[1].user_attrs[INTERRUPTED_ATTR]  # not counted: a re-run runs another trial instead
    tracking_uri = Workspace.resolve(tmp_path).tracking_uri
    assert_optuna_and_mlflow_agree(study, tracking_uri)

    resumed = _search(tmp_path, storage_url, "--trials", "2")
    assert resumed.exit_code == 0, resumed.output
    assert [t.state for t in study.get_trials()][0] == TrialState.COMPLETE
    assert [t.state for t in study.get_trials()].count(TrialState.COMPLETE) == 2
    assert_optuna_and_mlflow_agree(study, tracking_uri)
