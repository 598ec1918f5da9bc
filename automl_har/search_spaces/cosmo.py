"""Search space of Cosmo (Ouyang et al., MobiCom 2022): the tunables of both stages.

Stage 1: fusion weight range ``a``, number of fusions ``P``, temperature ``tau``, SGD lr and batch.
Stage 2: quality weight ``lambda``, iterative epochs ``T_iter``, fusion (sum/concat), SGD lr and batch,
the encoders' share of that lr (the released code: a tenth).
Epoch counts are not searched: ``--budget`` scales the released code's (300 stage-1, 500 stage-2 epochs)
and the engine records the budget with every trial.

Trial 0 is the paper's values (the defaults of ``CosmoParams``: a = 0.1, P = 9, tau = 0.07,
T_iter = 5, SGD 0.01 bs 64 / 0.001 bs 16). The derived variant ``finetune`` (``--space finetune``)
holds stage 1 at its defaults and searches only stage-2 names, so every trial reuses one cached
stage 1 (quick searches on CPU).
"""

from __future__ import annotations

import optuna

#: ``--sampler grid``: the paper's two micro-benchmarks (Fig. 16a weight range, Fig. 16b T_iter)
GRID: dict = {"fusion_weight_min": [0.1, 0.2, 0.3, 0.4], "iterative_epochs": [0, 1, 2, 5, 10, 20]}


def space(trial: optuna.Trial) -> dict:
    return {
        "fusion_weight_min": trial.suggest_float("fusion_weight_min", 0.05, 0.45),
        "n_fusions": trial.suggest_categorical("n_fusions", [3, 5, 9]),
        "temperature": trial.suggest_float("temperature", 0.03, 0.5, log=True),
        "pretrain_lr": trial.suggest_float("pretrain_lr", 1e-3, 1e-1, log=True),
        "pretrain_batch_size": trial.suggest_categorical("pretrain_batch_size", [16, 32, 64, 128]),
        "quality_weight": trial.suggest_float("quality_weight", 0.0, 1.0),
        "iterative_epochs": trial.suggest_categorical("iterative_epochs", [0, 1, 2, 5, 10, 20]),
        "fusion": trial.suggest_categorical("fusion", ["sum", "concat"]),
        "finetune_lr": trial.suggest_float("finetune_lr", 1e-4, 1e-1, log=True),
        "encoder_lr_scale": trial.suggest_float("encoder_lr_scale", 0.01, 1.0, log=True),
        "finetune_batch_size": trial.suggest_categorical("finetune_batch_size", [8, 16, 32]),
    }
