"""The protocol (splits, few-shot draws, metrics) and the one objective both engines run.

The names below are loaded on first use (PEP 562): the protocol side (``ExperimentSpec``,
``Protocol``, splits) needs only numpy, so a worker process can rebuild its search spec and
ask for its first trial before ``run_trial`` (and torch) is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl_har.objectives._trial import (
        TrialHooks, TrialResult, check_experiment, load_model, make_checkpoint, run_trial,
    )
    from automl_har.objectives.protocol import (
        FRESH_DRAWS_START, VALIDATION_MODES, ExperimentSpec, PreparedData, Protocol, prepare_data, prepare_folds,
    )
    from automl_har.objectives.splits import SPLIT_NAMES, Split, parse_split

_HOMES = {
    "automl_har.objectives._trial": ("TrialHooks", "TrialResult", "check_experiment", "load_model",
                                     "make_checkpoint", "run_trial"),
    "automl_har.objectives.protocol": ("FRESH_DRAWS_START", "VALIDATION_MODES", "ExperimentSpec", "PreparedData",
                                       "Protocol", "prepare_data", "prepare_folds"),
    "automl_har.objectives.splits": ("SPLIT_NAMES", "Split", "parse_split"),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
