"""The same options behave the same on both engines: one suite, parametrized over ``--engine``.

Each test runs the real CLI on the synthetic dataset with tiny budgets (Ray's start-up is most
of the time on its side) and asserts on what both stores hold afterwards.
"""

from __future__ import annotations

import itertools

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.attrs import BEST_CHECKPOINT_TRIAL_TAG, FAIL_REASON_ATTR, PARENT_RUN_ATTR, SPEC_ATTR, TRIAL_RUN_ATTR
from automl_har.cli.main import app
from automl_har.search_spaces import get_space
from automl_har.storage import open_storage
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

ENGINES = ["optuna", "ray"]
FAST = ["--method", "supervised", "--dataset", "synthetic", "--budget", "0.06", "--repeats", "1",
        "--labels-per-class", "5"]
STUDY = "supervised-synthetic"


def search(workdir, engine: str, *extra: str):
    return CliRunner().invoke(app, ["search", "--engine", engine, *FAST, "--workdir", str(workdir), *extra])


def load_study(workdir) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=open_storage(Workspace.resolve(workdir).optuna_storage_url))


def mlflow_runs(workdir, study: optuna.Study):
    """The study's parent run and its trial runs by trial number."""
    client = MlflowClient(Workspace.resolve(workdir).tracking_uri)
    parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
    runs = {t.number: client.get_run(t.user_attrs[TRIAL_RUN_ATTR]) for t in study.get_trials() if TRIAL_RUN_ATTR in t.user_attrs}
    return client, parent, runs


def flat(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_grid_walks_distinct_points_to_their_end_and_only_a_new_best_uploads_its_checkpoint(tmp_path, engine):
    result = search(tmp_path, engine, "--sampler", "grid", "--trials", "4")
    assert result.exit_code == 0, result.output
    study = load_study(tmp_path)
    trials = study.get_trials()
    grid = get_space("supervised").grid
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4  # no pruner by default on a grid
    assert study.user_attrs[SPEC_ATTR]["pruner"] == "none"
    points = {tuple(t.params[name] for name in grid) for t in trials}
    assert len(points) == 4 and points <= set(itertools.product(*grid.values()))  # no defaults trial, no repeat
    assert all(set(t.params) == set(grid) for t in trials)
    assert "4 of 12 grid points: 4 complete, 0 pruned" in flat(result.output)

    client, parent, runs = mlflow_runs(tmp_path, study)
    assert all(runs[t.number].data.tags["autohar.engine"] == engine for t in trials)
    assert all(runs[t.number].data.tags["autohar.state"] == "COMPLETE" for t in trials)  # one verdict, both stores
    assert all("test_macro_f1_mean" in t.user_attrs and "val_macro_f1_mean" in runs[t.number].data.metrics for t in trials)
    best = max(trials, key=lambda t: t.value)
    assert parent.data.tags[BEST_CHECKPOINT_TRIAL_TAG] == str(best.number)
    # one trial at a time: a trial keeps its checkpoint exactly when it beat every earlier trial
    records = [t.number for i, t in enumerate(trials) if all(t.value > e.value for e in trials[:i])]
    with_checkpoint = [n for n, run in sorted(runs.items()) if client.list_artifacts(run.info.run_id)]
    assert with_checkpoint == records


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_the_named_pruner_stops_a_trial_below_the_median_of_the_stored_curves(tmp_path, engine):
    """Three finished trials whose curves no model can reach (2.0 at every epoch): the median
    pruner must stop the next trial at its first step past the warm-up (3), on either engine."""
    assert search(tmp_path, engine, "--trials", "1").exit_code == 0
    study = load_study(tmp_path)
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(value=2.0, params={}, distributions={},
                                                  intermediate_values={step: 2.0 for step in range(100)}))
    result = search(tmp_path, engine, "--trials", "5", "--pruner", "median")
    assert result.exit_code == 0, result.output
    study = load_study(tmp_path)
    pruned = study.get_trials()[4]
    assert pruned.state == TrialState.PRUNED
    assert max(pruned.intermediate_values) == 3  # reported with the Optuna engine's step numbers (epochs)
    client, _, runs = mlflow_runs(tmp_path, study)
    assert runs[4].info.status == "FINISHED" and runs[4].data.tags["autohar.state"] == "PRUNED"
    assert len(client.get_metric_history(runs[4].info.run_id, "val_macro_f1/draw_0")) == 4  # its curve, up to the stop
    assert runs[4].data.tags["autohar.prune_reason"].startswith("pruned at step 3 with intermediate value")


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_the_first_three_failures_stop_the_study_with_their_error(tmp_path, engine):
    # a width inside its declared range whose second layer cannot be allocated: every trial fails inside
    result = search(tmp_path, engine, "--sampler", "random", "--trials", "6", "--param", "width=1000000")
    assert result.exit_code != 0
    study = load_study(tmp_path)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL] * 3
    assert all("can't allocate memory" in t.user_attrs[FAIL_REASON_ATTR] for t in study.get_trials())
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: the first 3 trials all failed; last error: ")
    _, parent, runs = mlflow_runs(tmp_path, study)
    assert parent.info.status == "FAILED"
    assert [r.info.status for _, r in sorted(runs.items())] == ["FAILED"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_rerunning_a_study_adds_only_the_missing_trials_under_the_same_parent(tmp_path, engine):
    assert search(tmp_path, engine, "--trials", "1", "--budget", "0.03").exit_code == 0
    result = search(tmp_path, engine, "--trials", "2", "--budget", "0.03")
    assert result.exit_code == 0, result.output
    study = load_study(tmp_path)
    assert [t.number for t in study.get_trials()] == [0, 1]
    assert study.get_trials()[0].params == get_space("supervised").defaults  # trial 0 = the paper's defaults
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 1  # the same parent, reopened
    assert sorted(r.info.run_name for r in runs if "mlflow.parentRunId" in r.data.tags) == ["trial-0", "trial-1"]
    if engine == "ray":  # each run of a Ray study keeps its own experiment folder
        assert sorted(p.name for p in (tmp_path / "ray" / STUDY).iterdir()) == ["run-0", "run-1"]
