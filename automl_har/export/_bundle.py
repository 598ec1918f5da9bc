"""The deployment bundle: ``autohar.yaml`` + ``model.pt`` (TorchScript) / ``model.onnx`` + ``MODEL.md``.

``autohar.yaml`` holds everything needed to turn a raw recording into the model's input
(modalities with channel order, sampling rate, window length/overlap, z-score statistics,
the input layout), the label map, every hyperparameter, the experiment (so ``autohar train
--config`` can re-run it), provenance, metrics and the measured cost.
"""

from __future__ import annotations

import datetime as _dt
import platform
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import yaml

import automl_har
from automl_har.data import WindowedData
from automl_har.data.tensors import shared_tensor
from automl_har.errors import ConfigError, first_line, plain
from automl_har.export import _script
from automl_har.export._card import write_card
from automl_har.export._latency import measure
from automl_har.methods import get_method
from automl_har.objectives import ExperimentSpec, load_model

FORMAT = "autohar-bundle/1"
CONFIG_FILE, TORCHSCRIPT_FILE, ONNX_FILE, CARD_FILE = "autohar.yaml", "model.pt", "model.onnx", "MODEL.md"
FORMATS = ("torchscript", "onnx", "both")
#: the sections of ``autohar.yaml`` that ``predict`` and ``train`` read
REQUIRED_KEYS = ("method", "classes", "modalities", "window", "normalization", "params", "experiment", "model",
                 "metrics", "provenance")
#: hyperparameter names that configure preprocessing inside a network (e.g. IMG2IMU's spectrogram)
PREPROCESSING_PARAMS = ("nfft", "noverlap", "noverlap_delta", "image_height", "image_width", "modality", "modality_groups")


def versions() -> dict[str, str]:
    import mlflow
    import optuna

    return {"autohar": automl_har.__version__, "torch": torch.__version__, "optuna": optuna.__version__,
            "mlflow": mlflow.__version__, "numpy": np.__version__, "python": platform.python_version()}


def example_windows(checkpoint: Mapping[str, Any], n: int = 2, seed: int = 0) -> WindowedData:
    """``n`` random windows shaped like the checkpoint's inputs (for tracing and timing)."""
    rng = np.random.default_rng(seed)
    modalities = {m: rng.standard_normal((n, int(checkpoint["window_length"][m]), len(ch))).astype(np.float32)
                  for m, ch in checkpoint["channels"].items()}
    classes = list(checkpoint["classes"])
    return WindowedData(modalities, np.arange(n) % len(classes), np.zeros(n, np.int64), classes,
                        {m: float(checkpoint["rates_hz"][m]) for m in modalities},
                        {m: list(ch) for m, ch in checkpoint["channels"].items()})


def deployable(checkpoint: Mapping[str, Any]) -> tuple[torch.nn.Module, tuple, str, list[str]]:
    """The module to ship, a batch-1 example input, its input kind (``windows``/``network``) and
    input names."""
    method = get_method(checkpoint["method"])
    network = load_model(checkpoint).module.eval()
    windows = example_windows(checkpoint)
    layout = method.input_layout
    if layout is not None:
        module = _script.DeployedModel(network, list(checkpoint["channels"]), checkpoint["normalization"], layout)
        example = tuple(shared_tensor(np.ascontiguousarray(x[:1])) for x in windows.modalities.values())
        return module.eval(), example, "windows", list(checkpoint["channels"])
    inputs = method.model_inputs(windows)
    keys = list(inputs) if isinstance(inputs, dict) else None
    example = tuple(x[:1] for x in _script.as_tuple(inputs))
    return _script.NetworkOnly(network, keys).eval(), example, "network", keys or ["inputs"]


