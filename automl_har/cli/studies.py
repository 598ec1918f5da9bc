"""``autohar studies`` (``delete NAME``) and ``autohar show STUDY``: what the storage holds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from automl_har.attrs import (
    COST_ATTRS, DATASET_ATTR, LAST_VERIFY_ATTR, METHOD_ATTR, NOTICE_ATTR, VAL_CLASSES_PREDICTED_ATTR, VERIFY_ATTR_PREFIX,
)
from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, storage_urls
from automl_har.cli._tables import Column, format_value, output_console, print_command, print_table
from automl_har.storage import (  # no Optuna import: SQLite files are read with sqlite3
    find_study,
    list_studies,
    rank_by_validation,
)

studies_app = typer.Typer()  # its help is the callback's docstring


def _print_pareto_front(console: Console, study, costs: list[str]) -> None:
    """The non-dominated trials of a multi-objective study (``study.best_trials``), by F1."""
    front = sorted(study.best_trials, key=lambda t: -t.values[0])
    rows = [{"trial": t.number, "val_macro_f1": t.values[0], **{c: t.user_attrs.get(c) for c in costs}} for t in front]
    print_table(f"Pareto front ({len(front)} trials): validation macro-F1 vs cost",
                [Column("trial", "#"), Column("val_macro_f1", "val macro-F1"), *(Column(c) for c in costs)], rows,
                console=console)


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
    as_json: bool = o.JsonOutput,
) -> None:
    """List the studies in the storage; `autohar studies delete NAME` deletes one.

    One row per study: method, dataset, finished trials, best value.

    Example: autohar studies --workdir autohar-runs --json
    """
    if ctx.invoked_subcommand is not None:  # `autohar studies --workdir W delete NAME`: options for the subcommand
        ctx.obj = {"storage": storage, "workdir": workdir}
        return
    if close_stale is not None:
        _close_stale_trials(load_study_by_name(close_stale, storage, workdir))
        return
    listed = [s for url in storage_urls(storage, workdir) for s in list_studies(url)]
    rows = [{"study": s.name, "method": s.user_attrs.get(METHOD_ATTR, "?"), "dataset": s.user_attrs.get(DATASET_ATTR, "?"),
             "trials": s.n_trials,  # every trial the study has, finished or still running
             "best_val_macro_f1": s.best_value, "best_trial": s.best_trial} for s in sorted(listed, key=lambda s: s.name)]
    print_table("autohar studies", [Column("study"), Column("method"), Column("dataset"), Column("trials"),
                                    Column("best_val_macro_f1", "best val macro-F1"), Column("best_trial", "best trial")],
                rows, as_json=as_json)


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

    Example: autohar studies delete supervised-watch --yes
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
    as_json: bool = o.JsonOutput,
) -> None:
    """Show one study: its trial table, the best params and the best trial's test metrics.

    Example: autohar show supervised-watch --config > experiment.yaml
    """
    import optuna

    from automl_har.search_spec import ran_params
    from automl_har.search_spec import trial_method

    loaded = load_study_by_name(study, storage, workdir)
    if config:
        _print_config(loaded)
        return
    trials = loaded.get_trials(deepcopy=False)
    params = {t.number: ran_params(t) for t in trials}  # what really ran
    param_names = sorted({p for t in trials for p in params[t.number]})
    costs = [c for c in COST_ATTRS if any(c in t.user_attrs for t in trials)]  # measured by multi-objective searches
    one_class = set(single_class_trials(trials))
    standings, excluded = _standings(loaded)
    rows = [{"trial": t.number, "single_class": t.number in one_class, "state": t.state.name,
             "method": trial_method(t),
             "val_macro_f1": t.values[0] if t.values else None, "test_macro_f1": t.user_attrs.get("test_macro_f1_mean"),
             "test_accuracy": t.user_attrs.get("test_accuracy_mean"), **{c: t.user_attrs.get(c) for c in costs},
             "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
             if t.datetime_complete and t.datetime_start else None,
             **{f"params.{p}": params[t.number].get(p) for p in param_names}} for t in trials]
    for row in rows:
        row["#"] = f"{row['trial']}{'*' if row['single_class'] else ''}"
    columns = [Column("#"), *([Column("method")] if standings is not None else []), Column("state"),
               Column("val_macro_f1", "val macro-F1"),
               Column("test_macro_f1", "test macro-F1"), Column("test_accuracy", "test acc"), *(Column(c) for c in costs),
               Column("seconds"), *(Column(f"params.{p}", p) for p in param_names)]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = rank_by_validation(complete)[0] if complete else None
    if as_json:
        best_part = None if best is None else {
            "trial": best.number, "val_macro_f1": best.values[0], "params": params[best.number],
            "test": {k: v for k, v in best.user_attrs.items() if k.startswith("test_")}}
        for row in rows:  # the hyperparameters as one mapping per trial
            row["params"] = params[row["trial"]]
        plain_columns = [c for c in columns[1:] if not c.key.startswith("params.")]
        print_table(f"study {study}", [Column("trial"), *plain_columns, Column("params"), Column("single_class")], rows,
                    as_json=True, extra={"best": best_part, "verify": _last_verify(loaded),
                                         **({"leaderboard": [s.as_row() for s in standings], "excluded": excluded}
                                            if standings is not None else {})})
        return
    console = output_console()
    print_table(f"study {study}", columns, rows, console=console)
    if standings is not None:
        print_leaderboard(console, standings, excluded)
    _print_notices(console, trials)
    _print_single_class_trials(console, trials)
    if best is None:
        console.print("no completed trial yet")
        return
    if len(loaded.directions) > 1:
        _print_pareto_front(console, loaded, costs)
    console.print(f"best trial {best.number}: validation macro-F1 {best.values[0]:.4f}" + _floors_text(best))
    console.print("best params: " + ", ".join(f"{k}={format_value(v)}" for k, v in params[best.number].items()))
    console.print(
        "best trial's test metrics (reported only, never used for selection): "
        + ", ".join(f"{k}={format_value(v)}" for k, v in best.user_attrs.items() if k.startswith("test_"))
    )
    _print_last_verdict(console, loaded)


def _standings(study) -> tuple[list | None, dict[str, str]]:
    """A method-selection study's leaderboard and excluded methods; ``(None, {})`` for a single-method study."""
    from automl_har.attrs import EXCLUDED_METHODS_ATTR
    from automl_har.search_spec import SearchSpec

    spec = SearchSpec.from_study(study)
    if not spec.selects_method:
        return None, {}
    from automl_har.engines.method_selection import leaderboard

    return leaderboard(study, spec), dict(study.user_attrs.get(EXCLUDED_METHODS_ATTR, {}))


