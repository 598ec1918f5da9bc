"""``name:variant`` datasets: the watch arm sides and UTD-MHAD's sliding-window variant."""

from __future__ import annotations

import numpy as np
import pytest

from automl_har import catalog
from automl_har.data.registry import WindowOptions, get_dataset, load_dataset, split_variant
from automl_har.errors import ConfigError, UnknownNameError
from tests.data.test_loaders_builtin import UTD_DIR, shared_folder, write_utd_trial

PAPER_WINDOW = WindowOptions(window_s=2.56, overlap=0.5, rate_hz=50.0)


def test_split_variant_separates_name_and_variant_but_not_file_paths(tmp_path):
    assert split_variant("realworld:chest") == ("realworld", "chest")
    assert split_variant("watch") == ("watch", None)
    assert split_variant(str(tmp_path / "my:data.npz")) == (str(tmp_path / "my:data.npz"), None)


def test_unknown_variant_lists_the_valid_ones_and_a_dataset_without_variants_refuses_one():
    with pytest.raises(UnknownNameError, match="side0, side1"):
        get_dataset("watch:left")
    with pytest.raises(ConfigError, match="has no variants.*use the plain name 'synthetic'"):
        get_dataset("synthetic:x")


def test_watch_sides_split_the_release_into_two_domains_of_the_same_seven_exercises():
    every = load_dataset("watch", window=PAPER_WINDOW)
    side0, side1 = (load_dataset(f"watch:{side}", window=PAPER_WINDOW) for side in ("side0", "side1"))
    assert len(side0) + len(side1) == len(every) == 3605  # the spec's count at 128 samples / 50 %
    assert side0.classes == side1.classes == every.classes
    assert set(np.unique(side0.y)) == set(np.unique(side1.y)) == set(range(7))
    assert sorted(np.unique(side0.subject)) == sorted(np.unique(side1.subject)) == list(range(1, 11))
    # no window is in both sides
    first = {w.tobytes() for w in side0.modalities["acc"][:200]}
    assert not first & {w.tobytes() for w in side1.modalities["acc"]}


def test_catalog_lists_the_variants():
    assert catalog.DATASETS["watch"].variants == ("all", "side0", "side1")
    assert catalog.DATASETS["utd-mhad"].variants == ("trials", "windows")


def test_utd_mhad_windows_variant_cuts_trials_at_the_native_rate_without_time_warp(tmp_path):
    rng = np.random.default_rng(3)
    long_iner, _ = write_utd_trial(tmp_path, 5, 1, 1, rng, samples=200)
    write_utd_trial(tmp_path, 6, 2, 1, rng, samples=100)  # shorter than 128 samples: dropped
    with pytest.warns(UserWarning, match="dropped 1 of 2 trials"):
        data = load_dataset("utd-mhad:windows", tmp_path, PAPER_WINDOW)
    assert set(data.modalities) == {"acc", "gyro"}  # the IMU only
    assert len(data) == 2  # starts 0 and 64 of 200 samples
    np.testing.assert_allclose(data.modalities["acc"][1], long_iner[64:192, :3], rtol=1e-6)
    assert data.y.tolist() == [4, 4] and data.subject.tolist() == [1, 1]


def test_utd_mhad_windows_variant_on_the_real_release():
    with pytest.warns(UserWarning, match="shorter than one"):
        data = load_dataset("utd-mhad:windows", shared_folder(UTD_DIR), PAPER_WINDOW)
    assert len(data) == 1148 and data.modalities["acc"].shape[1:] == (128, 3)
