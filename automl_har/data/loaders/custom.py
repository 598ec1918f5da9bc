"""Your own data: an ``.npz`` file of windows or a folder of CSV recordings (docs/custom-data.md).

:func:`automl_har.data.registry.load_dataset` calls :func:`load_custom` for a path. The registered
name ``custom`` only makes ``autohar datasets`` list this option; loading it by name asks for a path.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl_har.data._types import IGNORED_LABEL, DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import resample_to_length, windows_from_recordings
from automl_har.data.csv_columns import numeric_column, rate_from_timestamps
from automl_har.data.npz_file import read_npz
from automl_har.errors import ConfigError, DataFormatError, DatasetNotFoundError, first_line, plain

#: Rate assumed for an ``.npz`` modality without ``rate_<modality>``, and for CSV files
#: without a ``timestamp`` column when no ``--rate`` is given.
DEFAULT_RATE_HZ = 50.0
#: Window length for CSV recordings when ``WindowOptions.window_s`` is ``None``.
DEFAULT_WINDOW_S = 2.0
_RESERVED = ("label", "subject", "timestamp")
_SEE_DOCS = "see docs/custom-data.md"


def load_custom(path: Path, window: WindowOptions) -> WindowedData:
    """Load an ``.npz`` file (:func:`load_npz`) or a folder of CSV files (:func:`load_csv_folder`).

    Raises:
        DatasetNotFoundError: ``path`` does not exist or the folder holds no ``*.csv`` file.
        DataFormatError: the content does not follow the format.
    """
    path = Path(path)
    if path.is_dir():
        return load_csv_folder(path, window)
    if not path.exists():
        msg = "pass an existing .npz file or CSV folder, or a name that autohar datasets lists"
        raise DatasetNotFoundError(f"{path} does not exist; {msg}")
    if path.suffix.lower() != ".npz":
        msg = "put CSV recordings in a folder and pass the folder"
        raise DataFormatError(f"{path} is neither an .npz file nor a folder; {msg} ({_SEE_DOCS})")
    return load_npz(path, window)


# ----------------------------------------------------------------------------------- .npz
def save_npz(data: WindowedData, path: Path) -> Path:
    """Write ``data`` in the format :func:`load_npz` reads (``X_<modality>``, ``y``, ``subject``,
    ``classes``, ``rate_<modality>``, ``channels_<modality>``)."""
    arrays = {"y": data.y, "subject": data.subject, "classes": np.asarray(data.classes)}
    for name, x in data.modalities.items():
        arrays.update({f"X_{name}": x, f"rate_{name}": np.asarray(data.rates_hz[name]),
                       f"channels_{name}": np.asarray(data.channels[name])})
    np.savez(path, **arrays)
    return Path(path)


def load_npz(path: Path, window: WindowOptions) -> WindowedData:
    """Load windows saved with ``np.savez``.

    Arrays: ``X_<modality>`` ``(N, T, C)`` for each modality; ``y`` ``(N,)`` int class indices
    or strings (``-1`` / ``""`` mark unlabelled windows, which are dropped); ``subject`` ``(N,)``;
    optional ``classes`` (names; for string ``y`` the default is the sorted unique labels, for
    int ``y`` ``"0" .. "max(y)"``), ``rate_<modality>`` (Hz, default 50.0) and
    ``channels_<modality>`` (``C`` names). The windows are already cut, so ``window.window_s``
    and ``window.overlap`` are ignored; ``window.rate_hz`` resamples every window.
    """
    arrays = read_npz(path)
    names = [k[2:] for k in arrays if k.startswith("X_")]
    if not names:
        raise DataFormatError(
            f"{path} has no X_<modality> array (found {sorted(arrays)}); save X_acc ... of shape (N, T, C)"
        )
    for key in ("y", "subject"):
        if key not in arrays:
            raise DataFormatError(f"{path} has no {key!r} array; add one value per window, shape (N,)")
    orphans = [k for k in arrays if re.match(r"(rate|channels)_", k) and k.partition("_")[2] not in names]
    if orphans:
        raise DataFormatError(f"{path}: {orphans[0]!r} has no matching X_ array; modalities are {names}")
    y, classes = _npz_labels(path, arrays["y"], arrays.get("classes"))
    subject = _npz_subjects(path, arrays["subject"], len(y))
    modalities, rates, channels = {}, {}, {}
    for name in names:
        x = arrays[f"X_{name}"]
        if x.ndim != 3 or x.shape[0] != len(y) or x.dtype.kind not in "iuf":
            raise DataFormatError(
                f"{path}: X_{name} has shape {x.shape} and dtype {x.dtype}; expected numbers of "
                f"shape (N={len(y)}, T, C), one window per label in y"
            )
        rate = np.asarray(arrays.get(f"rate_{name}", DEFAULT_RATE_HZ))
        if rate.size != 1 or rate.dtype.kind not in "iuf" or not 0 < rate.item() < np.inf:
            got = repr(plain(rate)) if rate.size == 1 else f"an array of shape {rate.shape}"
            raise DataFormatError(f"{path}: rate_{name} must be one positive number in Hz, but got {got}; save one "
                                  f"number, e.g. np.savez(..., rate_{name}=50.0)")
        rates[name] = float(rate.item())
        if f"channels_{name}" in arrays:
            channels[name] = [str(c) for c in arrays[f"channels_{name}"].ravel()]
            if len(channels[name]) != x.shape[2]:
                raise DataFormatError(f"{path}: channels_{name} has {len(channels[name])} names but X_{name} has "
                                      f"{x.shape[2]} channels; save one name per channel")
        if window.rate_hz and window.rate_hz != rates[name]:
            length = max(1, int(round(x.shape[1] * window.rate_hz / rates[name])))
            x, rates[name] = resample_to_length(x, length, axis=1), float(window.rate_hz)
        modalities[name] = x
    keep = y != IGNORED_LABEL
    if not keep.any():
        raise DataFormatError(f"{path} has no labelled window; y is all -1 or empty")
    try:
        kept = {k: v[keep] for k, v in modalities.items()}
        return WindowedData(kept, y[keep], subject[keep], classes, rates, channels)
    except DataFormatError as err:
        raise DataFormatError(f"{path}: {err}") from None


def _npz_labels(path: Path, y: np.ndarray, classes: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    """``y`` as int class indices (``IGNORED_LABEL`` for unlabelled) and the class names."""
    if y.ndim != 1 or len(y) == 0:
        raise DataFormatError(f"{path}: y has shape {y.shape}; expected (N,) with N > 0 windows")
    names = None if classes is None else [str(c) for c in np.asarray(classes).ravel()]
    if y.dtype.kind in "US":
        text = np.char.strip(y.astype(str))
        names = names if names is not None else sorted_class_names(set(text.tolist()) - {""})
        lookup = {c: i for i, c in enumerate(names)}
        unknown = sorted(set(text.tolist()) - set(lookup) - {""})
        if unknown:
            raise DataFormatError(f"{path}: labels {unknown[:5]} in y are not in classes {names}; add them")
        return np.array([lookup.get(t, IGNORED_LABEL) for t in text], dtype=np.int64), names
    y = _whole_numbers_as_int(y)
    if y.dtype.kind not in "iu":
        raise DataFormatError(f"{path}: y has dtype {y.dtype}; use int class indices or strings")
    y = y.astype(np.int64)
    if names is None:
        names = [str(i) for i in range(int(y.max()) + 1)]
    if y.min() < IGNORED_LABEL or y.max() >= len(names):
        raise DataFormatError(
            f"{path}: y has values {y.min()}..{y.max()} but there are {len(names)} classes; "
            f"use 0..{len(names) - 1} (or -1 for unlabelled windows) or fix the classes array"
        )
    return y, names


def _npz_subjects(path: Path, subject: np.ndarray, n: int) -> np.ndarray:
    subject = _whole_numbers_as_int(subject)
    if subject.shape != (n,) or subject.dtype.kind not in "iuUS":
        got = f"shape {subject.shape} and dtype {subject.dtype}"
        raise DataFormatError(f"{path}: subject has {got}; expected (N={n},) ints or strings")
    return subject.astype(np.int64) if subject.dtype.kind in "iu" else subject.astype(str)


def _whole_numbers_as_int(values: np.ndarray) -> np.ndarray:
    """Float arrays of whole numbers (e.g. saved from a float list) as int64; others unchanged."""
    if values.dtype.kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values


def sorted_class_names(labels: set[str]) -> list[str]:
    """Sorted label names; numerically when every label is an integer (so ``"2" < "10"``)."""
    if labels and all(re.fullmatch(r"-?\d+", s) for s in labels):
        return sorted(labels, key=int)
    return sorted(labels)


# ------------------------------------------------------------------------------ CSV folder
@dataclass
class _CsvTable:
    file: Path
    columns: list[str]  # channel columns, in file order
    values: np.ndarray  # (T, C) float32
    labels: list[str]  # "" = unlabelled
    subject: int | str
    rate_hz: float


def load_csv_folder(folder: Path, window: WindowOptions) -> WindowedData:
    """Load one recording per ``*.csv`` file (sorted by name) and cut it into windows.

    Columns: ``<modality>_<axis>`` channels (modality = text before the last underscore, e.g.
    ``acc_x``; every file needs the same ones), ``label`` (names or ints; empty = unlabelled),
    optional ``subject`` (one value per file; default: the file name without ``.csv``) and
    optional ``timestamp`` in seconds. Rate: ``1 / median(diff(timestamp))`` when there is a
    timestamp column, else ``window.rate_hz``, else 50 Hz. Windows are ``window.window_s``
    long (default 2 s) with ``window.overlap``; ``window.rate_hz`` resamples first.
    """
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise DatasetNotFoundError(f"folder {folder} has no *.csv file; put one recording per CSV file there")
    tables = [_read_csv(f, window.rate_hz or DEFAULT_RATE_HZ) for f in files]
    expected = tables[0].columns
    for table in tables[1:]:
        if set(table.columns) != set(expected):
            missing = [c for c in expected if c not in table.columns]
            extra = [c for c in table.columns if c not in expected]
            head = f"{table.file} has channel columns {table.columns} but {files[0].name} has {expected}"
            raise DataFormatError(f"{head} (missing {missing}, unexpected {extra}); make them match")
    classes = sorted_class_names({label for t in tables for label in t.labels} - {""})
    lookup = {c: i for i, c in enumerate(classes)}
    modalities: dict[str, list[str]] = {}  # modality -> its columns, in file order
    for column in expected:
        modalities.setdefault(column.rpartition("_")[0], []).append(column)
    recordings = []
    for t in tables:
        signals = {m: t.values[:, [t.columns.index(c) for c in cols]] for m, cols in modalities.items()}
        labels = np.array([lookup.get(s, IGNORED_LABEL) for s in t.labels], np.int64)
        recordings.append(Recording(signals, labels, t.rate_hz, t.subject, dict(modalities), str(t.file)))
    window_s = window.window_s or DEFAULT_WINDOW_S
    try:
        return windows_from_recordings(recordings, classes, window_s, window.overlap, window.rate_hz)
    except DataFormatError as err:
        raise DataFormatError(f"{folder}: {err}") from None


def _read_csv(file: Path, default_rate: float) -> _CsvTable:
    import pandas as pd  # deferred: slow to import; installed with mlflow

    try:
        with warnings.catch_warnings():  # rows longer than the header: an error, not shifted or cut columns
            warnings.simplefilter("error", pd.errors.ParserWarning)
            header = [str(c) for c in pd.read_csv(file, nrows=0, skipinitialspace=True).columns]
            as_text = {c: str for c in header if c.strip().lower() in ("label", "subject")}
            table = pd.read_csv(file, dtype=as_text, skipinitialspace=True, index_col=False)
    except (OSError, ValueError, pd.errors.ParserWarning) as err:
        raise DataFormatError(f"{file} is not a readable CSV file ({first_line(err)}); {_SEE_DOCS}") from None
    table.columns = [c.strip().lower() if c.strip().lower() in _RESERVED else c.strip() for c in header]
    twice = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if twice:
        raise DataFormatError(f"{file} has the column {twice[0]!r} twice (names ignore case and spaces for "
                              "label, subject, timestamp); give each column once")
    if "label" not in table.columns:
        msg = "add the activity of each row (empty for unlabelled rows)"
        raise DataFormatError(f"{file} has no 'label' column (columns: {list(table.columns)}); {msg}")
    if len(table) == 0:
        raise DataFormatError(f"{file} has a header but no rows; remove the file or add data")
    channels = [c for c in table.columns if c not in _RESERVED]
    for column in channels:
        if not all(column.rpartition("_")[::2]):
            raise DataFormatError(
                f"{file}: column {column!r} is not label, subject, timestamp or <modality>_<axis> "
                "(e.g. acc_x); rename or remove it"
            )
    if not channels:
        raise DataFormatError(f"{file} has no <modality>_<axis> channel column (e.g. acc_x); {_SEE_DOCS}")
    values = np.stack([numeric_column(file, table, c) for c in channels], axis=1).astype(np.float32)
    labels = table["label"].fillna("").astype(str).str.strip().tolist()
    rate = default_rate
    if "timestamp" in table.columns:
        rate = rate_from_timestamps(file, numeric_column(file, table, "timestamp"))
    return _CsvTable(file, channels, values, labels, _subject(file, table), rate)


def _subject(file: Path, table) -> int | str:
    """The file's single ``subject`` value (int when it looks like one), else the file stem."""
    if "subject" not in table.columns:
        return file.stem
    values = sorted(set(table["subject"].dropna().astype(str).str.strip()) - {""})
    if len(values) != 1:
        msg = "use one subject per file (split the file) or drop the column to use the file name"
        raise DataFormatError(f"{file}: subject column has {len(values)} distinct values {values[:5]}; {msg}")
    return int(values[0]) if re.fullmatch(r"-?\d+", values[0]) else values[0]


# ------------------------------------------------------------------------ registry entry
def _load_by_name(data_dir: Path | None, window: WindowOptions) -> WindowedData:
    raise ConfigError(
        "'custom' is not a dataset to load by name; pass the path instead, e.g. --dataset "
        f"path/to/file.npz or --dataset path/to/folder/ (a folder named custom: ./custom); {_SEE_DOCS}"
    )


_INFO = DatasetInfo(
    "custom", "your own data: --dataset path/to/file.npz or path/to/folder/ of CSV files", {}, {},
    expected_files="pass --dataset path/to/file.npz or path/to/folder/ (docs/custom-data.md)",
    needs_data_dir=False,
)
register_dataset(DatasetEntry(_INFO, _load_by_name, default_window_s=DEFAULT_WINDOW_S))
