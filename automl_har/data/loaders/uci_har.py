"""UCI HAR (Human Activity Recognition Using Smartphones), read from the publisher's text files.

Anguita, Ghio, Oneto, Parra, Reyes-Ortiz, "A Public Domain Dataset for Human Activity Recognition
Using Smartphones", ESANN 2013. 30 subjects, 6 activities, a waist-worn Samsung Galaxy S II.

Layout of the release (``UCI HAR Dataset/`` inside the data folder)::

    UCI HAR Dataset/activity_labels.txt          "1 WALKING" ... "6 LAYING"
    UCI HAR Dataset/{train,test}/y_{split}.txt    one activity id (1-6) per window
    UCI HAR Dataset/{train,test}/subject_{split}.txt
    UCI HAR Dataset/{train,test}/Inertial Signals/{body_acc,body_gyro,total_acc}_{x,y,z}_{split}.txt

Each row of a signal file is one window of 128 samples (2.56 s at 50 Hz) with 50% overlap.
The windows are stitched back into continuous recordings (consecutive rows of one subject whose
halves coincide), so any ``--window-s``/``--overlap``/``--rate`` can be applied, e.g. MaskCAE's
preset of 30 Hz, 1 s windows, 50% overlap; the default (2.56 s, 50%) gives the published windows.
Train and test files are merged: the protocol makes its own subject split.

Modalities: ``acc`` = ``total_acc`` (g, with gravity), ``gyro`` = ``body_gyro`` (rad/s),
``body_acc`` (g, gravity removed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError

RATE_HZ = 50.0
WINDOW = 128
HOP = 64  # 50% overlap
DEFAULT_WINDOW_S = WINDOW / RATE_HZ  # 2.56 s
ROOT = "UCI HAR Dataset"
CLASSES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
#: modality -> file prefix in ``Inertial Signals``
SIGNAL_FILES = {"acc": "total_acc", "gyro": "body_gyro", "body_acc": "body_acc"}
CHANNELS = {m: tuple(f"{m}_{axis}" for axis in "xyz") for m in SIGNAL_FILES}


def read_matrix(path: Path, columns: int | None = None) -> np.ndarray:
    """A whitespace-separated numeric text file as a 2-D float array."""
    if not path.is_file():
        raise DatasetNotFoundError(f"uci-har: {path} is missing; expected the full '{ROOT}' release")
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataFormatError(f"cannot parse {path} ({exc}); expected whitespace-separated numbers") from exc
    if columns is not None and table.shape[1] != columns:
        raise DataFormatError(f"{path} has {table.shape[1]} numbers per line; expected {columns}")
    if not np.isfinite(table).all():
        raise DataFormatError(f"{path} has NaN or infinite values; re-download the release")
    return table


def read_classes(root: Path) -> list[str]:
    """Class names from ``activity_labels.txt`` (ids 1..K), else the published six."""
    path = root / "activity_labels.txt"
    if not path.is_file():
        return list(CLASSES)
    pairs = [line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip()]
    try:
        names = {int(i): name.strip() for i, name in pairs}
    except ValueError as exc:
        raise DataFormatError(f"{path}: expected lines '<id> <name>', e.g. '1 WALKING'") from exc
    if sorted(names) != list(range(1, len(names) + 1)):
        raise DataFormatError(f"{path} numbers its activities {sorted(names)}; expected 1..{len(names)}")
    return [names[i] for i in range(1, len(names) + 1)]


def read_split(root: Path, split: str, n_classes: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``(signals, y, subject)``: modality -> ``(n, 128, 3)``, activity index 0..K-1, subject id."""
    folder = root / split
    y = read_matrix(folder / f"y_{split}.txt", 1)[:, 0].astype(np.int64) - 1
    subject = read_matrix(folder / f"subject_{split}.txt", 1)[:, 0].astype(np.int64)
    if y.min() < 0 or y.max() >= n_classes:
        raise DataFormatError(f"{folder / f'y_{split}.txt'} has activity ids outside 1..{n_classes}")
    signals = {}
    for modality, prefix in SIGNAL_FILES.items():
        axes = [read_matrix(folder / "Inertial Signals" / f"{prefix}_{a}_{split}.txt", WINDOW) for a in "xyz"]
        signals[modality] = np.stack(axes, axis=-1).astype(np.float32)  # (n, 128, 3)
        if len(signals[modality]) != len(y):
            raise DataFormatError(
                f"{folder}: {prefix} files have {len(signals[modality])} windows but y_{split}.txt has {len(y)}"
            )
    if len(subject) != len(y):
        raise DataFormatError(f"{folder}: subject_{split}.txt has {len(subject)} lines but y_{split}.txt has {len(y)}")
    return signals, y, subject


