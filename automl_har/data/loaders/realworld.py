"""RealWorld HAR (2016), read from the publisher's per-proband zip files.

Sztyler, Stuckenschmidt, "On-body Localization of Wearable Devices: An Investigation of
Position-Aware Activity Recognition", PerCom 2016. 15 probands, 8 activities, 7 body positions
(Samsung Galaxy S4 phones; an LG G Watch R on the forearm), acc, gyro, mag ... at about 50 Hz.

Layout: ``proband<N>/data/{acc,gyr}_<activity>_csv.zip`` (``mag``, ``lig``, ``mic``, ``gps`` and
the ``_sqlite.zip`` copies are not read). Inside, ``acc_<activity>_<position>.csv`` and
``Gyroscope_<activity>_<position>.csv`` with the header ``id,attr_time,attr_x,attr_y,attr_z``
(``attr_time`` ms since the epoch; m/s^2 and rad/s, irregular ticks). Quirks handled:

* zip-in-zip: some recordings (probands 4, 7, 14 climbing) are split into parts, each an inner
  zip (``acc_climbingdown_2_csv.zip`` ...) holding ``acc_climbingdown_2_<position>.csv``; zips are
  opened recursively and any ``_<k>`` part number is accepted in a CSV name;
* "anomalous" names ``acc_sitting_2_waist.csv`` with no part 1, and parts whose acc and gyro files
  are numbered differently: acc and gyro are paired *by time*, not by name. Every acc part is
  aligned with the gyro events over the span both cover (a 20 ms grid, linear interpolation, a
  gap > 10 samples splits), so each part becomes its own recording(s);
* missing files (proband2 climbingup forearm, proband6 jumping thigh): skipped with a warning.

Variants = the position (``waist`` first, the paper's). Subject = proband number; label = activity.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.loaders._timeline import Stream, aligned_segments, at_rate
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError, first_line

RATE_HZ = 50.0  # the release's nominal rate: a 20 ms grid
DEFAULT_WINDOW_S = 2.56  # 128 samples, spec §2
MAX_GAP_S = 10 / RATE_HZ  # interpolate over at most 10 missing samples, else split (spec §7.6)
CLASSES = ("climbingdown", "climbingup", "jumping", "lying", "running", "sitting", "standing", "walking")
VARIANTS = ("waist", "chest", "forearm", "head", "shin", "thigh", "upperarm")
#: modality -> (zip prefix, CSV prefix)
SENSORS = {"acc": ("acc", "acc"), "gyro": ("gyr", "Gyroscope")}
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
CSV_NAME = re.compile(
    rf"^(acc|Gyroscope)_({'|'.join(CLASSES)})(?:_(\d+))?_({'|'.join(VARIANTS)})\.csv$"
)
PROBAND = re.compile(r"^proband(\d+)$")
VALUE_COLUMNS = ["attr_time", "attr_x", "attr_y", "attr_z"]


def read_parts(path: Path, position: str) -> list[tuple[int, str, pd.DataFrame]]:
    """``(part, path, table)`` of every CSV of ``position`` in the zip ``path`` (recursively)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_matching(archive, str(path), position)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(f"cannot open {path} ({first_line(exc)}); re-download the release") from exc


def _read_matching(archive: zipfile.ZipFile, where: str, position: str) -> list[tuple[int, str, pd.DataFrame]]:
    found = []
    for member in archive.namelist():
        name = member.rsplit("/", 1)[-1]
        if name.endswith(".zip"):
            try:
                inner = zipfile.ZipFile(io.BytesIO(archive.read(member)))
            except zipfile.BadZipFile as exc:
                raise DataFormatError(f"{where}/{member} is not a valid zip ({exc}); re-download the release") from exc
            with inner:
                found += _read_matching(inner, f"{where}/{member}", position)
            continue
        match = CSV_NAME.match(name)
        if match is None or match.group(4) != position:
            continue
        source = f"{where}/{member}"
        try:
            table = pd.read_csv(io.BytesIO(archive.read(member)), usecols=VALUE_COLUMNS, dtype=np.float64)
        except Exception as exc:  # missing columns, text in a number column, truncated member
            raise DataFormatError(
                f"cannot read {source} ({first_line(exc)}); expected the header id,attr_time,attr_x,attr_y,attr_z"
            ) from exc
        found.append((int(match.group(3) or 1), source, table))
    return sorted(found, key=lambda f: f[0])


