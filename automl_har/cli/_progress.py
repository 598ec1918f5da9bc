"""Progress of a command's long steps, with elapsed time and an ETA, as ``autohar search`` shows
its trials: one bar per trial the command runs (``verify``: each configuration; ``reproduce``: each
target; ``export``/``train``: the re-training), advancing on its steps (a fold's pre-training, each
label draw). On stderr, so stdout stays the command's result; nothing with ``--quiet``.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class StepProgress:
    """``with StepProgress() as bars: hooks.progress = bars.update; bars.start("defaults"); run_trial(...)``."""

    def __init__(self, quiet: bool = False, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console or Console(stderr=True),
            disable=quiet, transient=False)
        self.task = None

    def __enter__(self) -> "StepProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def print(self, text: str) -> None:
        """A line above the bars (the bars stay at the bottom)."""
        self.progress.console.print(text)

    def start(self, label: str) -> None:
        """A new bar for the next trial, labelled ``label`` (its total is known at its first step)."""
        self.task = self.progress.add_task(label, total=None, step="starting")

    def update(self, done: int, total: int, what: str) -> None:
        """The ``TrialHooks.progress`` callback: ``done`` of ``total`` steps, the last one ``what``."""
        if self.task is None:
            self.start("trial")
        self.progress.update(self.task, completed=done, total=total, step=what)
