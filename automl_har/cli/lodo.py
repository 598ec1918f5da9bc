"""``autohar lodo``: leave-one-dataset-out over a pool, printed as the paper's table."""

from __future__ import annotations

import shutil
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, kill_as_interrupt, method_enum

LODO_EXPERIMENT = "autohar-lodo"
PAPER_RATIOS = "0,0.01,0.05,0.1,0.7"
MethodName = method_enum()


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(part) for part in o.id_list(text) or []]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, but got {text!r}", param_hint=option) from None
    if not values:
        raise typer.BadParameter("give at least one value", param_hint=option)
    return values


@exit_on_user_error
def lodo(
    method: MethodName = typer.Option("combined", "--method", "-m", rich_help_panel=o.DATA, help="A method that pre-trains on labeled source datasets."),
    config: o.ConfigFile = None,
    datasets: o.Datasets = None,
    targets: Optional[str] = typer.Option(None, "--targets", show_default=False, rich_help_panel=o.DATA, help="Only these targets (comma list)." + o.default_note('every dataset of the pool')),
    preset: o.Preset = None,
    label_map: o.LabelMap = None,
    normalization: o.Normalization = None,
    data_dir: o.DataDirs = None,
    ratios: str = typer.Option(PAPER_RATIOS, "--ratios", rich_help_panel=o.PROTOCOL, help="Label ratios of the target, comma list; 0 = zero-shot."),
    strategies: str = typer.Option("Rd,PF,PU", "--strategies", rich_help_panel=o.SEARCH, help="Transfer strategies, comma list of Rd, PF, PU."),
    param: Optional[list[str]] = typer.Option(None, "--param", show_default=False, rich_help_panel=o.SEARCH, help="Fix a hyperparameter, KEY=VALUE (repeatable); architecture=NAME picks the network." + o.default_note('hart')),
    budget: o.Budget = None,
    repeats: o.Repeats = None,
    split: str = typer.Option("within_subject", "--split", rich_help_panel=o.PROTOCOL, help="Split of every target: within_subject (the paper: 70/10/20 inside each subject), subjects, folds:K."),
    draw_seed: o.DrawSeed = None,
    workdir: o.Workdir = None,
    storage: o.Storage = None,
    tracking_uri: o.TrackingUri = None,
    device: o.Device = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the table."),
) -> None:
    """Leave-one-dataset-out: one grid study per target of the pool; prints the paper's table.

    Example: autohar lodo --preset combined-lodo --ratios 0.01 --strategies PU
    """
    from automl_har.config import Layer, build, load_config_file, resolve
    from automl_har.engines.lodo import lodo_specs, run_lodo
    from automl_har.objectives import check_experiment

    ratio_values, strategy_values = _floats(ratios, "--ratios"), o.id_list(strategies) or []
    fixed = o.parse_fixed_params(param)
    architecture = str(fixed.pop("architecture", "hart"))
    bare, named = o.data_dirs_of(data_dir)
    options = {
        "method": method.value, "preset": preset, "params": fixed,
        "data": {"datasets": o.id_list(datasets), "data_dir": bare, "data_dirs": named, "label_map": label_map,
                 "normalization": normalization},
        # every cell of the grid walks a ratio of the whole target, drawn per subject under within_subject
        "protocol": {"labels_per_class": None, "label_ratio": max(ratio_values), "repeats": repeats,
                     "draw_seed": draw_seed, "split": split, "ratio_of": "dataset",
                     "draw_by_subject": split == "within_subject"},
        "search": {"budget": budget, "trials": 1, "sampler": "grid"},
        "engine": {"device": o.value_of(device)},
        "tracking": {"workdir": str(workdir) if workdir else None, "storage": storage, "tracking_uri": tracking_uri},
    }
    files = [load_config_file(config)] if config else []
    experiment = resolve(*files, Layer("options", options))
    pool = tuple(experiment.data.datasets)
    if len(pool) < 2:
        raise typer.BadParameter("give a pool of at least two datasets (--datasets A,B,C or --preset combined-lodo)",
                                 param_hint="--datasets")
    chosen_targets = tuple(o.id_list(targets) or pool)
    outside = [t for t in chosen_targets if t not in pool]
    if outside:
        raise typer.BadParameter(f"target {outside[0]} is not in the pool ({', '.join(pool)})", param_hint="--targets")
    if any(r == 0 for r in ratio_values):
        build.check_zero_shot(method.value, 0.0)
    first = experiment.model_copy(update={"data": experiment.data.model_copy(update={"dataset": chosen_targets[0]})})
    base = build.search_spec(first)
    repeats, budget = base.experiment.protocol.repeats, base.experiment.budget
    specs = lodo_specs(base, pool, chosen_targets, architecture, ratio_values, strategy_values)
    for spec in specs:  # every target's data and params, before anything is recorded
        spec.search_space()
        check_experiment(spec.experiment)
    console = Console(stderr=True, quiet=quiet)
    console.print(f"lodo: {method.value} ({architecture}) over {', '.join(pool)}; {len(specs)} targets x "
                  f"{specs[0].n_trials} grid points, {repeats} draws each, budget {budget}")

    points = sum(spec.n_trials for spec in specs)
    with kill_as_interrupt(), Progress(TextColumn("[bold]grid points"), BarColumn(), MofNCompleteColumn(),
                                       TextColumn("{task.description}"), TimeElapsedColumn(), TextColumn("ETA"),
                                       TimeRemainingColumn(), console=console, disable=quiet) as progress:
        task = progress.add_task("", total=points)

        def study_done(label, result) -> None:
            progress.console.print(f"target {label}: study {result.study_name}, {result.n_finished} trials "
                                   f"({result.count('COMPLETE')} complete, {result.count('PRUNED')} skipped)")

        def point_done(trial, result) -> None:  # a resumed study's earlier points count as done
            progress.update(task, advance=1, description=f"{result.study_name} trial {trial.number} {trial.state}")

        table = run_lodo(specs, chosen_targets, ratio_values, strategy_values, study_done, point_done)
    # wide enough for every column even when stdout is a file or a pipe (rich assumes 80 columns there)
    width = max(shutil.get_terminal_size().columns, 20 + max(len(t) for t in table.targets) + 16 * len(table.columns))
    Console(width=width).print(_rich_table(table, method.value, architecture))
    run_id = _log_table(table, specs, architecture, base)
    console.print(f"MLflow run {run_id} (lodo_table.csv) in experiment {LODO_EXPERIMENT!r}; "
                  f"browse with `autohar ui --workdir {base.workspace.root}`")


