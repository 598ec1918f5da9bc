"""What an engine gives back (:class:`TrialSummary`, :class:`StudyResult`) and the sampler and
pruner factories both engines share. The search itself (:class:`SearchSpec`) is defined in
:mod:`automl_har.search_spec`, where export and the CLI read it without the engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from automl_har.errors import ConfigError
from automl_har.search_spec import SearchSpec, ran_params


@dataclass
class TrialSummary:
    """One finished trial as the engine saw it, with where its time went."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)  # data, training, optuna, mlflow
    wall_seconds: float = 0.0
    error: str = ""
    tags: dict[str, str] = field(default_factory=dict)  # what methods tagged, e.g. cache hits
    costs: dict[str, float] = field(default_factory=dict)  # latency_ms, n_params, macs (multi-objective)
    method: str = ""  # the method the trial ran (a study over several methods runs several)


@dataclass
class StudyResult:
    study_name: str
    storage_url: str
    parent_run_id: str
    n_finished: int
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    trials: list[TrialSummary] = field(default_factory=list)
    #: finished trials of the whole study (earlier runs included) by state: COMPLETE, PRUNED, FAIL
    states: dict[str, int] = field(default_factory=dict)
    #: failed trials of the whole study by their fail reason (failed trials do not count towards the total)
    failures: dict[str, int] = field(default_factory=dict)
    #: a method-selection study's standings per method (engines/method_selection.Standing), best first
    leaderboard: list = field(default_factory=list)
    #: a method-selection study's candidates that could not run: ``{method: why}``
    excluded: dict[str, str] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return self.states.get(state, 0)

    def take_best(self, trial: optuna.trial.FrozenTrial | None) -> None:
        """Record ``trial`` (a COMPLETE one, or None) as the study's best: F1 is the first objective."""
        if trial is not None:
            self.best_trial, self.best_value, self.best_params = trial.number, trial.values[0], ran_params(trial)


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler without its end-of-grid ``study.stop()``, which raises outside
    ``study.optimize`` (ask/tell); the engines stop after ``grid_size()`` trials themselves."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


def make_sampler(spec: SearchSpec, prefix: str = "") -> optuna.samplers.BaseSampler:
    """The sampler ``spec`` names, seeded with ``spec.seed``; only a grid and the staged search need
    the search space (and so the method's module and torch) before the first trial is asked for.
    A method-selection study's (:mod:`automl_har.engines.method_selection`) builds one such sampler
    per method, whose param names carry ``prefix``."""
    name, seed = spec.sampler, spec.seed
    if spec.selects_method:
        from automl_har.engines.method_selection import MethodSelectionSampler

        return MethodSelectionSampler(spec, make_sampler)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        space = spec.search_space()
        if not space.grid:
            raise ConfigError(f"method {space.method!r} defines no GRID for --sampler grid; choose tpe or random")
        return AskTellGridSampler(space.grid, seed=seed)
    if name == "staged":
        from automl_har.engines.staged import StagedSampler
        from automl_har.methods import PRETRAIN, get_method, stage_names

        pretraining = stage_names(get_method(spec.experiment.method).Params, PRETRAIN)
        return StagedSampler(spec.search_space(), pretraining, spec.fixed_params, seed=seed, fidelity=spec.fidelity,
                             prefix=prefix)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


def study_pruner(spec: SearchSpec) -> optuna.pruners.BasePruner:
    """The pruner of ``spec``'s study: none with several objectives (Optuna cannot prune them); in a
    method-selection study each trial's method's own pruner over that method's trials
    (:class:`~automl_har.engines.method_selection.MethodPruner`); else ``--pruner``'s."""
    if spec.multi_objective:
        return make_pruner("none")
    if spec.selects_method and spec.pruner != "none":
        from automl_har.engines.method_selection import MethodPruner

        return MethodPruner(spec, make_pruner)
    return make_pruner(spec.pruner)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The pruner ``--pruner name`` names."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2)
    if name == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1)
    return optuna.pruners.NopPruner()


def pruning_mode(pruner: str) -> str:
    """Wilcoxon compares per-draw values; the others compare per-epoch curves."""
    return "draw" if pruner == "wilcoxon" else "epoch"
