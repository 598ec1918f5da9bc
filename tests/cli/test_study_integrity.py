"""A study is one experiment: a re-run that changes what a trial measures stops before anything is
recorded; ``--param`` values outside their declared ranges and few-label requests beyond the data
are one line; a failed trial does not count towards ``--trials`` and a re-run after a fix continues."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from automl_har.search_spec import SearchSpec, experiment_changes
from automl_har.storage import open_storage
from automl_har.workspace import Workspace
from typer.testing import CliRunner

from automl_har.cli.main import app
from tests.cli.test_search_cli import FAST, runs_of, search


def load(workdir, name="supervised-synthetic") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(Workspace.resolve(workdir).optuna_storage_url))


def study_names(workdir) -> list[str]:
    ws = Workspace.resolve(workdir)
    if not ws.root.exists():
        return []
    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(ws.optuna_storage_url))]


def search_with_summary(workdir, *extra):
    """``search`` without ``--quiet``: the summary is printed."""
    quiet = FAST.index("--quiet")
    args = ["search", "--method", "supervised", *FAST[:quiet], *FAST[quiet + 1:], "--workdir", str(workdir), *extra]
    return CliRunner().invoke(app, args)


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


def test_experiment_changes_names_what_changes_a_trial_and_ignores_what_does_not(tmp_path):
    from automl_har.objectives import ExperimentSpec, Protocol

    base = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path))
    same_value = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path / "elsewhere"),
                            n_trials=50, timeout=60, workers=2, seed=3, sampler="random")
    assert experiment_changes(base, same_value) == []
    other = SearchSpec(ExperimentSpec(method="supervised", dataset="watch", protocol=Protocol(labels_per_class=5),
                                      budget=0.5), Workspace(tmp_path), fixed_params={"lr": 0.01}, space="default")
    assert experiment_changes(base, other) == [
        "budget: 0.2 -> 0.5", "dataset: synthetic -> watch", "protocol.labels_per_class: 10 -> 5",
        "fixed_params.lr: (unset) -> 0.01"]
    staged = SearchSpec(ExperimentSpec(method="supervised", dataset="synthetic"), Workspace(tmp_path), sampler="staged")
    # staged trials pre-train for a fraction of the epochs, and run unpruned by default
    assert experiment_changes(base, staged) == ["pruner: median -> none", "sampler: tpe -> staged"]


@pytest.mark.slow
def test_a_rerun_with_another_experiment_stops_before_recording_and_value_neutral_options_resume(tmp_path):
    assert search(tmp_path, "--trials", "1").exit_code == 0
    _, runs_before = runs_of(tmp_path)

    changed = search(tmp_path, "--trials", "2", "--labels-per-class", "3", "--budget", "0.05")
    assert changed.exit_code == 2
    lines = error_lines(changed)
    assert len(lines) == 1 and lines[0].startswith("error: study 'supervised-synthetic' was run with another experiment")
    assert "protocol.labels_per_class: 5 -> 3" in lines[0] and "budget: 0.03 -> 0.05" in lines[0]
    assert "--study supervised-synthetic-2" in lines[0] and "autohar studies delete supervised-synthetic" in lines[0]
    assert len(load(tmp_path).get_trials()) == 1  # nothing recorded: no trial, no run
    _, runs_after = runs_of(tmp_path)
    assert len(runs_after) == len(runs_before)
    assert load(tmp_path).user_attrs["autohar_search_spec"]["experiment"]["protocol"]["labels_per_class"] == 5

    resumed = search(tmp_path, "--trials", "2", "--timeout", "600", "--seed", "7")
    assert resumed.exit_code == 0, resumed.output
    assert [t.state for t in load(tmp_path).get_trials()] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize("value, says", [
    ("depth=-3", "'depth' of method 'supervised' must be >= 1, but got depth=-3"),
    ("batch_size=0", "'batch_size' of method 'supervised' must be >= 1, but got batch_size=0"),
    ("dropout=1.5", "'dropout' of method 'supervised' must be in [0, 1), but got dropout=1.5"),
    ("lr=-1", "'lr' of method 'supervised' must be > 0, but got lr=-1.0"),
    ("width=0", "'width' of method 'supervised' must be >= 1, but got width=0"),
])
def test_a_param_outside_its_declared_range_is_one_line_and_records_nothing(tmp_path, value, says):
    result = search(tmp_path, "--trials", "1", "--param", value)
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: hyperparameter ") and says in lines[0], result.output
    assert study_names(tmp_path) == []


def test_more_labels_per_class_than_the_data_holds_names_the_largest_value(tmp_path):
    from automl_har.objectives import ExperimentSpec
    from automl_har.objectives.prepared import prepare_folds

    fold = prepare_folds(ExperimentSpec(method="supervised", dataset="synthetic"))[0]
    largest = min(int((fold.train.y == c).sum()) for c in set(fold.train.y.tolist()))
    result = search(tmp_path, "--trials", "1", "--labels-per-class", str(largest + 1))
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1 and f"the largest possible value is {largest}" in lines[0], result.output
    assert study_names(tmp_path) == []
    assert search(tmp_path, "--trials", "1", "--labels-per-class", str(largest), "--repeats", "1").exit_code == 0


@pytest.mark.slow
def test_failed_trials_do_not_count_are_grouped_by_reason_and_a_rerun_after_the_fix_continues(tmp_path, monkeypatch):
    from automl_har.methods.supervised import Supervised

    working = Supervised.finetune
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):  # the 2nd and 3rd trials fail (each trial fine-tunes 2 draws)
        calls["n"] += 1
        if calls["n"] in (3, 5):
            raise RuntimeError("disk quota in test")
        return working(self, *args, **kwargs)

    monkeypatch.setattr(Supervised, "finetune", flaky)
    result = search_with_summary(tmp_path, "--trials", "2", "--sampler", "random")
    assert result.exit_code == 0, result.output
    states = [t.state for t in load(tmp_path).get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    output = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "study supervised-synthetic: 2 trials finished: 2 complete, 0 pruned; 2 failed, not counted" in output
    assert "2 failed: RuntimeError: disk quota in test" in output

    def broken(self, *args, **kwargs):
        raise RuntimeError("exploding gradient in test")

    monkeypatch.setattr(Supervised, "finetune", broken)
    other = tmp_path / "other"
    failed = search(other, "--trials", "2")
    assert failed.exit_code != 0 and error_lines(failed)[-1].startswith("error: the first 3 trials all failed")
    assert [t.state for t in load(other).get_trials()] == [TrialState.FAIL] * 3

    monkeypatch.setattr(Supervised, "finetune", working)  # the fix; the same command again
    fixed = search(other, "--trials", "2")
    assert fixed.exit_code == 0, fixed.output
    trials = load(other).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 3 + [TrialState.COMPLETE] * 2
    from automl_har.search_spaces import get_space

    assert trials[3].params == get_space("supervised").defaults  # the defaults are measured first


def test_a_search_that_ends_with_no_complete_trial_exits_non_zero(tmp_path, monkeypatch):
    from automl_har.methods.supervised import Supervised

    def broken(self, *args, **kwargs):
        raise RuntimeError("out of memory in test")

    monkeypatch.setattr(Supervised, "finetune", broken)
    # a failed trial does not count: the stop after the first three failures ends it
    result = search(tmp_path, "--trials", "1", "--repeats", "1")
    assert result.exit_code != 0
    assert error_lines(result)[-1] == "error: the first 3 trials all failed; last error: " \
                                      "RuntimeError: out of memory in test"
    # a search that ran out of time before any trial completed (1 ns: no trial starts)
    monkeypatch.undo()
    timed_out = search(tmp_path / "t", "--trials", "1", "--timeout", "0.000000001")
    assert timed_out.exit_code != 0
    assert error_lines(timed_out)[-1].startswith("error: study 'supervised-synthetic' has no complete trial yet")
