"""train --config reproduces the export; multi-objective search and --max-latency-ms; Model Registry."""

from __future__ import annotations

import re
import warnings

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.engines.optuna import search
from automl_har.errors import ConfigError
from automl_har.export import read_config
from automl_har.storage import open_storage

from .conftest import tiny_spec


def test_train_config_reproduces_the_exported_validation_metric(searched, tmp_path):
    spec, result = searched
    bundle = tmp_path / "bundle"
    # trial 1 of the tiny study may have kept no checkpoint (not best so far): it is then re-trained
    for trial in ("best", "1"):
        done = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out",
                                        str(bundle / trial), "--trial", trial])
        assert done.exit_code == 0, done.output
    assert read_config(bundle / "1")["provenance"]["trial"] == 1
    done = CliRunner().invoke(app, ["train", "--config", str(bundle / "best" / "autohar.yaml"),
                                    "--out", str(tmp_path / "again")])
    assert done.exit_code == 0, done.output
    difference = float(re.search(r"difference ([-+]\d\.\d+)", done.output).group(1))
    assert abs(difference) <= 0.02
    assert read_config(tmp_path / "again")["metrics"]["val_macro_f1_mean"] == pytest.approx(result.best_value, abs=0.02)


def test_multi_objective_search_has_a_pareto_front_and_max_latency_picks_the_best_f1_under_it(tmp_path):
    spec = tiny_spec(tmp_path, "mo", 3, objectives=("f1", "latency"), sampler="nsga2")
    search(spec)
    study = optuna.load_study(study_name="mo", storage=open_storage(spec.storage_url))
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    complete = [t for t in study.trials if t.state.is_finished() and t.values]
    assert len(complete) == 3 and all(t.values[1] == t.user_attrs["latency_ms"] > 0 for t in complete)
    assert study.best_trials and all(t.user_attrs["n_params"] > 0 for t in complete)
    shown = CliRunner().invoke(app, ["show", "mo", "--workdir", str(tmp_path)])
    assert shown.exit_code == 0 and "Pareto front" in shown.output
    bound = float(np.median([t.user_attrs["latency_ms"] for t in complete]))
    expected = max((t for t in complete if t.user_attrs["latency_ms"] <= bound), key=lambda t: t.values[0])
    out = tmp_path / "fast"
    done = CliRunner().invoke(app, ["export", "mo", "--workdir", str(tmp_path), "--out", str(out),
                                    "--max-latency-ms", str(bound)])
    assert done.exit_code == 0, done.output
    assert read_config(out)["provenance"]["trial"] == expected.number
    done = CliRunner().invoke(app, ["export", "mo", "--workdir", str(tmp_path), "--out", str(out), "--max-latency-ms", "1e-9"])
    assert done.exit_code != 0 and "raise the bound" in done.output


def test_multi_objective_rejects_single_objective_samplers(tmp_path):
    with pytest.raises(ConfigError, match="nsga2"):
        tiny_spec(tmp_path, "x", 1, objectives=("f1", "params"), sampler="cmaes")
    with pytest.raises(ConfigError, match="start with f1"):
        tiny_spec(tmp_path, "x", 1, objectives=("latency", "f1"))


def test_register_sets_the_champion_alias(searched, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    spec, _ = searched
    done = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out", str(tmp_path / "b"),
                                    "--register", "har-tiny"])
    assert done.exit_code == 0, done.output
    client = MlflowClient(tracking_uri=spec.resolved_tracking_uri)
    version = client.get_model_version_by_alias("har-tiny", "champion")
    assert version.tags["autohar.method"] == "supervised"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(spec.resolved_tracking_uri)
    try:
        with warnings.catch_warnings():  # MLflow loads the TorchScript file through torch.load, which warns
            warnings.simplefilter("ignore", UserWarning)
            model = mlflow.pyfunc.load_model("models:/har-tiny@champion")
    finally:
        mlflow.set_tracking_uri(previous)
    assert [s.shape for s in model.metadata.signature.inputs.inputs] == [(-1, 50, 6)]
    assert model.predict(np.zeros((2, 50, 6), np.float32)).shape == (2, 4)
