"""What one trial is evaluated on: the experiment spec and its protocol
(:mod:`~automl_har.objectives.prepared` prepares the data).

The protocol is the papers' few-label one: a split into train / validation / test (one of the
:mod:`~automl_har.objectives.splits`, fixed by ``split_seed``), per-channel z-score fitted on
each fold's training windows only, and ``repeats`` seeded draws of ``labels_per_class`` (or
``label_ratio``) labeled windows from the training subjects. The unlabeled rest of the training
subjects is what pre-training methods see. With ``validation="few"`` each draw also draws as
few labeled validation windows, and model selection sees only those (see docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


from automl_har.attrs import DATASET_ATTR, METHOD_ATTR
from automl_har.data.registry import WindowOptions
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives.splits import parse_split

#: what ``--validation`` accepts: every validation window labeled, or a few per class per draw
VALIDATION_MODES = ("full", "few")
#: label draws ``0 .. MAX_REPEATS - 1`` are the search's; ``autohar verify`` draws from here on
FRESH_DRAWS_START = 500
MAX_REPEATS = FRESH_DRAWS_START
#: what ``Protocol.ratio_of`` accepts
RATIO_BASES = ("pool", "dataset")
#: a subject whose share of labeled windows is under this gets one per class (``draw_by_subject``)
SUBJECT_DRAW_FLOOR = 10
#: the fraction of each paper's epochs a run gets unless told: a fifth, CPU-friendly
DEFAULT_BUDGET = 0.2


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
        ratio_of: what ``label_ratio`` is a share of: ``pool`` (the training windows) or ``dataset``
            (the whole target dataset, Presotto et al.'s 1/5/10/70 %: the pool share is then
            ``label_ratio / pool fraction``, at most 1).
        draw_by_subject: draw the labeled windows inside every training subject, and give a
            subject whose share is under 10 windows one window per class (Presotto et al.'s rule).
        source_val_fraction: experiments with source datasets: the share of every source's subjects
            held out to select the pre-training checkpoint (``within_subject``: its last tenth).
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
    ratio_of: str = "pool"
    draw_by_subject: bool = False
    source_val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.label_ratio is not None:
            if not 0 <= self.label_ratio <= 1:
                raise ConfigError(f"label ratio must be in [0, 1] (0 = zero-shot), but got label_ratio={self.label_ratio}")
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
        if self.ratio_of not in RATIO_BASES:
            raise ConfigError(f"unknown ratio_of {self.ratio_of!r}; choose one of {', '.join(RATIO_BASES)}")
        if not 0 < self.source_val_fraction < 1:
            raise ConfigError(f"source_val_fraction must be in (0, 1), but got {self.source_val_fraction}")
        if not self.has_validation and (self.split != "subjects" or self.validation != "full"):
            raise ConfigError(
                f"--val-subjects none leaves no validation part, which --split {self.split} / --validation "
                f"{self.validation} need; give validation subjects or drop --val-subjects"
            )

    @property
    def zero_shot(self) -> bool:
        """``label_ratio == 0``: no labeled target window; the model predicts from what it learned
        on the source datasets (one evaluation, no label draws)."""
        return self.label_ratio == 0

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

    try:
        reads = catalog.method_tags(method).get("reads")
    except UnknownNameError:  # an unknown method is reported where it is looked up for its class
        reads = None
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
        sources: labeled source datasets a method tagged ``pretraining_data="labeled_sources"``
            pre-trains on; ``dataset`` is then the target. Empty for single-dataset experiments.
        data_dirs: ``(dataset, folder)`` pairs for the sources (and the target, if ``data_dir`` is None).
        label_map: with sources: ``builtin``, ``identity`` or the path of a YAML label map
            (:class:`~automl_har.data.labels.LabelMap`).
        normalization: ``channel`` (one z-score per channel) or ``sensor`` (one per modality,
            pooled over its channels: Presotto et al.'s sensor-wise z-score); a skeleton modality
            is ``sensor`` either way (``data.splits.MODALITY_NORMALIZATION``).
    """

    method: str
    dataset: str
    data_dir: str | None = None
    window: WindowOptions = field(default_factory=WindowOptions)
    modalities: tuple[str, ...] | None = None
    protocol: Protocol = field(default_factory=Protocol)
    budget: float = DEFAULT_BUDGET
    device: str = "cpu"
    sources: tuple[str, ...] = ()
    data_dirs: tuple[tuple[str, str], ...] = ()
    label_map: str = "builtin"
    normalization: str = "channel"

    def __post_init__(self) -> None:
        from automl_har.data.labels import LABEL_MAP_KINDS
        from automl_har.data.splits import NORMALIZATION_MODES

        if self.normalization not in NORMALIZATION_MODES:
            raise ConfigError(f"unknown normalization {self.normalization!r}; choose one of "
                              f"{', '.join(NORMALIZATION_MODES)}")
        if self.dataset in self.sources:
            raise ConfigError(f"the target {self.dataset!r} is also a source; give it once, as --target")
        if len(set(self.sources)) != len(self.sources):
            raise ConfigError(f"source datasets repeat ({', '.join(self.sources)}); name each once in --datasets")
        object.__setattr__(self, "data_dirs", tuple(
            (name, str(Path(folder).expanduser().absolute())) for name, folder in self.data_dirs))
        if self.label_map not in LABEL_MAP_KINDS:
            path = Path(self.label_map).expanduser().absolute()
            if not path.is_file():
                raise ConfigError(f"label map {self.label_map!r} is neither builtin, identity nor an existing YAML "
                                  "file; give one of those to --label-map")
            object.__setattr__(self, "label_map", str(path))
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
        experiment["sources"] = tuple(experiment.get("sources") or ())
        experiment["data_dirs"] = tuple(tuple(pair) for pair in experiment.get("data_dirs") or ())
        return cls(**experiment)

    def data_dir_of(self, dataset: str) -> str | None:
        """The folder of one dataset of the experiment (None: ``$AUTOHAR_DATA`` / the default);
        ``--data-dir utd-mhad=PATH`` serves ``utd-mhad:windows`` too."""
        if dataset == self.dataset and self.data_dir is not None:
            return self.data_dir
        return named_folder(self.data_dirs, dataset)

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
            "normalization": self.normalization,
        }
        if self.sources:  # single-dataset experiments keep their tags as before
            flat.update(sources=",".join(self.sources), label_map=self.label_map,
                        label_map_hash=_label_map_hash(self.label_map),
                        data_dirs=",".join(f"{name}={folder}" for name, folder in self.data_dirs))
        return {k: "" if v is None else str(v) for k, v in flat.items()}


def named_folder(data_dirs: tuple[tuple[str, str], ...], dataset: str) -> str | None:
    """The ``--data-dir NAME=PATH`` folder of ``dataset``: NAME is the dataset or, for every one of
    its variants, its base name (``utd-mhad=PATH`` serves ``utd-mhad:windows``)."""
    from automl_har.data.registry import split_variant

    folders = dict(data_dirs)
    return folders.get(dataset, folders.get(split_variant(dataset)[0]))


def _label_map_hash(label_map: str) -> str:
    """What identifies a label map in the tags: its kind, or a hash of the file's bytes."""
    if label_map in ("builtin", "identity"):
        return label_map
    import hashlib

    return hashlib.sha256(Path(label_map).read_bytes()).hexdigest()[:12]
