"""How a method-selection study (``--method auto`` / ``--methods``) spends its trials.

The methods are the arms of a successive halving (:class:`~automl_har.engines.staged.Halving`, the
one the staged search runs over pre-trainings): every method gets :data:`METHOD_HALVING`'s
``min_trials`` trials first (rung 0: its paper defaults, enqueued as its first trial, and one
searched trial), then the top ``1/eta`` of the methods that finished a rung get ``eta`` times the
trials, by their best validation value. When no method is due a trial, the best one so far gets it.
Inside a method, its own sampler proposes the params (:func:`automl_har.selection.inner_sampler`:
its staged search where its space suggests pre-training fields, else TPE), seeing only that
method's trials (:class:`_MethodTrials`); so does its pruner (:class:`MethodPruner`). The plan is rebuilt from the storage before every trial,
so a resumed study, or several workers, follow it.

Before the first searched trial, the study runs each method's paper defaults and then the
winners of earlier studies of the same method on other datasets in the same storage
(:func:`warm_starts`, tagged :data:`~automl_har.attrs.WARM_START_ATTR`; ``--no-warm-start``).
:func:`leaderboard` is what the study found, per method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from automl_har.attrs import (
    EXCLUDED_METHODS_ATTR, SPEC_ATTR, TRIAL_METHOD_ATTR, VAL_FLOOR_ATTRS, WARM_START_ATTR,
)
from automl_har.engines._counting import counted_trials, ran_trials
from automl_har.engines.staged import Arm, Halving
from automl_har.search_spec import SearchSpec, dataset_stem, param_prefix, ran_params, trial_method, with_prefix
from automl_har.selection import method_spec

#: successive halving between methods: 2 trials each (defaults + one searched), then the top half
#: gets twice the trials (2, 4, 8, ... 128)
METHOD_HALVING = Halving(min_trials=2, eta=2, max_rung=6)
#: the user attribute of a method's paper-defaults trial
DEFAULTS_ATTR = "paper_defaults"
#: at most this many earlier winners are offered per method (the most recent studies first)
MAX_WARM_STARTS = 3
#: what a trial's value is stored beside: the validation floors (objectives/floors.py)
_PROBE_ATTR, _MAJORITY_ATTR = VAL_FLOOR_ATTRS[2], VAL_FLOOR_ATTRS[1]


def methods_of(study: optuna.Study, spec: SearchSpec) -> list[str]:
    """The study's methods that can run (its candidates less those the first search left out)."""
    excluded = study.user_attrs.get(EXCLUDED_METHODS_ATTR, {})
    return [m for m in spec.methods if m not in excluded]


def method_arms(trials: Sequence[FrozenTrial], methods: Sequence[str]) -> list[Arm]:
    """One arm per method with the trials that ran it, in trial order."""
    arms = [Arm(index, {"method": method}, halving=METHOD_HALVING) for index, method in enumerate(methods)]
    by_method = {arm.values["method"]: arm for arm in arms}
    for trial in sorted(ran_trials(list(trials)), key=lambda t: t.number):
        if (arm := by_method.get(trial_method(trial))) is not None:
            arm.trials.append(trial)
    return arms


def next_method(arms: Sequence[Arm]) -> str:
    """The method the next searched trial runs: the halving's choice, else the best method so far
    (the one with the fewest trials while none has a value)."""
    arm = METHOD_HALVING.next_arm(arms)
    if arm is None:
        arm = max(arms, key=lambda a: (a.best if a.best is not None else float("-inf"), -len(a.trials), -a.index))
    return arm.values["method"]


