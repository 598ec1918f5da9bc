"""MLflow tracking of a study: one parent run per study, one nested run per trial.

Everything goes through an explicit :class:`mlflow.MlflowClient` (no fluent global state), so
the parent run id can be passed to any worker. Per-epoch curves are buffered and written
with ``log_batch`` when the trial ends, which keeps tracking overhead to a few calls a trial.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from automl_har.attrs import (
    BEST_CHECKPOINT_TRIAL_TAG, MLFLOW_EXPERIMENT_KIND_TAG, MLFLOW_PARENT_TAG, PARAMS_TAG, STUDY_TAG, TAG_PREFIX,
    TRAINING_EXPERIMENT_KIND, TRIAL_TAG,
)
from automl_har.errors import RecordingError
from automl_har.tracking._client import RESUME_HINT, tracking_client

EXPERIMENT = "autohar"
CHECKPOINT_DIR = "checkpoint"  # a trial run's model.pt
BEST_CHECKPOINT_DIR = "best_checkpoint"  # the parent run's copy of the best trial's
_BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch call


def open_experiment(client, name: str, artifact_uri: str | None) -> str:
    """The id of experiment ``name``, created when missing, tagged as a training experiment."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, artifact_location=artifact_uri,
                                        tags={MLFLOW_EXPERIMENT_KIND_TAG: TRAINING_EXPERIMENT_KIND})
    _mark_training(client, found)
    return found.experiment_id


def _mark_training(client, experiment) -> None:
    """Tag ``experiment`` ``mlflow.experimentKind=custom_model_development`` unless it has a kind:
    MLflow 3's UI opens an experiment without one on its GenAI overview, not on the runs."""
    if MLFLOW_EXPERIMENT_KIND_TAG not in experiment.tags:
        client.set_experiment_tag(experiment.experiment_id, MLFLOW_EXPERIMENT_KIND_TAG, TRAINING_EXPERIMENT_KIND)


def training_experiments(tracking_uri: str) -> dict[str, str]:
    """Name -> id of the store's active experiments, each tagged as a training experiment where it
    has no kind yet (``autohar ui`` on a workspace written before autohar set the tag)."""
    client = tracking_client(tracking_uri)
    experiments = client.search_experiments()
    for experiment in experiments:
        _mark_training(client, experiment)
    return {e.name: e.experiment_id for e in experiments}


def _now_ms() -> int:
    return int(time.time() * 1000)


