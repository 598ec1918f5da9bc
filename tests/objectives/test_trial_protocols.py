"""run_trial under each protocol: folds x draws, per-unit pruning reports, train/test only, fresh draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from automl_har.methods import get_method
from automl_har.objectives import ExperimentSpec, Protocol, TrialHooks, prepare_data, run_trial

TINY = get_method("supervised").tiny_params


def spec(**protocol) -> ExperimentSpec:
    return ExperimentSpec(method="supervised", dataset="synthetic", budget=1.0,
                          protocol=Protocol(labels_per_class=3, **protocol))


def test_folds_value_is_the_mean_over_folds_and_draws_with_one_report_per_unit():
    reports = []
    hooks = TrialHooks(report=lambda step, value: reports.append((step, value)), pruning_mode="draw")
    result = run_trial(TINY, spec(split="folds:3", test_subjects=(6,), repeats=2), hooks)
    assert result.units == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert [step for step, _ in reports] == list(range(6))
    assert [v for _, v in reports] == result.val_f1
    assert result.value == pytest.approx(np.mean(result.val_f1))
    assert len(result.test_f1) == len(result.val_accuracy) == 6
    assert result.checkpoint["fold"] in (0, 1, 2)


def test_epoch_reports_come_from_the_first_unit_only():
    reports = []
    hooks = TrialHooks(report=lambda step, value: reports.append(step), pruning_mode="epoch")
    run_trial(TINY, spec(split="folds:2", test_subjects=(6,), repeats=2), hooks)
    assert reports == list(range(len(reports))) and 0 < len(reports) <= TINY["epochs"]


def test_train_test_only_protocol_trains_fixed_epochs_and_has_no_validation_value():
    logged = []
    hooks = TrialHooks(log_metrics=lambda metrics, step: logged.append(dict(metrics)),
                       report=lambda step, value: pytest.fail("nothing may be reported without validation"))
    params = {**TINY, "epochs": 4, "patience": 1}
    result = run_trial(params, spec(val_subjects=(), test_subjects=(5, 6), repeats=2), hooks)
    assert all(math.isnan(v) for v in result.val_f1) and math.isnan(result.value)
    assert all(0 <= v <= 1 for v in result.test_f1)
    per_draw = [m for m in logged if "train_loss/draw_0" in m]
    assert len(per_draw) == 4  # every epoch ran: no early stopping with patience 1
    assert not any(k.startswith("val_") for m in logged for k in m)


def test_fresh_draws_differ_from_the_search_draws_and_are_reproducible():
    s = spec(repeats=2)
    search = run_trial(TINY, s)
    fresh = run_trial(TINY, s, draws=[500, 501])
    again = run_trial(TINY, s, draws=[500, 501])
    assert fresh.units == [(0, 500), (0, 501)]
    assert fresh.test_f1 == again.test_f1 and fresh.val_f1 == again.val_f1
    assert fresh.val_f1 != search.val_f1
    fold = prepare_data(s)
    search_windows = {tuple(fold.labeled_draw(s.protocol, d)) for d in (0, 1)}
    assert not search_windows & {tuple(fold.labeled_draw(s.protocol, d)) for d in (500, 501)}


def test_the_test_labels_never_move_the_value_the_sampler_sees(tmp_path):
    """Model selection never sees test data: the same experiment with the test subjects' labels
    shuffled gives the same trial value (and the same validation floors), only other test metrics."""
    import dataclasses

    from automl_har.data.loaders.custom import save_npz
    from automl_har.data.loaders.synthetic import make_synthetic

    data = make_synthetic(n_windows=240, n_subjects=6, seed=3)
    test = np.isin(data.subject, [5, 6])
    shuffled_y = data.y.copy()
    shuffled_y[test] = np.random.default_rng(0).permutation(data.y[test])
    paths = [save_npz(data, tmp_path / "plain.npz"), save_npz(dataclasses.replace(data, y=shuffled_y), tmp_path / "shuffled.npz")]
    protocol = Protocol(labels_per_class=3, repeats=2, val_subjects=(4,), test_subjects=(5, 6))
    results = [run_trial(TINY, ExperimentSpec(method="supervised", dataset=str(path), budget=1.0, protocol=protocol))
               for path in paths]
    assert results[0].value == results[1].value and results[0].val_f1 == results[1].val_f1
    assert [f.linear_probe for f in results[0].floors["val"]] == [f.linear_probe for f in results[1].floors["val"]]
    # the shuffled labels did change what is reported on test (the test floors read them)
    assert [f.linear_probe for f in results[0].floors["test"]] != [f.linear_probe for f in results[1].floors["test"]]
