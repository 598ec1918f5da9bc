"""The staged search (``--sampler staged``): pre-train a few times, fine-tune many times.

In the methods that pre-train, nearly all of a trial's time is pre-training, and two trials whose
pre-training fields are equal share one cached pre-training (the stage cache,
:mod:`automl_har.methods._stages`). TPE over the full space pays a new pre-training in almost
every trial. The staged search instead treats each pre-training configuration as an *arm*:

- an **outer** sampler (TPE over the arms seen so far, each scored by its best validation value)
  proposes the pre-training fields of a new arm;
- an **inner** sampler (TPE over every trial's fine-tuning fields) proposes the fine-tuning
  fields of each trial of an arm, which reuses the arm's cached pre-training;
- **successive halving** moves the trials to the promising arms: an arm first gets
  :data:`MIN_TRIALS` trials (rung 0); when it has finished rung ``k`` and its best value is in the
  top ``1/ETA`` of the arms that finished rung ``k``, it is promoted and gets trials up to
  ``MIN_TRIALS * ETA ** (k + 1)``, up to rung :data:`MAX_RUNG`. When no arm is due a trial or a
  promotion, a new arm starts. Promotions happen as soon as an arm qualifies (asynchronous
  successive halving), so several workers never wait for a rung to fill.

Trial 0 (the paper's defaults, enqueued by the engine) is the first arm. Every trial is an
ordinary Optuna trial: its pre-training fields are real params (the arm's values), and the arm is
recorded in the trial's system attrs (:data:`ARM_ATTR`, :data:`RUNG_ATTR`), from which the plan is
rebuilt before every trial. Nothing lives only in memory, so a resumed study, or several workers
on one storage, follow the same plan. The sampler reads the stages from the method's ``Params``
(``pretraining(...)`` fields), so it works for every method that declares pre-training fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from automl_har.attrs import STAGED_ARM_ATTR as ARM_ATTR, STAGED_ARM_TAG, STAGED_FRACTION_TAG, STAGED_RUNG_TAG
from automl_har.attrs import STAGED_PRETRAIN_ATTR as PRETRAIN_ATTR
from automl_har.attrs import STAGED_FRACTION_ATTR as FRACTION_ATTR, STAGED_RUNG_ATTR as RUNG_ATTR
from automl_har.engines._counting import ran_trials
from automl_har.errors import ConfigError
from automl_har.search_spaces import PinnedTrial, SearchSpace

#: fine-tuning trials an arm gets before it is first compared (rung 0)
MIN_TRIALS = 2
#: successive halving's reduction factor: the top 1/ETA of a rung are promoted, with ETA x the trials
ETA = 3
#: the highest rung: an arm there has MIN_TRIALS * ETA ** MAX_RUNG trials (2, 6, 18, 54)
MAX_RUNG = 3
#: ``--fidelity epochs``: the fraction of the pre-training a trial of each rung runs (rung 2 and up:
#: all of it); a promoted arm's pre-training continues from its shorter one's checkpoint
RUNG_FRACTIONS = (1 / 9, 1 / 3, 1.0, 1.0)
#: where every pre-training of an ``epochs`` staged search stores a resumable checkpoint
CHECKPOINT_FRACTIONS = RUNG_FRACTIONS[:2]
#: random arms before the outer TPE models the arms' scores
OUTER_STARTUP_ARMS = 4
#: random fine-tuning trials before the inner TPE models them (TPE's own default is 10)
INNER_STARTUP_TRIALS = 6


@dataclass(frozen=True)
class Halving:
    """Asynchronous successive halving over arms: an arm gets ``min_trials`` trials (rung 0); once it
    has finished rung ``k`` and its best value ranks in the top ``1/eta`` of the arms that finished
    rung ``k``, it gets trials up to ``min_trials * eta ** (k + 1)``, up to rung ``max_rung``. Shared
    by the staged search (arms = pre-training configurations) and the method selection of
    ``--method auto`` (arms = methods, :mod:`automl_har.engines.method_selection`)."""

    min_trials: int
    eta: int
    max_rung: int

    def rung_size(self, rung: int) -> int:
        """Trials an arm has once it has finished ``rung``."""
        return self.min_trials * self.eta ** rung

    def rung_of(self, n_trials: int) -> int:
        """The rung an arm with ``n_trials`` trials is getting: the first whose size holds them."""
        return next((k for k in range(self.max_rung + 1) if n_trials <= self.rung_size(k)), self.max_rung)

    def next_arm(self, arms: Sequence["Arm"]) -> "Arm | None":
        """The arm the next trial goes to, or None when none is due one.

        First an arm still short of its rung's trials (the highest rung first); then the best arm
        that finished a rung and ranks in the top ``1/eta`` of the arms that finished it (the
        highest rung first); else None."""
        filling = [a for a in arms if len(a.trials) < self.rung_size(self.rung_of(len(a.trials)))]
        if filling:
            return max(filling, key=lambda a: (self.rung_of(len(a.trials)), -a.index))
        for rung in reversed(range(self.max_rung)):
            size = self.rung_size(rung)
            finished = [a for a in arms if a.finished(size)]
            ranked = sorted(finished, key=lambda a: (-a.best_of_first(size), a.index))[: len(finished) // self.eta]
            promotable = [a for a in ranked if len(a.trials) == size]
            if promotable:
                return promotable[0]
        return None


#: the staged search's halving over pre-training arms (2, 6, 18, 54 trials)
STAGED_HALVING = Halving(MIN_TRIALS, ETA, MAX_RUNG)


def rung_size(rung: int) -> int:
    """Trials a staged arm has once it has finished ``rung``."""
    return STAGED_HALVING.rung_size(rung)


@dataclass
class Arm:
    """One arm (a pre-training configuration, or a method) and its trials, in trial order."""

    index: int
    values: dict[str, Any]
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    trials: list[FrozenTrial] = field(default_factory=list)
    halving: Halving = STAGED_HALVING

    @property
    def rung(self) -> int:
        """The rung whose trials the arm is getting: the first whose size holds its trials."""
        return self.halving.rung_of(len(self.trials))

    @property
    def next_trial_rung(self) -> int:
        """The rung of the arm's next trial: its rung, or the one above when it was just promoted."""
        return self.rung if len(self.trials) < self.halving.rung_size(self.rung) else self.rung + 1

    def best_of_first(self, n: int) -> float:
        """Best :func:`observed_value` among the arm's first ``n`` trials (-inf when none has one)."""
        values = [v for v in map(observed_value, self.trials[:n]) if v is not None]
        return max(values, default=float("-inf"))

    def finished(self, n: int) -> bool:
        """Whether the arm has ``n`` trials and all of the first ``n`` are finished."""
        return len(self.trials) >= n and all(t.state.is_finished() for t in self.trials[:n])

    @property
    def best(self) -> float | None:
        value = self.best_of_first(len(self.trials))
        return None if value == float("-inf") else value


