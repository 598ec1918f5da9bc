"""The ``autohar`` command: one typer sub-app per command group."""

from __future__ import annotations

import typer

from automl_har.cli import catalog, search, studies, ui

app = typer.Typer(
    name="autohar",
    help="Hyperparameter search for few-label human activity recognition (Optuna + MLflow).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(search.app, name="search")
app.add_typer(catalog.datasets_app, name="datasets")
app.add_typer(catalog.methods_app, name="methods")
app.add_typer(studies.studies_app, name="studies")
app.add_typer(studies.show_app, name="show")
app.add_typer(ui.app, name="ui")

if __name__ == "__main__":  # pragma: no cover
    app()
