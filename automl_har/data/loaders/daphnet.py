"""Daphnet Freezing of Gait, read from the publisher's ``SxxRyy.txt`` files.

Baechlin, Plotnik, Roggen, Maidan, Hausdorff, Giladi, Troester, "Wearable Assistant for
Parkinson's Disease Patients With the Freezing of Gait Symptom", IEEE Transactions on
Information Technology in Biomedicine 14(2), 2010, pp. 436-446.

Each file is one recording of one patient: space-separated rows at 64 Hz with 11 columns,
time (ms), ankle / thigh / trunk acceleration x y z (mg, kept as published), and the
annotation (0 = not part of the experiment, 1 = no freeze, 2 = freeze). Annotation 0 becomes
:data:`IGNORED_LABEL`, so windows that are mostly outside the experiment are dropped.

The default window is 4 s (256 samples) because Baechlin et al. detect freezing of gait on
4 s windows (their freeze index is computed over 4 s of acceleration).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from automl_har.data._types import IGNORED_LABEL, DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 64.0
DEFAULT_WINDOW_S = 4.0
N_COLUMNS = 11
CLASSES = ("no_freeze", "freeze")
SENSORS = ("ankle", "thigh", "trunk")  # columns 1-3, 4-6, 7-9
CHANNELS = {sensor: tuple(f"{sensor}_{axis}" for axis in "xyz") for sensor in SENSORS}
#: annotation value (0, 1, 2) -> class index
ANNOTATION_TO_LABEL = np.array([IGNORED_LABEL, 0, 1], dtype=np.int64)
FILE_NAME = re.compile(r"^S(\d+)R(\d+)\.txt$")


def recording_files(folder: Path) -> list[Path]:
    """``SxxRyy.txt`` files in ``folder/dataset/`` (the publisher's layout), else in ``folder``."""
    for candidates in (folder.glob("dataset/S*R*.txt"), folder.glob("S*R*.txt")):
        files = sorted((p for p in candidates if FILE_NAME.match(p.name)), key=lambda p: p.name)
        if files:
            return files
    return []


def read_table(path: Path) -> np.ndarray:
    """The ``(rows, 11)`` float table of one file (pandas' C parser when available: ~4x faster)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with mlflow
        pd = None
    try:
        if pd is not None:
            table = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.float64).to_numpy()
        else:  # pragma: no cover
            table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except Exception as exc:  # parser errors, non-numeric text, empty file
        raise DataFormatError(
            f"cannot parse {path} ({str(exc).strip()}); expected {N_COLUMNS} space-separated numbers per line"
        ) from exc
    if table.ndim != 2 or table.shape[1] != N_COLUMNS:
        raise DataFormatError(
            f"{path} has {table.shape[-1]} columns in its {len(table)} lines; expected {N_COLUMNS} "
            "(time, ankle xyz, thigh xyz, trunk xyz, annotation)"
        )
    bad_rows = np.flatnonzero(~np.isfinite(table).all(axis=1))
    if len(bad_rows):
        raise DataFormatError(
            f"{path} has missing or NaN values in {len(bad_rows)} of {len(table)} lines "
            f"(first at line {bad_rows[0] + 1}); fix or re-download the file"
        )
    return table


def read_recording(path: Path) -> Recording:
    """One :class:`Recording` (modalities ankle, thigh, trunk) from one ``SxxRyy.txt`` file."""
    match = FILE_NAME.match(path.name)
    if match is None:
        raise DataFormatError(f"{path.name} is not named SxxRyy.txt; rename it, e.g. S01R02.txt")
    table = read_table(path)
    annotation = table[:, 10]
    if not np.isin(annotation, (0, 1, 2)).all():
        bad = np.unique(annotation[~np.isin(annotation, (0, 1, 2))])
        raise DataFormatError(
            f"{path} has annotation values {bad[:5].tolist()} in column 11; expected 0, 1 or 2"
        )
    signals = {sensor: table[:, 1 + 3 * i : 4 + 3 * i].astype(np.float32) for i, sensor in enumerate(SENSORS)}
    return Recording(
        signals=signals,
        labels=ANNOTATION_TO_LABEL[annotation.astype(np.int64)],
        rate_hz=RATE_HZ,
        subject=int(match.group(1)),
        channels={sensor: list(names) for sensor, names in CHANNELS.items()},
        source=str(path),
    )


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load every ``SxxRyy.txt`` recording of a Daphnet folder as windows.

    Args:
        folder: the release folder (with ``dataset/``) or the folder holding the ``.txt`` files.
        window: window length (default 4 s = 256 samples), overlap, optional resampling rate.

    Returns:
        Modalities ``ankle``, ``thigh``, ``trunk`` (3 channels each, mg); classes
        ``no_freeze`` and ``freeze``; subject = patient id (S01R02 -> 1). Windows whose
        majority annotation is 0 (outside the experiment) are dropped.
    """
    files = recording_files(folder) if folder is not None else []
    if not files:
        raise DatasetNotFoundError(
            f"dataset 'daphnet': no SxxRyy.txt file in {folder} or {folder}/dataset; expected {INFO.expected_files}"
        )
    return windows_from_recordings(
        [read_recording(path) for path in files],
        CLASSES,
        window_s=window.window_s or DEFAULT_WINDOW_S,
        overlap=window.overlap,
        rate_hz=window.rate_hz,
    )


INFO = DatasetInfo(
    name="daphnet",
    description="Daphnet Freezing of Gait: Parkinson's patients, ankle/thigh/trunk accelerometers (64 Hz), freeze vs no freeze",
    modalities=CHANNELS,
    rates_hz={sensor: RATE_HZ for sensor in SENSORS},
    classes=CLASSES,
    n_subjects=10,
    expected_files=(
        "dataset/SxxRyy.txt files (11 space-separated columns: time ms, ankle/thigh/trunk acc xyz mg, "
        "annotation 0/1/2) as in the Daphnet release"
    ),
    needs_data_dir=True,
    citation=(
        "Baechlin et al., Wearable Assistant for Parkinson's Disease Patients With the Freezing of Gait "
        "Symptom, IEEE Trans. Inf. Technol. Biomed. 14(2), 2010"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, required=("dataset/S*R*.txt",))
)
