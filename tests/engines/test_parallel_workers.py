"""Several Optuna worker processes on one study; a killed worker's trial is closed on resume."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.attrs import INTERRUPTED_ATTR, OWNER_ATTR, TRIAL_RUN_ATTR
from automl_har.engines._owners import this_process
from automl_har.storage import journal_url, open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

FAST = ["--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "1",
        "--labels-per-class", "5", "--quiet"]


def nested_runs(workspace: Workspace):
    client = MlflowClient(tracking_uri=workspace.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


@pytest.mark.slow
def test_two_workers_share_one_study_and_one_parent_run(tmp_path):
    result = CliRunner().invoke(app, ["search", *FAST, "--trials", "6", "--workers", "2", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(journal_url(ws.journal_path)))
    states = [t.state for t in study.get_trials()]
    assert states.count(TrialState.COMPLETE) == 6 and TrialState.FAIL not in states
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 6  # workers proposed different points
    _, parents, children = nested_runs(ws)
    assert len(parents) == 1 and len(children) == 6
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert all(c.info.status == "FINISHED" for c in children)
    assert sorted(c.info.run_name for c in children) == [f"trial-{i}" for i in range(6)]


#: `autohar worker` in a fresh interpreter, noting which heavy libraries are loaded at its first study.ask()
_WORKER_FIRST_ASK = """
import sys
import optuna.study
seen = []
ask = optuna.study.Study.ask

def noting_ask(self, *args, **kwargs):
    if not seen:
        seen.append([m for m in ("torch", "mlflow", "matplotlib", "ray", "sqlalchemy") if m in sys.modules])
    return ask(self, *args, **kwargs)

optuna.study.Study.ask = noting_ask
from automl_har.cli.main import app
try:
    app(["worker", "--study", sys.argv[1], "--storage", sys.argv[2]])
except SystemExit as done:
    assert done.code == 0, done.code
print("AT FIRST ASK: [" + ",".join(seen[0]) + "]")
"""


@pytest.mark.slow
def test_a_worker_asks_for_its_first_trial_before_loading_torch_or_mlflow_and_then_runs_it(tmp_path):
    from automl_har.engines.optuna import prepare_study
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.search_spec import SearchSpec

    experiment = ExperimentSpec(method="supervised", dataset="synthetic", budget=0.03,
                                protocol=Protocol(labels_per_class=5, repeats=1))
    spec = SearchSpec(experiment, Workspace.resolve(tmp_path), n_trials=1, sampler="random", pruner="none", workers=2)
    prepare_study(spec)
    done = subprocess.run([sys.executable, "-c", _WORKER_FIRST_ASK, spec.resolved_study_name, spec.storage_url],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "AT FIRST ASK: []", done.stdout
    study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE]
    assert TRIAL_RUN_ATTR in study.get_trials()[0].user_attrs  # its MLflow run, opened after the ask


@pytest.mark.slow
def test_workers_whose_trials_all_fail_end_the_search_with_their_error_on_one_line(tmp_path):
    # a width inside its declared range whose second layer cannot be allocated: every trial fails inside
    result = CliRunner().invoke(app, ["search", *FAST, "--trials", "4", "--workers", "2", "--param", "width=1000000",
                                      "--workdir", str(tmp_path)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: every worker stopped without a completed trial; last error: ")
    assert "can't allocate memory" in lines[-1]


@pytest.mark.slow
def test_a_study_started_with_workers_resumes_without_them_as_one_study(tmp_path):
    args = ["search", *FAST, "--study", "S", "--workdir", str(tmp_path)]
    first = CliRunner().invoke(app, [*args, "--trials", "2", "--workers", "2"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--trials", "3"])  # the same command, one worker
    assert again.exit_code == 0, again.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="S", storage=open_storage(ws.optuna_storage_url))
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 3  # resumed: 2 + 1 trials
    listed = CliRunner().invoke(app, ["studies", "--workdir", str(tmp_path)])
    assert listed.exit_code == 0 and len(re.findall(r"^S +supervised ", listed.output, re.M)) == 1, listed.output
    _, parents, children = nested_runs(ws)
    assert [p.info.run_name for p in parents] == ["S"] and len(children) == 3


def test_a_study_in_the_old_sqlite_file_is_not_created_again(tmp_path):
    legacy = Workspace.resolve(tmp_path).legacy_sqlite_path
    optuna.create_study(study_name="S", storage=f"sqlite:///{legacy}")
    result = CliRunner().invoke(app, ["search", *FAST, "--study", "S", "--trials", "1", "--workdir", str(tmp_path)])
    assert result.exit_code == 2 and f"--storage sqlite:///{legacy}" in result.output, result.output
    assert not Workspace.resolve(tmp_path).journal_path.exists()  # nothing recorded


def test_sqlite_refused_for_several_workers(tmp_path):
    result = CliRunner().invoke(app, ["search", *FAST, "--workers", "2", "--storage", f"sqlite:///{tmp_path}/x.db",
                                      "--workdir", str(tmp_path)])
    assert result.exit_code == 2 and "SQLite is not safe for 2 concurrent workers" in result.output


#: a search whose second trial holds in its fine-tuning until the process is killed: the test waits
#: on the files it writes (events), not on the clock, so it is exact on a machine of any speed
_HOLDING_SEARCH = """
import pathlib, sys, time
from automl_har.methods.supervised import Supervised
events = pathlib.Path(sys.argv[1])
finetune = Supervised.finetune

