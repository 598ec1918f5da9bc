"""``run_trial``: the one objective both engines call.

It prepares the folds of the experiment; per fold it runs the method's pre-training once, then
fine-tunes on ``repeats`` seeded label draws. The value returned to the sampler is the mean
validation macro-F1 over folds x draws; test metrics are computed after training for reporting
only. ``autohar verify`` and ``autohar reproduce`` call it with other draws.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

import automl_har
from automl_har.cache import StageCache
from automl_har.data import WindowedData
from automl_har.errors import ConfigError
from automl_har.methods import Method, MethodContext, TrainedModel, get_method
from automl_har.metrics import accuracy, macro_f1
from automl_har.objectives.floors import FLOOR_KINDS, FLOOR_METRICS, PartFloors, classes_predicted, unit_floors
from automl_har.objectives.prepared import PreparedData, prepare_folds
from automl_har.objectives.protocol import ExperimentSpec
from automl_har.search_spaces import PROTOCOL_PARAMS  # popped from params, applied to the protocol (spec A23)

#: how intermediate values reach the pruner: per epoch of the first fold's first label draw
#: (median, hyperband) or one value per (fold, label draw) (wilcoxon)
PRUNING_MODES = ("epoch", "draw")


@dataclass
class TrialHooks:
    """The engine's side of a trial: pruning reports, metric logging, device, cache.

    Attributes:
        report: ``(step, value)``; may raise ``optuna.TrialPruned`` (engine-specific).
        log_metrics: ``(metrics, step)`` for per-epoch curves.
        pruning_mode: one of :data:`PRUNING_MODES`.
        cache: content-keyed stage cache passed on to methods.
        set_tag: ``(key, value)`` for run tags a method sets (e.g. ``cache.pretrain=hit``).
        log_artifact: ``(name, data)`` for small files a method stores with the run (a PNG).
        pretrain_fraction: the fraction of each pre-training's trajectory to run (a fidelity of
            multi-fidelity search; see :attr:`MethodContext.pretrain_fraction`).
        checkpoint_fractions: the fractions at which pre-trainings store resumable checkpoints
            (:attr:`MethodContext.checkpoint_fractions`).
    """

    report: Callable[[int, float], None] | None = None
    log_metrics: Callable[[Mapping[str, float], int], None] | None = None
    pruning_mode: str = "epoch"
    cache: StageCache | None = None
    set_tag: Callable[[str, str], None] | None = None
    log_artifact: Callable[[str, bytes], None] | None = None
    pretrain_fraction: float = 1.0
    checkpoint_fractions: tuple[float, ...] = ()
    #: measure the test accuracy after every fine-tuning epoch (``autohar reproduce`` of a target
    #: whose paper reports its best test epoch); reporting only, it never selects anything
    monitor_test: bool = False
    #: ``(done, total, what)`` after each step of the trial (a fold's pre-training, a label draw's
    #: fine-tuning and evaluation): what a command's progress bar shows
    progress: Callable[[int, int, str], None] | None = None


@dataclass
class TrialResult:
    """Outcome of one trial. Only :attr:`value` goes back to the sampler.

    The per-unit lists hold one value per (fold, label draw), in the order of :attr:`units`.
    Without a validation part (a train/test-only protocol) the validation values are NaN.
    """

    value: float
    val_f1: list[float]
    test_f1: list[float]
    test_accuracy: list[float]
    data_seconds: float
    train_seconds: float
    checkpoint: dict = field(repr=False, default_factory=dict)
    val_accuracy: list[float] = field(default_factory=list)
    units: list[tuple[int, int]] = field(default_factory=list)  # (fold, draw)
    #: per unit and part ("val", "test"): the classes the model predicts and the unit's floors
    classes_predicted: dict[str, list[int]] = field(default_factory=lambda: {"val": [], "test": []})
    floors: dict[str, list[PartFloors]] = field(default_factory=lambda: {"val": [], "test": []})
    #: per unit, a paper's reporting rule measured on test (``TrialHooks.monitor_test``): the best
    #: test accuracy over the fine-tuning epochs. Selected on test: never a result, never a value
    best_test_epoch_accuracy: list[float] = field(default_factory=list)

    def record(self, unit: tuple[int, int], val_y, val_pred, test_y, test_pred,
               floors: Mapping[str, PartFloors] | None = None) -> None:
        """Append the validation and test metrics of one (fold, draw) unit, the classes its model
        predicts on each part and the unit's floors (:mod:`~automl_har.objectives.floors`)."""
        self.units.append(unit)
        self.val_f1.append(macro_f1(val_y, val_pred))
        self.val_accuracy.append(accuracy(val_y, val_pred))
        self.test_f1.append(macro_f1(test_y, test_pred))
        self.test_accuracy.append(accuracy(test_y, test_pred))
        for part, predicted in (("val", val_pred), ("test", test_pred)):
            self.classes_predicted[part].append(classes_predicted(predicted))
            if floors is not None:
                self.floors[part].append(floors[part])

    def floor_means(self, part: str, metric: str) -> dict[str, float]:
        """``{"majority": ..., "linear_probe": ...}``: the mean floors of ``metric`` on ``part``."""
        values = self.floors[part]
        return {kind: float(np.mean([getattr(f, kind)[metric] for f in values])) if values else float("nan")
                for kind in FLOOR_KINDS}

    def metrics(self) -> dict[str, float]:
        """Final metrics for MLflow and the study's user attributes: the values, then the floors
        (``val_majority_macro_f1_mean``, ``val_linear_probe_macro_f1_mean``,
        ``val_classes_predicted_min`` ... and the same on test), reported only."""
        metrics = {
            "val_macro_f1_mean": self.value,
            "val_macro_f1_std": float(np.std(self.val_f1)),
            "test_macro_f1_mean": float(np.mean(self.test_f1)),
            "test_macro_f1_std": float(np.std(self.test_f1)),
            "test_accuracy_mean": float(np.mean(self.test_accuracy)),
            "train_seconds": self.train_seconds,
            "data_seconds": self.data_seconds,
        }
        for part in ("val", "test"):
            if self.classes_predicted[part]:
                metrics[f"{part}_classes_predicted_min"] = float(min(self.classes_predicted[part]))
            for metric in FLOOR_METRICS:
                if self.floors[part]:
                    for kind, value in self.floor_means(part, metric).items():
                        metrics[f"{part}_{kind}_{metric}_mean"] = value
        if self.best_test_epoch_accuracy:
            metrics["reporting_rule_best_test_epoch_accuracy_mean"] = float(np.mean(self.best_test_epoch_accuracy))
        return metrics


