"""The one self-supervised pre-training loop (issue 11, item 4)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import automl_har.methods as methods_package
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop
from automl_har.methods._schedules import WarmupCosine


def _linear() -> nn.Module:
    return nn.Linear(4, 1)


def _regression_step(calls: list | None = None):
    def step(model, batch, generator):
        if calls is not None:
            calls.append(len(batch))
        noise = torch.rand(len(batch), 1, generator=generator)
        return ((model(batch) - noise) ** 2).mean(), {"batch_rows": float(len(batch))}

    return step


def _data(n: int = 10) -> torch.Tensor:
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(3))


def test_same_seed_same_network_and_history_other_seed_differs():
    settings = PretrainSettings(epochs=3, batch_size=4, lr=0.05)
    a, history_a = pretrain_loop(_linear, _data(), _regression_step(), settings, MethodContext(seed=7))
    b, history_b = pretrain_loop(_linear, _data(), _regression_step(), settings, MethodContext(seed=7))
    c, _ = pretrain_loop(_linear, _data(), _regression_step(), settings, MethodContext(seed=8))
    assert torch.equal(a.weight, b.weight) and history_a == history_b
    assert not torch.equal(a.weight, c.weight)


@pytest.mark.parametrize(("n", "drop_last", "batches"), [
    (10, True, [4, 4]),          # full batches only
    (10, False, [4, 4, 2]),      # and the last, smaller one
    (9, False, [4, 4]),          # a 1-window remainder is below min_batch: skipped
])
def test_batching_per_epoch(n, drop_last, batches):
    calls: list[int] = []
    settings = PretrainSettings(epochs=2, batch_size=4, drop_last=drop_last)
    pretrain_loop(_linear, _data(n), _regression_step(calls), settings, MethodContext())
    assert calls == batches * 2


def test_metrics_are_epoch_means_and_are_logged_once_per_epoch():
    logged = []
    ctx = MethodContext(metric_logger=lambda metrics, step: logged.append((step, dict(metrics))))
    settings = PretrainSettings(epochs=2, batch_size=4, drop_last=False, loss_name="my_loss")
    _, history = pretrain_loop(_linear, _data(10), _regression_step(), settings, ctx)
    assert [step for step, _ in logged] == [0, 1]
    assert history["batch_rows"] == [pytest.approx(10 / 3)] * 2  # (4 + 4 + 2) / 3 batches
    assert set(history) == {"my_loss", "batch_rows"} and len(history["my_loss"]) == 2
    assert logged[1][1]["my_loss"] == history["my_loss"][1]


def test_schedule_is_stepped_after_every_optimizer_step(monkeypatch):
    import automl_har.methods._pretraining as loop_module

    made, seen = [], []
    original = loop_module.make_optimizer
    monkeypatch.setattr(loop_module, "make_optimizer", lambda *a, **k: made.append(original(*a, **k)) or made[-1])

    def probing_step(model, batch, generator):
        seen.append(made[0].param_groups[0]["lr"])  # the lr this step trains with
        return model(batch).pow(2).mean()

    settings = PretrainSettings(epochs=2, batch_size=5, lr=1.0, schedule=WarmupCosine(warmup=0.0))
    pretrain_loop(_linear, _data(10), probing_step, settings, MethodContext())
    cosine = WarmupCosine(warmup=0.0)
    assert seen == pytest.approx([cosine(k / 4) for k in range(4)])  # 2 epochs x 2 steps


def test_diverging_loss_is_a_one_line_error():
    def step(model, batch, generator):
        return model(batch).sum() * float("nan")

    with pytest.raises(ConfigError, match=r"pre-training diverged .* lower the pre-training learning rate"):
        pretrain_loop(_linear, _data(), step, PretrainSettings(epochs=1, batch_size=4), MethodContext())


def test_too_few_windows_is_a_one_line_error():
    with pytest.raises(ConfigError, match="at least 2 unlabeled windows or images, but got 1"):
        pretrain_loop(_linear, _data(1), _regression_step(), PretrainSettings(epochs=1, batch_size=4), MethodContext())


def test_dict_inputs_and_datasets_are_batched_like_tensors():
    class Rows(Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    settings = PretrainSettings(epochs=2, batch_size=4, lr=0.05)
    from_tensor, _ = pretrain_loop(_linear, _data(), _regression_step(), settings, MethodContext(seed=1))
    from_dataset, _ = pretrain_loop(_linear, Rows(_data()), _regression_step(), settings, MethodContext(seed=1))
    assert torch.allclose(from_tensor.weight, from_dataset.weight)

    def dict_step(model, batch, generator):
        return _regression_step()(model, batch["x"], generator)

    from_dict, _ = pretrain_loop(_linear, {"x": _data()}, dict_step, settings, MethodContext(seed=1))
    assert torch.allclose(from_tensor.weight, from_dict.weight)


def test_no_method_module_keeps_a_hand_rolled_training_loop():
    """Only the two shared loops call ``backward()``: MoCo, MaskCAE and Cosmo stage 1 use
    ``pretrain_loop``; every classifier stage uses ``fit_classifier``."""
    shared = {"_pretraining.py", "_training.py"}
    offenders = []
    for path in Path(methods_package.__file__).parent.glob("*.py"):
        if path.name in shared:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "backward":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"training loops outside the shared ones: {offenders}"
