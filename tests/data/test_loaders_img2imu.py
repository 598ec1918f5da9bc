"""IMG2IMU's datasets PVS and WISDM, read from fixture files written in the publishers' formats."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_har.data.loaders import pvs, wisdm
from automl_har.data.registry import WindowOptions, get_dataset, load_dataset
from automl_har.errors import DataFormatError, DatasetNotFoundError

# ---------------------------------------------------------------------------------- PVS
MPU_EXTRA = ["gyro_x_dashboard", "gyro_y_dashboard", "gyro_z_dashboard", "mag_x_dashboard", "temp_dashboard",
             "timestamp_gps", "latitude", "longitude", "speed"]
LABELS = ["paved_road", "unpaved_road", "dirt_road", "cobblestone_road", "asphalt_road", "no_speed_bump",
          "speed_bump_asphalt", "speed_bump_cobblestone", "good_road_left", "regular_road_left", "bad_road_left"]


def write_pvs_folder(folder: Path, number: int, seconds: float = 12.0) -> None:
    """One ``PVS n`` folder at 100 Hz: asphalt, then dirt, then cobblestone, then unlabeled."""
    n = int(seconds * 100)
    rng = np.random.default_rng(number)
    folder.mkdir(parents=True)
    quarter = n // 4
    road = np.repeat(["asphalt_road", "dirt_road", "cobblestone_road", ""], quarter)
    labels = pd.DataFrame({c: np.zeros(len(road), int) for c in LABELS})
    for name in ("asphalt_road", "dirt_road", "cobblestone_road"):
        labels.loc[road == name, name] = 1
    labels.loc[road == "asphalt_road", "paved_road"] = 1
    labels.to_csv(folder / "dataset_labels.csv", index=False)
    for side in ("left", "right"):
        columns = {"timestamp": 1.5e9 + np.arange(len(road)) / 100}
        for placement in pvs.PLACEMENTS:
            for axis in "xyz":
                # the value says which column it came from: placement index, axis, side
                base = 100 * pvs.PLACEMENTS.index(placement) + 10 * "xyz".index(axis) + (side == "right")
                columns[f"acc_{axis}_{placement}"] = base + 0.01 * rng.normal(size=len(road))
        for extra in MPU_EXTRA:
            columns[extra] = rng.normal(size=len(road))
        pd.DataFrame(columns).to_csv(folder / f"dataset_gps_mpu_{side}.csv", index=False)


@pytest.fixture(scope="module")
def pvs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pvs")
    for number in range(1, 10):
        write_pvs_folder(root / f"PVS {number}", number)
    return root


def test_pvs_loads_road_types_per_vehicle_at_50_hz(pvs_root):
    data = load_dataset("pvs", data_dir=pvs_root)
    assert data.classes == ["asphalt", "dirt", "cobblestone"]
    assert list(data.modalities)[0] == "acc_dashboard_left"  # IMG2IMU's default placement
    assert set(data.modalities) == {f"acc_{p}_{s}" for p in pvs.PLACEMENTS for s in ("left", "right")}
    assert data.modalities["acc_dashboard_left"].shape[1:] == (250, 3)  # 5 s at 50 Hz
    assert data.rates_hz["acc_dashboard_left"] == 50.0
    assert sorted(np.unique(data.subject)) == [1, 2, 3]  # vehicles: PVS 1-3, 4-6, 7-9
    assert set(np.unique(data.y)) == {0, 1, 2}  # the unlabeled quarter is dropped
    window = data.modalities["acc_below_suspension_right"]
    np.testing.assert_allclose(window[..., 1].mean(), 200 + 10 + 1, atol=0.5)  # column read by name
    assert data.channels["acc_dashboard_left"] == ["acc_x_dashboard_left", "acc_y_dashboard_left", "acc_z_dashboard_left"]
    native = load_dataset("pvs", data_dir=pvs_root, window=WindowOptions(window_s=2.0, rate_hz=100.0))
    assert native.modalities["acc_dashboard_left"].shape[1] == 200


def test_pvs_file_without_the_columns_lists_the_columns_found(tmp_path):
    write_pvs_folder(tmp_path / "PVS 1", 1, seconds=2)
    table = pd.read_csv(tmp_path / "PVS 1" / "dataset_gps_mpu_left.csv").drop(columns=["acc_y_dashboard"])
    table.to_csv(tmp_path / "PVS 1" / "dataset_gps_mpu_left.csv", index=False)
    with pytest.raises(DataFormatError, match=r"no column\(s\) \['acc_y_dashboard'\]; columns found: timestamp, acc_x_dashboard"):
        load_dataset("pvs", data_dir=tmp_path)


def test_pvs_missing_folder_and_labels():
    with pytest.raises(DatasetNotFoundError, match="PVS"):
        load_dataset("pvs", data_dir="/nonexistent/pvs")
    one_hot = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [1, 1, 0]])
    assert pvs.labels_from_one_hot(one_hot).tolist() == [0, 2, -1, -1]
    assert get_dataset("pvs").info.n_subjects == 3 and get_dataset("pvs").default_window_s == 5.0


# -------------------------------------------------------------------------------- WISDM
def wisdm_lines(user: int, activity: str, seconds: float, rng) -> list[str]:
    n = int(seconds * 20)
    xyz = rng.normal(size=(n, 3)) + ["Walking", "Jogging", "Sitting"].index(activity)
    return [f"{user},{activity},{1000 + i * 50_000_000},{x:.6f},{y:.6f},{z:.6f};" for i, (x, y, z) in enumerate(xyz)]


@pytest.fixture(scope="module")
def wisdm_dir(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    lines = []
    for user in (1, 2, 3, 33):
        for activity in ("Walking", "Jogging", "Sitting"):
            lines += wisdm_lines(user, activity, 25, rng)
    malformed = [
        "33,Jogging,49106062271000,5.012288,11.264028,;",  # missing z
        "",  # blank line: not a record
        "12,Walking,",  # truncated
        "7,Flying,1,1.0,2.0,3.0;",  # unknown activity
        "x,Walking,1,1.0,2.0,3.0;",  # bad user
        "4,Sitting,1,nan,2.0,3.0;",  # not finite
    ]
    lines[100:100] = malformed
    lines[200] = lines[200] + lines.pop(201)  # two records on one line, as in the real file
    folder = tmp_path_factory.mktemp("wisdm") / "WISDM_ar_v1.1"  # the release unpacks into this folder
    folder.mkdir()
    (folder / wisdm.FILE_NAME).write_text("\n".join(lines) + "\n")
    return folder


def test_wisdm_skips_and_counts_malformed_records(wisdm_dir):
    with pytest.warns(UserWarning, match="skipped 5 malformed of"):
        data = load_dataset("wisdm", data_dir=wisdm_dir)
    assert data.classes == list(wisdm.CLASSES)
    assert data.modalities["acc"].shape[1:] == (500, 3)  # 10 s at 50 Hz
    assert sorted(np.unique(data.subject)) == [1, 2, 3, 33]
    assert set(np.unique(data.y)) == {0, 1, 4}  # Walking, Jogging, Sitting
    # 25 s at 50 Hz with 10 s windows and 50% overlap: 4 windows per user and activity
    assert len(data) == 4 * 3 * 4
    sitting = data.modalities["acc"][data.y == 4]
    np.testing.assert_allclose(sitting.mean(), 2.0, atol=0.2)


def test_wisdm_parser_counts_every_kind_of_bad_record():
    text = "1,Walking,10,1.0,2.0,3.0;\n1,Walking,20,1.5,2.5,3.5;2,Jogging,30,0,0,0;\n,,,;\n3,Standing,5,1,2;"
    records = wisdm.parse_raw(text)
    assert records.total == 5 and records.skipped == 2
    assert records.user.tolist() == [1, 1, 2] and records.activity.tolist() == [0, 0, 1]
    assert [len(r) for r in wisdm.recordings_from_records(records, "x")] == [2, 1]


def test_wisdm_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing matches WISDM_ar_v1.1_raw.txt"):
        load_dataset("wisdm", data_dir=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no WISDM_ar_v1.1_raw.txt"):
        wisdm.load(tmp_path, WindowOptions())
    (tmp_path / wisdm.FILE_NAME).write_text("garbage\nmore garbage;\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataFormatError, match="no valid"):
            load_dataset("wisdm", data_dir=tmp_path)
