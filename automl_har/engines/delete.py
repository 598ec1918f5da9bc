"""``autohar studies delete`` on a stored study: its MLflow runs, then the Optuna study itself.

A study whose trials may still be running is not deleted: their workers would go on writing into
a study (and under a parent run) that no longer exists. Trials known to be abandoned do not stop
it: on this machine, those whose process is gone (:mod:`automl_har.engines._owners`); on an RDB
storage, those whose heartbeat went stale, closed here first as every worker closes them.
"""

from __future__ import annotations

import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled  # not re-exported by Optuna
from optuna.trial import TrialState

from automl_har.attrs import OWNER_ATTR, PARENT_RUN_ATTR, SPEC_ATTR
from automl_har.engines._loop import close_stale_run, fail_stale_trials
from automl_har.engines._owners import describe, owner_is_gone
from automl_har.errors import AutoharError
from automl_har.search_spec import SearchSpec
from automl_har.storage import find_study, heartbeat_seconds
from automl_har.tracking import delete_study_runs


def find_study_to_delete(name: str, storage_urls: list[str]) -> optuna.Study:
    """The study ``name`` (a one-line error when no storage has it), its storage opened so that a
    trial found stale on the way also has its MLflow run closed, as in a search: the deletion may
    still be refused for another trial."""
    return find_study(name, storage_urls, on_stale_trial=close_stale_run())


def delete_study(study: optuna.Study) -> int:
    """Delete ``study``'s MLflow runs (its parent run and every run nested under it: trials,
    ``export`` runs; ``verify`` records on the parent), then the study; returns the number of runs.

    MLflow goes first: if it cannot be reached (a one-line :class:`RecordingError`), the study is
    kept, so running the command again finds the runs that are left through it.

    Raises:
        AutoharError: a trial of the study may still be running (one line: which, and what to do).
    """
    running = running_trials(study)
    if running:
        raise AutoharError(f"study {study.study_name!r} has trials that may still be running: {', '.join(running)}; "
                           f"{_how_to_proceed(study)}")
    runs = 0
    if SPEC_ATTR in study.user_attrs and (parent := study.user_attrs.get(PARENT_RUN_ATTR)):
        runs = delete_study_runs(SearchSpec.from_study(study).resolved_tracking_uri, parent)
    optuna.delete_study(study_name=study.study_name, storage=study._storage)
    return runs


def running_trials(study: optuna.Study) -> list[str]:
    """``trial N (host pid P)`` for each RUNNING trial that may still run; with heartbeats, the
    stale ones are closed first (their workers are gone)."""
    fail_stale_trials(study)  # a no-op without heartbeats
    return [f"trial {t.number} ({describe(t.user_attrs.get(OWNER_ATTR))})"
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not owner_is_gone(t.user_attrs.get(OWNER_ATTR))]


def _how_to_proceed(study: optuna.Study) -> str:
    if is_heartbeat_enabled(study._storage):
        _, grace = heartbeat_seconds()
        return (f"wait until they finish, or, if their workers are gone, delete it again once their last heartbeat "
                f"is {grace} s old: such trials are closed as stale")
    return (f"wait until they finish, or, if their processes are gone, close them with "
            f"`autohar studies --close-stale {study.study_name}` and delete it again")