class _MethodTrials:
    """The study as one method's sampler sees it: only that method's trials."""

    def __init__(self, study: optuna.Study, method: str) -> None:
        self._study, self._method = study, method

    def get_trials(self, deepcopy: bool = True, states=None) -> list[FrozenTrial]:
        return [t for t in self._study.get_trials(deepcopy=deepcopy, states=states) if trial_method(t) == self._method]

    def _get_trials(self, deepcopy: bool = True, states=None, use_cache: bool = False) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return [t for t in trials if trial_method(t) == self._method]

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    @property
    def best_trial(self) -> FrozenTrial:
        """The method's best completed trial (the study maximizes macro-F1); ValueError while it has none,
        as ``optuna.Study.best_trial`` raises."""
        complete = self.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            raise ValueError(f"method {self._method!r} has no completed trial yet")
        return max(complete, key=lambda t: t.value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class MethodSelectionSampler(optuna.samplers.BaseSampler):
    """Successive halving between the methods; each method's own sampler for its params."""

    def __init__(self, spec: SearchSpec, make_sampler: Callable[..., optuna.samplers.BaseSampler]) -> None:
        """``make_sampler(spec, prefix=...)`` builds a method's own sampler (``engines._spec.make_sampler``)."""
        self._spec, self._make_sampler = spec, make_sampler
        self._samplers: dict[str, optuna.samplers.BaseSampler] = {}
        self._assigned: dict[int, str] = {}  # trial id -> its method, this process

    def _sampler_of(self, method: str) -> optuna.samplers.BaseSampler:
        if method not in self._samplers:
            self._samplers[method] = self._make_sampler(method_spec(self._spec, method), prefix=param_prefix(method))
        return self._samplers[method]

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Choose the trial's method (an enqueued trial names its own) and let its sampler prepare."""
        method = trial_method(trial)
        if method is None:
            method = next_method(method_arms(study.get_trials(deepcopy=False), methods_of(study, self._spec)))
            study._storage.set_trial_user_attr(trial._trial_id, TRIAL_METHOD_ATTR, method)
        self._assigned[trial._trial_id] = method
        self._sampler_of(method).before_trial(_MethodTrials(study, method), trial)

    def sample_independent(self, study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution):
        method = self._assigned.get(trial._trial_id) or trial_method(trial)
        return self._sampler_of(method).sample_independent(_MethodTrials(study, method), trial, param_name,
                                                           param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        method = self._assigned.pop(trial._trial_id, None) or trial_method(trial)
        if method is not None:
            self._sampler_of(method).after_trial(_MethodTrials(study, method), trial, state, values)

    def reseed_rng(self) -> None:
        for sampler in self._samplers.values():
            sampler.reseed_rng()


class MethodPruner(optuna.pruners.BasePruner):
    """Each trial's method's own pruner, the one a search of that method alone would run
    (:func:`~automl_har.selection.method_spec`: the study's ``--pruner``, none inside a staged search),
    comparing the trial with that method's trials only: a MaskCAE curve is never held against a
    supervised one, whose epochs and scale differ."""

    def __init__(self, spec: SearchSpec, make_pruner: Callable[[str], optuna.pruners.BasePruner]) -> None:
        """``make_pruner(name)`` builds a pruner by its ``--pruner`` name (``engines._spec.make_pruner``)."""
        self._spec, self._make_pruner = spec, make_pruner
        self._pruners: dict[str, optuna.pruners.BasePruner] = {}

    def pruner_of(self, method: str) -> optuna.pruners.BasePruner:
        if method not in self._pruners:
            self._pruners[method] = self._make_pruner(method_spec(self._spec, method).pruner)
        return self._pruners[method]

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        # a live trial's user attrs are those it was created with: the method the sampler chose for
        # a searched trial (MethodSelectionSampler.before_trial) is in the storage only
        method = trial_method(trial) or trial_method(study._storage.get_trial(trial._trial_id))
        return method is not None and bool(self.pruner_of(method).prune(_MethodTrials(study, method), trial))


def enqueue_starting_trials(study: optuna.Study, spec: SearchSpec, runnable: Sequence[str],
                            excluded: dict[str, str]) -> None:
    """At the start of each search of the study: record which methods run; enqueue the paper
    defaults of each method that has no measured trial and none waiting and, in a new study, the
    earlier winners :func:`warm_starts` finds."""
    trials = study.get_trials(deepcopy=False)
    if EXCLUDED_METHODS_ATTR not in study.user_attrs:
        study.set_user_attr(EXCLUDED_METHODS_ATTR, dict(excluded))
    measured = {trial_method(t) for t in counted_trials(trials)}
    waiting = {trial_method(t) for t in trials if t.state == TrialState.WAITING}
    for method in runnable:
        if method not in measured and method not in waiting:
            defaults = method_spec(spec, method).search_space().first_trial()
            study.enqueue_trial(with_prefix(defaults, method), user_attrs={TRIAL_METHOD_ATTR: method, DEFAULTS_ATTR: True})
    if spec.warm_start and not trials:
        for method, source, params in warm_starts(study, spec, runnable):
            study.enqueue_trial(with_prefix(params, method), user_attrs={TRIAL_METHOD_ATTR: method, WARM_START_ATTR: source})


def warm_starts(study: optuna.Study, spec: SearchSpec, methods: Sequence[str]) -> list[tuple[str, str, dict]]:
    """``(method, "<study>#<trial>", params)``: the best trial of each earlier study in the same storage
    that ran one of ``methods`` on another dataset (a single-method study, or one method of a
    method-selection study), the most recent studies first, at most :data:`MAX_WARM_STARTS` per
    method; only the names the method's space suggests, and none equal to its defaults."""
    found: dict[str, list[tuple[str, str, dict]]] = {m: [] for m in methods}
    spaces = {m: method_spec(spec, m).search_space() for m in methods}
    this_dataset = dataset_stem(spec.experiment.dataset)
    for summary in reversed(study._storage.get_all_studies()):
        if summary.study_name == study.study_name or SPEC_ATTR not in summary.user_attrs:
            continue
        earlier = SearchSpec.from_dict(summary.user_attrs[SPEC_ATTR])
        if dataset_stem(earlier.experiment.dataset) == this_dataset:
            continue
        complete = study._storage.get_all_trials(summary._study_id, deepcopy=False, states=(TrialState.COMPLETE,))
        for method in methods:
            ran = [t for t in complete if (trial_method(t) or earlier.experiment.method) == method]
            if not ran or len(found[method]) >= MAX_WARM_STARTS:
                continue
            best = max(ran, key=lambda t: t.values[0])
            suggested = spaces[method].described()
            params = {n: v for n, v in ran_params(best).items() if n in suggested}
            if params and params != {n: spaces[method].first_trial()[n] for n in params}:
                found[method].append((method, f"{summary.study_name}#{best.number}", params))
    return [start for method in methods for start in found[method]]


@dataclass(frozen=True)
class Standing:
    """One method's line of a method-selection study's leaderboard (validation macro-F1)."""

    method: str
    trials: int
    best_value: float | None
    best_trial: int | None
    defaults_value: float | None
    linear_probe: float | None
    majority: float | None

    def as_row(self) -> dict[str, Any]:
        return {"method": self.method, "trials": self.trials, "best_val_macro_f1": self.best_value,
                "best_trial": self.best_trial, "paper_defaults_val_macro_f1": self.defaults_value,
                "val_linear_probe_macro_f1": self.linear_probe, "val_majority_macro_f1": self.majority}


def leaderboard(study: optuna.Study, spec: SearchSpec) -> list[Standing]:
    """Per method that can run: trials run, its best validation value and trial, its paper defaults'
    value and its floors (the linear probe and the majority class, on the same validation windows);
    the best method first, methods without a complete trial last."""
    standings = []
    for arm in method_arms(study.get_trials(deepcopy=False), methods_of(study, spec)):
        complete = [t for t in arm.trials if t.state == TrialState.COMPLETE]
        best = max(complete, key=lambda t: t.values[0], default=None)
        defaults = next((t for t in complete if t.user_attrs.get(DEFAULTS_ATTR)), None)
        floors = next((t.user_attrs for t in complete if _PROBE_ATTR in t.user_attrs), {})
        standings.append(Standing(
            arm.values["method"], len(counted_trials(arm.trials)), best.values[0] if best else None,
            best.number if best else None, defaults.values[0] if defaults else None,
            floors.get(_PROBE_ATTR), floors.get(_MAJORITY_ATTR)))
    return sorted(standings, key=lambda s: (s.best_value is None, -(s.best_value or 0.0)))


def leaderboard_metrics(standings: Sequence[Standing]) -> dict[str, float]:
    """The parent run's per-method metrics: ``<method>.best_val_macro_f1_mean``, ``.trials`` ..."""
    metrics: dict[str, float] = {}
    for s in standings:
        for key, value in (("trials", s.trials), ("best_val_macro_f1_mean", s.best_value),
                           ("defaults_val_macro_f1_mean", s.defaults_value),
                           ("val_linear_probe_macro_f1_mean", s.linear_probe)):
            if value is not None:
                metrics[f"{s.method}.{key}"] = float(value)
    return metrics