def _method_context(spec: ExperimentSpec, hooks: TrialHooks, seed: int, stage: str, report: bool,
                    n_classes: int | None = None, pretraining: bool = False) -> MethodContext:
    """A method context whose metric names carry ``stage`` (``pretrain``, ``draw_0`` ...) and
    which reports to the pruner only when ``report`` is set. Only the ``pretraining`` context gets
    the hooks' pre-training fraction: a fine-tuning context keeps 1.0, so the keys of the stages it
    caches (e.g. embeddings) do not fork by a fraction they do not read."""

    def log_metrics(metrics: Mapping[str, float], step: int) -> None:
        if hooks.log_metrics is not None:
            hooks.log_metrics({f"{k}/{stage}": v for k, v in metrics.items()}, step)

    return MethodContext(
        device=torch.device(spec.device),
        seed=seed,
        budget=spec.budget,
        reporter=hooks.report if report else None,
        metric_logger=log_metrics,
        cache=hooks.cache,
        tag_logger=hooks.set_tag,
        artifact_logger=hooks.log_artifact,
        n_classes=n_classes,
        pretrain_fraction=hooks.pretrain_fraction if pretraining else 1.0,
        checkpoint_fractions=tuple(hooks.checkpoint_fractions) if pretraining else (),
    )


def check_sources(method: Method, spec: ExperimentSpec) -> None:
    """A method that pre-trains on labeled sources needs some; any other method takes none."""
    labeled_sources = method.tags.get("pretraining_data") == "labeled_sources"
    if spec.sources and not labeled_sources:
        raise ConfigError(f"method {method.name!r} pre-trains on the target's unlabeled windows; --datasets/--target "
                          "are for methods that pre-train on labeled source datasets (e.g. combined)")
    if labeled_sources and not spec.sources:
        raise ConfigError(f"method {method.name!r} pre-trains on labeled source datasets, but the experiment has "
                          f"none; give --datasets A,B,C --target {spec.dataset}")
    if spec.protocol.zero_shot and not method.tags.get("zero_shot"):
        raise ConfigError(f"method {method.name!r} needs labeled target windows; use --label-ratio > 0")


