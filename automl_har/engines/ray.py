"""The Ray Tune engine: ``tune.Tuner`` over the same ``run_trial``, search spaces and study.

The method's define-by-run ``space(trial)`` reaches Ray through ``OptunaSearch(space=...)``,
backed by the study's own Optuna storage, so ``autohar studies`` / ``show`` / ``verify`` see Ray
trials like any other. Ray schedules and places the trials (``--workers``, a cluster); the rest
behaves as on the Optuna engine, from the same code in :mod:`automl_har.engines._loop`:

- ``--pruner``: each trial reports to its Optuna trial and the study's pruner decides, inside the
  trial (:func:`~automl_har.engines._loop.pruning_reporter`); Ray's scheduler is FIFO. (Until
  now Ray used ASHA whatever ``--pruner`` said; Optuna's pruners cover the same ground, and one
  rule for both engines is what makes a study comparable across them.)
- ``--sampler grid``: every grid point once (``GridTrial``), no defaults trial, no pruner by default.
- ``--timeout``: no new trial starts after it; running trials finish (Ray's ``time_budget_s``
  would stop them half-way).
- the first 3 trials all failing stops the study with their error;
- the parent's ``best_checkpoint/`` is replaced only by a trial that beats the storage's best.

Each trial logs to its own MLflow run nested under the study's parent run, whose id is passed to
the workers explicitly together with an absolute tracking URI (Ray changes the working
directory of its workers).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import optuna
from optuna.trial import TrialState

from automl_har.attrs import FAIL_REASON_ATTR, FAIL_REASON_TAG, OWNER_ATTR, STATE_TAG, TRIAL_RUN_ATTR
from automl_har.engines._counting import (
    counted_trials, failures_allowed, first_trials_all_failed, raise_if_first_trials_failed,
)
from automl_har.engines._loop import (
    beats_stored_best, check_search, finish_study, heartbeat, needs_defaults_trial, open_study, pruning_reporter,
    record_outcome, start_run_of_study, start_trial_run, study_result, system_attrs, trial_target,
)
from automl_har.engines._owners import this_process
from automl_har.engines.staged import pretraining_fidelity
from automl_har.engines._spec import StudyResult, TrialSummary, make_pruner, make_sampler, pruning_mode
from automl_har.engines._tracked import Stopwatch, closing_parent_on_error, open_tracker, run_tracked_trial
from automl_har.errors import DependencyError, SearchError
from automl_har.search_spaces import get_space
from automl_har.search_spec import SearchSpec
from automl_har.storage import open_storage
from automl_har.tracking import StudyTracker

ENGINE = "ray"
METRIC = "objective"  # per report: the value the trial reported to Optuna; final: the trial's value
FINAL = "autohar_final"
FAILED = "autohar_failed"  # the trial failed and recorded its error itself
NUMBER = "__autohar_trial_number"
OBJECT_STORE_BYTES = 256 * 1024**2  # a laptop-sized cap; trials move no large objects through Ray


@dataclass(frozen=True)
class RayOptions:
    """Ray-specific settings of a search.

    Attributes:
        workers: trials run concurrently.
        cpus_per_trial: CPUs (and torch threads) per trial.
        gpus_per_trial: GPU fraction per trial when a GPU exists (0 on CPU-only machines).
        address: join an existing cluster (``ray start --head``); None starts a local one.
    """

    workers: int = 1
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0
    address: str | None = None


def _import_ray():
    # Ray Tune's newer console output ignores RunConfig(verbose=0) and prints every trial's
    # status; autohar prints its own trial lines
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        import ray
        from ray import tune
    except ImportError as err:  # pragma: no cover - ray[tune] is a dependency
        raise DependencyError("the ray engine needs Ray Tune; run `pip install 'ray[tune]'`") from err
    return ray, tune


def _searcher_class():
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):
        """OptunaSearch that tells each config its Optuna trial number, starts no trial after the
        deadline or once the first trials all failed, leaves the reporting to the trials
        themselves, and tells a trial that ended without its final value as PRUNED."""

        def __init__(self, *args, deadline: float | None = None, target: int = 0, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._deadline = deadline  # time.time() after which no trial starts (--timeout)
            self._target = target  # the study's trial total (failed trials do not count)

        def suggest(self, trial_id: str):
            past_deadline = self._deadline is not None and time.time() >= self._deadline
            counted = len(counted_trials(self._ot_study.get_trials(deepcopy=False)))
            if past_deadline or counted >= self._target or first_trials_all_failed(self._ot_study):
                return Searcher.FINISHED
            config = super().suggest(trial_id)
            if config is not None:
                config[NUMBER] = self._ot_trials[trial_id].number
            return config

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            return None  # the trial reported to its Optuna trial itself, with its own step numbers

        def on_trial_complete(self, trial_id: str, result=None, error: bool = False):
            if result and not result.get(FINAL):  # OptunaSearch tells PRUNED (FAIL on error) when the value is missing
                error = error or bool(result.get(FAILED))
                result = {k: v for k, v in result.items() if k != self.metric}
            super().on_trial_complete(trial_id, result, error)

    return StudySearch


@dataclass(frozen=True)
class _StudySpace:
    """The method's define-by-run space (through ``GridTrial`` for a grid) plus ``--param``
    values; picklable for Ray's checkpoints."""

    method: str
    variant: str
    fixed: dict
    grid: bool = False
    grid_subset: dict = field(default_factory=dict)

    def __call__(self, trial) -> dict:
        space = get_space(self.method, self.variant, self.grid_subset)
        return space.params_of(trial, self.fixed, grid=self.grid)


