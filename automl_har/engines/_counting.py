"""Which trials of a study count towards its total: shared by the ask/tell loop and the staged sampler."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from automl_har.attrs import INTERRUPTED_ATTR


def counted_trials(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials that count towards ``n_trials``: every trial asked for, except those closed because
    their process died (``interrupted``) and those whose heartbeat went stale and were retried
    (:func:`automl_har.storage.open_storage`: the WAITING copy counts once it runs instead)."""
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    return [t for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get(INTERRUPTED_ATTR)
            and t.number not in retried]
