"""Loaders of the combined-datasets pool: hhar, realworld, pamap2, mobiact (spec combined §7.6, §7.9).

Every fixture is a tiny release written into ``tmp_path`` in the publisher's layout, a few seconds
of signal per subject and activity. Signals are constants per activity (and per part, IMU or
position), plus a slow sinusoid of the sample's own timestamp where alignment is checked.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from automl_har.data.loaders import hhar, mobiact, pamap2, realworld
from automl_har.data.loaders._timeline import estimate_rate
from automl_har.data.registry import WindowOptions, get_dataset, load_dataset, missing_files
from automl_har.errors import DataFormatError, DatasetNotFoundError

CHANNELS = {"acc": ["acc_x", "acc_y", "acc_z"], "gyro": ["gyro_x", "gyro_y", "gyro_z"]}
F_HZ = 0.5  # the slow sinusoid of the HHAR and MobiAct fixtures
LOADERS = {"hhar": hhar, "realworld": realworld, "pamap2": pamap2, "mobiact": mobiact}


def check_windows(data, classes, n_windows):
    assert data.channels == CHANNELS and data.classes == list(classes)
    assert data.rates_hz == {"acc": 50.0, "gyro": 50.0}
    assert {m: x.shape for m, x in data.modalities.items()} == {m: (n_windows, 128, 3) for m in CHANNELS}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("name,default", [("hhar", "phones"), ("realworld", "waist"), ("pamap2", "ankle"),
                                          ("mobiact", "adl")])
def test_each_loader_is_registered_with_its_default_variant_and_complete_info(name, default):
    entry = get_dataset(name)
    info = entry.info
    assert entry.variants[0] == default and entry.default_window_s == 2.56 and entry.required
    assert info.description and info.citation and info.expected_files and info.n_subjects > 0
    assert {m: list(c) for m, c in info.modalities.items()} == CHANNELS and set(info.rates_hz) == set(CHANNELS)
    assert info.classes == LOADERS[name].CLASSES


# ----------------------------------------------------------------------------------- HHAR
HHAR_LEVEL = {"walk": 3.0, "sit": -2.0, "bike": 7.0}  # x = level + sin(2 pi f t), y = level
HHAR_RUNS = (("walk", 6.0), ("null", 1.0), ("sit", 6.0))
T0_NS = 1_424_000_000_000_000_000


def hhar_events(user, device, rate, runs, sensor, rng):
    """One sensor's rows: jittered ticks; the gyro ticks at another rate and phase than the acc."""
    rate, start = (rate, 0.0) if sensor == "acc" else (rate * 0.97, 0.013)
    edges = np.cumsum([0.0] + [d for _, d in runs])
    t = np.sort(start + (np.arange(int(edges[-1] * rate)) + rng.uniform(-0.2, 0.2, int(edges[-1] * rate))) / rate)
    t = t[(t >= 0) & (t < edges[-1])]
    gt = np.array([g for g, _ in runs])[np.searchsorted(edges, t, side="right") - 1]
    level = np.array([HHAR_LEVEL.get(g, 0.0) for g in gt]) * (1.0 if sensor == "acc" else 0.5)
    ns = T0_NS + np.round(t * 1e9).astype(np.int64)
    return t, gt, pd.DataFrame({
        "Index": 0, "Arrival_Time": ns // 1_000_000, "Creation_Time": ns, "x": level + np.sin(2 * np.pi * F_HZ * t),
        "y": level, "z": float(ord(user) - 96), "User": user, "Model": device.rsplit("_", 1)[0], "Device": device,
        "gt": gt,
    })


