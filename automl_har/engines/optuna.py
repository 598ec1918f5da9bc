"""The Optuna engine: :func:`search` checks the experiment, prepares the study and its MLflow
parent run, then runs the ask/tell loop of :mod:`automl_har.engines._loop` here (one worker) or
in ``--workers`` processes (:mod:`automl_har.engines._workers`), and closes the parent run.

On resume it closes the trials a killed process left RUNNING, in Optuna and in MLflow.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import (
    BEST_TRIAL_TAG, BEST_VALUE_TAG, FAIL_REASON_ATTR, FAIL_REASON_TAG, INTERRUPTED_ATTR, SPEC_ATTR, STATE_TAG,
    TRIAL_RUN_ATTR,
)
from automl_har.engines._loop import ENGINE, open_study, run_trials
from automl_har.engines._spec import StudyResult, TrialSummary
from automl_har.engines._tracked import open_tracker
from automl_har.engines._workers import WorkerProcesses, report_worker_trials
from automl_har.methods import get_method
from automl_har.objectives import check_experiment
from automl_har.search_spaces import get_space
from automl_har.search_spec import SearchSpec
from automl_har.tracking import StudyTracker, log_study_plots

__all__ = ["ENGINE", "close_interrupted_trials", "finish_study", "open_study", "prepare_study", "search"]


def close_interrupted_trials(study: optuna.Study, tracker: StudyTracker) -> list[int]:
    """Mark trials left RUNNING by a killed process as FAIL, in Optuna and in MLflow."""
    closed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = "interrupted: the process running this trial stopped before it finished"
        study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, True)
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, reason)
        study.tell(trial.number, state=TrialState.FAIL)
        if run_id := trial.user_attrs.get(TRIAL_RUN_ATTR):
            tracker.reopen_trial(run_id).finish("FAILED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: reason})
        closed.append(trial.number)
    return closed


def prepare_study(spec: SearchSpec) -> tuple[optuna.Study, StudyTracker]:
    """What :func:`search` does before the first trial: check the experiment and the ``--param``
    values, open (or resume) the study and its MLflow parent run, close the trials a killed process
    left RUNNING, enqueue the defaults as trial 0 and store the spec for the workers."""
    space = get_space(spec.experiment.method, spec.space)
    check_experiment(spec.experiment)  # bad data stops here, before any trial is recorded
    get_method(spec.experiment.method).parse_params({**space.defaults, **spec.fixed_params})  # bad --param too
    spec.workspace.create()
    study = open_study(spec)
    tracker = open_tracker(spec, study, ENGINE)
    close_interrupted_trials(study, tracker)  # no process of this search runs yet
    if not study.get_trials(deepcopy=False) and spec.sampler != "grid":
        study.enqueue_trial(space.defaults)  # trial 0 = the paper's defaults
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    return study, tracker


def search(spec: SearchSpec, on_trial_end: Callable[[TrialSummary, StudyResult], None] | None = None) -> StudyResult:
    """Run (or resume) the study until ``spec.n_trials`` trials are finished or the timeout."""
    study, tracker = prepare_study(spec)
    with ExitStack() as running:
        try:
            if spec.workers > 1:
                workers = running.enter_context(WorkerProcesses(spec, study))  # waited for on leaving the block
                result = report_worker_trials(spec, study, tracker, workers, on_trial_end)
            else:
                result = run_trials(study, spec, tracker, on_trial_end)
        except BaseException:
            tracker.close_parent("FAILED")
            raise
        finish_study(study, tracker, result)  # while the worker processes exit
    return result


def finish_study(study: optuna.Study, tracker: StudyTracker, result: StudyResult) -> None:
    """Best-trial tags, the best checkpoint and the plots on the parent run; close it."""
    if result.best_trial is not None:
        tracker.set_parent_tags({BEST_TRIAL_TAG: result.best_trial, BEST_VALUE_TAG: f"{result.best_value:.6f}"})
    log_study_plots(study, tracker)
    tracker.close_parent("FINISHED")
