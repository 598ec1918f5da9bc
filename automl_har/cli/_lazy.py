"""Commands whose module is imported only when they run, so that ``autohar --help`` is instant.

A :class:`LazyCommand` knows its name, where its typer object lives (``"module:attribute"``,
a :class:`typer.Typer` sub-app or a command function) and the one-line help that
``autohar --help`` lists. Running it (or asking for its own ``--help``) imports the module and
hands over to the real command, built exactly as ``app.add_typer`` / ``app.command`` would.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup


class LazyCommand(typer.core.TyperCommand):
    """A placeholder listed in the parent's help; it becomes the real command when invoked.

    Args:
        name: the command name (``autohar NAME``).
        target: ``"package.module:attribute"``; the attribute is a ``typer.Typer`` sub-app
            (a command group) or a function (a command, e.g. one taking positional arguments).
        summary: the line ``autohar --help`` shows; ``tests/cli/test_startup.py`` checks that it
            is the first paragraph of the real command's help.
    """

    def __init__(self, name: str, target: str, summary: str) -> None:
        super().__init__(name=name, help=summary, callback=None)
        self.target = target

    def load(self) -> typer.core.TyperCommand | TyperGroup:
        """Import the module and build the click command ``app.add_typer`` / ``app.command`` would.

        Built anew on every call (milliseconds once the module is imported), as typer builds
        its commands anew on every ``app()``, so that what a test patches is what runs.
        """
        module, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module), attribute)
        holder = typer.Typer(pretty_exceptions_enable=False)
        if isinstance(obj, typer.Typer):
            holder.add_typer(obj, name=self.name)
        else:
            holder.command(self.name)(obj)
        return typer.main.get_group(holder).commands[self.name]

    def make_context(self, info_name, args, parent=None, **extra):  # the group invokes the command it returns
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def shell_complete(self, ctx, incomplete):
        return self.load().shell_complete(ctx, incomplete)


class LazyCommandGroup(TyperGroup):
    """A typer group whose subclasses list their :class:`LazyCommand` s in ``lazy_commands``."""

    lazy_commands: tuple[LazyCommand, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for command in self.lazy_commands:
            self.add_command(command)
