"""Bad input stops with one ``error:`` line naming the problem and the fix, and a non-zero exit."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.storage import open_storage


def run(*args):
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result, *fragments, code=None):
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def search(workdir, *args):
    return run("search", "--method", "supervised", "--trials", "1", "--budget", "0.02", "--repeats", "1",
               "--quiet", "--workdir", str(workdir), *args)


def test_unknown_method(tmp_path):
    assert_one_line_error(run("search", "--method", "nope", "--dataset", "watch"), "'nope' is not one of", "supervised", code=2)


def test_unknown_dataset(tmp_path):
    assert_one_line_error(search(tmp_path, "--dataset", "nope"), "unknown dataset 'nope'", "watch", code=2)
    assert not (tmp_path / "optuna-journal.log").exists()  # nothing was started


def test_missing_dataset_folder(tmp_path):
    result = search(tmp_path, "--dataset", "daphnet", "--data-dir", str(tmp_path / "absent"))
    assert_one_line_error(result, "does not exist", "--data-dir", "SxxRyy")


def test_incomplete_dataset_folder(tmp_path):
    (tmp_path / "utd").mkdir()
    result = search(tmp_path, "--dataset", "utd-mhad", "--data-dir", str(tmp_path / "utd"))
    assert_one_line_error(result, "incomplete", "inertial.mat")


def test_corrupt_npz(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"this is not a zip file at all")
    assert_one_line_error(search(tmp_path, "--dataset", str(path)), "broken.npz", "npz")


def test_nans_in_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 50, 3)).astype(np.float32)
    x[5, 3, 1] = np.nan
    path = tmp_path / "nans.npz"
    np.savez(path, X_acc=x, y=np.arange(60) % 3, subject=np.arange(60) % 6)
    assert_one_line_error(search(tmp_path, "--dataset", str(path)), "NaN", "nans.npz")


@pytest.mark.parametrize(
    "option, fragment",
    [
        (["--label-ratio", "1.5"], "label_ratio=1.5"),
        (["--overlap", "1.2"], "overlap=1.2"),
        (["--budget", "-1"], "--budget"),
        (["--trials", "0"], "--trials"),
        (["--sampler", "annealing"], "--sampler"),
        (["--pruner", "sometimes"], "--pruner"),
        (["--labels-per-class", "3", "--label-ratio", "0.1"], "either --labels-per-class or --label-ratio"),
    ],
)
def test_out_of_range_options(tmp_path, option, fragment):
    assert_one_line_error(search(tmp_path, "--dataset", "synthetic", *option), fragment, code=2)


def test_modality_the_dataset_does_not_have(tmp_path):
    assert_one_line_error(search(tmp_path, "--dataset", "synthetic", "--modalities", "magnetometer"),
                          "unknown modality 'magnetometer'", "acc")


def test_studies_without_a_workspace(tmp_path):
    assert_one_line_error(run("studies", "--workdir", str(tmp_path / "none")), "no studies", "autohar search", code=2)


def test_unknown_fixed_param(tmp_path):
    assert_one_line_error(search(tmp_path, "--dataset", "synthetic", "--param", "lrr=0.1"),
                          "no hyperparameter 'lrr'", "valid names", code=2)
    assert_one_line_error(search(tmp_path, "--dataset", "synthetic", "--param", "lr"), "KEY=VALUE", code=2)


# ------------------------------------------------------------------------------ protocol splits
@pytest.mark.parametrize("args, fragments", [
    (["--split", "folds:1"], ["needs K >= 2 folds, but got folds:1"]),
    (["--split", "folds:9", "--test-subjects", "6"], ["folds:9 needs at least 9 subjects outside the test part, but only 5"]),
    (["--split", "windows", "--val-subjects", "4", "--test-subjects", "5,6"],
     ["same held-out subjects", "give the held-out subjects as --test-subjects only"]),
    (["--validation", "few", "--labels-per-class", "150", "--val-subjects", "5", "--test-subjects", "6"],
     ["--validation few draws 150 validation windows per class", "lower --labels-per-class"]),
    (["--val-subjects", "none", "--test-subjects", "6"], ["a search selects on validation", "autohar reproduce"]),
])
def test_bad_protocol_is_refused_before_anything_is_recorded(tmp_path, args, fragments):
    assert_one_line_error(search(tmp_path, "--dataset", "synthetic", *args), *fragments)
    assert not (tmp_path / "optuna-journal.log").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_good_folds_search_records_its_protocol(tmp_path):
    import optuna

    from automl_har.workspace import Workspace

    result = search(tmp_path, "--dataset", "synthetic", "--split", "folds:2", "--validation", "few",
                    "--labels-per-class", "3", "--split-seed", "7", "--test-subjects", "6")
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(Workspace.resolve(tmp_path).optuna_storage_url))
    attrs = study.user_attrs
    assert (attrs["protocol.split"], attrs["protocol.validation"], attrs["protocol.split_seed"]) == ("folds:2", "few", "7")


def test_mistyped_param_is_refused_before_anything_is_recorded(tmp_path):
    result = search(tmp_path, "--dataset", "synthetic", "--param", "lr=abc")
    assert_one_line_error(result, "hyperparameter 'lr' of method 'supervised' must be a float, but got lr='abc' (str)",
                          "--param lr=0.001")
    assert not (tmp_path / "optuna-journal.log").exists() and not (tmp_path / "mlflow.db").exists()
