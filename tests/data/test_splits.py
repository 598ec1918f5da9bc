"""Subject-wise splits, k-fold, few-shot draws, standardization and leave-one-dataset-out."""

from __future__ import annotations

import numpy as np
import pytest

from automl_har.data._types import WindowedData
from automl_har.data.splits import (
    Standardizer,
    kfold_by_subject,
    few_shot_indices,
    subject_split,
)
from automl_har.errors import ConfigError, DataFormatError


def make_data(n_subjects: int = 10, per_subject: int = 30, n_classes: int = 4, seed: int = 0, shift: float = 0.0):
    """Windows with acc (3 channels, mean 5 / scale 2 plus ``shift``) and a constant 1-channel modality."""
    rng = np.random.default_rng(seed)
    n = n_subjects * per_subject
    acc = rng.normal(5.0 + shift, 2.0, size=(n, 20, 3)) * np.array([1.0, 3.0, 0.5])
    const = np.full((n, 10, 1), 7.0)
    return WindowedData(
        modalities={"acc": acc, "baro": const},
        y=np.tile(np.arange(n_classes), n // n_classes + 1)[:n],
        subject=np.repeat(np.arange(100, 100 + n_subjects), per_subject),
        classes=[f"c{i}" for i in range(n_classes)],
        rates_hz={"acc": 50.0, "baro": 25.0},
    )


# ------------------------------------------------------------------------------ subject split
def test_subject_split_keeps_each_subject_in_one_part():
    data = make_data(n_subjects=10)
    split = subject_split(data.subject, seed=3)
    parts = [set(data.subject[split.train]), set(data.subject[split.val]), set(data.subject[split.test])]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sorted(np.concatenate([split.train, split.val, split.test]).tolist()) == list(range(len(data)))
    assert (len(parts[1]), len(parts[2]), len(parts[0])) == (2, 2, 6)
    assert set(split.train_subjects) == parts[0] and all(type(s) is int for s in split.test_subjects)


def test_subject_split_is_seeded():
    subject = make_data().subject
    first, again = subject_split(subject, seed=1), subject_split(subject, seed=1)
    assert first.test_subjects == again.test_subjects and first.val_subjects == again.val_subjects
    draws = {tuple(subject_split(subject, seed=s).test_subjects) for s in range(6)}
    assert len(draws) > 1


def test_explicit_subjects_are_respected():
    subject = make_data(n_subjects=6).subject
    split = subject_split(subject, test_subjects=[101, "105"], val_subjects=[100])  # "105" as typed on a CLI
    assert split.test_subjects == [101, 105] and split.val_subjects == [100]
    assert split.train_subjects == [102, 103, 104]
    assert set(subject[split.test]) == {101, 105}
    only_test = subject_split(subject, test_subjects=[100], val_fraction=0.34)
    assert only_test.test_subjects == [100] and len(only_test.val_subjects) == 2
    assert 100 not in only_test.val_subjects + only_test.train_subjects


def test_small_subject_counts():
    three = subject_split(np.repeat(["a", "b", "c"], 5))
    assert [len(three.train_subjects), len(three.val_subjects), len(three.test_subjects)] == [1, 1, 1]
    four = subject_split(np.arange(4), val_fraction=0.45, test_fraction=0.45)  # rounds to 2 + 2: shrunk
    assert len(four.train_subjects) == 1 and len(four.val_subjects) + len(four.test_subjects) == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"val_fraction": 0.9, "test_fraction": 0.3}, r"below 1 .*0\.9 \+ 0\.3"),
        ({"test_fraction": 1.2}, "test_fraction must be in"),
        ({"val_fraction": 0.0}, "val_fraction must be in"),
        ({"test_subjects": [999]}, "test subject 999 is not in the data"),
        ({"test_subjects": [100], "val_subjects": [100]}, "in both val_subjects and test_subjects"),
        ({"test_subjects": [100, 101, 102], "val_subjects": [103]}, "train 0, val 1, test 3"),
    ],
)
def test_subject_split_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        subject_split(np.repeat(np.arange(100, 104), 3), **kwargs)


def test_two_subjects_cannot_be_split_in_three():
    with pytest.raises(ConfigError, match="at least 3 subjects \(one per part\), but the data has 2"):
        subject_split(np.array([1, 1, 2, 2]))


# ------------------------------------------------------------------------------ k-fold
def test_kfold_covers_every_subject_once():
    subject = make_data(n_subjects=7).subject
    folds = kfold_by_subject(subject, k=3, seed=2)
    assert len(folds) == 3
    tested = [s for _, test in folds for s in np.unique(subject[test])]
    assert sorted(tested) == list(range(100, 107))
    for train, test in folds:
        assert not set(subject[train]) & set(subject[test])
        assert len(train) + len(test) == len(subject)
    assert [t.tolist() for _, t in kfold_by_subject(subject, 3, seed=2)] == [t.tolist() for _, t in folds]


