"""``autohar reproduce``: the registry, a test entry end to end on synthetic data, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har import papers
from automl_har.papers import PaperTarget, get_target
from automl_har.workspace import Workspace


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def synthetic_target(monkeypatch):
    """A test entry: the supervised baseline on synthetic data, train/test only (no validation subject)."""
    target = PaperTarget(name="test-synthetic", paper="a test paper", source="Table 0", method="supervised",
                         metric="macro_f1", value=0.5, std=None, params={"depth": 1, "width": 8, "epochs": 40},
                         layer={"data": {"dataset": "synthetic"}, "protocol": {
                             "val_subjects": [], "test_subjects": [5, 6], "labels_per_class": 4, "repeats": 2}})
    monkeypatch.setitem(papers.TARGETS, target.name, target)
    return target


def test_registry_holds_the_papers_protocols():
    cosmo = get_target("cosmo-utd")
    assert (cosmo.method, cosmo.metric, cosmo.value, cosmo.std, cosmo.tolerance) == ("cosmo", "accuracy", 0.6093, None, 0.03)
    p = cosmo.experiment().protocol
    assert p.val_subjects == () and p.test_subjects == (7, 8) and p.labels_per_class == 1
    assert p.repeats == 5 and not p.has_validation
    assert cosmo.preset == "cosmo-utd"  # the search preset minus its validation subject: one home for the protocol
    img = get_target("img2imu-daphnet-random")
    assert (img.value, img.std, img.metric, img.params) == (0.456, 0.090, "macro_f1", {"pretrain_source": "random"})
    full = get_target("img2imu-daphnet-random-full")  # the paper's other reading: the whole network trained
    assert (full.value, full.params) == (0.456, {"pretrain_source": "random", "finetune_mode": "full"})
    assert full.experiment() == img.experiment() and "img2imu-daphnet-random-full" in img.notes
    spec = img.experiment()
    assert spec.window.rate_hz == 50.0 and spec.modalities == ("ankle",) and spec.protocol.labels_per_class == 10
    ours = get_target("img2imu-daphnet")
    assert (ours.value, ours.std, ours.metric, ours.params) == (0.547, 0.085, "macro_f1", {"pretrain_source": "images"})
    assert ours.experiment() == spec


def test_img2imu_daphnet_needs_image_weights_and_says_so_instead_of_a_number(tmp_path):
    result = run_cli("reproduce", "img2imu-daphnet", "--data-dir", tmp_path / "nowhere", "--workdir", tmp_path / "ws")
    assert result.exit_code != 0
    line = result.output.strip()
    assert line.startswith("error: pretrain_source='images' needs --images or encoder_weights") and "\n" not in line
    assert not (tmp_path / "ws").exists()  # checked before any data is read or anything recorded
    weights = tmp_path / "resnet18.pth"  # with --param encoder_weights the params pass; the data is next
    result = run_cli("reproduce", "img2imu-daphnet", "--param", f"encoder_weights={weights}",
                     "--data-dir", tmp_path / "nowhere", "--workdir", tmp_path / "ws")
    assert result.exit_code != 0 and result.output.strip().startswith("error: data not found for img2imu-daphnet")


DAPHNET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "daphnet"


@pytest.mark.skipif(not DAPHNET.is_dir(), reason=f"real Daphnet data not found at {DAPHNET}")
def test_img2imu_daphnet_targets_run_at_the_papers_50_hz():
    from automl_har.objectives.prepared import prepare_folds

    for name in ("img2imu-daphnet-random", "img2imu-daphnet"):
        (fold,) = prepare_folds(get_target(name).experiment(data_dir=str(DAPHNET)))
        assert fold.train.rates_hz == {"ankle": 50.0}  # resampled from Daphnet's 64 Hz
        assert fold.train.modalities["ankle"].shape[1:] == (200, 3)  # 4 s at 50 Hz


def test_reproduce_runs_a_target_end_to_end_and_logs_a_run(synthetic_target, tmp_path):
    result = run_cli("reproduce", "test-synthetic", "--budget", 1.0, "--workdir", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert "train subjects [1, 2, 3, 4] (400 windows), validation none (0), test [5, 6] (200)" in out
    assert "macro_f1 per repeat:" in out and "paper 0.5000 | autohar" in out and "±0.03 (the paper gives no std)" in out
    assert "classes predicted on test per repeat: 4, 2 (of 4 classes)" in out and "degenerate" not in out
    assert "floors (macro_f1 on the same test windows): majority class 0.1000 | linear probe" in out
    ws = Workspace.resolve(tmp_path)
    client = MlflowClient(ws.tracking_uri)
    experiment = client.get_experiment_by_name("autohar-reproduce")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["autohar.target"] == "test-synthetic"
    assert {"test_macro_f1_mean", "test_macro_f1_std", "paper_value", "delta", "within", "degenerate",
            "test_majority_macro_f1_mean", "test_linear_probe_macro_f1_mean",
            "test_classes_predicted_min"} <= set(run.data.metrics)
    assert run.data.metrics["degenerate"] == 0.0 and run.data.metrics["test_majority_macro_f1_mean"] == 0.1
    assert run.data.params["protocol.val_subjects"] == "()" and run.data.params["param.depth"] == "1"
    csv = client.download_artifacts(run.info.run_id, "reproduce/test-synthetic.csv", str(tmp_path))
    lines = open(csv).read().splitlines()
    assert lines[0] == "target,repeat,metric,autohar,paper,paper_std" and len(lines) == 1 + 2 + 1 + 2
    assert lines[-2].startswith("test-synthetic,mean,macro_f1 (majority floor),0.1")
    mean = float(lines[-3].split(",")[3])
    assert run.data.metrics["test_macro_f1_mean"] == pytest.approx(mean)
    assert run.data.metrics["delta"] == pytest.approx(mean - 0.5)


def test_a_single_class_model_is_reported_degenerate_never_within_the_papers_band(synthetic_target, tmp_path,
                                                                                   monkeypatch):
    # 3 epochs of the tiny net predict one class on every test window of both draws (0.1000 = the
    # majority floor), and the paper's 0.5 +- 0.03 band must not hide it
    target = PaperTarget(**{**synthetic_target.__dict__, "params": {"depth": 1, "width": 8, "epochs": 3},
                            "value": 0.1})
    monkeypatch.setitem(papers.TARGETS, target.name, target)
    result = run_cli("reproduce", "test-synthetic", "--workdir", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "classes predicted on test per repeat: 1, 1 (of 4 classes)" in out
    assert ("| degenerate: repeats 0, 1 predict a single class; the mean 0.1000 does not beat the majority floor "
            "0.1000") in out
    assert "within" not in out and "(autohar is below its linear probe: a finding to explain)" in out
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("autohar-reproduce").experiment_id])
    assert run.data.metrics["degenerate"] == 1.0 and run.data.metrics["within"] == 0.0
    assert run.data.tags["autohar.verdict"] == "degenerate"


def test_reproduce_list_shows_every_target_and_its_data(synthetic_target, tmp_path):
    result = run_cli("reproduce", "--list", "--data-dir", tmp_path / "absent")
    assert result.exit_code == 0
    assert "cosmo-utd" in result.output and "test-synthetic" in result.output and "not found" in result.output


def test_unknown_target_lists_the_valid_names():
    result = run_cli("reproduce", "cosmo-ut")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: unknown reproduce target 'cosmo-ut'; choose one of combined-lodo-deepconvlstm, "
                                     "combined-lodo-hart, combined-lodo-ispl_inception, combined-lodo-mobilehart_xs, cosmo-utd, img2imu-daphnet, "
                                     "img2imu-daphnet-random, img2imu-daphnet-random-full, labeltrain-utd-imu, labeltrain-utd-skeleton, "
                                     "maskcae-motionsense, maskcae-uci, maskcae-usc, mesen-utd-imu, mesen-utd-skeleton")


def test_missing_data_folder_names_the_expected_files_and_data_dir(tmp_path):
    result = run_cli("reproduce", "cosmo-utd", "--data-dir", tmp_path / "nowhere", "--workdir", tmp_path / "ws")
    assert result.exit_code != 0
    line = result.output.strip()
    assert line.startswith("error: data not found for cosmo-utd") and "\n" not in line
    assert "Inertial/aA_sS_tT_inertial.mat" in line and "--data-dir" in line
    assert not (tmp_path / "ws").exists()  # nothing was recorded


def test_a_target_with_a_second_metric_reports_both_on_the_same_repeats(synthetic_target, monkeypatch, tmp_path):
    """MESEN's Table 2 gives accuracy and F1 for each run: both are measured and shown side by side."""
    import dataclasses

    both = dataclasses.replace(synthetic_target, name="test-both", metric="accuracy", value=0.6, also={"macro_f1": 0.5})
    monkeypatch.setitem(papers.TARGETS, both.name, both)
    result = run_cli("reproduce", "test-both", "--budget", 1.0, "--workdir", tmp_path, "--device", "cpu")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "accuracy per repeat:" in out and "macro_f1: paper 0.5000 | autohar" in out
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("autohar-reproduce").experiment_id])
    assert {"test_accuracy_mean", "test_macro_f1_mean", "paper_macro_f1"} <= set(run.data.metrics)
    csv = client.download_artifacts(run.info.run_id, "reproduce/test-both.csv", str(tmp_path))
    last = open(csv).read().splitlines()[-1].split(",")
    assert last[2] == "macro_f1" and float(last[3]) == pytest.approx(run.data.metrics["test_macro_f1_mean"])
    with pytest.raises(Exception, match="unknown metric 'f1'"):
        dataclasses.replace(both, also={"f1": 0.5})


def test_mesen_targets_are_table_2_rows_on_the_papers_protocol():
    rows = {name: get_target(name) for name in ("mesen-utd-imu", "mesen-utd-skeleton", "labeltrain-utd-imu",
                                                "labeltrain-utd-skeleton")}
    assert {n: (t.value, t.also["macro_f1"]) for n, t in rows.items()} == {
        "mesen-utd-imu": (0.628, 0.583), "mesen-utd-skeleton": (0.735, 0.702),
        "labeltrain-utd-imu": (0.411, 0.358), "labeltrain-utd-skeleton": (0.643, 0.587)}
    for name, target in rows.items():
        protocol = target.experiment().protocol
        assert (protocol.split, protocol.test_subjects, protocol.labels_per_class, protocol.repeats) == (
            "windows", (7, 8), 1, 5)
        assert target.params["modality"] == ("skeleton" if "skeleton" in name else "acc+gyro")
        labeltrain = name.startswith("labeltrain")
        assert (target.params.get("pretrain_losses"), target.params.get("lambda_fr")) == (
            ("none", 0.0) if labeltrain else (None, None))
