"""``autohar studies`` (``delete NAME``) and ``autohar show STUDY``: what the storage holds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from automl_har.attrs import (
    COST_ATTRS, DATASET_ATTR, LAST_VERIFY_ATTR, METHOD_ATTR, NOTICE_ATTR, VAL_CLASSES_PREDICTED_ATTR, VERIFY_ATTR_PREFIX,
)
from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, storage_urls
from automl_har.storage import find_study, list_studies, rank_by_validation  # no Optuna import: SQLite files are read with sqlite3

studies_app = typer.Typer(help="List the studies in the storage; `autohar studies delete NAME` deletes one.")


def _print_pareto_front(console: Console, study, costs: list[str]) -> None:
    """The non-dominated trials of a multi-objective study (``study.best_trials``), by F1."""
    front = sorted(study.best_trials, key=lambda t: -t.values[0])
    table = Table(title=f"Pareto front ({len(front)} trials): validation macro-F1 vs cost")
    for column in ("#", "val macro-F1", *costs):
        table.add_column(column)
    for t in front:
        table.add_row(str(t.number), format_cell(t.values[0]), *[format_cell(t.user_attrs.get(c)) for c in costs])
    console.print(table)


def format_cell(value) -> str:
    """A table cell: ``-`` for nothing, counts as integers, small magnitudes (a weight decay of
    2.97e-06, a learning rate of 3e-05) in scientific notation, other floats with 4 decimals."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return str(int(value))  # parameter and MAC counts
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@studies_app.callback(invoke_without_command=True)
@exit_on_user_error
def studies(
    ctx: typer.Context,
    storage: o.Storage = None,
    workdir: o.Workdir = None,
    close_stale: Optional[str] = typer.Option(
        None, "--close-stale", metavar="STUDY",
        help="Close STUDY's RUNNING trials as failed (in Optuna and MLflow), except those of live processes on "
             "this machine: for trials whose worker is known to be gone (e.g. a machine that was switched off)."),
) -> None:
    """One row per study: method, dataset, finished trials, best value."""
    if ctx.invoked_subcommand is not None:  # `autohar studies --workdir W delete NAME`: options for the subcommand
        ctx.obj = {"storage": storage, "workdir": workdir}
        return
    if close_stale is not None:
        _close_stale_trials(load_study_by_name(close_stale, storage, workdir))
        return
    listed = [s for url in storage_urls(storage, workdir) for s in list_studies(url)]
    table = Table(title="autohar studies")
    table.add_column("study", no_wrap=True, min_width=max((len(s.name) for s in listed), default=5))
    for column in ("method", "dataset", "trials", "best val macro-F1", "best trial"):
        table.add_column(column, overflow="fold")
    for s in sorted(listed, key=lambda s: s.name):
        table.add_row(
            s.name,
            s.user_attrs.get(METHOD_ATTR, "?"),
            s.user_attrs.get(DATASET_ATTR, "?"),
            str(s.n_trials),  # every trial the study has, finished or still running
            format_cell(s.best_value),
            format_cell(s.best_trial),
        )
    Console().print(table)


def _close_stale_trials(study) -> None:
    from automl_har.engines.optuna import close_stale_trials

    closed = close_stale_trials(study)
    Console().print(f"closed trials {', '.join(map(str, closed))} of study {study.study_name} (FAIL, not counted; "
                    "a resumed search runs as many new ones)" if closed else f"study {study.study_name} has no stale trials")


@studies_app.command("delete")
@exit_on_user_error
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Study name (see `autohar studies`)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
    storage: o.Storage = None,
    workdir: o.Workdir = None,
) -> None:
    """Delete study NAME: the Optuna study and its MLflow runs.

    The runs are the study's parent run and every run under it (trials, exports). A study with a
    trial that may still be running is not deleted.
    """
    from automl_har.engines.delete import delete_study, find_study_to_delete

    given = ctx.obj or {}
    storage, workdir = storage or given.get("storage"), workdir or given.get("workdir")
    study = find_study_to_delete(name, storage_urls(storage, workdir))
    n_trials = len(study.get_trials(deepcopy=False))
    if not yes:
        typer.confirm(f"delete study {name!r} ({n_trials} trials) and its MLflow runs?", abort=True)
    runs = delete_study(study)
    typer.echo(f"deleted study {name!r} ({n_trials} trials) and its {runs} MLflow runs; MLflow keeps deleted runs "
               "and their artifacts until `mlflow gc`")


def load_study_by_name(study: str, storage: Optional[str], workdir: Optional[Path]):
    """The Optuna study ``study`` from ``--storage`` or the workspace's storages; one-line error if absent."""
    return find_study(study, storage_urls(storage, workdir))


