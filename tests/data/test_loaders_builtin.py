"""Built-in dataset loaders: watch, utd-mhad, daphnet, synthetic.

Real-data tests read ``../shared/data/`` (relative to the project root) and skip when it is
absent; fixture tests write tiny files in the publishers' exact formats into ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat
from sklearn.neighbors import NearestCentroid

from automl_har.data._types import WindowedData
from automl_har.data.loaders import synthetic, utd_mhad
from automl_har.data.registry import WindowOptions, get_dataset, load_dataset
from automl_har.errors import DataFormatError, DatasetNotFoundError, DependencyError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
UTD_DIR = SHARED_DATA / "utd_mhad"
DAPHNET_DIR = SHARED_DATA / "daphnet"


def shared_folder(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real dataset not found at {path}; CI has it")
    return path


@pytest.fixture(scope="module")
def watch_data() -> WindowedData:
    return load_dataset("watch")


@pytest.fixture(scope="module")
def utd_real() -> WindowedData:
    return load_dataset("utd-mhad", data_dir=shared_folder(UTD_DIR))


@pytest.fixture(scope="module")
def daphnet_real() -> WindowedData:
    return load_dataset("daphnet", data_dir=shared_folder(DAPHNET_DIR))


# ----------------------------------------------------------------------------- registry
@pytest.mark.parametrize("name", ["watch", "utd-mhad", "daphnet", "synthetic"])
def test_every_builtin_dataset_is_registered_with_complete_info(name):
    info = get_dataset(name).info
    assert info.description and info.citation and info.expected_files
    assert info.classes and info.n_subjects > 0
    assert set(info.modalities) == set(info.rates_hz)
    assert all(len(names) > 0 for names in info.modalities.values())
    assert info.needs_data_dir == (name in {"utd-mhad", "daphnet"})


# -------------------------------------------------------------------------------- watch
def test_watch_loads_acc_and_gyro_windows_of_seven_exercises(watch_data):
    info = get_dataset("watch").info
    assert watch_data.modality_names == ["acc", "gyro"]
    assert {k: list(v) for k, v in info.modalities.items()} == watch_data.channels
    assert watch_data.rates_hz == {"acc": 50.0, "gyro": 50.0}
    assert watch_data.classes == ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
    assert set(np.unique(watch_data.y)) == set(range(7))
    assert watch_data.subject.dtype == np.int64
    assert set(np.unique(watch_data.subject)) == set(range(1, 11))
    # 244,102 samples in 140 recordings: 2 s windows at 50 % overlap give ~4,700 windows.
    assert 4000 < len(watch_data) < 4900
    for x in watch_data.modalities.values():
        assert x.shape == (len(watch_data), 100, 3) and x.dtype == np.float32
        assert np.isfinite(x).all() and x.std() > 0


def test_watch_honours_window_length_overlap_and_rate():
    data = load_dataset("watch", window=WindowOptions(window_s=1.0, overlap=0.0, rate_hz=25.0))
    assert data.modalities["gyro"].shape[1:] == (25, 3)
    assert data.rates_hz == {"acc": 25.0, "gyro": 25.0}
    # no overlap: one window per full second of the 244,102 / 50 = 4,882 s recorded
    assert 4000 < len(data) < 4900


def test_watch_without_seglearn_names_the_pip_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "seglearn" else real_find_spec(name, *a)
    )
    with pytest.raises(DependencyError, match="pip install seglearn"):
        load_dataset("watch")


# ----------------------------------------------------------------------- utd-mhad (real)
def test_utd_mhad_real_release_has_861_trials_of_27_actions(utd_real):
    n = len(utd_real)
    assert n == 861
    assert utd_real.modalities["acc"].shape == (n, 100, 3)
    assert utd_real.modalities["gyro"].shape == (n, 100, 3)
    assert utd_real.modalities["skeleton"].shape == (n, 60, 60)
    assert utd_real.rates_hz == {"acc": 50.0, "gyro": 50.0, "skeleton": 30.0}
    assert len(utd_real.classes) == 27 and utd_real.classes[0] == "right arm swipe to the left"
    assert np.bincount(utd_real.y).tolist().count(32) == 24  # 3 of 864 trials are missing
    assert set(np.unique(utd_real.subject)) == set(range(1, 9))
    assert utd_real.channels["skeleton"][:4] == [
        "skeleton_head_x", "skeleton_head_y", "skeleton_head_z", "skeleton_shoulder_center_x"
    ]
    assert utd_real.channels["skeleton"] == list(get_dataset("utd-mhad").info.modalities["skeleton"])
    # gravity: the wrist accelerometer reads about 1 g in magnitude on average
    magnitude = np.linalg.norm(utd_real.modalities["acc"], axis=-1).mean()
    assert 0.7 < magnitude < 1.5


# -------------------------------------------------------------------- utd-mhad (fixtures)
def write_utd_trial(folder: Path, action: int, subject: int, trial: int, rng, samples=100, frames=60,
                    skeleton=True) -> tuple[np.ndarray, np.ndarray]:
    d_iner = rng.normal(size=(samples, 6))
    d_skel = rng.normal(size=(20, 3, frames))
    (folder / "Inertial").mkdir(parents=True, exist_ok=True)
    savemat(folder / "Inertial" / f"a{action}_s{subject}_t{trial}_inertial.mat", {"d_iner": d_iner})
    if skeleton:
        (folder / "Skeleton").mkdir(parents=True, exist_ok=True)
        savemat(folder / "Skeleton" / f"a{action}_s{subject}_t{trial}_skeleton.mat", {"d_skel": d_skel})
    return d_iner, d_skel


def test_utd_mhad_fixture_labels_subjects_and_joint_major_skeleton(tmp_path):
    rng = np.random.default_rng(0)
    trials = [(27, 8, 4), (1, 1, 1), (2, 2, 1)]
    written = {t: write_utd_trial(tmp_path, *t, rng) for t in trials}
    data = load_dataset("utd-mhad", data_dir=tmp_path)  # 2 s: 100 IMU samples, 60 frames, no resampling
    assert data.y.tolist() == [0, 1, 26]  # sorted by subject: s1, s2, s8
    assert data.subject.tolist() == [1, 2, 8]
    d_iner, d_skel = written[(2, 2, 1)]
    np.testing.assert_allclose(data.modalities["acc"][1], d_iner[:, :3], rtol=1e-6)
    np.testing.assert_allclose(data.modalities["gyro"][1], d_iner[:, 3:], rtol=1e-6)
    skeleton = data.modalities["skeleton"][1]  # (frames, 60): j0x, j0y, j0z, j1x ...
    assert skeleton[7, 3 * 5 + 2] == pytest.approx(d_skel[5, 2, 7], rel=1e-6)
    assert skeleton[0, 0:3] == pytest.approx(d_skel[0, :, 0], rel=1e-6)
    # no Skeleton_joint_order.txt here: channels fall back to the publisher's documented joint order
    assert data.channels["skeleton"][:3] == ["skeleton_head_x", "skeleton_head_y", "skeleton_head_z"]
    assert data.channels["skeleton"][6:9] == ["skeleton_spine_x", "skeleton_spine_y", "skeleton_spine_z"]


def test_utd_mhad_resamples_each_trial_to_window_and_rate(tmp_path):
    rng = np.random.default_rng(1)
    write_utd_trial(tmp_path, 3, 1, 1, rng, samples=163, frames=97)
    default = load_dataset("utd-mhad", data_dir=tmp_path)
    assert default.modalities["acc"].shape == (1, 100, 3) and default.modalities["skeleton"].shape == (1, 60, 60)
    data = load_dataset("utd-mhad", data_dir=tmp_path, window=WindowOptions(window_s=3.0, rate_hz=20.0))
    assert data.modalities["gyro"].shape == (1, 60, 3)
    assert data.modalities["skeleton"].shape == (1, 60, 60)
    assert data.rates_hz == {"acc": 20.0, "gyro": 20.0, "skeleton": 20.0}


def test_utd_mhad_uses_joint_order_file_and_skips_trials_missing_a_modality(tmp_path):
    rng = np.random.default_rng(2)
    write_utd_trial(tmp_path, 1, 1, 1, rng)
    write_utd_trial(tmp_path, 1, 1, 2, rng, skeleton=False)
    lines = [f"{i + 1}. {name};" for i, name in enumerate(utd_mhad.JOINTS)]
    (tmp_path / "Skeleton" / "Skeleton_joint_order.txt").write_text("The order:\n\n" + "\n".join(lines))
    with pytest.warns(UserWarning, match="skipped 1 trials"):
        data = load_dataset("utd-mhad", data_dir=tmp_path)
    assert len(data) == 1
    assert data.channels["skeleton"][-1] == "skeleton_right_foot_z"


def test_utd_mhad_inertial_only_folder_loads_without_skeleton(tmp_path):
    rng = np.random.default_rng(3)
    for subject in (1, 2):
        write_utd_trial(tmp_path, 5, subject, 1, rng, skeleton=False)
    data = load_dataset("utd-mhad", data_dir=tmp_path)
    assert data.modality_names == ["acc", "gyro"]
    assert data.y.tolist() == [4, 4]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("garbage bytes", "cannot read"),
        ("wrong variable", "no variable 'd_iner'"),
        ("wrong shape", r"shape \(100, 5\)"),
        ("nan", "600 NaN"),
        ("one sample", r"shape \(1, 6\)"),
    ],
)
def test_utd_mhad_corrupt_inertial_file_names_the_file(tmp_path, content, reason):
    write_utd_trial(tmp_path, 1, 1, 1, np.random.default_rng(4))
    bad = tmp_path / "Inertial" / "a1_s1_t1_inertial.mat"
    if content == "garbage bytes":
        bad.write_bytes(b"MATLAB 5.0 but not really" * 3)
    elif content == "wrong variable":
        savemat(bad, {"inertial": np.zeros((100, 6))})
    elif content == "wrong shape":
        savemat(bad, {"d_iner": np.zeros((100, 5))})
    elif content == "nan":
        savemat(bad, {"d_iner": np.full((100, 6), np.nan)})
    else:
        savemat(bad, {"d_iner": np.zeros((1, 6))})
    with pytest.raises(DataFormatError, match=reason) as error:
        load_dataset("utd-mhad", data_dir=tmp_path)
    assert str(bad) in str(error.value)


def test_utd_mhad_corrupt_skeleton_shape_names_the_file(tmp_path):
    write_utd_trial(tmp_path, 1, 1, 1, np.random.default_rng(5))
    savemat(tmp_path / "Skeleton" / "a1_s1_t1_skeleton.mat", {"d_skel": np.zeros((25, 3, 40))})
    with pytest.raises(DataFormatError, match=r"a1_s1_t1_skeleton.mat.*\(25, 3, 40\)"):
        load_dataset("utd-mhad", data_dir=tmp_path)


def test_utd_mhad_folder_without_inertial_files_is_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="Inertial/a"):
        load_dataset("utd-mhad", data_dir=tmp_path)


# ------------------------------------------------------------------------ daphnet (real)
def test_daphnet_real_recordings_give_freeze_windows_of_five_patients(daphnet_real):
    assert daphnet_real.classes == ["no_freeze", "freeze"]
    assert set(np.unique(daphnet_real.subject)) == {1, 2, 3, 6, 7}
    assert daphnet_real.modality_names == ["ankle", "thigh", "trunk"]
    for x in daphnet_real.modalities.values():
        assert x.shape == (len(daphnet_real), 256, 3)
    assert 0 < (daphnet_real.y == 1).sum() < (daphnet_real.y == 0).sum()
    # Independent count of the 4 s / 2 s-step windows whose majority annotation is 1 or 2:
    # every window the loader keeps is one of these, none comes from annotation 0 alone.
    expected = 0
    for path in sorted((DAPHNET_DIR / "dataset").glob("S*R*.txt")):
        annotation = np.loadtxt(path, usecols=10, dtype=np.int64)
        for start in range(0, len(annotation) - 256 + 1, 128):
            counts = np.bincount(annotation[start : start + 256], minlength=3)
            expected += max(counts[1], counts[2]) > counts[0]
    assert len(daphnet_real) == expected


# -------------------------------------------------------------------- daphnet (fixtures)
def write_daphnet_file(path: Path, annotation: np.ndarray) -> np.ndarray:
    """A file in the publisher's format: ``time ankle(3) thigh(3) trunk(3) annotation``, ints."""
    n = len(annotation)
    table = np.zeros((n, 11), dtype=np.int64)
    table[:, 0] = np.round(np.arange(n) * 1000 / 64).astype(np.int64)
    table[:, 1] = np.arange(n)  # ankle_x = row index, to check where windows start
    table[:, 2:10] = np.random.default_rng(n).integers(-1000, 1000, size=(n, 8))
    table[:, 10] = annotation
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, table, fmt="%d", delimiter=" ")
    return table


