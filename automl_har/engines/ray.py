"""The Ray Tune engine: ``tune.Tuner`` over the same ``run_trial`` and the same search spaces.

The method's define-by-run ``space(trial)`` reaches Ray through ``OptunaSearch(space=...)``,
backed by the study's own Optuna storage, so ``autohar studies`` / ``show`` see Ray trials like
any other. ASHA stops weak trials from the per-epoch validation reports (``tune.report``); a
stopped trial is told to Optuna as PRUNED and its MLflow run is closed as such by the driver.
Each trial logs to its own MLflow run nested under the study's parent run, whose id is passed
to the workers explicitly together with an absolute tracking URI (Ray changes the working
directory of its workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import (
    BEST_TRIAL_TAG, BEST_VALUE_TAG, FAIL_REASON_TAG, NOTICE_ATTR, NOTICE_TAG, PRUNE_REASON_TAG, STATE_TAG,
    TEST_METRIC_PREFIX, TRIAL_RUN_ATTR,
)
from automl_har.engines._loop import (
    beats_stored_best, best_completed_trial, finished_states, open_study, settle_best_checkpoint,
)
from automl_har.engines._spec import StudyResult, TrialSummary, make_sampler
from automl_har.engines._tracked import Stopwatch, open_tracker, run_tracked_trial, trial_tags
from automl_har.errors import DependencyError, SearchError
from automl_har.methods import get_method
from automl_har.objectives import check_experiment
from automl_har.search_spaces import get_space
from automl_har.search_spec import SearchSpec
from automl_har.storage import open_storage
from automl_har.tracking import StudyTracker, log_study_plots

ENGINE = "ray"
METRIC = "objective"  # per-epoch: validation macro-F1 of the first label draw; final: the trial's value
FINAL = "autohar_final"
NUMBER = "__autohar_trial_number"
RUN_ID = TRIAL_RUN_ATTR  # the trial's MLflow run id in its Ray results, under the trial attribute's name
OBJECT_STORE_BYTES = 256 * 1024**2  # a laptop-sized cap; trials move no large objects through Ray


@dataclass(frozen=True)
class RayOptions:
    """Ray-specific settings of a search.

    Attributes:
        workers: trials run concurrently.
        cpus_per_trial: CPUs (and torch threads) per trial.
        gpus_per_trial: GPU fraction per trial when a GPU exists (0 on CPU-only machines).
        grace_period: ASHA's minimum epochs before a trial can be stopped.
        reduction_factor: ASHA's reduction factor.
        address: join an existing cluster (``ray start --head``); None starts a local one.
    """

    workers: int = 1
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0
    grace_period: int = 3
    reduction_factor: int = 3
    address: str | None = None


def _import_ray():
    try:
        import ray
        from ray import tune
    except ImportError as err:  # pragma: no cover - ray[tune] is a dependency
        raise DependencyError("the ray engine needs Ray Tune; run `pip install 'ray[tune]'`") from err
    return ray, tune


def _searcher_class():
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):
        """OptunaSearch that tells each config its Optuna trial number, records test metrics as
        user attributes, and tells trials stopped early by the scheduler as PRUNED."""

        def suggest(self, trial_id: str):
            config = super().suggest(trial_id)
            if config is not None:
                config[NUMBER] = self._ot_trials[trial_id].number
            return config

        def on_trial_result(self, trial_id: str, result: dict):
            trial = self._ot_trials[trial_id]
            if RUN_ID in result and TRIAL_RUN_ATTR not in trial.user_attrs:  # lets a restore close it
                trial.set_user_attr(TRIAL_RUN_ATTR, result[RUN_ID])
            super().on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id: str, result=None, error: bool = False):
            if result and RUN_ID in result:
                self._ot_trials[trial_id].set_user_attr(TRIAL_RUN_ATTR, result[RUN_ID])
            if result and not error:
                if result.get(FINAL):
                    for key, value in result.items():
                        if key.startswith(TEST_METRIC_PREFIX) or key == NOTICE_ATTR:
                            self._ot_trials[trial_id].set_user_attr(key, value)
                else:  # stopped by ASHA: no final value, so OptunaSearch tells PRUNED
                    result = {k: v for k, v in result.items() if k != self.metric}
            super().on_trial_complete(trial_id, result, error)

    return StudySearch


@dataclass(frozen=True)
class _SpaceWithFixedParams:
    """The method's define-by-run space plus ``--param`` values; picklable for Ray's checkpoints."""

    method: str
    variant: str
    fixed: dict

    def __call__(self, trial) -> dict:
        return {**get_space(self.method, self.variant).space(trial), **self.fixed}


def _trial_function(spec: SearchSpec, parent_run_id: str, study_name: str, cpus: int) -> Callable[[dict], None]:
    """The function Ray runs per trial, in a worker process."""

    def trainable(config: dict) -> None:
        import torch
        from ray import tune

        torch.set_num_threads(cpus)
        params = dict(config)
        number = params.pop(NUMBER)
        tracker = StudyTracker.attach(spec.resolved_tracking_uri, study_name, parent_run_id)
        run = tracker.start_trial(number, params, trial_tags(spec, ENGINE, study_name))
        watch = Stopwatch()

        def report(step: int, value: float) -> None:
            with watch("sampler_report"):
                run.flush()  # a trial ASHA stops is ended from outside: keep its curve written
                tune.report({METRIC: value, "epoch": step, RUN_ID: run.run_id})

        def best_so_far(outcome) -> bool:  # against the storage, where every finished trial is
            return beats_stored_best(optuna.load_study(study_name=study_name, storage=open_storage(spec.storage_url)),
                                     outcome.value)

        started = time.perf_counter()
        summary, outcome = run_tracked_trial(spec, run, number, params, report, "epoch", watch, keep_checkpoint=best_so_far)
        if summary.state == "FAIL":
            raise SearchError(summary.error)
        if summary.state == "COMPLETE":
            seconds = {f"seconds_{k}": v for k, v in summary.seconds.items()}
            seconds["seconds_wall"] = time.perf_counter() - started
            notice = {NOTICE_ATTR: summary.tags[NOTICE_TAG]} if NOTICE_TAG in summary.tags else {}
            tune.report({METRIC: outcome.value, FINAL: True, RUN_ID: run.run_id, **outcome.metrics(), **seconds, **notice})

    return trainable


def scheduler(spec: SearchSpec, options: RayOptions):
    """ASHA, unless the spec's pruner is ``none`` (a grid's default, see
    :func:`automl_har.search_spec.default_pruner`): then every trial runs to its end (FIFO)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if spec.pruner == "none":
        return FIFOScheduler()
    return ASHAScheduler(max_t=10**6, grace_period=options.grace_period, reduction_factor=options.reduction_factor)


