"""End-to-end: real CLI searches on synthetic data, what lands in Optuna and MLflow, resume."""

from __future__ import annotations

import socket
import subprocess
import sys

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.attrs import OWNER_ATTR, PARENT_RUN_ATTR, TRIAL_RUN_ATTR
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

FAST = ["--dataset", "synthetic", "--budget", "0.03", "--repeats", "2", "--labels-per-class", "5", "--quiet"]


def search(workdir, *extra):
    result = CliRunner().invoke(app, ["search", "--method", "supervised", *FAST, "--workdir", str(workdir), *extra])
    return result


def runs_of(workdir):
    ws = Workspace.resolve(workdir)
    client = MlflowClient(tracking_uri=ws.tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client, client.search_runs([experiment.experiment_id])


@pytest.mark.slow
def test_two_trial_search_records_study_and_nested_runs(tmp_path):
    result = search(tmp_path, "--trials", "2")
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert set(trials[1].params) == set(trials[0].params)  # every trial records every searched name
    from automl_har.search_spaces import get_space

    assert trials[0].params == get_space("supervised").defaults  # DEFAULTS is trial 0
    assert all("test_macro_f1_mean" in t.user_attrs for t in trials)

    client, runs = runs_of(tmp_path)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert study.user_attrs[PARENT_RUN_ATTR] == parent.info.run_id
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.info.run_name for c in children) == ["trial-0", "trial-1"]
    for child in children:
        assert child.info.status == "FINISHED"
        assert {"val_macro_f1_mean", "val_macro_f1_std", "test_macro_f1_mean", "test_accuracy_mean",
                "train_seconds"} <= set(child.data.metrics)
        assert child.data.tags["autohar.method"] == "supervised" and child.data.tags["autohar.engine"] == "optuna"
        assert child.data.tags["autohar.state"] == "COMPLETE"
        assert child.data.params["depth"]
        curve = client.get_metric_history(child.info.run_id, "val_macro_f1/draw_0")
        assert [m.step for m in curve] == list(range(len(curve))) and len(curve) >= 1
    best_number = study.best_trial.number
    best_run = next(c for c in children if c.info.run_name == f"trial-{best_number}")
    assert "checkpoint/model.pt" in [a.path for a in client.list_artifacts(best_run.info.run_id, "checkpoint")]
    parent_files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert "best_checkpoint" in parent_files and "plots" in parent_files
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/optimization_history.png" in plots
    assert parent.data.tags["autohar.best_trial"] == str(best_number)

    # the checkpoint rebuilds the model
    import torch

    from automl_har.objectives import load_model

    path = client.download_artifacts(best_run.info.run_id, "checkpoint/model.pt", str(tmp_path))
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint["classes"] and checkpoint["normalization"]
    load_model(checkpoint)


@pytest.mark.slow
def test_resume_closes_interrupted_trial_and_reaches_the_total(tmp_path):
    assert search(tmp_path, "--trials", "1").exit_code == 0
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    # a process killed mid-trial leaves a RUNNING trial behind, with its MLflow run open
    client, _ = runs_of(tmp_path)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    stale_run = client.create_run(experiment.experiment_id, run_name="trial-1",
                                  tags={"mlflow.parentRunId": study.user_attrs[PARENT_RUN_ATTR]})
    stale = study.ask()
    stale.set_user_attr(TRIAL_RUN_ATTR, stale_run.info.run_id)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale.set_user_attr(OWNER_ATTR, {"host": socket.gethostname(), "pid": int(dead.stdout), "started": None})

    result = search(tmp_path, "--trials", "3")
    assert result.exit_code == 0, result.output
    trials = study.get_trials()
    assert trials[stale.number].state == TrialState.FAIL
    assert "interrupted" in trials[stale.number].user_attrs["fail_reason"]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3  # the interrupted one does not count
    assert client.get_run(stale_run.info.run_id).info.status == "FAILED"
    _, runs = runs_of(tmp_path)
    assert sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 1  # the same parent run continued


def test_failing_trials_are_recorded_and_three_first_failures_stop(tmp_path, monkeypatch):
    from automl_har.methods.supervised import Supervised

    def broken(*args, **kwargs):
        raise RuntimeError("exploding gradient in test")

    monkeypatch.setattr(Supervised, "finetune", broken)
    result = search(tmp_path, "--trials", "10")
    assert result.exit_code != 0
    assert "the first 3 trials all failed" in result.output and "exploding gradient in test" in result.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL] * 3
    assert "exploding gradient" in study.get_trials()[0].user_attrs["fail_reason"]
    _, runs = runs_of(tmp_path)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 3 and all(r.info.status == "FAILED" for r in children)
    assert all("exploding gradient" in r.data.tags["autohar.fail_reason"] for r in children)


def test_studies_and_show_list_the_search(tmp_path):
    assert search(tmp_path, "--trials", "1", "--study", "mine").exit_code == 0
    runner = CliRunner()
    listed = runner.invoke(app, ["studies", "--workdir", str(tmp_path)])
    assert listed.exit_code == 0 and "mine" in listed.output and "supervised" in listed.output
    shown = runner.invoke(app, ["show", "mine", "--workdir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "best trial 0" in shown.output and "test_macro_f1_mean" in shown.output
    missing = runner.invoke(app, ["show", "other", "--workdir", str(tmp_path)])
    assert missing.exit_code == 2 and "no study 'other'" in missing.output


def test_fixed_params_hold_in_every_trial(tmp_path):
    assert search(tmp_path, "--trials", "2", "--param", "width=16", "--param", "depth=2").exit_code == 0
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(Workspace.resolve(tmp_path).optuna_storage_url))
    _, runs = runs_of(tmp_path)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2 and all(r.data.params["width"] == "16" and r.data.params["depth"] == "2" for r in children)
    assert len(study.trials) == 2


def test_show_prints_the_fixed_values_that_ran(tmp_path):
    assert search(tmp_path, "--trials", "2", "--param", "width=16", "--study", "fixed").exit_code == 0
    shown = CliRunner().invoke(app, ["show", "fixed", "--workdir", str(tmp_path)])
    assert shown.exit_code == 0 and "width=16" in shown.output


def test_preset_sets_dataset_modalities_subjects_and_labels(tmp_path):
    args = ["search", "--method", "supervised", "--preset", "cosmo-watch", "--trials", "1", "--budget", "0.02",
            "--repeats", "1", "--quiet", "--workdir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="supervised-watch", storage=open_storage(Workspace.resolve(tmp_path).optuna_storage_url))
    attrs = study.user_attrs
    assert attrs["modalities"] == "acc,gyro" and attrs["protocol.labels_per_class"] == "5"
    assert attrs["protocol.val_subjects"] == "(8,)" and attrs["protocol.test_subjects"] == "(9, 10)"


def test_show_prints_small_values_in_scientific_notation(tmp_path):
    from automl_har.cli._tables import format_value as format_cell

    assert [format_cell(v) for v in (2.97e-06, 3e-05, 0.001, 0.68604, 0.0, 12000.0, None, 7)] == [
        "2.97e-06", "3e-05", "0.0010", "0.6860", "0.0000", "12000", "-", "7"]
    assert search(tmp_path, "--trials", "1", "--param", "weight_decay=2.97e-06", "--study", "small").exit_code == 0
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["show", "small", "--workdir", str(tmp_path)])
    assert shown.exit_code == 0 and "2.97e-06" in shown.output and "0.0000" not in shown.output, shown.output
