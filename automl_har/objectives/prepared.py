"""The data of one experiment, prepared once per process and shared by every trial of a study.

Shared, not copied: every array of a prepared fold is read-only (:meth:`PreparedData.read_only`),
so a trial that writes into one raises, and no trial pays for a copy (a copy of a leave-one-
dataset-out target's source windows is about 0.6 GB; ``benchmarks/prepared_memory.py``).

A single dataset (:func:`_prepare`) is loaded, split into the protocol's folds and normalized on
each fold's training windows. An experiment over a pool of datasets (:func:`prepare_pool`: one
target, labeled sources) is for methods tagged ``pretraining_data="labeled_sources"`` (Presotto et
al.'s combined-datasets pre-training). Every dataset of the pool is loaded with the same window
options, harmonised onto the common sensors and the label map's classes (:func:`~automl_har.data.combine.harmonise`) and
z-scored on its own training windows only (sensor-wise by default, SMARTCOMP'23 Sec. III-B; spec
A8: the authors' code fitted the statistics on whole datasets, test windows included).

- The target is split as any single dataset (``protocol.split``); its folds are what the trial
  fine-tunes and evaluates on, exactly as without sources.
- Every source is split into pre-training and validation windows
  (:func:`~automl_har.objectives.splits.source_validation_split`); the pre-training parts are
  concatenated into ``PreparedData.sources``, the validation parts into ``sources_val``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from automl_har.data import WindowedData
from automl_har.data.combine import concat_windowed, harmonise
from automl_har.data.labels import LabelMap, native_classes
from automl_har.data.registry import load_dataset
from automl_har.data.splits import Standardizer, SubjectSplit, few_shot_indices
from automl_har.errors import ConfigError
from automl_har.objectives.protocol import SUBJECT_DRAW_FLOOR, ExperimentSpec, Protocol, named_folder
from automl_har.objectives.splits import parse_split, source_validation_split


@dataclass(frozen=True)
class PreparedData:
    """One fold of an experiment: its split, normalized windows and standardizer; shared by every
    trial of a study, read-only (:meth:`read_only`)."""

    train: WindowedData
    val: WindowedData
    test: WindowedData
    split: SubjectSplit
    standardizer: Standardizer
    data_hash: str
    fold: int = 0
    #: experiments with source datasets: their merged pre-training and validation windows, each
    #: source z-scored on its own pre-training windows (None without sources)
    sources: WindowedData | None = None
    sources_val: WindowedData | None = None
    #: share of the target's windows that are in :attr:`train` (``Protocol.ratio_of="dataset"``)
    pool_fraction: float = 1.0

    def read_only(self) -> "PreparedData":
        """This fold with every array read-only in place (windows, labels, subjects, the split's
        indices and the standardizer's statistics): what :func:`prepare_folds` hands to every trial."""
        for windows in (self.train, self.val, self.test, self.sources, self.sources_val):
            if windows is not None:
                windows.read_only()
        for array in (*vars(self.split).values(), *self.standardizer.means.values(), *self.standardizer.stds.values()):
            if isinstance(array, np.ndarray):
                array.setflags(write=False)
        return self

    def pool_share(self, protocol: Protocol) -> float | None:
        """``label_ratio`` as a share of :attr:`train` (``ratio_of="dataset"``: of the whole target)."""
        if protocol.label_ratio is None or protocol.ratio_of == "pool":
            return protocol.label_ratio
        return min(1.0, protocol.label_ratio / self.pool_fraction)

    def labeled_draw(self, protocol: Protocol, draw: int) -> np.ndarray:
        """Indices into :attr:`train` of the labeled windows of draw ``draw``."""
        if protocol.zero_shot:
            raise ConfigError("--label-ratio 0 is zero-shot: there is no labeled draw; use a ratio above 0")
        return few_shot_indices(
            self.train.y,
            np.arange(len(self.train)),
            labels_per_class=protocol.labels_per_class,
            label_ratio=self.pool_share(protocol),
            seed=protocol.draw_seed(draw),
            groups=self.train.subject if protocol.draw_by_subject else None,
            floor_below=SUBJECT_DRAW_FLOOR if protocol.draw_by_subject else None,
        )

    def validation_for_draw(self, protocol: Protocol, draw: int) -> WindowedData:
        """What draw ``draw`` selects on: every validation window (``full``), or ``labels_per_class``
        (or ``label_ratio``) of them per class drawn with the draw's seed (``few``)."""
        if protocol.validation == "full" or protocol.zero_shot:
            return self.val
        return self.val[few_shot_indices(
            self.val.y, np.arange(len(self.val)), labels_per_class=protocol.labels_per_class,
            label_ratio=protocol.label_ratio, seed=protocol.draw_seed(draw),
        )]

    def check_label_count(self, protocol: Protocol) -> None:
        """Few labels means few labels: ``labels_per_class`` larger than what the training part holds
        of a class (of a class in one subject, when the draw is made per subject) is an error naming
        the largest possible value, instead of a draw that silently labels every window."""
        if protocol.labels_per_class is None:
            return
        groups = self.train.subject if protocol.draw_by_subject else [None] * len(self.train)
        held = collections.Counter(zip(groups, self.train.y.tolist()))  # windows per (subject, class)
        if not held:
            return
        (group, label), largest = min(held.items(), key=lambda item: item[1])
        if protocol.labels_per_class > largest:
            where = f" of subject {group}" if protocol.draw_by_subject else ""
            raise ConfigError(
                f"--labels-per-class {protocol.labels_per_class} asks for more labeled windows than fold {self.fold}'s "
                f"training part holds of class {self.train.classes[int(label)]!r}{where} ({int(largest)}); the largest "
                f"possible value is {int(largest)} (or give --label-ratio, a share of each class)")

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

    Loading and normalizing happen once per process for identical specs; every call returns the
    same read-only folds, so a trial that writes into its arrays raises instead of changing what
    the next trial sees, and no trial copies them."""
    p = spec.protocol
    split = (p.split, p.val_fraction, p.test_fraction, p.split_seed, p.val_subjects, p.test_subjects)
    if spec.sources:
        pool = (spec.sources, spec.data_dirs, spec.label_map, p.source_val_fraction)
        return prepare_pool(spec.dataset, spec.data_dir_of(spec.dataset), spec.window, spec.modalities, split,
                            spec.normalization, pool)
    return _prepare(spec.dataset, spec.data_dir, spec.window, spec.modalities, split, spec.normalization)


def prepare_data(spec: ExperimentSpec, fold: int = 0) -> PreparedData:
    """Fold ``fold`` of :func:`prepare_folds` (the only fold of a ``subjects`` or ``windows`` split)."""
    return prepare_folds(spec)[fold]


def split_protocol(split_key: tuple) -> Protocol:
    """A protocol carrying only the split settings of ``split_key`` (what the data preparation reads)."""
    split_text, val_fraction, test_fraction, split_seed, val_subjects, test_subjects = split_key
    return Protocol(val_fraction=val_fraction, test_fraction=test_fraction, split_seed=split_seed,
                    val_subjects=val_subjects, test_subjects=test_subjects, split=split_text)


@functools.lru_cache(maxsize=4)
def _prepare(dataset, data_dir, window, modalities, split_key, normalization="channel") -> tuple[PreparedData, ...]:
    data = load_dataset(dataset, data_dir, window)
    if modalities:
        data = data.select_modalities(modalities)
    parts = parse_split(split_key[0]).folds(data.subject, data.y, split_protocol(split_key))
    return tuple(standardized_fold(data, part, number, normalization).read_only() for number, part in enumerate(parts))


def standardized_fold(data: WindowedData, part: SubjectSplit, number: int, normalization: str,
                      **extra) -> PreparedData:
    """Fold ``number`` of ``data``: its parts z-scored on its training windows only; ``extra``:
    the other :class:`PreparedData` fields (an experiment with sources)."""
    standardizer = Standardizer(mode=normalization).fit(data[part.train])
    train = standardizer.transform(data[part.train])
    return PreparedData(train=train, val=standardizer.transform(data[part.val]),
                        test=standardizer.transform(data[part.test]), split=part, standardizer=standardizer,
                        data_hash=train.content_hash(), fold=number, **extra)


@functools.lru_cache(maxsize=2)
def prepare_pool(target, target_dir, window, modalities, split_key, normalization, pool_key) -> tuple[PreparedData, ...]:
    """The folds of the target, each carrying the pool's standardized source windows.

    Args:
        target: the target dataset (``name``, ``name:variant`` or a custom path).
        target_dir: its folder (None: the default).
        window: window options every dataset is loaded with.
        modalities: common sensors to keep (None: every one of ``acc``, ``gyro`` each dataset has).
        split_key: the split settings (:func:`split_protocol`).
        normalization: ``channel`` or ``sensor`` (:class:`~automl_har.data.splits.Standardizer`).
        pool_key: ``(sources, data_dirs, label_map, source_val_fraction)``.
    """
    sources, data_dirs, label_map_name, source_val_fraction = pool_key
    pool = _loaded_pool(tuple(sorted([(target, target_dir), *((n, named_folder(data_dirs, n)) for n in sources)])),
                        window)
    loaded = [(name, pool[name]) for name in (target, *sources)]
    label_map = LabelMap.named(label_map_name, native_classes(loaded))
    harmonised = [harmonise(data, name, label_map, sensors=modalities, prefix_subjects=index > 0)
                  for index, (name, data) in enumerate(loaded)]
    target_data, source_data = harmonised[0], harmonised[1:]

    protocol = dataclasses.replace(split_protocol(split_key), source_val_fraction=source_val_fraction)
    pretrain_parts, val_parts, source_hashes = [], [], []
    for data in source_data:
        pretrain_index, val_index = source_validation_split(data.subject, data.y, protocol)
        standardizer = Standardizer(mode=normalization).fit(data[pretrain_index])
        pretrain_parts.append(standardizer.transform(data[pretrain_index]))
        val_parts.append(standardizer.transform(data[val_index]))
        source_hashes.append(pretrain_parts[-1].content_hash() + val_parts[-1].content_hash())
    merged, merged_val = concat_windowed(pretrain_parts), concat_windowed(val_parts)
    # the target must have the sources' layout too (sensors, window shape, rate), else the pre-trained
    # weights do not load: a torch size-mismatch error (PF/PU) or an unknown modality (zero-shot)
    concat_windowed([merged[np.arange(1)], target_data[np.arange(min(1, len(target_data)))]])

    folds = []
    for number, part in enumerate(parse_split(split_key[0]).folds(target_data.subject, target_data.y, protocol)):
        fold = standardized_fold(target_data, part, number, normalization, sources=merged, sources_val=merged_val,
                                 pool_fraction=len(part.train) / max(1, len(target_data)))
        pooled_hash = hashlib.sha256("|".join([fold.data_hash, *sorted(source_hashes), label_map.content_hash(),
                                               normalization]).encode()).hexdigest()[:16]
        folds.append(dataclasses.replace(fold, data_hash=pooled_hash).read_only())
    return tuple(folds)


@functools.lru_cache(maxsize=1)
def _loaded_pool(datasets: tuple[tuple[str, str | None], ...], window) -> dict[str, WindowedData]:
    """Every ``(dataset, folder)`` as its loader returns it: read once for all the targets of a
    leave-one-dataset-out (each target's pool is the same set; only the roles change)."""
    return {name: load_dataset(name, folder, window) for name, folder in datasets}


def target_classes_seen(data: PreparedData) -> bool:
    """Whether the sources hold at least one class the target has (else zero-shot is undefined)."""
    if data.sources is None:
        return False
    return bool(np.intersect1d(np.unique(data.sources.y), np.unique(data.train.y)).size)
