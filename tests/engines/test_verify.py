"""``autohar verify``: statistics against scipy/numpy on known per-draw numbers, recording once, CLI."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from mlflow import MlflowClient
from scipy import stats
from typer.testing import CliRunner

from automl_har.attrs import PARENT_RUN_ATTR, SPEC_ATTR
from automl_har.cli.main import app
from automl_har.engines.verify import verify_study
from automl_har.objectives.verify import BEATS, FRESH_DRAWS_START, paired_comparison
from automl_har.search_spaces import get_space
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

FAST = ["--method", "supervised", "--dataset", "synthetic", "--budget", "0.03", "--repeats", "2",
        "--labels-per-class", "3", "--quiet", "--pruner", "none"]
DEFAULT_TEST = [0.50, 0.52, 0.47, 0.55, 0.49, 0.51]
TUNED_TEST = [0.61, 0.58, 0.60, 0.57, 0.66, 0.55]


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A real 3-trial study (trial 0 = the defaults)."""
    workdir = tmp_path_factory.mktemp("verify")
    result = run_cli("search", *FAST, "--trials", 3, "--workdir", workdir, "--study", "s")
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(workdir)
    return workdir, optuna.load_study(study_name="s", storage=open_storage(ws.optuna_storage_url))


def known_numbers(defaults, shift=0.0):
    """An evaluator with hand-made per-draw numbers: the defaults score DEFAULT_TEST, others TUNED_TEST."""
    calls = []

    def evaluate(params, draws):
        calls.append((dict(params), list(draws)))
        test = DEFAULT_TEST if dict(params) == defaults else [v + shift for v in TUNED_TEST]
        return {"units": [(0, d) for d in draws], "val_f1": [t - 0.1 for t in test], "val_accuracy": test,
                "test_f1": test, "test_accuracy": test}

    return evaluate, calls


def test_paired_comparison_matches_numpy_and_scipy():
    c = paired_comparison(TUNED_TEST, DEFAULT_TEST)
    diff = np.subtract(TUNED_TEST, DEFAULT_TEST)
    assert c.mean == pytest.approx(diff.mean()) and c.n == 6 and c.wins == 6
    assert c.p_value == pytest.approx(stats.wilcoxon(diff).pvalue)
    resampled = diff[np.random.default_rng(0).integers(0, 6, size=(10_000, 6))].mean(axis=1)
    assert (c.ci_low, c.ci_high) == pytest.approx(tuple(np.percentile(resampled, [2.5, 97.5])))
    reference = stats.bootstrap((diff,), np.mean, method="percentile", n_resamples=20_000,
                                random_state=np.random.default_rng(1)).confidence_interval
    assert c.ci_low == pytest.approx(reference.low, abs=0.01) and c.ci_high == pytest.approx(reference.high, abs=0.01)
    assert paired_comparison([0.5, 0.5], [0.5, 0.5]).p_value == 1.0


def test_verify_compares_the_winner_with_the_defaults_on_fresh_draws(searched):
    _, study = searched
    defaults = get_space("supervised").defaults
    evaluate, calls = known_numbers(defaults)
    verification, ran = verify_study(study, top=2, repeats=6, evaluate=evaluate)
    assert ran
    assert [draws for _, draws in calls] == [list(range(FRESH_DRAWS_START, FRESH_DRAWS_START + 6))] * 3
    assert calls[0][0] == defaults  # the defaults first, then the top-2 non-default trials
    best = max((t for t in study.trials if t.number != 0), key=lambda t: t.value)
    assert verification.winner.trial == best.number or study.trials[0].value >= best.value
    c = verification.winner_comparison
    assert c.mean == pytest.approx(np.mean(TUNED_TEST) - np.mean(DEFAULT_TEST))
    assert verification.verdict == BEATS
    assert verification.optimism == pytest.approx(verification.winner.search_value - np.mean(np.subtract(TUNED_TEST, 0.1)))


