"""Engines run a study over the same ``run_trial`` and the same search spaces.

The names below are loaded on first use (PEP 562), so that ``from automl_har.engines import
join_study`` (``autohar worker``) or ``SearchSpec`` does not import the objective, the methods
and torch. The engines themselves are the modules :mod:`automl_har.engines.optuna` and
:mod:`automl_har.engines.ray` (``search(spec)``), and :mod:`automl_har.engines.verify`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automl_har._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from automl_har.engines._loop import check_method_selection, check_search
    from automl_har.engines._spec import StudyResult, TrialSummary
    from automl_har.engines._workers import join_study, worker_command
    from automl_har.search_spec import FIDELITIES, OBJECTIVES, PRUNERS, SAMPLERS, SearchSpec, ran_params

_HOMES = {
    "automl_har.engines._loop": ("check_method_selection", "check_search"),
    "automl_har.engines._spec": ("StudyResult", "TrialSummary"),
    "automl_har.engines._workers": ("join_study", "worker_command"),
    "automl_har.search_spec": ("FIDELITIES", "OBJECTIVES", "PRUNERS", "SAMPLERS", "SearchSpec", "ran_params"),
}
__all__, __getattr__ = lazy_exports(__name__, _HOMES)
