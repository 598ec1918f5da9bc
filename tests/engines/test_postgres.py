"""A real PostgreSQL server as the study storage, shared by two worker processes.

The server comes from the ``postgres_url`` fixture (``tests/conftest.py``): outside CI the
tests skip when PostgreSQL cannot be started; in CI that is a failure.
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

from automl_har.attrs import BEST_CHECKPOINT_TRIAL_TAG, FAIL_REASON_ATTR, INTERRUPTED_ATTR, OWNER_ATTR, TRIAL_RUN_ATTR
from automl_har.cli.main import app
from automl_har.engines._loop import not_run_reason
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace


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


@pytest.mark.slow
def test_a_search_started_while_another_machine_runs_a_trial_leaves_that_trial_running(postgres_url, tmp_path):
    """The trial of a live worker elsewhere has a fresh heartbeat: a search (re)started now must not close it."""
    args = ["search", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "1",
            "--labels-per-class", "5", "--storage", postgres_url, "--quiet", "--workdir", str(tmp_path)]
    first = CliRunner().invoke(app, [*args, "--trials", "1"])
    assert first.exit_code == 0, first.output
    storage = open_storage(postgres_url)
    study = optuna.load_study(study_name="supervised-synthetic", storage=storage)
    live = study.ask()  # what a worker on another machine is running now
    live.set_user_attr(OWNER_ATTR, {"host": "another-machine", "pid": 4242, "started": 1})
    storage.record_heartbeat(live._trial_id)
    again = CliRunner().invoke(app, [*args, "--trials", "3"])
    assert again.exit_code == 0, again.output
    trials = study.get_trials()
    assert trials[live.number].state == TrialState.RUNNING  # still that machine's
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 2  # 1 + 1: the live trial counts towards 3
    assert "close-stale" not in again.output  # heartbeats decide here: nothing to report


#: sitecustomize for every Python process of the chaos test: a trial that has trained holds (still
#: RUNNING, heartbeat on) until the test writes `release`, so the test acts on events, not on time
_HOLD_UNTIL_RELEASED = """
import os, pathlib, time
if os.environ.get("AUTOHAR_TEST_EVENTS"):
    events = pathlib.Path(os.environ["AUTOHAR_TEST_EVENTS"])
    from automl_har.methods.supervised import Supervised
    finetune = Supervised.finetune

    def finetune_then_hold_until_released(self, *args, **kwargs):
        model = finetune(self, *args, **kwargs)
        if not (events / "release").exists():
            (events / f"holding-{os.getpid()}").touch()
            while not (events / "release").exists():
                time.sleep(0.05)
        return model

    Supervised.finetune = finetune_then_hold_until_released
"""


def _wait_for(condition, processes, what: str) -> None:
    """Poll until ``condition()``; fail at once (with their stderr) if one of ``processes`` exits early."""
    while not condition():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a process exited (rc {process.returncode}) before {what}: {process.stderr.read()[-2000:]}")
        time.sleep(0.1)


@pytest.mark.slow
def test_chaos_three_workers_one_killed_one_joining_and_a_second_search_keep_every_trial(postgres_url, tmp_path,
                                                                                          sitecustomized_env):
    """3 workers on one PostgreSQL study; one is SIGKILLed mid-trial, a new worker joins and the
    search is re-run from another shell while the others' trials run. Every completed trial is kept,
    exactly the requested number complete, the killed trial is FAIL and retried once, no live trial
    is closed, there is one parent run, and the parent's best checkpoint is the best trial's."""
    n_trials = 8
    env, events = sitecustomized_env(_HOLD_UNTIL_RELEASED)
    env.update(AUTOHAR_HEARTBEAT_S="1", AUTOHAR_HEARTBEAT_GRACE_S="4")
    search = [sys.executable, "-m", "automl_har.cli.main", "search", "--method", "supervised", "--dataset", "synthetic",
              "--budget", "0.03", "--repeats", "1", "--labels-per-class", "5", "--pruner", "none", "--quiet",
              "--trials", str(n_trials), "--storage", postgres_url, "--workdir", str(tmp_path)]

    def start(argv):
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    holding = lambda: {int(p.name.removeprefix("holding-")) for p in events.glob("holding-*")}  # noqa: E731
    processes = [start([*search, "--workers", "3"])]
    try:
        _wait_for(lambda: len(holding()) == 3, processes, "3 workers held a trial")
        storage = open_storage(postgres_url)
        study = optuna.load_study(study_name="supervised-synthetic", storage=storage)
        victim_pid = min(holding())
        victim = next(t for t in study.get_trials() if t.state == TrialState.RUNNING
                      and t.user_attrs.get(OWNER_ATTR, {}).get("pid") == victim_pid)
        os.kill(victim_pid, signal.SIGKILL)
        # the coordinator fails a trial whose heartbeat went stale (and queues its retry), even while
        # every other worker is busy
        _wait_for(lambda: study.get_trials()[victim.number].state == TrialState.FAIL, processes,
                  "the killed worker's trial was failed for its stale heartbeat")
        processes.append(start([sys.executable, "-m", "automl_har.cli.main", "worker", "--study", "supervised-synthetic",
                                "--storage", postgres_url]))  # a new worker joins
        processes.append(start(search))  # the same search, re-run from another shell
        _wait_for(lambda: len(holding()) == 5, processes, "the new worker and the re-run held a trial")
        live = [t for t in study.get_trials() if t.state == TrialState.RUNNING]
        assert {t.user_attrs[OWNER_ATTR]["pid"] for t in live} == holding() - {victim_pid}  # none was closed
        (events / "release").touch()
        for process in processes:
            process.wait(timeout=600)  # a hang is the bug under test, not slowness
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0, 0], [p.stderr.read()[-1000:] for p in processes]

    trials = study.get_trials()
    states = [t.state for t in trials]
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    print(f"chaos: {len(trials)} trials: {states.count(TrialState.COMPLETE)} COMPLETE, {states.count(TrialState.FAIL)} FAIL, "
          f"{states.count(TrialState.RUNNING)} RUNNING, {states.count(TrialState.WAITING)} WAITING; "
          f"killed trial {victim.number} retried as {[t.number for t in retries]}")
    assert states.count(TrialState.COMPLETE) == n_trials and TrialState.RUNNING not in states
    failed = {t.number: (t.user_attrs.get(FAIL_REASON_ATTR), t.user_attrs.get(OWNER_ATTR), t.system_attrs.get("fail_reason"))
              for t in trials if t.state == TrialState.FAIL}
    # a trial closed unrun because the study already had its trials is by design (not_run_reason)
    not_run = {t.number for t in trials if t.state == TrialState.FAIL and t.user_attrs.get(INTERRUPTED_ATTR)
               and t.user_attrs.get(FAIL_REASON_ATTR) == not_run_reason(n_trials)}
    assert sorted(set(failed) - not_run) == [victim.number], failed  # only the killed one; else why each failed, and whose
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert all(t.number in {r.number for r in retries} or t.state != TrialState.WAITING for t in trials)
    client = MlflowClient(tracking_uri=Workspace.resolve(tmp_path).tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    killed_run = client.get_run(victim.user_attrs[TRIAL_RUN_ATTR])
    assert killed_run.info.status == "FAILED"
    best = max((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert parents[0].data.tags[BEST_CHECKPOINT_TRIAL_TAG] == str(best.number)
