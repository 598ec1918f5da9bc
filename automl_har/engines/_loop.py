"""The Optuna study of a search and the ask/tell loop that runs its trials.

Shared by the search coordinator (:mod:`automl_har.engines.optuna`), the worker processes
(:mod:`automl_har.engines._workers`, ``autohar worker``) and the Ray engine (which opens the same
study); none of them imports another. Ask/tell (rather than ``study.optimize``) lets the loop time
every storage call, record failures with their error text in both stores, and count the study's
trials in the storage before each one, so several processes can share it.

Nothing here loads torch or MLflow before the first ``study.ask()``: the search space (the
method's module), the objective and the MLflow client are loaded when the first trial runs, so a
worker process asks for its trial within about a second of starting.
"""

from __future__ import annotations

import time
import warnings
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import (
    BEST_CHECKPOINT_TRIAL_TAG, BEST_TRIAL_TAG, BEST_VALUE_TAG, COST_ATTRS, FAIL_REASON_ATTR, FAIL_REASON_TAG,
    FIXED_PARAMS_ATTR, INTERRUPTED_ATTR, LATENCY_ATTR, MACS_ATTR, N_PARAMS_ATTR, NOTICE_ATTR, NOTICE_TAG, OWNER_ATTR,
    RUN_FIRST_TRIAL_ATTR, SPEC_ATTR, STATE_TAG, TEST_METRIC_PREFIX, TRIAL_RUN_ATTR, VAL_FLOOR_ATTRS, VALUE_METRIC,
    WARM_START_ATTR, WARM_START_TAG, BEST_METHOD_TAG, EXCLUDED_METHODS_ATTR,
)
from automl_har.engines._counting import (
    counted_trials, failures_by_reason, finished_states, n_finished, raise_if_first_trials_failed,
    raise_if_too_many_failed,
)
from automl_har.engines._owners import this_process
from automl_har.engines._spec import StudyResult, TrialSummary, make_sampler, pruning_mode, study_pruner
from automl_har.engines._tracked import Stopwatch, interrupt_reason, run_tracked_trial, trial_tags
from automl_har.engines.staged import pretraining_fidelity, staged_trial_tags
from automl_har.errors import ConfigError, RecordingError, SearchError
from automl_har.search_spaces import PROTOCOL_PARAMS, PrefixedTrial, SearchSpace
from automl_har.search_spec import SearchSpec, experiment_changes, param_prefix, trials_view_columns
from automl_har.selection import runnable_methods, trial_spec
from automl_har.storage import open_storage, rank_by_validation, refuse_legacy_duplicate
from automl_har.tracking import StudyTracker, TrialRun, close_run, log_study_plots, save_trials_view

ENGINE = "optuna"
#: objective name -> key of the measured costs (see :func:`trial_costs`)
COST_KEYS = {"latency": LATENCY_ATTR, "params": N_PARAMS_ATTR, "macs": MACS_ATTR}


def open_study(spec: SearchSpec) -> optuna.Study:
    """Create the study, or load it when it exists (resume), with the spec's sampler and pruner."""
    if spec.storage is None:
        refuse_legacy_duplicate(spec.resolved_study_name, spec.workspace.legacy_sqlite_url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            storage=open_storage(spec.storage_url, on_stale_trial=close_stale_run(spec)),
            sampler=make_sampler(spec),
            pruner=study_pruner(spec),
            study_name=spec.resolved_study_name,
            directions=spec.directions,
            load_if_exists=True,
        )
    refuse_changed_experiment(study, spec)
    return study


def start_run_of_study(study: optuna.Study, space: SearchSpace | None, spec: SearchSpec, enqueue_defaults: bool = True) -> None:
    """What both engines record once the checks passed: the spec (for workers), where this search
    starts (:data:`RUN_FIRST_TRIAL_ATTR`) and, with ``enqueue_defaults``, trial 0 = the paper's
    defaults when :func:`needs_defaults_trial` (the Ray engine gives them to its searcher instead)."""
    trials = study.get_trials(deepcopy=False)
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(RUN_FIRST_TRIAL_ATTR, len(trials))
    if enqueue_defaults and needs_defaults_trial(trials, spec):
        study.enqueue_trial(space.first_trial())


