"""Training methods, one module per paper, registered by name with capability tags."""

from automl_har.methods._base import (
    Method,
    MethodContext,
    TrainedModel,
    get_method,
    method_names,
    methods_with_tag,
    register_method,
)
from automl_har.methods._stages import (
    FINETUNE,
    PRETRAIN,
    STAGES,
    finetuning,
    paper_defaults,
    pretraining,
    stage_names,
    stage_values,
)
from automl_har.methods._inputs import LAYOUTS
from automl_har.ranges import declared_valid
from automl_har.methods import combined, cosmo, img2imu, maskcae, mesen, supervised  # noqa: F401,E402  (each registers its method)

__all__ = [
    "FINETUNE",
    "LAYOUTS",
    "PRETRAIN",
    "STAGES",
    "declared_valid",
    "finetuning",
    "paper_defaults",
    "pretraining",
    "stage_names",
    "stage_values",
    "Method",
    "MethodContext",
    "TrainedModel",
    "get_method",
    "method_names",
    "methods_with_tag",
    "register_method",
]