def observed_value(trial: FrozenTrial) -> float | None:
    """What a finished trial showed of its arm: a COMPLETE trial's value, or a PRUNED trial's last
    reported validation value (Optuna records it as the pruned trial's value); None otherwise.

    A pruner stops most fine-tuning curves of a staged search early. Counting only COMPLETE trials
    scored an arm whose trials were all pruned -inf: it was never promoted and the outer sampler
    never saw it, whatever its curves had reached."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and trial.values:
        return trial.values[0]
    return None


def arms_of(trials: Sequence[FrozenTrial], prefix: str = "") -> list[Arm]:
    """The arms of a study's trials that ran, in the order they started (a failed trial counts in its
    arm: it used one of the arm's slots, though it does not count towards the study's total).
    ``prefix``: the trials' param names carry it (a method's trials in a ``--method auto`` study)."""
    arms: dict[str, Arm] = {}
    for trial in sorted(ran_trials(list(trials)), key=lambda t: t.number):  # a failed trial used its rung slot
        values = trial.system_attrs.get(PRETRAIN_ATTR)
        if values is None:
            continue
        arm = arms.setdefault(arm_key(values), Arm(len(arms), dict(values)))
        arm.trials.append(trial)
        arm.distributions.update({n.removeprefix(prefix): d for n, d in trial.distributions.items()
                                  if n.startswith(prefix) and n.removeprefix(prefix) in arm.values})
    return list(arms.values())


def arm_key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def next_arm(arms: Sequence[Arm]) -> Arm | None:
    """The staged arm the next trial fine-tunes on, or None to start a new arm (:meth:`Halving.next_arm`)."""
    return STAGED_HALVING.next_arm(arms)


def pretraining_fidelity(system_attrs: dict) -> tuple[float, tuple[float, ...]]:
    """``(pretrain_fraction, checkpoint_fractions)`` of a trial from its system attrs: a staged
    ``epochs`` trial's rung fraction and the rungs' checkpoints; ``(1.0, ())`` for any other trial."""
    fraction = float(system_attrs.get(FRACTION_ATTR, 1.0))
    return (fraction, CHECKPOINT_FRACTIONS) if fraction < 1.0 else (1.0, ())


def staged_trial_tags(system_attrs: dict) -> dict[str, str]:
    """A staged trial's arm, rung and pre-training fraction as MLflow tags; none for other samplers."""
    if ARM_ATTR not in system_attrs:
        return {}
    return {STAGED_ARM_TAG: str(system_attrs[ARM_ATTR]), STAGED_RUNG_TAG: str(system_attrs[RUNG_ATTR]),
            STAGED_FRACTION_TAG: f"{float(system_attrs.get(FRACTION_ATTR, 1.0)):.4g}"}


