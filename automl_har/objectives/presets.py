"""Protocol presets: a paper's evaluation setting under one name (``--preset NAME``).

A :class:`Preset` fixes the dataset, the modalities (and how a multimodal method groups them),
the validation and test subjects and the label budget. :func:`apply_preset` turns it into
keyword overrides of :class:`ExperimentSpec` and :class:`Protocol`; :func:`preset_spec` builds
the spec directly. Options a user types explicitly should win over the preset's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from automl_har.errors import UnknownNameError
from automl_har.objectives.protocol import ExperimentSpec, Protocol


@dataclass(frozen=True)
class Preset:
    """A named evaluation protocol.

    Attributes:
        name: registry name (``cosmo-utd``).
        description: one line: what paper setting it reproduces.
        dataset: registered dataset name (``ExperimentSpec.dataset``).
        modalities: modalities to load (``ExperimentSpec.modalities``).
        modality_groups: how a multimodal method groups them (Cosmo's ``modality_groups``
            hyperparameter); handed only to methods that have such a hyperparameter.
        val_subjects: validation subjects (``Protocol.val_subjects``).
        test_subjects: test subjects (``Protocol.test_subjects``).
        labels_per_class: labeled windows per class in each draw (``Protocol.labels_per_class``).
        window_s: window length in seconds (None: the dataset's default).
        split: ``Protocol.split`` (``windows``: validation and test windows 1:1 from the same
            held-out subjects, MESEN's protocol).
    """

    name: str
    description: str
    dataset: str
    modalities: tuple[str, ...]
    modality_groups: str
    val_subjects: tuple[int, ...]
    test_subjects: tuple[int, ...]
    labels_per_class: int
    window_s: float | None = None
    split: str = "subjects"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="cosmo-utd",
            description="Cosmo (MobiCom'22) on UTD-MHAD: IMU (acc+gyro) vs skeleton, train subjects 1-6 "
                        "(6 held out for validation), test 7-8, 1 labeled trial per class (the paper's 5%)",
            dataset="utd-mhad",
            modalities=("acc", "gyro", "skeleton"),
            modality_groups="acc+gyro,skeleton",
            val_subjects=(6,),
            test_subjects=(7, 8),
            labels_per_class=1,
        ),
        Preset(
            name="cosmo-watch",
            description="Cosmo-style acc vs gyro fusion on the watch dataset: subjects 1-7 train, 8 validation, "
                        "9-10 test, 5 labels per class (about 1%, the paper's acc/gyro label rate)",
            dataset="watch",
            modalities=("acc", "gyro"),
            modality_groups="acc,gyro",
            val_subjects=(8,),
            test_subjects=(9, 10),
            labels_per_class=5,
        ),
        Preset(
            name="mesen-utd",
            description="MESEN (SenSys'23) on UTD-MHAD: pre-training on IMU (acc+gyro) + skeleton of subjects 1-6, "
                        "subjects 7-8 split 1:1 into validation and test windows, 1 label per class (the paper's "
                        "4.18%); choose the deployed modality with --param modality=acc+gyro or skeleton",
            dataset="utd-mhad",
            modalities=("acc", "gyro", "skeleton"),
            modality_groups="acc+gyro,skeleton",
            val_subjects=(7, 8),
            test_subjects=(7, 8),
            labels_per_class=1,
            split="windows",
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset ``name``; raises :class:`UnknownNameError` listing the valid names."""
    if name not in PRESETS:
        raise UnknownNameError("preset", name, PRESETS)
    return PRESETS[name]


def apply_preset(preset: Preset) -> dict[str, Any]:
    """Keyword overrides of the preset: ``ExperimentSpec`` keywords, with ``protocol`` a dict of
    ``Protocol`` keywords and ``window_s`` (when set) meant for ``WindowOptions``.

    Example:
        ``{"dataset": "utd-mhad", "modalities": ("acc", "gyro", "skeleton"), "protocol":
        {"val_subjects": (6,), "test_subjects": (7, 8), "labels_per_class": 1, "split": "subjects"}}``
    """
    overrides: dict[str, Any] = {
        "dataset": preset.dataset,
        "modalities": preset.modalities,
        "protocol": {
            "val_subjects": preset.val_subjects,
            "test_subjects": preset.test_subjects,
            "labels_per_class": preset.labels_per_class,
            "split": preset.split,
        },
    }
    if preset.window_s is not None:
        overrides["window_s"] = preset.window_s
    return overrides


def preset_params(preset: Preset, method: str) -> dict[str, Any]:
    """Hyperparameters the preset fixes for ``method`` (``modality_groups`` if it has one)."""
    from automl_har.methods import get_method

    names = {f.name for f in dataclasses.fields(get_method(method).Params)}
    return {"modality_groups": preset.modality_groups} if "modality_groups" in names else {}


def preset_spec(preset: Preset, method: str, protocol: dict[str, Any] | None = None, **spec: Any) -> ExperimentSpec:
    """An :class:`ExperimentSpec` of ``method`` under the preset; ``protocol`` and ``spec`` keywords
    override the preset's (e.g. ``protocol={"repeats": 1}, data_dir=..., budget=0.1``)."""
    from automl_har.data.registry import WindowOptions

    overrides = apply_preset(preset)
    window_s = overrides.pop("window_s", None)
    protocol_kwargs = {**overrides.pop("protocol"), **(protocol or {})}
    if window_s is not None and "window" not in spec:
        spec["window"] = WindowOptions(window_s=window_s)
    return ExperimentSpec(method=method, **{**overrides, **spec}, protocol=Protocol(**protocol_kwargs))
