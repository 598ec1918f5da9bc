"""``autohar search``: run or resume a hyperparameter search.

The experiment comes from its layers (:mod:`automl_har.config.layers`): the schema's defaults, the
method's tags, ``--preset``, ``--config FILE`` and, on top, the options typed here.
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, kill_as_interrupt, method_enum
from automl_har.cli._tables import output_console, print_command
from automl_har.engines import SearchSpec, StudyResult, TrialSummary
from automl_har.errors import SearchError

MethodName = method_enum(auto=True)


@exit_on_user_error
def search(
    method: Optional[MethodName] = typer.Option(None, "--method", "-m", show_default=False, rich_help_panel=o.DATA, help="Training method (see `autohar methods`), or auto: search the method too, over every method that can run on the data (docs/search.md); or `method:` in the --config file."),
    methods: Optional[str] = typer.Option(None, "--methods", show_default=False, rich_help_panel=o.DATA, help="Search over these methods only (comma-separated; implies --method auto), e.g. supervised,mesen."),
    config: o.ConfigFile = None,
    dataset: o.Dataset = None,
    preset: o.Preset = None,
    data_dir: o.DataDirs = None,
    datasets: o.Datasets = None,
    target: o.Target = None,
    label_map: o.LabelMap = None,
    normalization: o.Normalization = None,
    modalities: o.Modalities = None,
    deploy_modalities: Optional[str] = typer.Option(None, "--deploy-modalities", show_default=False, rich_help_panel=o.DATA, help="What the deployed model may read (comma-separated; --method auto or one method): multimodal methods such as MESEN pre-train on every modality and deploy on these, the others read only these." + o.default_note('all loaded')),
    window_s: o.WindowSeconds = None,
    overlap: o.Overlap = None,
    rate: o.Rate = None,
    split: o.Split = None,
    validation: o.Validation = None,
    split_seed: o.SplitSeed = None,
    draw_seed: o.DrawSeed = None,
    labels_per_class: o.LabelsPerClass = None,
    label_ratio: o.LabelRatio = None,
    repeats: o.Repeats = None,
    val_subjects: o.ValSubjects = None,
    test_subjects: o.TestSubjects = None,
    trials: Optional[int] = typer.Option(None, "--trials", "-n", show_default=False, rich_help_panel=o.SEARCH, help="Stop when this many trials are finished in total (a resumed study counts its earlier trials; failed ones do not count)." + o.default_note("search", "trials")),
    timeout: Optional[float] = typer.Option(None, "--timeout", show_default=False, rich_help_panel=o.SEARCH, help="Start no new trial after this many seconds."),
    sampler: Optional[o.Sampler] = typer.Option(None, "--sampler", show_default=False, rich_help_panel=o.SEARCH, help="Optuna sampler; grid walks the method's GRID with everything else at DEFAULTS; staged: few pre-trainings, many fine-tunings on each, successive halving between them (methods that pre-train, docs/search.md)." + o.default_note("search", "sampler")),
    pruner: Optional[o.Pruner] = typer.Option(None, "--pruner", show_default=False, rich_help_panel=o.SEARCH, help="Optuna pruner (median/hyperband: per-epoch curves; wilcoxon: per label draw)." + o.default_note('none with --sampler grid or staged, else median')),
    param: o.Params = None,
    space: Optional[str] = typer.Option(None, "--space", show_default=False, rich_help_panel=o.SEARCH, help="Search space variant: full (both stages), finetune (pre-training at the paper's values: one cached pre-training) or default." + o.default_note("search", "space")),
    fidelity: Optional[o.Fidelity] = typer.Option(None, "--fidelity", show_default=False, rich_help_panel=o.SEARCH, help="--sampler staged: what a promoted pre-training gets more of: trials (fine-tuning trials) or epochs (also a longer pre-training, continued from its shorter one's checkpoint)." + o.default_note("search", "fidelity")),
    seed: Optional[int] = typer.Option(None, "--seed", show_default=False, rich_help_panel=o.SEARCH, help="Seed of the sampler only (the data has --split-seed and --draw-seed)." + o.default_note("search", "seed")),
    objectives: Optional[str] = typer.Option(None, "--objectives", show_default=False, rich_help_panel=o.SEARCH, help="f1, or f1 plus costs to minimize: f1,latency | f1,params | f1,macs (multi-objective: Pareto front, no pruning; use --sampler nsga2 or tpe)." + o.default_note('f1')),
    budget: o.Budget = None,
    warm_start: Optional[bool] = typer.Option(None, "--warm-start/--no-warm-start", show_default=False, rich_help_panel=o.SEARCH, help="--method auto: also start each method from the winners of its earlier studies on other datasets in the workspace." + o.default_note("search", "warm_start")),
    study: Optional[str] = typer.Option(None, "--study", show_default=False, rich_help_panel=o.TRACKING, help="Study name; the same name resumes." + o.default_note('<method>-<dataset>')),
    workdir: o.Workdir = None,
    storage: o.Storage = None,
    tracking_uri: o.TrackingUri = None,
    engine: Optional[o.EngineName] = typer.Option(None, "--engine", show_default=False, rich_help_panel=o.ENGINE, help="optuna: ask/tell loop(s); ray: Ray Tune schedules the trials (same sampler, pruner and study)." + o.default_note("engine", "name")),
    workers: Optional[int] = typer.Option(None, "--workers", show_default=False, rich_help_panel=o.ENGINE, help="Trials run at once (optuna: worker processes sharing the study; ray: concurrent trials)." + o.default_note("engine", "workers")),
    device: o.Device = None,
    cpus_per_trial: Optional[int] = typer.Option(None, "--cpus-per-trial", show_default=False, rich_help_panel=o.ENGINE, help="ray: CPUs (and torch threads) per trial." + o.default_note("engine", "cpus_per_trial")),
    gpus_per_trial: Optional[float] = typer.Option(None, "--gpus-per-trial", show_default=False, rich_help_panel=o.ENGINE, help="ray: GPU fraction per trial when a GPU exists." + o.default_note("engine", "gpus_per_trial")),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", show_default=False, rich_help_panel=o.ENGINE, help="ray: join a cluster started with `ray start --head` (e.g. 10.0.0.5:6379)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved configuration, the search space with trial 0 and the data it would load; record nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-trial lines."),
) -> None:
    """Run or resume a hyperparameter search.

    Search hyperparameters of METHOD on DATASET (--method auto: the method too); every trial is tracked in MLflow.

    Example: autohar search --method supervised --dataset watch --trials 20
    """
    from automl_har.config import build, layers

    if target and dataset and target != dataset:
        raise typer.BadParameter(f"--target {target} and --dataset {dataset} disagree; give one of them",
                                 param_hint="--target")
    bare, named = o.data_dirs_of(data_dir)
    if methods and method is not None and o.value_of(method) != "auto":
        raise typer.BadParameter(f"--methods searches over several methods; drop --method {o.value_of(method)} "
                                 "(or give --method auto)", param_hint="--methods")
    options = {
        "method": "auto" if methods else o.value_of(method), "methods": o.id_list(methods), "preset": preset,
        "params": o.parse_fixed_params(param),
        "data": {"dataset": dataset or target, "data_dir": bare, "data_dirs": named, "datasets": o.id_list(datasets),
                 "label_map": label_map, "normalization": normalization, "modalities": o.id_list(modalities),
                 "deploy_modalities": o.id_list(deploy_modalities),
                 "window": {"window_s": window_s, "rate_hz": rate, "overlap": overlap}},
        "protocol": {"split": split, "validation": o.value_of(validation), "split_seed": split_seed,
                     "draw_seed": draw_seed, "labels_per_class": labels_per_class, "label_ratio": label_ratio,
                     "repeats": repeats, "val_subjects": o.subject_list(val_subjects),
                     "test_subjects": o.id_list(test_subjects)},
        "search": {"study": study, "trials": trials, "timeout": timeout, "sampler": o.value_of(sampler),
                   "pruner": o.value_of(pruner), "space": space, "fidelity": o.value_of(fidelity), "seed": seed,
                   "objectives": o.id_list(objectives), "budget": budget, "warm_start": warm_start},
        "engine": {"name": o.value_of(engine), "workers": workers, "device": o.value_of(device),
                   "cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial, "ray_address": ray_address},
        "tracking": {"workdir": str(workdir) if workdir else None, "storage": storage, "tracking_uri": tracking_uri},
    }
    files = [layers.load_config_file(config)] if config else []
    experiment = layers.resolve(*files, layers.Layer("options", options))
    spec = build.search_spec(experiment)
    if dry_run:
        from automl_har.cli._dry_run import print_dry_run

        print_dry_run(Console(), experiment, spec)
        return
    run(spec, experiment, quiet)


def run(spec: SearchSpec, experiment: Any, quiet: bool) -> StudyResult:
    """Run ``spec`` on the engine ``experiment`` names, with the header, progress bar and summary."""
    from automl_har.engines.optuna import search as run_search

    trials = spec.n_trials
    console = Console(stderr=True, quiet=quiet)
    data = spec.experiment
    pool = f" from {', '.join(data.sources)}" if data.sources else ""
    method = f"methods {', '.join(spec.methods)}" if spec.selects_method else data.method
    header = (f"study [bold]{spec.resolved_study_name}[/]: {method} on {data.dataset}{pool}, "
              f"{trials} trials, sampler {spec.sampler}, pruner {spec.pruner}, budget {data.budget}")
    with kill_as_interrupt(), _TrialProgress(console, trials, quiet, header, spec.selects_method) as progress:
        if experiment.engine.name == "ray":
            from automl_har.engines.ray import RayOptions, search as ray_search

            engine = experiment.engine
            options = RayOptions(engine.workers, engine.cpus_per_trial, engine.gpus_per_trial, engine.ray_address)
            result = ray_search(spec, options, on_trial_end=progress.update, on_ready=progress.start)
        else:
            result = run_search(spec, on_trial_end=progress.update, on_ready=progress.start)
    _print_summary(output_console(quiet=quiet), result, spec)
    if result.best_trial is None:
        raise SearchError(f"study {result.study_name!r} has no complete trial yet; see the failures above, fix "
                          f"them and run the same command again to continue the study")
    return result


def finished_line(result: StudyResult, spec: SearchSpec) -> str:
    """``8 of 12 grid points: 6 complete, 2 pruned`` (grid), else ``20 trials finished`` with the
    pruned count and the failed ones (which do not count) when there are any; counts of the whole
    study, earlier runs included."""
    complete, pruned, failed = result.count("COMPLETE"), result.count("PRUNED"), result.count("FAIL")
    tail = f"; {failed} failed, not counted" if failed else ""
    if spec.sampler == "grid":
        size = spec.search_space().grid_size()
        points = f"{size}" if result.n_finished >= size else f"{result.n_finished} of {size}"
        return f"{points} grid points: {complete} complete, {pruned} pruned{tail}"
    if pruned or failed:
        return f"{result.n_finished} trials finished: {complete} complete, {pruned} pruned{tail}"
    return f"{result.n_finished} trials finished"


class _TrialProgress:
    """The study's header line, then a rich progress bar: trials n/N, best value so far, ETA; one
    line per finished trial. Both appear at :meth:`start`, once the engine's checks have passed."""

    def __init__(self, console: Console, total: int, quiet: bool, header: str, show_method: bool = False) -> None:
        self.console, self.header, self.shown, self.show_method = console, header, False, show_method
        self.progress = Progress(
            TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=quiet,
        )
        self.task = self.progress.add_task("best -", total=total)
        self.started = False

    def __enter__(self) -> "_TrialProgress":
        return self

    def start(self) -> None:
        self.console.print(self.header)
        self.progress.__enter__()
        self.shown = True

    def __exit__(self, *exc) -> None:
        if self.shown:
            self.progress.__exit__(*exc)

    def update(self, trial: TrialSummary, result: StudyResult) -> None:
        counted = trial.state != "FAIL"  # a failed trial does not count towards --trials
        if not self.started:  # a resumed study starts with its earlier trials done
            self.progress.update(self.task, completed=result.n_finished - counted)
            self.started = True
        value = f"{trial.value:.4f}" if trial.value is not None else "-"
        best = f"{result.best_value:.4f} (trial {result.best_trial})" if result.best_trial is not None else "-"
        took = trial.wall_seconds
        note = "".join(f"  {k}={v}" for k, v in trial.tags.items())
        note += f"  [red]{trial.error}[/]" if trial.error else ""
        method = f" {trial.method:<10}" if self.show_method else ""
        self.console.print(f"trial {trial.number:>3}{method} {trial.state:<8} val macro-F1 {value}  {took:6.1f}s{note}")
        self.progress.update(self.task, advance=int(counted), description=f"best {best}")


def _print_summary(console: Console, result: StudyResult, spec: SearchSpec) -> None:
    console.print(f"study {result.study_name}: {finished_line(result, spec)}")
    if result.leaderboard:  # a search over several methods
        from automl_har.cli.studies import print_leaderboard

        print_leaderboard(console, result.leaderboard, result.excluded)
    for reason, count in result.failures.items():  # the failed trials, grouped by reason
        console.print(f"  {count} failed: {reason}", markup=False)
    if result.best_trial is not None:
        console.print(f"best trial {result.best_trial}: validation macro-F1 {result.best_value:.4f}"
                      + (" (see the Pareto front with `autohar show`)" if spec.multi_objective else ""))
        console.print("best params: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()))
    console.print(f"MLflow parent run {result.parent_run_id}; browse the trials with:")
    print_command(console, f"  autohar ui --workdir {spec.workspace.root} --study {result.study_name}")
    if result.best_trial is not None:  # a few-label winner is often draw noise: say how to check it
        console.print("check the winner on fresh label draws:")
        print_command(console, f"  autohar verify {result.study_name} --workdir {spec.workspace.root}")