def write_hhar(folder, prefix, devices, users, runs, rng):
    """``<prefix>_{accelerometer,gyroscope}.csv``; gyro rows shuffled. Returns {(user, device, sensor): (t, gt)}."""
    root = folder / hhar.ROOT
    root.mkdir(parents=True, exist_ok=True)
    events = {}
    for sensor, file in (("acc", "accelerometer"), ("gyro", "gyroscope")):
        frames = []
        for user in users:
            for device, rate in devices:
                t, gt, frame = hhar_events(user, device, rate, runs, sensor, rng)
                events[(user, device, sensor)] = (t, gt)
                frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        table = table.sample(frac=1.0, random_state=0) if sensor == "gyro" else table
        table.assign(Index=np.arange(len(table))).to_csv(root / f"{prefix}_{file}.csv", index=False)
    return events


@pytest.fixture
def hhar_release(tmp_path):
    rng = np.random.default_rng(0)
    events = write_hhar(tmp_path, "Phones", (("nexus4_1", 200.0), ("samsungold_1", 50.0)), "ab", HHAR_RUNS, rng)
    write_hhar(tmp_path, "Watch", (("lgwatch_1", 100.0),), "c", (("bike", 6.0),), rng)
    return tmp_path, events


def test_hhar_phones_windows_classes_and_subjects(hhar_release):
    folder, _ = hhar_release
    assert missing_files(get_dataset("hhar"), folder) == []
    data = load_dataset("hhar", folder)
    check_windows(data, hhar.CLASSES, 24)  # 2 users x 2 devices x (walk, sit) x 3 windows of 6 s
    assert sorted(set(data.subject.tolist())) == [1, 2]  # a, b; the watch user c is not read
    counts = pd.Series(list(zip(data.subject.tolist(), [data.classes[i] for i in data.y]))).value_counts()
    assert counts.to_dict() == {(s, c): 6 for s in (1, 2) for c in ("walk", "sit")}  # null dropped
    levels = np.array([HHAR_LEVEL[data.classes[i]] for i in data.y])
    np.testing.assert_allclose(data.modalities["acc"][..., 1], np.repeat(levels[:, None], 128, 1), atol=1e-3)
    np.testing.assert_allclose(data.modalities["gyro"][..., 1], np.repeat(levels[:, None] / 2, 128, 1), atol=1e-3)
    np.testing.assert_allclose(data.modalities["acc"][..., 2], np.repeat(data.subject[:, None], 128, 1), atol=1e-3)


def test_hhar_aligns_gyro_with_acc_by_timestamp_not_by_row(hhar_release):
    folder, events = hhar_release
    data = load_dataset("hhar", folder)
    acc, gyro = data.modalities["acc"], data.modalities["gyro"]
    # x - y = sin(2 pi f t) in both files: equal sample by sample only if the instants agree
    np.testing.assert_allclose(acc[..., 0] - acc[..., 1], gyro[..., 0] - gyro[..., 1], atol=0.01)
    # and the instants are the right ones: a/nexus4_1 walking starts where both sensors have walk events
    start = max(t[gt == "walk"].min() for t, gt in (events[("a", "nexus4_1", s)] for s in ("acc", "gyro")))
    assert data.subject[0] == 1 and data.classes[data.y[0]] == "walk"
    expected = HHAR_LEVEL["walk"] + np.sin(2 * np.pi * F_HZ * (start + np.arange(128) / 50.0))
    np.testing.assert_allclose(acc[0, :, 0], expected, atol=0.01)
    np.testing.assert_allclose(acc[1, :, 0], HHAR_LEVEL["walk"] + np.sin(2 * np.pi * F_HZ * (
        start + (64 + np.arange(128)) / 50.0)), atol=0.01)


def test_hhar_watches_variant_reads_only_the_watch_files(hhar_release):
    data = load_dataset("hhar:watches", hhar_release[0])
    check_windows(data, hhar.CLASSES, 3)
    assert set(data.subject.tolist()) == {3} and {data.classes[i] for i in data.y} == {"bike"}


# ------------------------------------------------------------------------------ RealWorld
def rw_csv(start_s, duration, value, rng, rate=50.0) -> bytes:
    t = start_s + np.arange(int(duration * rate)) / rate + rng.uniform(-0.003, 0.003, int(duration * rate))
    return pd.DataFrame({"id": np.arange(len(t)), "attr_time": 1_465_000_000_000 + np.round(t * 1000).astype(np.int64),
                         "attr_x": value, "attr_y": value + 0.5, "attr_z": -value}).to_csv(index=False).encode()


