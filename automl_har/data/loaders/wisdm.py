"""WISDM activity prediction v1.1, read from the publisher's ``WISDM_ar_v1.1_raw.txt``.

Kwapisz, Weiss, Moore, "Activity Recognition using Cell Phone Accelerometers", SIGKDD
Explorations 12(2), 2011. 36 users, 6 activities, a phone in the front trouser pocket, tri-axial
accelerometer at 20 Hz. Records are ``user,activity,timestamp,x,y,z;`` (one per line in most of
the file). The real file has malformed records (missing values, two records on one line, empty
fields): every ``;``/newline-separated record that does not parse is skipped and counted (a
warning reports the count), never fatal.

Consecutive records of the same user and activity form one recording. Defaults: resampled to
50 Hz (IMG2IMU's rate) and 10 s windows, the example duration of Kwapisz et al. (Sec. 2.2).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 20.0
DEFAULT_RATE_HZ = 50.0
DEFAULT_WINDOW_S = 10.0
FILE_NAME = "WISDM_ar_v1.1_raw.txt"
CLASSES = ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z")}
_RECORD_SEPARATOR = re.compile(r"[;\r\n]+")


@dataclass
class ParsedRecords:
    """Valid records of the raw file, in file order, and how many were skipped."""

    user: np.ndarray  # (n,) int
    activity: np.ndarray  # (n,) class index
    xyz: np.ndarray  # (n, 3) float32
    skipped: int
    total: int


def find_raw_file(folder: Path) -> Path:
    """``folder/WISDM_ar_v1.1_raw.txt`` (the release's ``WISDM_ar_v1.1/`` folder is the data folder)."""
    path = folder / FILE_NAME
    if not path.is_file():
        raise DatasetNotFoundError(f"dataset 'wisdm': no {FILE_NAME} in {folder}; pass --data-dir of the unpacked WISDM_ar_v1.1 folder")
    return path


def parse_record(text: str) -> tuple[int, int, float, float, float] | None:
    """``(user, class, x, y, z)`` of one ``user,activity,timestamp,x,y,z`` record, or None."""
    fields = [f.strip() for f in text.strip().rstrip(",").split(",")]
    if len(fields) != 6 or fields[1] not in CLASSES:
        return None
    try:
        user, _ = int(fields[0]), int(fields[2])
        x, y, z = float(fields[3]), float(fields[4]), float(fields[5])
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (x, y, z)):
        return None
    return user, CLASSES.index(fields[1]), x, y, z


def parse_raw(text: str) -> ParsedRecords:
    """Parse the whole file; malformed records are counted in ``skipped``."""
    users, activities, xyz, skipped, total = [], [], [], 0, 0
    for record in _RECORD_SEPARATOR.split(text):
        if not record.strip():
            continue
        total += 1
        parsed = parse_record(record)
        if parsed is None:
            skipped += 1
            continue
        users.append(parsed[0])
        activities.append(parsed[1])
        xyz.append(parsed[2:])
    return ParsedRecords(np.asarray(users, np.int64), np.asarray(activities, np.int64),
                         np.asarray(xyz, np.float32).reshape(-1, 3), skipped, total)


def recordings_from_records(records: ParsedRecords, source: str) -> list[Recording]:
    """One :class:`Recording` per run of consecutive records with the same user and activity."""
    n = len(records.user)
    if n == 0:
        return []
    change = np.flatnonzero((np.diff(records.user) != 0) | (np.diff(records.activity) != 0)) + 1
    bounds = np.concatenate([[0], change, [n]])
    return [
        Recording(
            signals={"acc": records.xyz[a:b]}, labels=records.activity[a:b], rate_hz=RATE_HZ,
            subject=int(records.user[a]), channels={"acc": list(CHANNELS["acc"])}, source=f"{source}[{a}:{b}]",
        )
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load WISDM v1.1 as windows.

    Args:
        folder: folder holding ``WISDM_ar_v1.1_raw.txt`` (the unpacked ``WISDM_ar_v1.1/``).
        window: window length (default 10 s), overlap, rate (default 50 Hz).

    Returns:
        Modality ``acc`` (3 channels, m/s^2), 6 activities, subject = user id 1-36.
    """
    if folder is None:
        raise DatasetNotFoundError(f"dataset 'wisdm' needs --data-dir with {INFO.expected_files}")
    path = find_raw_file(folder)
    records = parse_raw(path.read_text(errors="replace"))
    if records.skipped:
        warnings.warn(f"{path.name}: skipped {records.skipped} malformed of {records.total} records", stacklevel=2)
    if len(records.user) == 0:
        raise DataFormatError(f"{path} has no valid 'user,activity,timestamp,x,y,z;' record; re-download the file")
    return windows_from_recordings(
        recordings_from_records(records, path.name), CLASSES,
        window_s=window.window_s or DEFAULT_WINDOW_S, overlap=window.overlap,
        rate_hz=window.rate_hz or DEFAULT_RATE_HZ,
    )


INFO = DatasetInfo(
    name="wisdm",
    description="WISDM v1.1: 6 activities from a pocket phone accelerometer (20 Hz), 36 users",
    modalities=CHANNELS,
    rates_hz={"acc": RATE_HZ},
    classes=CLASSES,
    n_subjects=36,
    expected_files=f"{FILE_NAME} (lines 'user,activity,timestamp,x,y,z;') from the WISDM v1.1 release",
    needs_data_dir=True,
    citation="Kwapisz, Weiss, Moore, Activity Recognition using Cell Phone Accelerometers, SIGKDD Explorations 12(2), 2011",
)

ENTRY = register_dataset(DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, required=(FILE_NAME,)))
