"""Protocol splits: how the windows of an experiment are divided into train, validation and test.

One extension point (``--split``): a :class:`Split` turns the subjects and labels of a dataset
into one or more folds (:class:`~automl_har.data.splits.SubjectSplit`, window indices of the
three parts). ``prepare_folds`` fits one standardizer per fold on that fold's training windows,
and ``run_trial`` averages over folds x label draws.

- ``subjects``: one subject-wise train / validation / test split (seeded or explicit subjects).
  ``--val-subjects none`` leaves no validation part: a paper's train/test-only protocol, allowed
  only where nothing is selected on validation (``autohar reproduce``).
- ``folds:K``: the test subjects are held out first (as for ``subjects``); the remaining subjects
  are split into K groups, and fold k validates on group k and trains on the others. Every fold
  tests on the same held-out subjects, so the sampler, which sees the mean validation value over
  the folds, never sees a test subject (folds over *all* subjects would let a subject that is
  tested in one fold steer the selection in another).
- ``windows``: the held-out subjects' windows are split 1:1 into validation and test windows,
  stratified by (subject, class) (MESEN, SenSys'23, Sec. 5.1).
- ``within_subject``: every subject's windows, per class and in time order, are split 70/10/20
  into train / validation / test (Presotto et al.'s LODO code: every part holds every subject of
  the target; the test subjects are *not* unseen people). Used by the ``combined-lodo`` preset.

:func:`source_validation_split` is the split of a *source* dataset (pre-training on labeled
source datasets) into pre-training and checkpoint-selection windows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from automl_har.data.splits import (
    SubjectSplit,
    holdout_windows_split,
    kfold_by_subject,
    subject_split,
    within_subject_split,
)
from automl_har.errors import ConfigError, UnknownNameError

#: what ``--split`` accepts (``folds:K`` with an integer K >= 2)
SPLIT_NAMES = ("subjects", "folds:K", "windows", "within_subject")


class Split(ABC):
    """How one experiment's windows are divided; :meth:`folds` gives one or more folds."""

    name: ClassVar[str]

    @property
    def spec(self) -> str:
        """The ``--split`` text that rebuilds this split (recorded in MLflow, studies and checkpoints)."""
        return self.name

    @abstractmethod
    def folds(self, subject: np.ndarray, y: np.ndarray, protocol) -> list[SubjectSplit]:
        """The folds of the windows with ``subject`` and ``y`` under ``protocol`` (its subjects,
        fractions and ``split_seed``). Raises :class:`ConfigError` when the data cannot be split so."""


class SubjectsSplit(Split):
    """One subject-wise train / validation / test split."""

    name = "subjects"

    def folds(self, subject, y, protocol) -> list[SubjectSplit]:
        return [subject_split(
            subject, val_fraction=protocol.val_fraction, test_fraction=protocol.test_fraction,
            seed=protocol.split_seed, val_subjects=protocol.val_subjects, test_subjects=protocol.test_subjects,
        )]


class FoldsSplit(Split):
    """Subject-wise K-fold cross-validation over the non-test subjects."""

    name = "folds"

    def __init__(self, k: int) -> None:
        if k < 2:
            raise ConfigError(f"--split folds:K needs K >= 2 folds, but got folds:{k}; use folds:5, or --split subjects")
        self.k = k

    @property
    def spec(self) -> str:
        return f"folds:{self.k}"

    def folds(self, subject, y, protocol) -> list[SubjectSplit]:
        if protocol.val_subjects is not None:
            raise ConfigError(
                f"--split {self.spec} chooses the validation subjects of every fold itself, but got --val-subjects "
                f"{','.join(map(str, protocol.val_subjects)) or 'none'}; drop --val-subjects, or use --split subjects"
            )
        # the test part exactly as the subjects split draws it; its validation part is folded back in
        held_out = subject_split(subject, val_fraction=protocol.val_fraction, test_fraction=protocol.test_fraction,
                                 seed=protocol.split_seed, test_subjects=protocol.test_subjects)
        rest = np.concatenate([held_out.train, held_out.val])
        n_rest = len(np.unique(subject[rest]))
        if self.k > n_rest:
            raise ConfigError(
                f"--split {self.spec} needs at least {self.k} subjects outside the test part, but only {n_rest} are "
                f"left after testing on {held_out.test_subjects}; use --split folds:{n_rest} or fewer"
            )
        folds = []
        for train_rest, val_rest in kfold_by_subject(subject[rest], self.k, seed=protocol.split_seed):
            train, val = np.sort(rest[train_rest]), np.sort(rest[val_rest])
            folds.append(SubjectSplit(
                train=train, val=val, test=held_out.test,
                train_subjects=_subjects(subject, train), val_subjects=_subjects(subject, val),
                test_subjects=list(held_out.test_subjects),
            ))
        return folds


