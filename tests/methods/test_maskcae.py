"""MaskCAE: cached pre-training, fine-tune protocols (ft_layers), lr scaling, budget, objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_har.cache import StageCache
from automl_har.data.registry import WindowOptions
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method
from automl_har.methods import maskcae as maskcae_module
from automl_har.methods._schedules import WarmupCosine
from automl_har.objectives import run_trial
from automl_har.objectives._trial import TrialHooks
from automl_har.objectives.protocol import ExperimentSpec, Protocol


TINY = {"pretrain_epochs": 1, "pretrain_batch_size": 16, "finetune_epochs": 2, "finetune_batch_size": 16,
        "decoder_kernel": 3, "decoder_width": 32}


@pytest.fixture(scope="module")
def split(tiny_windows):
    return tiny_windows[np.arange(0, 120, 2)], tiny_windows[np.arange(1, 120, 2)]


@pytest.fixture(scope="module")
def pretrained(split):
    method = get_method("maskcae")
    return method.pretrain(split[0], method.parse_params(TINY), MethodContext(seed=0))


def test_inputs_stack_every_sensor_axis_as_a_column(tiny_windows):
    x = get_method("maskcae").model_inputs(tiny_windows)
    assert x.shape == (len(tiny_windows), 1, 25, 6)  # acc + gyro at 25 Hz, 1 s
    assert torch.equal(x[:, 0, :, 3:], torch.from_numpy(tiny_windows.modalities["gyro"]))


def test_pretraining_returns_the_encoder_and_its_loss_curve(pretrained):
    assert set(pretrained["encoder"]) >= {"blocks.0.conv.weight", "blocks.3.bn.running_var"}
    assert (pretrained["n_sensors"], pretrained["window_length"]) == (6, 25)
    assert len(pretrained["pretrain_loss"]) == 1 and np.isfinite(pretrained["pretrain_loss"]).all()


def test_budget_scales_the_papers_epochs(split):
    method = get_method("maskcae")
    params = method.parse_params({**TINY, "pretrain_epochs": 4})
    state = method.pretrain(split[0], params, MethodContext(seed=0, budget=0.5))
    assert len(state["pretrain_loss"]) == 2


def test_pre_trained_encoder_is_cached_by_pretraining_params_data_and_seed(split, tmp_path):
    method, train = get_method("maskcae"), split[0]
    tags = []
    ctx = MethodContext(seed=0, cache=StageCache(tmp_path), tag_logger=lambda k, v: tags.append((k, v)))
    first = method.pretrain(train, method.parse_params(TINY), ctx)
    # fine-tuning names do not change the key
    again = method.pretrain(train, method.parse_params({**TINY, "ft_layers": 1, "finetune_lr": 3e-3}), ctx)
    for name, value in first["encoder"].items():
        assert torch.equal(value, again["encoder"][name])
    method.pretrain(train, method.parse_params({**TINY, "mask_ratio": 0.5}), ctx)
    method.pretrain(train[np.arange(50)], method.parse_params(TINY), ctx)  # other data
    method.pretrain(train, method.parse_params(TINY), MethodContext(seed=1, cache=ctx.cache, tag_logger=ctx.tag_logger))
    hits = [tag for tag in tags if tag[0] == "cache.maskcae_pretrain"]
    assert hits == [("cache.maskcae_pretrain", s) for s in ("miss", "hit", "miss", "miss", "miss")]


@pytest.mark.parametrize("ft_layers", [0, 2, 4])
def test_ft_layers_freezes_the_first_blocks(split, pretrained, ft_layers):
    method = get_method("maskcae")
    params = method.parse_params({**TINY, "ft_layers": ft_layers, "finetune_lr": 5e-2})
    model = method.finetune(pretrained, *split, params, MethodContext(seed=0))
    tuned = model.module.encoder.state_dict()
    for block in range(4):
        same = all(torch.equal(tuned[k], v) for k, v in pretrained["encoder"].items() if k.startswith(f"blocks.{block}."))
        assert same == (block < 4 - ft_layers), f"block {block} with ft_layers={ft_layers}"


def test_few_label_finetuning_uses_the_flat_release_lr_and_several_steps_per_epoch(split, pretrained, monkeypatch):
    """Issue 12 item 6: 60 labels used to give batch 60 (one step per epoch) at lr 1e-4 * 60 / 256."""
    seen = {}

    def fake_fit(module, x_train, y_train, x_val, y_val, settings, ctx):
        seen["settings"] = settings
        return {"train_loss": [0.0], "val_macro_f1": [0.0]}

    monkeypatch.setattr(maskcae_module, "fit_classifier", fake_fit)
    method = get_method("maskcae")
    defaults = {k: v for k, v in TINY.items() if not k.startswith("finetune")}
    method.finetune(pretrained, *split, method.parse_params(defaults), MethodContext(budget=0.5))
    settings = seen["settings"]
    assert settings.optimizer == "adamw" and settings.epochs == 50
    assert settings.lr == 1e-4  # the release: flat 1e-4, whatever the batch
    assert settings.weight_decay == 0.0  # the release: weight_decay 0.0
    assert settings.batch_size == 8  # 60 labels: 8 steps per epoch, not one batch of 60
    assert isinstance(settings.schedule, WarmupCosine) and settings.schedule.warmup == 0.0


@pytest.mark.parametrize("requested, n_labeled, used", [
    (512, 28096, 512),  # UCI-HAR, all labels (Table III): the paper's batch
    (512, 270, 34), (512, 60, 8), (512, 5, 1),  # few labels: at least 8 steps per epoch
    (16, 270, 16), (16, 60, 8),  # a smaller requested batch is kept when it gives enough steps
])
def test_finetune_batch_is_the_papers_unless_an_epoch_would_be_under_8_steps(requested, n_labeled, used):
    assert maskcae_module.finetune_batch(requested, n_labeled) == used


def test_few_label_finetuning_moves_the_pretrained_weights(split, pretrained):
    """With the paper's defaults (batch 512) and 60 labels, two epochs are 16 AdamW steps at 1e-4
    (cosine-annealed); before the fix they were 2 steps at 2.3e-5, which moved no weight by 1e-4."""
    method = get_method("maskcae")
    params = method.parse_params({k: v for k, v in TINY.items() if k != "finetune_batch_size"})
    model = method.finetune(pretrained, *split, params, MethodContext(seed=0))
    weight = model.module.encoder.state_dict()["blocks.0.conv.weight"]
    moved = (weight - pretrained["encoder"]["blocks.0.conv.weight"]).abs().max().item()
    assert moved > 4e-4  # Adam moves a weight by about lr per step


def test_zero_pretraining_epochs_is_the_supervised_fcn(split):
    method = get_method("maskcae")
    params = method.parse_params({**TINY, "pretrain_epochs": 0})
    assert method.pretrain(split[0], params, MethodContext()) is None
    model = method.finetune(None, *split, params, MethodContext())
    assert "pretrain_loss" not in model.history
    with pytest.raises(ConfigError, match="ft_layers=0 freezes random weights"):
        method.finetune(None, *split, method.parse_params({**TINY, "pretrain_epochs": 0, "ft_layers": 0}), MethodContext())


@pytest.mark.parametrize("bad, message", [
    ({"mask_ratio": 1.0}, "mask_ratio=1.0"), ({"ft_layers": 5}, "ft_layers=5"), ({"decoder_kernel": 4}, "decoder_kernel=4"),
])
def test_bad_hyperparameters_name_the_value(bad, message):
    with pytest.raises(ConfigError, match=message):
        get_method("maskcae").parse_params(bad)


def test_encoder_of_other_windowing_is_rejected(split, pretrained):
    method, (train, val) = get_method("maskcae"), split
    only_acc = train.select_modalities(["acc"])
    with pytest.raises(ConfigError, match="pre-train and fine-tune on the same windowing"):
        method.finetune(pretrained, only_acc, val.select_modalities(["acc"]), method.parse_params(TINY), MethodContext())


def test_trials_that_change_only_finetuning_reuse_the_pretrained_encoder(tmp_path):
    spec = ExperimentSpec(method="maskcae", dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=16.0),
                          protocol=Protocol(labels_per_class=5, repeats=1), budget=1.0)
    tags = {}
    hooks = TrialHooks(cache=StageCache(tmp_path), set_tag=tags.__setitem__)
    params = {**TINY, "pretrain_batch_size": 128}
    first = run_trial(params, spec, hooks)
    assert tags["cache.maskcae_pretrain"] == "miss"
    second = run_trial({**params, "finetune_lr": 1e-3, "ft_layers": 2}, spec, hooks)
    assert tags["cache.maskcae_pretrain"] == "hit"
    assert np.isfinite([first.value, second.value]).all()
    assert second.checkpoint["build_kwargs"]["n_sensors"] == 6


@pytest.mark.parametrize("switch", ["sparse_conv", "fusion_decoder", "feature_projection"])
def test_table_vii_ablations_are_pretraining_switches(split, switch, monkeypatch):
    from automl_har.methods._stages import PRETRAIN, stage_of

    method = get_method("maskcae")
    assert stage_of(method.Params, switch) == PRETRAIN and getattr(method.Params(), switch) is True
    built = {}
    real = maskcae_module.MaskedConvAutoencoder

    def spy(*args, **kwargs):
        built.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(maskcae_module, "MaskedConvAutoencoder", spy)
    state = method.pretrain(split[0], method.parse_params({**TINY, switch: False}), MethodContext(seed=0))
    assert built[switch] is False and np.isfinite(state["pretrain_loss"]).all()
