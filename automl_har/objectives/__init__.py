"""The protocol (splits, few-shot draws, metrics) and the one objective both engines run."""

from automl_har.objectives._trial import TrialHooks, TrialResult, check_experiment, load_model, make_checkpoint, run_trial
from automl_har.objectives.protocol import (
    FRESH_DRAWS_START,
    VALIDATION_MODES,
    ExperimentSpec,
    PreparedData,
    Protocol,
    prepare_data,
    prepare_folds,
)
from automl_har.objectives.splits import SPLIT_NAMES, Split, parse_split

__all__ = [
    "FRESH_DRAWS_START",
    "SPLIT_NAMES",
    "VALIDATION_MODES",
    "ExperimentSpec",
    "PreparedData",
    "Protocol",
    "Split",
    "TrialHooks",
    "TrialResult",
    "check_experiment",
    "load_model",
    "make_checkpoint",
    "parse_split",
    "prepare_data",
    "prepare_folds",
    "run_trial",
]
