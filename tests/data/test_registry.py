"""Dataset registry: names, data-folder resolution, the datasets table, clear errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.data.registry import dataset_names, dataset_statuses, default_data_dir, get_dataset, load_dataset
from automl_har.errors import DatasetNotFoundError, UnknownNameError


def test_every_spine_dataset_is_registered():
    assert {"watch", "utd-mhad", "daphnet", "synthetic", "custom"} <= set(dataset_names())


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UnknownNameError, match="unknown dataset 'nope'.*watch"):
        get_dataset("nope")


def test_data_root_from_environment_finds_underscored_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHAR_DATA", str(tmp_path))
    assert default_data_dir("utd-mhad") == tmp_path / "utd-mhad"
    (tmp_path / "utd_mhad").mkdir()
    assert default_data_dir("utd-mhad") == tmp_path / "utd_mhad"
    monkeypatch.delenv("AUTOHAR_DATA")
    assert default_data_dir("daphnet").parts[-3:] == (".autohar", "data", "daphnet")


def test_missing_folder_error_names_the_expected_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHAR_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*--data-dir.*\$AUTOHAR_DATA"):
        load_dataset("daphnet")


def test_statuses_and_table_say_where_each_dataset_looks(tmp_path):
    (tmp_path / "daphnet" / "dataset").mkdir(parents=True)
    (tmp_path / "daphnet" / "dataset" / "S01R01.txt").write_text("0 1 2 3 4 5 6 7 8 9 1\n")
    rows = {r.entry.name: r for r in dataset_statuses(tmp_path)}
    assert rows["daphnet"].found and rows["daphnet"].looks_in == str(tmp_path / "daphnet")
    assert not rows["utd-mhad"].found and "Inertial" in rows["utd-mhad"].detail
    assert rows["watch"].found and rows["synthetic"].found
    result = CliRunner().invoke(app, ["datasets", "--data-root", str(tmp_path)])
    assert result.exit_code == 0
    for name in ("watch", "utd-mhad", "daphnet", "synthetic", "custom"):
        assert name in result.output
