"""The protocol (splits, few-shot draws, metrics) and the one objective both engines run.

The names below are loaded on first use (PEP 562): the protocol side (``ExperimentSpec``,
``Protocol``, splits) needs only numpy, so a worker process can rebuild its search spec and
ask for its first trial before ``run_trial`` (and torch) is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automl_har._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from automl_har.objectives._trial import (
        TrialHooks, TrialResult, check_experiment, load_model, make_checkpoint, run_trial,
    )
    from automl_har.objectives.prepared import PreparedData, prepare_data, prepare_folds
    from automl_har.objectives.protocol import FRESH_DRAWS_START, VALIDATION_MODES, ExperimentSpec, Protocol
    from automl_har.objectives.splits import SPLIT_NAMES, Split, parse_split

_HOMES = {
    "automl_har.objectives._trial": ("TrialHooks", "TrialResult", "check_experiment", "load_model",
                                     "make_checkpoint", "run_trial"),
    "automl_har.objectives.prepared": ("PreparedData", "prepare_data", "prepare_folds"),
    "automl_har.objectives.protocol": ("FRESH_DRAWS_START", "VALIDATION_MODES", "ExperimentSpec", "Protocol"),
    "automl_har.objectives.splits": ("SPLIT_NAMES", "Split", "parse_split"),
}
__all__, __getattr__ = lazy_exports(__name__, _HOMES)
