"""One search space per method: ``space(trial) -> dict`` and an optional ``GRID``.

Spaces are define-by-run, so conditional parameters are natural. What a module does not
write, :func:`get_space` derives from the stages declared on the method's ``Params`` fields
(:mod:`automl_har.methods._stages`):

- ``defaults`` (trial 0 of every study): the ``Params`` default of every name the variant
  suggests, each checked to lie in the range or choices the space suggests it from;
- the variant ``finetune`` (methods with pre-training fields): the module's ``space`` with every
  pre-training field pinned to its default, so every trial reuses one cached pre-training.

Variants: ``full`` (the module's ``space``), ``finetune`` (derived), any the module adds in
``VARIANTS``, and ``default``: the module's ``DEFAULT_VARIANT`` (``full`` unless it says
otherwise). ``GRID`` lists the points ``--sampler grid`` walks through, every other parameter
staying at ``defaults`` (see :class:`GridTrial`); ``VARIANT_GRIDS`` gives a variant its own grid.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from automl_har.errors import ConfigError, UnknownNameError

#: protocol values a grid may set per trial (the ``paper`` grid of ``combined`` walks the label
#: ratio): not hyperparameters, so they have no default and are applied to the trial's protocol
#: (:func:`automl_har.objectives._trial.split_protocol_params`)
PROTOCOL_PARAMS = ("label_ratio",)


@dataclass(frozen=True)
class SearchSpace:
    """A method's define-by-run ``space``, the defaults of what it suggests, its grid and every
    ``Params`` default (``method_defaults``: what a conditional branch not taken by the defaults
    suggests, e.g. DeepConvLSTM's dropout when ``--param architecture=deepconvlstm``)."""

    method: str
    space: Callable[[Any], dict]
    defaults: dict
    grid: dict = field(default_factory=dict)
    method_defaults: dict = field(default_factory=dict)

    def grid_size(self) -> int:
        return len(list(itertools.product(*self.grid.values()))) if self.grid else 0

    def params_of(self, trial: Any, fixed: Mapping[str, Any] | None = None, grid: bool = False) -> dict:
        """The hyperparameters of ``trial``: ``fixed`` (``--param``) pinned, so the space's
        conditional branches follow them; with ``grid``, the grid's names from the grid sampler and
        every other name at its default."""
        fixed = dict(fixed or {})
        view = GridTrial(trial, self.grid, {**self.method_defaults, **self.defaults}) if grid else trial
        return {**self.space(PinnedTrial(view, fixed) if fixed else view), **fixed}

    def first_trial(self) -> dict:
        """Trial 0's values: the paper's defaults, for whichever branch ``--param`` values select."""
        return {**self.method_defaults, **self.defaults}

    def described(self, fixed: Mapping[str, Any] | None = None) -> dict[str, tuple[str, Any]]:
        """``{name: (where it is suggested from, trial 0's value)}`` for every name the space suggests
        on trial 0's branch (``fixed``: the ``--param`` values, shown as ``fixed``), e.g.
        ``{"lr": ("float [1e-05, 0.01] log", 0.001)}``."""
        fixed = dict(fixed or {})
        trial = _DefaultsTrial(self.method, self.first_trial(), {})
        values = self.space(PinnedTrial(trial, fixed) if fixed else trial)
        described = dict(trial.suggested_from)
        described.update({name: ("fixed (--param)", value) for name, value in fixed.items() if name in values})
        return {name: (where, values.get(name, fixed.get(name))) for name, (where, _) in described.items()}


def get_space(method: str, variant: str = "default", grid_subset: Mapping[str, Sequence[Any]] | None = None) -> SearchSpace:
    """The search space variant ``variant`` of a registered method (module ``search_spaces/<method>.py``);
    ``grid_subset`` narrows the values some of the variant's grid names walk (``autohar lodo --ratios``)."""
    from automl_har.methods import PRETRAIN, get_method, method_names, paper_defaults, stage_names

    if method not in method_names():
        raise UnknownNameError("method", method, method_names())
    try:
        module = importlib.import_module(f"automl_har.search_spaces.{method.replace('-', '_')}")
    except ModuleNotFoundError as err:
        raise ConfigError(f"method {method!r} has no search space module search_spaces/{method}.py") from err
    params_cls = get_method(method).Params
    defaults = paper_defaults(params_cls)
    variants: dict[str, Callable[[Any], dict]] = {"full": module.space}
    pretraining = stage_names(params_cls, PRETRAIN)
    if pretraining:
        variants["finetune"] = pinned_space(module.space, {name: defaults[name] for name in pretraining})
    variants.update(getattr(module, "VARIANTS", {}))
    variants["default"] = variants[getattr(module, "DEFAULT_VARIANT", "full")]
    if variant not in variants:
        raise UnknownNameError(f"search space of {method!r}", variant, variants)
    chosen = variants[variant]
    # a variant may walk its own grid (VARIANT_GRIDS, e.g. MESEN's ablation); else the module's GRID
    grid = dict(getattr(module, "VARIANT_GRIDS", {}).get(variant, getattr(module, "GRID", {})))
    for name, values in (grid_subset or {}).items():
        if name not in grid:
            raise ConfigError(f"the grid of {method!r} (--space {variant}) does not walk {name!r}; it walks "
                              f"{', '.join(grid) or 'nothing'}")
        outside = [v for v in values if v not in grid[name]]
        if outside or not values:
            raise ConfigError(f"{name}={outside[0] if outside else '(none)'} is not a point of the grid of {method!r} "
                              f"(--space {variant}); choose from {grid[name]}")
        grid[name] = list(values)
    return SearchSpace(method, chosen, suggested_defaults(method, chosen, defaults, declared_ranges(params_cls)),
                       grid, dict(defaults))


def pinned_space(space: Callable[[Any], dict], pinned: Mapping[str, Any]) -> Callable[[Any], dict]:
    """``space`` with the names in ``pinned`` fixed: they are returned (so MLflow shows them) but
    never suggested to the sampler."""

    def pinned_variant(trial: Any) -> dict:
        return space(PinnedTrial(trial, pinned))

    pinned_variant.__doc__ = f"{space.__name__} with {', '.join(pinned)} fixed"
    return pinned_variant


def declared_ranges(params_cls: type) -> dict[str, Any]:
    """``{name: Range | OneOf | None}``: what each ``Params`` field declares it accepts."""
    from automl_har.methods import declared_valid

    return {f.name: declared_valid(f) for f in dataclasses.fields(params_cls)}


def suggested_defaults(method: str, space: Callable[[Any], dict], defaults: Mapping[str, Any],
                       declared: Mapping[str, Any] | None = None) -> dict:
    """``{name: defaults[name]}`` for every name ``space`` suggests when each suggestion returns its
    default; a ConfigError when a default lies outside the range the space suggests it from, or
    when the space suggests from outside what the ``Params`` field declares valid (``declared``)."""
    trial = _DefaultsTrial(method, defaults, declared or {})
    space(trial)
    return trial.suggested


class _ProxyTrial:
    """Answers some suggestions itself (:meth:`_answer` returns a value) and passes the rest to
    the real trial; anything else (``number``, ``report``, ``set_user_attr``) comes from it."""

    def __init__(self, trial: Any) -> None:
        self._trial = trial

    def _answer(self, name: str) -> tuple[bool, Any]:
        raise NotImplementedError

    def _suggest(self, kind: str, name: str, *args, **kwargs):
        answered, value = self._answer(name)
        return value if answered else getattr(self._trial, kind)(name, *args, **kwargs)

    def suggest_float(self, name, *args, **kwargs):
        return self._suggest("suggest_float", name, *args, **kwargs)

    def suggest_int(self, name, *args, **kwargs):
        return self._suggest("suggest_int", name, *args, **kwargs)

    def suggest_categorical(self, name, *args, **kwargs):
        return self._suggest("suggest_categorical", name, *args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._trial, attr)


class PinnedTrial(_ProxyTrial):
    """A trial whose names in ``pinned`` are fixed values; every other name is suggested."""

    def __init__(self, trial: Any, pinned: Mapping[str, Any]) -> None:
        super().__init__(trial)
        self._pinned = dict(pinned)

    def _answer(self, name: str) -> tuple[bool, Any]:
        return (True, self._pinned[name]) if name in self._pinned else (False, None)


class PrefixedTrial(_ProxyTrial):
    """A trial whose suggestions are stored under ``prefix + name`` (a method's trial in a study over
    several methods, whose spaces share names with different ranges; :mod:`automl_har.selection`)."""

    def __init__(self, trial: Any, prefix: str) -> None:
        super().__init__(trial)
        self._prefix = prefix

    def _suggest(self, kind: str, name: str, *args, **kwargs):
        return getattr(self._trial, kind)(self._prefix + name, *args, **kwargs)


class GridTrial(_ProxyTrial):
    """A trial proxy for grid search: names in the grid are suggested by the real trial
    (the :class:`optuna.samplers.GridSampler` picks them); every other name gets its defaults value.
    """

    def __init__(self, trial, grid: dict, defaults: dict) -> None:
        super().__init__(trial)
        self._grid, self._defaults = grid, defaults

    def _answer(self, name: str) -> tuple[bool, Any]:
        if name in self._grid:
            return False, None
        if name not in self._defaults:
            raise ConfigError(f"grid search needs a default value for {name!r}; give its Params field a default")
        return True, self._defaults[name]


class _ProtocolParam(Exception):
    """Raised inside :class:`_DefaultsTrial` for a name of :data:`PROTOCOL_PARAMS`."""


class _DefaultsTrial:
    """Answers every suggestion with the name's default, after checking that the default lies in
    the suggested range (or choices); records what was suggested."""

    def __init__(self, method: str, defaults: Mapping[str, Any], declared: Mapping[str, Any]) -> None:
        self._method, self._defaults, self._declared, self.suggested = method, defaults, declared, {}
        #: name -> (where it is suggested from, in words; its default)
        self.suggested_from: dict[str, tuple[str, Any]] = {}

    def _check_declared(self, name: str, where: str, inside: Callable[[Any], bool]) -> None:
        valid = self._declared.get(name)
        if valid is not None and not inside(valid):
            raise ConfigError(f"the search space of {self._method!r} suggests {name!r} from {where}, outside what its "
                              f"Params field declares valid ({valid}); narrow the space or widen the declaration")

    def _default(self, name: str) -> Any:
        if name in PROTOCOL_PARAMS:
            raise _ProtocolParam(name)
        if name not in self._defaults:
            raise ConfigError(f"the search space of {self._method!r} suggests {name!r}, which is not a hyperparameter "
                              f"of the method; suggest only Params fields")
        self.suggested[name] = self._defaults[name]
        return self._defaults[name]

    def _outside(self, name: str, where: str) -> ConfigError:
        return ConfigError(f"the search space of {self._method!r} suggests {name!r} from {where}, but the paper's "
                           f"default {self._defaults[name]!r} is not in it; widen the range or fix the default")

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False):
        value = self._default(name)
        self.suggested_from[name] = (f"float [{low:g}, {high:g}]" + (" log" if log else "") + (f" step {step:g}" if step else ""), value)
        self._check_declared(name, f"[{low}, {high}]", lambda valid: valid.contains_interval(low, high))
        on_grid = step is None or math.isclose((value - low) / step, round((value - low) / step), abs_tol=1e-6)
        if not (low <= value <= high or math.isclose(value, low) or math.isclose(value, high)) or not on_grid:
            raise self._outside(name, f"[{low}, {high}]" + (f" in steps of {step}" if step else ""))
        return value

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False):
        value = self._default(name)
        self.suggested_from[name] = (f"int [{low}, {high}]" + (" log" if log else "") + (f" step {step}" if step != 1 else ""), value)
        self._check_declared(name, f"[{low}, {high}]", lambda valid: valid.contains_interval(low, high))
        if not low <= value <= high or (value - low) % step:
            raise self._outside(name, f"[{low}, {high}] in steps of {step}")
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]):
        try:
            value = self._default(name)
        except _ProtocolParam:  # a protocol value: no hyperparameter default; any choice will do
            return choices[0]
        self.suggested_from[name] = ("one of " + ", ".join(str(c) for c in choices), value)
        if value not in choices:
            raise self._outside(name, f"the choices {list(choices)}")
        self._check_declared(name, f"the choices {list(choices)}",
                             lambda valid: all(valid.contains(choice) for choice in choices if choice is not None))
        return value

    def __getattr__(self, attr):
        raise ConfigError(f"the search space of {self._method!r} uses trial.{attr} while its defaults are read; "
                          "a space may only call suggest_float, suggest_int and suggest_categorical")
