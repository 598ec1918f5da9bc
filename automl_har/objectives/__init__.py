"""The protocol (splits, few-shot draws, metrics) and the one objective both engines run."""

from automl_har.objectives._trial import TrialHooks, TrialResult, check_experiment, load_model, make_checkpoint, run_trial
from automl_har.objectives.protocol import ExperimentSpec, PreparedData, Protocol, prepare_data

__all__ = [
    "ExperimentSpec",
    "PreparedData",
    "Protocol",
    "TrialHooks",
    "TrialResult",
    "check_experiment",
    "load_model",
    "make_checkpoint",
    "prepare_data",
    "run_trial",
]
