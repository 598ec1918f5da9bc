"""Choosing the method too: ``autohar search --method auto`` (or ``--methods a,b,c``).

A method-selection study is one Optuna study and one MLflow parent run whose trials run different
methods. Its :class:`~automl_har.search_spec.SearchSpec` has ``experiment.method == "auto"`` and the
candidate ``methods``; each trial runs one of them with :func:`method_spec`, the spec a search of
that method alone would have (its modalities, its ``--param`` values, what ``--deploy-modalities``
asks of it). Optuna needs one distribution per param name in a study and the methods' spaces
share names (``lr``, ``batch_size``) with different ranges, so a trial's params are stored as
``<method>.<name>`` (:func:`param_prefix`) and the trial's method in its user attribute
:data:`~automl_har.attrs.TRIAL_METHOD_ATTR`; :func:`~automl_har.search_spec.ran_params` gives them
back without the prefix, and :func:`trial_spec` the spec a trial ran. How trials move between methods is
:mod:`automl_har.engines.method_selection`.

Which methods can run is decided by their capability tags (:func:`tag_exclusions`: modalities,
labeled sources, deployment) and then by the same checks a single-method search runs on the data
(:func:`runnable_methods`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from automl_har import catalog
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.search_spec import UNPRUNED_SAMPLERS, SearchSpec, default_pruner, trial_method, without_prefix

if TYPE_CHECKING:
    import optuna

    from automl_har.objectives import ExperimentSpec

#: ``--method auto``: every registered method that can run on the data
AUTO = "auto"
#: why a multimodal method without a ``deploy_subset`` tag cannot run under ``--deploy-modalities``
CANNOT_DEPLOY_A_SUBSET = "fuses every modality it reads, so it cannot deploy on --deploy-modalities alone"
#: the method every method-selection study also compares with (``autohar verify``)
BASELINE_METHOD = "supervised"


def candidate_methods(requested: Sequence[str]) -> tuple[str, ...]:
    """The methods a selection study considers: those named (``--methods``), else every registered one."""
    names = tuple(requested) or tuple(catalog.METHODS)
    for name in names:
        if name not in catalog.METHODS:
            raise UnknownNameError("method", name, tuple(catalog.METHODS))
    if len(set(names)) != len(names):
        raise ConfigError(f"--methods names a method twice ({','.join(names)}); name each once")
    return names


def check_fixed_params(fixed: Mapping[str, Any], methods: Sequence[str]) -> None:
    """In a method-selection study every ``--param`` names its method: ``mesen.finetune_lr=0.01``."""
    for name in fixed:
        method, dot, _ = name.partition(".")
        if not dot:
            raise ConfigError(f"--param {name}=...: a search over several methods needs the method in the name, "
                              f"METHOD.NAME=VALUE (e.g. --param {methods[0]}.{name}=...)")
        if method not in methods:
            raise ConfigError(f"--param {name}=...: {method!r} is not among the methods searched ({', '.join(methods)}); "
                              "drop the --param or add the method to --methods")


def loaded_modalities(spec: SearchSpec) -> tuple[str, ...]:
    """The modalities a method that reads everything would load: ``--modalities``, else the dataset's."""
    experiment = spec.experiment
    if experiment.modalities:
        return tuple(experiment.modalities)
    from automl_har.data.registry import split_variant

    base = split_variant(experiment.dataset)[0]
    if base in catalog.DATASETS and catalog.DATASETS[base].modalities:
        return tuple(catalog.DATASETS[base].modalities)
    from automl_har.objectives.prepared import prepare_data  # a custom file: its modalities are known once read

    return tuple(prepare_data(replace(experiment, method=BASELINE_METHOD)).train.modalities)


def tag_exclusions(spec: SearchSpec) -> dict[str, str]:
    """``{method: why it cannot run}`` for the candidates whose capability tags rule them out on this
    data: labeled sources it needs (or does not take), modalities it needs, a deployment it cannot do."""
    loaded = loaded_modalities(spec) if spec.deploy_modalities else ()
    check_deployable(spec.deploy_modalities or (), loaded)
    excluded = {}
    for method in spec.methods:
        tags = catalog.method_tags(method)
        sources = tags.get("pretraining_data") == "labeled_sources"
        if sources and not spec.experiment.sources:
            excluded[method] = "pre-trains on labeled source datasets; give --datasets A,B,C --target D to include it"
        elif spec.experiment.sources and not sources:
            excluded[method] = "pre-trains on the target's own windows; a pool of source datasets is for `combined`"
        elif spec.deploy_modalities and tags.get("multimodal") and set(spec.deploy_modalities) != set(loaded) \
                and "deploy_subset" not in tags:
            excluded[method] = CANNOT_DEPLOY_A_SUBSET
    return excluded


