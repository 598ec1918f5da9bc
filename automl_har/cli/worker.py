"""``autohar worker``: join a running study from another shell or machine."""

from __future__ import annotations

import typer

from automl_har.cli._common import exit_on_user_error, kill_as_interrupt


@exit_on_user_error
def worker(
    study: str = typer.Option(..., "--study", help="Name of the study to join."),
    storage: str = typer.Option(..., "--storage", help="The study's storage URL (journal:///… on one machine, postgresql://… across machines)."),
) -> None:
    """Join a study started by `autohar search` and run its trials until it has them all.

    Run trials of STUDY (same method, data, space and tracking as the search that created it).

    Example: autohar worker --study S --storage postgresql://db-host/autohar
    """
    from automl_har.engines import join_study

    with kill_as_interrupt():  # `autohar search` stops its workers with SIGTERM
        result = join_study(study, storage)
    typer.echo(f"worker done: {len(result.trials)} trials run here; study {result.study_name} best "
               f"{'-' if result.best_value is None else f'{result.best_value:.4f}'}")
