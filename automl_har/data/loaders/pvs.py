"""Passive Vehicular Sensors (PVS), read from the publisher's CSV files.

Menegazzo, von Wangenheim, "Multi-contextual and multi-aspect analysis for road surface type
classification through inertial sensors and deep learning", SBESC 2020 (dataset: "PVS -
Passive Vehicular Sensors Datasets", 2020). Used by IMG2IMU (Yoon et al.) for roadway type.

Layout: folders ``PVS 1`` ... ``PVS 9``; three vehicles with their drivers, three recordings
each (``PVS 1-3`` vehicle 1, ``4-6`` vehicle 2, ``7-9`` vehicle 3), so subject = vehicle. Per
folder, ``dataset_gps_mpu_left.csv`` / ``dataset_gps_mpu_right.csv`` (100 Hz, one row per sample:
``timestamp``, ``acc_{x,y,z}_{dashboard,above_suspension,below_suspension}``, gyro/mag/temp
columns, ``latitude``, ``longitude``, ``speed`` ...) and ``dataset_labels.csv`` (one row per
sample, one-hot columns incl. ``asphalt_road``, ``dirt_road``, ``cobblestone_road``).

Task: roadway type {asphalt, dirt, cobblestone}; samples with none of the three are ignored.
Modalities: the accelerometer of every placement and side, ``acc_<placement>_<side>`` (3
channels each, m/s^2), dashboard-left first: IMG2IMU's default sensor placement.
Columns are read by name. Defaults: resampled to 50 Hz (IMG2IMU's rate) and 5 s windows: the
dataset's publication fixes no window length for this task, so the 5 s fallback of IMG2IMU's
2/5/10 s choices is used; override with ``--rate`` / ``--window-s``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from automl_har.data._types import IGNORED_LABEL, DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 100.0
DEFAULT_RATE_HZ = 50.0
DEFAULT_WINDOW_S = 5.0
CLASSES = ("asphalt", "dirt", "cobblestone")
LABEL_COLUMNS = ("asphalt_road", "dirt_road", "cobblestone_road")
PLACEMENTS = ("dashboard", "above_suspension", "below_suspension")
SIDES = ("left", "right")
#: modality -> (side, placement); dashboard-left first (the default tri-axial sensor)
MODALITIES = {f"acc_{p}_{s}": (s, p) for s in SIDES for p in PLACEMENTS}
CHANNELS = {m: tuple(f"acc_{axis}_{p}_{s}" for axis in "xyz") for m, (s, p) in MODALITIES.items()}
FOLDER_NAME = re.compile(r"^PVS (\d+)$")


def recording_folders(root: Path) -> list[Path]:
    """``PVS n`` folders of ``root`` in numeric order."""
    folders = [p for p in root.iterdir() if p.is_dir() and FOLDER_NAME.match(p.name)] if root.is_dir() else []
    return sorted(folders, key=lambda p: int(FOLDER_NAME.match(p.name).group(1)))


def read_columns(path: Path, columns) -> np.ndarray:
    """The named ``columns`` of a CSV file as a float array; a clear error when one is missing."""
    import pandas as pd

    if not path.is_file():
        raise DatasetNotFoundError(f"PVS file {path} is missing; each 'PVS n' folder needs it")
    header = list(pd.read_csv(path, nrows=0).columns)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataFormatError(
            f"{path} has no column(s) {missing}; columns found: {', '.join(header)}"
        )
    table = pd.read_csv(path, usecols=list(columns))[list(columns)].to_numpy(np.float64)
    if not np.isfinite(table).all():
        rows = np.flatnonzero(~np.isfinite(table).all(axis=1))
        raise DataFormatError(f"{path} has missing or non-numeric values in {len(rows)} rows (first data row {rows[0] + 1})")
    return table


def labels_from_one_hot(one_hot: np.ndarray) -> np.ndarray:
    """Class index of each row of the (asphalt, dirt, cobblestone) columns; ignored when not one-hot."""
    labels = np.full(len(one_hot), IGNORED_LABEL, dtype=np.int64)
    single = (one_hot == 1).sum(axis=1) == 1
    labels[single] = np.argmax(one_hot[single] == 1, axis=1)
    return labels


def read_recording(folder: Path) -> Recording:
    """One recording (both sides, every placement) of a ``PVS n`` folder; subject = vehicle."""
    number = int(FOLDER_NAME.match(folder.name).group(1))
    labels = labels_from_one_hot(read_columns(folder / "dataset_labels.csv", LABEL_COLUMNS))
    signals = {}
    for side in SIDES:
        names = [m for m, (s, _) in MODALITIES.items() if s == side]
        file_columns = [f"acc_{axis}_{MODALITIES[m][1]}" for m in names for axis in "xyz"]  # acc_x_dashboard ...
        table = read_columns(folder / f"dataset_gps_mpu_{side}.csv", file_columns)
        for i, name in enumerate(names):
            signals[name] = table[:, 3 * i : 3 * i + 3].astype(np.float32)
    lengths = {len(labels), *(len(x) for x in signals.values())}
    if len(lengths) > 1:  # same 100 Hz clock; trailing rows of one device are dropped
        n = min(lengths)
        warnings.warn(f"{folder}: files have {sorted(lengths)} rows; using the first {n} of each", stacklevel=2)
        labels, signals = labels[:n], {k: v[:n] for k, v in signals.items()}
    return Recording(
        signals=signals, labels=labels, rate_hz=RATE_HZ, subject=(number - 1) // 3 + 1,
        channels={m: list(c) for m, c in CHANNELS.items()}, source=str(folder),
    )


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load every ``PVS n`` folder as windows.

    Args:
        folder: the release folder holding ``PVS 1`` ... ``PVS 9``.
        window: window length (default 5 s), overlap, rate (default 50 Hz).

    Returns:
        Six tri-axial modalities ``acc_<placement>_<side>``; classes asphalt, dirt, cobblestone;
        subject = vehicle 1, 2 or 3.
    """
    folders = recording_folders(folder) if folder is not None else []
    if not folders:
        raise DatasetNotFoundError(f"dataset 'pvs': no 'PVS n' folder in {folder}; expected {INFO.expected_files}")
    return windows_from_recordings(
        [read_recording(path) for path in folders], CLASSES,
        window_s=window.window_s or DEFAULT_WINDOW_S, overlap=window.overlap,
        rate_hz=window.rate_hz or DEFAULT_RATE_HZ,
    )


INFO = DatasetInfo(
    name="pvs",
    description="Passive Vehicular Sensors: road surface type (asphalt/dirt/cobblestone) from car accelerometers, 3 vehicles",
    modalities=CHANNELS,
    rates_hz={m: RATE_HZ for m in MODALITIES},
    classes=CLASSES,
    n_subjects=3,
    expected_files=(
        "folders 'PVS 1' ... 'PVS 9', each with dataset_gps_mpu_left.csv, dataset_gps_mpu_right.csv "
        "(100 Hz, acc_x_dashboard ... columns) and dataset_labels.csv (asphalt_road, dirt_road, cobblestone_road ...)"
    ),
    needs_data_dir=True,
    citation=(
        "Menegazzo and von Wangenheim, Multi-contextual and multi-aspect analysis for road surface type "
        "classification through inertial sensors and deep learning, SBESC 2020"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, required=("PVS */dataset_labels.csv",))
)