class TrialRun:
    """The nested MLflow run of one trial; accumulates the seconds spent in MLflow."""

    def __init__(self, tracker: "StudyTracker", run_id: str) -> None:
        self.tracker, self.run_id = tracker, run_id
        self._metrics: list = []
        self.tags: dict[str, str] = {}
        self.seconds = 0.0
        #: what MLflow could not record of a trial whose outcome is known (``engines/_tracked.py``):
        #: the engine tells Optuna the outcome first, then stops the search with this error
        self.recording_error: RecordingError | None = None

    def set_tag(self, key: str, value: str) -> None:
        """Buffer a run tag (``autohar.`` prefixed); written by :meth:`finish`."""
        self.tags[f"{TAG_PREFIX}{key}"] = str(value)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Buffer per-epoch values; they are written in batches by :meth:`finish`."""
        from mlflow.entities import Metric

        ts = _now_ms()
        self._metrics += [Metric(k, float(v), ts, step) for k, v in metrics.items()]

    def flush(self, metrics: Mapping[str, float] = (), tags: Mapping[str, Any] = ()) -> None:
        """Write buffered curves (plus ``metrics`` at step 0 and ``tags``) now."""
        from mlflow.entities import Metric, RunTag

        started = time.perf_counter()
        ts = _now_ms()
        rows = self._metrics + [Metric(k, float(v), ts, 0) for k, v in dict(metrics).items()]
        run_tags = [RunTag(k, str(v)) for k, v in {**self.tags, **dict(tags)}.items()]
        for i in range(0, len(rows) or (1 if run_tags else 0), _BATCH):
            self.tracker.client.log_batch(self.run_id, metrics=rows[i : i + _BATCH], tags=run_tags if i == 0 else ())
        self._metrics = []
        self.seconds += time.perf_counter() - started

    def finish(self, status: str, metrics: Mapping[str, float] = (), tags: Mapping[str, Any] = ()) -> None:
        """Write buffered curves, final metrics and tags, then close the run with ``status``."""
        self.flush(metrics, tags)
        started = time.perf_counter()
        self.tracker.client.set_terminated(self.run_id, status=status)
        self.seconds += time.perf_counter() - started

    def log_artifact(self, name: str, data: bytes) -> None:
        """Store ``data`` as the artifact file ``name`` (``folder/file.png``) of this run."""
        started = time.perf_counter()
        folder, _, filename = name.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            path.write_bytes(data)
            self.tracker.client.log_artifact(self.run_id, str(path), folder or None)
        self.seconds += time.perf_counter() - started

    def log_checkpoint(self, checkpoint: Mapping[str, Any], as_parent_best_of_trial: int | None = None) -> None:
        """Save the checkpoint as this run's artifact (and as the parent's ``best_checkpoint``, tagged
        with the trial number, when ``as_parent_best_of_trial`` is given)."""
        import torch

        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            torch.save(dict(checkpoint), path)
            self.tracker.client.log_artifact(self.run_id, str(path), CHECKPOINT_DIR)
            if as_parent_best_of_trial is not None:
                self.tracker.log_best_checkpoint(path, as_parent_best_of_trial)
        self.seconds += time.perf_counter() - started


class StudyTracker:
    """The MLflow side of one study.

    Args:
        tracking_uri: absolute tracking URI (``sqlite:///…`` or a server URL).
        artifact_uri: where a new experiment stores artifacts (None: the server decides).
        study_name: the Optuna study name; the parent run is named after it.
        experiment: MLflow experiment holding every study's parent run.
    """

    def __init__(self, tracking_uri: str, artifact_uri: str | None, study_name: str, experiment: str = EXPERIMENT):
        self.client = tracking_client(tracking_uri)
        self.tracking_uri = tracking_uri
        self.study_name = study_name
        self.experiment_id = open_experiment(self.client, experiment, artifact_uri)
        self.parent_run_id: str = ""

    @classmethod
    def attach(cls, tracking_uri: str, study_name: str, parent_run_id: str) -> "StudyTracker":
        """A tracker for a worker process: the parent run exists, its experiment is looked up.

        Nothing is imported or connected yet: importing MLflow and opening its store take
        seconds, so a worker does that when it starts its first trial's run, after it asked
        Optuna for the trial, instead of before.
        """
        tracker = cls.__new__(cls)
        tracker.tracking_uri, tracker.study_name = tracking_uri, study_name
        tracker.parent_run_id = parent_run_id
        return tracker

    @functools.cached_property
    def client(self):
        """The MLflow client (created in ``__init__``; on first use for an attached tracker)."""
        return tracking_client(self.tracking_uri)

    @functools.cached_property
    def experiment_id(self) -> str:
        """The experiment of the parent run (set in ``__init__``; looked up for an attached tracker)."""
        return self.client.get_run(self.parent_run_id).info.experiment_id

    def open_parent(self, existing_run_id: str | None, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """Reopen the study's parent run (resume) or create it."""
        if existing_run_id:
            self.client.update_run(existing_run_id, status="RUNNING")
            self.parent_run_id = existing_run_id
            return existing_run_id
        run = self.client.create_run(self.experiment_id, run_name=self.study_name, tags={STUDY_TAG: self.study_name, **tags})
        self.parent_run_id = run.info.run_id
        from mlflow.entities import Param

        self.client.log_batch(self.parent_run_id, params=[Param(k, v) for k, v in params.items()])
        return self.parent_run_id

    def start_trial(self, number: int, params: Mapping[str, Any], tags: Mapping[str, str]) -> TrialRun:
        """The nested run of trial ``number``; a :class:`RecordingError` when MLflow cannot record it
        (the engine then closes the trial unrun; a run created halfway is closed on resume)."""
        from mlflow.entities import Param, RunTag

        started = time.perf_counter()
        all_tags = {MLFLOW_PARENT_TAG: self.parent_run_id, TRIAL_TAG: str(number), **tags}
        try:
            run = self.client.create_run(self.experiment_id, run_name=f"trial-{number}", tags=all_tags)
            trial_run = TrialRun(self, run.info.run_id)
            self.client.log_batch(
                trial_run.run_id,
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(PARAMS_TAG, json.dumps(dict(params), default=str))],
            )
        except RecordingError as fault:
            raise RecordingError(f"{fault} as trial {number} started, which stopped unrun (not counted); "
                                 f"{RESUME_HINT}") from fault
        trial_run.seconds += time.perf_counter() - started
        return trial_run

    def reopen_trial(self, run_id: str) -> TrialRun:
        return TrialRun(self, run_id)

    def set_parent_tags(self, tags: Mapping[str, Any]) -> None:
        for k, v in tags.items():
            self.client.set_tag(self.parent_run_id, k, str(v))

    def log_parent_metrics(self, metrics: Mapping[str, float]) -> None:
        """Numbers of the whole study on its parent run (MLflow's charts and run comparison read metrics, not tags)."""
        from mlflow.entities import Metric

        now = _now_ms()
        self.client.log_batch(self.parent_run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])

    def log_parent_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.parent_run_id, str(local_path), artifact_path)

    def log_best_checkpoint(self, path: str | Path, trial: int) -> None:
        """``path`` (a ``model.pt``) becomes the parent's ``best_checkpoint/``, tagged with its trial."""
        self.client.log_artifact(self.parent_run_id, str(path), BEST_CHECKPOINT_DIR)
        self.client.set_tag(self.parent_run_id, BEST_CHECKPOINT_TRIAL_TAG, str(trial))

    def copy_checkpoint_to_parent(self, run_id: str, trial: int) -> bool:
        """The trial run's ``checkpoint/model.pt`` becomes the parent's ``best_checkpoint/``; False
        when the run has none (it could not be written, e.g. on a full disk: export re-trains it)."""
        if f"{CHECKPOINT_DIR}/model.pt" not in {a.path for a in self.client.list_artifacts(run_id, CHECKPOINT_DIR)}:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            self.log_best_checkpoint(self.client.download_artifacts(run_id, f"{CHECKPOINT_DIR}/model.pt", tmp), trial)
        return True

    def trial_runs(self) -> dict[int, Any]:
        """The study's trial runs (nested under its parent run, tagged with their trial number), by number."""
        runs = study_runs(self.client, self.experiment_id, self.parent_run_id)
        return {int(run.data.tags[TRIAL_TAG]): run for run in runs if TRIAL_TAG in run.data.tags}

    def parent_tags(self) -> dict[str, str]:
        return dict(self.client.get_run(self.parent_run_id).data.tags)

    def close_parent(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.parent_run_id, status=status)