def _rich_table(table, method: str, architecture: str) -> Table:
    shown = Table(title=f"{method} ({architecture}): test macro-F1 (%) mean ± std over label draws")
    shown.add_column("target", no_wrap=True)
    for ratio, strategy in table.columns:
        shown.add_column(table.column_name(ratio, strategy), justify="right")
    for target in table.targets:
        shown.add_row(target, *(table.cell(target, r, s).text() for r, s in table.columns))
    shown.add_row("AVG", *(table.average(r, s).text() for r, s in table.columns), style="bold")
    return shown


def _log_table(table, specs, architecture: str, base) -> str:
    from automl_har.attrs import KIND_TAG, METHOD_TAG
    from automl_har.tracking import log_finished_run, rows_as_csv

    params = {**specs[0].experiment.as_tags(), "architecture": architecture, "targets": ",".join(table.targets),
              "studies": ",".join(s.resolved_study_name for s in specs)[:500]}
    params.pop("dataset", None)
    metrics = {}
    for ratio, strategy in table.columns:
        average = table.average(ratio, strategy)
        if average.mean is not None:
            metrics[f"avg_test_macro_f1_{100 * ratio:g}pct_{strategy}"] = average.mean
    tags = {KIND_TAG: "lodo", METHOD_TAG: specs[0].experiment.method}
    base.workspace.create()
    return log_finished_run(base.resolved_tracking_uri, base.artifact_uri, LODO_EXPERIMENT,
                            f"lodo-{specs[0].experiment.method}-{architecture}", params, metrics, tags,
                            {"lodo_table.csv": rows_as_csv(table.rows())})
