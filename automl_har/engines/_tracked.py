"""One trial with its MLflow run: the part of a trial both engines share.

:func:`run_tracked_trial` opens the nested MLflow run, calls :func:`run_trial` with the
engine's pruning reporter, sorts the outcome into COMPLETE / PRUNED / FAIL, logs a
checkpoint when asked to, and closes the run. The engine keeps the sampler side (Optuna
ask/tell, or Ray Tune's searcher and scheduler).

When MLflow cannot record (its server is down, the disk is full: a :class:`RecordingError`), the
trial's outcome still goes to Optuna, which is the record of the study: the error waits on the run
(``run.recording_error``) until the engine has told Optuna, then stops the search with one line. A
fault before the outcome is known stops the trial as a kill does (closed, not counted). The re-run
that resumes the study closes the runs a fault left open (:func:`reconcile_trial_runs`).

The objective (and so torch) is looked up when the first trial runs, not when this module is
imported: a worker process asks Optuna for its first trial before it loads torch.
"""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable

import optuna

from automl_har import objectives
from automl_har.attrs import (
    BUDGET_TAG, CHECKPOINT_ERROR_TAG, COST_ATTRS, DATASET_TAG, ENGINE_TAG, FAIL_REASON_ATTR, FAIL_REASON_TAG,
    INTERRUPTED_ATTR, KIND_TAG, METHOD_TAG, PARENT_RUN_ATTR, PRUNE_REASON_TAG, RECONCILED_TAG, STATE_TAG, STUDY_TAG,
    TAG_PREFIX, TEST_METRIC_PREFIX, TRACEBACK_TAG, VAL_FLOOR_ATTRS, VALUE_METRIC,
)
from automl_har.cache import StageCache
from automl_har.engines._spec import TrialSummary
from automl_har.errors import RecordingError, TrialSkipped
from automl_har.search_spec import SearchSpec
from automl_har.tracking import RESUME_HINT, STUDY_KIND, TRIAL_KIND, StudyTracker, TrialRun, disk_error

if TYPE_CHECKING:
    from automl_har.objectives import TrialResult