class StagedSampler(optuna.samplers.BaseSampler):
    """Outer TPE over pre-training configurations, inner TPE over fine-tuning ones, successive
    halving between them (see the module docstring)."""

    def __init__(self, space: SearchSpace, pretraining: Sequence[str], fixed: dict[str, Any] | None = None,
                 seed: int = 0, fidelity: str = "trials", prefix: str = "") -> None:
        self._space, self._fixed, self._seed, self._fidelity = space, dict(fixed or {}), seed, fidelity
        self._prefix = prefix  # the param names of a method's trials in a --method auto study carry it
        self._pretraining = {n for n in pretraining if n not in self._fixed}
        if not pretraining:
            raise ConfigError(f"method {space.method!r} does not pre-train, so --sampler staged has no stages to "
                              f"share; use --sampler tpe")
        if not self._pretraining & set(space.defaults):
            raise ConfigError(f"--sampler staged needs a search space that suggests pre-training fields, but this "
                              f"variant of {space.method!r} suggests none of {', '.join(sorted(pretraining))}; "
                              f"use --space full, or another sampler")
        self._inner = optuna.samplers.TPESampler(seed=seed, n_startup_trials=INNER_STARTUP_TRIALS)
        self._assigned: dict[int, dict[str, Any]] = {}  # trial id -> the arm's values, this process

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Choose the trial's arm (or propose a new one) and record it on the trial."""
        arms = arms_of(study.get_trials(deepcopy=False), self._prefix)
        fixed = trial.system_attrs.get("fixed_params")  # an enqueued trial (trial 0: the defaults)
        if fixed is not None:
            fixed = {n.removeprefix(self._prefix): v for n, v in fixed.items()}
            values = {n: fixed[n] for n in sorted(self._pretraining & set(self._space.defaults)) if n in fixed}
            arm = next((a for a in arms if arm_key(a.values) == arm_key(values)), None)
        else:
            arm = next_arm(arms)
            values = arm.values if arm is not None else self._propose(arms)
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, PRETRAIN_ATTR, values)
        storage.set_trial_system_attr(trial._trial_id, ARM_ATTR, len(arms) if arm is None else arm.index)
        rung = 0 if arm is None else arm.next_trial_rung
        storage.set_trial_system_attr(trial._trial_id, RUNG_ATTR, rung)
        storage.set_trial_system_attr(trial._trial_id, FRACTION_ATTR,
                                      RUNG_FRACTIONS[rung] if self._fidelity == "epochs" else 1.0)
        self._assigned[trial._trial_id] = values

    def sample_independent(self, study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution):
        values = self._assigned.get(trial._trial_id) or trial.system_attrs.get(PRETRAIN_ATTR) or {}
        if (name := param_name.removeprefix(self._prefix)) in values:
            return values[name]
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._assigned.pop(trial._trial_id, None)
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()

    def _propose(self, arms: Sequence[Arm]) -> dict[str, Any]:
        """A new arm's pre-training fields from the outer TPE, fitted to the scored arms."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=self._seed * 10_007 + len(arms), n_startup_trials=OUTER_STARTUP_ARMS)
        outer = optuna.create_study(direction="maximize", sampler=sampler)
        for arm in arms:
            if arm.best is not None and set(arm.distributions) == set(arm.values):
                outer.add_trial(optuna.trial.create_trial(params=arm.values, distributions=arm.distributions,
                                                          value=arm.best))
        proposal = outer.ask()
        finetuning = {n: v for n, v in self._space.first_trial().items() if n not in self._pretraining}
        self._space.params_of(PinnedTrial(proposal, finetuning), self._fixed)  # suggests the pre-training fields only
        return {n: v for n, v in proposal.params.items() if n in self._pretraining}
