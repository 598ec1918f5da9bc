"""``autohar reproduce NAME``: a paper's protocol and number, side by side with autohar's."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from automl_har.attrs import DATASET_TAG, KIND_TAG, METHOD_TAG, NOTICE_TAG, TAG_PREFIX
from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error
from automl_har.cli._progress import StepProgress
from automl_har.cli._tables import Column, output_console, print_command, print_table

REPRODUCE_EXPERIMENT = "autohar-reproduce"


@exit_on_user_error
def reproduce(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help="Paper target (see `autohar reproduce --list`)."),
    list_targets: bool = typer.Option(False, "--list", help="List every target and whether its data is found."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print JSON instead of a table, for scripts."),
    budget: float = typer.Option(1.0, "--budget", help="Fraction of the paper's epochs (1.0 = the paper's)."),
    repeats: Optional[int] = typer.Option(None, "--repeats", min=1, show_default=False, help="Label draws." + o.default_note("the target's, 5 unless the paper says otherwise")),
    data_dir: Optional[list[str]] = typer.Option(None, "--data-dir", show_default=False, help="Folder of the dataset's files: a bare PATH, or NAME=PATH (repeatable: every dataset of a leave-one-dataset-out target)." + o.default_note("$AUTOHAR_DATA/<dataset>")),
    param: Optional[list[str]] = typer.Option(None, "--param", help="Hyperparameter KEY=VALUE on top of the target's (repeatable), e.g. --param encoder_weights=moco.pt."),
    workdir: o.Workdir = None,
    device: o.Device = None,
) -> None:
    """Run a method's defaults under a paper's protocol (no search) and compare with the paper's number.

    Example: autohar reproduce cosmo-utd --data-dir ~/data/utd_mhad --budget 0.2
    """
    from automl_har.config.build import resolve_device
    from automl_har.errors import ConfigError
    from automl_har.papers import TARGETS, get_target, missing_data

    console = output_console()
    folder, named = o.data_dirs_of(data_dir)
    folders = tuple(named.items())
    if list_targets:
        _print_targets(TARGETS, folder, folders, as_json)
        return
    if name is None:
        raise ConfigError(f"give a target NAME or --list; targets: {', '.join(sorted(TARGETS))}")
    target = get_target(name)
    spec = target.experiment(budget, repeats, folder, resolve_device(o.value_of(device) or "auto"),
                             data_dirs=folders)  # bad --budget stops here
    from automl_har.papers import target_params

    extra = o.parse_fixed_params(param)
    params = target_params(target, extra)  # a missing or bad value stops here, before the data is read
    if (reason := missing_data(target, folder, folders)) is not None:
        raise ConfigError(reason)
    from automl_har.cache import StageCache
    from automl_har.objectives import TrialHooks
    from automl_har.papers import reproduce as run_reproduction
    from automl_har.workspace import Workspace

    workspace = Workspace.resolve(workdir).create()
    where = f"leave-one-dataset-out over {', '.join(target.pool)}" if target.datasets else f"on {target.dataset}"
    console.print(f"[bold]{target.name}[/]: {target.method} defaults {where}, {target.paper}, {target.source}")
    if target.notes:
        console.print(f"notes: {target.notes}")
    if extra:
        console.print("params: " + ", ".join(f"{k}={params[k]}" for k in extra))

    def announce(experiment, folds) -> None:  # before each experiment runs (one per target of a pool)
        protocol = experiment.protocol
        labels = (f"{protocol.labels_per_class} labels per class" if protocol.labels_per_class else
                  f"label ratio {protocol.label_ratio} of the {protocol.ratio_of}"
                  + (" drawn per subject" if protocol.draw_by_subject else ""))
        pool = f"target {experiment.dataset} (sources {', '.join(experiment.sources)}), " if experiment.sources else ""
        for fold in folds:
            progress.print(
                f"protocol: {pool}split {protocol.split}, train subjects {fold['train_subjects']} "
                f"({fold['n_train']} windows), validation {fold['val_subjects'] or 'none'} ({fold['n_val']}), "
                f"test {fold['test_subjects']} ({fold['n_test']}); {labels}, {protocol.repeats} repeats, budget {budget}")
        progress.start(f"{experiment.dataset}: {protocol.repeats} repeats")

    tags: dict[str, str] = {}
    with StepProgress(console=console) as progress:
        hooks = TrialHooks(cache=StageCache(workspace.cache_dir), set_tag=tags.__setitem__, progress=progress.update)
        result = run_reproduction(target, budget, repeats, folder, spec.device, hooks, extra, folders, announce)
    if notice := tags.get(NOTICE_TAG):
        console.print(f"[yellow]notice[/]: {notice}")
    _print_result(console, result)
    run_id = _log(result, workspace, tags)
    console.print(f"MLflow run {run_id} in experiment {REPRODUCE_EXPERIMENT!r}; browse it with:")
    print_command(console, f"  autohar ui --workdir {workspace.root}")


def _print_targets(targets: dict, data_dir: Optional[str], data_dirs=(), as_json: bool = False) -> None:
    from automl_har.papers import missing_data

    rows = []
    for name in sorted(targets):
        t = targets[name]
        # a bare PATH is a single-dataset target's folder; NAME=PATH applies to the targets that have NAME
        named = tuple((n, path) for n, path in data_dirs if n in t.pool)
        reason = missing_data(t, None if t.datasets or dict(named).get(t.dataset) else data_dir, named)
        rows.append({"name": name, "paper": f"{t.paper}, {t.source}", "method": t.method,
                     "dataset": f"LODO {', '.join(t.datasets)}" if t.datasets else t.dataset, "metric": t.metric,
                     "value": t.value, "std": t.std, "data_found": reason is None})
    columns = [Column("name"), Column("method"), Column("dataset"), Column("metric"), Column("value", "paper value"),
               Column("std", "paper std"), Column("data_found", "data", shown=lambda ok: "found" if ok else "not found"),
               Column("paper")]
    print_table("autohar reproduce targets", columns, rows, as_json=as_json)


def _print_result(console: Console, result) -> None:
    t = result.target
    band = f"paper std {t.std:.3f}" if t.std is not None else f"±{t.tolerance:.2f} (the paper gives no std)"
    for name, values in result.per_dataset.items():  # a pool target: its table's rows, then the AVG below
        paper = f"paper {t.per_dataset[name]:.4f} | " if name in t.per_dataset else ""
        console.print(f"target {name}: {paper}autohar {statistics.fmean(values):.4f} ± {statistics.pstdev(values):.4f}")
    what = "per repeat, mean over the targets" if result.per_dataset else "per repeat"
    console.print(f"{t.metric} {what}: " + ", ".join(f"{v:.4f}" for v in result.values))
    if result.classes_predicted:
        console.print("classes predicted on test per repeat: " + ", ".join(map(str, result.classes_predicted))
                      + f" (of {result.folds[0]['n_classes']} classes)")
    verdict = {"within": f"[green]within[/] {band}", "outside": f"[red]outside[/] {band}",
               "degenerate": f"[red bold]degenerate[/]: {result.degeneracy.reason}"}[result.verdict]
    console.print(f"paper {t.value:.4f}" + (f" ± {t.std:.4f}" if t.std is not None else "")
                  + f" | autohar {result.mean:.4f} ± {result.std:.4f} | Δ {result.delta:+.4f} | " + verdict)
    majority, probe = result.floor_mean("majority"), result.floor_mean("linear_probe")
    if result.floors:
        below = " [red](autohar is below its linear probe: a finding to explain)[/]" if result.mean < probe else ""
        console.print(f"floors ({t.metric} on the same test windows): majority class {majority:.4f} | linear probe "
                      f"{probe:.4f} (logistic regression on the same labels and input){below}")
    if result.reporting_rule_values:
        values = result.reporting_rule_values
        console.print(f"the paper's reporting rule (best test accuracy over the epochs, selected on test: "
                      f"[bold]not a result[/]): {statistics.fmean(values):.4f} ± {statistics.pstdev(values):.4f} "
                      f"vs paper {t.value:.4f}; per repeat " + ", ".join(f"{v:.4f}" for v in values))
    for metric, values in result.also_values.items():  # the paper's other numbers for the same runs
        mean, std = statistics.fmean(values), statistics.pstdev(values)
        console.print(f"{metric}: paper {t.also[metric]:.4f} | autohar {mean:.4f} ± {std:.4f} | "
                      f"Δ {mean - t.also[metric]:+.4f}")


def _log(result, workspace, method_tags: dict[str, str]) -> str:
    from automl_har.tracking import log_finished_run, rows_as_csv

    t = result.target
    params = {**result.spec.as_tags(), **{f"param.{k}": v for k, v in result.params.items()}, "target": t.name,
              **({"datasets": ",".join(t.datasets)} if t.datasets else {})}
    metrics = {f"test_{t.metric}_mean": result.mean, f"test_{t.metric}_std": result.std,
               "paper_value": t.value, "delta": result.delta, "within": float(result.verdict == "within"),
               "degenerate": float(result.degeneracy.degenerate),
               **{f"test_{kind}_{t.metric}_mean": result.floor_mean(kind) for kind in result.floors},
               **({"test_classes_predicted_min": float(min(result.classes_predicted))} if result.classes_predicted else {}),
               **({"reporting_rule_best_test_epoch_accuracy_mean": statistics.fmean(result.reporting_rule_values)}
                  if result.reporting_rule_values else {}),
               **{f"test_{m}_mean": statistics.fmean(v) for m, v in result.also_values.items()},
               **{f"paper_{m}": t.also[m] for m in result.also_values},
               **{f"test_{t.metric}_mean.{Path(name).stem}": statistics.fmean(v) for name, v in result.per_dataset.items()}}
    tags = {KIND_TAG: "reproduce", "autohar.target": t.name, "autohar.verdict": result.verdict, "autohar.paper": t.paper,
            "autohar.source": t.source, METHOD_TAG: t.method, DATASET_TAG: ",".join(t.pool),
            **{f"{TAG_PREFIX}{k}": str(v)[:250] for k, v in method_tags.items()}}
    return log_finished_run(workspace.tracking_uri, workspace.artifact_uri, REPRODUCE_EXPERIMENT, f"reproduce-{t.name}",
                            params, metrics, tags, {f"reproduce/{t.name}.csv": rows_as_csv(result.rows())})
