"""An explicit pruner wins over a grid's default (none) and the summary says how many points it
stopped; that a grid runs every point to its end by default is checked on both engines in
``tests/engines/test_engine_parity.py``."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.attrs import SPEC_ATTR
from automl_har.cli.main import app
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

# 8 of the supervised GRID's 12 points, 6 epochs each: enough curves for the median pruner to stop
# some of them (it did, 3 of 8, when it was the default)
GRID = ["search", "--method", "supervised", "--dataset", "synthetic", "--sampler", "grid", "--trials", "8",
        "--budget", "0.06", "--repeats", "1", "--labels-per-class", "5"]


def grid_search(workdir, *extra):
    result = CliRunner().invoke(app, [*GRID, "--workdir", str(workdir), *extra])
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="supervised-synthetic", storage=open_storage(Workspace.resolve(workdir).optuna_storage_url))
    return result, study


@pytest.mark.slow
def test_explicit_pruner_wins_over_the_grid_default_and_the_summary_counts_pruned(tmp_path):
    result, study = grid_search(tmp_path, "--pruner", "median")
    assert study.user_attrs[SPEC_ATTR]["pruner"] == "median"
    states = [t.state for t in study.get_trials()]
    pruned = states.count(TrialState.PRUNED)
    assert pruned > 0 and states.count(TrialState.COMPLETE) == 8 - pruned
    assert f"8 of 12 grid points: {8 - pruned} complete, {pruned} pruned" in " ".join(result.stdout.split())


def test_summary_counts_pruned_trials_of_any_search(tmp_path):
    from automl_har.cli.search import finished_line
    from automl_har.engines import SearchSpec, StudyResult
    from automl_har.objectives import ExperimentSpec

    def line(sampler, states):
        spec = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path), sampler=sampler)
        counted = sum(n for state, n in states.items() if state != "FAIL")  # a failed trial does not count
        return finished_line(StudyResult("s", "", "", counted, None, None, {}, states=states), spec)

    assert line("tpe", {"COMPLETE": 20}) == "20 trials finished"
    assert line("tpe", {"COMPLETE": 17, "PRUNED": 3}) == "20 trials finished: 17 complete, 3 pruned"
    assert line("random", {"COMPLETE": 4, "FAIL": 1}) == "4 trials finished: 4 complete, 0 pruned; 1 failed, not counted"
    assert line("grid", {"COMPLETE": 10, "PRUNED": 2}) == "12 grid points: 10 complete, 2 pruned"