def search(spec: SearchSpec, options: RayOptions = RayOptions(),
           on_trial_end: Callable[[TrialSummary, StudyResult], None] | None = None) -> StudyResult:
    """Run (or restore) the study with Ray Tune until ``spec.n_trials`` trials exist."""
    ray, tune = _import_ray()
    from ray.tune.search import ConcurrencyLimiter

    space = get_space(spec.experiment.method, spec.space)
    check_experiment(spec.experiment)
    get_method(spec.experiment.method).parse_params({**space.defaults, **spec.fixed_params})
    spec.workspace.create()
    study = open_study(spec)
    tracker = open_tracker(spec, study, ENGINE)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=options.address, num_cpus=None if options.address else options.workers * options.cpus_per_trial,
                 include_dashboard=False, object_store_memory=None if options.address else OBJECT_STORE_BYTES,
                 log_to_driver=False, configure_logging=False)
    has_gpu = ray.cluster_resources().get("GPU", 0) > 0
    resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial if has_gpu else 0}
    trainable = tune.with_resources(_trial_function(spec, tracker.parent_run_id, study.study_name, options.cpus_per_trial), resources)
    storage_path = spec.workspace.root / "ray" / study.study_name
    attempts = sorted(storage_path.glob("run-*"), key=lambda p: int(p.name.removeprefix("run-")))
    trials = study.get_trials(deepcopy=False)
    n_existing = sum(t.state != TrialState.WAITING for t in trials)
    interrupted = [t for t in trials if t.state == TrialState.RUNNING]
    if interrupted and attempts and tune.Tuner.can_restore(str(attempts[-1])):
        for trial in interrupted:  # the restored trials start again, each with a new MLflow run
            if run_id := trial.user_attrs.get(TRIAL_RUN_ATTR):
                tracker.reopen_trial(run_id).finish("FAILED", tags={STATE_TAG: "FAIL",
                                                                    FAIL_REASON_TAG: "interrupted; the trial was restarted"})
        tuner = tune.Tuner.restore(str(attempts[-1]), trainable=trainable, resume_unfinished=True)
    else:
        new_study = not study.get_trials(deepcopy=False)
        searcher = _searcher_class()(
            space=_SpaceWithFixedParams(spec.experiment.method, spec.space, dict(spec.fixed_params)), metric=METRIC, mode="max", sampler=make_sampler(spec),
            points_to_evaluate=[space.defaults] if new_study else None,
            study_name=study.study_name, storage=study._storage,
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=METRIC, mode="max", num_samples=max(spec.n_trials - n_existing, 0),
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=options.workers), scheduler=scheduler(spec, options),
                time_budget_s=spec.timeout, reuse_actors=True,
            ),
            run_config=tune.RunConfig(name=f"run-{len(attempts)}", storage_path=str(storage_path), verbose=0),
        )
    try:
        grid = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    return _collect(study, spec, tracker, grid, on_trial_end)


