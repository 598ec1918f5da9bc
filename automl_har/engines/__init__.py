"""Engines run a study over the same ``run_trial`` and the same search spaces.

The names below are loaded on first use (PEP 562), so that importing a light submodule such
as ``automl_har.engines._storage`` (``autohar studies``) does not import the objective, the
methods and torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automl_har.engines._spec import PRUNERS, SAMPLERS, SearchSpec, StudyResult, TrialSummary

__all__ = ["PRUNERS", "SAMPLERS", "SearchSpec", "StudyResult", "TrialSummary"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("automl_har.engines._spec"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
