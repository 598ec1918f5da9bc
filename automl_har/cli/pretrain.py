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
from automl_har.cli import _options as o
from automl_har.cli._common import exit_on_user_error


def _pretraining_methods() -> list[str]:
    from automl_har.methods import methods_with_tag

    return methods_with_tag("image_pretraining")


@exit_on_user_error
def pretrain(
    method: str = typer.Option(..., "--method", "-m", help="Method with stand-alone pre-training (img2imu)."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint file to write (torch.save)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of JPEG/PNG images (recursive), resized to the method's image size."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Without --images: pre-train on this dataset's unlabeled training windows."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder of the dataset's files."),
    window_s: o.WindowSeconds = None,
    rate: o.Rate = None,
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs to run (overrides --budget)."),
    budget: o.Budget = None,
    param: o.Params = None,
    seed: int = typer.Option(0, "--seed", help="Seed of the pre-training (and of the subject split without --images)."),
    workdir: o.Workdir = None,
    device: o.Device = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
) -> None:
    """Pre-train a method's encoder (e.g. img2imu: MoCo on images) and save the checkpoint.

    Pre-train METHOD's encoder on --images (or on --dataset windows) and write --out.

    Example: autohar pretrain -m img2imu --images ~/images --out moco.pt
    """
    import torch

    from automl_har.cache import StageCache
    from automl_har.config import Layer, build, resolve
    from automl_har.methods import MethodContext, get_method
    from automl_har.workspace import Workspace

    choices = _pretraining_methods()
    if method not in choices:
        raise typer.BadParameter(f"{method!r} has no stand-alone pre-training; choose one of {', '.join(choices)}", param_hint="--method")
    if images is None and dataset is None:
        raise typer.BadParameter("give --images DIR, or --dataset NAME to pre-train on its unlabeled windows", param_hint="--images")
    config = resolve(Layer("options", {  # the same layers as a search's, so the windows are the search's
        "method": method, "params": o.parse_fixed_params(param),
        "data": {"dataset": dataset, "data_dir": str(data_dir) if data_dir else None,
                 "window": {"window_s": window_s, "rate_hz": rate}},
        "protocol": {"draw_seed": seed, "split_seed": seed}, "search": {"budget": budget},
        "engine": {"device": o.value_of(device)}, "tracking": {"workdir": str(workdir) if workdir else None}}))
    budget = config.search.budget
    console = Console(stderr=True, quiet=quiet, soft_wrap=True)
    chosen = get_method(method)
    params = chosen.parse_params(dict(config.params))
    device_name = build.resolve_device(config.engine.device)
    experiment = build.experiment_spec(config, device_name) if images is None else None
    workspace = Workspace.resolve(config.tracking.workdir).create()
    curves: dict[str, list[float]] = {}
    tags: dict[str, str] = {}
    ctx = MethodContext(
        device=torch.device(device_name), seed=seed, budget=budget, cache=StageCache(workspace.cache_dir),
        metric_logger=lambda metrics, step: [curves.setdefault(k, []).append(float(v)) for k, v in metrics.items()],
        tag_logger=tags.__setitem__,
    )
    source, description = _source(images, experiment, chosen, params)
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
    # the method's own names stay its own: the first loss curve it logged, the cache tag of its stage
    curve_name, loss = next(iter(checkpoint["history"].items()), ("loss", [float("nan")]))
    cache = next((v for k, v in tags.items() if k.startswith("cache.")), "-")
    console.print(f"cache {cache}; final {curve_name} {loss[-1]:.4f}; wrote {out} (MLflow run {run_id})")
    source = "images" if trained_on == "images" else "weights"
    console.print(f"use it: autohar search --method {method} ... --param pretrain_source={source} --param encoder_weights={out}")


def _source(images, experiment, method, params):
    """The pre-training data (an image folder, or the unlabeled training windows of ``experiment``)
    and a one-line description."""
    if images is not None:
        from automl_har.data.images import ImageFolder

        folder = ImageFolder(images, params.image_height, params.image_width)
        return folder, f"{len(folder)} images under {folder.root.absolute()}"
    from automl_har.objectives.prepared import prepare_data

    train = prepare_data(experiment).train
    method.check_data(train)
    description = f"spectrogram images of {len(train)} unlabeled training windows of {experiment.dataset} (no --images)"
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
