"""The static catalog: what the CLI lists about methods and datasets, without importing them.

``autohar methods``, ``autohar datasets`` and the method-name choices of every command read
this catalog instead of the registries, because the registries import torch (every method
module) and every dataset loader (scipy, pandas): seconds before a line could be printed.

The entries live in ``automl_har/_catalog_data.py``, which ``python -m automl_har.catalog``
writes from the real registries (method classes, search-space ``DEFAULTS``, dataset loaders).
``tests/test_catalog.py`` fails as soon as the two differ, so after registering or changing a
method, a search-space ``DEFAULTS`` or a dataset, run that command and commit the file.
"""

from __future__ import annotations

import glob
import pprint
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl_har import _catalog_data
from automl_har.errors import UnknownNameError

DATA_FILE = Path(__file__).with_name("_catalog_data.py")
REFRESH_COMMAND = "python -m automl_har.catalog"


@dataclass(frozen=True)
class MethodCard:
    """One registered method as ``autohar methods`` shows it.

    Attributes:
        name: registry name (``--method``).
        description: one line.
        tags: capability tags (``multimodal``, ``needs_pretraining``, ``input`` ...).
        defaults: the default search space's ``DEFAULTS`` (the paper's values, trial 0).
        params: the names of every hyperparameter of its ``Params`` (what ``--param`` and a preset's
            ``params`` may set).
    """

    name: str
    description: str
    tags: dict[str, Any]
    defaults: dict[str, Any]
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetCard:
    """One registered dataset as ``autohar datasets`` shows it.

    Attributes:
        name: registry name (``--dataset``).
        description: one line.
        modalities: modality name -> number of channels (empty: known only from the file).
        rates_hz: modality name -> native sampling rate.
        n_classes: number of classes (0: known only from the file).
        needs_data_dir: False for datasets shipped with a package or generated.
        expected_files: what the data folder must contain, in words.
        required: glob patterns, relative to the data folder, each of which must match a file.
        inertial: the modalities that come from inertial sensors (``DatasetInfo.inertial``; all of
            them unless the dataset says otherwise).
        variants: what ``name:variant`` accepts (the first is the plain name's); empty: none.
    """

    name: str
    description: str
    modalities: dict[str, int]
    rates_hz: dict[str, float]
    n_classes: int
    needs_data_dir: bool
    expected_files: str
    required: tuple[str, ...]
    inertial: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()


METHODS: dict[str, MethodCard] = {name: MethodCard(name, **card) for name, card in _catalog_data.METHODS.items()}
DATASETS: dict[str, DatasetCard] = {name: DatasetCard(name, **card) for name, card in _catalog_data.DATASETS.items()}


def method_names() -> list[str]:
    return sorted(METHODS)


def method_card(name: str) -> MethodCard:
    if name not in METHODS:
        raise UnknownNameError("method", name, METHODS)
    return METHODS[name]


def method_tags(name: str) -> dict[str, Any]:
    """The capability tags of method ``name``: the catalog's, else (a plugin registered after the
    catalog was written) the registry's; an unknown name is an UnknownNameError listing the methods."""
    if name in METHODS:
        return METHODS[name].tags
    from automl_har.methods import get_method

    return get_method(name).tags


def method_params(name: str) -> tuple[str, ...]:
    """The hyperparameter names of method ``name`` (catalog, else registry)."""
    if name in METHODS:
        return METHODS[name].params
    import dataclasses

    from automl_har.methods import get_method

    return tuple(f.name for f in dataclasses.fields(get_method(name).Params))


def methods_with_tag(tag: str, value: Any = True) -> list[str]:
    return sorted(n for n, card in METHODS.items() if card.tags.get(tag) == value)


def dataset_names() -> list[str]:
    return sorted(DATASETS)


@dataclass(frozen=True)
class DatasetFolder:
    """Where a dataset looks for its files and whether they are there (one ``autohar datasets`` row)."""

    card: DatasetCard
    looks_in: str
    found: bool
    detail: str