@pytest.fixture
def realworld_release(tmp_path):
    rng = np.random.default_rng(1)
    p1, p4 = tmp_path / "proband1" / "data", tmp_path / "proband4" / "data"
    p1.mkdir(parents=True)
    p4.mkdir(parents=True)
    (p1 / "acc_walking_csv.zip").write_bytes(zip_bytes(
        {f"acc_walking_{pos}.csv": rw_csv(0, 6, v, rng) for pos, v in (("waist", 10.0), ("chest", 20.0))}))
    (p1 / "gyr_walking_csv.zip").write_bytes(zip_bytes(
        {f"Gyroscope_walking_{pos}.csv": rw_csv(0.007, 6, v, rng) for pos, v in (("waist", 10.0), ("chest", 20.0))}))
    # "anomalous" name: the acc file says part 2, the gyro file has no part number
    (p1 / "acc_sitting_csv.zip").write_bytes(zip_bytes({"acc_sitting_2_waist.csv": rw_csv(100, 4, 30.0, rng)}))
    (p1 / "gyr_sitting_csv.zip").write_bytes(zip_bytes({"Gyroscope_sitting_waist.csv": rw_csv(100, 4, 30.0, rng)}))
    (p1 / "acc_sitting_sqlite.zip").write_bytes(b"ignored")
    # proband4 climbingdown: three parts 60 s apart, each an inner zip; value = part number
    parts = ((1, 3.0), (2, 4.0), (3, 6.0))
    (p4 / "acc_climbingdown_csv.zip").write_bytes(zip_bytes({
        f"acc_climbingdown_{k}_csv.zip": zip_bytes({f"acc_climbingdown_{k}_waist.csv": rw_csv(60 * k, d, k, rng)})
        for k, d in parts}))
    (p4 / "gyr_climbingdown_csv.zip").write_bytes(zip_bytes({
        ("gyr_climbingdown_csv.zip" if k == 1 else f"gyr_climbingdown_{k}_csv.zip"): zip_bytes(
            {("Gyroscope_climbingdown_waist.csv" if k == 1 else f"Gyroscope_climbingdown_{k}_waist.csv"):
             rw_csv(60 * k + 0.005, d, k, rng)}) for k, d in parts}))
    return tmp_path


def test_realworld_waist_reads_zip_in_zip_parts_and_anomalous_names(realworld_release):
    assert missing_files(get_dataset("realworld"), realworld_release) == []
    data = load_dataset("realworld", realworld_release)
    check_windows(data, realworld.CLASSES, 11)
    acc_x, gyro_x = data.modalities["acc"][..., 0], data.modalities["gyro"][..., 0]
    np.testing.assert_allclose(acc_x, gyro_x, atol=1e-4)  # every acc part paired with its own gyro part
    rows = sorted(zip(data.subject.tolist(), [data.classes[i] for i in data.y], acc_x[:, 0].round(3).tolist()))
    assert rows == sorted([(1, "walking", 10.0)] * 3 + [(1, "sitting", 30.0)] * 2 + [(4, "climbingdown", 1.0)]
                          + [(4, "climbingdown", 2.0)] * 2 + [(4, "climbingdown", 3.0)] * 3)
    np.testing.assert_allclose(data.modalities["acc"][..., 1] - acc_x, 0.5, atol=1e-4)


def test_realworld_position_variant_selects_that_positions_files(realworld_release):
    with pytest.warns(UserWarning, match="no acc or no gyro file for 2 recordings"):
        data = load_dataset("realworld:chest", realworld_release)
    check_windows(data, realworld.CLASSES, 3)
    np.testing.assert_allclose(data.modalities["acc"][..., 0], 20.0, atol=1e-4)
    assert set(data.subject.tolist()) == {1}


