"""Several worker processes on one Optuna study (``--workers N``, ``autohar worker``).

The coordinator (``autohar search --workers N``) prepares the study, stores the whole
:class:`SearchSpec` in it, starts N ``autohar worker`` processes and reports their trials as
they finish; once the study has all of its trials it finishes it while the workers exit. A worker needs only the study name and the storage URL, so more workers can join
from other shells or machines (with an RDB storage every machine can reach).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import FAIL_REASON_ATTR, INTERRUPTED_ATTR, PARENT_RUN_ATTR
from automl_har.engines._counting import n_finished
from automl_har.engines._loop import close_stale_run, fail_stale_trials, run_trials, study_result, trial_target
from automl_har.engines._spec import StudyResult, TrialSummary, make_sampler, study_pruner
from automl_har.errors import SearchError
from automl_har.search_spec import SearchSpec
from automl_har.storage import find_study
from automl_har.tracking import StudyTracker

POLL_S = 1.0


def worker_command(study_name: str, storage_url: str) -> list[str]:
    """``autohar worker`` run by this interpreter (so a worker imports the same automl_har)."""
    return [sys.executable, "-m", "automl_har.cli.main", "worker", "--study", study_name, "--storage", storage_url]


class WorkerProcesses:
    """``spec.workers`` ``autohar worker`` processes on one study, as a context: terminated when the
    block raises, waited for when it ends (so the coordinator can finish the study, e.g. draw its
    plots, while the workers exit: tearing down torch and MLflow takes a worker seconds)."""

    def __init__(self, spec: SearchSpec, study: optuna.Study) -> None:
        threads = str(max(1, (os.cpu_count() or 1) // spec.workers))  # no oversubscription of the cores
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        self._processes = [subprocess.Popen(worker_command(study.study_name, spec.storage_url), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True, env=env) for _ in range(spec.workers)]
        self._errors: list[str] | None = None

    def alive(self) -> bool:
        return any(p.poll() is None for p in self._processes)

    def wait(self) -> list[str]:
        """Wait until every process has exited; the last stderr line of each that failed."""
        if self._errors is None:
            outputs = [p.communicate()[1] for p in self._processes]  # reads stderr, so no pipe fills up
            self._errors = [(err.strip().splitlines() or ["unknown"])[-1]
                            for p, err in zip(self._processes, outputs) if p.returncode != 0]
        return self._errors

    def __enter__(self) -> "WorkerProcesses":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is not None:
            for process in self._processes:
                process.terminate()
        self.wait()


def report_worker_trials(spec: SearchSpec, study: optuna.Study, tracker: StudyTracker, workers: WorkerProcesses,
                         on_trial_end: Callable[[TrialSummary, StudyResult], None] | None) -> StudyResult:
    """Report the trials the ``workers`` finish until the study has all of its trials, or until
    every worker has stopped; an error when none completed and a worker failed."""
    reported = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    target = trial_target(spec)
    while True:
        alive = workers.alive()
        fail_stale_trials(study)  # a killed worker's trial is retried even while the others are busy
        trials = study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state.is_finished() and trial.number not in reported:
                reported.add(trial.number)
                if trial.user_attrs.get(INTERRUPTED_ATTR):
                    continue
                if on_trial_end:
                    on_trial_end(_summary(trial), study_result(study, spec, tracker))
        done = n_finished(trials) >= target and all(t.state != TrialState.RUNNING for t in trials)
        if done or not alive:
            break
        time.sleep(POLL_S)
    result = study_result(study, spec, tracker)
    if result.best_trial is None and (errors := workers.wait()):
        raise SearchError(f"every worker stopped without a completed trial; last error: {errors[-1]}")
    return result


def _summary(trial: optuna.trial.FrozenTrial) -> TrialSummary:
    wall = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_start and trial.datetime_complete else 0.0
    return TrialSummary(trial.number, trial.state.name, trial.value if trial.state == TrialState.COMPLETE else None,
                        dict(trial.params), wall_seconds=wall, error=str(trial.user_attrs.get(FAIL_REASON_ATTR, "")))


def join_study(study_name: str, storage_url: str) -> StudyResult:
    """Run trials of an existing study until it has its total (what ``autohar worker`` does).

    The storage is opened once; the MLflow client, the search space and the objective (torch)
    are loaded by the first trial, after its ``study.ask()``.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stored = find_study(study_name, [storage_url], on_stale_trial=close_stale_run())
    spec = SearchSpec.from_study(stored)
    if spec.storage is None:  # the coordinator's default storage: keep using the URL given here
        spec = SearchSpec.from_dict({**spec.to_dict(), "storage": storage_url, "workers": 1})
    study = optuna.load_study(study_name=study_name, storage=stored._storage,  # the same storage, not reopened
                              sampler=_sampler(spec), pruner=study_pruner(spec))
    tracker = StudyTracker.attach(spec.resolved_tracking_uri, study_name, study.user_attrs[PARENT_RUN_ATTR])
    return run_trials(study, spec, tracker)


def _sampler(spec: SearchSpec):
    """The study's sampler with a per-process seed, so that workers do not propose the same points."""
    return make_sampler(dataclasses.replace(spec, seed=spec.seed * 100_003 + os.getpid()))
