"""Bad input stops with one ``error:`` line naming the problem and the fix, and a non-zero exit."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

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
    result = search(tmp_path, "--dataset", str(path))
    assert_one_line_error(result, "broken.npz is not a valid .npz file", "corrupt", "np.savez")
    assert "allow_pickle" not in result.output  # numpy's hint would be wrong (no pickle here) and unsafe


def test_nans_in_npz(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 50, 3)).astype(np.float32)
    x[5, 3, 1] = np.nan
    path = tmp_path / "nans.npz"
    np.savez(path, X_acc=x, y=np.arange(60) % 3, subject=np.arange(60) % 6)
    assert_one_line_error(search(tmp_path, "--dataset", str(path)), "NaN", "nans.npz")


@pytest.mark.parametrize(
    "option, fragment",
    [
        (["--label-ratio", "1.5"], "protocol.label_ratio (--label-ratio): must be in [0, 1], but got 1.5"),
        (["--overlap", "1.2"], "data.window.overlap (--overlap): must be in [0, 1), but got 1.2"),
        (["--budget", "-1"], "search.budget (--budget): must be in (0, 10], but got -1.0"),
        (["--trials", "0"], "search.trials (--trials): must be >= 1, but got 0"),
        (["--repeats", "0"], "protocol.repeats (--repeats): must be in [1, 499], but got 0"),
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
    # 50 fits the training part (100 per class) but not the one validation subject (25 per class)
    (["--validation", "few", "--labels-per-class", "50", "--val-subjects", "5", "--test-subjects", "6"],
     ["--validation few draws 50 validation windows per class", "lower --labels-per-class"]),
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


# ------------------------------------------------------------------------------ storage and workdir
def test_unknown_storage_kind(tmp_path):
    result = search(tmp_path, "--dataset", "synthetic", "--storage", "bogus://nowhere")
    assert_one_line_error(result, "storage bogus://nowhere: unknown database kind 'bogus'", "sqlite:///",
                          "leave out --storage", code=2)
    assert not (tmp_path / "mlflow.db").exists()


def test_sqlite_storage_in_a_missing_folder(tmp_path):
    url = f"sqlite:///{tmp_path}/no/dir/x.db"
    assert_one_line_error(run("show", "x", "--storage", url), f"folder {tmp_path}/no/dir does not exist", code=2)
    assert_one_line_error(run("studies", "--storage", url), "does not exist", code=2)


def test_workdir_that_is_a_file(tmp_path):
    file = tmp_path / "runs"
    file.write_text("not a folder")
    assert_one_line_error(search(file, "--dataset", "synthetic"), f"{file} is a file, not a folder", "--workdir",
                          code=2)
    assert_one_line_error(search(file / "inside", "--dataset", "synthetic"), f"{file} is a file", code=2)
    assert file.read_text() == "not a folder"


def _refuse_mkdir_in(folder: Path, monkeypatch) -> None:
    """``Path.mkdir`` under ``folder`` fails as on a read-only mount (tests run as root: chmod would not)."""
    mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if self == folder or folder in self.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)


def _refuse_files_in(folder: Path, monkeypatch) -> None:
    """Creating a file in ``folder`` fails as in a folder without write permission."""
    import automl_har.workspace

    def no_permission(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(automl_har.workspace.tempfile, "TemporaryFile", no_permission)


@pytest.mark.parametrize("refuse, reason", [(_refuse_mkdir_in, "Read-only file system"),
                                            (_refuse_files_in, "Permission denied")])
def test_workdir_that_takes_no_writes(tmp_path, monkeypatch, refuse, reason):
    workdir = tmp_path / "runs"
    workdir.mkdir()
    refuse(workdir, monkeypatch)
    result = search(workdir, "--dataset", "synthetic")
    assert_one_line_error(result, f"workdir {workdir} is not writable ({reason})", "pass a folder you can write to",
                          code=2)
    assert not (workdir / "optuna-journal.log").exists() and not (workdir / "mlflow.db").exists()


# ------------------------------------------------------------------------------ numbers in messages
def test_messages_show_plain_numbers(tmp_path):
    result = search(tmp_path, "--dataset", "synthetic", "--val-subjects", "1,2", "--test-subjects", "2,3")
    assert_one_line_error(result, "subjects [2] are in both val_subjects and test_subjects", code=2)
    folder = tmp_path / "csv"
    folder.mkdir()
    rows = [f"{i / 50},{i % 7},{'nan' if i == 3 else i % 5},walk" for i in range(200)]
    (folder / "a.csv").write_text("\n".join(["timestamp,acc_x,acc_y,label", *rows]))
    result = search(tmp_path, "--dataset", str(folder))
    assert_one_line_error(result, "column 'acc_y' has 1 missing, non-numeric or too large values",
                          "(first on line 5: nan)")
    assert "np." not in result.output


# ------------------------------------------------------------------------------ export, predict, train
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(workspace, bundle)``: a one-trial study on synthetic data and its exported bundle."""
    root = tmp_path_factory.mktemp("exported")
    result = search(root / "ws", "--dataset", "synthetic", "--param", "depth=1", "--param", "width=8")
    assert result.exit_code == 0, result.output
    result = run("export", "supervised-synthetic", "--workdir", str(root / "ws"), "--out", str(root / "bundle"))
    assert result.exit_code == 0, result.output
    return root / "ws", root / "bundle"


