"""The one exception hierarchy of autohar.

Every message names the bad value and the fix, on one line, so the CLI can print it as is
and exit non-zero (see ``cli/main.py``).
"""

from __future__ import annotations


class AutoharError(Exception):
    """Base class of every error autohar raises on purpose."""

    exit_code = 1


class ConfigError(AutoharError, ValueError):
    """A name, option or hyperparameter value that autohar cannot use."""

    exit_code = 2


class UnknownNameError(ConfigError, KeyError):
    """An unknown method, dataset, sampler, pruner or modality name."""

    def __init__(self, kind: str, name: str, choices) -> None:
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(f"unknown {kind} {name!r}; choose one of {', '.join(self.choices)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class DataError(AutoharError):
    """A dataset that cannot be read: missing folder, missing or corrupt files, bad values."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset folder or one of its expected files does not exist."""


class DataFormatError(DataError, ValueError):
    """A file exists but its content is not in the expected format (shape, columns, NaNs)."""


class TrialSkipped(ConfigError):
    """A trial whose point is undefined or repeats another (a grid cell such as strategy Rd at
    label ratio 0: nothing to transfer); engines record it as pruned, with this reason."""


class SearchError(AutoharError):
    """A search that cannot go on, e.g. because its first trials all failed."""


class DependencyError(AutoharError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""
