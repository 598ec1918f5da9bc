"""SearchSpec's pruner default: none for a grid (every point runs to its end) and for the staged search
(successive halving over pre-trainings is its early stopping), median otherwise."""

from __future__ import annotations

import pytest

from automl_har.objectives import ExperimentSpec
from automl_har.search_spec import SearchSpec
from automl_har.workspace import Workspace


def spec(tmp_path, **kwargs) -> SearchSpec:
    return SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path), **kwargs)


@pytest.mark.parametrize(("sampler", "pruner", "resolved"), [
    ("grid", None, "none"),
    ("staged", None, "none"),
    ("tpe", None, "median"),
    ("random", None, "median"),
    ("grid", "median", "median"),  # an explicit pruner wins
    ("staged", "median", "median"),
    ("tpe", "none", "none"),
])
def test_pruner_default_depends_on_the_sampler(tmp_path, sampler, pruner, resolved):
    kwargs = {} if pruner is None else {"pruner": pruner}
    built = spec(tmp_path, sampler=sampler, **kwargs)
    assert built.pruner == resolved
    assert SearchSpec.from_dict(built.to_dict()).pruner == resolved  # what workers rebuild from the study
