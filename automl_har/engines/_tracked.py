"""One trial with its MLflow run: the part of a trial both engines share.

:func:`run_tracked_trial` opens the nested MLflow run, calls :func:`run_trial` with the
engine's pruning reporter, sorts the outcome into COMPLETE / PRUNED / FAIL, logs a
checkpoint when asked to, and closes the run. The engine keeps the sampler side (Optuna
ask/tell, or Ray Tune's searcher and scheduler).

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
    BUDGET_TAG, DATASET_TAG, ENGINE_TAG, FAIL_REASON_TAG, METHOD_TAG, PARENT_RUN_ATTR, PRUNE_REASON_TAG, STATE_TAG,
    STUDY_TAG, TAG_PREFIX, TRACEBACK_TAG,
)
from automl_har.cache import StageCache
from automl_har.engines._spec import TrialSummary
from automl_har.errors import TrialSkipped
from automl_har.search_spec import SearchSpec
from automl_har.tracking import StudyTracker, TrialRun

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
    """Run one trial inside its already-open MLflow ``run``; never raises except KeyboardInterrupt.

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
    summary = TrialSummary(number, "RUNNING", None, dict(params))
    outcome = None
    try:
        with watch("run_trial"):
            outcome = objectives.run_trial(params, spec.experiment, hooks)
        if measure_costs is not None:
            with watch("measure_costs"):
                summary.costs = dict(measure_costs(outcome))
    except (optuna.TrialPruned, TrialSkipped) as pruned:
        summary.state = "PRUNED"
        run.finish("FINISHED", tags={STATE_TAG: "PRUNED", PRUNE_REASON_TAG: str(pruned)})
    except KeyboardInterrupt as stop:
        run.finish("KILLED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: interrupt_reason(stop)})
        raise
    except Exception as err:  # noqa: BLE001 - a failing trial is recorded and the study goes on
        summary.state, summary.error = "FAIL", f"{type(err).__name__}: {err}"
        run.finish("FAILED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: summary.error[:5000],
                                    TRACEBACK_TAG: traceback.format_exc()[-4000:]})
    else:
        summary.state, summary.value = "COMPLETE", outcome.value
        best = keep_checkpoint(outcome)
        if best or measure_costs is not None:
            run.log_checkpoint(outcome.checkpoint, as_parent_best_of_trial=number if best else None)
        run.finish("FINISHED", {**outcome.metrics(), **summary.costs}, tags={STATE_TAG: "COMPLETE"})
    data = outcome.data_seconds if outcome is not None else 0.0
    summary.seconds.update(
        data=data,
        training=watch.seconds["run_trial"] - data - watch.seconds["sampler_report"],
        mlflow=run.seconds,
    )
    summary.tags = {k.removeprefix(TAG_PREFIX): v for k, v in run.tags.items()}
    return summary, outcome


@contextmanager
def closing_parent_on_error(tracker: StudyTracker):
    """Close the study's parent run when the block raises: KILLED with the reason for Ctrl-C or a
    kill (see ``automl_har.cli._common.kill_as_interrupt``), FAILED with the error otherwise."""
    try:
        yield
    except KeyboardInterrupt as stop:
        tracker.set_parent_tags({FAIL_REASON_TAG: interrupt_reason(stop)})
        tracker.close_parent("KILLED")
        raise
    except BaseException as err:
        tracker.set_parent_tags({FAIL_REASON_TAG: f"{type(err).__name__}: {err}"[:5000]})
        tracker.close_parent("FAILED")
        raise


def interrupt_reason(stop: KeyboardInterrupt) -> str:
    """Ctrl-C, or the signal a kill sent (see ``automl_har.cli._common.kill_as_interrupt``)."""
    return f"interrupted: {stop.args[0] if stop.args else 'Ctrl-C'}"


def trial_tags(spec: SearchSpec, engine: str, study_name: str) -> dict[str, str]:
    """MLflow tags every trial run of the study carries."""
    return {
        ENGINE_TAG: engine,
        METHOD_TAG: spec.experiment.method,
        DATASET_TAG: spec.experiment.dataset,
        STUDY_TAG: study_name,
        BUDGET_TAG: str(spec.experiment.budget),
    }


def open_tracker(spec: SearchSpec, study: optuna.Study, engine: str) -> StudyTracker:
    """The study's MLflow tracker with its parent run open (reopened when the study resumes)."""
    tracker = StudyTracker(spec.resolved_tracking_uri, spec.artifact_uri, study.study_name)
    tags = {k: v for k, v in trial_tags(spec, engine, study.study_name).items() if k != BUDGET_TAG}
    parent = tracker.open_parent(study.user_attrs.get(PARENT_RUN_ATTR), spec.experiment.as_tags(), tags)
    if study.user_attrs.get(PARENT_RUN_ATTR) != parent:
        study.set_user_attr(PARENT_RUN_ATTR, parent)
        for key, value in spec.experiment.as_tags().items():
            study.set_user_attr(key, value)
    return tracker