def test_kfold_errors():
    with pytest.raises(ConfigError, match="k <= 3 .* but got k=4"):
        kfold_by_subject(np.array([1, 2, 3]), k=4)
    with pytest.raises(ConfigError, match="k=1"):
        kfold_by_subject(np.array([1, 2, 3]), k=1)


# ------------------------------------------------------------------------------ few-shot
def test_few_shot_exact_counts_only_from_candidates():
    data = make_data()
    train = subject_split(data.subject, seed=0).train
    chosen = few_shot_indices(data.y, train, labels_per_class=5, seed=0)
    assert np.bincount(data.y[chosen]).tolist() == [5, 5, 5, 5]
    assert set(chosen) <= set(train) and np.all(np.diff(chosen) > 0)  # sorted, unique


def test_few_shot_is_deterministic_and_seed_dependent():
    y, candidates = make_data().y, np.arange(0, 300, 3)
    same = [few_shot_indices(y, candidates, labels_per_class=3, seed=7) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    other = few_shot_indices(y, candidates, labels_per_class=3, seed=8)
    assert not np.array_equal(same[0], other)
    larger = few_shot_indices(y, candidates, labels_per_class=6, seed=7)
    assert set(same[0]) <= set(larger)  # nested draws under one seed


def test_few_shot_label_ratio_counts():
    y = np.array([0] * 50 + [1] * 20 + [2] * 3)
    chosen = few_shot_indices(y, np.arange(len(y)), label_ratio=0.1, seed=0)
    assert np.bincount(y[chosen]).tolist() == [5, 2, 1]  # round(r * n_c), at least one
    everything = few_shot_indices(y, np.arange(len(y)), label_ratio=1.0)
    np.testing.assert_array_equal(everything, np.arange(len(y)))


def test_few_shot_short_and_missing_classes_warn():
    y = np.array([0] * 10 + [1] * 2 + [2] * 5)
    candidates = np.arange(12)  # class 2 has no candidate
    with pytest.warns(UserWarning) as caught:
        chosen = few_shot_indices(y, candidates, labels_per_class=4)
    text = " ".join(str(w.message) for w in caught)
    assert "class 1 has only 2 candidate windows" in text and "class 2 has 0 candidate windows" in text
    assert np.bincount(y[chosen], minlength=3).tolist() == [4, 2, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of labels_per_class and label_ratio"),
        ({"labels_per_class": 2, "label_ratio": 0.5}, "exactly one"),
        ({"labels_per_class": 0}, "positive integer"),
        ({"labels_per_class": 1.5}, "positive integer"),
        ({"label_ratio": 0.0}, r"label_ratio must be in \(0, 1\]"),
        ({"label_ratio": 1.5}, r"label_ratio must be in \(0, 1\]"),
    ],
)
def test_few_shot_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        few_shot_indices(np.zeros(10, int), np.arange(10), **kwargs)


def test_few_shot_candidate_out_of_range():
    with pytest.raises(ConfigError, match=r"0\.\.9, but got 0\.\.12"):
        few_shot_indices(np.zeros(10, int), np.array([0, 12]), labels_per_class=1)


# ------------------------------------------------------------------------------ standardizer
def test_standardizer_uses_training_statistics_only():
    train = make_data(seed=0)
    test = make_data(seed=1, shift=10.0)
    scaler = Standardizer().fit(train)
    z_train, z_test = scaler.transform(train), scaler.transform(test)
    flat = z_train.modalities["acc"].reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=0), 1.0, atol=1e-4)
    assert z_train.modalities["acc"].dtype == np.float32
    assert z_test.modalities["acc"].reshape(-1, 3).mean(axis=0).min() > 1.0  # not re-centred
    np.testing.assert_array_equal(z_train.modalities["baro"], 0.0)  # constant channel: std 1.0
    assert scaler.stds["baro"].tolist() == [1.0]
    assert train.modalities["acc"].mean() > 4  # the input is not modified
    np.testing.assert_array_equal(z_test.y, test.y)
    assert z_test.rates_hz == test.rates_hz and z_test.classes == test.classes


def test_standardizer_dict_round_trip():
    data = make_data()
    scaler = Standardizer().fit(data)
    state = scaler.to_dict()
    assert isinstance(state["means"]["acc"], list) and isinstance(state["stds"]["acc"][0], float)
    again = Standardizer.from_dict(state)
    np.testing.assert_array_equal(again.transform(data).modalities["acc"], scaler.transform(data).modalities["acc"])


def test_standardizer_errors():
    data = make_data()
    with pytest.raises(ConfigError, match="not fitted"):
        Standardizer().transform(data)
    scaler = Standardizer().fit(data.select_modalities(["acc"]))
    with pytest.raises(DataFormatError, match="modality 'baro' was not in the data given to fit"):
        scaler.transform(data)
    with pytest.raises(DataFormatError, match="0 windows"):
        Standardizer().fit(data[np.array([], dtype=np.int64)])
    with pytest.raises(ConfigError, match="Standardizer state must be"):
        Standardizer.from_dict({"means": {"acc": [0.0]}})
