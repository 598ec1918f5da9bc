"""``autohar lodo``: leave-one-dataset-out over a pool, printed as the paper's table."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from automl_har.cli._common import (
    Device, StorageOption, WorkdirOption, exit_on_user_error, kill_as_interrupt, method_enum, resolve_device,
)
from automl_har.cli._pool import DATA_DIR_HELP, DATASETS_HELP, LABEL_MAP_HELP, NORMALIZATION_HELP, split_list

LODO_EXPERIMENT = "autohar-lodo"
PAPER_RATIOS = "0,0.01,0.05,0.1,0.7"
MethodName = method_enum()

app = typer.Typer(help="Leave-one-dataset-out: one grid study per target of the pool; prints the paper's table.")


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(part) for part in split_list(text)]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, but got {text!r}", param_hint=option) from None
    if not values:
        raise typer.BadParameter("give at least one value", param_hint=option)
    return values


@app.callback(invoke_without_command=True)
@exit_on_user_error
def lodo(
    method: MethodName = typer.Option("combined", "--method", "-m", help="A method that pre-trains on labeled source datasets."),
    datasets: Optional[str] = typer.Option(None, "--datasets", help=DATASETS_HELP + " Every one is the target once."),
    targets: Optional[str] = typer.Option(None, "--targets", help="Only these targets (comma list) [default: every dataset of the pool]."),
    preset: Optional[str] = typer.Option(None, "--preset", help="A pool preset, e.g. combined-lodo (the paper's six datasets); options you give win."),
    ratios: str = typer.Option(PAPER_RATIOS, "--ratios", help="Label ratios of the target, comma list; 0 = zero-shot."),
    strategies: str = typer.Option("Rd,PF,PU", "--strategies", help="Transfer strategies, comma list of Rd, PF, PU."),
    param: Optional[list[str]] = typer.Option(None, "--param", help="Fix a hyperparameter, KEY=VALUE (repeatable); architecture=NAME picks the network [default: hart]."),
    label_map: Optional[str] = typer.Option(None, "--label-map", show_default=False, help=LABEL_MAP_HELP + " [default: builtin]"),
    normalization: Optional[str] = typer.Option(None, "--normalization", show_default=False, help=NORMALIZATION_HELP),
    data_dir: Optional[list[str]] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    budget: float = typer.Option(0.2, "--budget", help="Fraction of the paper's epochs (1.0 = the paper's)."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Seeded label draws per cell; a cell is their mean ± std."),
    split: str = typer.Option("within_subject", "--split", help="Split of every target: within_subject (the paper: 70/10/20 inside each subject), subjects, folds:K."),
    draw_seed: int = typer.Option(0, "--draw-seed", help="Seed of the label draws and of pre-training."),
    workdir: Optional[Path] = WorkdirOption,
    storage: Optional[str] = StorageOption,
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI. Default SQLite in the workdir."),
    device: Device = typer.Option(Device.auto, "--device", help="auto picks CUDA when available."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the table."),
) -> None:
    """Leave-one-dataset-out: one grid study per target of the pool; prints the paper's table."""
    from automl_har.cli._pool import check_zero_shot, experiment_data, window_options
    from automl_har.cli.search import parse_fixed_params
    from automl_har.data.registry import WindowOptions
    from automl_har.engines import SearchSpec
    from automl_har.engines.lodo import lodo_specs, run_lodo
    from automl_har.objectives import ExperimentSpec, Protocol, check_experiment
    from automl_har.workspace import Workspace

    ratio_values, strategy_values = _floats(ratios, "--ratios"), list(split_list(strategies))
    if any(r == 0 for r in ratio_values):
        check_zero_shot(method.value, 0.0)
    fixed = parse_fixed_params(param or [])
    architecture = str(fixed.pop("architecture", "hart"))
    chosen = {}
    if preset is not None:
        from automl_har.objectives.presets import apply_preset, get_preset

        chosen = apply_preset(get_preset(preset))
    pool = split_list(datasets) or tuple(chosen.get("datasets", ()))
    if len(pool) < 2:
        raise typer.BadParameter("give a pool of at least two datasets (--datasets A,B,C or --preset combined-lodo)",
                                 param_hint="--datasets")
    chosen_targets = split_list(targets) or pool
    outside = [t for t in chosen_targets if t not in pool]
    if outside:
        raise typer.BadParameter(f"target {outside[0]} is not in the pool ({', '.join(pool)})", param_hint="--targets")
    reads = experiment_data(method.value, dataset=None, datasets=",".join(pool), target=chosen_targets[0],
                            data_dir_values=data_dir, label_map=label_map, normalization=normalization, chosen=chosen)
    window = window_options(method.value, chosen, pool=True)
    experiment = ExperimentSpec(
        method=method.value, **reads, window=WindowOptions(**window), modalities=chosen.get("modalities"),
        protocol=Protocol(labels_per_class=None, label_ratio=max(ratio_values), repeats=repeats, seed=draw_seed,
                          split=split, ratio_of="dataset", draw_by_subject=split == "within_subject"),
        budget=budget, device=resolve_device(device))
    base = SearchSpec(experiment=experiment, workspace=Workspace.resolve(workdir), n_trials=1, sampler="grid",
                      storage=storage, tracking_uri=tracking_uri, fixed_params=fixed)
    specs = lodo_specs(base, pool, chosen_targets, architecture, ratio_values, strategy_values)
    for spec in specs:  # every target's data and params, before anything is recorded
        spec.search_space()
        check_experiment(spec.experiment)
    console = Console(stderr=True, quiet=quiet)
    console.print(f"lodo: {method.value} ({architecture}) over {', '.join(pool)}; {len(specs)} targets x "
                  f"{specs[0].n_trials} grid points, {repeats} draws each, budget {budget}")

    def study_done(label, result) -> None:
        console.print(f"target {label}: study {result.study_name}, {result.n_finished} trials "
                      f"({result.count('COMPLETE')} complete, {result.count('PRUNED')} skipped)")

    with kill_as_interrupt():
        table = run_lodo(specs, chosen_targets, ratio_values, strategy_values, study_done)
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
