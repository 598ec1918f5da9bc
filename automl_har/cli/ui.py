"""``autohar ui``: browse a workspace's studies and trials in the MLflow UI."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, storage_urls
from automl_har.errors import ConfigError
from automl_har.workspace import Workspace


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"port must be in 1-65535, but got {port}; e.g. --port 5000")
    return port


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


def study_parent_run(study: str, storage: str | None, workdir: Path | None, tracking_uri: str) -> tuple[str, str]:
    """(experiment id, run id) of the MLflow parent run of ``study``; a one-line error naming the
    existing studies when there is no such study."""
    from mlflow.exceptions import MlflowException

    from automl_har.attrs import PARENT_RUN_ATTR
    from automl_har.storage import find_study
    from automl_har.tracking import StudyTracker

    found = find_study(study, storage_urls(storage, workdir))
    run_id = found.user_attrs.get(PARENT_RUN_ATTR)
    if not run_id:
        raise ConfigError(f"study {study!r} has no MLflow parent run yet; run `autohar search --study {study}`")
    try:
        return StudyTracker.attach(tracking_uri, study, run_id).experiment_id, run_id
    except MlflowException:
        raise ConfigError(f"the parent run {run_id} of study {study!r} is not in this workspace's MLflow store "
                          "(was the search tracked elsewhere with --tracking-uri?)") from None


#: MLflow 3.17 opens on its GenAI navigation unless told the model-training one (``workflowType``)
TRAINING_VIEW = "workflowType=machine_learning"


def study_views(storage: str | None, workdir: Path | None, tracking_uri: str,
                only: str | None = None) -> dict[str, tuple[str, str]]:
    """Study name -> (experiment id, share key) of its trials' view in the MLflow UI, refreshed with
    the hyperparameters its trials searched (:func:`~automl_har.tracking.save_trials_view`); the
    studies of the storage whose parent run is in this store (``only``: just that one)."""
    from mlflow.exceptions import MlflowException

    from automl_har.attrs import PARENT_RUN_ATTR
    from automl_har.search_spec import trials_view_columns
    from automl_har.storage import find_study, list_studies
    from automl_har.tracking import save_trials_view, tracking_client

    urls = storage_urls(storage, workdir)
    names = [only] if only else sorted({s.name for url in urls for s in list_studies(url)})
    client, views = tracking_client(tracking_uri), {}
    for name in names:
        study = find_study(name, urls)
        run_id = study.user_attrs.get(PARENT_RUN_ATTR)
        try:
            experiment_id = client.get_run(run_id).info.experiment_id if run_id else None
        except MlflowException:  # tracked elsewhere (--tracking-uri): not in this store
            continue
        if experiment_id is not None:
            columns = trials_view_columns(study.get_trials(deepcopy=False))
            views[name] = (experiment_id, save_trials_view(client, experiment_id, name, *columns))
    return views


@exit_on_user_error
def ui(
    port: int = typer.Option(5000, "--port", "-p", callback=_check_port,
                             help="Port of the MLflow UI on 127.0.0.1."),
    workdir: o.Workdir = None,
    study: Optional[str] = typer.Option(None, "--study", help="Open on this study's trials (the URL printed first); "
                                        "also print its parent run's URL."),
    storage: o.Storage = None,
) -> None:
    """Open the MLflow UI on the runs of a workspace (local only, Ctrl-C to stop).

    Serve the workspace's MLflow store on 127.0.0.1 until Ctrl-C; print the URL of each study's
    trials: one row per trial, best validation macro-F1 first, with the validation and test
    macro-F1, the duration and the searched hyperparameters as columns.

    Example: autohar ui --study supervised-watch
    """
    from automl_har.mlflow_server import start_server, ui_url  # keeps `autohar --help` fast
    from automl_har.tracking import EXPERIMENT, training_experiments

    workspace = Workspace.resolve(workdir)
    if not workspace.mlflow_db.is_file():
        raise ConfigError(f"no MLflow store in {workspace.root} (missing {workspace.mlflow_db.name}); "
                          "run `autohar search` first or pass --workdir DIR")
    # before the server starts: an unknown study stops here, and experiments from before autohar
    # tagged them open on their runs, not on MLflow 3's GenAI overview
    experiment_id = training_experiments(workspace.tracking_uri).get(EXPERIMENT)
    parent = study_parent_run(study, storage, workdir, workspace.tracking_uri) if study else None
    views = study_views(storage, workdir, workspace.tracking_uri, only=study)
    console = Console(soft_wrap=True)
    with console.status(f"starting the MLflow server on port {port} …"):
        server = start_server(workspace, port=port)  # an AutoharError becomes one `error:` line
    with server:
        runs = ui_url(server.url, experiment_id) + ("?" + TRAINING_VIEW if experiment_id else "")
        for name, (view_experiment, key) in views.items():  # the study's trials, as the first line
            page = ui_url(server.url, view_experiment) + f"?viewStateShareKey={key}&{TRAINING_VIEW}"
            console.print(f"study {name} trials: [bold link={page}]{page}[/]")
        console.print(f"MLflow UI: [bold link={runs}]{runs}[/] "
                      f"(workspace {workspace.root}, log {server.log_path.name}); press Ctrl-C to stop")
        if parent:
            page = ui_url(server.url, *parent)
            console.print(f"study {study}: [bold link={page}]{page}[/] (parent run)")
        # The server runs in its own session: a terminal's Ctrl-C, a closed terminal or a `kill`
        # reach only this process, which must then stop the server itself.
        handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("stopping the MLflow server …")
            return
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    typer.echo(f"error: the MLflow server stopped unexpectedly: {server.log_tail()}; "
               f"see {server.log_path}", err=True)
    raise typer.Exit(1)
