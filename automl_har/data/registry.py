"""Dataset registry: name -> loader + :class:`DatasetInfo`, and where each looks for its files.

Loader modules in ``data/loaders/`` call :func:`register_dataset` at import time. A dataset
argument that is not a registered name but a path to an ``.npz`` file or a folder of CSV files
is loaded with the ``custom`` loaders.

Data root for a dataset that needs files: ``--data-dir``, else ``$AUTOHAR_DATA/<name>``,
else ``~/.autohar/data/<name>``.

A dataset with variants (a body position, a device, a subset of one release) is named
``name:variant`` (``realworld:chest``, ``watch:side0``); the plain name is its first variant.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from automl_har.data._types import DatasetInfo, WindowedData
from automl_har.errors import ConfigError, DatasetNotFoundError, UnknownNameError


@dataclass(frozen=True)
class WindowOptions:
    """How continuous recordings (or trials) become windows.

    Attributes:
        window_s: window length in seconds; ``None`` = the dataset's default. For trial-based
            datasets (one sample per trial, e.g. UTD-MHAD) every trial is resampled to this length.
        overlap: fraction of a window shared with the next one, in [0, 1).
        rate_hz: resample every modality to this rate first; ``None`` keeps native rates.
    """

    window_s: float | None = None
    overlap: float = 0.5
    rate_hz: float | None = None

    def __post_init__(self) -> None:
        if self.window_s is not None and not self.window_s > 0:
            raise ConfigError(f"window length must be positive, but got window_s={self.window_s}")
        if not 0 <= self.overlap < 1:
            raise ConfigError(f"overlap must be in [0, 1), but got overlap={self.overlap}")
        if self.rate_hz is not None and not self.rate_hz > 0:
            raise ConfigError(f"resampling rate must be positive, but got rate_hz={self.rate_hz}")


#: ``load(data_dir, window) -> WindowedData``; ``data_dir`` is None when not ``needs_data_dir``.
#: The loader of a dataset with variants takes the variant as a third argument.
Loader = Callable[..., WindowedData]

#: separates a dataset name from its variant: ``realworld:chest``
VARIANT_SEPARATOR = ":"


def split_variant(dataset: str) -> tuple[str, str | None]:
    """``"realworld:chest"`` -> ``("realworld", "chest")``; a plain name or a file path -> ``(dataset, None)``."""
    name, separator, variant = dataset.rpartition(VARIANT_SEPARATOR)
    if not separator or not name or os.sep in dataset or dataset.endswith(".npz") or Path(dataset).exists():
        return dataset, None
    return name, variant


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    Attributes:
        info: static description.
        load: the loader.
        default_window_s: window length used when :class:`WindowOptions` leaves it ``None``.
        required: glob patterns, relative to the data folder, each of which must match a file.
        variants: the names ``name:variant`` accepts (a position, a device, a subset); the first is
            what the plain name loads. Empty: no variants, and ``load`` takes two arguments.
    """

    info: DatasetInfo
    load: Loader
    default_window_s: float
    required: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    def check_variant(self, variant: str | None) -> str | None:
        """``variant`` itself (the default one for None), or an :class:`UnknownNameError` listing the valid ones."""
        if not self.variants:
            if variant is not None:
                raise ConfigError(
                    f"dataset {self.name!r} has no variants, but got {self.name}{VARIANT_SEPARATOR}{variant}; "
                    f"use the plain name {self.name!r}"
                )
            return None
        if variant is None:
            return self.variants[0]
        if variant not in self.variants:
            raise UnknownNameError(f"variant of dataset {self.name!r}", variant, self.variants)
        return variant

    def load_variant(self, folder: Path | None, window: WindowOptions, variant: str | None) -> WindowedData:
        """Run the loader, passing the (checked) variant when the dataset has variants."""
        variant = self.check_variant(variant)
        return self.load(folder, window) if variant is None else self.load(folder, window, variant)


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    _REGISTRY[entry.name] = entry
    return entry


def _ensure_loaders_imported() -> None:
    import automl_har.data.loaders  # noqa: F401  (registers every dataset on import)


def dataset_names() -> list[str]:
    _ensure_loaders_imported()
    return sorted(_REGISTRY)


def get_dataset(name: str) -> DatasetEntry:
    """The registered dataset ``name``; ``name:variant`` gives the entry of ``name`` (variant checked)."""
    _ensure_loaders_imported()
    base, variant = split_variant(name)
    if base in _REGISTRY:
        _REGISTRY[base].check_variant(variant)
        return _REGISTRY[base]
    if name not in _REGISTRY:
        raise UnknownNameError("dataset", name, list(_REGISTRY) + ["<path to .npz or CSV folder>"])
    return _REGISTRY[name]


