"""The Ray Tune engine: same space and objective, ASHA pruning recorded in Optuna and MLflow."""

from __future__ import annotations

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.search_spaces import get_space
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace


@pytest.mark.slow
def test_ray_search_with_asha_marks_stopped_trials_pruned_everywhere(tmp_path):
    args = ["search", "--engine", "ray", "--method", "supervised", "--dataset", "synthetic", "--trials", "4",
            "--workers", "2", "--budget", "0.15", "--repeats", "1", "--labels-per-class", "5",
            "--asha-grace-period", "1", "--asha-reduction-factor", "4", "--quiet", "--workdir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    trials = study.get_trials()
    assert len(trials) == 4
    assert trials[0].params == get_space("supervised").defaults  # DEFAULTS first, through OptunaSearch
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    # per-epoch reports reached Optuna (a trial ASHA stops at its first report may have none there)
    assert all(t.intermediate_values for t in trials if t.state == TrialState.COMPLETE)

    client = MlflowClient(tracking_uri=ws.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parents) == 1 and sorted(children) == [f"trial-{i}" for i in range(4)]
    assert all(r.data.tags["autohar.engine"] == "ray" for r in children.values())
    for trial in trials:
        run = children[f"trial-{trial.number}"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["autohar.state"] == trial.state.name  # the same verdict in both stores
        assert client.get_metric_history(run.info.run_id, "val_macro_f1/draw_0")  # its curve, even if stopped
        if trial.state == TrialState.PRUNED:
            assert "stopped by ASHA" in run.data.tags["autohar.prune_reason"]
        else:
            assert "test_macro_f1_mean" in trial.user_attrs and "val_macro_f1_mean" in run.data.metrics
    assert "best_checkpoint" in {a.path for a in client.list_artifacts(parents[0].info.run_id)}


@pytest.mark.slow
def test_rerunning_a_ray_study_adds_only_the_missing_trials(tmp_path):
    args = ["search", "--engine", "ray", "--method", "supervised", "--dataset", "synthetic", "--budget", "0.03",
            "--repeats", "1", "--labels-per-class", "5", "--quiet", "--workdir", str(tmp_path)]
    assert CliRunner().invoke(app, [*args, "--trials", "1"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--trials", "2"])
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(tmp_path)
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(ws.optuna_storage_url))
    assert [t.number for t in study.get_trials()] == [0, 1]
    client = MlflowClient(tracking_uri=ws.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 1  # the same parent, reopened
    assert sorted(r.info.run_name for r in runs if "mlflow.parentRunId" in r.data.tags) == ["trial-0", "trial-1"]
    assert sorted(p.name for p in (tmp_path / "ray" / "supervised-synthetic").iterdir()) == ["run-0", "run-1"]


def test_ray_runs_grid_points_to_their_end_unless_a_pruner_is_asked_for(tmp_path):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from automl_har.engines.ray import RayOptions, scheduler
    from automl_har.objectives import ExperimentSpec
    from automl_har.search_spec import SearchSpec

    def spec(**kwargs):
        return SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path), **kwargs)

    assert type(scheduler(spec(sampler="grid"), RayOptions())) is FIFOScheduler
    assert type(scheduler(spec(sampler="tpe", pruner="none"), RayOptions())) is FIFOScheduler
    assert isinstance(scheduler(spec(sampler="grid", pruner="median"), RayOptions()), ASHAScheduler)
    assert isinstance(scheduler(spec(), RayOptions()), ASHAScheduler)
