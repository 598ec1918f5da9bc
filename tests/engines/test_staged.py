"""The staged search (``--sampler staged``, issue 16 item 1): arms of pre-training fields, inner
trials on each, successive halving between them, rebuilt from the storage on every trial."""

from __future__ import annotations

import math

import optuna
import pytest

from automl_har.attrs import STAGED_ARM_ATTR, STAGED_PRETRAIN_ATTR, STAGED_RUNG_ATTR
from automl_har.data.registry import WindowOptions
from automl_har.engines.staged import ETA, MIN_TRIALS, Arm, StagedSampler, arms_of, next_arm, rung_size
from automl_har.errors import ConfigError
from automl_har.methods import PRETRAIN, get_method, stage_names
from automl_har.search_spaces import get_space

PRETRAINING = stage_names(get_method("maskcae").Params, PRETRAIN)


def _objective(params: dict) -> float:
    """A smooth stand-in for a validation F1: best at mask 0.5, lr 1e-3 and fine-tuning lr 1e-3."""
    return 1.0 - (params["mask_ratio"] - 0.5) ** 2 - 0.05 * (math.log10(params["pretrain_lr"]) + 3) ** 2 \
        - 0.05 * (math.log10(params["finetune_lr"]) + 3) ** 2


def _run(study: optuna.Study, n: int, space) -> None:
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, _objective(space.params_of(trial)))


def _staged_study(storage=None, seed: int = 0):
    space = get_space("maskcae", "full")
    study = optuna.create_study(direction="maximize", storage=storage, study_name="staged",
                                sampler=StagedSampler(space, PRETRAINING, seed=seed), load_if_exists=True)
    if not study.trials:
        study.enqueue_trial(space.first_trial())
    return study, space


def test_every_trial_of_an_arm_shares_its_pretraining_and_fine_tunes_differently():
    study, space = _staged_study()
    _run(study, 30, space)
    arms = arms_of(study.trials)
    assert arms[0].values == {n: space.defaults[n] for n in PRETRAINING if n in space.defaults}  # trial 0: defaults
    for arm in arms:
        assert all({n: t.params[n] for n in arm.values} == arm.values for t in arm.trials)
        assert all(t.system_attrs[STAGED_ARM_ATTR] == arm.index for t in arm.trials)
    big = max(arms, key=lambda a: len(a.trials))
    assert len({t.params["finetune_lr"] for t in big.trials}) == len(big.trials)  # the inner sampler varies them
    assert len(arms) < 30 / 2  # far fewer pre-trainings than trials