def default_data_dir(name: str, root: str | Path | None = None) -> Path:
    """``<root>/<name>``, root = ``$AUTOHAR_DATA`` if set, else ``~/.autohar/data``; a folder
    spelled with ``_`` for ``-`` (``utd_mhad``, as the publishers' archives unpack) is found too."""
    root = root or os.environ.get("AUTOHAR_DATA")
    base = Path(os.path.abspath((Path(root) if root else Path.home() / ".autohar" / "data").expanduser()))
    underscored = base / name.replace("-", "_")
    return underscored if not (base / name).exists() and underscored.exists() else base / name


def resolve_data_dir(name: str, data_dir: str | Path | None = None) -> Path:
    return Path(os.path.abspath(Path(data_dir).expanduser())) if data_dir else default_data_dir(name)


def missing_files(entry: DatasetEntry, folder: Path) -> list[str]:
    """The required patterns with no match under ``folder`` (all of them if it is missing)."""
    if not folder.is_dir():
        return list(entry.required)
    return [p for p in entry.required if not glob.glob(str(folder / p))]


def check_data_dir(entry: DatasetEntry, folder: Path) -> None:
    """Raise one clear line when ``folder`` is missing or incomplete."""
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"dataset {entry.name!r}: folder {folder} does not exist; pass --data-dir pointing to "
            f"a folder with {entry.info.expected_files} (or set $AUTOHAR_DATA)"
        )
    missing = missing_files(entry, folder)
    if missing:
        raise DatasetNotFoundError(
            f"dataset {entry.name!r}: {folder} is incomplete, nothing matches {', '.join(missing)}; "
            f"expected {entry.info.expected_files}"
        )


def is_custom_path(dataset: str) -> bool:
    """True when ``dataset`` names an ``.npz`` file or a folder rather than a registered name (or ``name:variant``)."""
    _ensure_loaders_imported()
    if dataset in _REGISTRY or split_variant(dataset)[0] in _REGISTRY:
        return False
    return dataset.endswith(".npz") or os.sep in dataset or Path(dataset).exists()


def inertial_modalities(dataset: str) -> tuple[str, ...] | None:
    """The modalities of the registered ``dataset`` that come from inertial sensors
    (:attr:`DatasetInfo.inertial`, else all of them); None for a custom file or an unknown name,
    whose modalities are known only once loaded."""
    base, _ = split_variant(dataset)
    if is_custom_path(dataset) or base not in dataset_names():
        return None
    info = get_dataset(dataset).info
    return tuple(info.inertial) if info.inertial is not None else tuple(info.modalities)


def load_dataset(
    dataset: str, data_dir: str | Path | None = None, window: WindowOptions | None = None
) -> WindowedData:
    """Load a registered dataset by name (or ``name:variant``), or a custom ``.npz`` file / CSV folder by path."""
    window = window or WindowOptions()
    if is_custom_path(dataset):
        from automl_har.data.loaders.custom import load_custom

        return load_custom(Path(dataset).expanduser().absolute(), window)
    entry = get_dataset(dataset)
    folder = None
    if entry.info.needs_data_dir:
        folder = resolve_data_dir(entry.name, data_dir)
        check_data_dir(entry, folder)
    if window.window_s is None:
        window = WindowOptions(entry.default_window_s, window.overlap, window.rate_hz)
    return entry.load_variant(folder, window, split_variant(dataset)[1])


@dataclass(frozen=True)
class DatasetStatus:
    """One row of ``autohar datasets``."""

    entry: DatasetEntry
    looks_in: str
    found: bool
    detail: str


def dataset_statuses(data_dir: str | Path | None = None) -> list[DatasetStatus]:
    """Where each registered dataset looks for its files and whether they are there."""
    rows = []
    for name in dataset_names():
        entry = _REGISTRY[name]
        if not entry.info.needs_data_dir:
            rows.append(DatasetStatus(entry, entry.info.expected_files or "(bundled)", True, "ok"))
            continue
        folder = default_data_dir(name, data_dir)
        missing = missing_files(entry, folder)
        detail = "ok" if not missing else "missing: " + ", ".join(missing)
        rows.append(DatasetStatus(entry, str(folder), not missing, detail))
    return rows