def needs_defaults_trial(trials: list[optuna.trial.FrozenTrial], spec: SearchSpec) -> bool:
    """Whether the next trial should be the paper's defaults: the study has no measured trial (a
    first search, or one whose every trial failed) and none is waiting to run; a grid walks its points."""
    waiting = any(t.state == TrialState.WAITING for t in trials)
    return not counted_trials(trials) and not waiting and spec.sampler != "grid"


def refuse_changed_experiment(study: optuna.Study, spec: SearchSpec) -> None:
    """A ConfigError, before anything is recorded, when ``spec`` resumes a study stored with another
    experiment (a different dataset, protocol, budget, space, ``--param`` ...): its trials would be
    ranked with trials that measured something else (:func:`~automl_har.search_spec.experiment_changes`)."""
    if SPEC_ATTR not in study.user_attrs:
        return
    changes = experiment_changes(SearchSpec.from_dict(study.user_attrs[SPEC_ATTR]), spec)
    if changes:
        name = study.study_name
        raise ConfigError(f"study {name!r} was run with another experiment ({'; '.join(changes)}); to run this one, "
                          f"name a new study (--study {name}-2) or delete the old one (autohar studies delete {name})")


def check_search(spec: SearchSpec, create_workspace: bool = True) -> SearchSpace:
    """What both engines (and ``search --dry-run``) check before anything is recorded: the data (a
    missing folder, an unknown dataset) and the ``--param`` values against the method's ``Params``;
    then the workspace is made (unless ``create_workspace`` is False: a dry run writes nothing)."""
    from automl_har.methods import get_method  # the method's module (torch): only a coordinator needs it
    from automl_har.objectives import check_experiment

    space = spec.search_space()
    check_experiment(spec.experiment)
    fixed = {k: v for k, v in spec.fixed_params.items() if k not in PROTOCOL_PARAMS}  # --param label_ratio=...
    get_method(spec.experiment.method).parse_params({**space.defaults, **fixed})
    if spec.sampler == "staged":
        make_sampler(spec)  # its one-line errors (a method or space without pre-training fields) come first
    if create_workspace:
        spec.workspace.create()
    return space


def check_method_selection(spec: SearchSpec, create_workspace: bool = True) -> tuple[list[str], dict[str, str]]:
    """:func:`check_search` of a method-selection study: ``(the methods that can run, {excluded: why})``,
    every candidate checked as a search of it alone is (:func:`automl_har.selection.runnable_methods`)."""
    runnable, excluded = runnable_methods(spec, lambda one: check_search(one, create_workspace=False))
    if create_workspace:
        spec.workspace.create()
    return runnable, excluded


