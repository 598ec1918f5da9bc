"""An :class:`~automl_har.config.schema.ExperimentConfig` as the specs the engines run, and back.

:func:`search_spec` checks what needs more than one field (a pool and its target, zero-shot, the
Ray engine's limits) and resolves what the config leaves open (the device, 10 labels per class);
:func:`config_of` writes a stored :class:`~automl_har.search_spec.SearchSpec` as the config that
re-runs it exactly (``autohar show STUDY --config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl_har.catalog import method_tags
from automl_har.config.layers import DEFAULT_LABELS_PER_CLASS
from automl_har.config.schema import ExperimentConfig
from automl_har.errors import ConfigError
from automl_har.selection import AUTO, candidate_methods, check_fixed_params, deploy_single_method


def search_spec(config: ExperimentConfig):
    """The :class:`~automl_har.search_spec.SearchSpec` of ``config`` (one-line errors for what does not fit)."""
    from automl_har.search_spec import SearchSpec
    from automl_har.workspace import Workspace

    search, engine, tracking = config.search, config.engine, config.tracking
    if len(search.objectives) > 1 and engine.name == "ray":
        raise ConfigError("search.objectives: a multi-objective search runs on the optuna engine only; "
                          "use --engine optuna or --objectives f1")
    methods = method_candidates(config)
    if methods and engine.name == "ray":
        raise ConfigError("a search over several methods (--method auto / --methods) runs on the optuna engine only; "
                          "use --engine optuna (--workers N runs trials in parallel)")
    if methods:
        check_fixed_params(config.params, methods)
    spec = SearchSpec(
        methods=methods, methods_named=bool(config.methods), warm_start=search.warm_start,
        deploy_modalities=_deployed(config),
        experiment=experiment_spec(config), workspace=Workspace.resolve(tracking.workdir), study_name=search.study,
        n_trials=search.trials, timeout=search.timeout, sampler=search.sampler, pruner=search.pruner,
        storage=tracking.storage, tracking_uri=tracking.tracking_uri, seed=search.seed, space=search.space,
        fixed_params=dict(config.params), workers=engine.workers if engine.name == "optuna" else 1,
        objectives=tuple(search.objectives), grid_subset={k: list(v) for k, v in search.grid_subset.items()},
        fidelity=search.fidelity)
    # one method with --deploy-modalities reads what that method's trials of a --method auto study read
    return deploy_single_method(spec) if spec.deploy_modalities and not methods else spec


def method_candidates(config: ExperimentConfig) -> tuple[str, ...]:
    """The methods of a method-selection study (``method: auto``; ``methods:``/``--methods`` narrows them),
    or ``()`` for a single method."""
    if config.method != AUTO:
        if config.methods:
            raise ConfigError(f"methods: a list of methods is searched with method: auto (--methods alone), not with "
                              f"method: {config.method}")
        return ()
    return candidate_methods(config.methods)


def _deployed(config: ExperimentConfig) -> tuple[str, ...] | None:
    deploy, loaded = config.data.deploy_modalities, config.data.modalities
    if deploy is None:
        return None
    if not deploy:
        raise ConfigError("data.deploy_modalities (--deploy-modalities): empty; name what the deployed model may read, "
                          "e.g. --deploy-modalities acc,gyro")
    if loaded is not None and set(deploy) - set(loaded):
        raise ConfigError(f"--deploy-modalities {','.join(deploy)} names modalities that --modalities "
                          f"{','.join(loaded)} does not load; deploy a subset of what is loaded")
    return tuple(deploy)


def experiment_spec(config: ExperimentConfig, device: str | None = None):
    """The :class:`~automl_har.objectives.ExperimentSpec` of ``config`` (``device``: already resolved)."""
    from automl_har.data.registry import WindowOptions
    from automl_har.objectives import ExperimentSpec, Protocol

    data, protocol = config.data, config.protocol
    if config.method != AUTO:  # a method-selection study leaves out the methods that cannot run zero-shot
        check_zero_shot(config.method, protocol.label_ratio)
    window = {k: v for k, v in data.window.model_dump().items() if v is not None}
    per_class = protocol.labels_per_class
    if per_class is None and protocol.label_ratio is None:
        per_class = DEFAULT_LABELS_PER_CLASS
    return ExperimentSpec(
        method=config.method, **pool_fields(config), window=WindowOptions(**window),
        modalities=tuple(data.modalities) if data.modalities is not None else None,
        protocol=Protocol(
            labels_per_class=per_class, label_ratio=protocol.label_ratio, repeats=protocol.repeats,
            val_fraction=protocol.val_fraction, test_fraction=protocol.test_fraction, seed=protocol.draw_seed,
            val_subjects=_subjects(protocol.val_subjects), test_subjects=_subjects(protocol.test_subjects),
            split=protocol.split, validation=protocol.validation, split_seed=protocol.split_seed,
            ratio_of=protocol.ratio_of, draw_by_subject=protocol.draw_by_subject),
        budget=config.search.budget, device=device or resolve_device(config.engine.device),
        label_map=data.label_map, normalization=data.normalization or "channel")


def _subjects(values) -> tuple | None:
    return None if values is None else tuple(values)


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when available; asking for CUDA without it is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("engine.device: CUDA is not available on this machine; use --device cpu or auto")
    return device


def check_zero_shot(method: str, label_ratio: float | None) -> None:
    if label_ratio == 0 and not method_tags(method).get("zero_shot"):
        raise ConfigError(f"method {method!r} needs labeled target windows; --label-ratio 0 (zero-shot) is for methods "
                          "that transfer from labeled sources (combined)")


def pool_fields(config: ExperimentConfig) -> dict[str, Any]:
    """The ``ExperimentSpec`` fields of what the experiment reads: ``dataset`` and ``data_dir`` and,
    for a method that pre-trains on labeled source datasets, ``sources`` and ``data_dirs``. One-line errors for a missing dataset, a target outside its pool, folders of
    datasets the experiment does not read, or a pool for a method that takes none."""
    from automl_har import catalog
    from automl_har.data.registry import split_variant

    data, method = config.data, config.method
    # a method-selection study takes a pool (its methods that need none are then left out) or none
    labeled_sources = method == AUTO or method_tags(method).get("pretraining_data") == "labeled_sources"
    pool, target, named = list(data.datasets), data.dataset, dict(data.data_dirs)
    if pool and not labeled_sources:
        sourced = [n for n, card in catalog.METHODS.items() if card.tags.get("pretraining_data") == "labeled_sources"]
        raise ConfigError(f"method {method!r} pre-trains on the target's unlabeled windows; --datasets/--target are for "
                          f"methods that pre-train on labeled source datasets: {', '.join(sourced)}")
    if not pool:
        if labeled_sources and method != AUTO:
            raise ConfigError(f"method {method!r} pre-trains on labeled source datasets; give the pool and its target: "
                              "--datasets A,B,C --target D (e.g. --preset combined-lodo --target uci-har)")
        if target is None:
            raise ConfigError("data.dataset: missing; give --dataset NAME (see `autohar datasets`), a --preset that "
                              "names one, or `data: {dataset: NAME}` in the config file")
        unknown = [name for name in named if name != target and split_variant(name)[0] != split_variant(target)[0]]
        if unknown:
            raise ConfigError(f"--data-dir {unknown[0]}=... names a dataset that is not in the experiment ({target}); "
                              f"give --data-dir {target}=PATH or a bare PATH")
        return {"dataset": target, "data_dir": data.data_dir or named.get(target)}
    if not target:
        raise ConfigError(f"give --target, one of the pool {', '.join(pool)}")
    if len(set(pool)) != len(pool):
        raise ConfigError(f"the pool names a dataset twice ({','.join(pool)}); name each once")
    bases = {split_variant(name)[0] for name in pool}  # NAME=PATH may name a variant's base dataset
    outside = [name for name in named if name not in pool and name not in bases and name != target]
    if outside:
        raise ConfigError(f"--data-dir {outside[0]}=... is not in the pool ({', '.join(pool)}); fix the name")
    sources = tuple(name for name in pool if name != target)  # a target outside the pool: every one is a source
    return {"dataset": target, "data_dir": data.data_dir or named.get(target), "sources": sources,
            "data_dirs": tuple(sorted(named.items()))}


def config_of(spec, engine: str = "optuna") -> dict[str, Any]:
    """The config file (plain data) that re-runs ``spec`` exactly: every field as the study stored
    it, so ``autohar search --config`` on it resumes the same study (no field differs)."""
    experiment, protocol = spec.experiment, spec.experiment.protocol
    data: dict[str, Any] = {"dataset": experiment.dataset, "data_dir": experiment.data_dir,
                            "modalities": list(experiment.modalities) if experiment.modalities is not None else None,
                            "normalization": experiment.normalization, "label_map": experiment.label_map,
                            "window": {"window_s": experiment.window.window_s, "rate_hz": experiment.window.rate_hz,
                                       "overlap": experiment.window.overlap}}
    if experiment.sources:
        data["datasets"] = [experiment.dataset, *experiment.sources]
        data["data_dirs"] = dict(experiment.data_dirs)
    if spec.deploy_modalities is not None:
        data["deploy_modalities"] = list(spec.deploy_modalities)
    return {
        "method": experiment.method,
        **({"methods": list(spec.methods)} if spec.methods_named else {}),
        "params": dict(spec.fixed_params),
        "data": data,
        "protocol": {"split": protocol.split, "validation": protocol.validation, "split_seed": protocol.split_seed,
                     "draw_seed": protocol.seed, "labels_per_class": protocol.labels_per_class,
                     "label_ratio": protocol.label_ratio, "repeats": protocol.repeats,
                     "val_subjects": _listed(protocol.val_subjects), "test_subjects": _listed(protocol.test_subjects),
                     "val_fraction": protocol.val_fraction, "test_fraction": protocol.test_fraction,
                     "ratio_of": protocol.ratio_of, "draw_by_subject": protocol.draw_by_subject},
        "search": {"study": spec.resolved_study_name, "trials": spec.n_trials, "timeout": spec.timeout,
                   "sampler": spec.sampler, "pruner": spec.pruner, "space": spec.space, "fidelity": spec.fidelity,
                   "seed": spec.seed, "objectives": list(spec.objectives), "budget": experiment.budget,
                   **({"warm_start": spec.warm_start} if spec.selects_method else {}),
                   **({"grid_subset": dict(spec.grid_subset)} if spec.grid_subset else {})},
        "engine": {"name": engine, "workers": spec.workers, "device": experiment.device},
        "tracking": {"workdir": str(Path(spec.workspace.root)), "storage": spec.storage,
                     "tracking_uri": spec.tracking_uri},
    }


def _listed(values) -> list | None:
    return None if values is None else list(values)
