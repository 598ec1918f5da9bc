"""Subject-wise splits, k-fold by subject, few-shot label draws, standardization and LODO.

Every function returns window indices (sorted int64 arrays) into one :class:`WindowedData`, is
deterministic under its ``seed``, and never lets one subject (or dataset) sit on both sides.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from automl_har.data._types import WindowedData
from automl_har.data.skeleton import is_skeleton
from automl_har.errors import ConfigError, DataFormatError, plain


@dataclass
class SubjectSplit:
    """Window indices and subjects of the train, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_subjects: list = field(default_factory=list)
    val_subjects: list = field(default_factory=list)
    test_subjects: list = field(default_factory=list)


def subject_split(
    subject: np.ndarray,
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    val_subjects: Sequence | None = None,
    test_subjects: Sequence | None = None,
) -> SubjectSplit:
    """Split windows by subject into train, validation and test.

    Subjects are shuffled with ``seed``; the test part gets ``round(test_fraction * n)`` of them
    and the validation part ``round(val_fraction * n)``, at least one each (and the train part
    keeps at least one). Explicit ``val_subjects`` / ``test_subjects`` replace the draw for that
    part; subjects may be given as strings of int ids (as typed on the command line). An empty
    ``val_subjects`` means no validation part at all (a paper's train/test-only protocol).

    Args:
        subject: ``(N,)`` subject id of every window.
        val_fraction: share of subjects for validation, in (0, 1).
        test_fraction: share of subjects for testing, in (0, 1); ``val + test < 1``.
        seed: seed of the subject permutation.
        val_subjects: validation subjects, overriding ``val_fraction``; ``()`` for none.
        test_subjects: test subjects, overriding ``test_fraction``.

    Raises:
        ConfigError: bad fractions, unknown or overlapping explicit subjects, or fewer than 3
            subjects (each part needs one).
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ConfigError(f"{name} must be in (0, 1), but got {name}={value}")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction + test_fraction must be below 1 to leave training subjects, but got "
            f"{val_fraction} + {test_fraction}; lower one of them"
        )
    subject = np.asarray(subject)
    unique = np.unique(subject)
    n = len(unique)
    no_validation = val_subjects is not None and len(val_subjects) == 0
    needed = 2 if no_validation else 3
    if n < needed:
        raise ConfigError(
            f"a subject-wise split needs at least {needed} subjects (one per part), but the data has {n} "
            f"({', '.join(map(str, unique))}); use data with more subjects"
        )
    test = _known_subjects(unique, test_subjects, "test")
    val = _known_subjects(unique, val_subjects, "val")
    both = sorted(set(test or []) & set(val or []), key=str)
    if both:
        raise ConfigError(f"subjects {plain(both)} are in both val_subjects and test_subjects; give each to one")
    n_test = len(test) if test is not None else max(1, round(test_fraction * n))
    n_val = len(val) if val is not None else max(1, round(val_fraction * n))
    while n_test + n_val >= n:  # rounding left no training subject: shrink a drawn part
        if test is None and n_test > 1 and (n_test >= n_val or val is not None):
            n_test -= 1
        elif val is None and n_val > 1:
            n_val -= 1
        else:
            break  # explicit subjects leave no room; reported below
    rng = np.random.default_rng(seed)
    taken = set(test or []) | set(val or [])
    pool = [unique[i] for i in rng.permutation(n) if unique[i] not in taken]
    if test is None:
        test, pool = pool[:n_test], pool[n_test:]
    if val is None:
        val, pool = pool[:n_val], pool[n_val:]
    if not test or (not val and not no_validation) or not pool:
        raise ConfigError(
            f"the split of {n} subjects leaves train {len(pool)}, val {len(val)}, test {len(test)}; "
            "every part needs at least one subject, give fewer explicit subjects"
        )
    train = sorted(pool)
    return SubjectSplit(
        train=np.flatnonzero(np.isin(subject, train)),
        val=np.flatnonzero(np.isin(subject, val)),
        test=np.flatnonzero(np.isin(subject, test)),
        train_subjects=plain(train),
        val_subjects=plain(sorted(val)),
        test_subjects=plain(sorted(test)),
    )


def _known_subjects(unique: np.ndarray, given: Sequence | None, part: str) -> list | None:
    """``given`` mapped onto the data's subject values (``"3"`` matches int 3); None if not given."""
    if given is None:
        return None
    by_text = {str(s): s for s in unique}
    known = []
    for s in given:
        value = s if s in set(unique.tolist()) else by_text.get(str(s))
        if value is None:
            raise ConfigError(f"{part} subject {s!r} is not in the data; choose from {', '.join(by_text)}")
        known.append(value)
    return list(dict.fromkeys(known))