def check_experiment(spec: ExperimentSpec) -> None:
    """Load and split the data once and check that the method and the validation mode can use
    every fold; raises on bad input, before anything is recorded."""
    method = get_method(spec.method)
    check_sources(method, spec)
    for fold in prepare_folds(spec):
        method.check_data(fold.train)
        fold.check_label_count(spec.protocol)
        fold.check_few_validation(spec.protocol)


def run_pretraining(method: Method, data: PreparedData, params: Any, ctx: MethodContext) -> Any:
    """The method's pre-training on what its tag ``pretraining_data`` says it learns from: the
    target's training windows without labels (``pretrain``), or the labeled source datasets
    (``pretrain_sources``)."""
    if method.tags.get("pretraining_data") == "labeled_sources":
        if data.sources is None:
            raise ConfigError(f"method {method.name!r} pre-trains on labeled source datasets, but the experiment "
                              "has none; give --datasets A,B,C --target D")
        return method.pretrain_sources(data.sources, data.sources_val, params, ctx)
    return method.pretrain(data.train.without_labels(), params, ctx)  # unlabeled means unlabeled


def split_protocol_params(params: Mapping[str, Any], spec: ExperimentSpec) -> tuple[dict, ExperimentSpec]:
    """``params`` without :data:`PROTOCOL_PARAMS`, and ``spec`` with them applied to its protocol."""
    params = dict(params)
    overrides = {name: params.pop(name) for name in PROTOCOL_PARAMS if name in params}
    if overrides:
        spec = dataclasses.replace(spec, protocol=dataclasses.replace(spec.protocol, **overrides))
    return params, spec


def run_trial(params: Mapping[str, Any], spec: ExperimentSpec, hooks: TrialHooks | None = None,
              draws: Sequence[int] | None = None) -> TrialResult:
    """Evaluate one hyperparameter set under the experiment's protocol.

    Args:
        params: the method's hyperparameters.
        spec: the experiment (data, protocol, budget, device).
        hooks: the engine's side (pruning reports, metric logging, stage cache).
        draws: label-draw numbers per fold; default ``0 .. repeats - 1`` (the search's draws).
            ``autohar verify`` passes fresh ones (from :data:`~automl_har.objectives.protocol.FRESH_DRAWS_START`).
    """
    hooks = hooks or TrialHooks()
    started = time.perf_counter()
    method_params, spec = split_protocol_params(params, spec)
    method = get_method(spec.method)
    check_sources(method, spec)
    typed = method.parse_params(method_params)
    folds = prepare_folds(spec)
    for fold in folds:
        method.check_data(fold.train, typed)
    data_seconds = time.perf_counter() - started

    protocol = spec.protocol
    draws = list(range(protocol.repeats) if draws is None else draws)
    result = TrialResult(float("nan"), [], [], [], data_seconds, 0.0)
    best: tuple[float, PreparedData, int, TrainedModel] | None = None
    steps = _Steps(hooks.progress, len(folds) * (1 + (1 if protocol.zero_shot else len(draws))))
    for data in folds:
        prefix = f"fold_{data.fold}/" if len(folds) > 1 else ""
        torch.manual_seed(protocol.seed)
        ctx = _method_context(spec, hooks, protocol.seed, f"{prefix}pretrain", report=False,
                              n_classes=data.train.n_classes, pretraining=True)
        state = run_pretraining(method, data, typed, ctx)
        steps.done(f"{prefix}pre-training")
        if protocol.zero_shot:  # one evaluation of the transferred model; there is nothing to draw
            ctx = _method_context(spec, hooks, protocol.seed, f"{prefix}zero_shot", report=False)
            model = method.zero_shot(state, typed, ctx)
            result.record((data.fold, 0), data.val.y, method.predict(model, data.val, ctx).argmax(1),
                          data.test.y, method.predict(model, data.test, ctx).argmax(1),
                          unit_floors(None, {"val": data.val, "test": data.test}, model.modalities))
            if best is None or result.val_f1[-1] > best[0]:
                best = (result.val_f1[-1], data, 0, model)
            steps.done(f"{prefix}zero-shot")
            continue
        for draw in draws:
            seed = protocol.draw_seed(draw)
            labeled = data.train[data.labeled_draw(protocol, draw)]
            val = data.validation_for_draw(protocol, draw)
            # per-epoch pruning reports come from the first unit only: every unit repeats the same steps
            first = not result.units
            ctx = _method_context(spec, hooks, seed, f"{prefix}draw_{draw}", report=hooks.pruning_mode == "epoch" and first)
            best_test_epoch = []
            if hooks.monitor_test:  # a paper's reporting rule, measured beside the result (never selects)
                ctx.epoch_monitor = test_accuracy_monitor(method, data.test, best_test_epoch)
            model = method.finetune(state, labeled, val, typed, ctx)
            if hooks.monitor_test:
                result.best_test_epoch_accuracy.append(max(best_test_epoch, default=float("nan")))
            # without validation windows the prediction is empty and the validation metrics NaN
            result.record((data.fold, draw), val.y, method.predict(model, val, ctx).argmax(1),
                          data.test.y, method.predict(model, data.test, ctx).argmax(1),
                          unit_floors(labeled, {"val": val, "test": data.test}, model.modalities))
            if hooks.pruning_mode == "draw" and hooks.report is not None:
                hooks.report(len(result.units) - 1, result.val_f1[-1])
            # the checkpoint keeps the unit best on validation (without validation: the first one)
            if best is None or result.val_f1[-1] > best[0]:
                best = (result.val_f1[-1], data, draw, model)
            steps.done(f"{prefix}label draw {draw}")
    result.train_seconds = time.perf_counter() - started - data_seconds
    result.value = float(np.mean(result.val_f1))
    _, best_fold, best_draw, best_model = best
    result.checkpoint = make_checkpoint(spec, dict(params), best_model, best_draw, best_fold)
    return result