# --------------------------------------------------------------------------------- PAMAP2
PAMAP2_RUNS = ((0, 2.0), (1, 6.0), (4, 6.0), (0, 1.0), (12, 6.0), (16, 4.0), (24, 6.0))
IMU_BLOCK = {"hand": 1, "chest": 2, "ankle": 3}


def pamap2_table(nan_bursts):
    """54 columns at 100 Hz; IMU column c of block b = 10000 b + 100 c + activityID; ``nan_bursts``:
    ``(imu, first row, rows)`` set that IMU's columns to NaN."""
    ids = np.concatenate([np.full(int(d * 100), aid, dtype=float) for aid, d in PAMAP2_RUNS])
    table = np.zeros((len(ids), pamap2.N_COLUMNS))
    table[:, 0], table[:, 1], table[:, 2] = 5.0 + np.arange(len(ids)) / 100, ids, np.nan
    table[::11, 2] = 104.0  # heart rate at ~9 Hz
    for imu, offset in pamap2.IMU_OFFSET.items():
        table[:, offset:offset + 17] = 10000 * IMU_BLOCK[imu] + 100 * np.arange(17) + ids[:, None]
    for imu, first, rows in nan_bursts:
        table[first:first + rows, pamap2.IMU_OFFSET[imu]:pamap2.IMU_OFFSET[imu] + 17] = np.nan
    return table


def write_dat(path, table):
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt="%.6f")
    path.write_text(buffer.getvalue().replace("nan", "NaN"))


@pytest.fixture
def pamap2_release(tmp_path):
    protocol = tmp_path / pamap2.ROOT / "Protocol"
    protocol.mkdir(parents=True)
    # subject101: a 5-row ankle drop-out in walking (interpolated), a 40-row hand drop-out in lying (cut)
    write_dat(protocol / "subject101.dat", pamap2_table([("ankle", 200 + 600 + 300, 5), ("hand", 200 + 300, 40)]))
    # subject102: a 30-row ankle drop-out in the middle of rope jumping (cut)
    write_dat(protocol / "subject102.dat", pamap2_table([("ankle", 2500 + 300, 30)]))
    return tmp_path


def window_counts(data):
    return pd.Series(list(zip(data.subject.tolist(), [data.classes[i] for i in data.y]))).value_counts().to_dict()


def test_pamap2_ankle_columns_runs_and_nan_handling(pamap2_release):
    assert missing_files(get_dataset("pamap2"), pamap2_release) == []
    with pytest.warns(UserWarning, match="cut 30 samples"):
        data = load_dataset("pamap2", pamap2_release)
    check_windows(data, pamap2.CLASSES, 27)
    six = {"lying": 3, "walking": 3, "ascending_stairs": 3, "vacuum_cleaning": 2, "rope_jumping": 3}
    # 101 walking keeps 3 windows (5 NaN rows interpolated); 102 rope jumping is split by 30 NaN rows
    assert window_counts(data) == {**{(101, c): n for c, n in six.items()},
                                   **{(102, c): n for c, n in six.items()}, (102, "rope_jumping"): 2}
    aid = np.array(list(pamap2.ACTIVITIES))[data.y][:, None]  # activity 0 is no class: never a window
    for m, first in (("acc", 1), ("gyro", 7)):  # ankle block: acc16 = columns 38-40, gyro = 44-46
        expected = 30000 + 100 * (first + np.arange(3)) + aid
        np.testing.assert_allclose(data.modalities[m], np.broadcast_to(expected[:, None, :], data.modalities[m].shape),
                                   atol=0.05)


def test_pamap2_imu_variants_and_native_rate(pamap2_release):
    with pytest.warns(UserWarning, match="cut 40 samples"):
        hand = load_dataset("pamap2:hand", pamap2_release)
    assert window_counts(hand)[(101, "lying")] == 2 and window_counts(hand)[(102, "rope_jumping")] == 3
    np.testing.assert_allclose(hand.modalities["acc"][..., 0].min(), 10100 + 1, atol=0.05)
    chest = load_dataset("pamap2:chest", pamap2_release, WindowOptions(rate_hz=100.0))
    assert chest.modalities["gyro"].shape[1:] == (256, 3) and chest.rates_hz["acc"] == 100.0
    assert np.all(np.abs(chest.modalities["gyro"][..., 0] - 20700 - 12) < 13)


