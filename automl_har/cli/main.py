"""The ``autohar`` command: one typer sub-app per command group, imported only when it runs.

To add a command, write its module under ``cli/`` (heavy imports inside the command function)
and add one line to :data:`COMMANDS`: the name, ``"module:attribute"`` (a function for a single
command; a ``typer.Typer`` sub-app only for a group of commands, such as ``studies``) and the line
``autohar --help`` shows. ``autohar --help`` then lists it without importing its module.
"""

from __future__ import annotations

import logging
import sys

import typer

from automl_har.cli._lazy import LazyCommand, LazyCommandGroup

#: every ``autohar`` command, in the order ``autohar --help`` lists them
COMMANDS = (
    LazyCommand("search", "automl_har.cli.search:search", "Run or resume a hyperparameter search."),
    LazyCommand("datasets", "automl_har.cli.catalog:datasets",
                "List the datasets, where each looks for its files, and whether they are found."),
    LazyCommand("methods", "automl_har.cli.catalog:methods",
                "List the methods with their tags and tunable hyperparameters."),
    LazyCommand("studies", "automl_har.cli.studies:studies_app",
                "List the studies in the storage; `autohar studies delete NAME` deletes one."),
    LazyCommand("show", "automl_har.cli.studies:show",
                "Show one study: its trial table, the best params and the best trial's test metrics."),
    LazyCommand("ui", "automl_har.cli.ui:ui",
                "Open the MLflow UI on the runs of a workspace (local only, Ctrl-C to stop)."),
    LazyCommand("lodo", "automl_har.cli.lodo:lodo",
                "Leave-one-dataset-out: one grid study per target of the pool; prints the paper's table."),
    LazyCommand("worker", "automl_har.cli.worker:worker",
                "Join a study started by `autohar search` and run its trials until it has them all."),
    LazyCommand("pretrain", "automl_har.cli.pretrain:pretrain",
                "Pre-train a method's encoder (e.g. img2imu: MoCo on images) and save the checkpoint."),
    LazyCommand("export", "automl_har.cli.export:export",
                "Write autohar.yaml, model.pt / model.onnx and MODEL.md for a trial of STUDY."),
    LazyCommand("predict", "automl_har.cli.export:predict",
                "Resample, window, normalize and classify INPUT exactly as in training; one row per window."),
    LazyCommand("train", "automl_har.cli.export:train",
                "Re-run the exported configuration on CPU and compare with the exported validation macro-F1."),
    LazyCommand("verify", "automl_har.cli.verify:verify",
                "Re-evaluate the defaults and the top trials on fresh label draws and compare them on test."),
    LazyCommand("reproduce", "automl_har.cli.reproduce:reproduce",
                "Run a method's defaults under a paper's protocol (no search) and compare with the paper's number."),
)


class OneLineErrors(LazyCommandGroup):
    """The root group: lists :data:`COMMANDS`; usage errors (unknown choice, out-of-range
    option) come out as one ``error: …`` line with exit code 2."""

    lazy_commands = COMMANDS

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


def _no_type_for_flags(display_type_rich):
    """typer 0.29 prints ``<bool>`` after a flag (``--quiet <bool>``), which takes no value; a flag
    shows no type, as in click's own help."""

    def shown(self, ctx):
        return None if getattr(self, "is_flag", False) else display_type_rich(self, ctx)

    return shown


typer.core.TyperOption.display_type_rich = _no_type_for_flags(typer.core.TyperOption.display_type_rich)

app = typer.Typer(
    name="autohar",
    cls=OneLineErrors,
    help="Hyperparameter search for few-label human activity recognition (Optuna + MLflow).",
    invoke_without_command=True,
    add_completion=True,  # --install-completion / --show-completion [bash|zsh|fish|powershell]
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command's context
)


class _WarningsToStderr(logging.Handler):
    """autohar's log warnings (e.g. trials a resumed search cannot check), printed as they are to
    the stderr of the moment (a test runner may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _print_version(asked: bool) -> None:
    if asked:
        from automl_har import __version__

        typer.echo(f"autohar {__version__}")
        raise typer.Exit()


@app.callback()
def _show_help_without_a_command(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    package_log = logging.getLogger("automl_har")
    if not any(isinstance(h, _WarningsToStderr) for h in package_log.handlers):
        package_log.addHandler(_WarningsToStderr(logging.WARNING))
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


if __name__ == "__main__":  # pragma: no cover
    app()
