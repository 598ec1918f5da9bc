"""The smartwatch shoulder-exercise dataset bundled with seglearn (the embedded default).

Burns, Leung, Hardisty, Whyne, Henry, McLachlan, "Shoulder Physiotherapy Exercise Recognition:
Machine Learning the Inertial Signals from a Smartwatch", Physiological Measurement 39(7), 2018.
The data ship inside the ``seglearn`` package as ``seglearn/data/watch_dataset.npy``: 140
recordings of 10 subjects doing 7 exercises with an Apple Watch (6-axis IMU, 50 Hz). The file is
read directly, without importing seglearn's own code (which pulls in scikit-learn estimators).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DependencyError

RATE_HZ = 50.0
#: seglearn's own example segments the watch data into 100-sample (2 s) windows.
DEFAULT_WINDOW_S = 2.0
CLASSES = ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW")
CHANNELS = {
    "acc": ("acc_x", "acc_y", "acc_z"),
    "gyro": ("gyro_x", "gyro_y", "gyro_z"),
}
#: Column names in the file (``X_labels``) for each modality, in channel order.
FILE_COLUMNS = {"acc": ("ax", "ay", "az"), "gyro": ("wx", "wy", "wz")}


def watch_file() -> Path:
    """Path of ``watch_dataset.npy`` inside the installed seglearn package.

    Raises:
        DependencyError: seglearn is not installed.
        DataFormatError: seglearn is installed but the file is not in it.
    """
    spec = importlib.util.find_spec("seglearn")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(
            "dataset 'watch' ships with the seglearn package, which is not installed; "
            "run `pip install seglearn`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "watch_dataset.npy"
    if not path.is_file():
        raise DataFormatError(
            f"seglearn is installed but {path} is missing; reinstall it with "
            "`pip install --force-reinstall seglearn`"
        )
    return path


#: ``watch`` = every recording; ``watch:side0`` / ``watch:side1`` = the 70 recordings of one arm
#: side (the file's ``side`` key, 0.0 or 1.0), two domains of one release for Leave-One-Dataset-Out
VARIANTS = ("all", "side0", "side1")


def read_watch_recordings(path: Path, side: float | None = None) -> tuple[list[Recording], list[str]]:
    """Read the pickled dict into one :class:`Recording` per exercise bout (with ``side``: only
    the bouts of that arm side).

    Returns:
        ``(recordings, class_names)``; every sample of a recording has that recording's label.
    """
    try:
        raw = np.load(path, allow_pickle=True).item()
    except Exception as exc:  # np.load raises many types on a damaged pickle
        raise DataFormatError(f"cannot read {path} ({exc}); reinstall seglearn") from exc
    missing = {"X", "y", "y_labels", "subject"} - set(raw) | ({"side"} - set(raw) if side is not None else set())
    if missing:
        raise DataFormatError(f"{path} lacks keys {sorted(missing)}; reinstall seglearn")
    column_names = list(raw.get("X_labels", ["ax", "ay", "az", "wx", "wy", "wz"]))
    columns = {m: [column_names.index(c) for c in cols] for m, cols in FILE_COLUMNS.items()}
    recordings = []
    sides = raw["side"] if side is not None else [None] * len(raw["X"])
    for i, (x, label, subject, bout_side) in enumerate(zip(raw["X"], raw["y"], raw["subject"], sides)):
        if side is not None and float(bout_side) != side:
            continue
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(column_names):
            raise DataFormatError(
                f"{path}: recording {i} has shape {x.shape}, expected (n, {len(column_names)}); "
                "reinstall seglearn"
            )
        recordings.append(
            Recording(
                signals={m: x[:, idx] for m, idx in columns.items()},
                labels=np.full(len(x), int(label), dtype=np.int64),
                rate_hz=RATE_HZ,
                subject=int(subject),
                channels={m: list(names) for m, names in CHANNELS.items()},
                source=f"{path.name}[{i}]",
            )
        )
    return recordings, [str(name) for name in raw["y_labels"]]


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load the watch dataset as windows (``folder`` is ignored: the data are bundled).

    Args:
        folder: unused.
        window: window length (default 2 s = 100 samples), overlap, optional resampling rate.
        variant: ``all``, or ``side0`` / ``side1`` for the recordings of one arm side.

    Returns:
        Windows with modalities ``acc`` and ``gyro`` (3 channels each), 7 classes, subjects 1-10.
    """
    side = None if variant == "all" else float(variant.removeprefix("side"))
    recordings, classes = read_watch_recordings(watch_file(), side)
    return windows_from_recordings(
        recordings,
        classes,
        window_s=window.window_s or DEFAULT_WINDOW_S,
        overlap=window.overlap,
        rate_hz=window.rate_hz,
    )


INFO = DatasetInfo(
    name="watch",
    description="Apple Watch shoulder physiotherapy exercises (7 classes, 10 subjects), bundled with seglearn",
    modalities=CHANNELS,
    rates_hz={"acc": RATE_HZ, "gyro": RATE_HZ},
    classes=CLASSES,
    n_subjects=10,
    expected_files="nothing: the file seglearn/data/watch_dataset.npy comes with `pip install seglearn`",
    needs_data_dir=False,
    citation=(
        "Burns et al., Shoulder Physiotherapy Exercise Recognition: Machine Learning the Inertial "
        "Signals from a Smartwatch, Physiological Measurement 39(7), 2018"
    ),
)

ENTRY = register_dataset(DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, variants=VARIANTS))