def test_successive_halving_gives_more_trials_only_to_arms_in_the_top_of_their_rung():
    study, space = _staged_study()
    _run(study, 40, space)
    arms = arms_of(study.trials)
    sizes = sorted(len(a.trials) for a in arms)
    off_rung = [s for s in sizes if s not in (rung_size(0), rung_size(1), rung_size(2))]
    assert len(off_rung) <= 1  # every arm sits on a rung size, but the one still filling its rung
    assert max(sizes) > rung_size(1)  # someone reached rung 2 within 40 trials
    promotions = 0
    for trial in study.trials:  # each promotion, judged when it happened
        arm = next(a for a in arms if trial in a.trials)
        position = arm.trials.index(trial)
        if position > 0 and position in (rung_size(0), rung_size(1)):
            size, promotions = position, promotions + 1
            before = arms_of([t for t in study.trials if t.number < trial.number])
            finished = [a for a in before if a.finished(size)]
            top = sorted(finished, key=lambda a: (-a.best_of_first(size), a.index))[: len(finished) // ETA]
            assert arm.index in [a.index for a in top]
    assert promotions >= 3
    # a trial's rung says which part of its arm's trials it is
    for arm in arms:
        for position, trial in enumerate(arm.trials):
            expected = next(k for k in range(4) if position < rung_size(k))
            assert trial.system_attrs[STAGED_RUNG_ATTR] == expected


def _trial(number: int, values: dict, value: float | None, state=optuna.trial.TrialState.COMPLETE):
    trial = optuna.trial.create_trial(state=state, value=value, params={}, distributions={},
                                      system_attrs={STAGED_PRETRAIN_ATTR: values})
    trial.number = number
    return trial


def test_next_arm_fills_a_rung_then_promotes_the_best_then_starts_a_new_arm():
    a, b, c = {"m": 0.1}, {"m": 0.2}, {"m": 0.3}
    trials = [_trial(0, a, 0.5)]
    assert next_arm(arms_of(trials)).values == a  # rung 0 of arm a is not full
    trials.append(_trial(1, a, 0.6))
    assert next_arm(arms_of(trials)) is None  # one finished arm: nobody is in the top 1/3 yet: a new arm
    trials += [_trial(2, b, 0.9), _trial(3, b, 0.1), _trial(4, c, 0.2), _trial(5, c, 0.3)]
    assert next_arm(arms_of(trials)).values == b  # three arms finished rung 0; b (0.9) is the top third
    running = trials + [_trial(6, b, None, optuna.trial.TrialState.RUNNING)]
    assert next_arm(arms_of(running)).values == b  # b fills rung 1 up to rung_size(1)
    assert isinstance(arms_of(running)[1], Arm) and arms_of(running)[1].rung == 1


def test_an_arm_whose_trials_were_pruned_is_scored_by_their_last_reported_values():
    """A pruned trial counts with the value Optuna recorded for it (its last intermediate value):
    an arm whose curves were all stopped early is still ranked, promoted and seen by the outer TPE."""
    a, b, c = {"m": 0.1}, {"m": 0.2}, {"m": 0.3}
    pruned, failed = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL
    trials = [_trial(0, a, 0.5), _trial(1, a, 0.6), _trial(2, b, 0.9, pruned), _trial(3, b, 0.85, pruned),
              _trial(4, c, 0.2), _trial(5, c, None, failed)]
    arms = arms_of(trials)
    assert [arm.best for arm in arms] == [0.6, 0.9, 0.2]  # a failed trial shows nothing
    assert next_arm(arms).values == b  # b's pruned curves reached 0.9: b is the top third of rung 0


def test_a_resumed_study_rebuilds_the_plan_from_the_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'staged.db'}"
    study, space = _staged_study(storage)
    _run(study, MIN_TRIALS + 1, space)  # arm 0 full, arm 1 has one trial
    assert [t.system_attrs[STAGED_ARM_ATTR] for t in study.trials] == [0, 0, 1]
    resumed, _ = _staged_study(storage)  # a new process: a new sampler with nothing in memory
    _run(resumed, 1, space)
    last = resumed.trials[-1]
    assert last.system_attrs[STAGED_ARM_ATTR] == 1
    assert {n: last.params[n] for n in last.system_attrs[STAGED_PRETRAIN_ATTR]} == \
        {n: resumed.trials[2].params[n] for n in last.system_attrs[STAGED_PRETRAIN_ATTR]}


def test_staged_needs_a_space_that_suggests_pretraining_fields():
    with pytest.raises(ConfigError, match="--sampler staged needs a search space that suggests pre-training"):
        StagedSampler(get_space("maskcae", "finetune"), PRETRAINING)
    with pytest.raises(ConfigError, match="does not pre-train, so --sampler staged"):
        StagedSampler(get_space("supervised"), stage_names(get_method("supervised").Params, PRETRAIN))


def test_a_staged_search_of_a_method_without_pretraining_is_a_one_line_error_before_anything_is_recorded(workdir):
    from typer.testing import CliRunner

    from automl_har.cli.main import app

    result = CliRunner().invoke(app, ["search", "--method", "supervised", "--dataset", "synthetic", "--sampler",
                                      "staged", "--trials", "2", "--workdir", str(workdir)])
    assert result.exit_code == 2
    assert "error: method 'supervised' does not pre-train" in result.output
    assert not workdir.exists()


def test_a_staged_search_pretrains_once_per_arm_and_tags_each_trial(tmp_path):
    from automl_har.engines import SearchSpec
    from automl_har.engines.optuna import search
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.workspace import Workspace

    experiment = ExperimentSpec(method="maskcae", dataset="synthetic", window=WindowOptions(window_s=2.0, rate_hz=25.0),
                                protocol=Protocol(labels_per_class=5, repeats=1), budget=1.0, device="cpu")
    tiny = dict(get_method("maskcae").tiny_params)
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(tmp_path), study_name="staged-e2e",
                      n_trials=5, sampler="staged", pruner="none", fixed_params=tiny)
    result = search(spec)
    assert result.n_finished == 5
    tags = _run_tags(spec, result.parent_run_id)
    arms = [t["autohar.staged_arm"] for t in tags]
    assert arms[:MIN_TRIALS] == ["0"] * MIN_TRIALS
    misses = [t for t in tags if t["autohar.cache.maskcae_pretrain"] == "miss"]
    assert len(misses) == len(set(arms))  # one pre-training per arm, every other trial a cache hit
    keys = {t["autohar.staged_arm"]: t["autohar.cache_key.maskcae_pretrain"] for t in tags}
    assert len(set(keys.values())) == len(keys)  # each arm its own stage cache entry
    resumed = search(SearchSpec(**{**spec.__dict__, "n_trials": 7}))  # resume: the plan goes on from the storage
    assert resumed.n_finished == 7 and len(_run_tags(spec, result.parent_run_id)) == 7


