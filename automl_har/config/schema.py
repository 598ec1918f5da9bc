"""The experiment schema: one typed, validated description of a run, in the shape of its YAML file.

::

    method: mesen                # or auto: the method is searched too, over `methods:` (default: all)
    preset: mesen-utd            # a named layer (config/presets.py); fields below win over it
    params: {modality: skeleton} # hyperparameters fixed in every trial (--param)
    data:     {dataset, data_dir, datasets, data_dirs, label_map, normalization, modalities, deploy_modalities, window}
    protocol: {split, validation, split_seed, draw_seed, labels_per_class, label_ratio, repeats, ...}
    search:   {study, trials, timeout, sampler, pruner, space, fidelity, seed, objectives, budget, warm_start}
    engine:   {name, workers, device, cpus_per_trial, gpus_per_trial, ray_address}
    tracking: {workdir, storage, tracking_uri}

Every field is validated here, once, by pydantic and the range declarations of
:mod:`automl_har.ranges` (the same ones a method's hyperparameters use); an error names the
field's path: ``protocol.labels_per_class: must be >= 1, but got 0``. How the layers (defaults,
tags, preset, file, options) are merged into one of these is :mod:`automl_har.config.layers`.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from automl_har.errors import ConfigError
from automl_har.objectives.protocol import DEFAULT_BUDGET
from automl_har.ranges import OneOf, Range, at_least, between, fraction, non_negative, positive, unit_interval
from automl_har.search_spec import FIDELITIES, PRUNERS, SAMPLERS

ENGINES = ("optuna", "ray")
DEVICES = ("auto", "cpu", "cuda")
#: label draws 0..MAX_REPEATS-1 are the search's (objectives.protocol.MAX_REPEATS; verify draws above)
MAX_REPEATS = 500


def _within(valid: Range | OneOf):
    """A pydantic check of one declaration (:mod:`automl_har.ranges`); None passes (unset)."""

    def check(value: Any) -> Any:
        if value is not None and not valid.contains(value):
            raise ValueError(f"must be {valid}, but got {value!r}")
        return value

    return AfterValidator(check)


def _choice(names) -> AfterValidator:
    return _within(OneOf(tuple(names)))


class _Section(BaseModel):
    """A part of the file: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: `repeats: true` is no 1


Subjects = Optional[list[Union[int, str]]]


class WindowSection(_Section):
    """Windowing of continuous recordings (None: the method's for a pool, else the dataset's)."""

    window_s: Annotated[Optional[float], _within(positive)] = None
    rate_hz: Annotated[Optional[float], _within(positive)] = None
    overlap: Annotated[float, _within(fraction)] = 0.5


class DataSection(_Section):
    """What the experiment reads.

    ``dataset`` is the target; ``datasets`` a pool for methods that pre-train on labeled source
    datasets (the sources are the pool minus the target). ``data_dir`` is the target's folder,
    ``data_dirs`` a folder per dataset of the pool."""

    dataset: Optional[str] = None
    data_dir: Optional[str] = None
    datasets: list[str] = Field(default_factory=list)
    data_dirs: dict[str, str] = Field(default_factory=dict)
    label_map: str = "builtin"
    normalization: Annotated[Optional[str], _choice(("channel", "sensor"))] = None
    modalities: Optional[list[str]] = None
    deploy_modalities: Optional[list[str]] = None
    window: WindowSection = Field(default_factory=WindowSection)


class ProtocolSection(_Section):
    """The few-label protocol (:class:`automl_har.objectives.Protocol`); ``draw_seed`` is its ``seed``.
    ``labels_per_class`` None: 10, unless ``label_ratio`` is given."""

    split: str = "subjects"
    validation: Annotated[str, _choice(("full", "few"))] = "full"
    split_seed: Annotated[int, _within(non_negative)] = 0
    draw_seed: Annotated[int, _within(non_negative)] = 0
    labels_per_class: Annotated[Optional[int], _within(at_least(1))] = None
    label_ratio: Annotated[Optional[float], _within(unit_interval)] = None
    repeats: Annotated[int, _within(between(1, MAX_REPEATS - 1))] = 3
    val_subjects: Subjects = None
    test_subjects: Subjects = None
    val_fraction: Annotated[float, _within(Range(0, 1, low_open=True, high_open=True))] = 0.2
    test_fraction: Annotated[float, _within(Range(0, 1, low_open=True, high_open=True))] = 0.2
    ratio_of: Annotated[str, _choice(("pool", "dataset"))] = "pool"
    draw_by_subject: bool = False


