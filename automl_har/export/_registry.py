"""MLflow Model Registry: log the exported model with ``mlflow.pytorch`` (signature + input
example), register it under a name and point the ``champion`` alias at the new version."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from automl_har.attrs import METHOD_TAG
from automl_har.errors import ConfigError
from automl_har.export._bundle import TORCHSCRIPT_FILE

CHAMPION = "champion"


class ConcatenatedInput(nn.Module):
    """One ``(N, T, sum C_m)`` tensor (channels in the bundle's order) split per modality, so the
    registered model has a single tensor input as MLflow's pyfunc expects."""

    def __init__(self, module: nn.Module, sizes: list[int]) -> None:
        super().__init__()
        self.module, self.sizes = module, sizes

    def forward(self, x: Tensor) -> Tensor:
        return self.module(*torch.split(x, self.sizes, dim=2))


def registry_model(folder: Path, config: Mapping[str, Any]) -> tuple[torch.jit.ScriptModule, np.ndarray]:
    """The TorchScript model with one tensor input, and a batch-1 input example."""
    path = Path(folder) / TORCHSCRIPT_FILE
    if not path.is_file():
        raise ConfigError(f"--register needs {TORCHSCRIPT_FILE}; export with --format torchscript or both")
    module = torch.jit.load(str(path), map_location="cpu").eval()
    shapes = config["model"]["input_shapes"]
    if len(shapes) == 1:
        example = torch.zeros(shapes[0])
        return torch.jit.trace(module, (example,)), example.numpy()
    if len({tuple(s[:-1]) for s in shapes}) != 1:
        raise ConfigError(f"--register needs every model input to share its window length, but got shapes {shapes}; "
                          "export with a common --rate for all modalities")
    sizes = [int(s[-1]) for s in shapes]
    example = torch.zeros(*shapes[0][:-1], sum(sizes))
    with torch.no_grad():
        wrapped = torch.jit.trace(ConcatenatedInput(module, sizes).eval(), (example,))
    return wrapped, example.numpy()


def register_bundle(tracking_uri: str, run_id: str, folder: Path, config: Mapping[str, Any], name: str) -> int:
    """Log, register and alias the bundle's model; returns the new model version number."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    model, example = registry_model(folder, config)
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracking_uri)
    try:
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # MLflow reloads the TorchScript file via torch.load
            info = mlflow.pytorch.log_model(
                model, name="model", signature=infer_signature(example, output), input_example=example,
                serialization_format="pickle",  # TorchScript modules are saved with torch.jit.save
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],  # no slow requirement inference
            )
        version = mlflow.register_model(info.model_uri, name)
        client = MlflowClient(tracking_uri=tracking_uri)
        client.set_registered_model_alias(name, CHAMPION, version.version)
        client.set_model_version_tag(name, version.version, METHOD_TAG, str(config["method"]))
    finally:
        mlflow.set_tracking_uri(previous)
    return int(version.version)