def stitch(signals: dict[str, np.ndarray], y: np.ndarray, subject: np.ndarray, source: str) -> list[Recording]:
    """Continuous recordings from overlapping windows: a row continues the previous one when it
    has the same subject and its first half equals the previous row's second half."""
    stacked = np.concatenate(list(signals.values()), axis=-1)  # (n, 128, 9)
    continues = (subject[1:] == subject[:-1]) & np.isclose(
        stacked[1:, :HOP], stacked[:-1, HOP:], atol=1e-5
    ).all(axis=(1, 2))
    starts = np.flatnonzero(np.concatenate([[True], ~continues]))
    ends = np.append(starts[1:], len(y))
    recordings = []
    for start, end in zip(starts, ends):
        rows = np.arange(start, end)
        # samples [HOP*k, HOP*k + HOP) come from row k; the last row contributes all 128
        take = lambda x: np.concatenate([x[rows[:-1], :HOP].reshape(-1, *x.shape[2:]), x[rows[-1]]])  # noqa: E731
        labels = np.concatenate([np.repeat(y[rows[:-1]], HOP), np.full(WINDOW, y[rows[-1]])])
        recordings.append(
            Recording(
                signals={m: take(x) for m, x in signals.items()},
                labels=labels,
                rate_hz=RATE_HZ,
                subject=int(subject[start]),
                channels={m: list(c) for m, c in CHANNELS.items()},
                source=f"{source}[{start}:{end}]",
            )
        )
    return recordings


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """Load both splits of a UCI HAR release as windows.

    Args:
        folder: the folder holding ``UCI HAR Dataset/``.
        window: window length (default 2.56 s = the published 128 samples), overlap, rate.

    Returns:
        Modalities ``acc``, ``gyro``, ``body_acc`` (3 channels each); 6 classes; subjects 1-30.
    """
    root = folder / ROOT if folder is not None else None
    if root is None or not root.is_dir():
        raise DatasetNotFoundError(f"dataset 'uci-har': no folder '{ROOT}' in {folder}; expected {INFO.expected_files}")
    classes = read_classes(root)
    recordings = []
    for split in ("train", "test"):
        if (root / split).is_dir():
            signals, y, subject = read_split(root, split, len(classes))
            recordings += stitch(signals, y, subject, f"{ROOT}/{split}")
    if not recordings:
        raise DatasetNotFoundError(f"dataset 'uci-har': {root} has neither train/ nor test/")
    return windows_from_recordings(
        recordings, classes, window_s=window.window_s or DEFAULT_WINDOW_S, overlap=window.overlap,
        rate_hz=window.rate_hz,
    )


INFO = DatasetInfo(
    name="uci-har",
    description="UCI HAR: 30 subjects, 6 daily activities, waist smartphone acc+gyro (50 Hz)",
    modalities=CHANNELS,
    rates_hz={m: RATE_HZ for m in SIGNAL_FILES},
    classes=CLASSES,
    n_subjects=30,
    expected_files=(
        f"'{ROOT}/{{train,test}}/Inertial Signals/{{body_acc,body_gyro,total_acc}}_{{x,y,z}}_{{train,test}}.txt', "
        "y_*.txt, subject_*.txt and activity_labels.txt as in the UCI release"
    ),
    needs_data_dir=True,
    citation=(
        "Anguita et al., A Public Domain Dataset for Human Activity Recognition Using Smartphones, ESANN 2013"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S,
        required=(f"{ROOT}/*/y_*.txt", f"{ROOT}/*/Inertial Signals/total_acc_x_*.txt"),
    )
)