class WindowsSplit(Split):
    """Validation and test windows drawn 1:1 from the same held-out subjects (MESEN's protocol)."""

    name = "windows"

    def folds(self, subject, y, protocol) -> list[SubjectSplit]:
        test_subjects = protocol.test_subjects
        if protocol.val_subjects is not None:
            if test_subjects is None or sorted(map(str, protocol.val_subjects)) != sorted(map(str, test_subjects)):
                raise ConfigError(
                    "--split windows draws validation and test windows from the same held-out subjects, but got "
                    f"--val-subjects {','.join(map(str, protocol.val_subjects)) or 'none'} and --test-subjects "
                    f"{','.join(map(str, test_subjects or ())) or '(drawn)'}; give the held-out subjects as "
                    "--test-subjects only"
                )
        held_out = subject_split(subject, val_fraction=protocol.val_fraction, test_fraction=protocol.test_fraction,
                                 seed=protocol.split_seed, val_subjects=(), test_subjects=test_subjects)
        val, test = holdout_windows_split(y, subject, held_out.test, seed=protocol.split_seed)
        return [SubjectSplit(
            train=held_out.train, val=val, test=test, train_subjects=list(held_out.train_subjects),
            val_subjects=list(held_out.test_subjects), test_subjects=list(held_out.test_subjects),
        )]


class WithinSubjectSplit(Split):
    """Every subject in every part: per (subject, class), the windows in time order are cut into ten
    blocks; 7 train, 1 validation, 2 test (spec combined.md A4: the authors' code validated on a
    test fold; here validation and test are disjoint)."""

    name = "within_subject"

    def folds(self, subject, y, protocol) -> list[SubjectSplit]:
        if protocol.val_subjects is not None or protocol.test_subjects is not None:
            raise ConfigError("--split within_subject puts every subject in every part; drop --val-subjects and "
                              "--test-subjects, or use --split subjects")
        return [within_subject_split(y, subject, folds=10, train=7, val=1, test=2)]


def source_validation_split(subject: np.ndarray, y: np.ndarray, protocol) -> tuple[np.ndarray, np.ndarray]:
    """``(pre-training, validation)`` window indices of one source dataset.

    Under ``within_subject`` the last tenth of every (subject, class) validates (Presotto et al.:
    sources 90/10, A4: disjoint from the pre-training windows); otherwise ``source_val_fraction``
    of the source's subjects (at least one, seeded by ``split_seed``) do, so the checkpoint is
    chosen on people the pre-training did not see.
    """
    if protocol.split == WithinSubjectSplit.name:
        part = within_subject_split(y, subject, folds=10, train=9, val=1, test=0)
        return part.train, part.val
    unique = np.unique(np.asarray(subject).astype(str))
    if len(unique) < 2:
        raise ConfigError(f"a source dataset needs 2 subjects to hold one out for pre-training validation, but has "
                          f"{len(unique)}; use --split within_subject or a source with more subjects")
    n_val = min(len(unique) - 1, max(1, round(protocol.source_val_fraction * len(unique))))
    held_out = np.random.default_rng(protocol.split_seed).permutation(unique)[:n_val]
    in_val = np.isin(np.asarray(subject).astype(str), held_out)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def parse_split(text: str) -> Split:
    """The :class:`Split` named by ``--split`` text: ``subjects``, ``folds:K`` or ``windows``."""
    name, _, arg = str(text).strip().partition(":")
    if name == "folds":
        try:
            k = int(arg)
        except ValueError:
            raise ConfigError(f"--split folds:K needs an integer K, but got {text!r}; e.g. --split folds:5") from None
        return FoldsSplit(k)
    simple = {"subjects": SubjectsSplit, "windows": WindowsSplit, "within_subject": WithinSubjectSplit}
    if name in simple and not arg:
        return simple[name]()
    raise UnknownNameError("split", str(text), SPLIT_NAMES)


def _subjects(subject: np.ndarray, index: np.ndarray) -> list:
    return [s.item() if isinstance(s, np.generic) else s for s in sorted(np.unique(subject[index]), key=str)]