def holdout_windows_split(
    y: np.ndarray, subject: np.ndarray, candidates: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split the held-out windows ``candidates`` 1:1 into validation and test windows.

    Stratified by (subject, class): each group's windows are permuted with a generator seeded by
    ``(seed, group)`` and the first ``floor(n / 2)`` go to validation, the rest to test, so both
    parts hold every held-out subject and class (MESEN's protocol: subjects 7-8 of UTD-MHAD, split
    into validation and test windows). Deterministic under ``seed``.

    Returns:
        sorted ``(validation, test)`` window indices, disjoint, together ``candidates``.
    """
    y, subject = np.asarray(y), np.asarray(subject)
    candidates = np.unique(np.asarray(candidates, dtype=np.int64))
    val, test = [], []
    groups = sorted({(str(subject[i]), int(y[i])) for i in candidates})
    for number, (who, label) in enumerate(groups):
        pool = candidates[(subject[candidates].astype(str) == who) & (y[candidates] == label)]
        pool = np.random.default_rng([seed, number]).permutation(pool)
        half = len(pool) // 2
        val.append(pool[:half])
        test.append(pool[half:])
    empty = np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(val or [empty])), np.sort(np.concatenate(test or [empty]))


def within_subject_split(
    y: np.ndarray, subject: np.ndarray, *, folds: int = 10, train: int = 7, val: int = 1, test: int = 2,
) -> SubjectSplit:
    """Split every subject's windows in time: train, validation and test hold every subject.

    Per (subject, class), the windows in data order are cut at ``train/folds`` and
    ``(train+val)/folds`` of their count (rounded): the first part trains, the next validates, the
    last tests (Presotto et al.'s 70/10/20 of a stratified 10-fold without shuffling, with the
    validation fold kept out of the test folds, unlike the authors' code: spec combined.md A4).
    Cutting by proportion rather than into ``folds`` equal blocks keeps a small (subject, class),
    e.g. 7 windows (5/1/1), in all three parts. Deterministic: no seed.

    Raises:
        ConfigError: block counts that are negative, leave no training block, or do not sum to ``folds``.
    """
    if min(train, val, test) < 0 or train < 1 or train + val + test != folds:
        raise ConfigError(
            f"a within-subject split needs train + val + test = folds with train >= 1, but got train={train}, "
            f"val={val}, test={test}, folds={folds}; e.g. folds=10, train=7, val=1, test=2"
        )
    y, subject = np.asarray(y), np.asarray(subject).astype(str)
    parts: list[list[np.ndarray]] = [[], [], []]
    for who in np.unique(subject):
        for label in np.unique(y[subject == who]):
            windows = np.flatnonzero((subject == who) & (y == label))
            cuts = [int(np.floor(len(windows) * share / folds + 0.5)) for share in (train, train + val)]
            for part, chunk in enumerate(np.split(windows, cuts)):
                parts[part].append(chunk)
    train_index, val_index, test_index = (np.sort(np.concatenate(p or [np.zeros(0, np.int64)])) for p in parts)
    everyone = plain(np.unique(np.asarray(subject)))
    return SubjectSplit(train=train_index.astype(np.int64), val=val_index.astype(np.int64),
                        test=test_index.astype(np.int64), train_subjects=everyone,
                        val_subjects=everyone if len(val_index) else [], test_subjects=everyone if len(test_index) else [])


def kfold_by_subject(subject: np.ndarray, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, test) folds of window indices; every subject is in exactly one test fold.

    Raises:
        ConfigError: ``k < 2`` or ``k`` larger than the number of subjects.
    """
    subject = np.asarray(subject)
    unique = np.unique(subject)
    if k < 2 or k > len(unique):
        raise ConfigError(
            f"k-fold by subject needs 2 <= k <= {len(unique)} (the number of subjects), but got k={k}"
        )
    groups = np.array_split(np.random.default_rng(seed).permutation(unique), k)
    folds = []
    for group in groups:
        in_test = np.isin(subject, group)
        folds.append((np.flatnonzero(~in_test), np.flatnonzero(in_test)))
    return folds


def few_shot_indices(
    y: np.ndarray,
    candidates: np.ndarray,
    *,
    labels_per_class: int | None = None,
    label_ratio: float | None = None,
    seed: int = 0,
    groups: np.ndarray | None = None,
    floor_below: int | None = None,
) -> np.ndarray:
    """Draw the labelled windows of a few-shot run from ``candidates``.

    Each class is drawn from its own generator seeded by ``(seed, class)``, as the first ``K``
    of a permutation, so a class's draw does not depend on the other classes and the draw for
    ``K`` is contained in the draw for a larger ``K`` under the same seed.

    Args:
        y: ``(N,)`` class index of every window.
        candidates: window indices that may be labelled (the training subjects' windows).
        labels_per_class: ``K`` windows per class; a class with fewer candidates gives all it has.
        label_ratio: share ``r`` in (0, 1] of each class's candidates, at least one per class.
        seed: seed of the draw.
        groups: ``(N,)`` group (subject) of every window: the draw is then made inside every group,
            each (group, class) from its own generator (Presotto et al. draw per subject).
        floor_below: with ``groups`` and ``label_ratio``: a group where ``r`` of its candidates is
            fewer than this many windows gets exactly one window per class (the authors' rule, 10).

    Returns:
        Sorted window indices. Classes of ``y`` with no candidate are left out with a warning.

    Raises:
        ConfigError: neither or both of ``labels_per_class`` and ``label_ratio``, or bad values.
    """
    if (labels_per_class is None) == (label_ratio is None):
        raise ConfigError(
            "give exactly one of labels_per_class and label_ratio, but got "
            f"labels_per_class={labels_per_class}, label_ratio={label_ratio}"
        )
    if labels_per_class is not None and not (int(labels_per_class) == labels_per_class >= 1):
        raise ConfigError(f"labels_per_class must be a positive integer, but got {labels_per_class}")
    if label_ratio is not None and not 0 < label_ratio <= 1:
        raise ConfigError(f"label_ratio must be in (0, 1], but got label_ratio={label_ratio}")
    y = np.asarray(y)
    candidates = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(candidates) and (candidates[0] < 0 or candidates[-1] >= len(y)):
        got = f"{candidates[0]}..{candidates[-1]}"
        raise ConfigError(f"candidate indices must be in 0..{len(y) - 1}, but got {got}")
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        chosen = []
        for group in np.unique(groups[candidates]):
            inside = candidates[groups[candidates] == group]
            few = label_ratio is not None and floor_below is not None and label_ratio * len(inside) < floor_below
            group_seed = [seed, zlib.crc32(group.encode())]
            chosen.append(_draw_per_class(y, inside, 1 if few else labels_per_class, None if few else label_ratio,
                                          group_seed, np.unique(y[inside])))
        return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    return _draw_per_class(y, candidates, labels_per_class, label_ratio, [seed], np.unique(y))


def _draw_per_class(y, candidates, labels_per_class, label_ratio, seed: list[int], classes) -> np.ndarray:
    """The few-shot draw of ``classes`` inside ``candidates``: per class the first ``K`` (or ``r``
    of them) of a permutation seeded by ``(*seed, class)``."""
    chosen = []
    for label in classes:
        pool = candidates[y[candidates] == label]
        if len(pool) == 0:
            warnings.warn(f"class {label} has 0 candidate windows; it is left out of the draw", stacklevel=2)
            continue
        if labels_per_class is not None:
            count = int(labels_per_class)
            if len(pool) < count:
                warnings.warn(
                    f"class {label} has only {len(pool)} candidate windows for labels_per_class={count}; "
                    f"using all {len(pool)}",
                    stacklevel=2,
                )
        else:
            count = max(1, round(label_ratio * len(pool)))
        rng = np.random.default_rng([*seed, int(label)])
        chosen.append(rng.permutation(pool)[:count])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


#: what ``Standardizer(mode=...)`` accepts: one mean/std per channel, or one per sensor (modality)
NORMALIZATION_MODES = ("channel", "sensor")
#: the mode a kind of modality gets whatever the experiment's mode is: a skeleton's joints share one
#: global affine, since a per-channel z-score distorts the body and the skeleton encoders' body frame
#: (data/skeleton.py) cancels a global affine exactly (UTD linear probe: 0.37 per channel, 0.62 body frame)
MODALITY_NORMALIZATION = {"skeleton": "sensor"}


def modality_normalization(modality: str, channels: Sequence[str], mode: str) -> str:
    """The normalisation mode of one modality: :data:`MODALITY_NORMALIZATION` for its kind, else ``mode``."""
    return MODALITY_NORMALIZATION["skeleton"] if is_skeleton(modality, channels) else mode


@dataclass
class Standardizer:
    """Per-modality z-score with statistics from the data it was fitted on.

    ``mode="channel"``: one mean and std per channel. ``mode="sensor"``: one mean and std per
    modality (= sensor: ``acc``, ``gyro``) pooled over its channels and time steps, the
    "sensor-wise z-normalization" of Presotto et al. (SMARTCOMP'23, Sec. III-B). A skeleton
    modality is always fitted ``sensor``-wise (:func:`modality_normalization`). The pooled values
    are stored once per channel, so :meth:`transform`, :meth:`to_dict` and every checkpoint and
    export bundle apply either mode the same way; the mode itself is recorded with the experiment.

    Attributes:
        means: modality -> ``(C,)`` channel means.
        stds: modality -> ``(C,)`` channel standard deviations (1.0 for constant channels).
        mode: one of :data:`NORMALIZATION_MODES`.
    """

    means: dict[str, np.ndarray] = field(default_factory=dict)
    stds: dict[str, np.ndarray] = field(default_factory=dict)

    #: Standard deviations below this are treated as a constant channel (scaled by 1.0).
    min_std: float = 1e-8
    mode: str = "channel"

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZATION_MODES:
            raise ConfigError(f"unknown normalization {self.mode!r}; choose one of {', '.join(NORMALIZATION_MODES)}")

    def fit(self, data: WindowedData) -> "Standardizer":
        """Means and stds over every window and time step of ``data`` (the train split)."""
        if len(data) == 0:
            raise DataFormatError("cannot fit a Standardizer on 0 windows; fit it on the training split")
        self.means, self.stds = {}, {}
        for name, x in data.modalities.items():
            channels = x.shape[-1]
            per_channel = modality_normalization(name, data.channels[name], self.mode) == "channel"
            flat = x.reshape(-1, channels if per_channel else 1).astype(np.float64)
            mean, std = np.broadcast_to(flat.mean(axis=0), channels), np.broadcast_to(flat.std(axis=0), channels)
            self.means[name] = mean.copy()
            self.stds[name] = np.where(std < self.min_std, 1.0, std)
        return self

    def transform(self, data: WindowedData) -> WindowedData:
        """A new :class:`WindowedData` with every fitted modality z-scored (float32)."""
        if not self.means:
            raise ConfigError("Standardizer is not fitted; call fit(train_data) before transform")
        modalities = {}
        for name, x in data.modalities.items():
            if name not in self.means:
                fitted = ", ".join(self.means)
                raise DataFormatError(f"modality {name!r} was not in the data given to fit ({fitted}); refit")
            if x.shape[-1] != len(self.means[name]):
                raise DataFormatError(
                    f"modality {name!r} has {x.shape[-1]} channels but the Standardizer was fitted on "
                    f"{len(self.means[name])}; fit on data with the same channels"
                )
            modalities[name] = ((x - self.means[name]) / self.stds[name]).astype(np.float32)
        return data.with_modalities(modalities)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for checkpoints and YAML: ``{"means": {m: [...]}, "stds": {m: [...]}}``."""
        return {
            "means": {k: [float(v) for v in m] for k, m in self.means.items()},
            "stds": {k: [float(v) for v in s] for k, s in self.stds.items()},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "Standardizer":
        """Rebuild from :meth:`to_dict` output."""
        ok = isinstance(state, dict) and set(state) == {"means", "stds"}
        if not ok or set(state["means"]) != set(state["stds"]):
            got = f"keys {sorted(state)}" if isinstance(state, dict) else type(state).__name__
            raise ConfigError(
                "Standardizer state must be {'means': {modality: [...]}, 'stds': {modality: [...]}} with the "
                f"same modalities in both, but got {got}; pass the output of Standardizer.to_dict()"
            )
        return cls(
            means={k: np.asarray(v, dtype=np.float64) for k, v in state["means"].items()},
            stds={k: np.asarray(v, dtype=np.float64) for k, v in state["stds"].items()},
        )