@dataclass
class _Steps:
    """Counts a trial's steps for :attr:`TrialHooks.progress`."""

    report: Callable[[int, int, str], None] | None
    total: int
    finished: int = 0

    def done(self, what: str) -> None:
        self.finished += 1
        if self.report is not None:
            self.report(self.finished, self.total, what)


def test_accuracy_monitor(method: Method, test: WindowedData, accuracies: list[float]) -> Callable[[torch.nn.Module], None]:
    """An ``epoch_monitor`` appending the test accuracy of the network after every fine-tuning
    epoch to ``accuracies``: what a paper's released code reports when it keeps its best test
    epoch. It predicts in eval mode, which draws no random number and updates no statistic, so
    the monitored fit is the fit that runs without it."""
    every_modality = tuple(test.modalities)

    def monitor(module: torch.nn.Module) -> None:
        predicted = method.predict(TrainedModel(module, {}, every_modality), test).argmax(1)
        accuracies.append(accuracy(test.y, predicted))

    return monitor


def make_checkpoint(spec: ExperimentSpec, params: dict, model: TrainedModel, draw: int, data: PreparedData) -> dict:
    """Everything needed to rebuild and run the model on new windows (see :func:`load_model`): the
    description of the input (channels, rate, window length, z-score statistics) covers only the
    modalities the model reads."""
    read = list(model.modalities)
    normalization = data.standardizer.to_dict()
    return {
        "format": "autohar-checkpoint/1",
        "autohar_version": automl_har.__version__,
        "method": spec.method,
        "params": params,
        "build_kwargs": model.build_kwargs,
        "state_dict": {k: v.detach().cpu() for k, v in model.module.state_dict().items()},
        "classes": list(data.train.classes),
        "modalities": read,
        "channels": {k: list(data.train.channels[k]) for k in read},
        "rates_hz": {k: float(data.train.rates_hz[k]) for k in read},
        "window_length": {k: int(data.train.modalities[k].shape[1]) for k in read},
        "experiment": spec.as_tags(),
        "normalization": {part: {k: values[k] for k in read} for part, values in normalization.items()},
        "label_draw": draw,
        "fold": data.fold,
    }


def load_model(checkpoint: Mapping[str, Any]) -> TrainedModel:
    """Rebuild the trained network of a checkpoint made by :func:`make_checkpoint`."""
    method = get_method(checkpoint["method"])
    module = method.build_model(**checkpoint["build_kwargs"])
    module.load_state_dict(checkpoint["state_dict"])
    # checkpoints written before models named their modalities read every modality
    modalities = tuple(checkpoint["modalities"] if "modalities" in checkpoint else checkpoint["channels"])
    return TrainedModel(module.eval(), dict(checkpoint["build_kwargs"]), modalities)
