"""``autohar ui``: browse a workspace's studies and trials in the MLflow UI."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer
from rich.console import Console

from automl_har.cli._common import exit_on_user_error
from automl_har.errors import ConfigError
from automl_har.workspace import Workspace

app = typer.Typer(help="Open the MLflow UI on the runs of a workspace (local only, Ctrl-C to stop).")


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"port must be in 1-65535, but got {port}; e.g. --port 5000")
    return port


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


@app.callback(invoke_without_command=True)
@exit_on_user_error
def ui(
    port: int = typer.Option(5000, "--port", "-p", callback=_check_port,
                             help="Port of the MLflow UI on 127.0.0.1."),
    workdir: Path | None = typer.Option(
        None, "--workdir", envvar="AUTOHAR_HOME",
        help="Workspace holding mlflow.db and mlartifacts (default ./autohar-runs).",
    ),
) -> None:
    """Serve the workspace's MLflow store on 127.0.0.1 until Ctrl-C."""
    from automl_har.mlflow_server import start_server  # keeps `autohar --help` fast

    workspace = Workspace.resolve(workdir)
    if not workspace.mlflow_db.is_file():
        raise ConfigError(f"no MLflow store in {workspace.root} (missing {workspace.mlflow_db.name}); "
                          "run `autohar search` first or pass --workdir DIR")
    console = Console(soft_wrap=True)
    with console.status(f"starting the MLflow server on port {port} …"):
        server = start_server(workspace, port=port)  # an AutoharError becomes one `error:` line
    with server:
        console.print(f"MLflow UI: [bold link={server.url}]{server.url}[/] "
                      f"(workspace {workspace.root}, log {server.log_path.name}); press Ctrl-C to stop")
        # The server runs in its own session: a terminal's Ctrl-C, a closed terminal or a `kill`
        # reach only this process, which must then stop the server itself.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        try:
            while server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("stopping the MLflow server …")
            return
    typer.echo(f"error: the MLflow server stopped unexpectedly: {server.log_tail()}; "
               f"see {server.log_path}", err=True)
    raise typer.Exit(1)