@exit_on_user_error
def show(
    study: str = typer.Argument(..., metavar="STUDY", help="Study name (see `autohar studies`)."),
    storage: o.Storage = None,
    workdir: o.Workdir = None,
    config: bool = typer.Option(False, "--config", help="Print only the YAML that re-runs this study exactly "
                                "(`autohar search --config FILE` resumes it)."),
) -> None:
    """Show one study: its trial table, the best params and the best trial's test metrics.

    Example: autohar show supervised-watch --config > experiment.yaml
    """
    import optuna

    from automl_har.search_spec import ran_params

    loaded = load_study_by_name(study, storage, workdir)
    if config:
        _print_config(loaded)
        return
    trials = loaded.get_trials(deepcopy=False)
    params = {t.number: ran_params(t) for t in trials}  # what really ran
    param_names = sorted({p for t in trials for p in params[t.number]})
    costs = [c for c in COST_ATTRS if any(c in t.user_attrs for t in trials)]  # measured by multi-objective searches
    one_class = set(single_class_trials(trials))
    table = Table(title=f"study {study}")
    for column in ("#", "state", "val macro-F1", "test macro-F1", "test acc", *costs, "seconds", *param_names):
        table.add_column(column, overflow="fold", no_wrap=column == "#")
    for t in trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        table.add_row(
            f"{t.number}{'*' if t.number in one_class else ''}", t.state.name, format_cell(t.values[0] if t.values else None), format_cell(t.user_attrs.get("test_macro_f1_mean")),
            format_cell(t.user_attrs.get("test_accuracy_mean")), *[format_cell(t.user_attrs.get(c)) for c in costs], format_cell(seconds),
            *[format_cell(params[t.number].get(p)) for p in param_names],
        )
    console = Console()
    console.print(table)
    _print_notices(console, trials)
    _print_single_class_trials(console, trials)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        console.print("no completed trial yet")
        return
    if len(loaded.directions) > 1:
        _print_pareto_front(console, loaded, costs)
    best = rank_by_validation(complete)[0]
    console.print(f"best trial {best.number}: validation macro-F1 {best.values[0]:.4f}" + _floors_text(best))
    console.print("best params: " + ", ".join(f"{k}={v}" for k, v in params[best.number].items()))
    console.print(
        "best trial's test metrics (reported only, never used for selection): "
        + ", ".join(f"{k}={format_cell(v)}" for k, v in best.user_attrs.items() if k.startswith("test_"))
    )
    _print_last_verdict(console, loaded)


def single_class_trials(trials) -> list[int]:
    """Numbers of the trials whose model predicted a single class on a unit's validation windows."""
    return [t.number for t in trials if t.user_attrs.get(VAL_CLASSES_PREDICTED_ATTR) == 1]


def _print_single_class_trials(console: Console, trials) -> None:
    """Mark degenerate trials: their model predicts one class on validation (objectives/floors.py)."""
    if numbers := single_class_trials(trials):
        console.print(f"* [red]degenerate[/] (trials {', '.join(map(str, numbers))}): the model predicts a single "
                      "class on validation in at least one label draw")


def _floors_text(trial) -> str:
    """`` (floors on validation: majority 0.12, linear probe 0.55)``, or "" for a trial without them."""
    from automl_har.objectives.floors import FLOOR_KINDS
    majority, probe = (trial.user_attrs.get(f"val_{kind}_macro_f1_mean") for kind in FLOOR_KINDS)
    if majority is None or probe is None:
        return ""
    return f" (floors on validation: majority {format_cell(majority)}, linear probe {format_cell(probe)})"


def _print_config(study) -> None:
    """The stored spec of ``study`` as the config file that re-runs it (plain YAML on stdout).
    The engine is written as ``optuna``: which engine ran the trials is not part of the stored spec,
    and either engine measures the same trials."""
    import yaml

    from automl_har.config import config_of
    from automl_har.search_spec import SearchSpec

    text = yaml.safe_dump(config_of(SearchSpec.from_study(study)), sort_keys=False)
    typer.echo(f"# autohar search --config FILE re-runs study {study.study_name!r} exactly\n{text}", nl=False)


def _print_notices(console: Console, trials) -> None:
    """What the methods said about runs that depart from their paper (``NOTICE_ATTR``), once per text."""
    by_text: dict[str, list[int]] = {}
    for t in trials:
        if notice := t.user_attrs.get(NOTICE_ATTR):
            by_text.setdefault(notice, []).append(t.number)
    for notice, numbers in by_text.items():
        console.print(f"[yellow]notice[/] (trials {', '.join(map(str, numbers))}): {notice}")


def _print_last_verdict(console: Console, study) -> None:
    """The verdict of the study's last ``autohar verify``, or how to get one."""
    key = study.user_attrs.get(LAST_VERIFY_ATTR)
    if key is None:
        console.print(f"not verified yet: `autohar verify {study.study_name}` re-checks the winner on fresh label draws")
        return
    summary = study.user_attrs[VERIFY_ATTR_PREFIX + key]
    gain = summary.get("gain")
    detail = (f" (test macro-F1 gain {gain['mean']:+.4f}, 95% CI [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}], "
              f"Wilcoxon p={gain['p_value']:.3g}, optimism {summary['optimism']:+.4f})") if gain else ""
    console.print(f"last verify ({key}): {summary['verdict']}" + ("" if "CI" in summary["verdict"] else detail))
    if floors := summary.get("floors"):
        console.print(f"floors of that verify: {floors}")
