"""Protocol presets: a paper's evaluation setting under one name (``--preset NAME``).

A preset is a named layer of the experiment schema (:mod:`automl_har.config.schema`): the data,
protocol and hyperparameters of a paper's setting, in the shape of a config file. It sits between
the method's tags and a ``--config`` file (:mod:`automl_har.config.layers`), so a file and the
options a user types win over it. Its ``params`` reach only the methods that have them (Cosmo's and
MESEN's ``modality_groups``). A paper target (:mod:`automl_har.papers.entries`) is a
preset plus the paper's number and its table.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from automl_har.errors import UnknownNameError


@dataclass(frozen=True)
class Preset:
    """A named evaluation protocol.

    Attributes:
        name: registry name (``cosmo-utd``).
        description: one line: what paper setting it reproduces.
        layer: the fields it sets, in the schema's shape (``{"data": {...}, "protocol": {...},
            "params": {...}}``); read-only.
    """

    name: str
    description: str
    layer: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer", _read_only(self.layer))

    def section(self, name: str) -> Mapping[str, Any]:
        """One section of :attr:`layer` (empty when the preset sets nothing there)."""
        return self.layer.get(name, MappingProxyType({}))


def _read_only(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _read_only(v) for k, v in value.items()})
    return tuple(value) if isinstance(value, list) else value


_UTD_IMU_SKELETON = {"dataset": "utd-mhad", "modalities": ["acc", "gyro", "skeleton"]}

#: the UTD presets set no normalization for their skeleton: a skeleton modality always gets one global
#: affine z-score (data.splits.MODALITY_NORMALIZATION) and its encoders' body frame (data/skeleton.py)
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="cosmo-utd",
            description="Cosmo (MobiCom'22) on UTD-MHAD: IMU (acc+gyro) vs skeleton, train subjects 1-6 "
                        "(6 held out for validation), test 7-8, 1 labeled trial per class (the paper's 5%)",
            layer={"data": _UTD_IMU_SKELETON, "params": {"modality_groups": "acc+gyro,skeleton"},
                   "protocol": {"val_subjects": [6], "test_subjects": [7, 8], "labels_per_class": 1}},
        ),
        Preset(
            name="cosmo-watch",
            description="Cosmo-style acc vs gyro fusion on the watch dataset: subjects 1-7 train, 8 validation, "
                        "9-10 test, 5 labels per class (about 1%, the paper's acc/gyro label rate)",
            layer={"data": {"dataset": "watch", "modalities": ["acc", "gyro"]}, "params": {"modality_groups": "acc,gyro"},
                   "protocol": {"val_subjects": [8], "test_subjects": [9, 10], "labels_per_class": 5}},
        ),
        Preset(
            name="mesen-utd",
            description="MESEN (SenSys'23) on UTD-MHAD: pre-training on IMU (acc+gyro) + skeleton of subjects 1-6, "
                        "subjects 7-8 split 1:1 into validation and test windows, 1 label per class (the paper's "
                        "4.18%); choose the deployed modality with --param modality=acc+gyro or skeleton",
            layer={"data": _UTD_IMU_SKELETON, "params": {"modality_groups": "acc+gyro,skeleton"},
                   "protocol": {"split": "windows", "val_subjects": [7, 8], "test_subjects": [7, 8],
                                "labels_per_class": 1}},
        ),
        Preset(
            name="combined-lodo",
            description="Presotto et al. (SMARTCOMP'23) leave-one-dataset-out: the six paper datasets as the pool "
                        "(give --target), the builtin 10-class label map, acc + gyro at 50 Hz in 2.56 s windows "
                        "with 50% overlap, sensor-wise z-score, 70/10/20 within every subject, 1% of the whole "
                        "target labeled, drawn per subject (one window per class where a subject's share is < 10)",
            layer={"data": {"datasets": ["hhar", "mobiact", "motionsense", "realworld", "uci-har", "pamap2"],
                            "modalities": ["acc", "gyro"], "window": {"window_s": 2.56, "rate_hz": 50.0, "overlap": 0.5},
                            "label_map": "builtin", "normalization": "sensor"},
                   "protocol": {"split": "within_subject", "label_ratio": 0.01, "ratio_of": "dataset",
                                "draw_by_subject": True}},
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset ``name``; raises :class:`UnknownNameError` listing the valid names."""
    if name not in PRESETS:
        raise UnknownNameError("preset", name, PRESETS)
    return PRESETS[name]
