"""Custom data: ``.npz`` windows and CSV folders, loaded by path through the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl_har.data.registry import WindowOptions, dataset_statuses, load_dataset
from automl_har.errors import ConfigError, DataFormatError, DatasetNotFoundError


def write_npz(path: Path, n: int = 12, **overrides) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "X_acc": rng.normal(size=(n, 100, 3)).astype(np.float32),
        "X_gyro": rng.normal(size=(n, 50, 3)).astype(np.float32),
        "y": np.array(["walk", "sit", "run"] * (n // 3)),
        "subject": np.repeat(np.arange(n // 4), 4),
        "rate_acc": np.float64(50.0),
        "rate_gyro": np.float64(25.0),
        "channels_acc": np.array(["ax", "ay", "az"]),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_npz_round_trip_with_string_labels_and_rates(tmp_path):
    path = write_npz(tmp_path / "mine.npz")
    data = load_dataset(str(path))
    assert sorted(data.modalities) == ["acc", "gyro"]
    assert data.modalities["acc"].shape == (12, 100, 3) and data.modalities["gyro"].shape == (12, 50, 3)
    assert data.classes == ["run", "sit", "walk"]  # sorted unique names
    assert [data.classes[i] for i in data.y[:3]] == ["walk", "sit", "run"]
    assert data.rates_hz == {"acc": 50.0, "gyro": 25.0}
    assert data.channels["acc"] == ["ax", "ay", "az"]
    assert data.channels["gyro"] == ["gyro_0", "gyro_1", "gyro_2"]
    np.testing.assert_array_equal(data.subject, np.repeat(np.arange(3), 4))
    saved = np.load(path)
    np.testing.assert_allclose(data.modalities["acc"], saved["X_acc"])


def test_npz_int_labels_with_classes_default_rate_and_resampling(tmp_path):
    y = np.array([0, 1, 2, -1] * 3)  # -1 = unlabelled window, dropped
    path = write_npz(tmp_path / "ints.npz", y=y, classes=np.array(["a", "b", "c"]), rate_gyro=None)
    data = load_dataset(str(path))
    assert len(data) == 9 and data.classes == ["a", "b", "c"]
    assert data.rates_hz["gyro"] == 50.0  # default when rate_<modality> is absent
    resampled = load_dataset(str(path), window=WindowOptions(rate_hz=25.0))
    assert resampled.modalities["acc"].shape == (9, 50, 3)
    assert resampled.rates_hz == {"acc": 25.0, "gyro": 25.0}


def test_npz_int_labels_without_classes_are_named_by_index(tmp_path):
    path = write_npz(tmp_path / "ints.npz", y=np.array([0, 2, 1] * 4))
    assert load_dataset(str(path)).classes == ["0", "1", "2"]


def test_corrupt_npz_is_a_data_format_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(DataFormatError, match="broken.npz is not a valid .npz file: it is corrupt"):
        load_dataset(str(path))


def test_npz_with_nan_names_the_file(tmp_path):
    x = np.zeros((12, 100, 3), np.float32)
    x[3, 10, 1] = np.nan
    path = write_npz(tmp_path / "holes.npz", X_acc=x)
    with pytest.raises(DataFormatError, match=r"holes\.npz.*NaN"):
        load_dataset(str(path))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"X_acc": None, "X_gyro": None}, "no X_<modality> array"),
        ({"X_gyro": np.zeros((11, 50, 3))}, r"X_gyro has shape \(11, 50, 3\)"),
        ({"subject": None}, "no 'subject' array"),
        ({"subject": np.arange(5)}, r"subject has shape \(5,\)"),
        ({"y": np.array([0, 1, 5] * 4), "classes": np.array(["a", "b", "c"])}, r"y has values 0\.\.5"),
        ({"classes": np.array(["walk", "sit"])}, r"labels \['run'\] in y are not in classes"),
        ({"rate_imu": np.float64(50)}, "'rate_imu' has no matching X_ array"),
        ({"rate_acc": np.float64(-1)}, "rate_acc must be one positive number"),
    ],
)
def test_npz_format_errors(tmp_path, overrides, message):
    path = write_npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(DataFormatError, match=message):
        load_dataset(str(path))


def test_missing_path_and_wrong_suffix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nope.npz does not exist"):
        load_dataset(str(tmp_path / "nope.npz"))
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(DataFormatError, match="neither an .npz file nor a folder"):
        load_dataset(str(tmp_path / "data.txt"))
    with pytest.raises(DatasetNotFoundError, match=r"has no \*\.csv file"):
        load_dataset(str(tmp_path) + "/")


# ------------------------------------------------------------------------------ CSV folders
def write_csv(path: Path, n: int, rate: float, labels: list[str], subject=None, columns=None, timestamp=True):
    """One recording: sine channels, the given label per row, optional subject/timestamp columns."""
    columns = columns or ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    t = np.arange(n) / rate
    header = (["timestamp"] if timestamp else []) + columns + ["label"] + (["subject"] if subject is not None else [])
    lines = [",".join(header)]
    for i in range(n):
        row = ([f"{t[i]:.6f}"] if timestamp else []) + [f"{np.sin(t[i] + j):.5f}" for j in range(len(columns))]
        lines.append(",".join(row + [labels[i]] + ([str(subject)] if subject is not None else [])))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_folder_two_subjects_timestamp_rate_and_ignored_segment(tmp_path):
    # 20 Hz, 200 rows = 10 s: walk 4 s, unlabelled 2 s, sit 4 s
    labels = ["walk"] * 80 + [""] * 40 + ["sit"] * 80
    write_csv(tmp_path / "alice.csv", 200, 20.0, labels)
    write_csv(tmp_path / "bob.csv", 200, 20.0, labels[::-1])
    data = load_dataset(str(tmp_path), window=WindowOptions(window_s=2.0, overlap=0.0))
    assert data.rates_hz == {"acc": 20.0, "gyro": 20.0}  # from the timestamp column
    assert data.channels == {"acc": ["acc_x", "acc_y", "acc_z"], "gyro": ["gyro_x", "gyro_y", "gyro_z"]}
    assert data.classes == ["sit", "walk"]
    assert data.modalities["acc"].shape == (8, 40, 3)  # 5 windows per file, the unlabelled one dropped
    assert sorted(set(data.subject)) == ["alice", "bob"]  # from the file names
    alice = data.y[data.subject == "alice"]
    assert [data.classes[i] for i in alice] == ["walk", "walk", "sit", "sit"]


def test_csv_subject_column_default_rate_and_resampling(tmp_path):
    labels = ["1"] * 100 + ["2"] * 100 + ["10"] * 100
    write_csv(tmp_path / "a.csv", 300, 50.0, labels, subject=7, timestamp=False)
    write_csv(tmp_path / "b.csv", 300, 50.0, labels, subject=8, timestamp=False)
    data = load_dataset(str(tmp_path))  # default 2 s windows, 50% overlap, 50 Hz
    assert data.classes == ["1", "2", "10"]  # integer labels sort numerically
    assert data.rates_hz["acc"] == 50.0 and data.modalities["acc"].shape[1:] == (100, 3)
    assert data.subject.dtype == np.int64 and set(data.subject.tolist()) == {7, 8}
    half = load_dataset(str(tmp_path), window=WindowOptions(window_s=1.0, rate_hz=25.0))
    assert half.rates_hz["gyro"] == 25.0 and half.modalities["gyro"].shape[1:] == (25, 3)


def test_csv_missing_column_lists_expected_and_found(tmp_path):
    write_csv(tmp_path / "a.csv", 100, 50.0, ["walk"] * 100)
    write_csv(tmp_path / "b.csv", 100, 50.0, ["walk"] * 100, columns=["acc_x", "acc_y", "gyro_x", "gyro_y", "gyro_z"])
    with pytest.raises(DataFormatError) as caught:
        load_dataset(str(tmp_path))
    message = str(caught.value)
    assert "b.csv has channel columns ['acc_x', 'acc_y', 'gyro_x'" in message
    assert "a.csv has ['acc_x', 'acc_y', 'acc_z'" in message and "missing ['acc_z']" in message


def test_csv_nan_names_file_and_column(tmp_path):
    path = write_csv(tmp_path / "a.csv", 100, 50.0, ["walk"] * 100)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = ""  # acc_y on line 6
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"a\.csv: column 'acc_y' has 1 missing, non-numeric .*line 6"):
        load_dataset(str(tmp_path))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda text: text.replace(",label", ",activity"), "has no 'label' column"),
        (lambda text: text.replace("acc_x", "accx"), "column 'accx' is not label, subject, timestamp"),
        (lambda text: text.replace("acc_x", "acc_x,extra_x", 1), r"column 'gyro_z' has 100 .*'walk'"),
        (lambda text: text.replace("walk", "walk,9,9", 4), r"a\.csv is not a readable CSV file \(.*does not match"),
    ],
)
def test_csv_column_errors(tmp_path, edit, message):
    path = write_csv(tmp_path / "a.csv", 100, 50.0, ["walk"] * 100)
    path.write_text(edit(path.read_text()))
    with pytest.raises(DataFormatError, match=message):
        load_dataset(str(tmp_path))


def test_csv_varying_subject_and_millisecond_timestamps(tmp_path):
    path = write_csv(tmp_path / "a.csv", 100, 50.0, ["walk"] * 100, subject=1)
    path.write_text(path.read_text().rstrip("\n")[:-1] + "2\n")  # last row: subject 2
    with pytest.raises(DataFormatError, match=r"a\.csv: subject column has 2 distinct values"):
        load_dataset(str(tmp_path))
    path.unlink()
    write_csv(tmp_path / "ms.csv", 100, 0.05, ["walk"] * 100)  # steps of 20 "seconds" = ms stamps
    with pytest.raises(DataFormatError, match="timestamps must increase, in seconds"):
        load_dataset(str(tmp_path))


def test_custom_is_listed_and_asks_for_a_path():
    statuses = {s.entry.name: s for s in dataset_statuses()}
    assert "path/to/file.npz" in statuses["custom"].entry.info.description
    with pytest.raises(ConfigError, match="pass the path instead"):
        load_dataset("custom")
