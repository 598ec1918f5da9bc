"""``autohar search --method auto`` / ``--methods`` (issue 34): one study over several methods, each
method's first trial its paper defaults, successive halving between them, a leaderboard, warm
starts from earlier studies, and the winner exported and verified like any study's best trial."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from automl_har.attrs import (
    BEST_METHOD_TAG, EXCLUDED_METHODS_ATTR, METHOD_TAG, PARENT_RUN_ATTR, SPEC_ATTR, TRIAL_RUN_ATTR, WARM_START_ATTR,
    WARM_START_TAG,
)
from automl_har.cli.main import app
from automl_har.config import Layer, config_of, resolve, search_spec
from automl_har.engines._spec import make_sampler, study_pruner
from automl_har.engines.verify import verify_study
from automl_har.engines.method_selection import (
    DEFAULTS_ATTR, METHOD_HALVING, leaderboard, method_arms, next_method, warm_starts,
)
from automl_har.errors import ConfigError
from automl_har.objectives import ExperimentSpec
from automl_har.search_spaces import get_space
from automl_har.search_spec import SearchSpec, ran_params, trial_method
from automl_har.selection import inner_sampler, method_spec
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

#: MESEN small enough for a CPU test; the searched names still come from its space
TINY_MESEN = ["--param", "mesen.pretrain_epochs=1", "--param", "mesen.imu_width=8", "--param",
              "mesen.transformer_layers=1", "--param", "mesen.heads=2", "--param", "mesen.ff_dim=16",
              "--param", "mesen.finetune_epochs=2"]
SMALL = ["--budget", "0.05", "--repeats", "1", "--labels-per-class", "5"]


def search(workdir, *extra: str):
    """A search over methods, MESEN among them (tiny)."""
    return CliRunner().invoke(app, ["search", "--workdir", str(workdir), *SMALL, *TINY_MESEN, *extra])


def search_one(workdir, *extra: str):
    """A single-method search."""
    return CliRunner().invoke(app, ["search", "--workdir", str(workdir), *SMALL, *extra])


def load(workdir, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(Workspace.resolve(workdir).optuna_storage_url))


def _trial(method: str, value: float | None, state=TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=state, value=value, user_attrs={"method": method})


def _numbered(trials):
    for number, trial in enumerate(trials):
        trial.number = number
    return trials


def test_halving_fills_every_method_then_promotes_the_top_half_then_keeps_feeding_the_best():
    methods = ["a", "b", "c", "d"]
    trials = _numbered([_trial("a", 0.5), _trial("b", 0.9)])
    assert next_method(method_arms(trials, methods)) == "a"  # rung 0 (2 trials) of a is not full
    trials = _numbered([*trials, _trial("a", 0.4), _trial("b", 0.8), _trial("c", 0.1), _trial("c", 0.2),
                        _trial("d", 0.7), _trial("d", 0.6)])
    arms = method_arms(trials, methods)
    assert [len(a.trials) for a in arms] == [METHOD_HALVING.min_trials] * 4
    assert next_method(arms) == "b"  # all finished rung 0: b (0.9) and d (0.7) are the top half, b first
    trials = _numbered([*trials, _trial("b", 0.1), _trial("b", 0.1)])
    assert next_method(method_arms(trials, methods)) == "d"  # b filled rung 1; d, the other of the top half, comes next
    trials = _numbered([*trials, _trial("d", 0.1), _trial("d", 0.1)])
    assert next_method(method_arms(trials, methods)) == "b"  # rung 1: b (0.9) beats d (0.7): b goes on to rung 2


def test_a_running_trial_holds_its_slot_so_parallel_workers_spread_over_the_methods():
    trials = _numbered([_trial("a", None, TrialState.RUNNING)])
    arms = method_arms(trials, ["a", "b"])
    assert next_method(arms) == "a"  # a is still short of its rung-0 trials
    trials = _numbered([*trials, _trial("a", None, TrialState.RUNNING)])
    assert next_method(method_arms(trials, ["a", "b"])) == "b"


def test_a_method_whose_space_suggests_pretraining_fields_runs_its_staged_search_inside():
    assert inner_sampler("maskcae", "full") == "staged"
    assert inner_sampler("supervised", "default") == "tpe"


def _spec(**fields) -> SearchSpec:
    return SearchSpec(ExperimentSpec("auto", "synthetic"), Workspace.resolve(None), **fields)


def test_a_study_over_methods_refuses_brackets_across_methods_or_one_sampler_for_all():
    with pytest.raises(ConfigError, match="--pruner hyperband assigns brackets over the whole study"):
        _spec(methods=("supervised", "mesen"), pruner="hyperband")
    with pytest.raises(ConfigError, match="--sampler random"):
        _spec(methods=("supervised", "mesen"), sampler="random")
    # the pruner a search of each method alone runs by default: median under TPE, none inside a staged search
    spec = _spec(methods=("supervised", "maskcae"), space="full")
    assert spec.pruner == "median"
    assert method_spec(spec, "supervised").pruner == "median"
    assert method_spec(spec, "maskcae").sampler == "staged" and method_spec(spec, "maskcae").pruner == "none"


def _curve(method: str, number: int, values: list[float], state=TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(state=state, value=values[-1] if state == TrialState.COMPLETE else None,
                                      intermediate_values=dict(enumerate(values)), user_attrs={"method": method})
    trial.number = number
    return trial


def test_the_pruner_compares_a_trial_with_its_own_methods_curves_only():
    """A supervised curve at 0.3 is fine among supervised curves at 0.2, and would be pruned against
    MESEN's curves at 0.9 had the median been over the whole study."""

    class Study:  # what a pruner reads of a study
        direction = optuna.study.StudyDirection.MAXIMIZE

        def __init__(self, trials):
            self.trials_ = trials

        def get_trials(self, deepcopy=True, states=None):
            return [t for t in self.trials_ if states is None or t.state in states]

    done = [_curve("supervised", i, [0.2] * 5) for i in range(3)] + [_curve("mesen", 3 + i, [0.9] * 5) for i in range(6)]
    running = _curve("supervised", 9, [0.3] * 5, TrialState.RUNNING)
    pruner = study_pruner(_spec(methods=("supervised", "mesen")))
    assert pruner.prune(Study([*done, running]), running) is False
    assert optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3).prune(Study([*done, running]), running)
    worse = _curve("supervised", 10, [0.1] * 5, TrialState.RUNNING)  # below its own method's median: pruned
    assert pruner.prune(Study([*done, worse]), worse) is True
    assert isinstance(study_pruner(_spec(methods=("supervised", "mesen"), pruner="none")), optuna.pruners.NopPruner)


