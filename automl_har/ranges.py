"""The valid values of every number autohar takes, declared once: a method's hyperparameters on
their ``Params`` fields, and the experiment's own fields (labels per class, trials, budget ...) in
the experiment schema (:mod:`automl_har.config.schema`), both with the same declarations.

A field is declared with its stage and, beside it, what values the method can run with::

    dropout: float = finetuning(0.1, fraction)            # [0, 1)
    depth: int = finetuning(3, at_least(1))
    encoder: str = pretraining("paper", one_of("paper", "cosmo"))

From that one declaration:

- :meth:`Method.parse_params <automl_har.methods._base.Method.parse_params>` rejects a value
  outside it (``--param dropout=1.5``, a trial 0, a stored configuration) with a one-line
  ConfigError, before anything runs or is recorded;
- :func:`automl_har.search_spaces.get_space` rejects a search space that suggests from outside it;
- the shared method suite checks that every sampled trial of every space lies inside it;
- the experiment schema checks its fields with :meth:`Range.contains` / :meth:`OneOf.contains` and
  says ``protocol.labels_per_class: must be >= 1, but got 0``.

A declaration says what the *code* accepts (a dropout of 0.9 trains), not what the paper searched
(the search space says that). Relations between fields (``noverlap_delta < nfft``) stay in the
``Params``' ``__post_init__``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: the field metadata key of a declaration
VALID_KEY = "valid"


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (None: unbounded), each end closed unless marked open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def contains_interval(self, low: float, high: float) -> bool:
        """Whether every value in ``[low, high]`` (a search space's suggestion range) is valid."""
        return self.contains(low) and self.contains(high)

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return "any number"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (names, or numbers such as kernel sizes)."""

    choices: tuple

    def contains(self, value: Any) -> bool:
        return any(value == choice and isinstance(value, bool) == isinstance(choice, bool) for choice in self.choices)

    def contains_interval(self, low: float, high: float) -> bool:
        return False  # a suggest_float/suggest_int range over a set of choices: declare a Range instead

    def __str__(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)


def _number(value: float) -> str:
    return f"{value:g}"


def one_of(*choices: Any) -> OneOf:
    return OneOf(tuple(choices))


def at_least(low: float) -> Range:
    return Range(low=low)


def at_most(high: float) -> Range:
    return Range(high=high)


def between(low: float, high: float) -> Range:
    """``[low, high]``, both ends valid."""
    return Range(low, high)


#: strictly positive (learning rates, temperatures, widths of a float kind)
positive = Range(low=0, low_open=True)
#: zero or more (weight decays, loss weights, patience)
non_negative = Range(low=0)
#: a share that may be zero but never whole: dropouts, mask ratios, warm-up fractions, ``[0, 1)``
fraction = Range(0, 1, high_open=True)
#: a probability or weight in ``[0, 1]``
unit_interval = Range(0, 1)


def declared_valid(field: Any) -> Range | OneOf | None:
    """The declaration of a dataclass field (None: the field declares none: a free-form text or a
    switch, checked by its type only)."""
    return field.metadata.get(VALID_KEY)


def invalid_value_message(method: str, name: str, value: Any, valid: Range | OneOf, default: Any) -> str:
    """The one-line error of a value outside its declaration, with the paper's default as the fix."""
    return (f"hyperparameter {name!r} of method {method!r} must be {valid}, but got {name}={value!r}; "
            f"e.g. --param {name}={default} (the paper's default)")