class Stopwatch:
    """Seconds spent per named activity (``with watch("optuna"): ...``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


def run_tracked_trial(
    spec: SearchSpec,
    run: TrialRun,
    number: int,
    params: dict,
    report: Callable[[int, float], None],
    mode: str,
    watch: Stopwatch,
    keep_checkpoint: Callable[[TrialResult], bool],
    measure_costs: Callable[[TrialResult], dict[str, float]] | None = None,
    pretraining: tuple[float, tuple[float, ...]] = (1.0, ()),
) -> tuple[TrialSummary, TrialResult | None]:
    """Run one trial inside its already-open MLflow ``run``.

    Raises only KeyboardInterrupt (a kill), or :class:`RecordingError` when MLflow or the disk fails
    before the trial has its outcome (the engine closes the trial as it closes a killed one). When
    MLflow misses part of a known outcome, the error waits in ``run.recording_error`` instead.

    ``report`` may raise :class:`optuna.TrialPruned`; the time it takes
    is expected under ``watch.seconds["sampler_report"]`` and is not counted as training.
    ``measure_costs`` (multi-objective searches) measures latency/size of the trained model;
    its values go to ``summary.costs`` and the run's metrics, and every such trial keeps its
    checkpoint (any point of the Pareto front may be exported). ``pretraining`` is the trial's
    ``(pretrain_fraction, checkpoint_fractions)`` (a staged ``--fidelity epochs`` trial's rung).
    """
    hooks = objectives.TrialHooks(report=report, log_metrics=run.log_metrics, pruning_mode=mode,
                       cache=StageCache(spec.workspace.cache_dir), set_tag=run.set_tag,
                       log_artifact=run.log_artifact, pretrain_fraction=pretraining[0],
                       checkpoint_fractions=pretraining[1])
    summary = TrialSummary(number, "RUNNING", None, dict(params), method=spec.experiment.method)
    outcome = None
    try:
        with watch("run_trial"):
            outcome = objectives.run_trial(params, spec.experiment, hooks)
        if measure_costs is not None:
            with watch("measure_costs"):
                summary.costs = dict(measure_costs(outcome))
    except (optuna.TrialPruned, TrialSkipped) as pruned:
        summary.state = "PRUNED"
        _record(run, number, lambda: run.finish("FINISHED", tags={STATE_TAG: "PRUNED", PRUNE_REASON_TAG: str(pruned)}))
    except KeyboardInterrupt as stop:
        _close_unfinished(run, interrupt_reason(stop))
        raise
    except Exception as err:  # noqa: BLE001 - a failing trial is recorded and the study goes on
        fault = err if isinstance(err, RecordingError) else disk_error(err)
        if fault is not None:  # MLflow or the disk failed, not the trial: it stops as a killed one does
            _close_unfinished(run, interrupt_reason(fault))
            raise RecordingError(f"{fault} during trial {number}, which stopped unfinished (not counted); "
                                 f"{RESUME_HINT}") from err
        summary.state, summary.error = "FAIL", f"{type(err).__name__}: {err}"
        failed = {STATE_TAG: "FAIL", FAIL_REASON_TAG: summary.error[:5000],
                  TRACEBACK_TAG: traceback.format_exc()[-4000:]}
        _record(run, number, lambda: run.finish("FAILED", tags=failed))
    else:
        summary.state, summary.value = "COMPLETE", outcome.value
        best = keep_checkpoint(outcome)
        checkpoint_tags = {}
        if best or measure_costs is not None:
            parent_best = number if best else None
            write = lambda: run.log_checkpoint(outcome.checkpoint, as_parent_best_of_trial=parent_best)  # noqa: E731
            if not _record(run, number, write, kept=" (without its checkpoint)"):
                checkpoint_tags[CHECKPOINT_ERROR_TAG] = str(run.recording_error)[:5000]
        _record(run, number, lambda: run.finish("FINISHED", {**outcome.metrics(), **summary.costs},
                                                tags={STATE_TAG: "COMPLETE", **checkpoint_tags}))
    data = outcome.data_seconds if outcome is not None else 0.0
    summary.seconds.update(
        data=data,
        training=watch.seconds["run_trial"] - data - watch.seconds["sampler_report"],
        mlflow=run.seconds,
    )
    summary.tags = {k.removeprefix(TAG_PREFIX): v for k, v in run.tags.items()}
    return summary, outcome


def _record(run: TrialRun, number: int, write: Callable[[], None], kept: str = "") -> bool:
    """``write()`` the trial's outcome to MLflow. When MLflow cannot record it, keep the first such
    error on ``run`` (the engine raises it once Optuna has the outcome) and return False."""
    try:
        write()
        return True
    except RecordingError as fault:
        if run.recording_error is None:
            run.recording_error = RecordingError(f"{fault} while recording trial {number}; Optuna keeps its outcome"
                                                 f"{kept}; {RESUME_HINT}")
        return False


def _close_unfinished(run: TrialRun, reason: str) -> None:
    """Close the run of a trial stopped before its outcome (KILLED, as its Optuna trial is closed
    FAIL and not counted); if MLflow cannot record now, the run stays open until a resume closes it."""
    try:
        run.finish("KILLED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: reason})
    except RecordingError:
        pass


@contextmanager
def closing_parent_on_error(tracker: StudyTracker):
    """Close the study's parent run when the block raises: KILLED with the reason for Ctrl-C or a
    kill (see ``automl_har.cli._common.kill_as_interrupt``), FAILED with the error otherwise. When
    MLflow cannot record, the parent stays open (a resumed search reopens it) and the block's error
    is the one raised."""
    try:
        yield
    except KeyboardInterrupt as stop:
        _close_parent(tracker, "KILLED", interrupt_reason(stop))
        raise
    except BaseException as err:
        _close_parent(tracker, "FAILED", f"{type(err).__name__}: {err}"[:5000])
        raise


def _close_parent(tracker: StudyTracker, status: str, reason: str) -> None:
    """Close the parent run with ``status`` and ``reason``, or leave it open when MLflow cannot record."""
    try:
        tracker.set_parent_tags({FAIL_REASON_TAG: reason})
        tracker.close_parent(status)
    except RecordingError:
        pass


def interrupt_reason(stop: KeyboardInterrupt | RecordingError) -> str:
    """Ctrl-C, the signal a kill sent (see ``automl_har.cli._common.kill_as_interrupt``), or why
    MLflow could not record."""
    if isinstance(stop, RecordingError):
        return f"interrupted: {stop}"
    return f"interrupted: {stop.args[0] if stop.args else 'Ctrl-C'}"


def trial_tags(spec: SearchSpec, engine: str, study_name: str) -> dict[str, str]:
    """MLflow tags every trial run of the study carries."""
    return {
        KIND_TAG: TRIAL_KIND,  # the MLflow UI's view of the study filters on it (tracking/_views.py)
        ENGINE_TAG: engine,
        METHOD_TAG: spec.experiment.method,
        DATASET_TAG: spec.experiment.dataset,
        STUDY_TAG: study_name,
        BUDGET_TAG: str(spec.experiment.budget),
    }


def open_tracker(spec: SearchSpec, study: optuna.Study, engine: str) -> StudyTracker:
    """The study's MLflow tracker with its parent run open (reopened when the study resumes)."""
    tracker = StudyTracker(spec.resolved_tracking_uri, spec.artifact_uri, study.study_name)
    tags = {**{k: v for k, v in trial_tags(spec, engine, study.study_name).items() if k != BUDGET_TAG},
            KIND_TAG: STUDY_KIND}
    parent = tracker.open_parent(study.user_attrs.get(PARENT_RUN_ATTR), spec.experiment.as_tags(), tags)
    if study.user_attrs.get(PARENT_RUN_ATTR) != parent:
        study.set_user_attr(PARENT_RUN_ATTR, parent)
        for key, value in spec.experiment.as_tags().items():
            study.set_user_attr(key, value)
    else:
        reconcile_trial_runs(study, tracker)
    return tracker


def run_status(trial: optuna.trial.FrozenTrial) -> str:
    """The MLflow run status of a finished trial: COMPLETE and PRUNED runs are FINISHED, a FAIL
    FAILED (KILLED when its process was stopped: ``interrupted``)."""
    if trial.state == optuna.trial.TrialState.FAIL:
        return "KILLED" if trial.user_attrs.get(INTERRUPTED_ATTR) else "FAILED"
    return "FINISHED"


def reconcile_trial_runs(study: optuna.Study, tracker: StudyTracker) -> None:
    """On resume: close every trial run whose Optuna trial finished but which says otherwise (a
    fault left it open: a tracking server that died, a full disk), as its trial ended, with the
    trial's value and reported metrics where the run lacks them. Optuna is the record of the study;
    the runs of trials still RUNNING are left to their workers."""
    finished = {t.number: t for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    for number, run in sorted(tracker.trial_runs().items()):
        trial = finished.get(number)
        if trial is None or _run_agrees(run, trial):
            continue
        state = trial.state.name
        tags = {STATE_TAG: state, RECONCILED_TAG: f"closed by a resumed search as its trial ended ({state})"}
        if trial.state == optuna.trial.TrialState.FAIL:
            tags[FAIL_REASON_TAG] = str(trial.user_attrs.get(FAIL_REASON_ATTR, "failed"))[:5000]
        metrics = {}
        if trial.state == optuna.trial.TrialState.COMPLETE and VALUE_METRIC not in run.data.metrics:
            metrics = {VALUE_METRIC: trial.values[0], **_reported_metrics(trial)}
        tracker.reopen_trial(run.info.run_id).finish(run_status(trial), metrics, tags)


def _reported_metrics(trial: optuna.trial.FrozenTrial) -> dict[str, float]:
    """What a COMPLETE trial stored besides its value (``record_outcome``): test metrics, floors, costs."""
    return {key: value for key, value in trial.user_attrs.items() if isinstance(value, (int, float))
            and (key.startswith(TEST_METRIC_PREFIX) or key in VAL_FLOOR_ATTRS or key in COST_ATTRS)}


def _run_agrees(run, trial: optuna.trial.FrozenTrial) -> bool:
    """The run is closed and tagged as its finished trial ended (a FAIL's run FAILED or KILLED)."""
    statuses = {"FAILED", "KILLED"} if trial.state == optuna.trial.TrialState.FAIL else {"FINISHED"}
    return run.data.tags.get(STATE_TAG) == trial.state.name and run.info.status in statuses
