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


class RecordingError(AutoharError):
    """MLflow could not record: its tracking server does not answer, or its store or the workspace
    takes no more writes (a full disk). A search stops on it after telling Optuna what the trial
    did; a re-run resumes and records what MLflow missed (``engines/_tracked.py``)."""


class DependencyError(AutoharError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` to run."""


def plain(value):
    """``value`` as a message shows it: numpy scalars and arrays, also inside lists, tuples, sets and
    dicts, become Python numbers, strings and lists, so ``[np.int64(2)]`` reads ``[2]`` and
    ``np.float64(nan)`` reads ``nan`` (numpy 2 spells its type out in ``repr``). numpy is not imported
    here: every command imports this module."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(plain(v) for v in value)
    return value


def first_line(err: BaseException) -> str:
    """A library's reason for ``err`` on one line, to quote inside a one-line message: the first line
    of its text (pandas' parser messages end in newlines, SQLAlchemy's go on with links and SQL), its
    type name when it has none; a YAML syntax error gives its problem and where it is."""
    problem, mark = getattr(err, "problem", None), getattr(err, "problem_mark", None)
    if problem and mark is not None:  # yaml.MarkedYAMLError: the first line is only the context
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
