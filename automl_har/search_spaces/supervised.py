"""Search space of the supervised 1D-CNN baseline (trial 0: the defaults of ``SupervisedParams``)."""

from __future__ import annotations

import optuna

#: ``--sampler grid``: architecture depth × kernel, everything else at its default
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
