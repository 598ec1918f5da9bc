"""ResNet-18 with torchvision-compatible state-dict keys, and a loader for pre-trained weights.

He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016. IMG2IMU
(Yoon et al.) uses a ResNet-18 backbone on 128x96 spectrogram images. torchvision's wheel does
not import with the CPU torch of this project, so the network is written out here with the
same module names (``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``layer4.1.bn2``, ``fc``) and the
same initialisation, so a torchvision ``resnet18().state_dict()`` file loads into it as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pickle

import torch
from torch import Tensor, nn

from automl_har.errors import DataFormatError

#: prefixes of the query encoder in MoCo checkpoints (reference code with DataParallel, or not)
MOCO_PREFIXES = ("module.encoder_q.", "encoder_q.")
FEATURE_DIM = 512


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (torchvision's ``BasicBlock``)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18: stem (7x7 conv, max-pool), four stages of two :class:`BasicBlock`, average
    pooling, and the ``fc`` layer (the classifier head, or MoCo's projection).

    Args:
        num_classes: outputs of ``fc``; 0 replaces ``fc`` by the identity (512-d features).
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 64, stride=1)
        self.layer2 = self._stage(64, 128, stride=2)
        self.layer3 = self._stage(128, 256, stride=2)
        self.layer4 = self._stage(256, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc: nn.Module = nn.Linear(FEATURE_DIM, num_classes) if num_classes else nn.Identity()
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _stage(in_planes: int, planes: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))

    def features(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images -> ``(N, 512)`` pooled features (everything before ``fc``)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: Tensor) -> Tensor:  # (N, 3, H, W) -> (N, num_classes)
        return self.fc(self.features(x))


def backbone_state_dict(state: Mapping[str, Any]) -> dict[str, Tensor]:
    """The backbone weights of a torchvision ResNet-18 state dict or a MoCo checkpoint.

    A checkpoint dict with a ``state_dict`` entry is unwrapped; keys of MoCo's query encoder
    (``module.encoder_q.`` / ``encoder_q.``) are kept without the prefix and the key encoder and
    queue are dropped; ``fc`` (classifier or projection head) is always dropped.

    Raises:
        DataFormatError: the weights are not those of a ResNet-18 backbone.
    """
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if any(k.startswith(MOCO_PREFIXES) for k in state):
        state = {
            key[len(prefix):]: value
            for key, value in state.items()
            for prefix in MOCO_PREFIXES
            if key.startswith(prefix)
        }
    elif all(k.startswith("module.") for k in state):  # DataParallel of a plain ResNet
        state = {k[len("module."):]: v for k, v in state.items()}
    backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = set(ResNet18(num_classes=0).state_dict())
    missing, unexpected = sorted(expected - set(backbone)), sorted(set(backbone) - expected)
    if missing or unexpected:
        raise DataFormatError(
            f"weights are not a ResNet-18 backbone: {len(missing)} keys missing (e.g. {missing[:2]}) and "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}); give a torchvision resnet18 state dict "
            "or a MoCo checkpoint (module.encoder_q.* keys)"
        )
    return backbone


def load_resnet18_weights(path: str | Path, num_classes: int = 0) -> ResNet18:
    """A :class:`ResNet18` with the backbone weights of ``path`` and a new ``fc``.

    Args:
        path: a ``torch.save`` file of a torchvision ResNet-18 state dict, or a MoCo checkpoint
            (``{"state_dict": {"module.encoder_q.conv1.weight": ...}}`` or ``encoder_q.`` keys,
            e.g. from ``autohar pretrain``); the file's fc/projection head is ignored.
        num_classes: outputs of the new, randomly initialised ``fc`` (0: identity).

    Raises:
        DataFormatError: the file cannot be read or holds no ResNet-18 backbone.
    """
    try:
        state = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise DataFormatError(f"cannot read ResNet-18 weights from {path} ({err}); give a torch.save file") from err
    if not isinstance(state, Mapping):
        raise DataFormatError(f"{path} holds a {type(state).__name__}, not a state dict; save model.state_dict()")
    model = ResNet18(num_classes=num_classes)
    model.load_state_dict(backbone_state_dict(state), strict=False)
    return model
