"""Loaders of MaskCAE's datasets (UCI HAR, MotionSense, USC-HAD) on fixture files written in the
publishers' exact formats, with the defaults and with the paper's preset (30 Hz, 1 s, 50%)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from automl_har.data.loaders import motionsense, uci_har, usc_had
from automl_har.data.registry import WindowOptions, get_dataset, load_dataset
from automl_har.errors import DataFormatError, DatasetNotFoundError

PRESET = WindowOptions(window_s=1.0, overlap=0.5, rate_hz=30.0)


def n_windows(n_samples: int, window: int, step: int) -> int:
    return 0 if n_samples < window else (n_samples - window) // step + 1


@pytest.mark.parametrize("name", ["uci-har", "motionsense", "usc-had"])
def test_datasets_are_registered_with_complete_info(name):
    info = get_dataset(name).info
    assert info.description and info.citation and info.expected_files and info.needs_data_dir
    assert {"acc", "gyro"} <= set(info.modalities) and info.classes and info.n_subjects > 0


# ------------------------------------------------------------------------------ UCI HAR
def uci_number(value: float) -> str:
    """The release's number format: ``1.0120000e+000`` (three exponent digits), space-padded."""
    return re.sub(r"e([+-])(\d\d)$", r"e\g<1>0\2", f"{value: .7e}")


