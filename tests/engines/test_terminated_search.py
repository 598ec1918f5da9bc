"""`kill` (SIGTERM) of `autohar search`, with one process or with workers: every trial and run is
closed with the reason, nothing finished is lost, and re-running the command resumes.

The trials under test hold mid-training until the test has seen them (files they write), so the
tests wait on events, never on the clock, and are exact on a machine of any speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.attrs import FAIL_REASON_ATTR, FAIL_REASON_TAG, INTERRUPTED_ATTR, PARENT_RUN_ATTR, TRIAL_RUN_ATTR
from automl_har.cli.main import app
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

#: sitecustomize for every Python process of the search (coordinator and `autohar worker`s): once
#: one trial has trained, every later trial writes holding-<pid> and waits until it is stopped
_HOLDING_SITECUSTOMIZE = """
import os, pathlib, time
if os.environ.get("AUTOHAR_TEST_EVENTS"):
    events = pathlib.Path(os.environ["AUTOHAR_TEST_EVENTS"])
    from automl_har.methods.supervised import Supervised
    finetune = Supervised.finetune

    def finetune_then_hold(self, *args, **kwargs):
        model = finetune(self, *args, **kwargs)
        if (events / "first-trial-trained").exists():
            (events / f"holding-{os.getpid()}").touch()
            while True:
                time.sleep(0.05)
        (events / "first-trial-trained").touch()
        return model

    Supervised.finetune = finetune_then_hold
"""

ARGS = ["search", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "1",
        "--labels-per-class", "5", "--pruner", "none", "--quiet"]


def _start_holding_search(tmp_path, sitecustomized_env, extra: list[str]) -> tuple[subprocess.Popen, object]:
    env, events = sitecustomized_env(_HOLDING_SITECUSTOMIZE)
    argv = [sys.executable, "-m", "automl_har.cli.main", *ARGS, "--trials", "40", "--workdir", str(tmp_path), *extra]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), events


def _terminate_when_holding(process: subprocess.Popen, events, holders: int) -> str:
    try:
        while process.poll() is None and len(list(events.glob("holding-*"))) < holders:
            time.sleep(0.1)
        assert process.poll() is None, f"the search ended before {holders} trials were running: {process.stderr.read()}"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=300)  # closing runs is quick; a hang is the bug under test
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    return stderr


def _check_closed_and_resume(tmp_path, holders: int) -> None:
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    trials = study.get_trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    stopped = [t for t in trials if t.user_attrs.get(INTERRUPTED_ATTR)]
    assert len(stopped) >= holders and all(t.state == TrialState.FAIL for t in stopped)
    assert all(t.user_attrs[FAIL_REASON_ATTR] == "interrupted: terminated by SIGTERM" for t in stopped)
    client = MlflowClient(ws.tracking_uri)
    for trial in stopped:
        if TRIAL_RUN_ATTR in trial.user_attrs:
            run = client.get_run(trial.user_attrs[TRIAL_RUN_ATTR])
            assert run.info.status == "KILLED" and run.data.tags[FAIL_REASON_TAG] == "interrupted: terminated by SIGTERM"
    parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
    assert parent.info.status == "KILLED" and parent.data.tags[FAIL_REASON_TAG] == "interrupted: terminated by SIGTERM"
    completed = {t.number for t in trials if t.state == TrialState.COMPLETE}
    assert completed  # the first trial finished before the kill

    total = len(completed) + 1
    again = CliRunner().invoke(app, [*ARGS, "--trials", str(total), "--workdir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    after = study.get_trials()
    assert completed <= {t.number for t in after if t.state == TrialState.COMPLETE}  # nothing lost
    assert sum(t.state == TrialState.COMPLETE for t in after) == total
    assert client.get_run(study.user_attrs[PARENT_RUN_ATTR]).info.status == "FINISHED"  # the same parent run


@pytest.mark.slow
def test_sigterm_of_a_one_process_search_closes_its_trial_and_runs_and_it_resumes(tmp_path, sitecustomized_env):
    process, events = _start_holding_search(tmp_path, sitecustomized_env, [])
    _terminate_when_holding(process, events, holders=1)
    _check_closed_and_resume(tmp_path, holders=1)


@pytest.mark.slow
def test_sigterm_of_a_search_with_workers_closes_every_workers_trial_and_it_resumes(tmp_path, sitecustomized_env):
    process, events = _start_holding_search(tmp_path, sitecustomized_env, ["--workers", "2"])
    _terminate_when_holding(process, events, holders=2)
    for holding in events.glob("holding-*"):  # the workers exited too
        pid = int(holding.name.removeprefix("holding-"))
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    _check_closed_and_resume(tmp_path, holders=2)
