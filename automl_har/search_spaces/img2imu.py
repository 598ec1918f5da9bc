"""Search space of IMG2IMU (Yoon et al.): spectrogram parameters, fine-tuning, and optionally MoCo.

* ``finetune`` (the default ``space``): ``nfft`` in {32, 64, 128, 256} and ``noverlap_delta`` in
  {2, 4, 8, 16} (noverlap = nfft - delta, the paper's grid, Sec. IV-A2), fine-tune ``lr`` and
  ``epochs``. Pre-training parameters stay at DEFAULTS (returned, not suggested, so MLflow shows
  them), so every trial reuses one cached pre-trained encoder.
* ``full``: also the augmentation subset (non-empty subset of TranslateX, PermuteX, Hue, Jitter),
  the strength of each chosen augmentation, MoCo's temperature, queue size and feature dim.

``GRID`` is the paper's 16 (nfft, noverlap) points; ``--sampler grid`` keeps the rest at DEFAULTS.
"""

from __future__ import annotations

import itertools

import optuna

from automl_har.methods.img2imu import Img2ImuParams
from automl_har.models.augment_images import AUGMENTATIONS

_PAPER = Img2ImuParams()

#: every non-empty subset of the four augmentations, in canonical order ("TranslateX+Hue" ...)
AUGMENTATION_SUBSETS = [
    "+".join(subset) for size in range(len(AUGMENTATIONS), 0, -1) for subset in itertools.combinations(AUGMENTATIONS, size)
]
#: the strength parameter of each augmentation: (name, low, high, kind)
STRENGTHS = {
    "TranslateX": ("translate_max_fraction", 0.1, 0.6, float),
    "PermuteX": ("permute_chunks", 2, 8, int),
    "Hue": ("hue_max_shift", 0.05, 0.5, float),
    "Jitter": ("jitter_magnitude", 0.01, 0.3, float),
}

FINETUNE_DEFAULTS: dict = {
    "nfft": _PAPER.nfft,
    "noverlap_delta": _PAPER.noverlap_delta,
    "lr": _PAPER.lr,
    "epochs": _PAPER.epochs,
}
PRETRAIN_DEFAULTS: dict = {
    "augmentations": _PAPER.augmentations,
    "translate_max_fraction": _PAPER.translate_max_fraction,
    "permute_chunks": _PAPER.permute_chunks,
    "hue_max_shift": _PAPER.hue_max_shift,
    "jitter_magnitude": _PAPER.jitter_magnitude,
    "temperature": _PAPER.temperature,
    "queue_size": _PAPER.queue_size,
    "moco_dim": _PAPER.moco_dim,
}
#: trial 0 of every study: the paper's values (nfft/noverlap: a point of the paper's grid)
DEFAULTS: dict = {**FINETUNE_DEFAULTS, **PRETRAIN_DEFAULTS}

#: ``--sampler grid``: the paper's 16 spectrogram settings, everything else at DEFAULTS
GRID: dict = {"nfft": [32, 64, 128, 256], "noverlap_delta": [2, 4, 8, 16]}


def _finetune_part(trial: optuna.Trial) -> dict:
    return {
        "nfft": trial.suggest_categorical("nfft", GRID["nfft"]),
        "noverlap_delta": trial.suggest_categorical("noverlap_delta", GRID["noverlap_delta"]),
        "lr": trial.suggest_float("lr", 1e-6, 1e-2, log=True),
        "epochs": trial.suggest_int("epochs", 10, 100, step=10),
    }


def space_finetune(trial: optuna.Trial) -> dict:
    """Spectrogram and fine-tuning parameters; pre-training fixed at DEFAULTS (one encoder)."""
    return {**_finetune_part(trial), **PRETRAIN_DEFAULTS}


def space_full(trial: optuna.Trial) -> dict:
    """Everything, including MoCo pre-training (each new combination pre-trains again)."""
    params = _finetune_part(trial)
    params["augmentations"] = trial.suggest_categorical("augmentations", AUGMENTATION_SUBSETS)
    chosen = params["augmentations"].split("+")
    for augmentation, (name, low, high, kind) in STRENGTHS.items():
        if augmentation not in chosen:  # conditional: a strength exists only for a chosen augmentation
            params[name] = PRETRAIN_DEFAULTS[name]
        elif kind is int:
            params[name] = trial.suggest_int(name, low, high)
        else:
            params[name] = trial.suggest_float(name, low, high)
    params["temperature"] = trial.suggest_float("temperature", 0.03, 0.5, log=True)
    params["queue_size"] = trial.suggest_categorical("queue_size", [256, 1024, 4096, 8192])
    params["moco_dim"] = trial.suggest_categorical("moco_dim", [32, 64, 128])
    return params


space = space_finetune
VARIANTS = {"finetune": space_finetune, "full": space_full}
