"""``autohar studies delete NAME [--yes]``: the Optuna study and its MLflow runs go, nothing else;
it asks first, refuses while a trial may still be running, and an unknown name is one short line."""

from __future__ import annotations

import socket
import time

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

import automl_har.engines.delete  # noqa: F401 - imported now, so a command runs in well under a heartbeat's grace
from automl_har.attrs import OWNER_ATTR, STUDY_TAG
from automl_har.cli.main import app
from automl_har.engines._owners import this_process
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

SEARCH = ["search", "--method", "supervised", "--dataset", "synthetic", "--trials", "1", "--budget", "0.01",
          "--repeats", "1", "--labels-per-class", "5", "--quiet"]


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def _search(tmp_path, study: str) -> None:
    result = _run(*SEARCH, "--study", study, "--workdir", str(tmp_path))
    assert result.exit_code == 0, result.output


def _storage(tmp_path):
    return open_storage(Workspace.resolve(tmp_path).optuna_storage_url)


def _study_names(tmp_path) -> set[str]:
    return {s.study_name for s in optuna.get_all_study_summaries(_storage(tmp_path))}


def _runs_by_study(tmp_path) -> dict[str, int]:
    """Active MLflow runs of the workspace per ``autohar.study`` tag (parent and trial runs)."""
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    counts: dict[str, int] = {}
    for run in client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id]):
        counts[run.data.tags.get(STUDY_TAG)] = counts.get(run.data.tags.get(STUDY_TAG), 0) + 1
    return counts


def _one_error_line(result) -> str:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.mark.slow
def test_delete_removes_the_study_and_its_runs_and_keeps_the_others(tmp_path):
    _search(tmp_path, "old")
    _search(tmp_path, "kept")
    assert _runs_by_study(tmp_path) == {"old": 2, "kept": 2}  # a parent and one trial run each

    declined = _run("studies", "delete", "old", "--workdir", str(tmp_path), input="n\n")
    assert declined.exit_code != 0 and "delete study 'old' (1 trials) and its MLflow runs?" in declined.output
    assert "aborted" in declined.output and "Traceback" not in declined.output
    assert _study_names(tmp_path) == {"old", "kept"} and _runs_by_study(tmp_path) == {"old": 2, "kept": 2}

    deleted = _run("studies", "--workdir", str(tmp_path), "delete", "old", input="y\n")  # group options work too
    assert deleted.exit_code == 0, deleted.output
    assert "deleted study 'old' (1 trials) and its 2 MLflow runs" in deleted.output
    assert _study_names(tmp_path) == {"kept"}
    assert _runs_by_study(tmp_path) == {"kept": 2}

    listed = _run("studies", "--workdir", str(tmp_path))  # the listing is still `autohar studies`
    assert listed.exit_code == 0 and "kept" in listed.output and "old" not in listed.output
    _search(tmp_path, "old")  # the name is free again: a new study, not a resumed one
    assert _runs_by_study(tmp_path) == {"old": 2, "kept": 2}


def _study_with_a_running_trial(storage, owner: dict):
    study = optuna.create_study(study_name="busy", storage=storage)
    trial = study.ask()
    trial.set_user_attr(OWNER_ATTR, owner)
    return study, trial


def test_delete_refuses_while_a_trial_of_a_live_process_or_another_machine_runs(tmp_path):
    storage = _storage(tmp_path)
    study, live = _study_with_a_running_trial(storage, this_process())  # e.g. a worker in another shell
    elsewhere = study.ask()
    elsewhere.set_user_attr(OWNER_ATTR, {"host": "another-machine", "pid": 4242, "started": 1})

    refused = _one_error_line(_run("studies", "delete", "busy", "--yes", "--workdir", str(tmp_path)))
    assert f"trial 0 ({socket.gethostname()} pid" in refused and "trial 1 (another-machine pid 4242)" in refused
    assert "wait until they finish" in refused and "autohar studies --close-stale busy" in refused
    assert _study_names(tmp_path) == {"busy"}

    study.tell(live, 0.5)  # the live one finished
    study.tell(elsewhere, state=TrialState.FAIL)  # the other machine's was closed (`--close-stale`)
    deleted = _run("studies", "delete", "busy", "--yes", "--workdir", str(tmp_path))
    assert deleted.exit_code == 0, deleted.output
    assert _study_names(tmp_path) == set()


def test_delete_ignores_a_running_trial_whose_process_is_gone(tmp_path):
    gone = {"host": socket.gethostname(), "pid": 2**22 + 1, "started": 1}  # above Linux's pid_max: no such process
    _study_with_a_running_trial(_storage(tmp_path), gone)
    deleted = _run("studies", "delete", "busy", "--yes", "--workdir", str(tmp_path))
    assert deleted.exit_code == 0, deleted.output
    assert _study_names(tmp_path) == set()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")  # the test's own ask()
def test_delete_on_postgres_refuses_while_a_heartbeat_is_fresh_and_goes_once_it_is_stale(postgres_url, monkeypatch):
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_S", "1")
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_GRACE_S", "4")
    storage = open_storage(postgres_url)
    _, trial = _study_with_a_running_trial(storage, {"host": "another-machine", "pid": 4242, "started": 1})
    storage.record_heartbeat(trial._trial_id)
    refused = _one_error_line(_run("studies", "delete", "busy", "--yes", "--storage", postgres_url))
    assert "trial 0 (another-machine pid 4242)" in refused and "heartbeat is 4 s old" in refused
    assert "busy" in optuna.get_all_study_names(storage)

    time.sleep(5)  # the worker on the other machine died: its heartbeat goes stale
    deleted = _run("studies", "delete", "busy", "--yes", "--storage", postgres_url)
    assert deleted.exit_code == 0, deleted.output
    assert "busy" not in optuna.get_all_study_names(storage)


def test_an_unknown_name_is_one_short_line_with_the_closest_names(tmp_path):
    storage = _storage(tmp_path)
    for i in range(30):
        optuna.create_study(study_name=f"cosmo-utd-{i:02d}", storage=storage)
    error = _one_error_line(_run("studies", "delete", "cosmo-utd-7", "--yes", "--workdir", str(tmp_path)))
    assert "no study 'cosmo-utd-7'" in error and "did you mean 'cosmo-utd-07' or" in error
    assert "`autohar studies` lists all 30 studies" in error and len(error) < 250
    assert len(_study_names(tmp_path)) == 30
    empty = _one_error_line(_run("studies", "delete", "x", "--yes", "--workdir", str(tmp_path / "none")))
    assert "no studies in" in empty  # a workspace without a storage