def dataset_folders(data_root: str | Path | None = None) -> list[DatasetFolder]:
    """Every catalogued dataset with its data folder under ``data_root`` (default ``$AUTOHAR_DATA``)
    and the required files missing there; the same answer as
    :func:`automl_har.data.registry.dataset_statuses`, without importing a loader."""
    from automl_har.data.registry import default_data_dir

    rows = []
    for name in dataset_names():
        card = DATASETS[name]
        if not card.needs_data_dir:
            rows.append(DatasetFolder(card, card.expected_files or "(bundled)", True, "ok"))
            continue
        folder = default_data_dir(name, data_root)
        missing = list(card.required) if not folder.is_dir() else [p for p in card.required if not glob.glob(str(folder / p))]
        rows.append(DatasetFolder(card, str(folder), not missing, "ok" if not missing else "missing: " + ", ".join(missing)))
    return rows


# ------------------------------------------------ building the catalog from the registries
def entries_from_registries() -> tuple[dict[str, dict], dict[str, dict]]:
    """``(methods, datasets)`` as plain dicts, read from the registries (imports torch and every loader)."""
    import dataclasses

    from automl_har.data.registry import dataset_names as registered_datasets
    from automl_har.data.registry import get_dataset
    from automl_har.methods import get_method
    from automl_har.methods import method_names as registered_methods
    from automl_har.search_spaces import get_space

    methods = {}
    for name in registered_methods():
        method = get_method(name)
        methods[name] = {"description": method.description, "tags": dict(method.tags),
                         "defaults": dict(get_space(name).defaults),
                         "params": tuple(f.name for f in dataclasses.fields(method.Params))}
    datasets = {}
    for name in registered_datasets():
        entry = get_dataset(name)
        info = entry.info
        datasets[name] = {
            "description": info.description,
            "modalities": {m: len(channels) for m, channels in info.modalities.items()},
            "rates_hz": dict(info.rates_hz),
            "n_classes": len(info.classes),
            "needs_data_dir": info.needs_data_dir,
            "expected_files": info.expected_files,
            "required": tuple(entry.required),
            "inertial": tuple(info.inertial) if info.inertial is not None else tuple(info.modalities),
            "variants": tuple(entry.variants),
        }
    return methods, datasets


def render_data_module(methods: dict[str, dict], datasets: dict[str, dict]) -> str:
    """The source of ``_catalog_data.py`` holding ``methods`` and ``datasets``."""
    return (
        '"""Entries of the static catalog (see ``automl_har/catalog.py``).\n\n'
        f"Written by ``{REFRESH_COMMAND}`` from the method, search-space and dataset registries;\n"
        '``tests/test_catalog.py`` checks it against them. Do not edit by hand."""\n\n'
        f"METHODS = {_literal(methods, column=10)}\n\nDATASETS = {_literal(datasets, column=11)}\n"
    )


def _literal(value: Any, indent: int = 0, column: int = 0, width: int = 110) -> str:
    """A Python literal of ``value`` starting at ``column``: one line if it fits, else one
    dict key per line, indented by ``indent + 4``."""
    flat = pprint.pformat(value, width=10**6, sort_dicts=False)
    if not isinstance(value, dict) or not value or column + len(flat) <= width:
        return flat
    pad = indent + 4
    items = "".join(f"{' ' * pad}{key!r}: {_literal(item, pad, pad + len(repr(key)) + 2, width)},\n"
                    for key, item in value.items())
    return "{\n" + items + " " * indent + "}"


def main() -> None:
    """Rewrite ``_catalog_data.py`` from the registries."""
    methods, datasets = entries_from_registries()
    DATA_FILE.write_text(render_data_module(methods, datasets))
    print(f"wrote {DATA_FILE}: {len(methods)} methods, {len(datasets)} datasets")


if __name__ == "__main__":
    main()
