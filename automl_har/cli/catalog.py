"""``autohar datasets`` and ``autohar methods``: what can be searched, and where data is looked for.

Both read the static catalog (``automl_har/catalog.py``), so they answer without importing
torch, a method or a dataset loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error
from automl_har.cli._tables import Column, print_table


@exit_on_user_error
def datasets(
    data_root: Optional[Path] = typer.Option(
        None, "--data-root", help="Folder holding one sub-folder per dataset (like $AUTOHAR_DATA)."
    ),
    as_json: bool = o.JsonOutput,
) -> None:
    """List the datasets, where each looks for its files, and whether they are found.

    Show every registered dataset with its modalities, rates, classes and data folder.

    Example: autohar datasets --data-root ~/har-data
    """
    from automl_har.catalog import dataset_folders

    rows = []
    for row in dataset_folders(data_root):
        card = row.card
        rows.append({"name": card.name, "variants": list(card.variants), "modalities": dict(card.modalities) or None,
                     "rates_hz": sorted({float(r) for r in card.rates_hz.values()}) or None,
                     "classes": card.n_classes or None, "looks_in": row.looks_in, "found": row.found,
                     "missing": None if row.found else row.detail})
    columns = [Column("name", shown=lambda name: name), Column("modalities", shown=_or_from_file),
               Column("rates_hz", "rate (Hz)", shown=lambda r: ", ".join(f"{v:g}" for v in r) if r else "from file"),
               Column("classes", shown=_or_from_file), Column("looks_in", "looks in"),
               Column("found", shown=lambda found: "yes" if found else "no")]
    if not as_json:  # a variant is a name of its own; what is missing reads beside "no"
        for row in rows:
            row["name"] += f" (:{', :'.join(row['variants'])})" if row["variants"] else ""
            row["found"] = "yes" if row["found"] else f"no ({row['missing']})"
        columns[-1] = Column("found")
    print_table("autohar datasets", columns, rows, as_json=as_json)


def _or_from_file(value) -> str:
    if not value:
        return "from file"
    return ", ".join(f"{m}({n})" for m, n in value.items()) if isinstance(value, dict) else str(value)


@exit_on_user_error
def methods(as_json: bool = o.JsonOutput) -> None:
    """List the methods with their tags and tunable hyperparameters.

    Show every registered method with its capability tags and searched hyperparameters.

    Example: autohar methods --json
    """
    from automl_har.catalog import METHODS

    rows = [{"name": name, "tags": dict(card.tags), "tunables": dict(card.defaults), "description": card.description}
            for name, card in sorted(METHODS.items())]
    print_table("autohar methods", [Column("name"), Column("tags"), Column("tunables", "tunables (defaults)"),
                                    Column("description")], rows, as_json=as_json)