def bundle_config(checkpoint: Mapping[str, Any], experiment: ExperimentSpec, provenance: Mapping[str, Any],
                  metrics: Mapping[str, float]) -> dict[str, Any]:
    """The ``autohar.yaml`` content of a checkpoint (without the ``model``/``cost`` sections)."""
    params = dict(checkpoint["params"])
    window = asdict(experiment.window)
    return {
        "format": FORMAT,
        "method": checkpoint["method"],
        "classes": list(checkpoint["classes"]),
        "modalities": {m: {"channels": list(ch), "rate_hz": float(checkpoint["rates_hz"][m]),
                           "window_length": int(checkpoint["window_length"][m])}
                       for m, ch in checkpoint["channels"].items()},
        "window": {"window_s": window["window_s"], "overlap": float(window["overlap"]), "rate_hz": window["rate_hz"]},
        "normalization": checkpoint["normalization"],
        "preprocessing": {"input": get_method(checkpoint["method"]).tags.get("input", "raw"),
                          **{k: params[k] for k in PREPROCESSING_PARAMS if k in params}},
        "params": params,
        "build_kwargs": dict(checkpoint["build_kwargs"]),
        "experiment": _plain(asdict(experiment)),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "provenance": {**dict(provenance), "label_draw": int(checkpoint.get("label_draw", 0)),
                       "fold": int(checkpoint.get("fold", 0)),
                       "draw_seed": experiment.protocol.draw_seed(int(checkpoint.get("label_draw", 0))),
                       "versions": versions(), "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat()},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, str):
        return str(value)  # e.g. torch.__version__ is a str subclass YAML cannot write
    return value


def write_bundle(out: Path, checkpoint: Mapping[str, Any], experiment: ExperimentSpec,
                 provenance: Mapping[str, Any], metrics: Mapping[str, float], fmt: str = "torchscript") -> dict:
    """Write the bundle folder; returns its config (with ``model`` and ``cost`` filled in)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt in ("onnx", "both"):
        _script.require_onnx()  # fail before any work
    out = make_bundle_folder(out)
    config = bundle_config(checkpoint, experiment, provenance, metrics)
    module, example, kind, names = deployable(checkpoint)
    files = {}
    with warnings.catch_warnings():  # shape arithmetic in the layouts is constant for a bundle
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = _script.trace(module, example)
    if fmt in ("onnx", "both"):
        _script.save_onnx(module, example, out / ONNX_FILE, names)
        files["onnx"] = ONNX_FILE
    if fmt in ("torchscript", "both"):
        traced.save(str(out / TORCHSCRIPT_FILE))
        files["torchscript"] = TORCHSCRIPT_FILE
    config["model"] = {"files": files, "input": kind, "input_names": names,
                       "input_shapes": [list(x.shape) for x in example], "output": "logits (N, n_classes)"}
    config["cost"] = measure(module, example, timed_module=traced)
    write_config(out / CONFIG_FILE, config)
    write_card(out / CARD_FILE, config)
    return config


def check_bundle_folder(out: Path) -> Path:
    """``out`` as a bundle folder to write, checked before any work: a one-line error when it, or a
    folder above it, is a file."""
    out = Path(out)
    blocking = next((p for p in (out, *out.absolute().parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        what = f"--out {out}" + ("" if blocking == out else f": {blocking}")
        raise ConfigError(f"{what} is a file, but a bundle is a folder of files; pass a new or existing folder "
                          "to --out")
    return out


def make_bundle_folder(out: Path) -> Path:
    """Create the bundle folder ``out`` (see :func:`check_bundle_folder`); a one-line error when it cannot."""
    out = check_bundle_folder(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create the bundle folder {out} ({err.strerror or err}); pass a folder you can "
                          "write to with --out") from None
    return out


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    Path(path).write_text(yaml.safe_dump(_plain(dict(config)), sort_keys=False, allow_unicode=True))


def read_config(path: Path) -> dict[str, Any]:
    """``autohar.yaml`` of a bundle (a folder or the file itself), checked for its format."""
    given = Path(path)
    path = given / CONFIG_FILE if given.is_dir() else given
    if not given.exists():
        raise ConfigError(f"{given} does not exist; pass a bundle folder written by `autohar export`, or its "
                          f"{CONFIG_FILE}")
    if not path.is_file():
        raise ConfigError(f"folder {given} has no {CONFIG_FILE}; pass a bundle folder written by `autohar export`")
    try:
        config = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{path} is not valid YAML ({first_line(err)}); export the bundle again with "
                          "`autohar export` or restore the file") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        got = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ConfigError(f"{path} is not an autohar bundle config (format {plain(got)!r}, expected {FORMAT!r}); "
                          "pass the autohar.yaml written by `autohar export`")
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}; export the bundle again with `autohar export` "
                          "or restore the file")
    return config


def experiment_from_config(config: Mapping[str, Any]) -> ExperimentSpec:
    return ExperimentSpec.from_dict(config["experiment"])
