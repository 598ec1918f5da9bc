"""Search space of the combined-datasets method (Presotto et al., SMARTCOMP'23).

The tunables: the architecture (categorical) with per-architecture conditional parameters, each
prefixed by its architecture (``dcl_dropout``, ``hart_drop_path`` ...) so TPE keeps separate
distributions; the transfer strategy and head; the fine-tuning lr, batch and epochs. Trial 0 is
the defaults of ``CombinedParams`` = the paper (HART, PU, linear head, Adam 5e-4, 200 epochs,
batch 64).

Variants:
- ``transfer`` (the default): what does not change a pre-training except the architecture, so a
  study pre-trains at most once per architecture (stage cache);
- ``full``: also the pre-training lr, epochs, batch, label smoothing and the shape of each net
  (every distinct set is one more pre-training);
- ``strategies``: the grid architecture x strategy, everything else at the defaults;
- ``paper``: the grid architecture x strategy x label ratio (0, 1, 5, 10, 70 %): one row of the
  paper's Tables III-V/VII for the target. The label ratio is a *protocol* value, never a
  hyperparameter a sampler optimises (more labels always win; spec A23): only this grid walks it,
  as the reserved protocol parameter ``label_ratio`` that the trial applies to its protocol.
"""

from __future__ import annotations

import optuna

ARCHITECTURES = ["deepconvlstm", "ispl_inception", "hart", "mobilehart_xs"]
STRATEGIES = ["Rd", "PF", "PU"]
PAPER_RATIOS = [0.0, 0.01, 0.05, 0.1, 0.7]
# no module GRID: the default (transfer) space suggests per-architecture fields, which a grid over
# the architecture could not hold at one default; the two grids are variants of their own
STRATEGY_GRID: dict = {"architecture": ARCHITECTURES, "strategy": STRATEGIES}
PAPER_GRID: dict = {**STRATEGY_GRID, "label_ratio": PAPER_RATIOS}


def _regularisation(trial: optuna.Trial, architecture: str) -> dict:
    if architecture == "deepconvlstm":
        return {"dcl_dropout": trial.suggest_float("dcl_dropout", 0.2, 0.6)}
    if architecture == "ispl_inception":
        return {"ispl_l2": trial.suggest_float("ispl_l2", 1e-4, 1e-2, log=True)}
    prefix = "hart" if architecture == "hart" else "mobilehart"
    return {f"{prefix}_dropout": trial.suggest_float(f"{prefix}_dropout", 0.1, 0.5),
            f"{prefix}_drop_path": trial.suggest_float(f"{prefix}_drop_path", 0.0, 0.4)}


def transfer(trial: optuna.Trial) -> dict:
    """Architecture, strategy, head and fine-tuning; pre-training at the paper's settings."""
    architecture = trial.suggest_categorical("architecture", ARCHITECTURES)
    return {
        "architecture": architecture,
        "strategy": trial.suggest_categorical("strategy", STRATEGIES),
        "head": trial.suggest_categorical("head", ["linear", "mlp"]),
        "finetune_lr": trial.suggest_float("finetune_lr", 1e-4, 2e-3, log=True),
        "finetune_batch_size": trial.suggest_categorical("finetune_batch_size", [16, 32, 64, 128]),
        "finetune_epochs": trial.suggest_categorical("finetune_epochs", [50, 100, 200]),
        **_regularisation(trial, architecture),
    }


def space(trial: optuna.Trial) -> dict:
    """``full``: :func:`transfer` plus the pre-training settings and each net's shape."""
    params = transfer(trial)
    params.update(
        pretrain_lr=trial.suggest_float("pretrain_lr", 1e-4, 2e-3, log=True),
        pretrain_epochs=trial.suggest_categorical("pretrain_epochs", [50, 100, 200]),
        pretrain_batch_size=trial.suggest_categorical("pretrain_batch_size", [64, 128, 256]),
        pretrain_label_smoothing=trial.suggest_float("pretrain_label_smoothing", 0.0, 0.2),
    )
    architecture = params["architecture"]
    if architecture == "deepconvlstm":
        params["dcl_lstm_units"] = trial.suggest_categorical("dcl_lstm_units", [64, 128])
    elif architecture == "ispl_inception":
        params["ispl_depth"] = trial.suggest_int("ispl_depth", 3, 6)
        params["ispl_max_kernel"] = trial.suggest_categorical("ispl_max_kernel", [34, 68])
    elif architecture == "hart":
        params["hart_projection_dim"] = trial.suggest_categorical("hart_projection_dim", [96, 192])
        params["hart_heads"] = trial.suggest_categorical("hart_heads", [2, 3])
    return params


def strategies(trial: optuna.Trial) -> dict:
    return {name: trial.suggest_categorical(name, values) for name, values in STRATEGY_GRID.items()}


def paper(trial: optuna.Trial) -> dict:
    """Architecture x strategy x the reserved protocol parameter ``label_ratio``."""
    return {name: trial.suggest_categorical(name, values) for name, values in PAPER_GRID.items()}


DEFAULT_VARIANT = "transfer"
VARIANTS = {"transfer": transfer, "strategies": strategies, "paper": paper}
VARIANT_GRIDS = {"strategies": STRATEGY_GRID, "paper": PAPER_GRID}