def _trial_function(spec: SearchSpec, parent_run_id: str, study_name: str, cpus: int) -> Callable[[dict], None]:
    """The function Ray runs per trial, in a worker process: the Optuna engine's trial, with its
    reports also sent to Ray."""

    def trainable(config: dict) -> None:
        import torch
        from ray import tune

        torch.set_num_threads(cpus)
        params = dict(config)
        number = params.pop(NUMBER)
        study = optuna.load_study(study_name=study_name, storage=open_storage(spec.storage_url),
                                  pruner=make_pruner(spec.pruner))
        trial = optuna.trial.Trial(study, study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
        trial.set_user_attr(OWNER_ATTR, this_process())
        tracker = StudyTracker.attach(spec.resolved_tracking_uri, study_name, parent_run_id)
        run = start_trial_run(trial, spec, tracker, params, ENGINE)
        watch = Stopwatch()
        prune = pruning_reporter(trial, spec, watch)

        def report(step: int, value: float) -> None:
            with watch("sampler_report"):
                tune.report({METRIC: value, "step": step})
            prune(step, value)

        started = time.perf_counter()
        with heartbeat(study, trial):
            summary, outcome = run_tracked_trial(spec, run, number, params, report, pruning_mode(spec.pruner), watch,
                                                 lambda outcome: beats_stored_best(study, outcome.value),
                                                 pretraining=pretraining_fidelity(system_attrs(trial)))
        record_outcome(trial, summary, outcome)
        if summary.state == "FAIL":  # recorded in both stores: Ray is told without an exception (and its traceback)
            tune.report({METRIC: float("nan"), FAILED: True})  # Ray wants the metric in every report
        if summary.state == "COMPLETE":
            seconds = {f"seconds_{k}": v for k, v in summary.seconds.items()}
            tune.report({METRIC: outcome.value, FINAL: True, **seconds, "seconds_wall": time.perf_counter() - started})

    return trainable


def search(spec: SearchSpec, options: RayOptions = RayOptions(),
           on_trial_end: Callable[[TrialSummary, StudyResult], None] | None = None,
           on_ready: Callable[[], None] | None = None) -> StudyResult:
    """Run (or restore) the study with Ray Tune until it has ``spec.n_trials`` trials (a grid:
    at most its points), or no trial may start after ``spec.timeout``; ``on_ready()`` as in the
    optuna engine's ``search``."""
    ray, tune = _import_ray()
    from ray.tune.search import ConcurrencyLimiter

    space = check_search(spec)
    study = open_study(spec)
    tracker = open_tracker(spec, study, ENGINE)
    defaults_first = needs_defaults_trial(study.get_trials(deepcopy=False), spec)
    start_run_of_study(study, space, spec, enqueue_defaults=False)  # the searcher gets the defaults
    if on_ready is not None:
        on_ready()
    with closing_parent_on_error(tracker):
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=options.address, num_cpus=None if options.address else options.workers * options.cpus_per_trial,
                     include_dashboard=False, object_store_memory=None if options.address else OBJECT_STORE_BYTES,
                     log_to_driver=False, configure_logging=False)
        has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        resources = {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial if has_gpu else 0}
        trial_function = _trial_function(spec, tracker.parent_run_id, study.study_name, options.cpus_per_trial)
        trainable = tune.with_resources(trial_function, resources)
        storage_path = spec.workspace.root / "ray" / study.study_name
        attempts = sorted(storage_path.glob("run-*"), key=lambda p: int(p.name.removeprefix("run-")))
        trials = study.get_trials(deepcopy=False)
        interrupted = [t for t in trials if t.state == TrialState.RUNNING]
        if interrupted and attempts and tune.Tuner.can_restore(str(attempts[-1])):
            for trial in interrupted:  # the restored trials start again, each with a new MLflow run
                if run_id := trial.user_attrs.get(TRIAL_RUN_ATTR):
                    tracker.reopen_trial(run_id).finish(
                        "FAILED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: "interrupted; the trial was restarted"})
            tuner = tune.Tuner.restore(str(attempts[-1]), trainable=trainable, resume_unfinished=True)
        else:
            grid = spec.sampler == "grid"
            searcher = _searcher_class()(
                space=_StudySpace(spec.experiment.method, spec.space, dict(spec.fixed_params), grid,
                                  dict(spec.grid_subset)), metric=METRIC,
                mode="max", sampler=make_sampler(spec), study_name=study.study_name, storage=study._storage,
                points_to_evaluate=[space.first_trial()] if defaults_first else None,  # trial 0 = the paper's defaults
                deadline=None if spec.timeout is None else time.time() + spec.timeout, target=trial_target(spec),
            )
            # failed trials do not count towards the total: room for the failures the Optuna engine
            # allows, and the searcher stops once the study has its counted trials
            remaining = max(trial_target(spec) - len(counted_trials(trials)), 0)
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    metric=METRIC, mode="max",
                    num_samples=remaining + failures_allowed(trial_target(spec)) if remaining else 0,
                    search_alg=ConcurrencyLimiter(searcher, max_concurrent=options.workers), reuse_actors=True,
                ),
                run_config=tune.RunConfig(name=f"run-{len(attempts)}", storage_path=str(storage_path), verbose=0),
            )
        try:
            results = tuner.fit()
        finally:
            if started_here:
                ray.shutdown()
        result = _collect(study, spec, tracker, results, on_trial_end)
    finish_study(study, tracker, result)
    return result