def test_daphnet_fixture_maps_annotations_and_drops_ignored_windows(tmp_path):
    # 0 for 4 s, no freeze for 8 s, freeze for 4 s: 7 windows of 256 with step 128.
    annotation = np.repeat([0, 1, 2], [256, 512, 256])
    table = write_daphnet_file(tmp_path / "dataset" / "S01R02.txt", annotation)
    write_daphnet_file(tmp_path / "dataset" / "S12R01.txt", np.repeat([1, 0], [256, 256]))
    data = load_dataset("daphnet", data_dir=tmp_path)
    # S01R02: window 0 (all 0) and window 1 (half 0 / half 1, tie -> ignored) are dropped;
    # window 5 (half 1 / half 2) ties to no_freeze; S12R01 keeps its first window only.
    assert data.y.tolist() == [0, 0, 0, 0, 1, 0]
    assert data.subject.tolist() == [1, 1, 1, 1, 1, 12]
    assert data.modalities["ankle"][:5, 0, 0].tolist() == [256, 384, 512, 640, 768]
    np.testing.assert_array_equal(data.modalities["trunk"][0], table[256:512, 7:10])
    assert data.channels["thigh"] == ["thigh_x", "thigh_y", "thigh_z"]


def test_daphnet_accepts_text_files_directly_in_the_folder(tmp_path):
    write_daphnet_file(tmp_path / "S03R01.txt", np.ones(300, dtype=np.int64))
    data = get_dataset("daphnet").load(tmp_path, WindowOptions(window_s=2.0, overlap=0.0))
    assert len(data) == 2 and data.subject.tolist() == [3, 3]
    assert data.modalities["ankle"].shape == (2, 128, 3)


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("extra column", "line 11, saw 12"),
        ("missing column", "1 of 600 lines.*line 11"),
        ("nan", "1 of 600 lines.*line 11"),
        ("bad annotation", r"annotation values \[3"),
        ("empty", "cannot parse"),
    ],
)
def test_daphnet_corrupt_file_names_the_file(tmp_path, defect, reason):
    path = tmp_path / "dataset" / "S02R01.txt"
    write_daphnet_file(path, np.ones(600, dtype=np.int64))
    lines = path.read_text().splitlines()
    if defect == "extra column":
        lines[10] += " 5"
    elif defect == "missing column":
        lines[10] = lines[10].rsplit(" ", 1)[0]
    elif defect == "nan":
        fields = lines[10].split(" ")
        lines[10] = " ".join(fields[:3] + ["nan"] + fields[4:])
    elif defect == "bad annotation":
        lines[10] = lines[10].rsplit(" ", 1)[0] + " 3"
    else:
        lines = []
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=reason) as error:
        load_dataset("daphnet", data_dir=tmp_path)
    assert str(path) in str(error.value)


