"""Every table autohar prints, in one place: readable in an 80-column terminal, plain when piped,
JSON with ``--json``.

- ``--json``: one JSON object, ``{"title": ..., "rows": [{column key: raw value}]}``, values
  unformatted (numbers stay numbers), for scripts.
- stdout not a terminal (a pipe, a file): plain text, one line per row, columns aligned with
  spaces and never wrapped or cut, so ``grep``/``awk``/``column`` work on it.
- a terminal: a table, when every cell fits on one line in the terminal's width; else one block
  per row (``name: value`` pairs, wrapped between pairs only). A number is never split across
  lines, and nothing is cut.

Suggested commands go through :func:`print_command`, which never inserts a line break into them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: the spaces a rich table adds around and between cells (SIMPLE_HEAD box: one on each side)
_CELL_PADDING = 3


def format_value(value: Any) -> str:
    """A cell as text: ``-`` for nothing, counts as integers, small magnitudes (a weight decay of
    2.97e-06, a learning rate of 3e-05) in scientific notation, other floats with 4 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return str(int(value))  # parameter and MAC counts
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header, and how a value reads (default :func:`format_value`)."""

    key: str
    header: str = ""
    shown: Callable[[Any], str] = format_value

    @property
    def title(self) -> str:
        return self.header or self.key


def output_console(**options: Any) -> Console:
    """The console of a command's output: a terminal's wraps prose at its width (between words); a
    pipe or file gets lines as they are, never broken (``soft_wrap``)."""
    console = Console(**options)
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def print_table(title: str, columns: Sequence[Column], rows: Sequence[dict], *, as_json: bool = False,
                console: Console | None = None, extra: dict | None = None) -> None:
    """Print ``rows`` (dicts of raw values) as the module docstring says; ``extra``: more top-level
    JSON fields (e.g. the best trial), shown only with ``as_json``."""
    console = console or output_console()
    if as_json:
        payload = {"title": title, "rows": [{c.key: _plain(row.get(c.key)) for c in columns} for row in rows],
                   **(extra or {})}
        console.print_json(json.dumps(payload, default=str)) if console.is_terminal else \
            console.file.write(json.dumps(payload, default=str, indent=2) + "\n")
        return
    cells = [[c.shown(row.get(c.key)) for c in columns] for row in rows]
    if not console.is_terminal:
        _print_plain(console, title, [c.title for c in columns], cells)
    elif _fits(console.width, [c.title for c in columns], cells):
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for column, values in zip(columns, zip(*cells) if cells else [()] * len(columns)):
            numeric = all(_is_number(v) for v in values)
            table.add_column(column.title, no_wrap=True, justify="right" if numeric and values else "left")
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
    else:
        _print_blocks(console, title, [c.title for c in columns], cells)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def _fits(width: int, headers: list[str], cells: list[list[str]]) -> bool:
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    return sum(widths) + _CELL_PADDING * len(widths) <= width


def _print_plain(console: Console, title: str, headers: list[str], cells: list[list[str]]) -> None:
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    console.file.write("\n".join(lines) + "\n")


def _print_blocks(console: Console, title: str, headers: list[str], cells: list[list[str]]) -> None:
    """One block per row for a terminal too narrow for the table: its first cell, then the rest as
    ``header value`` pairs, packed into lines of the terminal's width and broken between pairs only."""
    console.print(Text(title, style="bold"))
    for row in cells:
        lines, line = [], f"{headers[0]} {row[0]}:"
        for header, cell in zip(headers[1:], row[1:]):
            pair = f"{header} {cell}"
            if len(line) + 2 + len(pair) > console.width and line.strip():
                lines.append(line)
                line = "   " + pair
            else:
                line += ("  " if line.endswith(":") or not line.strip() else " | ") + pair
        lines.append(line)
        for text in lines:
            console.print(text, soft_wrap=True, markup=False, highlight=False)


def print_command(console: Console, text: str) -> None:
    """A line holding a command to copy: printed with no line break inserted (a terminal may still
    wrap it on screen, but a copy gives the command whole)."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)
