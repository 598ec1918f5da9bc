"""The MLflow server started by ``autohar ui`` serves the runs that a real search made."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from automl_har.attrs import MLFLOW_EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT_KIND
from automl_har.cli.main import app
from automl_har.mlflow_server import start_server
from automl_har.workspace import Workspace


@pytest.mark.slow
def test_server_lists_study_parent_and_nested_trial_runs(tmp_path):
    args = ["search", "--method", "supervised", "--dataset", "synthetic", "--trials", "2", "--budget", "0.03",
            "--repeats", "1", "--quiet", "--workdir", str(tmp_path)]
    assert CliRunner().invoke(app, args).exit_code == 0
    workspace = Workspace.resolve(tmp_path)
    with start_server(workspace) as server:
        experiment = server.request_json("/api/2.0/mlflow/experiments/get-by-name?experiment_name=autohar")
        exp_id = experiment["experiment"]["experiment_id"]
        kind = {t["key"]: t["value"] for t in experiment["experiment"].get("tags", [])}
        assert kind[MLFLOW_EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND  # the UI opens its runs, not GenAI
        runs = server.request_json("/api/2.0/mlflow/runs/search", {"experiment_ids": [exp_id]})["runs"]
        tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
        parents = [r for r, t in zip(runs, tags) if "mlflow.parentRunId" not in t]
        children = [t for t in tags if "mlflow.parentRunId" in t]
        assert len(parents) == 1 and len(children) == 2
        assert {t["mlflow.parentRunId"] for t in children} == {parents[0]["info"]["run_id"]}
        assert sorted(t["mlflow.runName"] for t in children) == ["trial-0", "trial-1"]
        metric_keys = {m["key"] for r in runs for m in r["data"].get("metrics", [])}
        assert "val_macro_f1_mean" in metric_keys
        listed = server.request_json(f"/api/2.0/mlflow/artifacts/list?run_id={parents[0]['info']['run_id']}&path=plots")
        assert any(f["path"].endswith("optimization_history.png") for f in listed["files"])
