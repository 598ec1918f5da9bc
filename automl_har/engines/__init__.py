"""Engines run a study over the same ``run_trial`` and the same search spaces."""

from automl_har.engines._spec import PRUNERS, SAMPLERS, SearchSpec, StudyResult, TrialSummary

__all__ = ["PRUNERS", "SAMPLERS", "SearchSpec", "StudyResult", "TrialSummary"]
