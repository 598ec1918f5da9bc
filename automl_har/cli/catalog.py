"""``autohar datasets`` and ``autohar methods``: what can be searched, and where data is looked for.

Both read the static catalog (``automl_har/catalog.py``), so they answer without importing
torch, a method or a dataset loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from automl_har.cli._common import exit_on_user_error


@exit_on_user_error
def datasets(
    data_root: Optional[Path] = typer.Option(
        None, "--data-root", help="Folder holding one sub-folder per dataset (like $AUTOHAR_DATA)."
    ),
) -> None:
    """List the datasets, where each looks for its files, and whether they are found.

    Show every registered dataset with its modalities, rates, classes and data folder.
    """
    from automl_har.catalog import dataset_folders

    table = Table(title="autohar datasets")
    for column in ("name", "modalities", "rate (Hz)", "classes", "looks in", "found"):
        table.add_column(column, overflow="fold")
    for row in dataset_folders(data_root):
        card = row.card
        modalities = ", ".join(f"{m}({n})" for m, n in card.modalities.items()) or "from file"
        rates = ", ".join(sorted({f"{r:g}" for r in card.rates_hz.values()})) or "from file"
        found = "[green]yes[/]" if row.found else f"[red]no[/] ({row.detail})"
        name = card.name + (f" (:{', :'.join(card.variants)})" if card.variants else "")
        table.add_row(name, modalities, rates, str(card.n_classes or "from file"), row.looks_in, found)
    Console().print(table)


@exit_on_user_error
def methods() -> None:
    """List the methods with their tags and tunable hyperparameters.

    Show every registered method with its capability tags and searched hyperparameters.
    """
    from automl_har.catalog import METHODS

    table = Table(title="autohar methods")
    for column in ("name", "tags", "tunables (defaults)", "description"):
        table.add_column(column, overflow="fold")
    for name, card in sorted(METHODS.items()):
        tags = ", ".join(f"{k}={v}" for k, v in card.tags.items())
        tunables = ", ".join(f"{k}={v}" for k, v in card.defaults.items())
        table.add_row(name, tags, tunables, card.description)
    Console().print(table)
