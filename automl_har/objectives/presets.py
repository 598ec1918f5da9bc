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

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives.protocol import ExperimentSpec, Protocol


@dataclass(frozen=True)
class Preset:
    """A named evaluation protocol.

    Attributes:
        name: registry name (``cosmo-utd``).
        description: one line: what paper setting it reproduces.
        dataset: registered dataset name (``ExperimentSpec.dataset``); None for a pool preset,
            whose target the user names (``--target``).
        modalities: modalities to load (``ExperimentSpec.modalities``).
        modality_groups: how a multimodal method groups them (Cosmo's ``modality_groups``
            hyperparameter); handed only to methods that have such a hyperparameter.
        val_subjects: validation subjects (``Protocol.val_subjects``).
        test_subjects: test subjects (``Protocol.test_subjects``).
        labels_per_class: labeled windows per class in each draw (``Protocol.labels_per_class``).
        window_s: window length in seconds (None: the dataset's default).
        split: ``Protocol.split`` (``windows``: validation and test windows 1:1 from the same
            held-out subjects, MESEN's protocol; ``within_subject``: 70/10/20 inside every subject).
        datasets: a pool of datasets (``--datasets``) for methods that pre-train on labeled sources.
        label_map, normalization: ``ExperimentSpec.label_map`` / ``normalization`` (None: the defaults).
        label_ratio, ratio_of, draw_by_subject: the ``Protocol`` fields of the label draws.
        rate_hz, overlap: ``WindowOptions`` fields (None: the dataset's / the default).
    """

    name: str
    description: str
    dataset: str | None = None
    modalities: tuple[str, ...] | None = None
    modality_groups: str | None = None
    val_subjects: tuple[int, ...] | None = None
    test_subjects: tuple[int, ...] | None = None
    labels_per_class: int | None = None
    window_s: float | None = None
    split: str = "subjects"
    datasets: tuple[str, ...] = ()
    label_map: str | None = None
    normalization: str | None = None
    label_ratio: float | None = None
    ratio_of: str | None = None
    draw_by_subject: bool | None = None
    rate_hz: float | None = None
    overlap: float | None = None


#: the UTD presets set no normalization for their skeleton: a skeleton modality always gets one global
#: affine z-score (data.splits.MODALITY_NORMALIZATION) and its encoders' body frame (data/skeleton.py)
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
        Preset(
            name="combined-lodo",
            description="Presotto et al. (SMARTCOMP'23) leave-one-dataset-out: the six paper datasets as the pool "
                        "(give --target), the builtin 10-class label map, acc + gyro at 50 Hz in 2.56 s windows "
                        "with 50% overlap, sensor-wise z-score, 70/10/20 within every subject, 1% of the whole "
                        "target labeled, drawn per subject (one window per class where a subject's share is < 10)",
            datasets=("hhar", "mobiact", "motionsense", "realworld", "uci-har", "pamap2"),
            modalities=("acc", "gyro"),
            window_s=2.56,
            rate_hz=50.0,
            overlap=0.5,
            split="within_subject",
            label_map="builtin",
            normalization="sensor",
            label_ratio=0.01,
            ratio_of="dataset",
            draw_by_subject=True,
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
    ``Protocol`` keywords, ``window_s`` / ``rate_hz`` / ``overlap`` (when set) meant for
    ``WindowOptions`` and ``datasets`` (a pool preset) for ``--datasets``.

    Example:
        ``{"dataset": "utd-mhad", "modalities": ("acc", "gyro", "skeleton"), "protocol":
        {"val_subjects": (6,), "test_subjects": (7, 8), "labels_per_class": 1, "split": "subjects"}}``
    """
    protocol = {"split": preset.split}
    for name in ("val_subjects", "test_subjects", "labels_per_class", "label_ratio", "ratio_of", "draw_by_subject"):
        if getattr(preset, name) is not None:
            protocol[name] = getattr(preset, name)
    if preset.label_ratio is not None:  # a ratio preset draws by ratio, not a count per class
        protocol["labels_per_class"] = None
    overrides: dict[str, Any] = {"protocol": protocol}
    for name in ("dataset", "modalities", "label_map", "normalization", "window_s", "rate_hz", "overlap"):
        if getattr(preset, name) is not None:
            overrides[name] = getattr(preset, name)
    if preset.datasets:
        overrides["datasets"] = preset.datasets
    return overrides


def preset_params(preset: Preset, method: str) -> dict[str, Any]:
    """Hyperparameters the preset fixes for ``method`` (``modality_groups`` if it has one)."""
    from automl_har.methods import get_method

    names = {f.name for f in dataclasses.fields(get_method(method).Params)}
    return {"modality_groups": preset.modality_groups} if preset.modality_groups and "modality_groups" in names else {}


def preset_spec(preset: Preset, method: str, protocol: dict[str, Any] | None = None, **spec: Any) -> ExperimentSpec:
    """An :class:`ExperimentSpec` of ``method`` under the preset; ``protocol`` and ``spec`` keywords
    override the preset's (e.g. ``protocol={"repeats": 1}, data_dir=..., budget=0.1``). A pool
    preset needs ``dataset=TARGET``, one of its datasets; the others become the sources."""
    from automl_har.data.registry import WindowOptions

    overrides = apply_preset(preset)
    window = {name: overrides.pop(name) for name in ("window_s", "rate_hz", "overlap") if name in overrides}
    protocol_kwargs = {**overrides.pop("protocol"), **(protocol or {})}
    if window and "window" not in spec:
        spec["window"] = WindowOptions(**window)
    pool = overrides.pop("datasets", ())
    if pool:
        target = spec.get("dataset")
        if target not in pool:
            raise ConfigError(f"preset {preset.name} is a pool of {', '.join(pool)}; name the target, one of them "
                              f"(--target), but got {target!r}")
        spec.setdefault("sources", tuple(name for name in pool if name != target))
    return ExperimentSpec(method=method, **{**overrides, **spec}, protocol=Protocol(**protocol_kwargs))