def test_five_units_can_never_show_a_win():
    from automl_har.objectives.verify import Reevaluation, Verification

    def config(label, trial, test):
        return Reevaluation(label, trial, {}, 0.9, [(0, d) for d in range(5)], test, test, test, test)

    tuned = config("trial 1", 1, TUNED_TEST[:5])
    verification = Verification("top1-r5", list(range(5)), config("defaults", None, DEFAULT_TEST[:5]), [tuned],
                                {1: paired_comparison(TUNED_TEST[:5], DEFAULT_TEST[:5])}, tuned, 0.0)
    assert verification.winner_comparison.ci_low > 0  # the bootstrap alone would call it a win
    assert verification.verdict.startswith("it does not") and "use --repeats 6 or more" in verification.verdict


def test_verify_records_once_and_show_prints_the_verdict(searched):
    workdir, study = searched
    defaults = get_space("supervised").defaults
    evaluate, calls = known_numbers(defaults, shift=-0.2)  # now the tuned configurations lose
    first, ran = verify_study(study, top=1, repeats=4, evaluate=evaluate)
    again, ran_again = verify_study(study, top=1, repeats=4, evaluate=evaluate)
    assert ran and not ran_again and len(calls) == 2  # the second call re-ran nothing
    assert first.verdict.startswith("it does not") and again["verdict"] == first.verdict
    ws = Workspace.resolve(workdir)
    client = MlflowClient(ws.tracking_uri)
    parent = study.user_attrs[PARENT_RUN_ATTR]
    assert len(client.get_metric_history(parent, "verify.top1-r4.gain_mean")) == 1
    assert [a.path for a in client.list_artifacts(parent, "verify")].count("verify/verify-top1-r4.csv") == 1
    assert client.get_run(parent).data.tags["autohar.verify_verdict"] == first.verdict
    shown = run_cli("show", "s", "--workdir", workdir)
    assert shown.exit_code == 0 and "last verify (top1-r4): it does not" in shown.output
    assert "floors of that verify" not in shown.output  # the hand-made numbers measured no floor


def test_show_marks_the_trials_whose_model_predicts_one_class_on_validation(searched):
    workdir, study = searched
    single = [t.number for t in study.trials if t.user_attrs["val_classes_predicted_min"] == 1]
    assert single  # budget 0.03: the tiny net has not left its initial class yet
    shown = run_cli("show", "s", "--workdir", workdir)
    out = " ".join(shown.output.split())
    assert f"degenerate (trials {', '.join(map(str, single))}): the model predicts a single class" in out
    assert all(f" {n}* " in out for n in single)
    assert "(floors on validation: majority 0.1000, linear probe" in out


def test_verify_cli_runs_for_real_and_a_rerun_adds_nothing(searched):
    workdir, _ = searched
    result = run_cli("verify", "s", "--top", 1, "--repeats", 2, "--workdir", workdir)
    assert result.exit_code == 0, result.output
    assert "verdict:" in result.output and "optimism" in result.output and "Wilcoxon" in result.output
    out = " ".join(result.output.split())
    # at budget 0.03 the tiny net predicts one class on every fresh draw: the floors say so beside the verdict
    assert "test probe" in out and "floors: trial" in out and "vs floors: majority class 0.1000, linear probe" in out
    assert "DEGENERATE (units 0, 1 predict a single class" in out
    rerun = run_cli("verify", "s", "--top", 1, "--repeats", 2, "--workdir", workdir)
    assert rerun.exit_code == 0 and "already verified" in rerun.output


def test_verify_without_a_completed_trial_is_a_one_line_error(tmp_path):
    ws = Workspace.resolve(tmp_path).create()
    storage = open_storage(ws.optuna_storage_url)
    study = optuna.create_study(study_name="empty", storage=storage)
    study.set_user_attr(SPEC_ATTR, {})
    result = run_cli("verify", "empty", "--workdir", tmp_path)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith("error: ") and "no completed trial" in result.output
    unknown = run_cli("verify", "nope", "--workdir", tmp_path)
    assert unknown.exit_code != 0 and "no study 'nope'" in unknown.output
