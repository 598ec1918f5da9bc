"""Search spaces: DEFAULTS are a point of the space, every sampled point is valid, grid proxy."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.methods import get_method, method_names
from automl_har.search_spaces import GridTrial, get_space


@pytest.mark.parametrize("name", method_names())
def test_defaults_are_a_point_of_the_space(name):
    space = get_space(name)
    assert space.space(FixedTrial(space.defaults)) == space.defaults


@pytest.mark.parametrize("name", method_names())
def test_sampled_points_are_valid_hyperparameters(name):
    space, method = get_space(name), get_method(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        method.parse_params(space.space(trial))
        study.tell(trial, 0.0)


@pytest.mark.parametrize("name", method_names())
def test_grid_points_keep_everything_else_at_defaults(name):
    space = get_space(name)
    if not space.grid:
        pytest.skip(f"{name} defines no GRID")
    point = {k: v[-1] for k, v in space.grid.items()}
    params = space.space(GridTrial(FixedTrial(point), space.grid, space.defaults))
    assert params == {**space.defaults, **point}


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
    with pytest.raises(ConfigError, match="DEFAULTS value for 'lr'"):
        GridTrial(FixedTrial({}), {}, {}).suggest_float("lr", 1e-4, 1e-2)


def test_unknown_space_variant_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown search space of 'supervised' 'wide'; choose one of default"):
        get_space("supervised", "wide")