def close_stale_run(spec: SearchSpec | None = None) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Heartbeat callback: the MLflow run of a trial whose worker died is closed as FAILED.

    ``spec`` None: the tracking URI of the spec stored in the study, read when a trial goes stale
    (a worker opens the storage once, before it has read the spec).
    """

    def close(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if run_id := trial.user_attrs.get(TRIAL_RUN_ATTR):
            tracking_uri = (spec or SearchSpec.from_study(study)).resolved_tracking_uri
            close_run(tracking_uri, run_id, "FAILED",
                      {STATE_TAG: "FAIL", FAIL_REASON_TAG: "worker stopped sending heartbeats"})

    return close


def trial_target(spec: SearchSpec) -> int:
    """Total trials the study should have; a grid has at most its number of points."""
    if spec.sampler == "grid":
        return min(spec.n_trials, spec.search_space().grid_size())
    return spec.n_trials


def study_result(study: optuna.Study, spec: SearchSpec, tracker: StudyTracker) -> StudyResult:
    """Counts and best trial as the storage has them now."""
    trials = study.get_trials(deepcopy=False)
    result = StudyResult(study.study_name, spec.storage_url, tracker.parent_run_id,
                         n_finished(trials), None, None, {}, states=finished_states(trials),
                         failures=failures_by_reason(trials))
    result.take_best(best_completed_trial(study))
    return result


def beats_stored_best(study: optuna.Study, value: float) -> bool:
    """Whether ``value`` beats every COMPLETE trial in the storage now, those of other workers and
    machines included (the first objective, F1): a trial that does replaces the parent run's
    ``best_checkpoint/``. Asked when the trial finishes, not against a per-process best."""
    best = best_completed_trial(study)
    return best is None or value > best.values[0]


def best_completed_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The COMPLETE trial with the highest first objective (F1) in the storage now; of equal values
    the one that finished first (see :func:`automl_har.storage.rank_by_validation`)."""
    ranked = rank_by_validation(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    return ranked[0] if ranked else None


def settle_best_checkpoint(study: optuna.Study, tracker: StudyTracker, best_trial: int | None) -> None:
    """At the end of a study: make the parent's ``best_checkpoint/`` the best trial's. Two workers
    finishing at once can both beat the stored best and upload in either order; the best trial
    always kept its checkpoint in its own run (it beat every stored value when it finished)."""
    if best_trial is None or tracker.parent_tags().get(BEST_CHECKPOINT_TRIAL_TAG) == str(best_trial):
        return
    frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == best_trial)
    if run_id := frozen.user_attrs.get(TRIAL_RUN_ATTR):
        tracker.copy_checkpoint_to_parent(run_id, best_trial)


def run_trials(study: optuna.Study, spec: SearchSpec, tracker: StudyTracker,
               on_trial_end: Callable[[TrialSummary, StudyResult], None] | None = None) -> StudyResult:
    """The worker loop: ask, run, tell until the study has its trials or the timeout passes.

    Several processes may run it on one study (``--workers``, ``autohar worker``): the total is
    counted in the storage before every trial.
    """
    target, mode = trial_target(spec), pruning_mode(spec.pruner)
    result = study_result(study, spec, tracker)
    started, last_error, failed_here = time.monotonic(), "", 0
    while spec.timeout is None or time.monotonic() - started < spec.timeout:
        fail_stale_trials(study)
        if len(counted_trials(study.get_trials(deepcopy=False))) >= target:
            break
        summary = _run_one(study, spec, tracker, mode, target)
        if summary is None:  # another worker took the last trial
            break
        result.n_finished += summary.state != "FAIL"  # a failed trial does not count towards the total
        result.states[summary.state] = result.count(summary.state) + 1
        result.trials.append(summary)
        if summary.state == "COMPLETE" and (result.best_value is None or summary.value > result.best_value):
            result.best_trial, result.best_value, result.best_params = summary.number, summary.value, summary.params
        if on_trial_end:
            on_trial_end(summary, result)
        if summary.state == "FAIL":
            last_error, failed_here = summary.error, failed_here + 1
            result.failures[summary.error] = result.failures.get(summary.error, 0) + 1
            raise_if_first_trials_failed(study, summary.error)
            raise_if_too_many_failed(failed_here, target, summary.error)
    if result.best_trial is None and last_error:
        raise SearchError(f"no trial of study {study.study_name!r} completed; last error: {last_error}")
    return result


def not_run_reason(n_trials: int) -> str:
    """The fail reason of a trial that a worker asked for after the study already had its
    ``n_trials``: two workers that both counted one trial fewer may ask at once, and the later one
    closes its trial unrun (it does not count towards the total)."""
    return f"not run: the study already had its {n_trials} trials"