def test_export_to_a_file(exported, tmp_path):
    workspace, _ = exported
    file = tmp_path / "model.zip"
    file.write_text("keep me")
    result = run("export", "supervised-synthetic", "--workdir", str(workspace), "--out", str(file))
    assert_one_line_error(result, f"--out {file} is a file", "pass a new or existing folder to --out", code=2)
    assert file.read_text() == "keep me"


def test_predict_with_a_corrupt_bundle_config(exported, tmp_path):
    _, bundle = exported
    broken = tmp_path / "bundle"
    shutil.copytree(bundle, broken)
    (broken / "autohar.yaml").write_text("format: autohar-bundle/1\nclasses: [walk, sit\n")
    recording = tmp_path / "rec.csv"
    recording.write_text("timestamp,acc_x\n0,1\n")
    result = run("predict", str(broken), str(recording))
    assert_one_line_error(result, f"{broken / 'autohar.yaml'} is not valid YAML", "at line 3, column 1",
                          "autohar export", code=2)
    (broken / "autohar.yaml").write_text("format: autohar-bundle/1\nclasses: [walk, sit]\n")
    assert_one_line_error(run("predict", str(broken), str(recording)), "lacks method, modalities", code=2)


def test_predict_on_a_corrupt_npz(exported, tmp_path):
    _, bundle = exported
    recording = tmp_path / "rec.npz"
    recording.write_bytes(b"PK\x03\x04 a zip header and then nothing")
    result = run("predict", str(bundle), str(recording))
    assert_one_line_error(result, "rec.npz is not a valid .npz file", "corrupt", "np.savez")
    assert "allow_pickle" not in result.output


def test_predict_reports_wrong_columns_before_asking_for_the_rate(exported, tmp_path):
    _, bundle = exported
    recording = tmp_path / "rec.csv"
    recording.write_text("time,ax,ay,az\n" + "".join(f"{i / 50},1,2,3\n" for i in range(200)))
    result = run("predict", str(bundle), str(recording))
    assert_one_line_error(result, "rec.csv lacks channels acc_x", "found time, ax, ay, az")
    assert "--rate" not in result.output


def test_train_with_a_missing_config(tmp_path):
    missing = tmp_path / "missing.yaml"
    result = run("train", "--config", str(missing))
    assert_one_line_error(result, f"{missing} does not exist", "autohar.yaml", code=2)
    assert "pass a folder" not in result.output
