"""``autohar verify`` on a stored study: pick the trials, re-evaluate them, record the verdict.

The re-evaluation and the statistics live in :mod:`automl_har.objectives.verify`; this module
reads the Optuna study (its stored :class:`SearchSpec`, the defaults, the top trials) and records
the outcome once per ``top<K>-r<R>`` key: metrics, a CSV artifact and the verdict tag on the
study's MLflow parent run, and a summary in the study's user attributes (``autohar show``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_har.attrs import LAST_VERIFY_ATTR, PARENT_RUN_ATTR, VERDICT_TAG, VERIFY_ATTR_PREFIX, VERIFY_KEY_TAG
from automl_har.cache import StageCache
from automl_har.errors import ConfigError
from automl_har.objectives import TrialHooks
from automl_har.objectives.verify import Evaluator, Verification, evaluate_on_draws, verify_configurations
from automl_har.search_spaces import get_space
from automl_har.search_spec import SearchSpec, ran_params, trial_method
from automl_har.selection import trial_spec
from automl_har.storage import rank_by_validation
from automl_har.tracking import StudyTracker, rows_as_csv


def verify_study(study: optuna.Study, top: int = 3, repeats: int = 6, evaluate: Evaluator | None = None,
                 progress=None) -> tuple[Verification | dict, bool]:
    """Verify ``study``: the defaults and its ``top`` trials on ``repeats`` fresh draws.

    Returns ``(verification, True)`` when it ran now and was recorded, or ``(stored summary,
    False)`` when the same ``top``/``repeats`` were verified before (nothing is re-run or logged).
    ``evaluate`` replaces the real re-training (tests hand-make per-draw numbers with it);
    ``progress`` (a :class:`~automl_har.cli._progress.StepProgress`-like object with ``start(label)``
    and ``update(done, total, what)``) follows each configuration's steps.
    """
    if top < 1 or repeats < 2:
        raise ConfigError(f"verify needs --top >= 1 and --repeats >= 2 (a paired test), but got top={top}, repeats={repeats}")
    key = f"top{top}-r{repeats}"
    if (stored := study.user_attrs.get(VERIFY_ATTR_PREFIX + key)) is not None:
        return stored, False
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(f"study {study.study_name!r} has no completed trial to verify; run `autohar search` first")
    study_spec = SearchSpec.from_study(study)
    ranked = rank_by_validation(complete)
    # a study over several methods: the winner's method, its trials and its defaults, and the supervised baseline
    spec = trial_spec(study_spec, ranked[0])
    ranked = [t for t in ranked if trial_method(t) == trial_method(ranked[0])]  # all of a single-method study
    space = get_space(spec.experiment.method, spec.space)
    defaults = {**space.defaults, **spec.fixed_params}
    method_defaults = _with_method_defaults(spec.experiment.method, defaults)
    default_trials = [t for t in ranked if _with_method_defaults(spec.experiment.method, ran_params(t)) == method_defaults]
    candidates = [(t.number, ran_params(t), t.values[0]) for t in ranked if t not in default_trials][:top]
    hooks = TrialHooks(cache=StageCache(spec.workspace.cache_dir),
                       progress=progress.update if progress is not None else None)
    def evaluator_of(searched: SearchSpec) -> Evaluator:  # the trials of a method run with its own spec
        return evaluate if evaluate is not None else evaluate_on_draws(searched.experiment, hooks)

    defaults_trial = (default_trials[0].number, default_trials[0].values[0]) if default_trials else None
    verification = verify_configurations(defaults, candidates, repeats, evaluator_of(spec), defaults_trial,
                                         announce=progress.start if progress is not None else None,
                                         baseline=_baseline(study_spec, spec, evaluator_of))
    _record(study, study_spec, verification)
    return verification, True


def _baseline(study_spec: SearchSpec, winner_spec: SearchSpec, evaluator_of) -> tuple | None:
    """``(label, params, evaluator)`` of the supervised baseline's defaults, which a study over several
    methods also compares its winner with; None for a single-method study or a supervised winner."""
    from automl_har.selection import BASELINE_METHOD, method_spec

    if not study_spec.selects_method or winner_spec.experiment.method == BASELINE_METHOD:
        return None
    baseline = method_spec(study_spec, BASELINE_METHOD)
    params = {**get_space(BASELINE_METHOD, baseline.space).defaults, **baseline.fixed_params}
    return f"{BASELINE_METHOD} defaults", params, evaluator_of(baseline)


def _with_method_defaults(method: str, params: dict) -> dict:
    """``params`` completed with the method's ``Params`` defaults, so equal configurations compare equal."""
    import dataclasses

    from automl_har.methods import get_method

    return dataclasses.asdict(get_method(method).parse_params(params))


def verification_summary(verification: Verification) -> dict[str, Any]:
    """What ``autohar show`` and a re-run of the same verify print: plain JSON-able values."""
    c = verification.winner_comparison
    return {
        "key": verification.key,
        "verdict": verification.verdict,
        "draws": verification.draws,
        "winner_trial": verification.winner.trial if verification.winner else None,
        "gain": None if c is None else {"mean": c.mean, "ci_low": c.ci_low, "ci_high": c.ci_high,
                                        "p_value": c.p_value, "n": c.n, "wins": c.wins},
        "optimism": verification.optimism,
        "floors": verification.floors_verdict,
        "baseline": verification.baseline_verdict,
        "configs": {config.label: config.summary() for config in verification.configurations},
    }


def _record(study: optuna.Study, spec: SearchSpec, verification: Verification) -> None:
    """Metrics, the CSV and the verdict on the parent run; the summary in the study (last, so a
    failure before it leaves the key unrecorded and a re-run records it whole)."""
    summary = verification_summary(verification)
    parent = study.user_attrs.get(PARENT_RUN_ATTR)
    if parent:
        from mlflow.entities import Metric

        tracker = StudyTracker.attach(spec.resolved_tracking_uri, study.study_name, parent)
        now = int(time.time() * 1000)
        tracker.client.log_batch(parent, metrics=[Metric(k, float(v), now, 0) for k, v in verification.metrics().items()])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"verify-{verification.key}.csv"
            path.write_text(rows_as_csv(verification.rows()))
            tracker.log_parent_artifact(path, "verify")
        tracker.set_parent_tags({VERDICT_TAG: verification.verdict, VERIFY_KEY_TAG: verification.key})
    study.set_user_attr(VERIFY_ATTR_PREFIX + verification.key, summary)
    study.set_user_attr(LAST_VERIFY_ATTR, verification.key)