def _collect(study: optuna.Study, spec: SearchSpec, tracker: StudyTracker, results, on_trial_end) -> StudyResult:
    """The engine-neutral :class:`StudyResult`: counts and best trial of the whole study as the
    storage has them, and this run's trials; the MLflow run of a trial whose Ray worker died before
    it could close it is closed FAILED. Ends like the Optuna engine when the trials failed."""
    result = study_result(study, spec, tracker)
    frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
    # counted again below, one by one, as the Optuna loop counts them (a failed trial does not count)
    result.n_finished -= sum(frozen[r.config[NUMBER]].state != TrialState.FAIL for r in results)
    last_error = ""
    for trial_result in sorted(results, key=lambda r: r.config[NUMBER]):
        metrics, params = trial_result.metrics or {}, dict(trial_result.config)
        trial = frozen[params.pop(NUMBER)]
        value = trial.values[0] if trial.state == TrialState.COMPLETE else None
        summary = TrialSummary(trial.number, trial.state.name, value, params)
        summary.seconds = {k.removeprefix("seconds_"): v for k, v in metrics.items()
                           if k.startswith("seconds_") and k != "seconds_wall"}
        summary.wall_seconds = metrics.get("seconds_wall", 0.0)
        if trial.state == TrialState.FAIL:
            summary.error = trial.user_attrs.get(FAIL_REASON_ATTR) or str(trial_result.error).strip().splitlines()[-1][:500]
            last_error = summary.error
            if FAIL_REASON_ATTR not in trial.user_attrs and (run_id := trial.user_attrs.get(TRIAL_RUN_ATTR)):
                tracker.reopen_trial(run_id).finish("FAILED", tags={STATE_TAG: "FAIL", FAIL_REASON_TAG: summary.error})
        result.trials.append(summary)
        result.n_finished += trial.state != TrialState.FAIL
        if on_trial_end:
            on_trial_end(summary, result)
    raise_if_first_trials_failed(study, last_error)
    if result.best_trial is None and last_error:
        raise SearchError(f"no trial of study {study.study_name!r} completed; last error: {last_error}")
    return result
