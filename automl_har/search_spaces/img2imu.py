"""Search space of IMG2IMU (Yoon et al.): spectrogram parameters, fine-tuning, and optionally MoCo.

* ``finetune`` (the default variant, derived from the stages of ``Img2ImuParams``): ``nfft`` in
  {32, 64, 128, 256} and ``noverlap_delta`` in {2, 4, 8, 16} (noverlap = nfft - delta, the paper's
  grid, Sec. IV-A2), fine-tune ``lr`` and ``epochs``. Pre-training parameters stay at their
  defaults (returned, not suggested, so MLflow shows them): every trial reuses one cached encoder.
* ``full`` (``space``): also the augmentation subset (non-empty subset of TranslateX, PermuteX, Hue, Jitter),
  the strength of each chosen augmentation, MoCo's temperature, queue size and feature dim.

``GRID`` is the paper's 16 (nfft, noverlap) points; ``--sampler grid`` keeps the rest at their defaults.
"""

from __future__ import annotations

import itertools

import optuna

from automl_har.methods import paper_defaults
from automl_har.methods.img2imu import Img2ImuParams
from automl_har.models.augment_images import AUGMENTATIONS

_PAPER = paper_defaults(Img2ImuParams)

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

#: ``--sampler grid``: the paper's 16 spectrogram settings, everything else at its default
GRID: dict = {"nfft": [32, 64, 128, 256], "noverlap_delta": [2, 4, 8, 16]}


def _finetune_part(trial: optuna.Trial) -> dict:
    return {
        "nfft": trial.suggest_categorical("nfft", GRID["nfft"]),
        "noverlap_delta": trial.suggest_categorical("noverlap_delta", GRID["noverlap_delta"]),
        "lr": trial.suggest_float("lr", 1e-6, 1e-2, log=True),
        "epochs": trial.suggest_int("epochs", 10, 100, step=10),
    }


def space(trial: optuna.Trial) -> dict:
    """Everything, including MoCo pre-training (each new combination pre-trains again)."""
    params = _finetune_part(trial)
    params["augmentations"] = trial.suggest_categorical("augmentations", AUGMENTATION_SUBSETS)
    chosen = params["augmentations"].split("+")
    for augmentation, (name, low, high, kind) in STRENGTHS.items():
        if augmentation not in chosen:  # conditional: a strength exists only for a chosen augmentation
            params[name] = _PAPER[name]
        elif kind is int:
            params[name] = trial.suggest_int(name, low, high)
        else:
            params[name] = trial.suggest_float(name, low, high)
    params["temperature"] = trial.suggest_float("temperature", 0.03, 0.5, log=True)
    params["queue_size"] = trial.suggest_categorical("queue_size", [256, 1024, 4096, 8192])
    params["moco_dim"] = trial.suggest_categorical("moco_dim", [32, 64, 128])
    return params


#: a search varies the spectrogram and the linear head around one cached encoder unless asked for ``full``
DEFAULT_VARIANT = "finetune"
