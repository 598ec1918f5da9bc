"""PAMAP2 Physical Activity Monitoring, read from the publisher's ``.dat`` files.

Reiss, Stricker, "Introducing a New Benchmarked Dataset for Activity Monitoring", ISWC 2012
(UCI id 231). 9 subjects with three Colibri IMUs (hand, chest, ankle) at 100 Hz doing the
protocol's activities.

Layout: ``PAMAP2_Dataset/Protocol/subject101.dat`` ... ``subject109.dat`` (``Optional/`` is not
read: the paper uses the protocol sessions). Each line holds 54 space-separated numbers, ``NaN``
where missing: 0 timestamp (s), 1 activityID, 2 heart rate, then 17 columns per IMU for hand
(3-19), chest (20-36) and ankle (37-53); in a block at offset b: b+1..3 acc +-16 g (in m/s^2),
b+4..6 acc +-6 g (saturates; not read), b+7..9 gyro (rad/s), b+10..12 magnetometer, b+13..16
orientation (invalid).

Recordings are the contiguous runs of one activityID (activity 0, "transient", is dropped; a
timestamp jump > 0.1 s also ends a run). Within a run, NaN stretches (wireless drop-outs) of at
most 10 samples (0.1 s) in the IMU's 6 channels are interpolated linearly; longer stretches, and
those at a run's edges, are cut out, which splits the run (a warning counts the samples cut).
Every piece is resampled (polyphase) to ``rate_hz``, by default 50 Hz as the spec's §2 asks.
Variants = the IMU: ``ankle`` (default: the IMU the paper's code uses, spec §6 A3), ``chest``,
``hand``. Classes = the 18 activity names in activityID order; subjects 101-109.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.loaders._timeline import at_rate
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError, first_line

NATIVE_RATE_HZ = 100.0
RATE_HZ = 50.0  # windows come out at 50 Hz (spec §2) unless WindowOptions.rate_hz says otherwise
DEFAULT_WINDOW_S = 2.56  # 128 samples at 50 Hz
MAX_NAN_RUN = 10  # samples: longer NaN stretches are cut out instead of interpolated (spec §7.6)
N_COLUMNS = 54
ROOT = "PAMAP2_Dataset"
#: activityID -> class name, in id order
ACTIVITIES = {
    1: "lying", 2: "sitting", 3: "standing", 4: "walking", 5: "running", 6: "cycling", 7: "nordic_walking",
    9: "watching_tv", 10: "computer_work", 11: "car_driving", 12: "ascending_stairs", 13: "descending_stairs",
    16: "vacuum_cleaning", 17: "ironing", 18: "folding_laundry", 19: "house_cleaning", 20: "playing_soccer",
    24: "rope_jumping",
}
CLASSES = tuple(ACTIVITIES.values())
VARIANTS = ("ankle", "chest", "hand")
IMU_OFFSET = {"hand": 3, "chest": 20, "ankle": 37}
#: modality -> column offsets inside an IMU block
BLOCK_COLUMNS = {"acc": (1, 2, 3), "gyro": (7, 8, 9)}
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
SUBJECT_FILE = re.compile(r"^subject(\d+)\.dat$")


def imu_columns(position: str) -> list[int]:
    """0-based columns of acc16 xyz then gyro xyz of ``position`` (ankle: 38-40, 44-46)."""
    b = IMU_OFFSET[position]
    return [b + k for m in ("acc", "gyro") for k in BLOCK_COLUMNS[m]]


def read_table(path: Path) -> np.ndarray:
    """The ``(rows, 54)`` float table of one subject file."""
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.float64).to_numpy()
    except Exception as exc:  # text in a number column, empty file
        raise DataFormatError(
            f"cannot parse {path} ({first_line(exc)}); expected {N_COLUMNS} space-separated numbers per line"
        ) from exc
    if table.ndim != 2 or table.shape[1] != N_COLUMNS:
        raise DataFormatError(f"{path} has {table.shape[-1]} columns; expected {N_COLUMNS} "
                              "(timestamp, activityID, heart rate, 3 IMUs x 17); re-download the file")
    ids = table[:, 1]
    unknown = sorted(set(np.unique(ids[np.isfinite(ids)]).astype(int).tolist()) - set(ACTIVITIES) - {0})
    if unknown or not np.isfinite(ids).all():
        what = f"activityID {unknown[0]}" if unknown else "a missing activityID"
        raise DataFormatError(f"{path} has {what}; PAMAP2 ids are 0 and {', '.join(map(str, ACTIVITIES))}")
    return table


def fill_short_gaps(x: np.ndarray, max_run: int = MAX_NAN_RUN) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate NaN stretches of at most ``max_run`` rows that have valid rows on both sides.

    Returns:
        ``(filled, keep)``: ``x`` with those rows filled, and a mask of the rows that are now
        finite (rows of longer or edge stretches stay NaN and ``keep`` is False there).
    """
    bad = ~np.isfinite(x).all(axis=1)
    if not bad.any():
        return x, ~bad
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.astype(np.int8), [0]])))
    good = np.flatnonzero(~bad)
    filled = x.copy()
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start <= max_run and start > 0 and end < len(x):
            rows = np.arange(start, end)
            for c in range(x.shape[1]):
                filled[rows, c] = np.interp(rows, good, x[good, c])
    return filled, np.isfinite(filled).all(axis=1)


