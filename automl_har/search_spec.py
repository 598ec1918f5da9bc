"""What a search is: :class:`SearchSpec` (the experiment, the trial count, sampler, pruner,
storage and tracking of one study), stored in the study itself, and what a stored trial ran.

Engines run a SearchSpec; export, ``autohar show``, ``verify`` and ``worker`` rebuild it from
the study (:meth:`SearchSpec.from_study`). It lives outside ``engines`` because those readers
must not depend on the engines (which themselves use export to measure model costs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_har.attrs import FIXED_PARAMS_ATTR, SPEC_ATTR, TRIAL_METHOD_ATTR
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives import ExperimentSpec
from automl_har.storage import is_sqlite
from automl_har.workspace import Workspace

if TYPE_CHECKING:
    import optuna

#: ``staged``: outer TPE over pre-training configurations, inner TPE over fine-tuning ones, successive
#: halving between them (:mod:`automl_har.engines.staged`)
SAMPLERS = ("tpe", "random", "grid", "cmaes", "qmc", "nsga2", "staged")
#: objective name -> Optuna direction; "f1" (mean validation macro-F1) always comes first
OBJECTIVES = {"f1": "maximize", "latency": "minimize", "params": "minimize", "macs": "minimize"}
#: samplers that handle several objectives (CMA-ES is single-objective only)
MULTI_OBJECTIVE_SAMPLERS = ("tpe", "nsga2", "random", "grid", "qmc")
PRUNERS = ("median", "hyperband", "wilcoxon", "none")
#: what a staged search gives more of to a promoted arm: fine-tuning trials only, or also a longer
#: pre-training that continues from the arm's shorter one (:mod:`automl_har.engines.staged`)
FIDELITIES = ("trials", "epochs")


#: samplers whose searches run unpruned unless ``--pruner`` names one (see :func:`default_pruner`)
UNPRUNED_SAMPLERS = ("grid", "staged")


def default_pruner(sampler: str) -> str:
    """The pruner of a search that names none: ``median``, except for

    - a grid: a grid point stopped early is a point never measured;
    - the staged search: successive halving over its arms is its early stopping already, and its
      fine-tuning trials are what it learns both stages from. A pruner saves fine-tuning time but
      cuts that information short: on Cosmo (UTD-MHAD, budget 0.02) the median pruner, whose
      median is over the completed trials only and so climbs as the survivors improve, stopped
      36 of a staged search's 44 trials, most at epoch 3 of 10; two of them, run to the end,
      score 0.938 and 0.939, above a pilot benchmark's target (0.921) and the search's best at the
      time. Unpruned, the same search reached the target in 149 s instead of 276 s
      (docs/search.md)."""
    return "none" if sampler in UNPRUNED_SAMPLERS else "median"


#: SearchSpec fields a re-run of a study may change: they decide how many trials run, how many at
#: once, which point comes next and where things are kept, never what a trial measures
#: (:func:`experiment_changes`). ``experiment.device``: the same trial on a GPU measures the same thing.
RESUMABLE_FIELDS = ("study_name", "n_trials", "timeout", "workers", "seed", "storage", "tracking_uri", "workspace", "grid_subset",
                    "experiment.device", "warm_start")


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
        pruner: one of :data:`PRUNERS`; None: :func:`default_pruner` of the sampler (``none`` for
            a grid and the staged search, else ``median``), resolved here, so the stored spec names
            the pruner that ran.
        storage: any Optuna storage URL (None: the workspace's journal file).
        tracking_uri: MLflow tracking URI (None: SQLite in the workspace).
        seed: sampler seed (the data split and label draws have their own seeds in the protocol).
        space: the search space variant (``default``, or one the method's module names).
        fixed_params: hyperparameters held at these values in every trial (``--param k=v``);
            they override what the space suggests and are logged like the others.
        workers: processes running trials of this study at once (optuna engine).
        objectives: ``("f1",)``, or F1 plus cost objectives (``latency`` ms, ``params``,
            ``macs``; minimized) for a multi-objective search whose trials have no pruning.
        grid_subset: ``--sampler grid`` walks only these values of some grid names (``autohar
            lodo``: the ratios and strategies asked for); empty: the whole grid of ``space``.
        fidelity: one of :data:`FIDELITIES`, for ``--sampler staged`` only: ``trials`` (a promoted
            arm gets more fine-tuning trials) or ``epochs`` (its trials also pre-train longer).
        methods: the candidate methods of a method-selection study (``--method auto`` / ``--methods``,
            :mod:`automl_har.selection`; ``experiment.method`` is then ``auto``); empty otherwise.
        methods_named: the candidates were named (``--methods``): one that cannot run is an error,
            where ``--method auto`` leaves it out.
        deploy_modalities: what the deployed model of a method-selection study may read (None: all
            the experiment loads); see :func:`automl_har.selection.method_spec`.
        warm_start: a method-selection study also starts from the winners of earlier studies of each
            method in the workspace (:func:`automl_har.engines.method_selection.warm_starts`).
    """

    experiment: ExperimentSpec
    workspace: Workspace
    study_name: str | None = None
    n_trials: int = 20
    timeout: float | None = None
    sampler: str = "tpe"
    pruner: str | None = None
    storage: str | None = None
    tracking_uri: str | None = None
    seed: int = 0
    space: str = "default"
    fixed_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    objectives: tuple[str, ...] = ("f1",)
    grid_subset: dict[str, list] = field(default_factory=dict)
    fidelity: str = "trials"
    methods: tuple[str, ...] = ()
    methods_named: bool = False
    deploy_modalities: tuple[str, ...] | None = None
    warm_start: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        if self.deploy_modalities is not None:
            object.__setattr__(self, "deploy_modalities", tuple(self.deploy_modalities))
        if self.methods:
            self._check_method_selection()
        if self.n_trials < 1:
            raise ConfigError(f"number of trials must be at least 1, but got trials={self.n_trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"timeout must be positive seconds, but got timeout={self.timeout}")
        if self.sampler not in SAMPLERS:
            raise UnknownNameError("sampler", self.sampler, SAMPLERS)
        if self.pruner is None:  # a method-selection study's: each method's own (selection.method_spec)
            object.__setattr__(self, "pruner", default_pruner(self.sampler))
        if self.pruner not in PRUNERS:
            raise UnknownNameError("pruner", self.pruner, PRUNERS)
        if self.fidelity not in FIDELITIES:
            raise UnknownNameError("fidelity", self.fidelity, FIDELITIES)
        if self.fidelity != "trials" and self.sampler != "staged":
            raise ConfigError(f"--fidelity {self.fidelity} is a fidelity of the staged search; add --sampler staged")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, but got workers={self.workers}")
        self.experiment.protocol.require_validation("a search")
        if self.workers > 1 and self.storage and is_sqlite(self.storage):
            raise ConfigError(
                f"SQLite is not safe for {self.workers} concurrent workers ({self.storage}); leave --storage "
                "unset (a journal file in the workdir) or give a PostgreSQL/MySQL URL"
            )
        object.__setattr__(self, "objectives", tuple(self.objectives))
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise UnknownNameError("objective", name, OBJECTIVES)
        if self.objectives[:1] != ("f1",) or len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(f"objectives must start with f1 and not repeat, but got {','.join(self.objectives)}; "
                              "e.g. --objectives f1,latency")
        if self.multi_objective and self.sampler not in MULTI_OBJECTIVE_SAMPLERS:
            raise ConfigError(f"sampler {self.sampler!r} handles one objective only, but got objectives "
                              f"{','.join(self.objectives)}; use --sampler nsga2 or tpe")

    def _check_method_selection(self) -> None:
        """What a method-selection study takes: successive halving between the methods replaces the
        sampler choice; a pruner compares a trial with its own method's trials only
        (``engines.method_selection.MethodPruner``), which Hyperband's brackets over the whole study cannot."""
        if self.sampler != "tpe":
            raise ConfigError(f"--sampler {self.sampler}: a search over several methods samples each method with TPE, "
                              "or its staged search where it pre-trains; leave --sampler unset")
        if self.pruner == "hyperband":
            raise ConfigError("--pruner hyperband assigns brackets over the whole study, across methods; "
                              "a search over several methods takes --pruner median, wilcoxon or none")
        if self.multi_objective:
            raise ConfigError("a search over several methods has one objective (f1); drop --objectives")
        if self.grid_subset:
            raise ConfigError("a search over several methods has no grid; drop grid_subset")

    @property
    def selects_method(self) -> bool:
        """Whether the study searches over several methods (``--method auto`` / ``--methods``)."""
        return bool(self.methods)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[name] for name in self.objectives]

    def search_space(self):
        """The method's search space variant :attr:`space`, its grid narrowed to :attr:`grid_subset`."""
        from automl_har.search_spaces import get_space

        return get_space(self.experiment.method, self.space, self.grid_subset)

    @property
    def resolved_study_name(self) -> str:
        """``--study``, else ``<method>-<dataset>``; with source datasets
        ``<method>-<target>-from-<sources sorted, joined by +>``."""
        if self.study_name:
            return self.study_name
        experiment = self.experiment
        name = f"{experiment.method}-{dataset_stem(experiment.dataset)}"
        if experiment.sources:
            name += "-from-" + "+".join(sorted(dataset_stem(s) for s in experiment.sources))
        return name

    @property
    def storage_url(self) -> str:
        """``--storage``, else the workspace's journal file, whatever the number of workers."""
        return self.storage or self.workspace.optuna_storage_url

    def to_dict(self) -> dict[str, Any]:
        """Plain data from which :meth:`from_dict` rebuilds the spec (kept in the study for workers)."""
        data = asdict(self)
        data["workspace"] = str(self.workspace.root)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SearchSpec":
        data = dict(data)
        experiment = ExperimentSpec.from_dict(data.pop("experiment"))
        if data.get("objectives") is not None:
            data["objectives"] = tuple(data["objectives"])
        if data.get("methods") is not None:
            data["methods"] = tuple(data["methods"])
        return cls(experiment=experiment, workspace=Workspace(Path(data.pop("workspace"))), **data)

    @classmethod
    def from_study(cls, study: optuna.Study) -> SearchSpec:
        """The spec ``autohar search`` stored in ``study``; a one-line error for other studies."""
        if SPEC_ATTR not in study.user_attrs:
            raise ConfigError(f"study {study.study_name!r} holds no search specification: it was not created by "
                              f"`autohar search`; start it with `autohar search --study {study.study_name}`")
        return cls.from_dict(study.user_attrs[SPEC_ATTR])

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or self.workspace.tracking_uri

    @property
    def artifact_uri(self) -> str | None:
        """Artifact root of a new MLflow experiment: the workspace's, unless a server is used."""
        return None if self.tracking_uri else self.workspace.artifact_uri