def probands(folder: Path) -> list[tuple[int, Path]]:
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PROBAND.match(p.name)) and p.is_dir()]
    return sorted(found)


def _stream(table: pd.DataFrame, t0: float, label: int) -> Stream:
    t = (table["attr_time"].to_numpy(np.float64) - t0) / 1000.0
    return Stream(t, table[["attr_x", "attr_y", "attr_z"]].to_numpy(np.float64), np.full(len(t), label))


def read_recordings(folder: Path, position: str, rate_hz: float = RATE_HZ) -> list[Recording]:
    """One :class:`Recording` at ``rate_hz`` per aligned acc+gyro span of every acc part at ``position``."""
    recordings, skipped = [], []
    for subject, proband in probands(folder):
        for label, activity in enumerate(CLASSES):
            zips = {m: proband / "data" / f"{prefix}_{activity}_csv.zip" for m, (prefix, _) in SENSORS.items()}
            if not any(p.is_file() for p in zips.values()):
                continue
            parts = {m: read_parts(p, position) if p.is_file() else [] for m, p in zips.items()}
            if not parts["acc"] or not parts["gyro"]:
                skipped.append(f"proband{subject} {activity}")
                continue
            gyro = pd.concat([table for _, _, table in parts["gyro"]], ignore_index=True)
            for part, source, acc in parts["acc"]:
                t0 = float(min(acc["attr_time"].min(), gyro["attr_time"].min()))
                streams = {"acc": _stream(acc, t0, label), "gyro": _stream(gyro, t0, label)}
                for k, seg in enumerate(aligned_segments(streams, RATE_HZ, MAX_GAP_S)):
                    signals = at_rate(seg.signals, RATE_HZ, rate_hz)
                    recordings.append(Recording(
                        signals=signals, labels=np.full(len(signals["acc"]), label, dtype=np.int64), rate_hz=rate_hz,
                        subject=subject, channels={m: list(c) for m, c in CHANNELS.items()},
                        source=f"{source} part={part} segment={k}",
                    ))
    if skipped:
        warnings.warn(f"realworld:{position}: no acc or no gyro file for {len(skipped)} recordings "
                      f"({', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''}); skipped them", stacklevel=3)
    return recordings


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load RealWorld at one body position as acc+gyro windows.

    Args:
        folder: the folder holding ``proband1/`` ... ``proband15/``.
        window: window length (default 2.56 s), overlap, rate (default 50 Hz).
        variant: the position, ``waist`` (default), ``chest``, ``forearm``, ``head``, ``shin``, ``thigh``, ``upperarm``.

    Returns:
        Modalities ``acc`` (m/s^2, with gravity) and ``gyro`` (rad/s); 8 classes; subjects = proband numbers.
    """
    if folder is None or not folder.is_dir() or not probands(folder):
        raise DatasetNotFoundError(f"dataset 'realworld': no proband<N>/ folder in {folder}; "
                                   f"expected {INFO.expected_files}")
    rate = window.rate_hz or RATE_HZ
    recordings = read_recordings(folder, variant, rate)
    if not recordings:
        raise DatasetNotFoundError(f"dataset 'realworld': no acc+gyro CSV of position {variant!r} in the zips "
                                   f"under {folder}; expected {INFO.expected_files}")
    return windows_from_recordings(recordings, CLASSES, window_s=window.window_s or DEFAULT_WINDOW_S,
                                   overlap=window.overlap, rate_hz=rate)


INFO = DatasetInfo(
    name="realworld",
    description="RealWorld HAR 2016: 15 probands, 8 activities, 7 body positions (variants), acc+gyro (50 Hz)",
    modalities=CHANNELS,
    rates_hz={"acc": RATE_HZ, "gyro": RATE_HZ},
    classes=CLASSES,
    n_subjects=15,
    expected_files=(
        "proband<N>/data/acc_<activity>_csv.zip and gyr_<activity>_csv.zip (CSV id,attr_time,attr_x,attr_y,attr_z "
        "per position inside) as in realworld2016_dataset.zip"
    ),
    needs_data_dir=True,
    citation=(
        "Sztyler, Stuckenschmidt, On-body Localization of Wearable Devices: An Investigation of "
        "Position-Aware Activity Recognition, PerCom 2016"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, variants=VARIANTS,
        required=("proband*/data/acc_*_csv.zip", "proband*/data/gyr_*_csv.zip"),
    )
)