def method_spec(spec: SearchSpec, method: str) -> SearchSpec:
    """The spec of ``method``'s trials in the method-selection study ``spec``: the spec a search of that
    method alone would have, with its ``--param`` values and what ``--deploy-modalities`` asks of it
    (:func:`reading_for_deployment`)."""
    # its --param METHOD.NAME=VALUE values, by their names in the method
    experiment, fixed = replace(spec.experiment, method=method), without_prefix(spec.fixed_params, method)
    if spec.deploy_modalities:
        experiment, fixed = reading_for_deployment(experiment, fixed, spec.deploy_modalities, loaded_modalities(spec))
    sampler = inner_sampler(method, spec.space)
    # inside a staged search no pruner, as a staged search alone runs by default (default_pruner: its
    # fine-tuning trials are what it learns from); elsewhere the study's --pruner, over this method's trials
    pruner = spec.pruner if sampler not in UNPRUNED_SAMPLERS else default_pruner(sampler)
    return replace(spec, experiment=experiment, fixed_params=fixed, methods=(), deploy_modalities=None,
                   sampler=sampler, pruner=pruner, warm_start=False)


def check_deployable(deploy: Sequence[str], loaded: Sequence[str]) -> None:
    """``--deploy-modalities`` names only modalities the experiment loads."""
    if unknown := [m for m in deploy if m not in loaded]:
        raise ConfigError(f"--deploy-modalities names {', '.join(unknown)}, but the experiment loads "
                          f"{', '.join(loaded)}; deploy some of those")


def reading_for_deployment(experiment: ExperimentSpec, fixed: Mapping[str, Any], deploy: Sequence[str],
                           loaded: Sequence[str]) -> tuple[ExperimentSpec, dict[str, Any]]:
    """``(experiment, fixed params)`` of ``experiment.method`` when its deployed model may read only
    ``deploy`` of the ``loaded`` modalities: a unimodal method reads only those; a multimodal one reads
    every loaded modality and deploys on the deployed ones through its ``deploy_subset`` tag (MESEN
    pre-trains on all of them and fine-tunes the deployed group's encoder; Cosmo fine-tunes in its
    ``m2u`` mode).
    The one home of this rule: a method's trials in a selection study (:func:`method_spec`) and a
    search of one method with ``--deploy-modalities`` (:func:`deploy_single_method`) both use it. A
    ``--param`` the user gave wins over what the tag fills in."""
    check_deployable(deploy, loaded)
    tags, fixed = catalog.method_tags(experiment.method), dict(fixed)
    if not tags.get("multimodal"):
        return replace(experiment, modalities=tuple(deploy)), fixed
    if set(deploy) == set(loaded):
        return experiment, fixed
    if "deploy_subset" not in tags:
        raise ConfigError(f"method {experiment.method!r} {CANNOT_DEPLOY_A_SUBSET}; drop --deploy-modalities")
    deployed = "+".join(deploy)
    groups = ",".join([deployed, *(m for m in loaded if m not in deploy)])
    filled = {name: value.format(deployed=deployed, groups=groups) if isinstance(value, str) else value
              for name, value in tags["deploy_subset"].items()}
    return replace(experiment, modalities=tuple(loaded)), {**filled, **fixed}


def deploy_single_method(spec: SearchSpec) -> SearchSpec:
    """A search of one method with ``--deploy-modalities``: what it reads and its fixed params as the same
    method's trials of a selection study would have them (:func:`reading_for_deployment`). Applying it
    again changes nothing, so a study's stored config re-runs as it ran."""
    experiment, fixed = reading_for_deployment(spec.experiment, spec.fixed_params, spec.deploy_modalities,
                                               loaded_modalities(spec))
    return replace(spec, experiment=experiment, fixed_params=fixed)


def inner_sampler(method: str, space: str) -> str:
    """What samples a method's own params inside a selection study: its staged search when the space
    suggests pre-training fields (few pre-trainings, many fine-tunings on each), else TPE."""
    from automl_har.methods import PRETRAIN, get_method, stage_names
    from automl_har.search_spaces import get_space

    pretraining = set(stage_names(get_method(method).Params, PRETRAIN))
    return "staged" if pretraining & set(get_space(method, space).defaults) else "tpe"


def trial_spec(spec: SearchSpec, trial: optuna.trial.FrozenTrial) -> SearchSpec:
    """The spec ``trial`` ran: its method's own (:func:`method_spec`) in a method-selection study, else ``spec``."""
    method = trial_method(trial) if spec.selects_method else None
    return method_spec(spec, method) if method else spec


def runnable_methods(spec: SearchSpec, check: Callable[[SearchSpec], Any]) -> tuple[list[str], dict[str, str]]:
    """``(methods that can run, {method: why not})``: the tag exclusions, then ``check`` (the checks a
    search of one method runs first: the data, the ``--param`` values, the space variant) on each
    method's spec. A method named in ``--methods`` that cannot run is an error; ``--method auto``
    leaves it out and says why."""
    excluded = tag_exclusions(spec)
    for method in spec.methods:
        if method in excluded:
            continue
        try:
            check(method_spec(spec, method))
        except (ConfigError, UnknownNameError) as err:
            excluded[method] = str(err)
    runnable = [m for m in spec.methods if m not in excluded]
    if spec.methods_named and excluded:
        method, why = next(iter(excluded.items()))
        raise ConfigError(f"method {method!r} cannot run on this experiment: {why}; drop it from --methods")
    if not runnable:
        reasons = "; ".join(f"{m}: {why}" for m, why in excluded.items())
        raise ConfigError(f"no method can run on this experiment ({reasons})")
    return runnable, excluded