def finetune_then_hold(self, *args, **kwargs):
    model = finetune(self, *args, **kwargs)
    if (events / "first-trial-trained").exists():
        (events / "second-trial-training").touch()
        while True:  # mid-trial, until the test kills the process
            time.sleep(0.05)
    (events / "first-trial-trained").touch()
    return model

Supervised.finetune = finetune_then_hold
from automl_har.cli.main import app
app(sys.argv[2:])
"""


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume_keeps_finished_trials_and_closes_the_killed_one(tmp_path):
    ws = Workspace.resolve(tmp_path)
    args = ["search", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "1",
            "--pruner", "none", "--quiet", "--workdir", str(tmp_path)]
    events = tmp_path / "events"
    events.mkdir()
    process = subprocess.Popen([sys.executable, "-c", _HOLDING_SEARCH, str(events), *args, "--trials", "50"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed = None
    try:
        while process.poll() is None and not (events / "second-trial-training").exists():
            time.sleep(0.1)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # trial 1 has its MLflow run and is training
            process.wait()
            trials = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url)).get_trials()
            running = [t for t in trials if t.state == TrialState.RUNNING and TRIAL_RUN_ATTR in t.user_attrs]
            killed = running[0].number if running and any(t.state == TrialState.COMPLETE for t in trials) else None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert killed is not None, "the search never had a finished and a running trial"
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    assert study.get_trials()[killed].state == TrialState.RUNNING  # left behind by the killed process
    completed_before = {t.number for t in study.get_trials() if t.state == TrialState.COMPLETE}

    total = len(completed_before) + 1
    result = CliRunner().invoke(app, [*args, "--trials", str(total)])
    assert result.exit_code == 0, result.output
    trials = {t.number: t for t in study.get_trials()}
    assert completed_before <= {n for n, t in trials.items() if t.state == TrialState.COMPLETE}  # nothing lost
    assert trials[killed].state == TrialState.FAIL and trials[killed].user_attrs["interrupted"] is True
    client, _, children = nested_runs(ws)
    killed_run = client.get_run(trials[killed].user_attrs[TRIAL_RUN_ATTR])
    assert killed_run.info.status == "FAILED" and "interrupted" in killed_run.data.tags["autohar.fail_reason"]
    assert sum(t.state == TrialState.COMPLETE for t in trials.values()) == total


def _running_trial(study: optuna.Study, owner: dict | None) -> int:
    trial = study.ask()
    if owner is not None:
        trial.set_user_attr(OWNER_ATTR, owner)
    return trial.number


def test_resume_closes_only_the_trials_whose_process_is_gone_and_reports_the_others(tmp_path):
    """Without heartbeats (the journal file): a trial of a process that died on this machine is
    closed; a trial of another machine, or with no recorded owner, is left RUNNING and reported;
    a trial of a live process here (e.g. `autohar worker` in another shell) is left alone."""
    ws = Workspace.resolve(tmp_path)
    study = optuna.create_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url),
                                direction="maximize")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()
    gone = _running_trial(study, {"host": here, "pid": dead.pid, "started": None})
    elsewhere = _running_trial(study, {"host": "another-machine", "pid": os.getpid(), "started": None})
    unknown = _running_trial(study, None)
    alive = _running_trial(study, this_process())
    result = CliRunner().invoke(app, ["search", *FAST, "--trials", "5", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    states = {t.number: t.state for t in study.get_trials()}
    assert states[gone] == TrialState.FAIL
    assert states[elsewhere] == states[unknown] == states[alive] == TrialState.RUNNING
    assert f"trial {elsewhere} (another-machine pid {os.getpid()})" in result.output
    assert f"trial {unknown} (an unknown process)" in result.output and f"trial {alive} " not in result.output
    assert "autohar studies --close-stale supervised-synthetic" in result.output

    closed = CliRunner().invoke(app, ["studies", "--close-stale", "supervised-synthetic", "--workdir", str(tmp_path)])
    assert closed.exit_code == 0, closed.output
    states = {t.number: t for t in study.get_trials()}
    assert states[elsewhere].state == states[unknown].state == TrialState.FAIL
    assert states[elsewhere].user_attrs[INTERRUPTED_ATTR] is True
    assert states[alive].state == TrialState.RUNNING  # its process runs: not stale
    assert f"closed trials {elsewhere}, {unknown}" in closed.output
