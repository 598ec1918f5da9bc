"""USC-HAD, read from the publisher's ``.mat`` files.

Zhang, Sawchuk, "USC-HAD: A Daily Activity Dataset for Ubiquitous Activity Recognition Using
Wearable Sensors", UbiComp 2012. 14 subjects, 12 activities, a MotionNode on the front right hip.

Layout: ``USC-HAD/Subject<s>/a<act>t<trial>.mat``, one recording per file, with the variable
``sensor_readings`` (n, 6): accelerometer x, y, z in g and gyroscope x, y, z in deg/s at 100 Hz.
The activity is the ``a<act>`` number of the file name (1-12, the order of the publisher's
readme); the subject is the folder number. MaskCAE's protocol validates on subjects 11, 12 and
tests on 13, 14 (``--val-subjects 11,12 --test-subjects 13,14``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 100.0
DEFAULT_WINDOW_S = 1.0
ROOT = "USC-HAD"
CLASSES = (
    "walking forward", "walking left", "walking right", "walking upstairs", "walking downstairs",
    "running forward", "jumping up", "sitting", "standing", "sleeping", "elevator up", "elevator down",
)
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
SUBJECT_FOLDER = re.compile(r"^Subject(\d+)$")
TRIAL_FILE = re.compile(r"^a(\d+)t(\d+)\.mat$")


def read_readings(path: Path) -> np.ndarray:
    """``sensor_readings`` ``(n, 6)`` of one file as float32."""
    try:
        content = loadmat(path, variable_names=["sensor_readings"])
    except Exception as exc:  # scipy raises ValueError, OSError, MatReadError ...
        raise DataFormatError(f"cannot read {path} ({exc}); re-download this file") from exc
    if "sensor_readings" not in content:
        raise DataFormatError(f"{path} has no variable 'sensor_readings'; expected the USC-HAD .mat file")
    x = np.asarray(content["sensor_readings"])
    if x.ndim != 2 or x.shape[1] != 6 or not np.issubdtype(x.dtype, np.number):
        raise DataFormatError(f"{path}: sensor_readings has shape {x.shape}; expected (n, 6) acc xyz g, gyro xyz deg/s")
    if not np.isfinite(x).all():
        raise DataFormatError(f"{path}: sensor_readings has NaN or infinite values; re-download this file")
    return x.astype(np.float32)


def recording_files(folder: Path) -> list[tuple[Path, int, int]]:
    """``(file, subject, activity)`` for every ``Subject<s>/a<act>t<trial>.mat``."""
    found = []
    root = folder / ROOT
    for subject_dir in root.iterdir() if root.is_dir() else []:
        subject = SUBJECT_FOLDER.match(subject_dir.name)
        if subject is None or not subject_dir.is_dir():
            continue
        for path in subject_dir.glob("a*t*.mat"):
            trial = TRIAL_FILE.match(path.name)
            if trial is None:
                continue
            activity = int(trial.group(1))
            if not 1 <= activity <= len(CLASSES):
                raise DataFormatError(f"{path} names activity {activity}; USC-HAD activities are 1..{len(CLASSES)}")
            found.append((path, int(subject.group(1)), activity, int(trial.group(2))))
    found.sort(key=lambda f: f[1:])  # subject, activity, trial in numeric order
    return [f[:3] for f in found]


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load every USC-HAD recording as windows.

    Args:
        folder: the folder holding ``USC-HAD/``.
        window: window length (default 1 s), overlap, optional resampling rate.

    Returns:
        Modalities ``acc`` (g) and ``gyro`` (deg/s), 3 channels each; 12 classes; subjects 1-14.
    """
    files = recording_files(folder) if folder is not None else []
    if not files:
        raise DatasetNotFoundError(
            f"dataset 'usc-had': no Subject<s>/a<act>t<trial>.mat in {folder}/{ROOT}; expected {INFO.expected_files}"
        )
    recordings = []
    for path, subject, activity in files:
        x = read_readings(path)
        recordings.append(
            Recording(
                signals={"acc": x[:, :3], "gyro": x[:, 3:]},
                labels=np.full(len(x), activity - 1, dtype=np.int64),
                rate_hz=RATE_HZ,
                subject=subject,
                channels={m: list(c) for m, c in CHANNELS.items()},
                source=str(path),
            )
        )
    return windows_from_recordings(
        recordings, CLASSES, window_s=window.window_s or DEFAULT_WINDOW_S, overlap=window.overlap,
        rate_hz=window.rate_hz,
    )


INFO = DatasetInfo(
    name="usc-had",
    description="USC-HAD: 14 subjects, 12 daily activities, hip MotionNode acc+gyro (100 Hz)",
    modalities=CHANNELS,
    rates_hz={m: RATE_HZ for m in CHANNELS},
    classes=CLASSES,
    n_subjects=14,
    expected_files=(
        f"{ROOT}/Subject<s>/a<act>t<trial>.mat with variable sensor_readings (n, 6): acc xyz g, gyro xyz deg/s"
    ),
    needs_data_dir=True,
    citation=(
        "Zhang, Sawchuk, USC-HAD: A Daily Activity Dataset for Ubiquitous Activity Recognition Using "
        "Wearable Sensors, UbiComp 2012"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, required=(f"{ROOT}/Subject*/a*t*.mat",))
)
