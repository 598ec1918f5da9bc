"""``autohar export``, ``autohar predict`` and ``autohar train``: ship a tuned model and re-run it."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error, storage_urls
from automl_har.cli._progress import StepProgress
from automl_har.cli._tables import Column, print_table


class Format(str, Enum):
    torchscript = "torchscript"
    onnx = "onnx"
    both = "both"


def _cost_line(config: dict) -> str:
    cost = config["cost"]
    return (f"latency {cost['latency_ms']:.3f} ms/window (batch 1, median of {cost['timed_runs']}), "
            f"{cost['n_params']} parameters, {cost['macs']} MACs")


@exit_on_user_error
def export(
    study: str = typer.Argument(..., metavar="STUDY", help="Study name (see `autohar studies`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle folder to write."),
    trial: str = typer.Option("best", "--trial", help="best (highest validation macro-F1) or a trial number."),
    fmt: Format = typer.Option(Format.torchscript, "--format", help="Model file(s): model.pt, model.onnx or both."),
    max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms", help="Best-F1 trial whose measured latency is at most this (multi-objective studies)."),
    register: Optional[str] = typer.Option(None, "--register", help="Register the model in the MLflow Model Registry under this name, alias champion."),
    storage: o.Storage = None,
    workdir: o.Workdir = None,
) -> None:
    """Write autohar.yaml, model.pt / model.onnx and MODEL.md for a trial of STUDY.

    Example: autohar export supervised-watch --out model/
    """
    from automl_har.export import export_study

    with StepProgress() as progress:  # a bar only when the trial kept no checkpoint and is re-trained
        config = export_study(study, storage_urls(storage, workdir), out, trial, fmt.value, max_latency_ms, register,
                              progress)
    prov = config["provenance"]
    console = Console()
    console.print(f"exported trial {prov['trial']} of {study} ({prov['source']}) to {out}")
    console.print(f"validation macro-F1 {config['metrics']['val_macro_f1_mean']:.4f}; {_cost_line(config)}")
    if register:
        console.print(f"registered as {register} with alias champion (MLflow run {prov['export_run_id']})")


@exit_on_user_error
def predict(
    bundle: Path = typer.Argument(..., metavar="DIR", help="Bundle folder written by `autohar export`."),
    recording: Path = typer.Argument(..., metavar="INPUT", help="Raw recording: CSV (<modality>_<axis> columns, optional timestamp) or npz."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", show_default=False, help="Write predictions to a .csv or .json file." + o.default_note("a table on stdout")),
    rate: Optional[float] = typer.Option(None, "--rate", show_default=False, help="Sampling rate of INPUT in Hz." + o.default_note("from its timestamp column")),
) -> None:
    """Resample, window, normalize and classify INPUT exactly as in training; one row per window.

    Example: autohar predict model/ recording.csv --out predictions.csv
    """
    from automl_har.errors import ConfigError
    from automl_har.export import BundleModel

    if rate is not None and rate <= 0:
        raise typer.BadParameter(f"must be positive, but got {rate}", param_hint="--rate")
    model = BundleModel(bundle)
    rows = model.predict_file(recording, rate)
    if out is None:  # every value whole: a table that fits, one block per window in a narrow terminal, plain when piped
        print_table(f"{recording.name}: {len(rows)} windows", [Column(key) for key in rows[0]], rows)
        return
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(rows, indent=1))
    elif out.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        out.write_text(buffer.getvalue())
    else:
        raise ConfigError(f"--out must end in .csv or .json, but got {out.name!r}")
    typer.echo(f"{len(rows)} windows -> {out}", err=True)


@exit_on_user_error
def train(
    config: Path = typer.Option(..., "--config", "-c", help="autohar.yaml of an exported bundle."),
    all_labels: bool = typer.Option(False, "--all-labels", help="Train on every labeled training window (one run) instead of the few-label protocol."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the re-trained model as a new bundle here."),
    fmt: Format = typer.Option(Format.torchscript, "--format", help="Model file(s) of the new bundle."),
) -> None:
    """Re-run the exported configuration on CPU and compare with the exported validation macro-F1.

    Example: autohar train --config model/autohar.yaml
    """
    from automl_har.export import train_from_config

    with StepProgress() as progress:
        result, exported = train_from_config(config, all_labels, out, fmt.value, progress)
    console = Console()
    console.print(f"validation macro-F1 {result.value:.4f} (test {result.metrics()['test_macro_f1_mean']:.4f})")
    if all_labels:
        console.print(f"exported few-label value {exported:.4f} (not comparable: --all-labels uses every label)")
    else:
        console.print(f"exported {exported:.4f}; difference {result.value - exported:+.4f}")
    if out is not None:
        console.print(f"bundle written to {out}")