def test_pamap2_fill_short_gaps_interpolates_linearly_and_cuts_long_or_edge_gaps():
    x = np.stack([np.arange(40.0), 2 * np.arange(40.0)], axis=1)
    broken = x.copy()
    broken[[0, 3, 4, 5]] = np.nan
    broken[10:22, 1] = np.nan
    filled, keep = pamap2.fill_short_gaps(broken)
    np.testing.assert_allclose(filled[3:6], x[3:6])
    assert keep.tolist() == [False] + [True] * 9 + [False] * 12 + [True] * 18
    assert pamap2.pieces(keep) == [(1, 10), (22, 40)]


# -------------------------------------------------------------------------------- MobiAct
def mobiact_csv(path, runs, rate, rng):
    """An annotated CSV: per-sample codes ``runs`` = ((code, seconds), ...); x = level + sin, y = level."""
    n = [int(d * rate) for _, d in runs]
    t = (np.arange(sum(n)) + rng.uniform(-0.1, 0.1, sum(n))) / rate
    codes = np.repeat([c for c, _ in runs], n)
    level = np.array([mobiact.CLASSES.index(c) + 1.0 for c in codes])
    wave = np.sin(2 * np.pi * F_HZ * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": 1_500_000_000_000_000_000 + np.round(t * 1e9).astype(np.int64), "rel_time": t,
                  "acc_x": level + wave, "acc_y": level, "acc_z": 9.81, "gyro_x": level + wave, "gyro_y": level,
                  "gyro_z": 0.1, "azimuth": 0.0, "pitch": 0.0, "roll": 0.0, "label": codes}).to_csv(path, index=False)


def mobiact_txt(path, sensor, start_s, rate, seconds, rng):
    t = start_s + (np.arange(int(seconds * rate)) + rng.uniform(-0.1, 0.1, int(seconds * rate))) / rate
    rows = [f"{1_500_000_000_000_000_000 + int(round(s * 1e9))},{5 + np.sin(2 * np.pi * F_HZ * s):.6f},5.0,-1.0"
            for s in t]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#Subject_ID: 3\n#Activity: Jogging\n#Sensor: {sensor}\n\n@DATA\n" + "\n".join(rows) + "\n")


@pytest.fixture
def mobiact_release(tmp_path):
    rng = np.random.default_rng(2)
    annotated = tmp_path / mobiact.ROOT / "Annotated Data"
    mobiact_csv(annotated / "WAL" / "WAL_1_1_annotated.csv", (("WAL", 6.0),), 200.0, rng)
    mobiact_csv(annotated / "SIT" / "SIT_2_1_annotated.csv", (("SIT", 6.0),), 100.0, rng)
    mobiact_csv(annotated / "CSI" / "CSI_1_2_annotated.csv", (("CSI", 3.0),), 200.0, rng)
    mobiact_csv(annotated / "FOL" / "FOL_1_1_annotated.csv", (("STD", 3.0), ("FOL", 1.0), ("LYI", 3.0)), 200.0, rng)
    # raw files of another subject: ignored while annotated files exist
    for sensor in ("acc", "gyro"):
        mobiact_txt(tmp_path / mobiact.ROOT / "Raw Data" / "WAL" / f"WAL_{sensor}_9_1.txt", sensor, 0, 100.0, 6, rng)
    return tmp_path


