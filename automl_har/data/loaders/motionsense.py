"""MotionSense, read from the publisher's ``A_DeviceMotion_data`` CSV files.

Malekzadeh, Clegg, Cavallaro, Haddadi, "Mobile Sensor Data Anonymization", IoTDI 2019.
24 subjects with an iPhone 6s in the front trouser pocket, 6 activities in 15 trials, 50 Hz.

Layout: ``A_DeviceMotion_data/<act>_<trial>/sub_<n>.csv``, one recording per file, with an
unnamed index column and the columns ``attitude.roll, attitude.pitch, attitude.yaw, gravity.x/y/z,
rotationRate.x/y/z, userAcceleration.x/y/z``. The activity is the folder's prefix; the trial
folders of the release are dws_1/2/11, ups_3/4/12, wlk_7/8/15, jog_9/16, sit_5/13, std_6/14
(other folder numbers are read the same way).

Modalities: ``acc`` = userAcceleration (g), ``gyro`` = rotationRate (rad/s), ``gravity`` (g),
``attitude`` (rad).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 50.0
DEFAULT_WINDOW_S = 2.56  # 128 samples, the window of the dataset's own benchmark
ROOT = "A_DeviceMotion_data"
ACTIVITIES = {
    "dws": "downstairs", "ups": "upstairs", "wlk": "walking", "jog": "jogging", "sit": "sitting", "std": "standing",
}
CLASSES = tuple(ACTIVITIES.values())
#: modality -> (file columns, channel names)
COLUMNS = {
    "acc": ("userAcceleration.x", "userAcceleration.y", "userAcceleration.z"),
    "gyro": ("rotationRate.x", "rotationRate.y", "rotationRate.z"),
    "gravity": ("gravity.x", "gravity.y", "gravity.z"),
    "attitude": ("attitude.roll", "attitude.pitch", "attitude.yaw"),
}
CHANNELS = {
    "acc": ("acc_x", "acc_y", "acc_z"),
    "gyro": ("gyro_x", "gyro_y", "gyro_z"),
    "gravity": ("gravity_x", "gravity_y", "gravity_z"),
    "attitude": ("attitude_roll", "attitude_pitch", "attitude_yaw"),
}
TRIAL_FOLDER = re.compile(r"^(dws|ups|wlk|jog|sit|std)_(\d+)$")
SUBJECT_FILE = re.compile(r"^sub_(\d+)\.csv$")


def read_recording(path: Path, activity: str) -> Recording:
    """One :class:`Recording` from one ``sub_<n>.csv`` of the trial folder of ``activity``."""
    subject = int(SUBJECT_FILE.match(path.name).group(1))
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # pandas raises many types on a damaged file
        raise DataFormatError(f"cannot read {path} ({exc}); expected a CSV with a header row") from exc
    missing = [c for cols in COLUMNS.values() for c in cols if c not in table.columns]
    if missing:
        raise DataFormatError(f"{path} lacks the columns {missing[:3]}...; expected the A_DeviceMotion_data header")
    signals = {m: table[list(cols)].to_numpy(np.float32) for m, cols in COLUMNS.items()}
    if not all(np.isfinite(x).all() for x in signals.values()):
        raise DataFormatError(f"{path} has empty or non-numeric values; re-download the file")
    label = list(ACTIVITIES).index(activity)
    return Recording(
        signals=signals,
        labels=np.full(len(table), label, dtype=np.int64),
        rate_hz=RATE_HZ,
        subject=subject,
        channels={m: list(c) for m, c in CHANNELS.items()},
        source=str(path),
    )


def recording_files(folder: Path) -> list[tuple[Path, str]]:
    """``(csv, activity)`` for every ``<act>_<trial>/sub_<n>.csv`` under ``A_DeviceMotion_data``."""
    found = []
    for trial in (folder / ROOT).iterdir() if (folder / ROOT).is_dir() else []:
        match = TRIAL_FOLDER.match(trial.name)
        if match is None or not trial.is_dir():
            continue
        for csv in trial.glob("sub_*.csv"):
            subject = SUBJECT_FILE.match(csv.name)
            if subject:
                found.append((int(subject.group(1)), int(match.group(2)), csv, match.group(1)))
    found.sort(key=lambda f: f[:2])  # subject, trial in numeric order
    return [(csv, activity) for _, _, csv, activity in found]


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load every MotionSense recording as windows.

    Args:
        folder: the folder holding ``A_DeviceMotion_data/``.
        window: window length (default 2.56 s), overlap, optional resampling rate.

    Returns:
        Modalities ``acc``, ``gyro``, ``gravity``, ``attitude`` (3 channels each); 6 classes;
        subjects 1-24.
    """
    files = recording_files(folder) if folder is not None else []
    if not files:
        raise DatasetNotFoundError(
            f"dataset 'motionsense': no <act>_<trial>/sub_<n>.csv in {folder}/{ROOT}; expected {INFO.expected_files}"
        )
    return windows_from_recordings(
        [read_recording(path, activity) for path, activity in files],
        CLASSES,
        window_s=window.window_s or DEFAULT_WINDOW_S,
        overlap=window.overlap,
        rate_hz=window.rate_hz,
    )


INFO = DatasetInfo(
    name="motionsense",
    description="MotionSense: 24 subjects, 6 activities, iPhone 6s in the pocket, device-motion (50 Hz)",
    modalities=CHANNELS,
    rates_hz={m: RATE_HZ for m in COLUMNS},
    classes=CLASSES,
    n_subjects=24,
    expected_files=(
        f"{ROOT}/<act>_<trial>/sub_<n>.csv (columns attitude.roll ... userAcceleration.z, 50 Hz; "
        "trial folders dws_1, ups_3, ..., std_14) as in the MotionSense release"
    ),
    needs_data_dir=True,
    citation="Malekzadeh, Clegg, Cavallaro, Haddadi, Mobile Sensor Data Anonymization, IoTDI 2019",
)

ENTRY = register_dataset(
    DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, required=(f"{ROOT}/*_*/sub_*.csv",))
)
