"""`autohar ui` opens the training runs: the experiment is tagged as a machine-learning one (not
MLflow 3's GenAI overview) and the printed URLs lead to its runs page and to a study's parent run."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from automl_har.attrs import MLFLOW_EXPERIMENT_KIND_TAG, PARENT_RUN_ATTR, TRAINING_EXPERIMENT_KIND
from automl_har.cli.main import app
from automl_har.tracking import EXPERIMENT, StudyTracker
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

FAKE_URL = "http://127.0.0.1:5999"


def test_ui_url_leads_to_the_runs_page_and_to_one_run():
    from automl_har.mlflow_server import ui_url

    assert ui_url(FAKE_URL) == f"{FAKE_URL}/"
    assert ui_url(FAKE_URL + "/", "3") == f"{FAKE_URL}/#/experiments/3/runs"
    assert ui_url(FAKE_URL, "3", "ab12") == f"{FAKE_URL}/#/experiments/3/runs/ab12"


def test_tracker_tags_new_and_old_experiments_as_machine_learning(tmp_path):
    workspace = Workspace(tmp_path).create()
    client = MlflowClient(tracking_uri=workspace.tracking_uri)
    old = client.create_experiment("old", artifact_location=workspace.artifact_uri)  # a workspace from before the tag
    for name in ("old", "new"):
        tracker = StudyTracker(workspace.tracking_uri, workspace.artifact_uri, "s", experiment=name)
        tags = client.get_experiment(tracker.experiment_id).tags
        assert tags[MLFLOW_EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND == "custom_model_development"
    assert client.get_experiment_by_name("old").experiment_id == old


class _FakeServer:
    """What `autohar ui` needs of a started server; its process "gets Ctrl-C" at the first poll."""

    url = FAKE_URL
    log_path = Path("mlflow-server.log")

    class process:  # noqa: N801 - stands in for subprocess.Popen
        @staticmethod
        def poll():
            raise KeyboardInterrupt

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


@pytest.mark.slow
def test_ui_prints_the_runs_page_and_a_studys_parent_run(tmp_path, monkeypatch):
    import automl_har.mlflow_server

    search = ["search", "--method", "supervised", "--dataset", "synthetic", "--trials", "1", "--budget", "0.03",
              "--repeats", "1", "--labels-per-class", "5", "--study", "mine", "--quiet", "--workdir", str(tmp_path)]
    assert CliRunner().invoke(app, search).exit_code == 0
    workspace = Workspace.resolve(tmp_path)
    client = MlflowClient(tracking_uri=workspace.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.tags[MLFLOW_EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND  # tagged by the search
    client.delete_experiment_tag(experiment.experiment_id, MLFLOW_EXPERIMENT_KIND_TAG)  # as an old workspace has it
    import optuna

    parent = optuna.load_study(study_name="mine", storage=open_storage(workspace.optuna_storage_url)).user_attrs[PARENT_RUN_ATTR]
    monkeypatch.setattr(automl_har.mlflow_server, "start_server", lambda workspace, port: _FakeServer())

    shown = CliRunner().invoke(app, ["ui", "--study", "mine", "--workdir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    output = " ".join(shown.stdout.split())
    runs = f"{FAKE_URL}/#/experiments/{experiment.experiment_id}/runs"
    assert f"study mine trials: {runs}?viewStateShareKey=autohar-mine&workflowType=machine_learning" in output
    assert f"MLflow UI: {runs}?workflowType=machine_learning " in output
    assert f"{runs}/{parent}" in output
    # the view the link opens: the study's trial runs, best first, with the metric and param columns
    import json

    envelope = json.loads(client.get_experiment(experiment.experiment_id).tags["mlflow.sharedViewState.autohar-mine"])
    state = json.loads(envelope["state"])
    assert state["searchFilter"] == "tags.`autohar.study` = 'mine' and tags.`autohar.kind` = 'trial'"
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`val_macro_f1_mean`", False)
    assert state["selectedColumns"][:3] == ["metrics.`val_macro_f1_mean`", "metrics.`test_macro_f1_mean`",
                                            "attributes.`Duration`"]
    assert "params.`lr`" in state["selectedColumns"]
    (trial_run,) = client.search_runs([experiment.experiment_id], state["searchFilter"])  # the filter MLflow runs
    assert trial_run.data.metrics["val_macro_f1_mean"] >= 0 and trial_run.info.run_id != parent
    parent_metrics = client.get_run(parent).data.metrics
    assert parent_metrics["trials_complete"] == 1 and parent_metrics["trials_fail"] == 0
    assert parent_metrics["best_val_macro_f1_mean"] == pytest.approx(trial_run.data.metrics["val_macro_f1_mean"])
    assert client.get_experiment(experiment.experiment_id).tags[MLFLOW_EXPERIMENT_KIND_TAG] == TRAINING_EXPERIMENT_KIND

    missing = CliRunner().invoke(app, ["ui", "--study", "other", "--workdir", str(tmp_path)])
    assert missing.exit_code == 2
    message = missing.stderr.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith("error: ") and "'other'" in message and "mine" in message
