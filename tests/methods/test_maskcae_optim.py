"""LAMB's trust-ratio update, the warm-up + cosine schedule and its use in fit_classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from automl_har.errors import ConfigError
from automl_har.methods import MethodContext
from automl_har.methods._lamb import Lamb
from automl_har.methods._schedules import WarmupCosine, step_scheduler
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.models import Conv1dClassifier


def test_first_lamb_step_is_the_sign_direction_scaled_by_the_trust_ratio():
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0]))  # ||p|| = 5
    p.grad = torch.tensor([0.5, -2.0])
    Lamb([p], lr=0.1, eps=0.0).step()
    # step 1: m_hat = g, v_hat = g^2 -> u = sign(g) with ||u|| = sqrt(2); trust ratio = 5 / sqrt(2)
    expected = torch.tensor([3.0, 4.0]) - 0.1 * (5 / math.sqrt(2)) * torch.tensor([1.0, -1.0])
    assert torch.allclose(p.detach(), expected, atol=1e-6)


def test_lamb_weight_decay_enters_the_update_before_the_trust_ratio():
    p = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    p.grad = torch.tensor([1.0, 1.0])
    Lamb([p], lr=0.1, eps=0.0, weight_decay=0.5).step()
    u = torch.tensor([1.0, 1.0]) + 0.5 * torch.tensor([3.0, 4.0])
    expected = torch.tensor([3.0, 4.0]) - 0.1 * (5.0 / u.norm()) * u
    assert torch.allclose(p.detach(), expected, atol=1e-6)


def test_every_layer_moves_by_lr_times_its_own_norm_whatever_the_gradient_scale():
    small = torch.nn.Parameter(torch.full((4,), 0.01))
    large = torch.nn.Parameter(torch.full((9,), 50.0))
    small.grad, large.grad = torch.randn(4) * 1e3, torch.randn(9) * 1e-4
    before = [small.detach().clone(), large.detach().clone()]
    Lamb([small, large], lr=0.02).step()
    for old, new in zip(before, (small, large)):
        assert (new.detach() - old).norm() / old.norm() == pytest.approx(0.02, rel=1e-3)


def test_trust_ratio_is_one_for_zero_weights_or_updates():
    assert Lamb.trust_ratio(torch.tensor(0.0), torch.tensor(2.0)) == 1.0
    assert Lamb.trust_ratio(torch.tensor(3.0), torch.tensor(0.0)) == 1.0
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([1.0, -1.0, 2.0])
    Lamb([p], lr=0.1, eps=0.0).step()
    assert torch.allclose(p.detach(), torch.tensor([-0.1, 0.1, -0.1]))


def test_lamb_rejects_a_negative_learning_rate():
    with pytest.raises(ConfigError, match="lr=-1"):
        Lamb([torch.nn.Parameter(torch.zeros(1))], lr=-1)


def test_warmup_cosine_shape():
    schedule = WarmupCosine(warmup=0.2, start=0.1, end=0.05)
    assert schedule(0.0) == pytest.approx(0.1)
    assert schedule(0.1) == pytest.approx(0.55)  # halfway through the linear warm-up
    assert schedule(0.2) == pytest.approx(1.0)
    assert schedule(0.6) == pytest.approx(0.05 + 0.95 * 0.5)  # halfway through the cosine
    assert schedule(1.0) == pytest.approx(0.05)
    values = [schedule(i / 100) for i in range(20, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    with pytest.raises(ConfigError, match="warmup=1"):
        WarmupCosine(warmup=1)


def test_step_scheduler_reaches_the_end_after_total_steps():
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=1.0)
    scheduler = step_scheduler(optimizer, WarmupCosine(warmup=0.5), total_steps=4)
    seen = [optimizer.param_groups[0]["lr"]]
    for _ in range(4):
        optimizer.step()
        scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    assert seen == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])


def test_fit_classifier_applies_the_schedule_after_every_step(tiny_windows):
    from automl_har.methods._inputs import stack_modalities

    progress = []

    def schedule(p):
        progress.append(p)
        return 1.0 - p

    train, val = tiny_windows[np.arange(0, 40)], tiny_windows[np.arange(40, 60)]
    module = Conv1dClassifier(in_channels=6, n_classes=3, depth=1, width=4)
    settings = FitSettings(epochs=2, lr=0.01, batch_size=10, patience=5, optimizer="adamw", schedule=schedule)
    fit_classifier(module, stack_modalities(train), train.y, stack_modalities(val), val.y, settings, MethodContext())
    assert progress == pytest.approx([i / 8 for i in range(9)])  # 2 epochs x 4 batches, plus the start
