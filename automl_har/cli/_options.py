"""The options several commands share, each declared once, grouped into ``--help`` panels, and how
the typed ones become the top layer of an experiment (:mod:`automl_har.config.layers`).

An option left out is None, so it sets nothing and the layers below it (the ``--config`` file, the
preset, the method's tags, the schema's defaults) decide; each default is stated once, in the
schema, and the help reads it from there (:func:`default_note`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from automl_har.config.schema import DEVICES, ENGINES, default_of
from automl_har.search_spec import FIDELITIES, PRUNERS, SAMPLERS

DATA, PROTOCOL, SEARCH, ENGINE, TRACKING = "Data", "Protocol", "Search", "Engine", "Tracking"


def default_note(section_or_text: str, name: str | None = None) -> str:
    """`` [default: 20]`` for a help text: the schema's default of ``section.name``, or a default in
    words (``default_note("all")``). The bracket is escaped, else rich markup would swallow it."""
    value = default_of(section_or_text, name) if name is not None else section_or_text
    return f" \\[default: {value}]"


def _enum(name: str, names) -> type[Enum]:
    return Enum(name, {n: n for n in names}, type=str)


Sampler, Pruner, Fidelity = _enum("Sampler", SAMPLERS), _enum("Pruner", PRUNERS), _enum("Fidelity", FIDELITIES)
EngineName, DeviceName = _enum("EngineName", ENGINES), _enum("DeviceName", DEVICES)
ValidationMode = _enum("ValidationMode", ("full", "few"))

# ---------------------------------------------------------------------------------------- data
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", "-c", show_default=False, rich_help_panel=DATA,
    help="A YAML experiment (docs/experiment.yaml; `autohar show STUDY --config` writes one); options you type win.")]
Preset = Annotated[Optional[str], typer.Option(
    "--preset", show_default=False, rich_help_panel=DATA,
    help="A paper's protocol (dataset, modalities, subjects, labels), e.g. cosmo-utd; a --config file and options win.")]
Dataset = Annotated[Optional[str], typer.Option(
    "--dataset", "-d", show_default=False, rich_help_panel=DATA,
    help="Dataset name (see `autohar datasets`) or a path to a custom .npz file / CSV folder.")]
DataDirs = Annotated[Optional[list[str]], typer.Option(
    "--data-dir", show_default=False, rich_help_panel=DATA,
    help="Folder of a dataset's files: NAME=PATH (repeatable, for any dataset of the pool) or a bare PATH (the "
         "target's)." + default_note("$AUTOHAR_DATA/<dataset> or ~/.autohar/data/<dataset>"))]
Datasets = Annotated[Optional[str], typer.Option(
    "--datasets", show_default=False, rich_help_panel=DATA,
    help="Pool of datasets (comma list: names, name:variant or custom .npz/CSV paths) for methods that pre-train "
         "on labeled source datasets; the sources are the pool minus --target.")]
Target = Annotated[Optional[str], typer.Option(
    "--target", show_default=False, rich_help_panel=DATA,
    help="Target dataset of a pool (a synonym of --dataset for these methods).")]
LabelMap = Annotated[Optional[str], typer.Option(
    "--label-map", show_default=False, rich_help_panel=DATA,
    help="builtin (Presotto et al.'s 10 activities), identity (native class names) or a YAML file "
         "(docs/custom-data.md)." + default_note("data", "label_map"))]
Normalization = Annotated[Optional[str], typer.Option(
    "--normalization", show_default=False, rich_help_panel=DATA,
    help="channel (a z-score per channel) or sensor (per modality, pooled over its axes); a skeleton modality "
         "is always pooled (one affine for the whole body)." + default_note("the method's, else channel"))]
Modalities = Annotated[Optional[str], typer.Option(
    "--modalities", show_default=False, rich_help_panel=DATA, help="Comma-separated modalities to use." + default_note('all'))]
WindowSeconds = Annotated[Optional[float], typer.Option(
    "--window-s", show_default=False, rich_help_panel=DATA,
    help="Window length in seconds." + default_note("the method's (combined: 2.56), else the dataset's"))]
Overlap = Annotated[Optional[float], typer.Option(
    "--overlap", show_default=False, rich_help_panel=DATA,
    help="Window overlap fraction in [0, 1)." + default_note("window", "overlap"))]
Rate = Annotated[Optional[float], typer.Option(
    "--rate", show_default=False, rich_help_panel=DATA,
    help="Resample every modality to this rate in Hz." + default_note("the method's (combined: 50), else native rates"))]

# ------------------------------------------------------------------------------------ protocol
Split = Annotated[Optional[str], typer.Option(
    "--split", show_default=False, rich_help_panel=PROTOCOL,
    help="subjects | folds:K (K-fold over the non-test subjects) | windows (validation and test windows 1:1 from "
         "the same held-out subjects) | within_subject (70/10/20 in time inside every subject and class)." + default_note("protocol", "split"))]
Validation = Annotated[Optional[ValidationMode], typer.Option(
    "--validation", show_default=False, rich_help_panel=PROTOCOL,
    help="full: every validation window is labeled; few: each draw also draws --labels-per-class validation "
         "windows per class, and selection sees only those." + default_note("protocol", "validation"))]
SplitSeed = Annotated[Optional[int], typer.Option(
    "--split-seed", show_default=False, rich_help_panel=PROTOCOL,
    help="Seed of the subject split / folds / window split." + default_note("protocol", "split_seed"))]
DrawSeed = Annotated[Optional[int], typer.Option(
    "--draw-seed", show_default=False, rich_help_panel=PROTOCOL,
    help="Seed of the label draws and of pre-training." + default_note("protocol", "draw_seed"))]
LabelsPerClass = Annotated[Optional[int], typer.Option(
    "--labels-per-class", show_default=False, rich_help_panel=PROTOCOL,
    help="Labeled windows per class in each draw." + default_note('10'))]
LabelRatio = Annotated[Optional[float], typer.Option(
    "--label-ratio", show_default=False, rich_help_panel=PROTOCOL,
    help="Fraction of training windows labeled, in (0, 1] (instead of --labels-per-class); 0 = zero-shot, for "
         "methods that transfer from labeled sources.")]
Repeats = Annotated[Optional[int], typer.Option(
    "--repeats", show_default=False, rich_help_panel=PROTOCOL,
    help="Seeded label draws per trial; the trial value is their mean validation macro-F1." + default_note("protocol", "repeats"))]
ValSubjects = Annotated[Optional[str], typer.Option(
    "--val-subjects", show_default=False, rich_help_panel=PROTOCOL,
    help="Comma-separated validation subject ids; 'none' only for "
         "`autohar reproduce`-style train/test protocols." + default_note('a seeded 20% of subjects'))]
TestSubjects = Annotated[Optional[str], typer.Option(
    "--test-subjects", show_default=False, rich_help_panel=PROTOCOL,
    help="Comma-separated test subject ids." + default_note('a seeded 20% of subjects'))]
Budget = Annotated[Optional[float], typer.Option(
    "--budget", show_default=False, rich_help_panel=SEARCH,
    help="Fraction of each method's paper epochs to run (1.0 = the paper's; CPU-friendly default)." + default_note("search", "budget"))]
Params = Annotated[Optional[list[str]], typer.Option(
    "--param", show_default=False, rich_help_panel=SEARCH,
    help="Fix a hyperparameter in every trial, KEY=VALUE (repeatable), e.g. --param epochs=50.")]

# ------------------------------------------------------------------------------ engine, tracking
Device = Annotated[Optional[DeviceName], typer.Option(
    "--device", show_default=False, rich_help_panel=ENGINE,
    help="auto picks CUDA when available." + default_note("engine", "device"))]
Workdir = Annotated[Optional[Path], typer.Option(
    "--workdir", envvar="AUTOHAR_HOME", show_default=False, rich_help_panel=TRACKING,
    help="Workspace folder (Optuna storage, MLflow backend, artifacts, caches)." + default_note('./autohar-runs'))]
Storage = Annotated[Optional[str], typer.Option(
    "--storage", show_default=False, rich_help_panel=TRACKING,
    help="Optuna storage URL (any SQLAlchemy URL)." + default_note('the journal file in the workdir'))]
TrackingUri = Annotated[Optional[str], typer.Option(
    "--tracking-uri", show_default=False, rich_help_panel=TRACKING,
    help="MLflow tracking URI (e.g. a server)." + default_note('SQLite in the workdir'))]


JsonOutput = typer.Option(False, "--json", help="Print JSON (numbers unformatted) instead of a table, for scripts.")


def parse_fixed_params(pairs: list[str] | None) -> dict:
    """``["lr=0.01", "mode=m2u"]`` -> ``{"lr": 0.01, "mode": "m2u"}`` (values parsed as YAML scalars)."""
    import yaml

    fixed = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, but got {pair!r}", param_hint="--param")
        fixed[key.strip()] = yaml.safe_load(value)
    return fixed


def id_list(text: Optional[str]) -> Optional[list[str]]:
    """``"a, b"`` -> ``["a", "b"]``; None (nothing typed) stays None."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def subject_list(text: Optional[str]) -> Optional[list[str]]:
    """``--val-subjects`` text: ``"6"`` -> ``["6"]``; ``"none"`` -> ``[]`` (no validation part)."""
    if text is None:
        return None
    return [] if text.strip().lower() == "none" else (id_list(text) or [])


def data_dirs_of(values: Optional[list[str]]) -> tuple[Optional[str], dict[str, str]]:
    """``--data-dir`` values -> (the target's bare PATH or None, ``{name: path}``)."""
    bare, named = None, {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if sep and name.strip() and path.strip():
            named[name.strip()] = path.strip()
        elif bare is None:
            bare = value
        else:
            raise typer.BadParameter(f"give one bare PATH (the target's folder) and NAME=PATH for the others, but got "
                                     f"{bare!r} and {value!r}", param_hint="--data-dir")
    return bare, named


def value_of(option: Any) -> Any:
    """An Enum option's value; anything else as it is."""
    return option.value if isinstance(option, Enum) else option
