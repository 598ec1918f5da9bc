"""Which trials of a study count towards its total, and when failed trials stop a search: shared by
the ask/tell loop, the Ray engine and the staged sampler."""

from __future__ import annotations

from collections import Counter

import optuna
from optuna.trial import TrialState

from automl_har.attrs import FAIL_REASON_ATTR, INTERRUPTED_ATTR, RUN_FIRST_TRIAL_ATTR
from automl_har.errors import SearchError

#: a search whose first this-many trials all failed stops asking for trials
FIRST_FAILURES_TO_STOP = 3


def ran_trials(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Every trial asked for and run, except those closed because their process died
    (``interrupted``) and those whose heartbeat went stale and were retried
    (:func:`automl_har.storage.open_storage`: the WAITING copy counts once it runs instead)."""
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    return [t for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get(INTERRUPTED_ATTR)
            and t.number not in retried]


def counted_trials(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials that count towards ``n_trials``: the :func:`ran_trials` that did not fail. A failed
    trial measured nothing: the study still gets its ``--trials`` measured ones, and a re-run after
    a fix continues it (engines bound how many may fail: :func:`failures_allowed`)."""
    return [t for t in ran_trials(trials) if t.state != TrialState.FAIL]


def n_finished(trials: list[optuna.trial.FrozenTrial]) -> int:
    """Finished trials that count towards ``n_trials`` (see :func:`counted_trials`)."""
    return sum(t.state.is_finished() for t in counted_trials(trials))


def first_trials_all_failed(study: optuna.Study) -> bool:
    """Whether the first trials of the study's latest search (:data:`RUN_FIRST_TRIAL_ATTR`) all failed
    with errors (a dead worker's trials, closed or retried, do not count): then both engines stop
    asking for trials."""
    since = study.user_attrs.get(RUN_FIRST_TRIAL_ATTR, 0)
    this_run = [t for t in ran_trials(study.get_trials(deepcopy=False)) if t.number >= since]
    first = sorted(this_run, key=lambda t: t.number)[:FIRST_FAILURES_TO_STOP]
    return len(first) == FIRST_FAILURES_TO_STOP and all(t.state == TrialState.FAIL for t in first)


def failures_allowed(target: int) -> int:
    """Failed trials do not count towards the total, so a search whose trials keep failing would
    never end: one run of it stops once more trials failed than this (``--trials``, at least
    :data:`FIRST_FAILURES_TO_STOP`)."""
    return max(target, FIRST_FAILURES_TO_STOP)


def raise_if_too_many_failed(failed: int, target: int, error: str) -> None:
    if failed > failures_allowed(target):
        raise SearchError(f"{failed} trials failed in this run, more than --trials ({target}); last error: {error}")


def raise_if_first_trials_failed(study: optuna.Study, error: str) -> None:
    if first_trials_all_failed(study):
        raise SearchError(f"the first {FIRST_FAILURES_TO_STOP} trials all failed; last error: {error}")


def finished_states(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """How many trials finished in each state (``COMPLETE``, ``PRUNED``, ``FAIL``; failed ones included,
    though they do not count towards the total)."""
    counts: dict[str, int] = {}
    for trial in ran_trials(trials):
        if trial.state.is_finished():
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def failures_by_reason(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """``{fail reason: count}`` of the study's failed trials, most frequent first."""
    reasons = Counter(t.user_attrs.get(FAIL_REASON_ATTR) or "no reason recorded"
                      for t in ran_trials(trials) if t.state == TrialState.FAIL)
    return dict(reasons.most_common())
