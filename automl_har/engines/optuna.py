"""The Optuna engine: :func:`search` checks the experiment, prepares the study and its MLflow
parent run, then runs the ask/tell loop of :mod:`automl_har.engines._loop` here (one worker) or
in ``--workers`` processes (:mod:`automl_har.engines._workers`), and closes the parent run.

On resume it closes the trials a killed process left RUNNING, in Optuna and in MLflow, when it
can tell that process is gone (:func:`close_abandoned_trials`).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import (
    FAIL_REASON_ATTR, FAIL_REASON_TAG, INTERRUPTED_ATTR, OWNER_ATTR, PARENT_RUN_ATTR, STATE_TAG, TRIAL_RUN_ATTR,
)
from automl_har.engines._loop import (
    ENGINE, check_method_selection, check_search, finish_study, open_study, run_trials, start_run_of_study,
)
from automl_har.engines._owners import describe, owner_is_alive_here, owner_is_gone
from automl_har.engines._spec import StudyResult, TrialSummary
from automl_har.engines._tracked import closing_parent_on_error, open_tracker
from automl_har.engines._workers import WorkerProcesses, report_worker_trials
from automl_har.search_spec import SearchSpec
from automl_har.storage import uses_heartbeats
from automl_har.tracking import StudyTracker

log = logging.getLogger(__name__)

__all__ = ["ENGINE", "close_abandoned_trials", "close_stale_trials", "close_trials", "finish_study", "open_study",
           "prepare_study", "search"]


def close_trials(study: optuna.Study, tracker: StudyTracker, trials: list[optuna.trial.FrozenTrial], reason: str) -> list[int]:
    """Mark ``trials`` (left RUNNING) as FAIL with ``reason``, in Optuna and in MLflow; they do not
    count towards the study's total, so a resumed search runs as many new ones."""
    for trial in trials:
        study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, True)
        study._storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, reason)
        study.tell(trial.number, state=TrialState.FAIL)
        if run_id := trial.user_attrs.get(TRIAL_RUN_ATTR):
            tracker.reopen_trial(run_id).finish("FAILED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: reason})
    return [t.number for t in trials]


def close_abandoned_trials(study: optuna.Study, tracker: StudyTracker, storage_url: str) -> list[optuna.trial.FrozenTrial]:
    """On resume: close the RUNNING trials whose process is known to be gone; returns those that
    look abandoned but may run elsewhere (another machine, or no owner recorded).

    With heartbeats (RDB servers) nothing is closed here: the loop fails a trial only when its
    heartbeat is stale (:func:`optuna.storages.fail_stale_trials`), so the live trials of workers on
    other machines are kept. Without heartbeats a trial is closed only when its owner ran on this
    machine and that process no longer exists (:mod:`automl_har.engines._owners`).
    """
    if uses_heartbeats(storage_url):
        return []
    unchecked = _running_trials_not_alive_here(study)
    gone = [t for t in unchecked if owner_is_gone(t.user_attrs.get(OWNER_ATTR))]
    close_trials(study, tracker, gone, "interrupted: the process running this trial stopped before it finished")
    return [t for t in unchecked if t not in gone]


def close_stale_trials(study: optuna.Study) -> list[int]:
    """``autohar studies --close-stale``: close the study's RUNNING trials, except those of live
    processes on this machine, when the user knows their workers are gone."""
    tracker = StudyTracker.attach(SearchSpec.from_study(study).resolved_tracking_uri, study.study_name,
                                  study.user_attrs.get(PARENT_RUN_ATTR, ""))
    return close_trials(study, tracker, _running_trials_not_alive_here(study),
                        "closed by `autohar studies --close-stale`: its process was gone")


def _running_trials_not_alive_here(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """RUNNING trials, less those whose owner is a live process on this machine."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not owner_is_alive_here(t.user_attrs.get(OWNER_ATTR))]


def warn_abandoned(study_name: str, trials: list[optuna.trial.FrozenTrial]) -> None:
    if trials:
        where = "; ".join(f"trial {t.number} ({describe(t.user_attrs.get(OWNER_ATTR))})" for t in trials)
        log.warning(f"warning: study {study_name!r} has RUNNING trials this machine cannot check: {where}; "
                    f"if their processes are gone, close them with `autohar studies --close-stale {study_name}`")


def prepare_study(spec: SearchSpec) -> tuple[optuna.Study, StudyTracker]:
    """What :func:`search` does before the first trial: check the experiment and the ``--param``
    values, open (or resume) the study and its MLflow parent run, close the trials a killed process
    left RUNNING, enqueue the defaults as trial 0 and store the spec for the workers."""
    if spec.selects_method:  # --method auto / --methods: every candidate is checked (engines/method_selection.py)
        from automl_har.engines.method_selection import enqueue_starting_trials

        runnable, excluded = check_method_selection(spec)
    else:
        space = check_search(spec)
    study = open_study(spec)
    tracker = open_tracker(spec, study, ENGINE)
    warn_abandoned(study.study_name, close_abandoned_trials(study, tracker, spec.storage_url))
    if spec.selects_method:
        start_run_of_study(study, None, spec, enqueue_defaults=False)
        enqueue_starting_trials(study, spec, runnable, excluded)
    else:
        start_run_of_study(study, space, spec)
    return study, tracker


def search(spec: SearchSpec, on_trial_end: Callable[[TrialSummary, StudyResult], None] | None = None,
           on_ready: Callable[[], None] | None = None) -> StudyResult:
    """Run (or resume) the study until ``spec.n_trials`` trials are finished or the timeout;
    ``on_ready()`` is called once every check has passed, before the first trial (the CLI prints
    the study's header there, so that bad input is one line with nothing before it)."""
    study, tracker = prepare_study(spec)
    if on_ready is not None:
        on_ready()
    with ExitStack() as running:
        with closing_parent_on_error(tracker):
            if spec.workers > 1:
                workers = running.enter_context(WorkerProcesses(spec, study))  # waited for on leaving the block
                result = report_worker_trials(spec, study, tracker, workers, on_trial_end)
            else:
                result = run_trials(study, spec, tracker, on_trial_end)
        finish_study(study, tracker, result)  # while the worker processes exit
    return result