def experiment_changes(stored: SearchSpec, rerun: SearchSpec) -> list[str]:
    """``"field: old -> new"`` for each field of ``rerun`` that differs from the ``stored`` spec of the
    study it resumes and changes what a trial measures: every field but :data:`RESUMABLE_FIELDS`
    (nested ones by their dotted path, e.g. ``experiment.protocol.labels_per_class``). The sampler
    may change, except to or from ``staged``, whose trials pre-train for a fraction of the epochs."""
    old, new = _flat(stored.to_dict()), _flat(rerun.to_dict())
    resumable = set(RESUMABLE_FIELDS)
    if "staged" not in (stored.sampler, rerun.sampler):
        resumable.add("sampler")
    changed = sorted(name for name in old.keys() | new.keys()
                     if old.get(name) != new.get(name) and not any(name == f or name.startswith(f + ".") for f in resumable))
    return [f"{name.removeprefix('experiment.')}: {_shown(old.get(name))} -> {_shown(new.get(name))}" for name in changed]


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):  # an empty one (no --param) adds nothing
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _shown(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def dataset_stem(dataset: str) -> str:
    """A dataset as it appears in study names: a custom file or folder by its stem."""
    if "/" in dataset or dataset.endswith(".npz"):
        return Path(dataset.rstrip("/")).stem
    return dataset


def param_prefix(method: str) -> str:
    """What the param names of ``method``'s trials in a method-selection study start with
    (:mod:`automl_har.selection`: the methods' spaces share names with different ranges)."""
    return f"{method}."


def trial_method(trial: optuna.trial.FrozenTrial) -> str | None:
    """The method a trial of a method-selection study ran; None for a single-method study's trial."""
    return trial.user_attrs.get(TRIAL_METHOD_ATTR)


def without_prefix(params: dict[str, Any], method: str) -> dict[str, Any]:
    """``params`` of a ``method`` trial, named as the method names them."""
    prefix = param_prefix(method)
    return {name.removeprefix(prefix): value for name, value in params.items() if name.startswith(prefix)}


def with_prefix(params: dict[str, Any], method: str) -> dict[str, Any]:
    """``params`` of a ``method`` trial as a method-selection study stores them."""
    return {param_prefix(method) + name: value for name, value in params.items()}


def ran_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """What a trial really ran: the sampler's params with the ``--param`` values over them, named as
    its method names them (a method-selection trial's params are stored as ``<method>.<name>``)."""
    method = trial_method(trial)
    params = without_prefix(trial.params, method) if method else trial.params
    return {**params, **trial.user_attrs.get(FIXED_PARAMS_ATTR, {})}  # stored by the name the method uses


def trials_view_columns(trials: list[optuna.trial.FrozenTrial]) -> tuple[list[str], bool]:
    """What the MLflow UI's view of a study shows (:func:`automl_har.tracking.save_trials_view`): the
    names of every hyperparameter its trials ran, and whether they ran several methods."""
    names = sorted({name for t in trials for name in ran_params(t)})
    return names, any(trial_method(t) for t in trials)