def test_mobiact_annotated_adl_windows_per_sample_labels_and_rates(mobiact_release):
    assert missing_files(get_dataset("mobiact"), mobiact_release) == []
    data = load_dataset("mobiact", mobiact_release)
    check_windows(data, mobiact.CLASSES, 7)  # WAL 3 (200 Hz) + SIT 3 (100 Hz) + CSI 1; FOL is not an ADL
    assert window_counts(data) == {(1, "WAL"): 3, (2, "SIT"): 3, (1, "CSI"): 1}
    levels = np.array([mobiact.CLASSES.index(data.classes[i]) + 1.0 for i in data.y])
    np.testing.assert_allclose(data.modalities["acc"][..., 1], np.repeat(levels[:, None], 128, 1), atol=1e-3)
    everything = load_dataset("mobiact:all", mobiact_release)
    assert window_counts(everything) == {**window_counts(data), (1, "STD"): 1, (1, "LYI"): 1}  # FOL: 1 s, no window
    lyi = everything.y == mobiact.CLASSES.index("LYI")
    np.testing.assert_allclose(everything.modalities["gyro"][lyi][..., 1], mobiact.CLASSES.index("LYI") + 1, atol=1e-3)
    assert estimate_rate(np.arange(500) / 200.0 + 0.0001 * np.sin(np.arange(500))) == 200.0


def test_mobiact_falls_back_to_raw_txt_aligned_by_timestamp(tmp_path):
    rng = np.random.default_rng(3)
    raw = tmp_path / mobiact.ROOT / "Raw Data" / "JOG"
    mobiact_txt(raw / "JOG_acc_3_1.txt", "Accelerometer", 0.0, 100.0, 6.2, rng)
    mobiact_txt(raw / "JOG_gyro_3_1.txt", "Gyroscope", 0.011, 97.0, 6.2, rng)
    (raw / "JOG_ori_3_1.txt").write_text("#Sensor: Orientation\n@DATA\n1,2,3,4\n")
    data = load_dataset("mobiact", tmp_path)
    check_windows(data, mobiact.CLASSES, 3)
    assert set(data.subject.tolist()) == {3} and {data.classes[i] for i in data.y} == {"JOG"}
    np.testing.assert_allclose(data.modalities["acc"][..., 0], data.modalities["gyro"][..., 0], atol=0.01)


# --------------------------------------------------------------------------------- errors
def corrupt_hhar(root):
    (root / hhar.ROOT).mkdir()
    for name in ("Phones_accelerometer.csv", "Phones_gyroscope.csv"):
        (root / hhar.ROOT / name).write_text("Index,Time,x\n1,2,3\n")
    return "Phones_accelerometer.csv"


def corrupt_realworld(root):
    (root / "proband1" / "data").mkdir(parents=True)
    for name in ("acc_walking_csv.zip", "gyr_walking_csv.zip"):
        (root / "proband1" / "data" / name).write_bytes(b"truncated download")
    return "acc_walking_csv.zip"


def corrupt_pamap2(root):
    (root / pamap2.ROOT / "Protocol").mkdir(parents=True)
    (root / pamap2.ROOT / "Protocol" / "subject101.dat").write_text("1 2 3\n4 5 6\n")
    return "subject101.dat"


def corrupt_mobiact(root):
    path = root / mobiact.ROOT / "Annotated Data" / "WAL" / "WAL_1_1_annotated.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp,x\n1,2\n")
    return "WAL_1_1_annotated.csv"


CORRUPT = {"hhar": corrupt_hhar, "realworld": corrupt_realworld, "pamap2": corrupt_pamap2, "mobiact": corrupt_mobiact}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_missing_folder_gives_one_line_naming_the_fix(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as error:
        load_dataset(name, tmp_path / "absent")
    assert "\n" not in str(error.value) and "--data-dir" in str(error.value)
    assert missing_files(get_dataset(name), tmp_path) == list(get_dataset(name).required)


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_file_gives_one_line_naming_the_file(tmp_path, name):
    bad_file = CORRUPT[name](tmp_path)
    with pytest.raises(DataFormatError) as error:
        load_dataset(name, tmp_path)
    assert "\n" not in str(error.value) and bad_file in str(error.value)
