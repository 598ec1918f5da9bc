"""Search spaces: defaults are the Params defaults and a point of the space, every sampled point is
valid, the grid proxy, and the fine-tune-only variants derived from the declared stages."""

from __future__ import annotations

import importlib

import optuna
import pytest
from optuna.trial import FixedTrial

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.methods import FINETUNE, PRETRAIN, get_method, method_names, paper_defaults, stage_names
from automl_har.methods._stages import stage_of
from automl_har.search_spaces import PROTOCOL_PARAMS, GridTrial, get_space, suggested_defaults


@pytest.mark.parametrize("name", method_names())
def test_defaults_are_the_params_defaults_and_a_point_of_the_space(name):
    space, paper = get_space(name), paper_defaults(get_method(name).Params)
    assert space.defaults and space.defaults == {k: paper[k] for k in space.defaults}
    returned = space.space(FixedTrial(space.defaults))
    assert returned == {k: paper[k] for k in returned}  # trial 0 runs the paper's values


@pytest.mark.parametrize("name", method_names())
def test_every_hyperparameter_declares_its_stage(name):
    params_cls = get_method(name).Params
    for field_name in paper_defaults(params_cls):
        assert stage_of(params_cls, field_name) in (PRETRAIN, FINETUNE)


@pytest.mark.parametrize("name", [n for n in method_names() if stage_names(get_method(n).Params, PRETRAIN)])
def test_finetune_variant_suggests_no_pretraining_field_and_pins_them_at_defaults(name):
    params_cls = get_method(name).Params
    pretraining, paper = set(stage_names(params_cls, PRETRAIN)), paper_defaults(params_cls)
    variant, full = get_space(name, "finetune"), get_space(name, "full")
    assert set(full.defaults) & pretraining, f"{name}'s full space searches no pre-training field"
    assert set(variant.defaults) == set(full.defaults) - pretraining
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    for _ in range(10):
        trial = study.ask()
        point = variant.space(trial)
        study.tell(trial, 0.0)
        assert not set(trial.params) & pretraining
        assert {k: v for k, v in point.items() if k in pretraining} == {k: paper[k] for k in point if k in pretraining}


def test_a_default_outside_the_searched_range_is_a_clear_error():
    def space(trial):
        return {"lr": trial.suggest_float("lr", 1e-2, 1e-1, log=True)}

    with pytest.raises(ConfigError, match=r"suggests 'lr' from \[0.01, 0.1\], but the paper's default 0.001 is not in it"):
        suggested_defaults("supervised", space, {"lr": 1e-3})
    with pytest.raises(ConfigError, match="suggests 'width', which is not a hyperparameter"):
        suggested_defaults("supervised", lambda t: {"w": t.suggest_int("width", 1, 4)}, {"lr": 1e-3})


@pytest.mark.parametrize("name", method_names())
def test_sampled_points_are_valid_hyperparameters(name):
    space, method = get_space(name), get_method(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        method.parse_params(space.space(trial))
        study.tell(trial, 0.0)


#: every (method, variant) that may have a grid: each method's default space and its VARIANT_GRIDS
GRIDDED = [(name, "default") for name in method_names()] + [
    (name, variant) for name in method_names()
    for variant in getattr(importlib.import_module(f"automl_har.search_spaces.{name}"), "VARIANT_GRIDS", {})]


@pytest.mark.parametrize(("name", "variant"), GRIDDED)
def test_grid_points_keep_everything_else_at_defaults(name, variant):
    space = get_space(name, variant)
    if not space.grid:
        pytest.skip(f"{name} defines no GRID for its {variant} space")
    point = {k: v[-1] for k, v in space.grid.items()}
    params = space.space(GridTrial(FixedTrial(point), space.grid, space.defaults))
    paper = paper_defaults(get_method(name).Params)
    hyperparameters = [k for k in params if k not in PROTOCOL_PARAMS]  # the protocol's values have no default
    assert params == {**{k: paper[k] for k in hyperparameters}, **point}


def test_supervised_space_bounds():
    params = get_space("supervised").space(FixedTrial({
        "depth": 4, "width": 48, "kernel_size": 9, "dropout": 0.5, "lr": 1e-2, "weight_decay": 1e-6, "batch_size": 8,
    }))
    assert params["depth"] == 4 and params["lr"] == 1e-2
    with pytest.warns(UserWarning, match="out of the range"):  # FixedTrial warns outside the range
        get_space("supervised").space(FixedTrial({**get_space("supervised").defaults, "depth": 9}))


def test_unknown_method_space():
    with pytest.raises(UnknownNameError, match="unknown method 'nope'"):
        get_space("nope")


def test_grid_trial_needs_defaults_for_names_outside_the_grid():
    with pytest.raises(ConfigError, match="default value for 'lr'"):
        GridTrial(FixedTrial({}), {}, {}).suggest_float("lr", 1e-4, 1e-2)


def test_unknown_space_variant_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown search space of 'supervised' 'wide'; choose one of default"):
        get_space("supervised", "wide")


def test_fixed_params_pin_the_conditional_branch_and_trial_zero_keeps_its_defaults():
    """``--param architecture=deepconvlstm`` on combined: the space follows the pinned value (DCL's
    dropout, no HART fields), and trial 0 gives that branch its paper default."""
    space = get_space("combined")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.first_trial())
    params = space.params_of(study.ask(), {"architecture": "deepconvlstm"})
    assert params["architecture"] == "deepconvlstm" and params["dcl_dropout"] == 0.5
    assert not any(name.startswith(("hart_", "mobilehart_", "ispl_")) for name in params)
    defaults = space.first_trial()  # every other name at the paper's default in trial 0
    assert all(params[name] == defaults[name] for name in params if name != "architecture")
    get_method("combined").parse_params(params)
