"""Heterogeneity Activity Recognition (HHAR), read from the publisher's CSV files.

Stisen, Blunck, Bhattacharya, Prentow, Kjaergaard, Dey, Sonne, Jensen, "Smart Devices are
Different: Assessing and Mitigating Mobile Sensing Heterogeneities for Activity Recognition",
SenSys 2015 (UCI id 344). 9 users (a-i), 6 activities, 8 phones carried at the waist in a tight
pouch and 4 smartwatches, each device recording acc and gyro at its own (irregular) rate.

Layout: ``Activity recognition exp/{Phones,Watch}_{accelerometer,gyroscope}.csv`` with the header
``Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt``; ``Creation_Time`` is the sensor
clock in ns, x/y/z are m/s^2 (acc) or rad/s (gyro), ``gt`` is the activity or ``null``.

Per (User, Device), acc and gyro are aligned by ``Creation_Time`` (not by row index: the authors'
code pairs gyro rows with acc row indices, spec §6 A19): each is split at ``gt`` changes and at
gaps > 0.5 s, the spans both cover with one activity are interpolated linearly onto a uniform
grid at the device model's nominal rate, then resampled (polyphase, anti-aliased) to
``rate_hz`` (default 50 Hz). ``gt = null`` spans are dropped. Variants: ``phones`` (default, the
waist position the paper uses) and ``watches``. Subjects: a..i -> 1..9. The device is kept in
each recording's ``source`` (not as a modality).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from automl_har.data._types import IGNORED_LABEL, DatasetInfo, Recording, WindowedData
from automl_har.data.loaders._timeline import Stream, aligned_segments, at_rate, estimate_rate
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError, first_line

RATE_HZ = 50.0  # the rate windows come out at unless WindowOptions.rate_hz says otherwise
DEFAULT_WINDOW_S = 2.56  # 128 samples at 50 Hz, spec §2
MAX_GAP_S = 0.5  # a longer pause between two events of one sensor ends a segment (spec §7.6, guess)
ROOT = "Activity recognition exp"
CLASSES = ("stand", "sit", "walk", "stairsup", "stairsdown", "bike")
USERS = "abcdefghi"  # subject id = position + 1
VARIANTS = ("phones", "watches")
#: variant -> file prefix
FILE_PREFIX = {"phones": "Phones", "watches": "Watch"}
SENSOR_FILES = {"acc": "accelerometer", "gyro": "gyroscope"}
#: nominal maximum rates (Stisen et al.; the watches' are a guess); other models: measured
NOMINAL_RATE_HZ = {"nexus4": 200.0, "s3": 150.0, "s3mini": 100.0, "samsungold": 50.0, "lgwatch": 200.0, "gear": 100.0}
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
COLUMNS = ["Creation_Time", "x", "y", "z", "User", "Device", "gt"]
HEADER = "Index,Arrival_Time,Creation_Time,x,y,z,User,Model,Device,gt"


def sensor_file(folder: Path, variant: str, sensor: str) -> Path:
    return folder / ROOT / f"{FILE_PREFIX[variant]}_{SENSOR_FILES[sensor]}.csv"


def read_sensor_file(path: Path) -> pd.DataFrame:
    """The used columns of one CSV, ``gt`` as class index (:data:`IGNORED_LABEL` for null)."""
    if not path.is_file():
        raise DatasetNotFoundError(f"hhar: {path} is missing; unpack the UCI archive so that '{ROOT}/' holds it")
    try:
        table = pd.read_csv(
            path, usecols=COLUMNS,
            dtype={"Creation_Time": np.int64, "x": np.float32, "y": np.float32, "z": np.float32,
                   "User": "category", "Device": "category", "gt": "category"},
        )
    except Exception as exc:  # missing columns, non-numeric values, truncated file
        raise DataFormatError(
            f"cannot read {path} ({first_line(exc)}); expected the header {HEADER} and numeric x, y, z, Creation_Time"
        ) from exc
    # categories = the distinct values read (iterating 13 M rows would take seconds)
    unknown = sorted({str(c) for c in table["gt"].cat.categories} - set(CLASSES) - {"null"})
    if unknown:
        raise DataFormatError(f"{path}: unknown gt value {unknown[0]!r}; expected one of {', '.join(CLASSES)} or null")
    bad_users = sorted({str(c) for c in table["User"].cat.categories} - set(USERS))
    if bad_users:
        raise DataFormatError(f"{path}: unknown User {bad_users[0]!r}; HHAR users are a..i")
    codes = {name: i for i, name in enumerate(CLASSES)}
    # one lookup per category (~13 M rows per phone file); category code -1 (null/NaN) -> the last entry
    lookup = np.array([codes.get(str(c), IGNORED_LABEL) for c in table["gt"].cat.categories] + [IGNORED_LABEL])
    table["label"] = lookup[table["gt"].cat.codes.to_numpy()].astype(np.int64)
    return table.drop(columns="gt")


def _groups(table: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    return {(str(u), str(d)): idx for (u, d), idx in table.groupby(["User", "Device"], observed=True).indices.items()}


def device_model(device: str) -> str:
    """``nexus4_1`` -> ``nexus4``."""
    return device.rsplit("_", 1)[0]


def read_recordings(folder: Path, variant: str, rate_hz: float = RATE_HZ) -> list[Recording]:
    """One :class:`Recording` at ``rate_hz`` per aligned acc+gyro segment of every (user, device) of ``variant``."""
    tables = {sensor: read_sensor_file(sensor_file(folder, variant, sensor)) for sensor in SENSOR_FILES}
    groups = {sensor: _groups(t) for sensor, t in tables.items()}
    recordings, unpaired = [], []
    for user, device in sorted(groups["acc"].keys() | groups["gyro"].keys()):
        if not all((user, device) in g for g in groups.values()):
            unpaired.append(f"{user}/{device}")
            continue
        rows = {sensor: tables[sensor].iloc[groups[sensor][(user, device)]] for sensor in SENSOR_FILES}
        t0 = min(int(r["Creation_Time"].min()) for r in rows.values())  # int64 ns, before going to float s
        streams = {
            sensor: Stream((r["Creation_Time"].to_numpy(np.int64) - t0) * 1e-9,
                           r[["x", "y", "z"]].to_numpy(np.float64), r["label"].to_numpy(np.int64))
            for sensor, r in rows.items()
        }
        model = device_model(device)
        rate = NOMINAL_RATE_HZ.get(model) or estimate_rate(streams["acc"].t)
        segments = aligned_segments(streams, rate, MAX_GAP_S) if rate else []
        if not segments:
            unpaired.append(f"{user}/{device}")
        for k, seg in enumerate(segments):
            signals = at_rate(seg.signals, rate, rate_hz)
            recordings.append(Recording(
                signals=signals, labels=np.full(len(signals["acc"]), seg.label, dtype=np.int64), rate_hz=rate_hz,
                subject=USERS.index(user) + 1, channels={m: list(c) for m, c in CHANNELS.items()},
                source=f"{FILE_PREFIX[variant]}_*.csv user={user} device={device} model={model} segment={k}",
            ))
    if unpaired:
        warnings.warn(f"hhar:{variant}: no acc and gyro in the same time span for {len(unpaired)} user/device "
                      f"pairs ({', '.join(unpaired[:4])}{' ...' if len(unpaired) > 4 else ''}); skipped them",
                      stacklevel=3)
    return recordings


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load HHAR as windows of acc+gyro, aligned by timestamp.

    Args:
        folder: the folder holding ``Activity recognition exp/``.
        window: window length (default 2.56 s), overlap, rate (default 50 Hz: the devices differ).
        variant: ``phones`` (waist, default) or ``watches`` (wrist).

    Returns:
        Modalities ``acc`` (m/s^2, with gravity) and ``gyro`` (rad/s); 6 classes; subjects 1-9 (a-i).
    """
    if folder is None or not (folder / ROOT).is_dir():
        raise DatasetNotFoundError(f"dataset 'hhar': no folder '{ROOT}' in {folder}; expected {INFO.expected_files}")
    rate = window.rate_hz or RATE_HZ
    return windows_from_recordings(
        read_recordings(folder, variant, rate), CLASSES, window_s=window.window_s or DEFAULT_WINDOW_S,
        overlap=window.overlap, rate_hz=rate,
    )


INFO = DatasetInfo(
    name="hhar",
    description="HHAR: 9 users, 6 activities, 8 waist phones or 4 watches, acc+gyro (50-200 Hz, resampled to 50 Hz)",
    modalities=CHANNELS,
    rates_hz={"acc": RATE_HZ, "gyro": RATE_HZ},
    classes=CLASSES,
    n_subjects=9,
    expected_files=(
        f"'{ROOT}/Phones_accelerometer.csv' and 'Phones_gyroscope.csv' (Watch_*.csv for hhar:watches), "
        f"header {HEADER}, as in the UCI release"
    ),
    needs_data_dir=True,
    citation=(
        "Stisen et al., Smart Devices are Different: Assessing and Mitigating Mobile Sensing Heterogeneities "
        "for Activity Recognition, SenSys 2015"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, variants=VARIANTS,
        required=(f"{ROOT}/Phones_accelerometer.csv", f"{ROOT}/Phones_gyroscope.csv"),
    )
)
