"""Search space of the supervised 1D-CNN baseline."""

from __future__ import annotations

import optuna

from automl_har.methods.supervised import SupervisedParams

_PAPER = SupervisedParams()

#: trial 0 of every study: the defaults of :class:`SupervisedParams` for every searched name
DEFAULTS: dict = {
    "depth": _PAPER.depth,
    "width": _PAPER.width,
    "kernel_size": _PAPER.kernel_size,
    "dropout": _PAPER.dropout,
    "lr": _PAPER.lr,
    "weight_decay": _PAPER.weight_decay,
    "batch_size": _PAPER.batch_size,
}

#: ``--sampler grid``: architecture depth × kernel, everything else at DEFAULTS
GRID: dict = {"depth": [2, 3, 4], "kernel_size": [3, 5, 7, 9]}


def space(trial: optuna.Trial) -> dict:
    return {
        "depth": trial.suggest_int("depth", 2, 4),
        "width": trial.suggest_categorical("width", [16, 32, 48]),
        "kernel_size": trial.suggest_categorical("kernel_size", [3, 5, 7, 9]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [8, 16, 32]),
    }
