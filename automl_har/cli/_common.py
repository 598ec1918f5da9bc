"""Shared CLI pieces: one-line user errors, name enums, shared options."""

from __future__ import annotations

import functools
import signal
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import typer

from automl_har.errors import AutoharError, ConfigError


def exit_on_user_error(command):
    """Print an :class:`AutoharError` as one ``error: …`` line and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except AutoharError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper


@contextmanager
def kill_as_interrupt(signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)):
    """A ``kill`` (SIGTERM, e.g. a scheduler's) or a closed terminal (SIGHUP) stops the block as
    Ctrl-C does, with the signal's name as the reason: the running trial and its MLflow run are
    closed (FAIL / KILLED, not counted, so a re-run resumes), and so is the parent run."""

    def interrupt(signum, _frame) -> None:
        raise KeyboardInterrupt(f"terminated by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _names_enum(name: str, names: list[str]) -> type[Enum]:
    return Enum(name, {n.replace("-", "_"): n for n in names}, type=str)


def method_enum(auto: bool = False) -> type[Enum]:
    """The ``str`` Enum of method names for ``--method`` options, from the static catalog
    (importing the methods themselves would import torch); with ``auto``, also ``auto`` (search the method too)."""
    from automl_har.catalog import method_names

    return _names_enum("MethodName", [*method_names(), *(["auto"] if auto else [])])


def storage_urls(storage: str | None, workdir: Path | None) -> list[str]:
    """``--storage``, else the workspace's journal file and the SQLite file of earlier versions, if present."""
    from automl_har.workspace import Workspace

    if storage:
        return [storage]
    workspace = Workspace.resolve(workdir)
    urls = [workspace.optuna_storage_url] if workspace.journal_path.is_file() else []
    if workspace.legacy_sqlite_path.is_file():
        urls.append(workspace.legacy_sqlite_url)
    if not urls:
        raise ConfigError(f"no studies in {workspace.root} (no {workspace.journal_path.name}); run `autohar search` "
                          "first or pass --workdir / --storage")
    return urls