def _run_one(study: optuna.Study, spec: SearchSpec, tracker: StudyTracker, mode: str,
             target: int) -> TrialSummary | None:
    """Ask one trial, run it with its MLflow run, tell the outcome to Optuna."""
    watch = Stopwatch()
    started = time.perf_counter()
    with watch("optuna"):
        trial = study.ask()
        trial.set_user_attr(OWNER_ATTR, this_process())  # who may close it on resume (see _owners.py)
        earlier = [t for t in counted_trials(study.get_trials(deepcopy=False)) if t.number < trial.number]
        if len(earlier) >= target:  # a concurrent worker asked for the last trial first
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            trial.set_user_attr(FAIL_REASON_ATTR, not_run_reason(target))
            study.tell(trial, state=TrialState.FAIL)
            return None
    with watch("optuna"):
        spec, params = trial_plan(spec, trial)  # the method's module (torch): loaded after the first ask
    report = pruning_reporter(trial, spec, watch)
    is_best = lambda outcome: beats_stored_best(study, outcome.value)  # noqa: E731 - every worker's trials count
    try:
        run = start_trial_run(trial, spec, tracker, params, ENGINE)
        with heartbeat(study, trial):
            summary, outcome = run_tracked_trial(spec, run, trial.number, params, report, mode, watch, is_best,
                                                 trial_costs if spec.multi_objective else None,
                                                 pretraining_fidelity(system_attrs(trial)))
    except (KeyboardInterrupt, RecordingError) as stop:  # a kill, or MLflow that cannot record: closed, not counted
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        trial.set_user_attr(FAIL_REASON_ATTR, interrupt_reason(stop))
        study.tell(trial, state=TrialState.FAIL)
        raise
    with watch("optuna"):
        record_outcome(trial, summary, outcome)
        if summary.state == "COMPLETE":
            study.tell(trial, objective_values(spec, outcome.value, summary.costs))
        else:
            study.tell(trial, state=TrialState.PRUNED if summary.state == "PRUNED" else TrialState.FAIL)
    if run.recording_error is not None:  # Optuna has the outcome; MLflow missed part of it: stop (_tracked.py)
        raise run.recording_error
    summary.seconds["optuna"] = watch.seconds["optuna"] + watch.seconds["sampler_report"]
    summary.wall_seconds = time.perf_counter() - started
    return summary


def trial_plan(spec: SearchSpec, trial: optuna.Trial) -> tuple[SearchSpec, dict]:
    """``(the spec the trial runs, its params)``: in a method-selection study, the spec of the method the
    sampler chose (:func:`~automl_har.selection.trial_spec`), whose params it stores as ``<method>.<name>``."""
    ran = trial_spec(spec, trial.storage.get_trial(trial._trial_id))  # as stored now: the sampler chose its method
    view = PrefixedTrial(trial, param_prefix(ran.experiment.method)) if spec.selects_method else trial
    return ran, ran.search_space().params_of(view, ran.fixed_params, grid=ran.sampler == "grid")


def start_trial_run(trial: optuna.Trial, spec: SearchSpec, tracker: StudyTracker, params: dict, engine: str) -> TrialRun:
    """The trial's MLflow run; in Optuna, the run's id and the ``--param`` values (both engines)."""
    tags = {**trial_tags(spec, engine, trial.study.study_name), **staged_trial_tags(system_attrs(trial))}
    if warm := trial.user_attrs.get(WARM_START_ATTR):
        tags[WARM_START_TAG] = warm
    run = tracker.start_trial(trial.number, params, tags)
    trial.set_user_attr(TRIAL_RUN_ATTR, run.run_id)
    if spec.fixed_params:  # Optuna's params hold what the sampler proposed; these replaced them
        trial.set_user_attr(FIXED_PARAMS_ATTR, spec.fixed_params)
    return run


def system_attrs(trial: optuna.Trial) -> dict:
    """The trial's system attrs as stored now (the staged sampler's arm, rung and fraction)."""
    return trial.storage.get_trial_system_attrs(trial._trial_id)


def record_outcome(trial: optuna.Trial, summary: TrialSummary, outcome) -> None:
    """What both engines store on the Optuna trial when it ends, before it is told: the method's
    notice, the test metrics and costs of a COMPLETE trial (reported, never returned to the
    sampler), the error of a FAIL."""
    if notice := summary.tags.get(NOTICE_TAG):  # the method's word that this run departs from its paper
        trial.set_user_attr(NOTICE_ATTR, notice)
    if summary.state == "COMPLETE":
        for key, value in outcome.metrics().items():
            if key.startswith(TEST_METRIC_PREFIX) or key in VAL_FLOOR_ATTRS:
                trial.set_user_attr(key, value)
        for key, value in summary.costs.items():
            trial.set_user_attr(key, value)
    elif summary.state == "FAIL":
        trial.set_user_attr(FAIL_REASON_ATTR, summary.error[:1000])


