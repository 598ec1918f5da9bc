"""Issue 12 item 7b: on a dataset with inertial and other sensors, MaskCAE reads the inertial
ones (the paper's acc + gyro) unless the experiment names its modalities."""

from __future__ import annotations

import numpy as np
import pytest

from automl_har.data import WindowedData
from automl_har.data._types import DatasetInfo
from automl_har.data import registry
from automl_har.data.registry import DatasetEntry, WindowOptions, inertial_modalities
from automl_har.objectives import run_trial
from automl_har.objectives.prepared import prepare_data
from automl_har.objectives.protocol import ExperimentSpec, Protocol, default_modalities

TINY = {"pretrain_epochs": 1, "pretrain_batch_size": 16, "finetune_epochs": 1, "finetune_batch_size": 16,
        "decoder_kernel": 3, "decoder_width": 16}


def imu_and_skeleton(data_dir, window) -> WindowedData:
    """48 windows of acc + gyro (3 channels each) and a 12-channel skeleton, 4 subjects, 3 classes."""
    rng = np.random.default_rng(0)
    n, t = 48, 16
    y = np.arange(n) % 3
    return WindowedData(
        modalities={"acc": rng.normal(size=(n, t, 3)) + y[:, None, None], "gyro": rng.normal(size=(n, t, 3)),
                    "skeleton": rng.normal(size=(n, 8, 12))},
        y=y, subject=np.repeat(np.arange(1, 5), n // 4), classes=["a", "b", "c"],
        rates_hz={"acc": 16.0, "gyro": 16.0, "skeleton": 8.0},
    )


@pytest.fixture
def mixed_dataset(monkeypatch):
    info = DatasetInfo(name="test-imu-skeleton", description="acc, gyro and a skeleton",
                       modalities={"acc": ("x", "y", "z"), "gyro": ("x", "y", "z"), "skeleton": tuple("abcdefghijkl")},
                       rates_hz={"acc": 16.0, "gyro": 16.0, "skeleton": 8.0}, classes=("a", "b", "c"),
                       needs_data_dir=False, inertial=("acc", "gyro"))
    registry._ensure_loaders_imported()
    monkeypatch.setitem(registry._REGISTRY, info.name, DatasetEntry(info=info, load=imu_and_skeleton, default_window_s=1.0))
    return info.name


def test_datasets_declare_their_inertial_modalities(mixed_dataset):
    assert inertial_modalities("utd-mhad") == ("acc", "gyro")  # not the Kinect skeleton
    assert inertial_modalities("watch") == ("acc", "gyro")  # every modality inertial (the default)
    assert inertial_modalities(mixed_dataset) == ("acc", "gyro")
    assert inertial_modalities("my/own/file.npz") is None  # known only once loaded


def test_a_method_that_reads_inertial_sensors_loads_only_those(mixed_dataset):
    assert default_modalities("maskcae", "utd-mhad") == ("acc", "gyro")
    assert default_modalities("maskcae", "watch") is None  # nothing to leave out: all of them
    assert default_modalities("cosmo", "utd-mhad") is None  # cosmo reads every modality
    assert ExperimentSpec(method="maskcae", dataset="utd-mhad").modalities == ("acc", "gyro")
    named = ExperimentSpec(method="maskcae", dataset="utd-mhad", modalities=("acc", "gyro", "skeleton"))
    assert named.modalities == ("acc", "gyro", "skeleton")  # --modalities wins
    spec = ExperimentSpec(method="maskcae", dataset=mixed_dataset, protocol=Protocol(labels_per_class=2))
    assert spec.as_tags()["modalities"] == "acc,gyro"  # what ran is recorded
    assert ExperimentSpec.from_dict({**spec.__dict__, "window": {}, "protocol": {}}).modalities == ("acc", "gyro")
    assert set(prepare_data(spec).train.modalities) == {"acc", "gyro"}


def test_maskcae_model_reads_and_names_only_the_inertial_modalities(mixed_dataset):
    spec = ExperimentSpec(method="maskcae", dataset=mixed_dataset, window=WindowOptions(window_s=1.0),
                          protocol=Protocol(labels_per_class=2, repeats=1, val_subjects=(3,), test_subjects=(4,)),
                          budget=1.0)
    result = run_trial(TINY, spec)
    assert result.checkpoint["modalities"] == ["acc", "gyro"]
    assert result.checkpoint["build_kwargs"]["n_sensors"] == 6  # 3 acc + 3 gyro columns, no skeleton
    assert np.isfinite(result.value)