def _collect(study, spec: SearchSpec, tracker: StudyTracker, grid, on_trial_end) -> StudyResult:
    """Turn Ray's results into the engine-neutral :class:`StudyResult`; close stopped runs."""
    result = StudyResult(study.study_name, spec.storage_url, tracker.parent_run_id, 0, None, None, {})
    if (best := best_completed_trial(study)) is not None:  # the best of the whole study, earlier runs included
        result.best_trial, result.best_value, result.best_params = best.number, best.value, dict(best.params)
        settle_best_checkpoint(study, tracker, best.number)
        tracker.set_parent_tags({BEST_TRIAL_TAG: result.best_trial, BEST_VALUE_TAG: f"{result.best_value:.6f}"})
    for trial_result in sorted(grid, key=lambda r: r.config.get(NUMBER, -1)):
        metrics, config = trial_result.metrics or {}, dict(trial_result.config)
        number = config.pop(NUMBER, -1)
        summary = TrialSummary(number, "COMPLETE", None, config)
        if trial_result.error is not None:
            summary.state, summary.error = "FAIL", str(trial_result.error).strip().splitlines()[-1][:500]
        elif metrics.get(FINAL):
            summary.value = metrics[METRIC]
            summary.seconds = {k.removeprefix("seconds_"): v for k, v in metrics.items() if k.startswith("seconds_") and k != "seconds_wall"}
            summary.wall_seconds = metrics.get("seconds_wall", 0.0)
        else:
            summary.state = "PRUNED"
            if metrics.get(RUN_ID):
                reason = f"stopped by ASHA after epoch {metrics.get('epoch')} at {metrics.get(METRIC, float('nan')):.4f}"
                tracker.reopen_trial(metrics[RUN_ID]).finish("FINISHED", tags={STATE_TAG: "PRUNED", PRUNE_REASON_TAG: reason})
        result.trials.append(summary)
        result.n_finished += 1
        if on_trial_end:
            on_trial_end(summary, result)
    result.states = finished_states(study.get_trials(deepcopy=False))
    log_study_plots(study, tracker)
    tracker.close_parent("FINISHED")
    if result.best_trial is None and result.trials and all(t.state == "FAIL" for t in result.trials):
        raise SearchError(f"no trial of study {study.study_name!r} completed; last error: {result.trials[-1].error}")
    return result
