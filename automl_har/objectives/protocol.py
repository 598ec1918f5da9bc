"""What one trial is evaluated on: the experiment spec and the data it prepares.

The protocol is the papers' few-label one: a split into train / validation / test (one of the
:mod:`~automl_har.objectives.splits`, fixed by ``split_seed``), per-channel z-score fitted on
each fold's training windows only, and ``repeats`` seeded draws of ``labels_per_class`` (or
``label_ratio``) labeled windows from the training subjects. The unlabeled rest of the training
subjects is what pre-training methods see. With ``validation="few"`` each draw also draws as
few labeled validation windows, and model selection sees only those (see docs/evaluation.md).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from automl_har.attrs import DATASET_ATTR, METHOD_ATTR
from automl_har.data import WindowedData
from automl_har.data.registry import WindowOptions, load_dataset
from automl_har.data.splits import Standardizer, SubjectSplit, few_shot_indices
from automl_har.errors import ConfigError
from automl_har.objectives.splits import parse_split

#: what ``--validation`` accepts: every validation window labeled, or a few per class per draw
VALIDATION_MODES = ("full", "few")
#: label draws ``0 .. MAX_REPEATS - 1`` are the search's; ``autohar verify`` draws from here on
FRESH_DRAWS_START = 500
MAX_REPEATS = FRESH_DRAWS_START


@dataclass(frozen=True)
class Protocol:
    """Few-label evaluation protocol.

    Attributes:
        labels_per_class: labeled windows per class in each draw (the papers' K-shot setting).
        label_ratio: alternatively, the fraction of training windows that are labeled.
        repeats: seeded label draws per trial (per fold); the trial's value is the mean
            validation macro-F1 over folds x draws.
        val_fraction: fraction of subjects held out for validation (model selection).
        test_fraction: fraction of subjects held out for test (reported, never optimised).
        seed: seed of the label draws and pre-training; draw ``r`` uses seed ``seed * 1000 + r``.
        val_subjects: explicit validation subjects (a paper's protocol); overrides the fraction;
            ``()`` means no validation part (train/test-only paper protocols, see :attr:`has_validation`).
        test_subjects: explicit test subjects; overrides the fraction.
        split: ``subjects``, ``folds:K`` or ``windows`` (:func:`~automl_har.objectives.splits.parse_split`).
        validation: ``full`` (every validation window labeled) or ``few`` (each draw also draws
            ``labels_per_class`` validation windows per class; selection sees only those).
        split_seed: seed of the subject split / folds / window split, independent of the sampler
            seed, so that two sampler seeds compare the same data.
    """

    labels_per_class: int | None = 10
    label_ratio: float | None = None
    repeats: int = 3
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    val_subjects: tuple | None = None
    test_subjects: tuple | None = None
    split: str = "subjects"
    validation: str = "full"
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.label_ratio is not None:
            if not 0 < self.label_ratio <= 1:
                raise ConfigError(f"label ratio must be in (0, 1], but got label_ratio={self.label_ratio}")
            object.__setattr__(self, "labels_per_class", None)
        elif self.labels_per_class is None or self.labels_per_class < 1:
            raise ConfigError(
                f"labels per class must be at least 1, but got labels_per_class={self.labels_per_class}"
            )
        if not 1 <= self.repeats < MAX_REPEATS:
            raise ConfigError(f"repeats must be in 1..{MAX_REPEATS - 1}, but got repeats={self.repeats}")
        object.__setattr__(self, "split", parse_split(self.split).spec)  # normalised, or a one-line error
        if self.validation not in VALIDATION_MODES:
            raise ConfigError(f"unknown validation mode {self.validation!r}; choose one of {', '.join(VALIDATION_MODES)}")
        if not self.has_validation and (self.split != "subjects" or self.validation != "full"):
            raise ConfigError(
                f"--val-subjects none leaves no validation part, which --split {self.split} / --validation "
                f"{self.validation} need; give validation subjects or drop --val-subjects"
            )

    @property
    def has_validation(self) -> bool:
        """False for a train/test-only protocol (``val_subjects=()``): nothing may be selected on validation."""
        return self.val_subjects is None or len(self.val_subjects) > 0

    def draw_seed(self, draw: int) -> int:
        return self.seed * 1000 + draw

    def require_validation(self, why: str) -> None:
        """Raise :class:`ConfigError` for a train/test-only protocol where ``why`` selects on validation."""
        if not self.has_validation:
            raise ConfigError(
                f"{why} selects on validation, but --val-subjects none leaves no validation subject; give "
                "--val-subjects, or use --split windows or --split folds:K (train/test-only paper protocols "
                "run with `autohar reproduce`)"
            )


def default_modalities(method: str, dataset: str) -> tuple[str, ...] | None:
    """What an experiment loads when no modalities are named: for a method tagged
    ``reads: inertial`` (MaskCAE: the paper's acc + gyro) on a dataset that declares other
    modalities too (UTD-MHAD's skeleton), the dataset's inertial modalities; else None (all).
    Read from the static catalog, so building a spec (a worker, before its first trial) imports
    no method module and no torch."""
    from automl_har import catalog

    if method in catalog.METHODS:
        reads = catalog.METHODS[method].tags.get("reads")
    else:  # registered after the catalog was written (a plugin, a test): ask the registry
        from automl_har.methods import get_method, method_names

        reads = get_method(method).tags.get("reads") if method in method_names() else None
    if reads != "inertial":
        return None
    from automl_har.data.registry import split_variant

    dataset = split_variant(dataset)[0]
    if dataset in catalog.DATASETS:
        inertial, every = catalog.DATASETS[dataset].inertial, catalog.DATASETS[dataset].modalities
    else:  # a custom file (None: its modalities are known once loaded) or a dataset registered later
        from automl_har.data.registry import dataset_names, get_dataset, inertial_modalities

        inertial = inertial_modalities(dataset)
        every = get_dataset(dataset).info.modalities if dataset in dataset_names() else ()
    if not inertial or set(inertial) == set(every):
        return None
    return tuple(inertial)


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything a trial needs besides its hyperparameters.

    Attributes:
        method: registered method name.
        dataset: registered dataset name, or a path to a custom ``.npz`` / CSV folder.
        data_dir: folder of a dataset that needs files (None: ``$AUTOHAR_DATA`` / default).
        window: windowing of continuous recordings.
        modalities: modalities to use; None: :func:`default_modalities` (all of the dataset's,
            or its inertial ones for a method that reads inertial sensors).
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
        if self.modalities is None:
            object.__setattr__(self, "modalities", default_modalities(self.method, self.dataset))

    @classmethod
    def from_dict(cls, data: dict) -> "ExperimentSpec":
        """Rebuild from ``dataclasses.asdict`` output (study attributes, bundles; JSON lists become tuples)."""
        experiment = dict(data)
        experiment["window"] = WindowOptions(**experiment["window"])
        protocol = dict(experiment["protocol"])
        for key in ("val_subjects", "test_subjects"):
            protocol[key] = tuple(protocol[key]) if protocol.get(key) is not None else None
        experiment["protocol"] = Protocol(**protocol)
        if experiment.get("modalities") is not None:
            experiment["modalities"] = tuple(experiment["modalities"])
        return cls(**experiment)

    def as_tags(self) -> dict[str, str]:
        """Flat string description for MLflow params/tags and study user attributes."""
        flat = {
            METHOD_ATTR: self.method,  # also the study's user attributes (`autohar studies`)
            DATASET_ATTR: self.dataset,
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
    """One fold of an experiment: its split, normalized windows and standardizer; shared by every
    trial of a study."""

    train: WindowedData
    val: WindowedData
    test: WindowedData
    split: SubjectSplit
    standardizer: Standardizer
    data_hash: str
    fold: int = 0

    def labeled_draw(self, protocol: Protocol, draw: int) -> np.ndarray:
        """Indices into :attr:`train` of the labeled windows of draw ``draw``."""
        return few_shot_indices(
            self.train.y,
            np.arange(len(self.train)),
            labels_per_class=protocol.labels_per_class,
            label_ratio=protocol.label_ratio,
            seed=protocol.draw_seed(draw),
        )

    def validation_for_draw(self, protocol: Protocol, draw: int) -> WindowedData:
        """What draw ``draw`` selects on: every validation window (``full``), or ``labels_per_class``
        (or ``label_ratio``) of them per class drawn with the draw's seed (``few``)."""
        if protocol.validation == "full":
            return self.val
        return self.val[few_shot_indices(
            self.val.y, np.arange(len(self.val)), labels_per_class=protocol.labels_per_class,
            label_ratio=protocol.label_ratio, seed=protocol.draw_seed(draw),
        )]

    def check_few_validation(self, protocol: Protocol) -> None:
        """``--validation few`` needs ``labels_per_class`` validation windows of every class."""
        if protocol.validation != "few" or protocol.labels_per_class is None:
            return
        counts = np.bincount(self.val.y, minlength=self.val.n_classes)
        short = [(self.val.classes[c], int(n)) for c, n in enumerate(counts) if n < protocol.labels_per_class]
        if short:
            name, n = short[0]
            raise ConfigError(
                f"--validation few draws {protocol.labels_per_class} validation windows per class, but fold "
                f"{self.fold} has only {n} of class {name!r} (validation subjects {self.split.val_subjects}); "
                "lower --labels-per-class, give more --val-subjects, or use --validation full"
            )


def prepare_folds(spec: ExperimentSpec) -> tuple[PreparedData, ...]:
    """Load, split into the protocol's folds and normalize each fold on its own training windows.

    Loading and normalizing happen once per process for identical specs; every call returns its
    own copy, so a trial that writes into its arrays cannot change what the next trial sees."""
    p = spec.protocol
    split = (p.split, p.val_fraction, p.test_fraction, p.split_seed, p.val_subjects, p.test_subjects)
    return copy.deepcopy(_prepare(spec.dataset, spec.data_dir, spec.window, spec.modalities, split))


def prepare_data(spec: ExperimentSpec, fold: int = 0) -> PreparedData:
    """Fold ``fold`` of :func:`prepare_folds` (the only fold of a ``subjects`` or ``windows`` split)."""
    return prepare_folds(spec)[fold]


@functools.lru_cache(maxsize=4)
def _prepare(dataset, data_dir, window, modalities, split_key) -> tuple[PreparedData, ...]:
    data = load_dataset(dataset, data_dir, window)
    if modalities:
        data = data.select_modalities(modalities)
    split_text, val_fraction, test_fraction, split_seed, val_subjects, test_subjects = split_key
    protocol = Protocol(val_fraction=val_fraction, test_fraction=test_fraction, split_seed=split_seed,
                        val_subjects=val_subjects, test_subjects=test_subjects, split=split_text)
    folds = []
    for number, part in enumerate(parse_split(split_text).folds(data.subject, data.y, protocol)):
        standardizer = Standardizer().fit(data[part.train])
        train = standardizer.transform(data[part.train])
        folds.append(PreparedData(
            train=train,
            val=standardizer.transform(data[part.val]),
            test=standardizer.transform(data[part.test]),
            split=part,
            standardizer=standardizer,
            data_hash=train.content_hash(),
            fold=number,
        ))
    return tuple(folds)
