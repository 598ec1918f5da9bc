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
    from automl_har.methods._inputs import stack_modalities

    return stack_modalities(data)


def test_a_regularizer_is_added_to_the_loss_and_logged_as_train_reg(tiny_windows):
    import torch

    train, val = _split(tiny_windows)
    logged = []
    ctx = MethodContext(metric_logger=lambda m, s: logged.append(dict(m)))
    torch.manual_seed(0)
    module = Conv1dClassifier(in_channels=6, n_classes=3, depth=1, width=4)
    weights = [p for p in module.parameters() if p.dim() > 1]
    penalty = lambda: 0.5 * sum((w ** 2).sum() for w in weights)  # noqa: E731
    start = float(penalty().detach())
    settings = FitSettings(epochs=6, lr=1e-2, patience=10)
    history = fit_classifier(module, torch_inputs(train), train.y, torch_inputs(val), val.y, settings, ctx,
                             regularizer=penalty)
    assert len(history["train_reg"]) == 6 and all("train_reg" in m for m in logged)
    assert history["train_reg"][0] <= start * 1.01 and history["train_reg"][-1] < history["train_reg"][0]
    assert all(loss > reg for loss, reg in zip(history["train_loss"], history["train_reg"]))  # CE + reg


def test_select_on_accuracy_keeps_the_most_accurate_epoch(tiny_windows):
    from automl_har.metrics import accuracy

    train, val = _split(tiny_windows)
    reports = []
    module = Conv1dClassifier(in_channels=6, n_classes=3, depth=1, width=8)
    settings = FitSettings(epochs=12, lr=3e-3, patience=12)
    history = fit_classifier(module, torch_inputs(train), train.y, torch_inputs(val), val.y, settings,
                             MethodContext(reporter=lambda s, v: reports.append(v)), select_on="accuracy")
    from automl_har.methods._inputs import predict_logits

    final = accuracy(val.y, predict_logits(module, torch_inputs(val), module_device(module)).argmax(1).numpy())
    assert final == pytest.approx(max(history["val_accuracy"]))
    assert reports == history["val_macro_f1"]  # the pruner still sees the objective, macro-F1
    with pytest.raises(ValueError, match="select_on must be one of macro_f1, accuracy"):
        fit_classifier(module, torch_inputs(train), train.y, torch_inputs(val), val.y, settings, MethodContext(),
                       select_on="loss")


def module_device(module):
    return next(module.parameters()).device


def test_lr_scales_give_named_parameters_their_own_learning_rate():
    from torch import nn

    from automl_har.errors import ConfigError
    from automl_har.methods._optim import make_optimizer

    net = nn.Sequential()
    net.add_module("encoders", nn.Linear(3, 4))
    net.add_module("classifier", nn.Linear(4, 2))
    optimizer = make_optimizer(net, "sgd", 1e-3, lr_scales=(("encoders.", 0.1),))
    by_lr = {round(group["lr"], 12): {id(p) for p in group["params"]} for group in optimizer.param_groups}
    assert by_lr == {1e-4: {id(p) for p in net.encoders.parameters()}, 1e-3: {id(p) for p in net.classifier.parameters()}}
    with pytest.raises(ConfigError, match="must be > 0"):
        make_optimizer(net, "sgd", 1e-3, lr_scales=(("encoders.", 0.0),))