def test_a_searched_trial_is_pruned_against_the_method_the_sampler_chose_for_it():
    """The sampler stores a searched trial's method after Optuna cached the trial: the pruner must
    still find it, else no searched trial of a study over methods is ever pruned."""
    spec = _spec(methods=("supervised", "mesen"))
    study = optuna.create_study(direction="maximize", sampler=make_sampler(spec), pruner=study_pruner(spec))
    for method, value, count in (("supervised", 0.5, 3), ("mesen", 0.2, 2)):
        for _ in range(count):
            study.add_trial(optuna.trial.create_trial(value=value, intermediate_values=dict.fromkeys(range(5), value),
                                                      user_attrs={"method": method}))
    trial = study.ask()  # rung 0 is full; supervised, the top half, is due its rung-1 trials
    assert trial_method(study._storage.get_trial(trial._trial_id)) == "supervised"
    assert "method" not in trial.user_attrs  # Optuna's cached copy does not have it
    for step in range(5):
        trial.report(0.1, step)
    assert trial.should_prune()  # below the supervised trials' median (0.5) after the warm-up steps


def test_deploying_some_modalities_makes_unimodal_methods_read_them_and_mesen_pretrain_on_all():
    spec = _spec(methods=("supervised", "mesen", "cosmo"), deploy_modalities=("acc",))
    supervised = method_spec(spec, "supervised")
    assert supervised.experiment.method == "supervised" and supervised.experiment.modalities == ("acc",)
    mesen = method_spec(spec, "mesen")
    assert mesen.experiment.modalities == ("acc", "gyro")  # pre-trains on every modality
    assert mesen.fixed_params == {"modality_groups": "acc,gyro", "modality": "acc"}  # deploys the acc group only
    cosmo = method_spec(spec, "cosmo")
    assert cosmo.fixed_params == {"modality_groups": "acc,gyro", "mode": "m2u", "m2u_modality": "acc"}


