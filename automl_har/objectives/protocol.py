"""What one trial is evaluated on: the experiment spec and the data it prepares.

The protocol is the papers' few-label one: a subject-wise train/val/test split (fixed by the
protocol seed), per-channel z-score fitted on the training subjects only, and ``repeats``
seeded draws of ``labels_per_class`` (or ``label_ratio``) labeled windows from the training
subjects. The unlabeled rest of the training subjects is what pre-training methods see.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from automl_har.data import WindowedData
from automl_har.data.registry import WindowOptions, load_dataset
from automl_har.data.splits import Standardizer, SubjectSplit, few_shot_indices, subject_split
from automl_har.errors import ConfigError


@dataclass(frozen=True)
class Protocol:
    """Few-label evaluation protocol.

    Attributes:
        labels_per_class: labeled windows per class in each draw (the papers' K-shot setting).
        label_ratio: alternatively, the fraction of training windows that are labeled.
        repeats: seeded label draws per trial; the trial's value is the mean validation macro-F1.
        val_fraction: fraction of subjects held out for validation (model selection).
        test_fraction: fraction of subjects held out for test (reported, never optimised).
        seed: seed of the subject split; draw ``r`` uses seed ``seed * 1000 + r``.
        val_subjects: explicit validation subjects (a paper's protocol); overrides the fraction.
        test_subjects: explicit test subjects; overrides the fraction.
    """

    labels_per_class: int | None = 10
    label_ratio: float | None = None
    repeats: int = 3
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    val_subjects: tuple | None = None
    test_subjects: tuple | None = None

    def __post_init__(self) -> None:
        if self.label_ratio is not None:
            if not 0 < self.label_ratio <= 1:
                raise ConfigError(f"label ratio must be in (0, 1], but got label_ratio={self.label_ratio}")
            object.__setattr__(self, "labels_per_class", None)
        elif self.labels_per_class is None or self.labels_per_class < 1:
            raise ConfigError(
                f"labels per class must be at least 1, but got labels_per_class={self.labels_per_class}"
            )
        if self.repeats < 1:
            raise ConfigError(f"repeats must be at least 1, but got repeats={self.repeats}")

    def draw_seed(self, draw: int) -> int:
        return self.seed * 1000 + draw


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything a trial needs besides its hyperparameters.

    Attributes:
        method: registered method name.
        dataset: registered dataset name, or a path to a custom ``.npz`` / CSV folder.
        data_dir: folder of a dataset that needs files (None: ``$AUTOHAR_DATA`` / default).
        window: windowing of continuous recordings.
        modalities: modalities to use (None: all of the dataset's).
        protocol: the few-label protocol.
        budget: fraction of the paper's epochs every stage runs.
        device: ``cpu`` or ``cuda`` (already resolved from ``auto``).
    """

    method: str
    dataset: str
    data_dir: str | None = None
    window: WindowOptions = field(default_factory=WindowOptions)
    modalities: tuple[str, ...] | None = None
    protocol: Protocol = field(default_factory=Protocol)
    budget: float = 0.2
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not 0 < self.budget <= 10:
            raise ConfigError(f"budget must be in (0, 10] (1.0 = the paper's epochs), but got budget={self.budget}")
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", str(Path(self.data_dir).expanduser().absolute()))

    def as_tags(self) -> dict[str, str]:
        """Flat string description for MLflow params/tags and study user attributes."""
        flat = {
            "method": self.method,
            "dataset": self.dataset,
            "data_dir": self.data_dir or "",
            "modalities": ",".join(self.modalities or ()),
            "budget": self.budget,
            "device": self.device,
            **{f"window.{k}": v for k, v in asdict(self.window).items()},
            **{f"protocol.{k}": v for k, v in asdict(self.protocol).items()},
        }
        return {k: "" if v is None else str(v) for k, v in flat.items()}


@dataclass
class PreparedData:
    """The split, normalized windows of one experiment; shared by every trial of a study."""

    train: WindowedData
    val: WindowedData
    test: WindowedData
    split: SubjectSplit
    standardizer: Standardizer
    data_hash: str

    def labeled_draw(self, protocol: Protocol, draw: int) -> np.ndarray:
        """Indices into :attr:`train` of the labeled windows of draw ``draw``."""
        return few_shot_indices(
            self.train.y,
            np.arange(len(self.train)),
            labels_per_class=protocol.labels_per_class,
            label_ratio=protocol.label_ratio,
            seed=protocol.draw_seed(draw),
        )


def prepare_data(spec: ExperimentSpec) -> PreparedData:
    """Load, split by subject and normalize; cached per process for identical specs."""
    p = spec.protocol
    subjects = (p.val_fraction, p.test_fraction, p.seed, p.val_subjects, p.test_subjects)
    return _prepare(spec.dataset, spec.data_dir, spec.window, spec.modalities, subjects)


@functools.lru_cache(maxsize=4)
def _prepare(dataset, data_dir, window, modalities, subjects) -> PreparedData:
    data = load_dataset(dataset, data_dir, window)
    if modalities:
        data = data.select_modalities(modalities)
    val_fraction, test_fraction, seed, val_subjects, test_subjects = subjects
    split = subject_split(
        data.subject, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        val_subjects=val_subjects, test_subjects=test_subjects,
    )
    standardizer = Standardizer().fit(data[split.train])
    return PreparedData(
        train=standardizer.transform(data[split.train]),
        val=standardizer.transform(data[split.val]),
        test=standardizer.transform(data[split.test]),
        split=split,
        standardizer=standardizer,
        data_hash=data.content_hash(),
    )