def pruning_reporter(trial: optuna.Trial, spec: SearchSpec, watch: Stopwatch) -> Callable[[int, float], None]:
    """The ``report`` both engines give a trial: the value goes to the Optuna trial and the study's
    pruner (``--pruner``, :func:`make_pruner`) decides whether the trial stops; its time counts
    as ``sampler_report``, not as training."""

    def report(step: int, value: float) -> None:
        if spec.multi_objective:  # Optuna has no pruning for several objectives
            return
        with watch("sampler_report"):
            trial.report(value, step)
            prune = trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at step {step} with intermediate value {value:.4f}")

    return report


def trial_costs(outcome) -> dict[str, float]:
    """Batch-1 CPU latency (ms), parameter count and MACs of the trial's best model, measured on
    the module an export would ship (:func:`automl_har.export.measure_checkpoint`)."""
    from automl_har.export import measure_checkpoint  # torch and the bundle code: only multi-objective trials need them

    costs = measure_checkpoint(outcome.checkpoint)
    return {key: float(costs[key]) for key in COST_ATTRS}


def objective_values(spec: SearchSpec, f1: float, costs: dict[str, float]) -> float | list[float]:
    """What the sampler is told: F1 alone, or F1 followed by the cost objectives."""
    if not spec.multi_objective:
        return f1
    return [f1, *(costs[COST_KEYS[name]] for name in spec.objectives[1:])]


def fail_stale_trials(study: optuna.Study) -> None:
    """With RDB heartbeats: fail (and retry once) the trials of workers that died."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def heartbeat(study: optuna.Study, trial: optuna.Trial):
    """Optuna's heartbeat thread for an RDB storage (what ``study.optimize`` starts itself);
    a no-op context for other storages."""
    from optuna.storages._heartbeat import get_heartbeat_thread  # not re-exported by Optuna

    return get_heartbeat_thread(trial._trial_id, study._storage)


def finish_study(study: optuna.Study, tracker: StudyTracker, result: StudyResult) -> None:
    """The study's metrics (best validation value and trial, trials complete / pruned / failed), the
    best-trial tags, the best checkpoint and the plots on the parent run, the study's view of its
    trials in the MLflow UI (:func:`~automl_har.tracking.save_trials_view`); close the parent. The
    best trial is the storage's (other workers' and machines' trials included); ``result`` is updated."""
    result.take_best(best_completed_trial(study))
    counts = {f"trials_{state.lower()}": result.count(state) for state in ("COMPLETE", "PRUNED", "FAIL")}
    best = {f"best_{VALUE_METRIC}": result.best_value, "best_trial": result.best_trial} if result.best_trial is not None else {}
    spec = SearchSpec.from_study(study)
    if spec.selects_method:  # the parent run shows each method's best (engines/method_selection.py)
        from automl_har.engines.method_selection import leaderboard, leaderboard_metrics

        result.leaderboard = leaderboard(study, spec)
        result.excluded = dict(study.user_attrs.get(EXCLUDED_METHODS_ATTR, {}))
        best.update(leaderboard_metrics(result.leaderboard))
        if result.leaderboard and result.leaderboard[0].best_value is not None:
            tracker.set_parent_tags({BEST_METHOD_TAG: result.leaderboard[0].method})
    tracker.log_parent_metrics({**counts, **best})
    if result.best_trial is not None:
        tracker.set_parent_tags({BEST_TRIAL_TAG: result.best_trial, BEST_VALUE_TAG: f"{result.best_value:.6f}"})
    settle_best_checkpoint(study, tracker, result.best_trial)
    log_study_plots(study, tracker)
    save_trials_view(tracker.client, tracker.experiment_id, study.study_name,
                     *trials_view_columns(study.get_trials(deepcopy=False)))
    tracker.close_parent("FINISHED")
