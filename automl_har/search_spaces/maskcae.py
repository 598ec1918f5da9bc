"""Search space of MaskCAE (Cheng et al., JBHI 2024).

Searched: the mask ratio over the range the paper found usable (0.1-0.7, Fig. 8), the fine-tuned
depth (0 = linear probing ... 4 = full, Fig. 10), the decoder kernel (3/5/7), the patch-normalized
loss switch (Table VII), the learning rates and epochs of both stages, and the fine-tuning batch
(few-label runs shrink the paper's 512 to give 8 steps per epoch; smaller batches step more often).
The fine-tuning lr is flat (the authors' release), so its range means what it says.
The other Table VII ablations (``sparse_conv``, ``fusion_decoder``, ``feature_projection``) are
switches for ``--param``, not searched: the paper shows each one only loses.
Epochs are the paper's counts; the engine's ``--budget`` scales them (recorded with each trial).

Trial 0 is the paper's values (the defaults of ``MaskCAEParams``: mask 0.3, full fine-tuning,
1000/100 epochs). Trials that change only fine-tuning names (``ft_layers``, ``finetune_lr``,
``finetune_epochs``, ``finetune_batch_size``) reuse the cached pre-trained encoder; the derived
``finetune`` variant (``--space finetune``) keeps pre-training at the paper's values, so every
trial after the first is a cache hit.
"""

from __future__ import annotations

import optuna

#: ``--sampler grid``: Fig. 8 (mask ratio) x Fig. 10 (fine-tuned layers), everything else at its default
GRID: dict = {"mask_ratio": [0.1, 0.3, 0.5, 0.7], "ft_layers": [0, 1, 2, 3, 4]}


def _pretraining(trial: optuna.Trial) -> dict:
    return {
        "mask_ratio": trial.suggest_float("mask_ratio", 0.1, 0.7, step=0.05),
        "decoder_kernel": trial.suggest_categorical("decoder_kernel", [3, 5, 7]),
        "norm_loss": trial.suggest_categorical("norm_loss", [True, False]),
        "pretrain_lr": trial.suggest_float("pretrain_lr", 2e-4, 2e-2, log=True),
        "pretrain_epochs": trial.suggest_categorical("pretrain_epochs", [250, 500, 1000]),
    }


def _finetuning(trial: optuna.Trial) -> dict:
    return {
        "ft_layers": trial.suggest_int("ft_layers", 0, 4),
        "finetune_lr": trial.suggest_float("finetune_lr", 1e-5, 1e-2, log=True),
        "finetune_epochs": trial.suggest_categorical("finetune_epochs", [50, 100, 200]),
        # 512 = the paper's batch, shrunk to give >= 8 steps per epoch (maskcae.finetune_batch);
        # the smaller ones step more often still when only a few windows are labeled
        "finetune_batch_size": trial.suggest_categorical("finetune_batch_size", [8, 16, 32, 64, 512]),
    }


def space(trial: optuna.Trial) -> dict:
    """Both stages (the default variant, ``full``)."""
    return {**_pretraining(trial), **_finetuning(trial)}
