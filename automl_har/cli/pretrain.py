"""``autohar pretrain``: pre-train an encoder once, outside a search (e.g. IMG2IMU's MoCo on images).

With ``--images DIR`` the encoder learns from a folder of JPEG/PNG images (any tree, e.g.
ImageNet); without it, from spectrogram images of the dataset's unlabeled training windows
(the same windows, split and seed a search uses, so a later search reuses the cached encoder).
The checkpoint is a MoCo-style file that records what MoCo saw (``pretrained_on``: ``images`` or
``windows``); pass it to a search with ``--param pretrain_source=images --param encoder_weights=CKPT``
(the paper's setting) or, for a windows checkpoint, ``pretrain_source=weights``.
Every run is an MLflow run (experiment ``autohar``) with its source, parameters and loss curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from automl_har.attrs import KIND_TAG, METHOD_TAG, TAG_PREFIX
from automl_har.cli._common import Device, WorkdirOption, exit_on_user_error, resolve_device

DEFAULT_BUDGET = 0.2

app = typer.Typer(help="Pre-train a method's encoder (e.g. img2imu: MoCo on images) and save the checkpoint.")


def _pretraining_methods() -> list[str]:
    from automl_har.methods import methods_with_tag

    return methods_with_tag("image_pretraining")


@app.callback(invoke_without_command=True)
@exit_on_user_error
def pretrain(
    method: str = typer.Option(..., "--method", "-m", help="Method with stand-alone pre-training (img2imu)."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint file to write (torch.save)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of JPEG/PNG images (recursive), resized to the method's image size."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Without --images: pre-train on this dataset's unlabeled training windows."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder of the dataset's files."),
    window_s: Optional[float] = typer.Option(None, "--window-s", help="Window length in seconds (default: the dataset's)."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Resample to this rate in Hz (default: the dataset's)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs to run (overrides --budget)."),
    budget: float = typer.Option(DEFAULT_BUDGET, "--budget", help="Fraction of the paper's pre-training epochs (1.0 = 40 for img2imu)."),
    param: Optional[list[str]] = typer.Option(None, "--param", help="Method hyperparameter KEY=VALUE (repeatable), e.g. --param queue_size=1024."),
    seed: int = typer.Option(0, "--seed", help="Seed of the pre-training (and of the subject split without --images)."),
    workdir: Optional[Path] = WorkdirOption,
    device: Device = typer.Option(Device.auto, "--device", help="auto picks CUDA when available."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
) -> None:
    """Pre-train METHOD's encoder on --images (or on --dataset windows) and write --out."""
    import torch

    from automl_har.cache import StageCache
    from automl_har.cli.search import parse_fixed_params
    from automl_har.methods import MethodContext, get_method
    from automl_har.workspace import Workspace

    choices = _pretraining_methods()
    if method not in choices:
        raise typer.BadParameter(f"{method!r} has no stand-alone pre-training; choose one of {', '.join(choices)}", param_hint="--method")
    if images is None and dataset is None:
        raise typer.BadParameter("give --images DIR, or --dataset NAME to pre-train on its unlabeled windows", param_hint="--images")
    if budget <= 0:
        raise typer.BadParameter(f"must be positive, but got {budget}", param_hint="--budget")
    console = Console(stderr=True, quiet=quiet, soft_wrap=True)
    chosen = get_method(method)
    params = chosen.parse_params(parse_fixed_params(param or []))
    workspace = Workspace.resolve(workdir).create()
    curves: dict[str, list[float]] = {}
    tags: dict[str, str] = {}
    ctx = MethodContext(
        device=torch.device(resolve_device(device)), seed=seed, budget=budget, cache=StageCache(workspace.cache_dir),
        metric_logger=lambda metrics, step: [curves.setdefault(k, []).append(float(v)) for k, v in metrics.items()],
        tag_logger=tags.__setitem__,
    )
    source, description = _source(images, dataset, data_dir, window_s, rate, seed, chosen, params)
    console.print(f"{method}: pre-training on {description} "
                  f"({'epochs ' + str(epochs) if epochs else f'budget {budget}'}, seed {seed}, cache {workspace.cache_dir})")
    checkpoint = chosen.pretrain_checkpoint(source, params, ctx, epochs)
    tags["pretrain_source"] = description
    out = out.expanduser().absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    trained_on = "images" if images is not None else "windows"
    torch.save({**checkpoint, "method": method, "params": vars(params), "source": description,
                "pretrained_on": trained_on}, out)
    run_id = _track(workspace, method, description, params, checkpoint, tags, out)
    loss = checkpoint["history"].get("moco_loss") or [float("nan")]
    console.print(f"cache {tags.get('cache.img2imu_pretrain', '-')}; final loss {loss[-1]:.4f}; wrote {out} (MLflow run {run_id})")
    source = "images" if trained_on == "images" else "weights"
    console.print(f"use it: autohar search --method {method} ... --param pretrain_source={source} --param encoder_weights={out}")


def _source(images, dataset, data_dir, window_s, rate, seed, method, params):
    """The pre-training data (an image folder or unlabeled windows) and a one-line description."""
    if images is not None:
        from automl_har.data.images import ImageFolder

        folder = ImageFolder(images, params.image_height, params.image_width)
        return folder, f"{len(folder)} images under {folder.root.absolute()}"
    from automl_har.data.registry import WindowOptions
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.objectives.prepared import prepare_data

    spec = ExperimentSpec(method=method.name, dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                          window=WindowOptions(window_s=window_s, rate_hz=rate), protocol=Protocol(seed=seed, split_seed=seed))
    train = prepare_data(spec).train
    method.check_data(train)
    description = f"spectrogram images of {len(train)} unlabeled training windows of {dataset} (no --images)"
    return train.without_labels(), description


def _track(workspace, method, description, params, checkpoint, tags, out) -> str:
    """One MLflow run (experiment ``autohar``) with the source, parameters and loss curve."""
    from mlflow.entities import Metric

    from automl_har.tracking import StudyTracker

    tracker = StudyTracker(workspace.tracking_uri, workspace.artifact_uri, f"pretrain-{method}")
    run_tags = {KIND_TAG: "pretrain", METHOD_TAG: method, "autohar.pretrain_source": description[:250],
                "autohar.checkpoint": str(out), **{f"{TAG_PREFIX}{k}": str(v)[:250] for k, v in tags.items()}}
    run_id = tracker.open_parent(None, {k: str(v) for k, v in vars(params).items()}, run_tags)
    metrics = [Metric(k, v, 0, step) for k, values in checkpoint["history"].items() for step, v in enumerate(values)]
    if metrics:
        tracker.client.log_batch(run_id, metrics=metrics)
    tracker.close_parent("FINISHED")
    return run_id
