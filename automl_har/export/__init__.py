"""Tuned configuration -> deployable bundle (autohar.yaml, TorchScript/ONNX, MODEL.md); predict on
raw recordings; re-train from an exported config; latency/size measurement."""

from __future__ import annotations

from typing import Any, Mapping

from automl_har.export._bundle import (
    CARD_FILE,
    CONFIG_FILE,
    FORMATS,
    ONNX_FILE,
    TORCHSCRIPT_FILE,
    deployable,
    read_config,
    write_bundle,
    write_config,
)
from automl_har.export._latency import count_macs, count_parameters, latency_ms, measure
from automl_har.export._predict import BundleModel, read_recording, recording_windows
from automl_har.export._study import export_study, load_study, select_trial, train_from_config, trial_checkpoint


def measure_checkpoint(checkpoint: Mapping[str, Any], runs: int = 50) -> dict[str, Any]:
    """Batch-1 latency (eager), parameter count and MACs of a trial checkpoint's model."""
    module, example, _, _ = deployable(checkpoint)
    return measure(module, example, runs)


__all__ = [
    "CARD_FILE",
    "CONFIG_FILE",
    "FORMATS",
    "ONNX_FILE",
    "TORCHSCRIPT_FILE",
    "BundleModel",
    "count_macs",
    "count_parameters",
    "deployable",
    "export_study",
    "latency_ms",
    "load_study",
    "measure",
    "measure_checkpoint",
    "read_config",
    "read_recording",
    "recording_windows",
    "select_trial",
    "train_from_config",
    "trial_checkpoint",
    "write_bundle",
    "write_config",
]
