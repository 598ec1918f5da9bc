"""What a search is (:class:`SearchSpec`) and what it gives back (:class:`StudyResult`),
plus the sampler and pruner factories both engines share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives import ExperimentSpec
from automl_har.search_spaces import SearchSpace
from automl_har.workspace import Workspace

SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc")
PRUNERS = ("median", "hyperband", "wilcoxon", "none")


@dataclass(frozen=True)
class SearchSpec:
    """One study: an experiment, how many trials, which sampler/pruner, where to store it.

    Attributes:
        experiment: method, dataset, protocol and budget of every trial.
        workspace: folder of the default Optuna storage, MLflow backend and caches.
        study_name: Optuna study name (None: ``<method>-<dataset>``); the same name resumes.
        n_trials: stop when this many trials are finished in total (resumes included).
        timeout: stop starting new trials after this many seconds.
        sampler: one of :data:`SAMPLERS`.
        pruner: one of :data:`PRUNERS`.
        storage: any Optuna storage URL (None: SQLite in the workspace).
        tracking_uri: MLflow tracking URI (None: SQLite in the workspace).
        seed: sampler seed.
        space: the search space variant (``default``, or one the method's module names).
        fixed_params: hyperparameters held at these values in every trial (``--param k=v``);
            they override what the space suggests and are logged like the others.
    """

    experiment: ExperimentSpec
    workspace: Workspace
    study_name: str | None = None
    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    storage: str | None = None
    tracking_uri: str | None = None
    seed: int = 0
    space: str = "default"
    fixed_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise ConfigError(f"number of trials must be at least 1, but got trials={self.n_trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"timeout must be positive seconds, but got timeout={self.timeout}")
        if self.sampler not in SAMPLERS:
            raise UnknownNameError("sampler", self.sampler, SAMPLERS)
        if self.pruner not in PRUNERS:
            raise UnknownNameError("pruner", self.pruner, PRUNERS)

    @property
    def resolved_study_name(self) -> str:
        dataset = self.experiment.dataset
        if "/" in dataset or dataset.endswith(".npz"):
            dataset = Path(dataset.rstrip("/")).stem
        return self.study_name or f"{self.experiment.method}-{dataset}"

    @property
    def storage_url(self) -> str:
        return self.storage or self.workspace.optuna_storage_url

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or self.workspace.tracking_uri

    @property
    def artifact_uri(self) -> str | None:
        """Artifact root of a new MLflow experiment: the workspace's, unless a server is used."""
        return None if self.tracking_uri else self.workspace.artifact_uri


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


def make_sampler(spec: SearchSpec, space: SearchSpace) -> optuna.samplers.BaseSampler:
    name, seed = spec.sampler, spec.seed
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        if not space.grid:
            raise ConfigError(f"method {space.method!r} defines no GRID for --sampler grid; choose tpe or random")
        return optuna.samplers.GridSampler(space.grid, seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
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
