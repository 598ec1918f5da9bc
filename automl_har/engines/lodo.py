"""Leave-one-dataset-out (``autohar lodo``): one grid study per target of a pool, and the paper's table.

Presotto et al. (SMARTCOMP'23, Tables III-V/VII): every dataset of the pool is the target once,
the others are the labeled sources; for each label ratio and transfer strategy (Rd, PF, PU) the
table holds the target's test macro-F1. Here each target is one Optuna study walking the
``paper`` grid of the method's space (architecture x strategy x label ratio, narrowed by
:func:`lodo_specs`), so the studies resume, every trial is an MLflow run, and one pre-training
per target and architecture serves every cell of its row (stage cache). A cell is the mean and
std of the trial's test macro-F1 over its label draws; selection never reads it (the grid
selects nothing).

- 0 % (zero-shot) has only PU: Rd has nothing to transfer, PF equals PU without training; the
  method skips both (``TrialSkipped``, recorded as PRUNED).
- A zero-shot cell is ``n/a`` when the sources hold none of the target's classes: the
  pre-training head cannot name a target class (:func:`~automl_har.objectives.prepared.target_classes_seen`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from automl_har.attrs import TEST_METRIC_PREFIX
from automl_har.search_spec import SearchSpec, ran_params

#: what a cell reads from a trial's user attributes (``record_outcome``)
CELL_MEAN, CELL_STD = f"{TEST_METRIC_PREFIX}macro_f1_mean", f"{TEST_METRIC_PREFIX}macro_f1_std"
STRATEGY_ORDER = ("Rd", "PF", "PU")


@dataclass(frozen=True)
class Cell:
    """One ``(target, ratio, strategy)`` entry: test macro-F1 mean and std over label draws;
    ``None`` mean: not run or not defined (``n/a``)."""

    mean: float | None = None
    std: float | None = None

    def text(self) -> str:
        return "n/a" if self.mean is None else f"{100 * self.mean:.2f} ± {100 * (self.std or 0.0):.2f}"


@dataclass
class LodoTable:
    """Rows = targets (then AVG), columns = ``(ratio, strategy)``."""

    targets: list[str]
    columns: list[tuple[float, str]]
    cells: dict[tuple[str, float, str], Cell] = field(default_factory=dict)

    def cell(self, target: str, ratio: float, strategy: str) -> Cell:
        return self.cells.get((target, ratio, strategy), Cell())

    def average(self, ratio: float, strategy: str) -> Cell:
        """The mean over the targets that have the cell (the paper's AVG row)."""
        means = [c.mean for t in self.targets if (c := self.cell(t, ratio, strategy)).mean is not None]
        if not means:
            return Cell()
        mean = sum(means) / len(means)
        return Cell(mean, math.sqrt(sum((m - mean) ** 2 for m in means) / len(means)))

    @staticmethod
    def column_name(ratio: float, strategy: str) -> str:
        return f"{100 * ratio:g}% {strategy}"

    def rows(self) -> list[dict[str, Any]]:
        """The CSV artifact: one row per target and the AVG row; ``<column> mean`` / ``std`` in
        [0, 1], empty where ``n/a``."""
        out = []
        for target in [*self.targets, "AVG"]:
            row: dict[str, Any] = {"target": target}
            for ratio, strategy in self.columns:
                c = self.average(ratio, strategy) if target == "AVG" else self.cell(target, ratio, strategy)
                name = self.column_name(ratio, strategy)
                row[f"{name} mean"] = "" if c.mean is None else round(c.mean, 6)
                row[f"{name} std"] = "" if c.std is None else round(c.std, 6)
            out.append(row)
        return out


def lodo_specs(base: SearchSpec, pool: Sequence[str], targets: Sequence[str], architecture: str,
               ratios: Sequence[float], strategies: Sequence[str]) -> list[SearchSpec]:
    """One grid study per target: ``base`` with the target, the rest of the pool as sources, and
    the ``paper`` grid narrowed to ``architecture``, ``ratios`` and ``strategies``."""
    specs = []
    for target in targets:
        experiment = dataclasses.replace(base.experiment, dataset=target,
                                         sources=tuple(name for name in pool if name != target),
                                         data_dir=base.experiment.data_dir_of(target))
        grid_subset = {"architecture": [architecture], "strategy": list(strategies), "label_ratio": list(ratios)}
        spec = dataclasses.replace(base, experiment=experiment, sampler="grid", space="paper",
                                   grid_subset=grid_subset, study_name=None)
        name = f"{spec.resolved_study_name}-lodo-{architecture}"
        specs.append(dataclasses.replace(spec, study_name=name, n_trials=spec.search_space().grid_size()))
    return specs


def study_cells(spec: SearchSpec, label: str) -> dict[tuple[str, float, str], Cell]:
    """The cells of one finished target study: its COMPLETE trials by (ratio, strategy)."""
    from optuna.trial import TrialState

    from automl_har.storage import find_study

    study = find_study(spec.resolved_study_name, [spec.storage_url])
    cells = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        params = ran_params(trial)
        if CELL_MEAN in trial.user_attrs:
            cells[(label, float(params["label_ratio"]), params["strategy"])] = Cell(
                float(trial.user_attrs[CELL_MEAN]), float(trial.user_attrs.get(CELL_STD, 0.0)))
    return cells


def zero_shot_defined(spec: SearchSpec) -> bool:
    """Whether the target's classes meet the sources' (else its zero-shot cells are ``n/a``)."""
    from automl_har.objectives.prepared import prepare_folds, target_classes_seen

    return all(target_classes_seen(fold) for fold in prepare_folds(spec.experiment))


def run_lodo(specs: Sequence[SearchSpec], labels: Sequence[str], ratios: Sequence[float],
             strategies: Sequence[str], on_study_end: Callable[[str, Any], None] | None = None,
             on_trial_end: Callable[[Any, Any], None] | None = None) -> LodoTable:
    """Run (or resume) every target's study, then read the table from the studies' trials;
    ``on_trial_end(trial, result)`` after each grid point (the CLI's progress bar)."""
    from automl_har.engines.optuna import search

    ordered = [s for s in STRATEGY_ORDER if s in strategies]
    columns = [(r, s) for r in sorted(ratios) for s in (["PU"] if r == 0 else ordered) if r != 0 or "PU" in ordered]
    table = LodoTable(list(labels), columns)
    for spec, label in zip(specs, labels):
        result = search(spec, on_trial_end=on_trial_end)
        if on_study_end is not None:
            on_study_end(label, result)
        cells = study_cells(spec, label)
        if 0 in ratios and not zero_shot_defined(spec):
            cells.pop((label, 0.0, "PU"), None)
        table.cells.update(cells)
    return table