def _run_tags(spec, parent_run_id: str) -> list[dict]:
    """The MLflow tags of every trial's run, in trial order; each run is nested under the parent."""
    from mlflow.tracking import MlflowClient

    from automl_har.attrs import TRIAL_RUN_ATTR
    from automl_har.storage import open_storage

    study = optuna.load_study(study_name=spec.resolved_study_name, storage=open_storage(spec.storage_url))
    client = MlflowClient(spec.resolved_tracking_uri)
    tags = [client.get_run(t.user_attrs[TRIAL_RUN_ATTR]).data.tags for t in study.trials]
    assert all(t["mlflow.parentRunId"] == parent_run_id for t in tags)
    return tags


def test_staged_is_single_objective():
    from automl_har.engines import SearchSpec
    from automl_har.objectives import ExperimentSpec
    from automl_har.workspace import Workspace

    with pytest.raises(ConfigError, match="one objective only"):
        SearchSpec(experiment=ExperimentSpec(method="maskcae", dataset="synthetic"), workspace=Workspace.resolve("w"),
                   sampler="staged", objectives=("f1", "latency"))


def test_fidelity_epochs_pretrains_rung_zero_briefly_and_a_promoted_arm_continues_its_pretraining(tmp_path):
    from automl_har.engines import SearchSpec
    from automl_har.engines.optuna import search
    from automl_har.engines.staged import RUNG_FRACTIONS
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.workspace import Workspace

    experiment = ExperimentSpec(method="maskcae", dataset="synthetic", window=WindowOptions(window_s=2.0, rate_hz=25.0),
                                protocol=Protocol(labels_per_class=5, repeats=1), budget=1.0, device="cpu")
    tiny = {**get_method("maskcae").tiny_params, "pretrain_epochs": 9}  # rung 0: 1 epoch, rung 1: 3
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(tmp_path), study_name="staged-epochs",
                      n_trials=3 * MIN_TRIALS + 1, sampler="staged", pruner="none", fixed_params=tiny,
                      fidelity="epochs")
    result = search(spec)
    tags = _run_tags(spec, result.parent_run_id)
    first_rungs = tags[: 3 * MIN_TRIALS]
    assert {t["autohar.pretrain_fraction"] for t in first_rungs} == {f"{RUNG_FRACTIONS[0]:.4g}"}
    promoted = tags[-1]
    assert promoted["autohar.staged_rung"] == "1" and promoted["autohar.pretrain_fraction"] == f"{RUNG_FRACTIONS[1]:.4g}"
    assert promoted["autohar.cache.maskcae_pretrain"] == "miss"  # a longer pre-training: a new result ...
    assert promoted["autohar.pretrain.resumed_from_epoch"] == "1"  # ... continued from the rung-0 one's epoch 1


def test_fidelity_epochs_needs_the_staged_sampler():
    from automl_har.engines import SearchSpec
    from automl_har.objectives import ExperimentSpec
    from automl_har.workspace import Workspace

    with pytest.raises(ConfigError, match="add --sampler staged"):
        SearchSpec(experiment=ExperimentSpec(method="maskcae", dataset="synthetic"), workspace=Workspace.resolve("w"),
                   fidelity="epochs")


def _methods_that_pretrain() -> list[str]:
    from automl_har.methods import method_names

    return [m for m in method_names() if stage_names(get_method(m).Params, PRETRAIN)]


@pytest.mark.parametrize("method", _methods_that_pretrain())
def test_the_staged_sampler_plans_every_method_that_declares_stages(method):
    """No per-method code: each method's full space runs under the sampler, arm by arm."""
    space = get_space(method, "full")
    pretraining = stage_names(get_method(method).Params, PRETRAIN)
    study = optuna.create_study(direction="maximize", sampler=StagedSampler(space, pretraining, seed=1))
    study.enqueue_trial(space.first_trial())
    for number in range(12):
        trial = study.ask()
        params = space.params_of(trial)
        study.tell(trial, float(number % 5))  # any values: the plan, not the scores, is under test
        assert set(params) >= set(study.trials[-1].system_attrs[STAGED_PRETRAIN_ATTR])
    arms = arms_of(study.trials)
    assert 1 < len(arms) < 12
    for arm in arms:  # every trial of an arm holds the arm's pre-training values
        assert all({n: t.params[n] for n in arm.values} == arm.values for t in arm.trials)
