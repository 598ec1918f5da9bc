"""One search space per method: ``space(trial) -> dict``, ``DEFAULTS`` and optional ``GRID``.

Spaces are define-by-run, so conditional parameters are natural. ``DEFAULTS`` (the paper's
values) is enqueued as trial 0; ``GRID`` lists the points ``--sampler grid`` walks through,
every other parameter staying at ``DEFAULTS`` (see :class:`GridTrial`). A module may also
offer named variants (``VARIANTS = {"finetune": space_finetune, "full": space}``, chosen with
``--space``); ``space`` itself is the variant ``default``.
"""

from __future__ import annotations

import importlib
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

from automl_har.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class SearchSpace:
    method: str
    space: Callable[[Any], dict]
    defaults: dict
    grid: dict = field(default_factory=dict)

    def grid_size(self) -> int:
        return len(list(itertools.product(*self.grid.values()))) if self.grid else 0


def get_space(method: str, variant: str = "default") -> SearchSpace:
    """The search space of a registered method (module ``search_spaces/<method>.py``)."""
    from automl_har.methods import method_names

    if method not in method_names():
        raise UnknownNameError("method", method, method_names())
    try:
        module = importlib.import_module(f"automl_har.search_spaces.{method.replace('-', '_')}")
    except ModuleNotFoundError as err:
        raise ConfigError(f"method {method!r} has no search space module search_spaces/{method}.py") from err
    variants = {"default": module.space, **getattr(module, "VARIANTS", {})}
    if variant not in variants:
        raise UnknownNameError(f"search space of {method!r}", variant, variants)
    return SearchSpace(method, variants[variant], dict(module.DEFAULTS), dict(getattr(module, "GRID", {})))


class GridTrial:
    """A trial proxy for grid search: names in the grid are suggested by the real trial
    (the :class:`optuna.samplers.GridSampler` picks them); every other name gets its DEFAULTS value.
    """

    def __init__(self, trial, grid: dict, defaults: dict) -> None:
        self._trial, self._grid, self._defaults = trial, grid, defaults

    def _suggest(self, kind: str, name: str, *args, **kwargs):
        if name in self._grid:
            return getattr(self._trial, kind)(name, *args, **kwargs)
        if name not in self._defaults:
            raise ConfigError(f"grid search needs a DEFAULTS value for {name!r}; add it to the space's DEFAULTS")
        return self._defaults[name]

    def suggest_float(self, name, *args, **kwargs):
        return self._suggest("suggest_float", name, *args, **kwargs)

    def suggest_int(self, name, *args, **kwargs):
        return self._suggest("suggest_int", name, *args, **kwargs)

    def suggest_categorical(self, name, *args, **kwargs):
        return self._suggest("suggest_categorical", name, *args, **kwargs)

    def __getattr__(self, attr):  # number, report, set_user_attr ... come from the real trial
        return getattr(self._trial, attr)
