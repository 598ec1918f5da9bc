"""The ``autohar`` command: one typer sub-app per command group."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from automl_har.cli import catalog, export, pretrain, reproduce, search, studies, ui, verify, worker


class OneLineErrors(TyperGroup):
    """Usage errors (unknown choice, out-of-range option) as one ``error: …`` line, exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as err:  # click's UsageError, BadParameter, ...
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"error: {err.format_message()}{hint}", err=True)
            sys.exit(err.exit_code)
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    name="autohar",
    cls=OneLineErrors,
    help="Hyperparameter search for few-label human activity recognition (Optuna + MLflow).",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _show_help_without_a_command(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


app.add_typer(search.app, name="search")
app.add_typer(catalog.datasets_app, name="datasets")
app.add_typer(catalog.methods_app, name="methods")
app.add_typer(studies.studies_app, name="studies")
app.command("show")(studies.show)  # takes a STUDY argument, so a command, not a group
app.add_typer(ui.app, name="ui")
app.add_typer(worker.app, name="worker")
app.add_typer(pretrain.app, name="pretrain")
app.command("export")(export.export)  # commands, not groups: they take positional arguments
app.command("predict")(export.predict)
app.command("train")(export.train)
app.command("verify")(verify.verify)
app.command("reproduce")(reproduce.reproduce)

if __name__ == "__main__":  # pragma: no cover
    app()