def study_runs(client, experiment_id: str, parent_run_id: str) -> list:
    """Every run nested under the study's parent run (its trials, ``export`` runs), on all pages."""
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], f"tags.`{MLFLOW_PARENT_TAG}` = '{parent_run_id}'",
                                  max_results=1000, page_token=token)
        runs += list(page)
        if not (token := page.token):
            return runs


def delete_study_runs(tracking_uri: str, parent_run_id: str) -> int:
    """Delete the study's parent run and every run nested under it (MLflow keeps deleted runs, and
    their artifacts, until ``mlflow gc``); the number of runs deleted. A parent run that is not in
    this store (already deleted, or tracked elsewhere) deletes nothing."""
    from mlflow.exceptions import MlflowException

    client = tracking_client(tracking_uri)
    try:
        parent = client.get_run(parent_run_id)
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return 0
        raise
    runs = study_runs(client, parent.info.experiment_id, parent_run_id)
    if parent.info.lifecycle_stage != "deleted":
        runs.append(parent)  # last: a re-run after a failure halfway still finds the nested runs by it
    for run in runs:
        client.delete_run(run.info.run_id)
    return len(runs)


def close_run(tracking_uri: str, run_id: str, status: str, tags: Mapping[str, str]) -> None:
    """Tag and close a run from any process (e.g. the trial of a worker that died)."""
    client = tracking_client(tracking_uri)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    client.set_terminated(run_id, status=status)


def rows_as_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text (header from the first row's keys) for a table artifact."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def log_finished_run(tracking_uri: str, artifact_uri: str | None, experiment: str, run_name: str,
                     params: Mapping[str, Any], metrics: Mapping[str, float], tags: Mapping[str, str],
                     files: Mapping[str, str]) -> str:
    """One complete run (e.g. ``autohar reproduce``): params, metrics, tags and text ``files``
    (artifact path -> content), closed FINISHED; closed FAILED if recording breaks halfway."""
    from mlflow.entities import Metric, Param, RunTag

    client = tracking_client(tracking_uri)
    experiment_id = open_experiment(client, experiment, artifact_uri)
    run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
    try:
        now = _now_ms()
        client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                         params=[Param(k, str(v)) for k, v in params.items()],
                         tags=[RunTag(k, str(v)) for k, v in tags.items()])
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                folder, _, filename = name.rpartition("/")
                path = Path(tmp) / filename
                path.write_text(text)
                client.log_artifact(run_id, str(path), folder or None)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id