def print_leaderboard(console: Console, standings, excluded: dict[str, str]) -> None:
    """The leaderboard of a method-selection study (validation macro-F1), then why methods were left out."""
    print_table("methods (validation macro-F1; the winner exports as the study's best trial)", [
        Column("method"), Column("trials"), Column("best_val_macro_f1", "best"), Column("best_trial", "best trial"),
        Column("paper_defaults_val_macro_f1", "paper defaults"), Column("val_linear_probe_macro_f1", "linear probe"),
        Column("val_majority_macro_f1", "majority")], [s.as_row() for s in standings], console=console)
    for method, why in excluded.items():
        console.print(f"left out: {method}: {why}", markup=False, soft_wrap=True)


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
    return f" (floors on validation: majority {format_value(majority)}, linear probe {format_value(probe)})"


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


def _last_verify(study) -> dict | None:
    """The summary of the study's last ``autohar verify`` (None: not verified yet)."""
    key = study.user_attrs.get(LAST_VERIFY_ATTR)
    return None if key is None else {"key": key, **study.user_attrs[VERIFY_ATTR_PREFIX + key]}


def _print_last_verdict(console: Console, study) -> None:
    """The verdict of the study's last ``autohar verify``, or how to get one."""
    summary = _last_verify(study)
    if summary is None:
        console.print("not verified yet; to re-check the winner on fresh label draws:")
        print_command(console, f"  autohar verify {study.study_name}")
        return
    gain = summary.get("gain")
    detail = (f" (test macro-F1 gain {gain['mean']:+.4f}, 95% CI [{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}], "
              f"Wilcoxon p={gain['p_value']:.3g}, optimism {summary['optimism']:+.4f})") if gain else ""
    console.print(f"last verify ({summary['key']}): {summary['verdict']}" + ("" if "CI" in summary["verdict"] else detail))
    if floors := summary.get("floors"):
        console.print(f"floors of that verify: {floors}")
