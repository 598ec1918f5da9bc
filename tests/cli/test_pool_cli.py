"""``autohar search --datasets/--target`` and ``autohar lodo`` on a pool of three synthetic domains
(issue 14): study names, tags, zero-shot, the one-line errors and the paper-style table."""

from __future__ import annotations

import csv
from pathlib import Path
import io

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.data.loaders.synthetic import write_synthetic_domains
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

#: DeepConvLSTM at its smallest: the pool tests stay a few seconds per trial
TINY = ["--param", "architecture=deepconvlstm", "--param", "dcl_filters=4", "--param", "dcl_lstm_units=8",
        "--budget", "0.01", "--repeats", "2", "--quiet"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Three synthetic domains (the same 4 classes, other subjects, gains and noise), 2.56 s at 25 Hz."""
    paths = write_synthetic_domains(tmp_path_factory.mktemp("pool"), n_windows=120)
    return [str(p) for p in paths]


def invoke(*args):
    return CliRunner().invoke(app, [*args])


def study_of(workdir, name):
    ws = Workspace.resolve(workdir)
    return optuna.load_study(study_name=name, storage=open_storage(ws.optuna_storage_url))


def test_search_over_a_pool_names_the_study_by_target_and_sources_and_records_them(pool, tmp_path):
    target, *sources = pool
    result = invoke("search", "--method", "combined", "--datasets", ",".join(pool), "--target", target,
                    "--label-map", "identity", "--label-ratio", "0.1", "--trials", "1", "--workdir", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    study = study_of(tmp_path, "combined-domain0-from-domain1+domain2")
    (trial,) = study.get_trials()
    assert trial.state == TrialState.COMPLETE and 0.0 <= trial.user_attrs["test_macro_f1_mean"] <= 1.0
    assert study.user_attrs["sources"] == ",".join(sources)
    assert study.user_attrs["label_map"] == "identity" and study.user_attrs["normalization"] == "sensor"
    client = MlflowClient(tracking_uri=Workspace.resolve(tmp_path).tracking_uri)
    run = client.get_run(trial.user_attrs["mlflow_run_id"])
    assert run.data.tags["autohar.cache.combined_pretrain"] == "miss"

    # zero-shot on the same pool: one pre-training (a cache hit), the source head predicts directly
    result = invoke("search", "--method", "combined", "--datasets", ",".join(pool), "--target", target,
                    "--label-map", "identity", "--label-ratio", "0", "--trials", "1", "--study", "zero-shot",
                    "--workdir", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    (trial,) = study_of(tmp_path, "zero-shot").get_trials()
    assert trial.state == TrialState.COMPLETE
    assert client.get_run(trial.user_attrs["mlflow_run_id"]).data.tags["autohar.cache.combined_pretrain"] == "hit"


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "maskcae", "--datasets", "a,b", "--target", "a"],
     "method 'maskcae' pre-trains on the target's unlabeled windows; --datasets/--target are for methods that "
     "pre-train on labeled source datasets: combined"),
    (["--method", "combined", "--dataset", "synthetic"],
     "method 'combined' pre-trains on labeled source datasets; give the pool and its target"),
    (["--method", "maskcae", "--dataset", "synthetic", "--label-ratio", "0"],
     "method 'maskcae' needs labeled target windows; --label-ratio 0 (zero-shot)"),
    (["--method", "combined", "--datasets", "a,b"], "give --target, one of the pool a, b"),
    (["--method", "combined", "--datasets", "a,b", "--target", "a", "--data-dir", "c=/tmp"],
     "--data-dir c=... is not in the pool (a, b)"),
])
def test_pool_options_that_do_not_fit_are_one_line_errors(args, message, tmp_path):
    result = invoke("search", *args, "--workdir", str(tmp_path), "--trials", "1")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in " ".join(result.output.split())
    assert not (tmp_path / "optuna").exists()  # nothing recorded


def test_the_lodo_preset_sets_the_papers_protocol_and_needs_a_target(tmp_path):
    from automl_har.config import Layer, experiment_spec, resolve

    spec = experiment_spec(resolve(Layer("options", {"method": "combined", "preset": "combined-lodo",
                                                     "data": {"dataset": "uci-har"}})), "cpu")
    assert spec.sources == ("hhar", "mobiact", "motionsense", "realworld", "pamap2")
    assert (spec.window.window_s, spec.window.rate_hz, spec.window.overlap) == (2.56, 50.0, 0.5)
    p = spec.protocol
    assert (p.split, p.label_ratio, p.labels_per_class, p.ratio_of, p.draw_by_subject) == (
        "within_subject", 0.01, None, "dataset", True)
    assert (spec.label_map, spec.normalization) == ("builtin", "sensor")
    result = invoke("search", "--method", "combined", "--preset", "combined-lodo", "--workdir", str(tmp_path))
    assert result.exit_code == 2 and "give --target, one of the pool hhar, mobiact" in " ".join(result.output.split())


@pytest.mark.slow
def test_lodo_runs_one_grid_study_per_target_and_logs_the_table(pool, tmp_path):
    result = invoke("lodo", "--datasets", ",".join(pool), "--label-map", "identity", "--ratios", "0,0.1",
                    "--strategies", "Rd,PU", "--workdir", str(tmp_path), *TINY)
    assert result.exit_code == 0, result.output
    for number in range(3):
        others = "+".join(f"domain{k}" for k in range(3) if k != number)
        study = study_of(tmp_path, f"combined-domain{number}-from-{others}-lodo-deepconvlstm")
        states = sorted((t.params["label_ratio"], t.params["strategy"], t.state.name) for t in study.get_trials())
        # 0 % Rd has nothing to transfer: skipped (PRUNED), not run
        assert states == [(0.0, "PU", "COMPLETE"), (0.0, "Rd", "PRUNED"), (0.1, "PU", "COMPLETE"),
                          (0.1, "Rd", "COMPLETE")]
    client = MlflowClient(tracking_uri=Workspace.resolve(tmp_path).tracking_uri)
    experiment = client.get_experiment_by_name("autohar-lodo")
    (run,) = client.search_runs([experiment.experiment_id])
    local = client.download_artifacts(run.info.run_id, "lodo_table.csv", str(tmp_path))
    rows = list(csv.DictReader(io.StringIO(open(local).read())))
    assert [r["target"] for r in rows] == [*pool, "AVG"]
    assert [k for k in rows[0] if k.endswith(" mean")] == ["0% PU mean", "10% Rd mean", "10% PU mean"]
    means = [float(r["10% PU mean"]) for r in rows[:3]]
    assert float(rows[3]["10% PU mean"]) == pytest.approx(sum(means) / 3, abs=1e-5)
    assert run.data.metrics["avg_test_macro_f1_10pct_PU"] == pytest.approx(sum(means) / 3, abs=1e-5)
    assert "AVG" in result.output and "0% PU" in result.output


def test_a_zero_shot_cell_without_shared_classes_is_na_and_the_average_skips_it():
    from automl_har.engines.lodo import Cell, LodoTable

    table = LodoTable(["a", "b"], [(0.0, "PU"), (0.01, "PU")])
    table.cells.update({("a", 0.0, "PU"): Cell(0.2, 0.0), ("a", 0.01, "PU"): Cell(0.5, 0.1),
                        ("b", 0.01, "PU"): Cell(0.7, 0.0)})
    assert table.cell("b", 0.0, "PU").text() == "n/a"
    assert table.average(0.0, "PU").mean == pytest.approx(0.2)
    assert table.average(0.01, "PU").mean == pytest.approx(0.6) and table.average(0.01, "PU").text() == "60.00 ± 10.00"
    rows = table.rows()
    assert rows[1]["0% PU mean"] == "" and rows[2]["target"] == "AVG"


def test_a_data_dir_named_by_the_base_dataset_serves_its_variants_as_target_and_as_source():
    from automl_har.objectives.protocol import ExperimentSpec, named_folder

    dirs = (("utd-mhad", "/data/utd"), ("watch:side1", "/data/w1"))
    assert named_folder(dirs, "utd-mhad:windows") == "/data/utd" and named_folder(dirs, "watch:side1") == "/data/w1"
    assert named_folder(dirs, "watch:side0") is None
    spec = ExperimentSpec(method="combined", dataset="utd-mhad:windows", sources=("watch:side0",), data_dirs=dirs,
                          label_map="identity")
    assert spec.data_dir_of("utd-mhad:windows") == "/data/utd"


UTD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "utd_mhad"


@pytest.mark.skipif(not UTD_DIR.is_dir(), reason=f"UTD-MHAD not found at {UTD_DIR} (../shared/data)")
def test_a_source_variant_finds_its_folder_by_the_base_name():
    """``--data-dir utd-mhad=PATH`` with the source ``utd-mhad:windows`` (the real-data LODO)."""
    from automl_har.data.registry import WindowOptions
    from automl_har.objectives.prepared import prepare_folds
    from automl_har.objectives.protocol import ExperimentSpec, Protocol

    spec = ExperimentSpec(method="combined", dataset="watch:side0", sources=("utd-mhad:windows",),
                          data_dirs=(("utd-mhad", str(UTD_DIR)),), label_map="identity", normalization="sensor",
                          window=WindowOptions(window_s=2.56, overlap=0.5, rate_hz=50.0),
                          protocol=Protocol(labels_per_class=None, label_ratio=0.1, split="within_subject"))
    (fold,) = prepare_folds(spec)
    assert set(fold.sources.dataset) == {"utd-mhad:windows"} and len(fold.sources) > 500
