"""The four HAR networks compared by Presotto et al., "Combining Public Human Activity Recognition
Datasets to Mitigate Labeled Data Scarcity" (SMARTCOMP 2023, §III-D), built by name.

Every net takes channels-last windows ``(N, T, C)`` and has ``features(x) -> (N, feature_dim)``,
an ``nn.Linear(feature_dim, n_classes)`` ``head`` that fine-tuning may replace, and
``forward(x) = head(features(x))`` (logits). HART and MobileHART need exactly acc xyz + gyro xyz;
DeepConvLSTM and ISPL-Inception take any channel count.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial

from torch import nn

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.models.deepconvlstm import DeepConvLSTM, check_deepconvlstm_window
from automl_har.models.hart import HART, SENSOR_CHANNELS, MobileHART, check_hart_window, check_mobilehart_window
from automl_har.models.ispl_inception import ISPLInception

#: the architecture names (spec ``combined.md`` §3), in the paper's order
ARCHITECTURES = ("deepconvlstm", "ispl_inception", "hart", "mobilehart_xs")
#: the architectures that read one accelerometer and one gyroscope stream (3 axes each)
ACC_GYRO_ARCHITECTURES = ("hart", "mobilehart_xs")

_DISPLAY = {"deepconvlstm": "DeepConvLSTM", "ispl_inception": "ISPL-Inception", "hart": "HART",
            "mobilehart_xs": "MobileHART-XS"}


def _known(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise UnknownNameError("architecture", architecture, ARCHITECTURES)


def _check_window(architecture: str, window_length: int, *, patch_size: int = 16, kernel: int = 5) -> None:
    if window_length < 1:
        raise ConfigError(f"{_DISPLAY[architecture]} needs a positive window length, but got {window_length=}")
    if architecture == "deepconvlstm":
        check_deepconvlstm_window(window_length, kernel)
    elif architecture == "hart":
        check_hart_window(window_length, patch_size)
    elif architecture == "mobilehart_xs":
        check_mobilehart_window(window_length)


def check_har_input(architecture: str, *, n_acc: int, n_gyro: int, window_length: int,
                    patch_size: int = 16) -> None:
    """Raise a one-line :class:`ConfigError` if ``architecture`` cannot read such windows.

    Args:
        architecture: one of :data:`ARCHITECTURES` (else :class:`UnknownNameError`).
        n_acc: accelerometer channels (first in the window).
        n_gyro: gyroscope channels (after the accelerometer's).
        window_length: samples per window.
        patch_size: HART's patch length (ignored by the others).
    """
    _known(architecture)
    name = _DISPLAY[architecture]
    if n_acc < 0 or n_gyro < 0 or n_acc + n_gyro == 0:
        raise ConfigError(f"{name} needs at least one sensor channel, but got {n_acc=}, {n_gyro=}; "
                          f"select the accelerometer (and gyroscope) modality of the dataset")
    if architecture in ACC_GYRO_ARCHITECTURES and (n_acc, n_gyro) != (3, 3):
        raise ConfigError(f"{name} reads 3 accelerometer + 3 gyroscope channels (acc first), but got "
                          f"{n_acc=}, {n_gyro=}; use a dataset with a tri-axial gyroscope or choose "
                          f"deepconvlstm or ispl_inception, which take any channel count")
    _check_window(architecture, window_length, patch_size=patch_size)


_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "deepconvlstm": DeepConvLSTM,
    "ispl_inception": ISPLInception,
    "hart": HART,
    "mobilehart_xs": partial(MobileHART, variant="xs"),
}


def _options_of(architecture: str) -> set[str]:
    """The keyword hyperparameters the architecture's constructor accepts (minus fixed ones)."""
    builder = _BUILDERS[architecture]
    target = builder.func if isinstance(builder, partial) else builder
    fixed = set(builder.keywords) if isinstance(builder, partial) else set()
    parameters = inspect.signature(target).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY} - fixed


def build_har_net(architecture: str, *, in_channels: int, n_classes: int, window_length: int,
                  **options) -> nn.Module:
    """Build one of :data:`ARCHITECTURES` for windows ``(N, window_length, in_channels)``.

    ``options`` are the architecture's keyword hyperparameters (e.g. ``dropout`` or ``filters``),
    all defaulting to the paper's values. For HART and MobileHART ``in_channels`` must be 6
    (acc xyz then gyro xyz; :func:`check_har_input` checks the split).
    """
    _known(architecture)
    name = _DISPLAY[architecture]
    unknown = sorted(set(options) - _options_of(architecture))
    if unknown:
        raise ConfigError(f"{name} has no option {', '.join(unknown)}; "
                          f"choose among {', '.join(sorted(_options_of(architecture)))}")
    if n_classes < 1:
        raise ConfigError(f"{name} needs at least one class, but got {n_classes=}")
    if in_channels < 1:
        raise ConfigError(f"{name} needs at least one input channel, but got {in_channels=}")
    if architecture in ACC_GYRO_ARCHITECTURES and in_channels != SENSOR_CHANNELS:
        raise ConfigError(f"{name} reads {SENSOR_CHANNELS} channels (acc xyz then gyro xyz), but got {in_channels=}; "
                          f"use acc+gyro windows or choose deepconvlstm or ispl_inception")
    _check_window(architecture, window_length, patch_size=options.get("patch_size", 16),
                  kernel=options.get("kernel", 5))
    if architecture in ACC_GYRO_ARCHITECTURES:
        return _BUILDERS[architecture](n_classes, window_length, **options)
    return _BUILDERS[architecture](in_channels, n_classes, **options)