@pytest.mark.parametrize("method", ["supervised", "mesen", "cosmo"])
def test_one_method_with_deploy_modalities_reads_what_its_trials_of_an_auto_study_read(method):
    # the per-method reference searches of benchmarks/method_selection.py rest on this: before, one method
    # refused --deploy-modalities, and the references on UTD-MHAD + skeleton read the skeleton at test time
    data = {"dataset": "synthetic", "deploy_modalities": ["acc"]}
    single = search_spec(resolve(Layer("f", {"method": method, "data": data})))
    in_auto = method_spec(search_spec(resolve(Layer("f", {"method": "auto", "methods": [method], "data": data}))), method)
    assert single.experiment.modalities == in_auto.experiment.modalities
    assert single.fixed_params == in_auto.fixed_params
    assert single.experiment.modalities == (("acc",) if method == "supervised" else ("acc", "gyro"))
    stored = search_spec(resolve(Layer("stored", config_of(single))))  # the stored config re-runs as it ran
    assert (stored.experiment.modalities, stored.fixed_params) == (single.experiment.modalities, single.fixed_params)
    with pytest.raises(ConfigError, match="--deploy-modalities names skeleton, but the experiment loads acc, gyro"):
        search_spec(resolve(Layer("f", {"method": method, "data": {**data, "deploy_modalities": ["skeleton"]}})))


