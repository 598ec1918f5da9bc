"""Floors (objectives/floors.py): the majority class, the linear probe, single-class models, and
how a trial carries them without changing the value its sampler sees."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from automl_har.data import WindowedData
from automl_har.data.skeleton import body_frame_of
from automl_har.metrics import accuracy, macro_f1
from automl_har.objectives import ExperimentSpec, Protocol, TrialHooks, run_trial
from automl_har.objectives.floors import (
    classes_predicted, degeneracy, linear_probe_predictions, majority_floor, probe_features, unit_floors,
)


def windows(y, x=None, seed=0, modality="acc", channels=None):
    y = np.asarray(y)
    x = np.random.default_rng(seed).normal(size=(len(y), 4, 3)) if x is None else x
    return WindowedData({modality: x}, y, np.zeros(len(y), int), ["a", "b", "c"], {modality: 50.0},
                        channels={modality: channels} if channels else {})


def separable(n_per_class=20, seed=0):
    """Three classes whose windows differ by a class-dependent offset on one channel."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    x = rng.normal(scale=0.3, size=(len(y), 4, 3))
    x[:, :, 0] += y[:, None] * 2.0
    return windows(y, x)


def test_the_majority_floor_is_the_score_of_predicting_the_most_frequent_class():
    y = np.array([0, 0, 0, 1, 2, 2])
    floors = majority_floor(y)
    constant = np.zeros_like(y)
    assert floors == {"macro_f1": macro_f1(y, constant), "accuracy": 0.5}
    assert floors["macro_f1"] == pytest.approx((2 * 3 / (6 + 3)) / 3)  # F1 of class 0, over 3 true classes
    assert all(math.isnan(v) for v in majority_floor(np.array([], int)).values())


def test_the_linear_probe_separates_what_a_linear_model_can_and_one_labeled_class_predicts_it():
    train, test = separable(seed=0), separable(seed=1)
    (predicted,) = linear_probe_predictions(train, [test], ["acc"])
    assert accuracy(test.y, predicted) > 0.95
    one_class = train[np.flatnonzero(train.y == 2)]
    (constant,) = linear_probe_predictions(one_class, [test], ["acc"])
    assert set(constant) == {2}


def test_unit_floors_are_cached_by_content_and_have_no_probe_without_labels():
    train, val, test = separable(seed=0), separable(seed=1), separable(seed=2)
    first = unit_floors(train, {"val": val, "test": test}, ["acc"])
    assert first["test"].linear_probe["accuracy"] > first["test"].majority["accuracy"] == pytest.approx(1 / 3)
    again = unit_floors(train, {"val": val, "test": test}, ["acc"])
    assert again["val"] is first["val"] and again["test"] is first["test"]  # the same fit, not a new one
    other = unit_floors(separable(seed=3), {"val": val}, ["acc"])
    assert other["val"] is not first["val"]  # other labeled windows: another probe
    zero_shot = unit_floors(None, {"test": test}, ["acc"])
    assert all(math.isnan(v) for v in zero_shot["test"].linear_probe.values())


def test_a_skeleton_probe_reads_the_body_frame_the_encoders_read():
    from automl_har.data.loaders.utd_mhad import JOINTS, skeleton_channels

    channels = skeleton_channels(JOINTS)
    x = np.random.default_rng(0).normal(size=(5, 6, 60)).astype(np.float32)
    shifted = (x.reshape(5, 6, 20, 3) + np.array([0.4, -1.0, 2.0])).reshape(x.shape) * 1.7  # moved and scaled
    a = probe_features(windows([0, 1, 2, 0, 1], x, modality="skeleton", channels=channels), ["skeleton"])
    b = probe_features(windows([0, 1, 2, 0, 1], shifted.astype(np.float32), modality="skeleton",
                               channels=channels), ["skeleton"])
    assert body_frame_of(channels).origin == (JOINTS.index("spine"),)
    np.testing.assert_allclose(a, b, atol=1e-4)
    imu = probe_features(windows([0, 1, 2]), ["acc"])  # any other modality: as normalised, flattened
    assert imu.shape == (3, 12)


def test_degenerate_means_one_class_somewhere_or_not_above_the_majority_floor():
    assert classes_predicted(np.array([2, 2, 2])) == 1 and classes_predicted(np.array([], int)) == 0
    assert not degeneracy(0.5, 0.2, [3, 2]).degenerate
    one = degeneracy(0.5, 0.2, [3, 1, 1])
    assert one.degenerate and one.reason == "repeats 1, 2 predict a single class"
    low = degeneracy(0.2, 0.2, [3, 3], unit="unit")
    assert low.degenerate and low.reason == "the mean 0.2000 does not beat the majority floor 0.2000"
    assert not degeneracy(0.3, math.nan, [2]).degenerate  # no floor measured: only the class count speaks


SPEC = ExperimentSpec(method="supervised", dataset="synthetic", budget=1.0,
                      protocol=Protocol(labels_per_class=4, repeats=2, split_seed=0))
TINY = {"depth": 1, "width": 8, "epochs": 6, "batch_size": 8}


def test_a_trial_logs_its_floors_and_its_value_is_still_the_mean_validation_macro_f1():
    result = run_trial(TINY, SPEC)
    assert result.value == pytest.approx(np.mean(result.val_f1))  # floors never reach the sampler
    metrics = result.metrics()
    for part in ("val", "test"):
        assert len(result.floors[part]) == len(result.units) == 2
        assert metrics[f"{part}_classes_predicted_min"] == min(result.classes_predicted[part])
        for kind in ("majority", "linear_probe"):
            for metric in ("macro_f1", "accuracy"):
                expected = np.mean([getattr(f, kind)[metric] for f in result.floors[part]])
                assert metrics[f"{part}_{kind}_{metric}_mean"] == pytest.approx(expected)
    assert metrics["val_majority_accuracy_mean"] == pytest.approx(np.mean(
        [np.bincount(y).max() / len(y) for y in [_validation_labels()] * 2]))


def _validation_labels():
    from automl_har.objectives import prepare_folds

    return prepare_folds(SPEC)[0].val.y


def test_monitoring_the_test_accuracy_per_epoch_changes_nothing_of_the_fit():
    spec = dataclasses.replace(SPEC, protocol=dataclasses.replace(SPEC.protocol, val_subjects=(), test_subjects=(5, 6)))
    plain = run_trial(TINY, spec)
    monitored = run_trial(TINY, spec, TrialHooks(monitor_test=True))
    assert monitored.test_accuracy == plain.test_accuracy and monitored.test_f1 == plain.test_f1
    assert not plain.best_test_epoch_accuracy
    # without validation the last epoch is kept, so the best test epoch is at least as good
    assert len(monitored.best_test_epoch_accuracy) == 2
    assert all(best >= last for best, last in zip(monitored.best_test_epoch_accuracy, monitored.test_accuracy))
    assert "reporting_rule_best_test_epoch_accuracy_mean" in monitored.metrics()
