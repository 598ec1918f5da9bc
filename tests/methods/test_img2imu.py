"""IMG2IMU as a method: frozen-encoder linear eval, embedding and pre-training caches, encoder
sources (MoCo on windows, a weights file, random init), full fine-tuning, one real trial."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_har.cache import StageCache
from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.methods import MethodContext, get_method
from automl_har.models.resnet import ResNet18
from automl_har.models.spectrogram import fit_log_power_range
from automl_har.objectives import ExperimentSpec, Protocol, TrialHooks, load_model, run_trial
from automl_har.data.registry import WindowOptions

TINY = get_method("img2imu").tiny_params


@pytest.fixture(scope="module")
def data():
    full = make_synthetic(n_windows=96, n_classes=3, n_subjects=4, rate_hz=25.0, window_s=1.0, seed=1)
    return full[np.arange(0, 96, 2)], full[np.arange(1, 96, 2)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return StageCache(tmp_path_factory.mktemp("cache"))


def context(cache=None, seed=0):
    tags: dict[str, str] = {}
    return MethodContext(seed=seed, cache=cache, tag_logger=tags.__setitem__), tags


def params(**changes):
    method = get_method("img2imu")
    return method, method.parse_params({**TINY, **changes})


@pytest.fixture(scope="module")
def pretrained(data, cache):
    method, p = params()
    ctx, tags = context(cache)
    return method.pretrain(data[0], p, ctx), tags


def test_pretraining_is_cached_by_content(data, cache, pretrained):
    state, tags = pretrained
    assert tags["cache.img2imu_pretrain"] == "miss" and "unlabeled training windows" in tags["img2imu.encoder"]
    assert tags["img2imu.pretrain_source"] == "windows" and "not the paper's setting" in tags["notice"]
    method, p = params()
    ctx, tags = context(cache)
    again = method.pretrain(data[0], p, ctx)
    assert tags["cache.img2imu_pretrain"] == "hit" and again["encoder_key"] == state["encoder_key"]
    assert not any(k.startswith("fc.") for k in state["encoder"])


def test_linear_eval_freezes_the_encoder_and_caches_embeddings(data, cache, pretrained):
    train, val = data
    state, _ = pretrained
    method, p = params()
    ctx, tags = context(cache)
    model = method.finetune(state, train, val, p, ctx)
    encoder = {k: v for k, v in model.module.encoder.state_dict().items() if not k.startswith("fc.")}
    assert all(torch.equal(encoder[k], state["encoder"][k]) for k in state["encoder"])  # frozen
    assert tags["cache.img2imu_embeddings"] == "miss"
    tags.clear()
    cached_logits = method.predict(model, val, ctx)  # from the cached embeddings of val
    assert tags["cache.img2imu_embeddings"] == "hit" and model.frozen_encoder_key is not None
    assert not hasattr(method, "_ctx") and "embedding_key" not in vars(model.module)  # no hidden state
    rebuilt = load_model({"method": "img2imu", "build_kwargs": model.build_kwargs, "state_dict": model.module.state_dict(),
                         "modalities": list(model.modalities)})
    full_logits = get_method("img2imu").predict(rebuilt, val)  # the whole network on raw windows
    np.testing.assert_allclose(cached_logits, full_logits, rtol=1e-4, atol=1e-5)

    ctx2 = context(cache)[0]
    second = method.finetune(state, train, val, p, ctx2)  # a second trial: every embedding a hit
    np.testing.assert_allclose(method.predict(second, val, ctx2), cached_logits, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(method.predict(second, val), cached_logits, rtol=1e-4, atol=1e-5)  # no ctx: the network
    assert second.history == model.history
    other_method, other = params(noverlap_delta=2)  # another spectrogram: other embeddings
    ctx3, tags3 = context(cache)
    other_method.finetune(state, train, val, other, ctx3)
    assert tags3["cache.img2imu_embeddings"] == "miss"


def test_one_log_power_range_fitted_on_the_unlabeled_windows_travels_with_the_model(data, pretrained):
    train, val = data
    state, _ = pretrained
    method, p = params()
    expected = fit_log_power_range(torch.from_numpy(train.modalities["acc"]).transpose(1, 2), 25.0, p.nfft, p.noverlap)
    few = method.finetune(state, train[np.arange(6)], val, p, context()[0])  # 6 labels: the range is still the pool's
    assert (few.build_kwargs["log_power_low"], few.build_kwargs["log_power_high"]) == pytest.approx(expected)
    assert few.module.to_image.log_power_range == pytest.approx(expected)
    rebuilt = get_method("img2imu").build_model(**few.build_kwargs)
    assert rebuilt.to_image.log_power_range == few.module.to_image.log_power_range
    old = {k: v for k, v in few.build_kwargs.items() if not k.startswith("log_power")}
    with pytest.raises(ConfigError, match="predates the fitted log-power range"):
        get_method("img2imu").build_model(**old)


def test_full_finetuning_trains_the_encoder(data, pretrained):
    train, val = data
    state, _ = pretrained
    method, p = params(finetune_mode="full", epochs=1, batch_size=16)
    model = method.finetune(state, train, val, p, context()[0])
    weight = model.module.encoder.conv1.weight
    assert not torch.equal(weight, state["encoder"]["conv1.weight"])
    assert model.frozen_encoder_key is None  # predictions run the whole network
    assert method.predict(model, val).shape == (len(val), 3)


def test_random_init_and_weights_file_sources(data, pretrained, tmp_path):
    train, _ = data
    state, _ = pretrained
    method, p = params(pretrain_source="random")
    ctx, tags = context()
    random_state = method.pretrain(train, p, ctx)
    assert tags["img2imu.encoder"] == "random init" and "cache.img2imu_pretrain" not in tags and "notice" not in tags
    assert random_state["encoder_key"] != state["encoder_key"]
    assert method.pretrain(train, p, context()[0])["encoder_key"] == random_state["encoder_key"]  # seeded

    torch.manual_seed(7)
    torchvision_like = ResNet18()
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision_like.state_dict(), path)
    method, p = params(pretrain_source="weights", encoder_weights=str(path))
    ctx, tags = context()
    loaded = method.pretrain(train, p, ctx)
    assert tags["img2imu.encoder"] == str(path) and tags["img2imu.pretrain_source"] == "weights"
    torch.testing.assert_close(loaded["encoder"]["layer3.1.conv2.weight"], torchvision_like.layer3[1].conv2.weight)


def test_modality_choice_and_clear_errors(data):
    train, val = data
    method = get_method("img2imu")
    six = make_synthetic(n_windows=12, n_classes=2, n_subjects=3, modalities=("imu",), channels=6, rate_hz=25.0, window_s=1.0)
    with pytest.raises(ConfigError, match="needs a tri-axial"):
        method.check_data(six)
    with pytest.raises(UnknownNameError, match="unknown modality 'ankle'"):
        params(modality="ankle")[0].pretrain(train, params(modality="ankle")[1], context()[0])
    method, p = params(modality="gyro", pretrain_source="random")
    model = method.finetune(method.pretrain(train, p, context()[0]), train, val, p, context()[0])
    assert model.module.modality == "gyro" and model.build_kwargs["fs"] == 25.0
    with pytest.raises(ConfigError, match="noverlap_delta must be in"):
        params(nfft=16, noverlap_delta=16)
    with pytest.raises(ConfigError, match="hyperparameter 'finetune_mode' of method 'img2imu' must be one of linear, "
                                          "full, but got finetune_mode='partial'"):
        params(finetune_mode="partial")


@pytest.mark.slow
def test_a_trial_logs_the_example_spectrograms_and_the_spectrogram_params(tmp_path):
    artifacts, tags = {}, {}
    hooks = TrialHooks(cache=StageCache(tmp_path), set_tag=tags.__setitem__, log_artifact=artifacts.__setitem__)
    spec = ExperimentSpec(method="img2imu", dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=25.0),
                          protocol=Protocol(labels_per_class=3, repeats=2), budget=1.0)
    result = run_trial({**TINY, "pretrain_source": "random"}, spec, hooks)
    assert 0 <= result.value <= 1 and len(result.test_f1) == 2
    png = artifacts["img2imu/spectrogram_per_class.png"]
    assert png.startswith(b"\x89PNG")
    assert tags["img2imu.noverlap"] == "12" and tags["img2imu.modality"] == "acc"
    assert tags["cache.img2imu_embeddings"] == "hit"  # the second draw and the test set reuse embeddings
    restored = load_model(result.checkpoint)
    assert restored.module.to_image.nfft == 16
