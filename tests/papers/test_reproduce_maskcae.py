"""MaskCAE's Table III entries of ``autohar reproduce``: protocols, "data not found", and one entry
end to end on a tiny USC-HAD folder written in the publisher's format."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.papers import get_target, missing_data

ENTRIES = {"maskcae-usc": ("usc-had", 0.6432), "maskcae-uci": ("uci-har", 0.9459),
           "maskcae-motionsense": ("motionsense", 0.9035)}


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entries_hold_the_papers_protocol(name):
    target = get_target(name)
    dataset, value = ENTRIES[name]
    assert (target.method, target.dataset, target.metric, target.value) == ("maskcae", dataset, "macro_f1", value)
    spec = target.experiment()
    assert spec.modalities == ("acc", "gyro") and spec.budget == 1.0
    assert (spec.window.rate_hz, spec.window.window_s, spec.window.overlap) == (30.0, 1.0, 0.5)
    assert spec.protocol.label_ratio == 1.0 and spec.protocol.labels_per_class is None
    assert spec.protocol.repeats == 5
    if name == "maskcae-usc":
        assert spec.protocol.val_subjects == (11, 12) and spec.protocol.test_subjects == (13, 14)
    else:  # 20% test, 20% of the remaining subjects for validation
        assert spec.protocol.test_fraction == 0.2 and spec.protocol.val_fraction == pytest.approx(0.8 * 0.2)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_a_missing_folder_is_data_not_found_in_one_line(name, tmp_path):
    assert missing_data(get_target(name), str(tmp_path / "nowhere")).startswith(f"data not found for {name}")
    result = run_cli("reproduce", name, "--data-dir", tmp_path / "nowhere", "--workdir", tmp_path / "ws")
    assert result.exit_code != 0
    line = result.output.strip()
    assert line.startswith(f"error: data not found for {name}") and "\n" not in line and "--data-dir" in line
    assert not (tmp_path / "ws").exists()


def write_usc_had(folder, subjects=(1, 2, 11, 12, 13, 14), activities=(1, 8), samples=400):
    """USC-HAD's layout: ``USC-HAD/Subject<s>/a<act>t<trial>.mat`` with ``sensor_readings`` (n, 6)
    at 100 Hz (acc in g, gyro in deg/s)."""
    rng = np.random.default_rng(0)
    for subject in subjects:
        for activity in activities:
            path = folder / "USC-HAD" / f"Subject{subject}" / f"a{activity}t1.mat"
            path.parent.mkdir(parents=True, exist_ok=True)
            x = rng.normal(size=(samples, 6)) + activity  # a class-dependent offset
            savemat(path, {"sensor_readings": x, "subject": str(subject), "activity_number": str(activity),
                           "trial": "1", "sensor_location": "front-right-hip"})


def test_maskcae_usc_runs_end_to_end_on_a_tiny_usc_had_folder(tmp_path):
    write_usc_had(tmp_path / "data")
    result = run_cli("reproduce", "maskcae-usc", "--data-dir", tmp_path / "data", "--budget", 0.001,
                     "--repeats", 1, "--workdir", tmp_path / "ws", "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    # 400 samples at 100 Hz -> 120 at 30 Hz -> 7 one-second windows with 50% overlap, per file
    assert "train subjects [1, 2] (28 windows), validation [11, 12] (28), test [13, 14] (28)" in out
    assert "macro_f1 per repeat:" in out and "paper 0.6432" in out
