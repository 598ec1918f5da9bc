"""Protocol splits (subjects, folds:K, windows, no validation) and few-label validation draws."""

from __future__ import annotations

import numpy as np
import pytest

from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives import ExperimentSpec, Protocol, check_experiment, parse_split, prepare_data, prepare_folds
from automl_har.objectives.prepared import _prepare

#: the registered `synthetic` dataset: 600 windows, 4 classes, 6 subjects
RAW = make_synthetic()


def folds_of(**protocol):
    spec = ExperimentSpec(method="supervised", dataset="synthetic", protocol=Protocol(**protocol))
    return prepare_folds(spec)


def subjects_of(index):
    return set(RAW.subject[index].tolist())


# ------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("text, spec", [("subjects", "subjects"), ("folds:3", "folds:3"), (" windows", "windows")])
def test_split_names_parse(text, spec):
    assert parse_split(text).spec == spec
    assert Protocol(split=text).split == spec


@pytest.mark.parametrize("text, match", [
    ("folds:1", "needs K >= 2 folds, but got folds:1"),
    ("folds:x", "needs an integer K"),
    ("loso", "unknown split 'loso'; choose one of folds:K, subjects, windows"),
])
def test_bad_split_names_are_one_line_errors(text, match):
    with pytest.raises(ConfigError, match=match):
        Protocol(split=text)


def test_bad_validation_mode():
    with pytest.raises(ConfigError, match="unknown validation mode 'some'; choose one of full, few"):
        Protocol(validation="some")


# ------------------------------------------------------------------------------ subjects
def test_subjects_split_has_disjoint_subjects_and_one_fold():
    (fold,) = folds_of(split="subjects", split_seed=4)
    parts = [subjects_of(fold.split.train), subjects_of(fold.split.val), subjects_of(fold.split.test)]
    assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert len(fold.train) + len(fold.val) + len(fold.test) == len(RAW)


def test_split_seed_moves_the_split_and_is_deterministic():
    first = folds_of(split_seed=1)[0].split
    again = folds_of(split_seed=1)[0].split
    _prepare.cache_clear()
    recomputed = folds_of(split_seed=1)[0].split
    assert first.test_subjects == again.test_subjects == recomputed.test_subjects
    assert np.array_equal(first.train, recomputed.train)
    assert len({tuple(folds_of(split_seed=s)[0].split.test_subjects) for s in range(6)}) > 1


def test_draw_seed_does_not_move_the_split():
    a = folds_of(split_seed=2, seed=0)[0].split
    b = folds_of(split_seed=2, seed=9)[0].split
    assert a.test_subjects == b.test_subjects and a.val_subjects == b.val_subjects


def test_no_validation_subject_gives_train_and_test_only():
    (fold,) = folds_of(val_subjects=(), test_subjects=(5, 6))
    assert len(fold.val) == 0 and fold.split.val_subjects == []
    assert subjects_of(fold.split.test) == {5, 6} and subjects_of(fold.split.train) == {1, 2, 3, 4}
    assert not Protocol(val_subjects=()).has_validation


def test_no_validation_is_refused_where_something_is_selected():
    with pytest.raises(ConfigError, match="a search selects on validation, but --val-subjects none"):
        Protocol(val_subjects=()).require_validation("a search")
    with pytest.raises(ConfigError, match="leaves no validation part, which --split windows"):
        Protocol(val_subjects=(), split="windows")


# ------------------------------------------------------------------------------ folds
def test_folds_have_disjoint_subjects_and_the_same_held_out_test_subjects():
    folds = folds_of(split="folds:3", test_subjects=(6,))
    assert len(folds) == 3 and [f.fold for f in folds] == [0, 1, 2]
    validated = []
    for fold in folds:
        train, val, test = subjects_of(fold.split.train), subjects_of(fold.split.val), subjects_of(fold.split.test)
        assert test == {6} and not (train & val or train & test or val & test)
        assert train | val == {1, 2, 3, 4, 5}
        validated += sorted(val)
    assert sorted(validated) == [1, 2, 3, 4, 5]  # every non-test subject validates exactly once


def test_each_fold_has_its_own_z_score_fitted_on_its_training_windows_only():
    folds = folds_of(split="folds:3", test_subjects=(6,))
    means = []
    for fold in folds:
        raw_train = RAW.modalities["acc"][fold.split.train].reshape(-1, 3).astype(np.float64)
        np.testing.assert_allclose(fold.standardizer.means["acc"], raw_train.mean(0), rtol=1e-6)
        np.testing.assert_allclose(fold.train.modalities["acc"].reshape(-1, 3).mean(0), 0, atol=1e-4)
        means.append(fold.standardizer.means["acc"])
    assert not np.allclose(means[0], means[1])  # not one statistic for every fold
    assert len({f.data_hash for f in folds}) == 3  # so each fold gets its own cached pre-training


def test_folds_are_deterministic_under_the_split_seed():
    a = [f.split.val_subjects for f in folds_of(split="folds:2", split_seed=3)]
    b = [f.split.val_subjects for f in folds_of(split="folds:2", split_seed=3)]
    assert a == b


def test_more_folds_than_subjects_is_an_error():
    with pytest.raises(ConfigError, match=r"folds:6 needs at least 6 subjects outside the test part, but only 5"):
        folds_of(split="folds:6", test_subjects=(6,))


def test_folds_refuse_explicit_validation_subjects():
    with pytest.raises(ConfigError, match="chooses the validation subjects of every fold itself"):
        folds_of(split="folds:2", val_subjects=(1,))


