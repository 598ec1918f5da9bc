"""One tiny study shared by the export tests (module-scoped: searching is the slow part)."""

from __future__ import annotations

import pytest

from automl_har.data.registry import WindowOptions
from automl_har.engines import SearchSpec
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.workspace import Workspace

TINY = {"depth": 1, "width": 8, "epochs": 20, "batch_size": 8}


def tiny_spec(root, study: str, trials: int, **extra) -> SearchSpec:
    experiment = ExperimentSpec(method="supervised", dataset="synthetic", window=WindowOptions(window_s=2.0, rate_hz=25.0),
                                protocol=Protocol(labels_per_class=5, repeats=2), budget=0.1, device="cpu")
    return SearchSpec(experiment=experiment, workspace=Workspace.resolve(root), study_name=study, n_trials=trials,
                      fixed_params=dict(TINY), **extra)


@pytest.fixture(scope="session")
def searched(tmp_path_factory):
    """``(spec, result)`` of a 2-trial single-objective study in its own workspace."""
    from automl_har.engines.optuna import search

    spec = tiny_spec(tmp_path_factory.mktemp("export_ws"), "tiny", 2)
    return spec, search(spec)
