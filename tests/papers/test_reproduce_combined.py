"""Presotto et al.'s leave-one-dataset-out entries of ``autohar reproduce`` (``combined-lodo-*``):
the numbers, the six experiments of a pool target, "data not found" for the whole pool, and a
tiny pool reproduction on three synthetic domains."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.data.loaders.synthetic import write_synthetic_domains
from automl_har.data.registry import WindowOptions, get_dataset
from automl_har.errors import ConfigError
from automl_har import papers
from automl_har.papers.entries import LODO_DATASETS
from automl_har.papers import PaperTarget, get_target, missing_data
from automl_har.workspace import Workspace

#: Fig. 3 = the 1 % AVG columns of Tables III, IV, V, VII: (table, Rd, P_F, P_U)
FIG_3 = {"ispl_inception": ("Table III", 0.7242, 0.7609, 0.7753), "hart": ("Table IV", 0.6119, 0.6549, 0.7483),
         "mobilehart_xs": ("Table V", 0.3678, 0.6325, 0.7310), "deepconvlstm": ("Table VII", 0.7150, 0.5171, 0.6419)}


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("architecture", sorted(FIG_3))
def test_entries_hold_the_1_percent_pu_avg_of_each_table(architecture):
    target = get_target(f"combined-lodo-{architecture}")
    table, rd, pf, pu = FIG_3[architecture]
    assert (target.method, target.metric, target.value) == ("combined", "macro_f1", pu)
    assert target.params == {"architecture": architecture, "strategy": "PU"}
    assert target.datasets == LODO_DATASETS == ("hhar", "mobiact", "motionsense", "realworld", "uci-har", "pamap2")
    assert target.dataset == "hhar" and table in target.source and "AVG" in target.source
    assert f"Rd {rd:.4f}" in target.notes and f"P_F {pf:.4f}" in target.notes  # the other strategies, shown
    assert "single run" in target.notes and "inside its test set" in target.notes and "training windows only" in target.notes
    assert set(target.per_dataset) == set(LODO_DATASETS)
    assert np.mean(list(target.per_dataset.values())) == pytest.approx(pu, abs=1e-4)  # the table's rows give its AVG


def test_a_pool_target_runs_one_experiment_per_dataset_with_the_others_as_sources(tmp_path):
    target = get_target("combined-lodo-hart")
    specs = target.experiments(budget=0.5, repeats=2, data_dirs=(("pamap2", str(tmp_path / "p")),))
    assert [s.dataset for s in specs] == list(LODO_DATASETS)
    for spec in specs:
        assert spec.sources == tuple(d for d in LODO_DATASETS if d != spec.dataset)
        assert (spec.method, spec.label_map, spec.normalization, spec.modalities) == (
            "combined", "builtin", "sensor", ("acc", "gyro"))
        assert spec.window == WindowOptions(window_s=2.56, overlap=0.5, rate_hz=50.0) and spec.budget == 0.5
        p = spec.protocol
        assert (p.label_ratio, p.labels_per_class, p.ratio_of, p.draw_by_subject, p.split, p.repeats) == (
            0.01, None, "dataset", True, "within_subject", 2)
        assert spec.data_dir_of("pamap2") == str(tmp_path / "p")
    assert target.experiment().dataset == "hhar" and target.experiment().protocol.repeats == 3
    with pytest.raises(ConfigError, match="NAME=PATH"):  # a bare folder means nothing for a pool
        target.experiments(data_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="names no dataset of combined-lodo-hart"):
        target.experiments(data_dirs=(("pamap", str(tmp_path)),))


def test_missing_data_names_every_absent_dataset_and_its_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHAR_DATA", str(tmp_path))
    (tmp_path / "uci-har").mkdir()  # present but empty: incomplete
    line = missing_data(get_target("combined-lodo-hart"))
    assert line.startswith("data not found for combined-lodo-hart: hhar: ") and "\n" not in line
    for name in LODO_DATASETS:
        assert f"{name}: " in line and get_dataset(name).info.expected_files in line
    assert f"nothing in {tmp_path / 'uci-har'} matches" in line and f"{tmp_path / 'hhar'} does not exist" in line
    assert "--data-dir NAME=PATH (repeatable" in line and "$AUTOHAR_DATA/NAME" in line


def test_cli_stops_with_one_line_and_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHAR_DATA", str(tmp_path / "data"))
    result = run_cli("reproduce", "combined-lodo-hart", "--workdir", tmp_path / "ws")
    assert result.exit_code != 0
    line = result.output.strip()
    assert line.startswith("error: data not found for combined-lodo-hart: hhar: ") and "\n" not in line
    assert all(f"; {name}: " in line for name in LODO_DATASETS[1:])
    assert not (tmp_path / "ws").exists()
    listed = run_cli("reproduce", "--list")
    assert listed.exit_code == 0
    assert all(f"combined-lodo-{a}" in listed.output for a in FIG_3)


@pytest.fixture
def synthetic_pool(tmp_path, monkeypatch):
    """A pool target over three synthetic domains (identity label map), tiny DeepConvLSTM."""
    paths = tuple(str(p) for p in write_synthetic_domains(tmp_path / "pool", window_s=1.0, n_windows=240))
    target = PaperTarget(name="test-lodo", paper="a test paper", source="Table 0", method="combined",
                         metric="macro_f1", value=0.5, per_dataset={paths[1]: 0.6},
                         params={"architecture": "deepconvlstm", "strategy": "PU"},
                         layer={"data": {"datasets": list(paths), "label_map": "identity", "normalization": "sensor",
                                         "window": {"window_s": 1.0, "overlap": 0.5, "rate_hz": 25.0}},
                                "protocol": {"split": "within_subject", "label_ratio": 0.01, "ratio_of": "dataset",
                                             "draw_by_subject": True, "repeats": 1}})
    monkeypatch.setitem(papers.TARGETS, target.name, target)
    return target


def test_the_value_is_the_mean_over_the_targets(synthetic_pool, tmp_path):
    from automl_har.methods import get_method
    from automl_har.objectives._trial import run_trial
    from automl_har.search_spaces import get_space

    # small, but enough to learn something: the three targets give different numbers
    tiny = {**get_method("combined").tiny_params, "pretrain_epochs": 3, "finetune_epochs": 3, "pretrain_lr": 0.01,
            "finetune_lr": 0.01}
    result = run_cli("reproduce", "test-lodo", "--budget", 1.0, "--repeats", 1, "--workdir", tmp_path / "ws",
                     "--device", "cpu", *[a for k, v in tiny.items() for a in ("--param", f"{k}={v}")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert out.count("protocol: target ") == 3 and "domain1.npz: paper 0.6000 | autohar" in out
    assert "macro_f1 per repeat, mean over the targets:" in out
    client = MlflowClient(Workspace.resolve(tmp_path / "ws").tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("autohar-reproduce").experiment_id])
    per_target = [run.data.metrics[f"test_macro_f1_mean.domain{k}"] for k in range(3)]
    assert len(set(per_target)) > 1
    assert run.data.metrics["test_macro_f1_mean"] == pytest.approx(np.mean(per_target))
    assert run.data.params["datasets"] == ",".join(synthetic_pool.datasets)
    csv = client.download_artifacts(run.info.run_id, "reproduce/test-lodo.csv", str(tmp_path))
    rows = [line.split(",") for line in open(csv).read().splitlines()[1:]]
    # a repeat, the three targets, the AVG, then its majority and linear-probe floors
    assert [r[1] for r in rows] == ["0", "mean", "mean", "mean", "mean", "mean", "mean"]
    assert [r[2] for r in rows[-2:]] == ["macro_f1 (majority floor)", "macro_f1 (linear_probe floor)"]
    assert rows[2][0] == f"test-lodo:{synthetic_pool.datasets[1]}" and rows[2][4] == "0.6"
    # the second target's number is run_trial's on that experiment (domain0 and domain2 its sources)
    spec = synthetic_pool.experiment(1.0, 1, target=synthetic_pool.datasets[1])
    assert spec.sources == (synthetic_pool.datasets[0], synthetic_pool.datasets[2])
    direct = run_trial({**get_space("combined").defaults, **synthetic_pool.params, **tiny}, spec)
    assert per_target[1] == pytest.approx(direct.test_f1[0])
    with pytest.raises(ConfigError, match="a pool needs at least 2 datasets"):
        dataclasses.replace(synthetic_pool, layer={**synthetic_pool.layer, "data": {
            **synthetic_pool.layer["data"], "datasets": list(synthetic_pool.datasets[1:2])}})