def test_daphnet_wrong_column_count_message_counts_lines(tmp_path):
    (tmp_path / "dataset").mkdir()
    np.savetxt(tmp_path / "dataset" / "S02R01.txt", np.ones((50, 12), dtype=np.int64), fmt="%d")
    with pytest.raises(DataFormatError, match=r"S02R01.txt has 12 columns in its 50 lines; expected 11"):
        load_dataset("daphnet", data_dir=tmp_path)


def test_daphnet_missing_folder_names_the_expected_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*dataset/SxxRyy\.txt"):
        load_dataset("daphnet", data_dir=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"nothing matches dataset/S\*R\*\.txt"):
        load_dataset("daphnet", data_dir=tmp_path / "empty")


# ---------------------------------------------------------------------------- synthetic
def test_synthetic_is_deterministic_under_the_seed():
    a, b = synthetic.make_synthetic(seed=3), synthetic.make_synthetic(seed=3)
    assert a.content_hash() == b.content_hash()
    np.testing.assert_array_equal(a.modalities["gyro"], b.modalities["gyro"])
    c = synthetic.make_synthetic(seed=4)
    assert not np.array_equal(a.modalities["acc"], c.modalities["acc"])


def test_synthetic_is_balanced_over_classes_and_subjects():
    data = synthetic.make_synthetic(n_windows=240, n_classes=4, n_subjects=6, modalities=("acc",), channels=2)
    assert data.modalities["acc"].shape == (240, 100, 2) and data.modalities["acc"].dtype == np.float32
    assert np.bincount(data.y).tolist() == [60] * 4
    assert data.subject.dtype == np.int64 and set(np.unique(data.subject)) == set(range(1, 7))
    for s in range(1, 7):  # every subject has every class
        assert set(data.y[data.subject == s]) == set(range(4))
    assert data.channels == {"acc": ["acc_0", "acc_1"]}


def test_synthetic_classes_are_learnable_across_subjects_from_spectra():
    data = synthetic.make_synthetic(seed=7)
    spectra = np.concatenate(
        [np.abs(np.fft.rfft(x, axis=1)).reshape(len(data), -1) for x in data.modalities.values()], axis=1
    )
    train = data.subject <= 4  # unseen subjects 5 and 6 test the per-subject gain/offset
    accuracy = NearestCentroid().fit(spectra[train], data.y[train]).score(spectra[~train], data.y[~train])
    assert accuracy > 0.8  # chance is 0.25


def test_synthetic_dataset_honours_window_and_rate():
    data = load_dataset("synthetic", window=WindowOptions(window_s=1.0, rate_hz=30.0))
    assert len(data) == 600 and data.modalities["acc"].shape == (600, 30, 3)
    assert data.rates_hz == {"acc": 30.0, "gyro": 30.0}
    default = load_dataset("synthetic")
    assert default.modalities["gyro"].shape == (600, 100, 3)
    assert default.content_hash() == synthetic.make_synthetic().content_hash()
