"""Search space of MESEN (Xu et al., SenSys'23): the tunables of both stages.

Pre-training: the temperatures ``tau`` (L_CMF, Eq. 2) and ``tau_hat`` (L_MPC, Eq. 6), the entropy
weight ``lambda_pr`` (<= 0, Eq. 7), the pseudo-class count as a factor of the activity classes
(Fig. 21: best at 1), how the losses are balanced (``delta_mode``; ``delta`` only when it is
fixed, Eq. 8), the contrastive feature dimension N_fc (Fig. 21), Adam's lr and batch.
Fine-tuning: ``lambda_fr`` and the last layer's ``gamma`` of the layer-aware regulariser (Eq. 9-10),
Adam's lr and batch. Epoch counts are not searched: ``--budget`` scales them.

Trial 0 is the defaults of ``MesenParams``: the paper's values where it states them (Adam 1e-3,
pre-training batch 128, fine-tuning batch 64, N_cls = the class count), ``mesen.md``'s choices
elsewhere. Variants: ``finetune`` (derived: pre-training pinned at its defaults, so every trial
reuses one cached pre-training) and ``ablation`` (the losses, both / only L_CMF / only L_MPC /
none, times L_FR on or off; ``none`` with ``lambda_fr=0`` is the paper's *Labeltrain* baseline).
"""

from __future__ import annotations

import optuna

#: ``--space ablation --sampler grid``: the paper's Fig. 19b / 20 ablations, 8 points (the full space
#: has no grid: its lambda_fr is log-scaled and cannot be 0)
ABLATION_GRID: dict = {"pretrain_losses": ["both", "cmf", "mpc", "none"], "lambda_fr": [0.0, 0.01]}


def _pretraining(trial: optuna.Trial) -> dict:
    params = {
        "temperature": trial.suggest_float("temperature", 0.05, 1.0, log=True),
        "cluster_temperature": trial.suggest_float("cluster_temperature", 0.1, 2.0, log=True),
        "lambda_pr": trial.suggest_float("lambda_pr", -2.0, 0.0),
        "pseudo_class_factor": trial.suggest_categorical("pseudo_class_factor", [0.5, 1.0, 1.5, 2.0]),
        "delta_mode": trial.suggest_categorical("delta_mode", ["balance", "fixed"]),
        "projection_dim": trial.suggest_categorical("projection_dim", [32, 64, 128, 256]),
        "pretrain_lr": trial.suggest_float("pretrain_lr", 1e-4, 1e-2, log=True),
        "pretrain_batch_size": trial.suggest_categorical("pretrain_batch_size", [32, 64, 128, 256]),
    }
    if params["delta_mode"] == "fixed":  # Eq. 8's weight, searched only where it is not balanced per batch
        params["delta"] = trial.suggest_float("delta", 0.1, 10.0, log=True)
    return params


def _finetuning(trial: optuna.Trial) -> dict:
    return {
        "lambda_fr": trial.suggest_float("lambda_fr", 1e-4, 1.0, log=True),
        "fr_gamma_last": trial.suggest_float("fr_gamma_last", 0.01, 1.0, log=True),
        "finetune_lr": trial.suggest_float("finetune_lr", 1e-4, 1e-2, log=True),
        "finetune_batch_size": trial.suggest_categorical("finetune_batch_size", [8, 16, 32, 64]),
    }


def space(trial: optuna.Trial) -> dict:
    """Both stages (the default variant, ``full``)."""
    return {**_pretraining(trial), **_finetuning(trial)}


def ablation(trial: optuna.Trial) -> dict:
    """The pre-training losses x L_FR on/off; everything else at its default."""
    return {
        "pretrain_losses": trial.suggest_categorical("pretrain_losses", ABLATION_GRID["pretrain_losses"]),
        "lambda_fr": trial.suggest_categorical("lambda_fr", ABLATION_GRID["lambda_fr"]),
    }


VARIANTS = {"ablation": ablation}
VARIANT_GRIDS = {"ablation": ABLATION_GRID}