def write_uci(folder: Path) -> dict:
    """Two train subjects and one test subject; each recording continuous and cut into 128-sample
    rows with 50% overlap, as the publisher did. Returns the rows written, in order."""
    rng = np.random.default_rng(0)
    root = folder / "UCI HAR Dataset"
    (root / "activity_labels.txt").parent.mkdir(parents=True)
    (root / "activity_labels.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(uci_har.CLASSES, 1)))
    recordings = {"train": [(1, 1, 4), (1, 4, 3), (3, 6, 2)], "test": [(2, 2, 5)]}  # (subject, activity, rows)
    written = {"rows": [], "y": [], "subject": [], "lengths": []}
    for split, recs in recordings.items():
        signals = {f"{prefix}_{a}": [] for prefix in uci_har.SIGNAL_FILES.values() for a in "xyz"}
        ys, subjects = [], []
        for subject, activity, rows in recs:
            length = 64 * (rows + 1)
            continuous = {k: rng.normal(size=length) for k in signals}
            for r in range(rows):
                for k in signals:
                    signals[k].append(continuous[k][64 * r : 64 * r + 128])
            ys += [activity] * rows
            subjects += [subject] * rows
            written["lengths"].append(length)
        folder_split = root / split / "Inertial Signals"
        folder_split.mkdir(parents=True)
        for k, rows in signals.items():
            text = "".join(" " + " ".join(uci_number(v) for v in row) + "\n" for row in rows)
            (folder_split / f"{k}_{split}.txt").write_text(text)
        (root / split / f"y_{split}.txt").write_text("".join(f"{y}\n" for y in ys))
        (root / split / f"subject_{split}.txt").write_text("".join(f"{s}\n" for s in subjects))
        written["rows"].append(np.stack([np.stack(signals[f"total_acc_{a}"]) for a in "xyz"], -1))
        written["y"] += ys
        written["subject"] += subjects
    written["rows"] = np.concatenate(written["rows"])
    return written


def test_uci_har_default_windows_are_the_published_rows(tmp_path):
    written = write_uci(tmp_path)
    data = load_dataset("uci-har", data_dir=tmp_path)
    assert data.modality_names == ["acc", "gyro", "body_acc"]
    assert data.modalities["acc"].shape == (len(written["y"]), 128, 3)
    np.testing.assert_allclose(data.modalities["acc"], written["rows"], rtol=1e-6, atol=1e-6)
    assert data.y.tolist() == [y - 1 for y in written["y"]]
    assert data.subject.tolist() == written["subject"]
    assert data.classes == list(uci_har.CLASSES) and data.rates_hz["gyro"] == 50.0


def test_uci_har_preset_rewindows_the_stitched_recordings(tmp_path):
    written = write_uci(tmp_path)
    data = load_dataset("uci-har", data_dir=tmp_path, window=PRESET)
    expected = sum(n_windows(length * 30 // 50, 30, 15) for length in written["lengths"])
    assert data.modalities["gyro"].shape == (expected, 30, 3)
    assert data.rates_hz == {"acc": 30.0, "gyro": 30.0, "body_acc": 30.0}
    assert sorted(set(data.subject.tolist())) == [1, 2, 3]


def test_uci_har_bad_files_are_clear_errors(tmp_path):
    write_uci(tmp_path)
    path = tmp_path / "UCI HAR Dataset" / "train" / "Inertial Signals" / "body_gyro_y_train.txt"
    path.write_text(" 1.0e+000 2.0e+000\n")
    with pytest.raises(DataFormatError, match="body_gyro_y_train.txt has 2 numbers per line; expected 128"):
        load_dataset("uci-har", data_dir=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="uci-har"):
        load_dataset("uci-har", data_dir=tmp_path / "nowhere")


# -------------------------------------------------------------------------- MotionSense
MOTION_COLUMNS = [
    "attitude.roll", "attitude.pitch", "attitude.yaw", "gravity.x", "gravity.y", "gravity.z",
    "rotationRate.x", "rotationRate.y", "rotationRate.z", "userAcceleration.x", "userAcceleration.y",
    "userAcceleration.z",
]


def write_motionsense(folder: Path, samples: int = 200) -> dict:
    rng = np.random.default_rng(1)
    tables = {}
    for trial in ("dws_1", "jog_9", "std_6"):
        for subject in (1, 2):
            table = pd.DataFrame(rng.normal(size=(samples, 12)), columns=MOTION_COLUMNS)
            path = folder / "A_DeviceMotion_data" / trial / f"sub_{subject}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(path)  # with the unnamed index column, as published
            tables[(trial, subject)] = table
    return tables


def test_motionsense_reads_device_motion_csvs(tmp_path):
    tables = write_motionsense(tmp_path)
    data = load_dataset("motionsense", data_dir=tmp_path)
    per_file = n_windows(200, 128, 64)
    assert data.modalities["acc"].shape == (6 * per_file, 128, 3)
    assert data.modality_names == ["acc", "gyro", "gravity", "attitude"]
    assert data.classes == list(motionsense.CLASSES)
    assert sorted(set(data.y.tolist())) == [0, 3, 5]  # downstairs, jogging, standing
    first = tables[("dws_1", 1)]
    np.testing.assert_allclose(data.modalities["acc"][0], first[MOTION_COLUMNS[9:]].to_numpy()[:128], rtol=1e-6)
    np.testing.assert_allclose(data.modalities["gyro"][0], first[MOTION_COLUMNS[6:9]].to_numpy()[:128], rtol=1e-6)
    preset = load_dataset("motionsense", data_dir=tmp_path, window=PRESET)
    assert preset.modalities["gyro"].shape == (6 * n_windows(120, 30, 15), 30, 3)


def test_motionsense_missing_column_is_a_clear_error(tmp_path):
    write_motionsense(tmp_path)
    path = tmp_path / "A_DeviceMotion_data" / "jog_9" / "sub_2.csv"
    pd.read_csv(path, index_col=0).drop(columns=["rotationRate.y"]).to_csv(path)
    with pytest.raises(DataFormatError, match="sub_2.csv lacks the columns"):
        load_dataset("motionsense", data_dir=tmp_path)


# ------------------------------------------------------------------------------ USC-HAD
def write_usc(folder: Path, samples: int = 300) -> dict:
    rng = np.random.default_rng(2)
    readings = {}
    for subject in (1, 13):
        for activity in (1, 8, 12):
            x = rng.normal(size=(samples, 6))
            path = folder / "USC-HAD" / f"Subject{subject}" / f"a{activity}t1.mat"
            path.parent.mkdir(parents=True, exist_ok=True)
            savemat(path, {"sensor_readings": x, "subject": str(subject), "activity_number": str(activity),
                           "trial": "1", "sensor_location": "front-right-hip"})
            readings[(subject, activity)] = x
    return readings


def test_usc_had_reads_sensor_readings(tmp_path):
    readings = write_usc(tmp_path)
    data = load_dataset("usc-had", data_dir=tmp_path)
    per_file = n_windows(300, 100, 50)
    assert data.modalities["acc"].shape == (6 * per_file, 100, 3)
    assert data.classes == list(usc_had.CLASSES) and len(data.classes) == 12
    assert sorted(set(data.y.tolist())) == [0, 7, 11] and sorted(set(data.subject.tolist())) == [1, 13]
    first = readings[(1, 1)]
    np.testing.assert_allclose(data.modalities["acc"][0], first[:100, :3], rtol=1e-6)
    np.testing.assert_allclose(data.modalities["gyro"][0], first[:100, 3:], rtol=1e-6)
    preset = load_dataset("usc-had", data_dir=tmp_path, window=PRESET)
    assert preset.modalities["acc"].shape == (6 * n_windows(90, 30, 15), 30, 3)


def test_usc_had_wrong_shape_is_a_clear_error(tmp_path):
    write_usc(tmp_path)
    savemat(tmp_path / "USC-HAD" / "Subject1" / "a8t1.mat", {"sensor_readings": np.zeros((50, 5))})
    with pytest.raises(DataFormatError, match=r"a8t1.mat: sensor_readings has shape \(50, 5\)"):
        load_dataset("usc-had", data_dir=tmp_path)