# ------------------------------------------------------------------------------ windows
def test_windows_split_draws_disjoint_validation_and_test_windows_from_the_same_subjects():
    (fold,) = folds_of(split="windows", test_subjects=(5, 6))
    val, test, train = fold.split.val, fold.split.test, fold.split.train
    assert not set(val) & set(test) and not (set(val) | set(test)) & set(train)
    assert subjects_of(val) == subjects_of(test) == {5, 6} and subjects_of(train) == {1, 2, 3, 4}
    held_out = np.flatnonzero(np.isin(RAW.subject, [5, 6]))
    assert sorted(np.concatenate([val, test]).tolist()) == held_out.tolist()
    for who in (5, 6):  # stratified by (subject, class): floor(n / 2) of each group validates
        for label in range(4):
            group = held_out[(RAW.subject[held_out] == who) & (RAW.y[held_out] == label)]
            n_val = np.isin(group, val).sum()
            assert n_val == len(group) // 2 and len(group) - n_val == -(-len(group) // 2)


def test_windows_split_is_seeded():
    a = folds_of(split="windows", test_subjects=(5, 6), split_seed=0)[0].split.val
    b = folds_of(split="windows", test_subjects=(5, 6), split_seed=0)[0].split.val
    c = folds_of(split="windows", test_subjects=(5, 6), split_seed=1)[0].split.val
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_windows_split_with_different_validation_and_test_subjects_is_an_error():
    with pytest.raises(ConfigError, match="same held-out subjects, but got --val-subjects 4 and --test-subjects 5,6"):
        folds_of(split="windows", val_subjects=(4,), test_subjects=(5, 6))
    (same,) = folds_of(split="windows", val_subjects=("5", "6"), test_subjects=(5, 6))  # the same subjects: fine
    assert subjects_of(same.split.val) == {5, 6}


# ------------------------------------------------------------------------------ few validation
def test_few_validation_draws_exact_counts_per_class_and_no_training_window():
    protocol = Protocol(validation="few", labels_per_class=3, split="windows", test_subjects=(5, 6))
    (fold,) = prepare_folds(ExperimentSpec(method="supervised", dataset="synthetic", protocol=protocol))
    for draw in range(3):
        val = fold.validation_for_draw(protocol, draw)
        assert np.bincount(val.y).tolist() == [3, 3, 3, 3]
        assert set(val.subject.tolist()) <= {5, 6}  # only validation windows, never training ones
        train_keys = {w.tobytes() for w in fold.train.modalities["acc"]}
        assert not train_keys & {w.tobytes() for w in val.modalities["acc"]}
        val_keys = {w.tobytes() for w in fold.val.modalities["acc"]}
        assert {w.tobytes() for w in val.modalities["acc"]} <= val_keys
    first, again = fold.validation_for_draw(protocol, 0), fold.validation_for_draw(protocol, 0)
    assert np.array_equal(first.modalities["acc"], again.modalities["acc"])
    assert not np.array_equal(first.modalities["acc"], fold.validation_for_draw(protocol, 1).modalities["acc"])
    full = Protocol(labels_per_class=3, split="windows", test_subjects=(5, 6))
    assert len(fold.validation_for_draw(full, 0)) == len(fold.val)


def test_few_validation_with_too_few_validation_windows_is_an_error():
    protocol = Protocol(validation="few", labels_per_class=50, test_subjects=(6,), val_subjects=(5,))
    with pytest.raises(ConfigError, match="--validation few draws 50 validation windows per class, but fold 0 has only"):
        check_experiment(ExperimentSpec(method="supervised", dataset="synthetic", protocol=protocol))


def test_unknown_split_lists_the_choices():
    with pytest.raises(UnknownNameError):
        parse_split("windows:2")


def test_cli_validation_choices_are_the_protocol_modes():
    from automl_har.cli._options import ValidationMode
    from automl_har.objectives import VALIDATION_MODES

    assert tuple(m.value for m in ValidationMode) == VALIDATION_MODES


def test_experiment_spec_round_trips_through_json_with_its_protocol():
    import json
    from dataclasses import asdict

    spec = ExperimentSpec(method="supervised", dataset="synthetic", modalities=("acc",), protocol=Protocol(
        val_subjects=(), test_subjects=(5, 6), split_seed=3, seed=4))
    assert ExperimentSpec.from_dict(json.loads(json.dumps(asdict(spec)))) == spec
    folds = ExperimentSpec(method="supervised", dataset="synthetic", protocol=Protocol(split="folds:3", validation="few"))
    assert ExperimentSpec.from_dict(json.loads(json.dumps(asdict(folds)))) == folds


def test_a_trial_writing_into_its_prepared_data_raises_and_the_next_trial_shares_it_uncopied():
    spec = ExperimentSpec(method="supervised", dataset="synthetic", protocol=Protocol(labels_per_class=2))
    first = prepare_data(spec)
    pristine = first.train.modalities["acc"].copy()
    writes = (lambda: first.train.modalities["acc"].__setitem__(slice(None), 1e6),  # what a careless method could do
              lambda: first.train.y.__setitem__(slice(None), 0),
              lambda: first.test.subject.__setitem__(0, first.test.subject[1]),
              lambda: first.standardizer.means["acc"].__setitem__(slice(None), 0),
              lambda: first.split.train.__setitem__(0, -1))
    for write in writes:
        with pytest.raises(ValueError, match="read-only"):
            write()
    again = prepare_data(spec)
    np.testing.assert_array_equal(again.train.modalities["acc"], pristine)
    assert again.train.modalities["acc"] is first.train.modalities["acc"]  # shared, not copied per trial
    labeled = again.train[again.labeled_draw(spec.protocol, 0)]
    labeled.modalities["acc"][:] = 0  # a draw's slice is the trial's own: writable, and the cache is untouched
    np.testing.assert_array_equal(prepare_data(spec).train.modalities["acc"], pristine)
