"""Every run's spec from its layers, in one order and by one function.

    defaults (the schema's) -> method tags -> preset -> --config FILE -> command-line options

A layer is plain nested data in the schema's shape (:mod:`automl_har.config.schema`) holding only
what it sets; a later layer wins field by field. :func:`resolve` merges the layers and validates
the result once; :func:`search_spec` turns it into the :class:`~automl_har.search_spec.SearchSpec`
the engines run. ``autohar search``, ``lodo``, ``pretrain`` and ``reproduce`` build their specs
with :func:`resolve`; ``worker``, ``verify``, ``export`` and ``show`` read the spec stored in the
study, which :func:`config_of` turns back into the file that re-runs it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from automl_har import catalog
from automl_har.config.schema import ExperimentConfig, option_of, validated
from automl_har.errors import ConfigError
from automl_har.selection import AUTO

#: fields of which a layer sets at most one; a layer that sets one clears the other from the layers
#: below it (a preset's label ratio gives way to --labels-per-class)
EXCLUSIVE = (("protocol", "labels_per_class", "label_ratio"),)
#: the labels per class of a protocol that names neither
DEFAULT_LABELS_PER_CLASS = 10


@dataclass(frozen=True)
class Layer:
    """One source of values: ``name`` says where they came from in errors (``exp.yaml``)."""

    name: str
    values: Mapping[str, Any]


def load_config_file(path: str | Path) -> Layer:
    """The layer of a ``--config`` YAML file; one-line errors for a missing, unreadable or non-mapping file."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; give the path of a YAML file "
                          "(e.g. one written by `autohar show STUDY --config`)")
    try:
        values = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML{at}; fix it (docs/experiment.yaml is an example)") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} holds a {type(values).__name__}, not a mapping of sections; "
                          "see docs/experiment.yaml")
    return Layer(path.name, values)


def resolve(*layers: Layer) -> ExperimentConfig:
    """The validated experiment of ``layers`` (lowest first, the command line last), with the layers
    below them that they name: the method's tags and the preset's fields."""
    given = _merged(layers)
    method, preset = given.get("method"), given.get("preset")
    if method is None:
        raise ConfigError("method: missing; give --method NAME (see `autohar methods`) or `method:` in the config file")
    below = [tag_layer(method, given)] if method != AUTO else []  # a method-selection study: each method's own
    if preset:
        below.append(preset_layer(preset, method, given.get("methods") or ()))
    merged = _merged((*below, *layers))
    origin = ", ".join(layer.name for layer in layers if layer.name != "options")
    return validated(merged, f"in {origin}" if origin else "")


def _merged(layers) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        values = _plain(layer.values)
        for section, first, second in EXCLUSIVE:
            part = values.get(section) or {}
            if part.get(first) is not None and part.get(second) is not None:
                raise ConfigError(f"{section}.{first} and {section}.{second} are both set ({layer.name}); give either "
                                  f"{option_of(f'{section}.{first}')} or {option_of(f'{section}.{second}')}, not both")
            for mine, other in ((first, second), (second, first)):
                if part.get(mine) is not None and isinstance(merged.get(section), dict):
                    merged[section].pop(other, None)
        _deep_update(merged, values)
    return merged


def _deep_update(into: dict, values: Mapping) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "params":
            _deep_update(into[key], value)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):  # params: a later layer adds to them
            into[key] = {**into[key], **value}
        else:
            into[key] = copy.deepcopy(value)


def _plain(values: Any) -> Any:
    """Tuples as lists (the schema is strict), dicts copied, None values of options dropped."""
    if isinstance(values, Mapping):
        return {str(k): _plain(v) for k, v in values.items() if v is not None}
    if isinstance(values, (list, tuple)):
        return [_plain(v) for v in values]
    return values


def tag_layer(method: str, given: Mapping[str, Any]) -> Layer:
    """What the method's tags set: its normalization and, for an experiment over a pool of labeled
    source datasets, its window (``default_window``). Read from the static catalog (no torch)."""
    tags = catalog.method_tags(method)
    values: dict[str, Any] = {"data": {"normalization": tags.get("normalization", "channel")}}
    if tags.get("pretraining_data") == "labeled_sources":
        values["data"]["window"] = dict(tags.get("default_window") or {})
    return Layer(f"tags of {method}", values)


def preset_layer(name: str, method: str, methods: Sequence[str] = ()) -> Layer:
    """The preset ``name`` as a layer; its ``params`` only where ``method`` has such a hyperparameter
    (a preset's ``modality_groups`` is Cosmo's and MESEN's, not the supervised baseline's). In a
    method-selection study (``method: auto``) each as ``METHOD.NAME`` for every candidate in ``methods``
    (all methods when empty) that has it."""
    from automl_har.config.presets import get_preset

    values = _plain(get_preset(name).layer)
    preset_params = values.get("params") or {}
    if method == AUTO:
        values["params"] = {f"{m}.{k}": v for m in (methods or catalog.METHODS) for k, v in preset_params.items()
                            if k in catalog.method_params(m)}
    else:
        known = catalog.method_params(method)
        values["params"] = {k: v for k, v in preset_params.items() if k in known}
    return Layer(f"preset {name}", values)