def test_auto_searches_the_methods_in_one_study_each_starting_from_its_defaults(tmp_path):
    result = search(tmp_path, "--method", "auto", "--methods", "supervised,mesen", "--dataset", "synthetic",
                    "--trials", "6")
    assert result.exit_code == 0, result.output
    study = load(tmp_path, "auto-synthetic")
    trials = study.get_trials()
    assert [trial_method(t) for t in trials[:2]] == ["supervised", "mesen"]  # each method's first trial ...
    for trial in trials[:2]:  # ... is its paper defaults, stored under the method's prefix
        method = trial_method(trial)
        assert trial.user_attrs[DEFAULTS_ATTR] is True
        defaults = get_space(method).defaults
        assert {k: v for k, v in ran_params(trial).items() if k in defaults} == defaults
        assert all(name.startswith(method + ".") for name in trial.params)
    assert {trial_method(t) for t in trials} == {"supervised", "mesen"}
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    for trial in trials:  # every trial run is tagged with its method
        assert client.get_run(trial.user_attrs[TRIAL_RUN_ATTR]).data.tags[METHOD_TAG] == trial_method(trial)
    standings = leaderboard(study, SearchSpec.from_study(study))
    assert [s.method for s in standings] == sorted(
        ("supervised", "mesen"), key=lambda m: -max(t.value for t in trials if trial_method(t) == m))
    assert sum(s.trials for s in standings) == 6
    for s in standings:
        assert s.defaults_value == next(t.value for t in trials if trial_method(t) == s.method)
        assert s.linear_probe is not None and s.majority is not None
    parent = client.get_run(study.user_attrs[PARENT_RUN_ATTR]).data
    assert parent.tags[BEST_METHOD_TAG] == standings[0].method
    for s in standings:  # the parent run shows each method's best
        assert parent.metrics[f"{s.method}.best_val_macro_f1_mean"] == pytest.approx(s.best_value)
    assert "methods (validation macro-F1" in result.output and "paper defaults" in result.output
    assert study.user_attrs[EXCLUDED_METHODS_ATTR] == {}  # both named methods run

    shown = CliRunner().invoke(app, ["show", "auto-synthetic", "--workdir", str(tmp_path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"leaderboard"' in shown.output and '"method": "mesen"' in shown.output

    calls = []

    def evaluate(params, draws):  # hand-made per-draw numbers: what is compared with what is under test
        calls.append(dict(params))
        score = 0.6 if params == calls[0] else 0.5
        return {"units": [(0, d) for d in draws], "val_f1": [score] * len(draws), "val_accuracy": [score] * len(draws),
                "test_f1": [score + 0.01 * d for d in range(len(draws))], "test_accuracy": [score] * len(draws)}

    verification, _ = verify_study(study, top=1, repeats=6, evaluate=evaluate)
    winner = standings[0].method
    assert {k: calls[0][k] for k in get_space(winner).defaults} == get_space(winner).defaults  # the winner's defaults
    if winner == "supervised":  # the winner is the baseline: nothing more to compare
        assert verification.baseline is None and len(calls) <= 2
    else:  # the supervised defaults on the same draws, paired with the winner
        assert verification.baseline.label == "supervised defaults"
        assert calls[-1] == get_space("supervised").defaults
        assert verification.baseline_comparison.n == 6 and "supervised defaults" in verification.baseline_verdict

    config = CliRunner().invoke(app, ["show", "auto-synthetic", "--workdir", str(tmp_path), "--config"])
    (tmp_path / "again.yaml").write_text(config.output)  # the file that re-runs the study resumes it
    resumed = CliRunner().invoke(app, ["search", "--config", str(tmp_path / "again.yaml"), "--trials", "7", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert len(load(tmp_path, "auto-synthetic").get_trials()) == 7

    out = tmp_path / "model"  # the winner exports like any study's best trial
    exported = CliRunner().invoke(app, ["export", "auto-synthetic", "--workdir", str(tmp_path), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert f"method: {standings[0].method}" in (out / "autohar.yaml").read_text()


def test_methods_that_cannot_run_are_left_out_by_auto_and_refused_when_named(tmp_path):
    named = search(tmp_path, "--methods", "supervised,combined,mesen", "--dataset", "synthetic", "--trials", "1")
    assert named.exit_code != 0
    assert named.output.count("error:") == 1 and "combined" in named.output and "labeled source" in named.output
    assert not (tmp_path / "optuna.journal").exists() or load(tmp_path, "auto-synthetic").trials == []
    unprefixed = search(tmp_path, "--methods", "supervised,mesen", "--dataset", "synthetic", "--param", "lr=0.1")
    assert unprefixed.exit_code != 0 and "METHOD.NAME=VALUE" in unprefixed.output
    elsewhere = search(tmp_path, "--methods", "supervised", "--dataset", "synthetic")  # TINY_MESEN sets mesen.*
    assert elsewhere.exit_code != 0 and "'mesen' is not among the methods searched" in " ".join(elsewhere.output.split())
    unknown = search(tmp_path, "--method", "auto", "--dataset", "synthetic", "--deploy-modalities", "skeleton")
    assert unknown.exit_code != 0 and "--deploy-modalities names skeleton, but the experiment loads acc, gyro" in \
        " ".join(unknown.output.split())
    dry = search(tmp_path, "--method", "auto", "--dataset", "synthetic", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "left out: combined: pre-trains on labeled source datasets" in " ".join(dry.output.split())
    for method in ("supervised", "mesen", "cosmo", "maskcae", "img2imu"):
        assert f"search space 'default' of {method}:" in dry.output


def _write_npz(path, seed: int) -> str:
    """A small dataset in the generic format (docs/custom-data.md): acc and gyro, 4 subjects, 3 classes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 40)
    x = rng.normal(size=(len(y), 50, 3)).astype(np.float32) + y[:, None, None] * 0.8
    np.savez(path, X_acc=x, X_gyro=x[:, :, ::-1] * 0.5, y=np.array(["sit", "walk", "run"])[y],
             subject=np.tile(np.arange(4), 30), rate_acc=np.float64(50.0), rate_gyro=np.float64(50.0))
    return str(path)


def test_winners_of_earlier_studies_on_other_datasets_are_offered_as_tagged_warm_starts(tmp_path):
    first = search_one(tmp_path, "--method", "supervised", "--dataset", "synthetic", "--trials", "3", "--budget", "0.2")
    assert first.exit_code == 0, first.output
    earlier = load(tmp_path, "supervised-synthetic")
    best = max(earlier.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    data = _write_npz(tmp_path / "mine.npz", seed=1)
    result = search(tmp_path, "--methods", "supervised,mesen", "--dataset", data, "--trials", "3", "--study", "warm")
    assert result.exit_code == 0, result.output
    study = load(tmp_path, "warm")
    warm = [t for t in study.get_trials() if WARM_START_ATTR in t.user_attrs]
    assert best.number != 0  # a searched trial won the earlier study (seeded), so there is something to offer
    (trial,) = warm
    assert trial.user_attrs[WARM_START_ATTR] == f"supervised-synthetic#{best.number}"
    assert {k: ran_params(trial)[k] for k in best.params} == best.params
    client = MlflowClient(Workspace.resolve(tmp_path).tracking_uri)
    assert client.get_run(trial.user_attrs[TRIAL_RUN_ATTR]).data.tags[WARM_START_TAG] == f"supervised-synthetic#{best.number}"
    cold = search(tmp_path, "--methods", "supervised,mesen", "--dataset", data, "--trials", "3", "--study", "cold",
                  "--no-warm-start")
    assert cold.exit_code == 0, cold.output
    assert not any(WARM_START_ATTR in t.user_attrs for t in load(tmp_path, "cold").get_trials())
    assert warm_starts(study, SearchSpec.from_study(study), ["supervised"])  # still found, just not offered


def test_the_same_dataset_is_no_source_of_warm_starts(tmp_path):
    assert search_one(tmp_path, "--method", "supervised", "--dataset", "synthetic", "--trials", "2").exit_code == 0
    result = search(tmp_path, "--methods", "supervised,mesen", "--dataset", "synthetic", "--trials", "2")
    assert result.exit_code == 0, result.output
    study = load(tmp_path, "auto-synthetic")
    assert not any(WARM_START_ATTR in t.user_attrs for t in study.get_trials())
    assert study.user_attrs[EXCLUDED_METHODS_ATTR] == {}
    assert SearchSpec.from_dict(study.user_attrs[SPEC_ATTR]).methods == ("supervised", "mesen")


@pytest.mark.slow
def test_two_worker_processes_share_a_study_over_methods(tmp_path):
    """Each worker rebuilds the plan from the storage: both methods run, each trial under its method's names."""
    result = search(tmp_path, "--methods", "supervised,mesen", "--dataset", "synthetic", "--trials", "6",
                    "--workers", "2", "--quiet")
    assert result.exit_code == 0, result.output
    trials = load(tmp_path, "auto-synthetic").get_trials()
    # finished: a trial below its method's median may be pruned (each method's own pruner)
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials) == 6
    assert {trial_method(t) for t in trials} == {"supervised", "mesen"}
    for trial in trials:
        assert all(name.startswith(trial_method(trial) + ".") for name in trial.params)
    defaults = [t for t in trials if t.user_attrs.get(DEFAULTS_ATTR)]
    assert sorted(trial_method(t) for t in defaults) == ["mesen", "supervised"]  # each method's defaults ran once
