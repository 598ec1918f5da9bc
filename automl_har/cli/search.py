"""``autohar search``: run or resume a hyperparameter search."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from automl_har.cli._common import (
    Device, StorageOption, WorkdirOption, exit_on_user_error, kill_as_interrupt, method_enum, resolve_device,
)
from automl_har.cli._pool import (
    DATA_DIR_HELP, DATASETS_HELP, LABEL_MAP_HELP, NORMALIZATION_HELP, TARGET_HELP, check_zero_shot, experiment_data,
    window_options,
)
from automl_har.engines import FIDELITIES, PRUNERS, SAMPLERS, SearchSpec, StudyResult, TrialSummary
from automl_har.errors import SearchError

DEFAULT_BUDGET = 0.2
Sampler = Enum("Sampler", {n: n for n in SAMPLERS}, type=str)
Fidelity = Enum("Fidelity", {n: n for n in FIDELITIES}, type=str)
Pruner = Enum("Pruner", {n: n for n in PRUNERS}, type=str)
Engine = Enum("Engine", {n: n for n in ("optuna", "ray")}, type=str)
ValidationMode = Enum("ValidationMode", {n: n for n in ("full", "few")}, type=str)
MethodName = method_enum()

app = typer.Typer(help="Run or resume a hyperparameter search.")


def _positive(value: Optional[float], name: str) -> None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be positive, but got {value}", param_hint=name)


@app.callback(invoke_without_command=True)
@exit_on_user_error
def search(
    method: MethodName = typer.Option(..., "--method", "-m", help="Training method (see `autohar methods`)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset name (see `autohar datasets`) or a path to a custom .npz file / CSV folder."),
    preset: Optional[str] = typer.Option(None, "--preset", help="A paper's protocol (dataset, modalities, subjects, labels), e.g. cosmo-utd; options you give win."),
    data_dir: Optional[list[str]] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    datasets: Optional[str] = typer.Option(None, "--datasets", help=DATASETS_HELP),
    target: Optional[str] = typer.Option(None, "--target", help=TARGET_HELP),
    label_map: Optional[str] = typer.Option(None, "--label-map", show_default=False, help=LABEL_MAP_HELP + " [default: builtin]"),
    normalization: Optional[str] = typer.Option(None, "--normalization", show_default=False, help=NORMALIZATION_HELP),
    trials: int = typer.Option(20, "--trials", "-n", min=1, help="Stop when this many trials are finished in total (a resumed study counts its earlier trials)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Start no new trial after this many seconds."),
    sampler: Sampler = typer.Option("tpe", "--sampler", help="Optuna sampler; grid walks the method's GRID with everything else at DEFAULTS; staged: few pre-trainings, many fine-tunings on each, successive halving between them (methods that pre-train, docs/search.md)."),
    pruner: Optional[Pruner] = typer.Option(None, "--pruner", show_default=False, help="Optuna pruner (median/hyperband: per-epoch curves; wilcoxon: per label draw). Default: none with --sampler grid (every grid point runs to its end) or staged (successive halving over pre-trainings is its early stopping), else median."),
    param: Optional[list[str]] = typer.Option(None, "--param", help="Fix a hyperparameter in every trial, KEY=VALUE (repeatable), e.g. --param epochs=50."),
    space: str = typer.Option("default", "--space", help="Search space variant: full (both stages), finetune (pre-training at the paper's values: one cached pre-training) or default."),
    fidelity: Fidelity = typer.Option("trials", "--fidelity", help="--sampler staged: what a promoted pre-training gets more of: trials (fine-tuning trials) or epochs (also a longer pre-training, continued from its shorter one's checkpoint)."),
    study: Optional[str] = typer.Option(None, "--study", help="Study name; the same name resumes. Default <method>-<dataset>."),
    storage: Optional[str] = StorageOption,
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (e.g. a server). Default SQLite in the workdir."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampler only (the data has --split-seed and --draw-seed)."),
    split: Optional[str] = typer.Option(None, "--split", show_default=False, help="subjects (default) | folds:K (K-fold over the non-test subjects) | windows (validation and test windows 1:1 from the same held-out subjects) | within_subject (70/10/20 in time inside every subject and class, Presotto et al.); a --preset may set it."),
    validation: ValidationMode = typer.Option("full", "--validation", help="full: every validation window is labeled; few: each draw also draws --labels-per-class validation windows per class, and selection sees only those."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the subject split / folds / window split."),
    draw_seed: int = typer.Option(0, "--draw-seed", help="Seed of the label draws and of pre-training."),
    labels_per_class: Optional[int] = typer.Option(None, "--labels-per-class", min=1, help="Labeled windows per class in each draw [default: 10]."),
    label_ratio: Optional[float] = typer.Option(None, "--label-ratio", help="Fraction of training windows labeled, in (0, 1] (instead of --labels-per-class); 0 = zero-shot, for methods that transfer from labeled sources."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Seeded label draws per trial; the trial value is their mean validation macro-F1."),
    val_subjects: Optional[str] = typer.Option(None, "--val-subjects", help="Comma-separated validation subject ids [default: a seeded 20% of subjects]; 'none' only for `autohar reproduce`-style train/test protocols."),
    test_subjects: Optional[str] = typer.Option(None, "--test-subjects", help="Comma-separated test subject ids [default: a seeded 20% of subjects]."),
    window_s: Optional[float] = typer.Option(None, "--window-s", help="Window length in seconds [default: the method's (combined: 2.56), else the dataset's]."),
    overlap: Optional[float] = typer.Option(None, "--overlap", show_default=False, help="Window overlap fraction in [0, 1) [default: 0.5]."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Resample every modality to this rate in Hz [default: the method's (combined: 50), else native rates]."),
    modalities: Optional[str] = typer.Option(None, "--modalities", help="Comma-separated modalities to use [default: all]."),
    workdir: Optional[Path] = WorkdirOption,
    device: Device = typer.Option(Device.auto, "--device", help="auto picks CUDA when available."),
    budget: float = typer.Option(DEFAULT_BUDGET, "--budget", help=f"Fraction of each method's paper epochs to run (1.0 = the paper's). Default {DEFAULT_BUDGET}, CPU-friendly."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or per-trial lines."),
    objectives: str = typer.Option("f1", "--objectives", help="f1, or f1 plus costs to minimize: f1,latency | f1,params | f1,macs (multi-objective: Pareto front, no pruning; use --sampler nsga2 or tpe)."),
    engine: Engine = typer.Option("optuna", "--engine", help="optuna: ask/tell loop(s); ray: Ray Tune schedules the trials (same sampler, pruner and study)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Trials run at once (optuna: worker processes sharing the study; ray: concurrent trials)."),
    cpus_per_trial: int = typer.Option(1, "--cpus-per-trial", min=1, help="ray: CPUs (and torch threads) per trial."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", min=0.0, help="ray: GPU fraction per trial when a GPU exists."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="ray: join a cluster started with `ray start --head` (e.g. 10.0.0.5:6379)."),
) -> None:
    """Search hyperparameters of METHOD on DATASET; every trial is tracked in MLflow."""
    from automl_har.data.registry import WindowOptions
    from automl_har.engines.optuna import search as run_search
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.workspace import Workspace

    _positive(timeout, "--timeout")
    _positive(budget, "--budget")
    if labels_per_class is not None and label_ratio is not None:
        raise typer.BadParameter("give either --labels-per-class or --label-ratio, not both", param_hint="--label-ratio")
    check_zero_shot(method.value, label_ratio)
    fixed = parse_fixed_params(param or [])
    chosen = {}  # what the preset sets, where the user typed nothing
    if preset is not None:
        from automl_har.objectives.presets import apply_preset, get_preset, preset_params

        picked = get_preset(preset)
        chosen = apply_preset(picked)
        fixed = {**preset_params(picked, method.value), **fixed}
    reads = experiment_data(method.value, dataset=dataset, datasets=datasets, target=target, data_dir_values=data_dir,
                            label_map=label_map, normalization=normalization, chosen=chosen)
    from_preset = chosen.get("protocol", {})
    ratio = label_ratio if label_ratio is not None else from_preset.get("label_ratio")
    per_class = labels_per_class or (None if ratio is not None else from_preset.get("labels_per_class") or 10)
    window = window_options(method.value, chosen, pool=bool(reads.get("sources")),
                            typed={"window_s": window_s, "rate_hz": rate, "overlap": overlap})
    experiment = ExperimentSpec(
        method=method.value,
        **reads,
        window=WindowOptions(**window),
        modalities=_id_list(modalities) or chosen.get("modalities"),
        protocol=Protocol(
            labels_per_class=per_class, label_ratio=ratio,
            repeats=repeats, seed=draw_seed, split=split or from_preset.get("split", "subjects"), validation=validation.value, split_seed=split_seed,
            val_subjects=subject_list(val_subjects) if val_subjects is not None else from_preset.get("val_subjects"),
            test_subjects=_id_list(test_subjects) or from_preset.get("test_subjects"),
            **{k: from_preset[k] for k in ("ratio_of", "draw_by_subject") if k in from_preset},
        ),
        budget=budget,
        device=resolve_device(device),
    )
    spec = SearchSpec(
        experiment=experiment,
        workspace=Workspace.resolve(workdir),
        study_name=study,
        n_trials=trials,
        timeout=timeout,
        sampler=sampler.value,
        pruner=pruner.value if pruner else None,  # None: the sampler's default (SearchSpec)
        storage=storage,
        tracking_uri=tracking_uri,
        seed=seed,
        space=space,
        fixed_params=fixed,
        workers=workers if engine == Engine.optuna else 1,
        objectives=_id_list(objectives) or ("f1",),
        fidelity=fidelity.value,
    )
    if spec.multi_objective and engine == Engine.ray:
        raise typer.BadParameter("multi-objective search runs on the optuna engine only", param_hint="--objectives")
    console = Console(stderr=True, quiet=quiet)
    pool = f" from {', '.join(experiment.sources)}" if experiment.sources else ""
    header = (f"study [bold]{spec.resolved_study_name}[/]: {method.value} on {experiment.dataset}{pool}, "
              f"{trials} trials, sampler {sampler.value}, pruner {spec.pruner}, budget {budget}")
    with kill_as_interrupt(), _TrialProgress(console, trials, quiet, header) as progress:
        if engine == Engine.ray:
            from automl_har.engines.ray import RayOptions, search as ray_search

            options = RayOptions(workers, cpus_per_trial, gpus_per_trial, ray_address)
            result = ray_search(spec, options, on_trial_end=progress.update, on_ready=progress.start)
        else:
            result = run_search(spec, on_trial_end=progress.update, on_ready=progress.start)
    _print_summary(Console(quiet=quiet), result, spec)
    if result.best_trial is None:
        raise SearchError(f"study {result.study_name!r} has no complete trial yet; see the failures above, fix "
                          f"them and run the same command again to continue the study")


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


def parse_fixed_params(pairs: list[str]) -> dict:
    """``["lr=0.01", "mode=m2u"]`` -> ``{"lr": 0.01, "mode": "m2u"}`` (values parsed as YAML scalars)."""
    import yaml

    fixed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, but got {pair!r}", param_hint="--param")
        fixed[key.strip()] = yaml.safe_load(value)
    return fixed


def subject_list(text: str) -> tuple[str, ...]:
    """``--val-subjects`` text: ``"6"`` -> ``("6",)``; ``"none"`` -> ``()`` (no validation part)."""
    return () if text.strip().lower() == "none" else (_id_list(text) or ())


def _id_list(text: Optional[str]) -> Optional[tuple[str, ...]]:
    return tuple(part.strip() for part in text.split(",") if part.strip()) if text else None


class _TrialProgress:
    """The study's header line, then a rich progress bar: trials n/N, best value so far, ETA; one
    line per finished trial. Both appear at :meth:`start`, once the engine's checks have passed."""

    def __init__(self, console: Console, total: int, quiet: bool, header: str) -> None:
        self.console, self.header, self.shown = console, header, False
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
        self.console.print(f"trial {trial.number:>3} {trial.state:<8} val macro-F1 {value}  {took:6.1f}s{note}")
        self.progress.update(self.task, advance=int(counted), description=f"best {best}")


def _print_summary(console: Console, result: StudyResult, spec: SearchSpec) -> None:
    console.print(f"study {result.study_name}: {finished_line(result, spec)}")
    for reason, count in result.failures.items():  # the failed trials, grouped by reason
        console.print(f"  {count} failed: {reason}", markup=False)
    if result.best_trial is not None:
        console.print(f"best trial {result.best_trial}: validation macro-F1 {result.best_value:.4f}"
                      + (" (see the Pareto front with `autohar show`)" if spec.multi_objective else ""))
        console.print("best params: " + ", ".join(f"{k}={v}" for k, v in result.best_params.items()))
    console.print(f"MLflow parent run {result.parent_run_id}; browse with `autohar ui --workdir {spec.workspace.root}`")
    if result.best_trial is not None:  # a few-label winner is often draw noise: say how to check it
        console.print(f"check the winner on fresh label draws: `autohar verify {result.study_name} --workdir {spec.workspace.root}`")
