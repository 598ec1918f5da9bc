"""Which trials of a study count towards its total: shared by the ask/tell loop and the staged sampler."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from automl_har.attrs import INTERRUPTED_ATTR


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
    a fix continues it (engines bound how many may fail, see ``engines._loop``)."""
    return [t for t in ran_trials(trials) if t.state != TrialState.FAIL]