class SearchSection(_Section):
    """The study: its name, trial count, sampler, pruner, space and budget."""

    study: Optional[str] = None
    trials: Annotated[int, _within(at_least(1))] = 20
    timeout: Annotated[Optional[float], _within(positive)] = None
    sampler: Annotated[str, _choice(SAMPLERS)] = "tpe"
    pruner: Annotated[Optional[str], _choice(PRUNERS)] = None
    space: str = "default"
    fidelity: Annotated[str, _choice(FIDELITIES)] = "trials"
    seed: int = 0
    objectives: list[str] = Field(default_factory=lambda: ["f1"])
    budget: Annotated[float, _within(Range(0, 10, low_open=True))] = DEFAULT_BUDGET
    grid_subset: dict[str, list] = Field(default_factory=dict)
    warm_start: bool = True


class EngineSection(_Section):
    """Where and how many trials run at once."""

    name: Annotated[str, _choice(ENGINES)] = "optuna"
    workers: Annotated[int, _within(at_least(1))] = 1
    device: Annotated[str, _choice(DEVICES)] = "auto"
    cpus_per_trial: Annotated[int, _within(at_least(1))] = 1
    gpus_per_trial: Annotated[float, _within(non_negative)] = 0.0
    ray_address: Optional[str] = None


class TrackingSection(_Section):
    """Where the study and its runs are kept (None: in the workspace)."""

    workdir: Optional[str] = None
    storage: Optional[str] = None
    tracking_uri: Optional[str] = None


class ExperimentConfig(_Section):
    """One experiment, as a file says it (see the module docstring)."""

    method: str
    methods: list[str] = Field(default_factory=list)
    preset: Optional[str] = None
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSection = Field(default_factory=DataSection)
    protocol: ProtocolSection = Field(default_factory=ProtocolSection)
    search: SearchSection = Field(default_factory=SearchSection)
    engine: EngineSection = Field(default_factory=EngineSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)


SECTIONS = ("data", "protocol", "search", "engine", "tracking")
#: the command-line option of a field whose option is not its last name with dashes (``--trials``)
_OPTION_EXCEPTIONS = {"data.window.rate_hz": "--rate", "engine.name": "--engine", "params": "--param",
                      "search.warm_start": "--no-warm-start",
                      "data.data_dirs": "--data-dir", "search.grid_subset": ""}


def option_of(path: str) -> str:
    """The command-line option that sets the field ``path`` (``search.trials`` -> ``--trials``); "" for none."""
    if path in _OPTION_EXCEPTIONS:
        return _OPTION_EXCEPTIONS[path]
    parts = path.split(".")
    if len(parts) < 2 or parts[0] not in SECTIONS:
        return f"--{parts[0].replace('_', '-')}" if parts[0] in ("method", "methods", "preset") else ""
    name = parts[2] if parts[:2] == ["data", "window"] and len(parts) > 2 else parts[1]
    return f"--{name.replace('_', '-')}"


def validated(layer: dict[str, Any], origin: str = "") -> ExperimentConfig:
    """``layer`` (the merged layers, plain data) as an :class:`ExperimentConfig`; a one-line
    :class:`ConfigError` naming the field's path for each problem (``origin``: where the value came
    from, e.g. ``in exp.yaml``)."""
    try:
        return ExperimentConfig.model_validate(layer)
    except ValidationError as err:
        raise ConfigError(_messages(err) + (f" ({origin})" if origin else "")) from None


def _messages(err: ValidationError) -> str:
    shown: dict[str, str] = {}
    for problem in err.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"] if not _is_union_branch(part))
        if path in shown:  # a value no branch of a union takes: its first reason is enough
            continue
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = f"unknown field; the fields of {path.rpartition('.')[0] or 'the file'} are " + \
                ", ".join(_field_names(path.rpartition(".")[0]))
        elif problem["type"] == "missing":
            message = "missing; give it"
        elif "got" not in message:
            message += f", but got {problem.get('input')!r}"
        option = option_of(path) if problem["type"] != "extra_forbidden" else ""
        shown[path] = f"{path}{f' ({option})' if option else ''}: {message}"
    return "; ".join(shown.values())


def _is_union_branch(part: Any) -> bool:
    """pydantic's name of the branch of a union a value was tried against (``int``, ``function-after[...]``)."""
    return isinstance(part, str) and (part in ("int", "str", "float", "bool", "list[...]") or part.startswith("function-"))


def _field_names(section: str) -> list[str]:
    model: type[BaseModel] = ExperimentConfig
    for part in filter(None, section.split(".")):
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def default_of(section: str, name: str) -> Any:
    """The schema's default of ``section.name``: what the CLI's help says, stated once here."""
    model = {"data": DataSection, "protocol": ProtocolSection, "search": SearchSection, "engine": EngineSection,
             "tracking": TrackingSection, "window": WindowSection}[section]
    return model.model_fields[name].get_default(call_default_factory=True)