def pieces(keep: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` ranges where ``keep`` is True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def read_recordings(path: Path, position: str, subject: int, rate_hz: float = RATE_HZ) -> tuple[list[Recording], int]:
    """Recordings at ``rate_hz`` (runs of one activity, NaN-free) of one subject file, and the number of samples cut."""
    table = read_table(path)
    ids, t = table[:, 1].astype(np.int64), table[:, 0]
    breaks = np.flatnonzero((ids[1:] != ids[:-1]) | (np.abs(np.diff(t)) > MAX_NAN_RUN / NATIVE_RATE_HZ + 1e-6)) + 1
    edges = np.concatenate([[0], breaks, [len(ids)]])
    label_of = {aid: i for i, aid in enumerate(ACTIVITIES)}
    columns = imu_columns(position)
    recordings, cut = [], 0
    for a, b in zip(edges[:-1], edges[1:]):
        if ids[a] == 0:
            continue
        x, keep = fill_short_gaps(table[a:b, columns])
        cut += int((~keep).sum())
        for p, q in pieces(keep):
            signals = at_rate({"acc": x[p:q, :3], "gyro": x[p:q, 3:]}, NATIVE_RATE_HZ, rate_hz)
            recordings.append(Recording(
                signals=signals, labels=np.full(len(signals["acc"]), label_of[int(ids[a])], dtype=np.int64),
                rate_hz=rate_hz,
                subject=subject, channels={m: list(c) for m, c in CHANNELS.items()},
                source=f"{path.name}[{a + p}:{a + q}] {position}",
            ))
    return recordings, cut


def subject_files(folder: Path) -> list[tuple[int, Path]]:
    protocol = folder / ROOT / "Protocol"
    found = [(int(m.group(1)), p) for p in protocol.glob("subject*.dat") if (m := SUBJECT_FILE.match(p.name))]
    return sorted(found)


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load the PAMAP2 protocol sessions of one IMU as acc+gyro windows.

    Args:
        folder: the folder holding ``PAMAP2_Dataset/Protocol/``.
        window: window length (default 2.56 s), overlap, rate (default 50 Hz, from the native 100 Hz).
        variant: the IMU, ``ankle`` (default), ``chest`` or ``hand``.

    Returns:
        Modalities ``acc`` (+-16 g sensor, m/s^2, with gravity) and ``gyro`` (rad/s); 18 classes;
        subjects 101-109.
    """
    files = subject_files(folder) if folder is not None else []
    if not files:
        raise DatasetNotFoundError(f"dataset 'pamap2': no {ROOT}/Protocol/subject<N>.dat in {folder}; "
                                   f"expected {INFO.expected_files}")
    recordings, cut, rate = [], 0, window.rate_hz or RATE_HZ
    for subject, path in files:
        found, n_cut = read_recordings(path, variant, subject, rate)
        recordings += found
        cut += n_cut
    if cut:
        warnings.warn(f"pamap2:{variant}: cut {cut} samples out of NaN stretches longer than {MAX_NAN_RUN} "
                      "samples (IMU drop-outs); windows do not span them", stacklevel=2)
    return windows_from_recordings(recordings, CLASSES, window_s=window.window_s or DEFAULT_WINDOW_S,
                                   overlap=window.overlap, rate_hz=rate)


INFO = DatasetInfo(
    name="pamap2",
    description=(
        "PAMAP2: 9 subjects, 18 protocol activities, hand/chest/ankle IMUs (variants), acc+gyro "
        "(100 Hz, resampled to 50 Hz)"
    ),
    modalities=CHANNELS,
    rates_hz={"acc": NATIVE_RATE_HZ, "gyro": NATIVE_RATE_HZ},
    classes=CLASSES,
    n_subjects=9,
    expected_files=(
        f"{ROOT}/Protocol/subject101.dat ... subject109.dat (54 space-separated columns) as in the UCI release"
    ),
    needs_data_dir=True,
    citation="Reiss, Stricker, Introducing a New Benchmarked Dataset for Activity Monitoring, ISWC 2012",
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, variants=VARIANTS,
        required=(f"{ROOT}/Protocol/subject*.dat",),
    )
)
