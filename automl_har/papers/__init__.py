"""Paper targets: a paper's protocol and number, run with the method's defaults (``autohar reproduce``).

A :class:`PaperTarget` holds the protocol (dataset, modalities, split, labels, repeats), the
method and the params the paper fixes on top of its search space's DEFAULTS, the metric, and the
paper's number with the table it comes from. :func:`reproduce` runs it with no search: every
repeat is one seeded label draw, the metric is read on the test part, nothing is selected on a
test value. Method issues add their entries to :mod:`~automl_har.papers.entries`
(a plugin calls :func:`register_target`); :class:`PaperTarget` lives in
:mod:`~automl_har.papers.target`.

A target with a pool of ``datasets`` is a leave-one-dataset-out protocol (Presotto et al.): one
experiment per dataset of the pool as the target, the others as labeled sources; its value per
repeat is the mean over the targets (the AVG row of the paper's tables).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives.floors import FLOOR_KINDS, Degeneracy, degeneracy
from automl_har.objectives.prepared import prepare_folds
from automl_har.objectives.protocol import ExperimentSpec
from automl_har.papers.entries import ENTRIES
from automl_har.papers.target import DEFAULT_TOLERANCE, METRICS, PaperTarget  # noqa: F401 (the API)


@dataclass
class Reproduction:
    """What ``autohar reproduce`` ran and got.

    Attributes:
        target: the paper target.
        specs: the experiments that ran (one per dataset of ``target.pool``).
        params: the hyperparameters (DEFAULTS + the target's params).
        folds: per fold, its target, subjects and window counts (``target``, ``train_subjects``, ``n_train`` ...).
        values: the metric per repeat (label draw), on the test part; a pool target: the mean over its targets.
        also_values: per metric of ``target.also``, its value per repeat.
        per_dataset: a pool target: the metric per repeat of every target dataset.
        floors: ``majority`` and ``linear_probe``: the test floors of ``target.metric`` per repeat
            (:mod:`~automl_har.objectives.floors`; a pool target: the mean over its targets).
        classes_predicted: per repeat, the fewest classes the model predicts on a test part.
        reporting_rule_values: with ``target.reporting_rule``, per repeat what the paper's
            reporting rule gives (the best test accuracy over the epochs): selected on test, not a result.
    """

    target: PaperTarget
    specs: tuple[ExperimentSpec, ...]
    params: dict[str, Any]
    folds: list[dict[str, Any]]
    values: list[float]
    also_values: dict[str, list[float]] = field(default_factory=dict)
    per_dataset: dict[str, list[float]] = field(default_factory=dict)
    floors: dict[str, list[float]] = field(default_factory=dict)
    classes_predicted: list[int] = field(default_factory=list)
    reporting_rule_values: list[float] = field(default_factory=list)

    @property
    def spec(self) -> ExperimentSpec:
        """The first experiment (the only one of a single-dataset target)."""
        return self.specs[0]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values))

    @property
    def delta(self) -> float:
        return self.mean - self.target.value

    @property
    def within(self) -> bool:
        """The mean lies within the paper's std (or +-0.03 where the paper gives none)."""
        return abs(self.delta) <= self.target.tolerance

    def floor_mean(self, kind: str) -> float:
        """The mean over repeats of the ``majority`` or ``linear_probe`` test floor (NaN if unmeasured)."""
        values = self.floors.get(kind, [])
        return float(np.mean(values)) if values else math.nan

    @property
    def degeneracy(self) -> Degeneracy:
        """Degenerate when the mean does not beat the majority floor or any repeat predicts one
        class: then the result says nothing, whatever the paper's number."""
        return degeneracy(self.mean, self.floor_mean("majority"), self.classes_predicted)

    @property
    def verdict(self) -> str:
        """``degenerate``, ``within`` or ``outside`` (the paper's std, or +-0.03)."""
        if self.degeneracy.degenerate:
            return "degenerate"
        return "within" if self.within else "outside"

    def rows(self) -> list[dict[str, Any]]:
        """The CSV artifact: one row per repeat, then the summary row."""
        t = self.target
        rows = [{"target": t.name, "repeat": i, "metric": t.metric, "autohar": v, "paper": t.value,
                 "paper_std": "" if t.std is None else t.std} for i, v in enumerate(self.values)]
        rows += [{"target": f"{t.name}:{name}", "repeat": "mean", "metric": t.metric, "autohar": float(np.mean(values)),
                  "paper": t.per_dataset.get(name, ""), "paper_std": ""} for name, values in self.per_dataset.items()]
        rows.append({"target": t.name, "repeat": "mean", "metric": t.metric, "autohar": self.mean,
                     "paper": t.value, "paper_std": "" if t.std is None else t.std})
        for kind, values in self.floors.items():  # the floors beside it, on the same test parts
            rows.append({"target": t.name, "repeat": "mean", "metric": f"{t.metric} ({kind} floor)",
                         "autohar": float(np.mean(values)), "paper": "", "paper_std": ""})
        if self.reporting_rule_values:
            rows.append({"target": t.name, "repeat": "mean", "metric": "accuracy (paper's reporting rule: best test "
                         "epoch; not a result)", "autohar": float(np.mean(self.reporting_rule_values)),
                         "paper": t.value, "paper_std": ""})
        for metric, values in self.also_values.items():
            rows.append({"target": t.name, "repeat": "mean", "metric": metric, "autohar": float(np.mean(values)),
                         "paper": t.also[metric], "paper_std": ""})
        return rows


TARGETS: dict[str, PaperTarget] = {}


def register_target(target: PaperTarget) -> PaperTarget:
    """Add ``target`` to the registry (method issues register their papers' numbers)."""
    TARGETS[target.name] = target
    return target


def get_target(name: str) -> PaperTarget:
    """The target ``name``; an :class:`UnknownNameError` lists the valid names."""
    if name not in TARGETS:
        raise UnknownNameError("reproduce target", name, TARGETS)
    return TARGETS[name]


def missing_data(target: PaperTarget, data_dir: str | None = None, data_dirs=()) -> str | None:
    """None when the target's data are found; else the one-line reason, naming the expected files
    (of every missing dataset of a pool) and ``--data-dir``."""
    from automl_har.data.registry import check_data_dir, get_dataset, resolve_data_dir
    from automl_har.errors import DatasetNotFoundError

    folders = target.folders(data_dir, data_dirs)
    if not target.datasets:
        entry = get_dataset(target.dataset)
        if not entry.info.needs_data_dir:
            return None
        try:
            check_data_dir(entry, resolve_data_dir(entry.name, folders[target.dataset]))
        except DatasetNotFoundError as err:
            return f"data not found for {target.name}: {err}"
        return None
    problems = [problem for name, folder in folders.items() if (problem := _missing_in_pool(name, folder))]
    if not problems:
        return None
    return (f"data not found for {target.name}: " + "; ".join(problems) + "; give each folder with --data-dir "
            "NAME=PATH (repeatable, e.g. --data-dir hhar=/data/hhar) or put it at $AUTOHAR_DATA/NAME")


def _missing_in_pool(dataset: str, folder: str | None) -> str | None:
    """What is missing of one dataset of a pool, in words (None: found)."""
    from automl_har.data.registry import get_dataset, is_custom_path, missing_files, resolve_data_dir

    if is_custom_path(dataset):
        return None if Path(dataset).expanduser().exists() else f"{dataset}: no such file or folder"
    entry = get_dataset(dataset)
    if not entry.info.needs_data_dir:
        return None
    where = resolve_data_dir(entry.name, folder)
    if not where.is_dir():
        return f"{dataset}: {where} does not exist, expected {entry.info.expected_files}"
    if missing := missing_files(entry, where):
        return f"{dataset}: nothing in {where} matches {', '.join(missing)}, expected {entry.info.expected_files}"
    return None


def describe_folds(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """Subjects and window counts of every fold of ``spec`` (what ``reproduce`` prints)."""
    return [{"fold": f.fold, "train_subjects": f.split.train_subjects, "val_subjects": f.split.val_subjects,
             "test_subjects": f.split.test_subjects, "n_train": len(f.train), "n_val": len(f.val),
             "n_test": len(f.test), "n_classes": f.train.n_classes} for f in prepare_folds(spec)]


def target_params(target: PaperTarget, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hyperparameters a reproduction runs: the method's DEFAULTS, its preset's params (e.g.
    ``modality_groups``), the target's params, then
    ``extra`` (``autohar reproduce --param``, e.g. ``encoder_weights=FILE``); checked, so a bad or
    missing value is a one-line ConfigError before any data is read."""
    from automl_har.methods import get_method
    from automl_har.search_spaces import get_space

    params = {**get_space(target.method).defaults, **target.config().params, **target.params, **(extra or {})}
    get_method(target.method).parse_params(params)
    return params


def reproduce(target: PaperTarget, budget: float = 1.0, repeats: int | None = None, data_dir: str | None = None,
              device: str = "cpu", hooks=None, extra_params: dict[str, Any] | None = None, data_dirs=(),
              announce: Callable[[ExperimentSpec, list[dict[str, Any]]], None] | None = None) -> Reproduction:
    """Run the method's defaults under the target's protocol; no search, no selection on test.

    A pool target runs one experiment per dataset of its pool (in order); ``announce(spec, folds)``
    is called before each one runs (the CLI prints the protocol there)."""
    from automl_har.objectives import TrialHooks, run_trial

    specs = target.experiments(budget, repeats, data_dir, device, data_dirs)
    params = target_params(target, extra_params)
    if target.reporting_rule:  # the paper's rule is measured in the same runs, beside the result
        hooks = dataclasses.replace(hooks or TrialHooks(), monitor_test=True)
    folds: list[dict[str, Any]] = []
    measured: dict[str, dict[str, list[float]]] = {}
    for spec in specs:
        described = describe_folds(spec)
        if announce is not None:
            announce(spec, described)
        folds += [{"target": spec.dataset, **fold} for fold in described]
        result = run_trial(params, spec, hooks)
        measured[spec.dataset] = {"accuracy": list(result.test_accuracy), "macro_f1": list(result.test_f1),
                                  **{f"{kind} floor": [getattr(f, kind)[target.metric] for f in result.floors["test"]]
                                     for kind in FLOOR_KINDS},
                                  "classes": result.classes_predicted["test"],
                                  "reporting rule": result.best_test_epoch_accuracy}

    def per_repeat(metric: str, combine=np.mean) -> list[float]:  # a pool's AVG row: the mean over its targets
        return [float(combine(values)) for values in zip(*(m[metric] for m in measured.values()))]

    values = per_repeat(target.metric)
    if any(math.isnan(v) for v in values):
        raise ConfigError(f"reproduce {target.name}: the test metric is NaN; check the test subjects of the protocol")
    per_dataset = {name: m[target.metric] for name, m in measured.items()} if target.datasets else {}
    return Reproduction(target, specs, params, folds, values, {metric: per_repeat(metric) for metric in target.also},
                        per_dataset, {kind: per_repeat(f"{kind} floor") for kind in FLOOR_KINDS},
                        [int(n) for n in per_repeat("classes", np.min)], per_repeat("reporting rule"))


for _target in ENTRIES:  # every paper's numbers (papers/entries.py)
    register_target(_target)
