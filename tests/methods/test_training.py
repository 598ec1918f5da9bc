"""The shared training loop: per-epoch reports, early stopping, best-epoch restore, learning."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from automl_har.methods import MethodContext, get_method
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.metrics import macro_f1
from automl_har.models import Conv1dClassifier


def _split(data):
    return data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]


def test_supervised_learns_synthetic_classes_and_reports_every_epoch(tiny_windows):
    method = get_method("supervised")
    train, val = _split(tiny_windows)
    reports, logged = [], []
    ctx = MethodContext(seed=0, budget=1.0, reporter=lambda s, v: reports.append((s, v)),
                        metric_logger=lambda m, s: logged.append((s, dict(m))))
    params = method.parse_params({"depth": 2, "width": 16, "epochs": 25, "patience": 25, "lr": 3e-3})
    model = method.finetune(None, train, val, params, ctx)
    assert [s for s, _ in reports] == list(range(25))
    assert [s for s, _ in logged] == list(range(25))
    assert all({"train_loss", "val_macro_f1"} == set(m) for _, m in logged)
    f1 = macro_f1(val.y, method.predict(model, val).argmax(1))
    assert f1 > 0.7, f"a small CNN should separate the synthetic classes (chance is 0.33), got {f1:.3f}"
    # the returned weights are those of the best validation epoch
    assert f1 == pytest.approx(max(v for _, v in reports))


def test_early_stopping_stops_after_patience_epochs_without_improvement(tiny_windows):
    train, val = _split(tiny_windows)
    module = Conv1dClassifier(in_channels=6, n_classes=3, depth=1, width=4)
    x_train = torch_inputs(train)
    settings = FitSettings(epochs=50, lr=0.0, patience=3)  # lr 0: never improves after epoch 0
    history = fit_classifier(module, x_train, train.y, torch_inputs(val), val.y, settings, MethodContext())
    assert len(history["val_macro_f1"]) == 4


def test_a_pruning_reporter_stops_the_fit(tiny_windows):
    train, val = _split(tiny_windows)

    def reporter(step, value):
        if step == 2:
            raise optuna.TrialPruned("pruned in test")

    method = get_method("supervised")
    with pytest.raises(optuna.TrialPruned):
        method.finetune(None, train, val, method.parse_params(method.tiny_params | {"epochs": 10}),
                        MethodContext(reporter=reporter))


def test_budget_scales_the_papers_epochs():
    assert MethodContext(budget=0.2).epochs(100) == 20
    assert MethodContext(budget=0.001).epochs(100) == 1


def torch_inputs(data):
    from automl_har.methods.supervised import stack_modalities

    return stack_modalities(data)
