"""The parent run's best_checkpoint/ is the best trial's of the whole study, every worker's included."""

from __future__ import annotations

import optuna
import torch
from mlflow import MlflowClient
from optuna.trial import TrialState

from automl_har.attrs import BEST_CHECKPOINT_TRIAL_TAG, MLFLOW_PARENT_TAG, PARENT_RUN_ATTR, TRIAL_RUN_ATTR
from automl_har.engines import _tracked
from automl_har.engines.optuna import search
from automl_har.objectives import ExperimentSpec, Protocol, TrialResult
from automl_har.search_spec import SearchSpec
from automl_har.storage import open_storage
from automl_har.workspace import Workspace


def test_a_worse_trial_never_replaces_a_better_one_that_another_worker_finished_meanwhile(tmp_path, monkeypatch):
    """Trials here score 0.5, 0.6, 0.55; while the 0.6 trial runs, another worker finishes a 0.9
    trial. A per-process "best so far" would upload the 0.6 checkpoint over the 0.9 one."""
    ws = Workspace.resolve(tmp_path)
    spec = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic", budget=0.03,
                                     protocol=Protocol(labels_per_class=5, repeats=1)),
                      ws, n_trials=4, sampler="random", pruner="none")
    values = iter([0.5, 0.6, 0.55])
    other = {}

    def another_worker_finishes(study: optuna.Study) -> None:
        """A trial of another process, finished with its own run and checkpoint (as a worker leaves it)."""
        client = MlflowClient(ws.tracking_uri)
        parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
        run = client.create_run(parent.info.experiment_id, tags={MLFLOW_PARENT_TAG: parent.info.run_id})
        path = tmp_path / "model.pt"
        torch.save({"score": 0.9}, path)
        client.log_artifact(run.info.run_id, str(path), "checkpoint")
        client.set_terminated(run.info.run_id)
        trial = optuna.trial.create_trial(value=0.9, params={}, distributions={},
                                          user_attrs={TRIAL_RUN_ATTR: run.info.run_id})
        study.add_trial(trial)
        other["number"] = study.get_trials()[-1].number

    def scored_trial(params, experiment, hooks):
        value = next(values)
        if value == 0.6:
            another_worker_finishes(optuna.load_study(study_name=spec.resolved_study_name,
                                                      storage=open_storage(spec.storage_url)))
        return TrialResult(value=value, val_f1=[value], test_f1=[value], test_accuracy=[value], data_seconds=0.0,
                           train_seconds=0.0, checkpoint={"score": value})

    monkeypatch.setattr(_tracked.objectives, "run_trial", scored_trial)
    result = search(spec)
    study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 4
    assert result.best_trial == other["number"] and result.best_value == 0.9
    client = MlflowClient(ws.tracking_uri)
    parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
    assert parent.data.tags[BEST_CHECKPOINT_TRIAL_TAG] == str(other["number"])
    best = torch.load(client.download_artifacts(parent.info.run_id, "best_checkpoint/model.pt", str(tmp_path / "dl")))
    assert best == {"score": 0.9}
    only_own_best = [t for t in study.get_trials() if t.value in (0.5,)]  # the first trial was best when it finished
    assert only_own_best and "checkpoint" in {a.path for a in client.list_artifacts(only_own_best[0].user_attrs[TRIAL_RUN_ATTR])}
    later = [t for t in study.get_trials() if t.value in (0.6, 0.55)]  # never the best: no checkpoint uploaded
    assert all(client.list_artifacts(t.user_attrs[TRIAL_RUN_ATTR]) == [] for t in later)


def test_of_equal_values_the_trial_that_finished_first_is_best_and_its_checkpoint_is_the_parents(tmp_path, monkeypatch):
    """Trial 0 runs long; meanwhile another worker's trial 1 finishes with 0.9 and keeps its
    checkpoint. Trial 0 then ends at 0.9 too: it does not beat the stored best, so it keeps no
    checkpoint. "The first of equal numbers" (Optuna's best_trial) would name trial 0, and the
    end of the study failed downloading a checkpoint that trial 0 never logged."""
    ws = Workspace.resolve(tmp_path)
    spec = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic", budget=0.03,
                                     protocol=Protocol(labels_per_class=5, repeats=1)),
                      ws, n_trials=2, sampler="random", pruner="none")
    other = {}

    def tied_trial(params, experiment, hooks):
        study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
        client = MlflowClient(ws.tracking_uri)
        parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
        run = client.create_run(parent.info.experiment_id, tags={MLFLOW_PARENT_TAG: parent.info.run_id})
        torch.save({"score": "other worker"}, tmp_path / "model.pt")
        client.log_artifact(run.info.run_id, str(tmp_path / "model.pt"), "checkpoint")
        client.set_terminated(run.info.run_id)
        study.add_trial(optuna.trial.create_trial(value=0.9, params={}, distributions={},
                                                  user_attrs={TRIAL_RUN_ATTR: run.info.run_id}))
        other["number"] = study.get_trials()[-1].number
        return TrialResult(value=0.9, val_f1=[0.9], test_f1=[0.9], test_accuracy=[0.9], data_seconds=0.0,
                           train_seconds=0.0, checkpoint={"score": "trial 0"})

    monkeypatch.setattr(_tracked.objectives, "run_trial", tied_trial)
    result = search(spec)
    assert other["number"] == 1 and result.best_trial == 1 and result.best_value == 0.9
    client = MlflowClient(ws.tracking_uri)
    study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
    parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR])
    assert parent.data.tags[BEST_CHECKPOINT_TRIAL_TAG] == "1"
    best = torch.load(client.download_artifacts(parent.info.run_id, "best_checkpoint/model.pt", str(tmp_path / "dl")))
    assert best == {"score": "other worker"}
