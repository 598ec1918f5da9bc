"""IMG2IMU's frozen-encoder head learns (issue 30, item 4): the head reads embeddings z-scored with
statistics of the unlabeled training windows' embeddings, stored in the model, so a checkpoint,
``load_model`` and the export bundle apply them as the trial's cached-embedding path does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_har.cache import StageCache
from automl_har.data import WindowedData
from automl_har.data.registry import WindowOptions
from automl_har.export import BundleModel
from automl_har.export._bundle import write_bundle
from automl_har.methods import MethodContext, get_method
from automl_har.metrics import macro_f1
from automl_har.models.img2imu_net import Img2ImuClassifier
from automl_har.objectives import ExperimentSpec, Protocol, load_model
from automl_har.objectives._trial import make_checkpoint
from automl_har.objectives.prepared import prepare_data

#: small spectrogram images; the paper's linear-eval schedule (lr 1e-8 -> 1e-5 -> 1e-6, 50 epochs, batch 4)
SMALL = {"nfft": 16, "noverlap_delta": 4, "image_height": 24, "image_width": 32, "pretrain_source": "random"}


def tones(n: int, seed: int, rate_hz: float = 25.0, length: int = 50) -> WindowedData:
    """Two clearly separable classes: a 1.5 Hz or an 8 Hz sine on every axis (random phase), plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.arange(length) / rate_hz
    frequency = np.where(y == 0, 1.5, 8.0)[:, None, None]
    x = np.sin(2 * np.pi * frequency * t[None, :, None] + rng.uniform(0, 2 * np.pi, (n, 1, 3)))
    x += 0.3 * rng.standard_normal((n, length, 3))
    return WindowedData({"acc": x.astype(np.float32)}, y, np.ones(n, np.int64), ["low", "high"], {"acc": rate_hz},
                        {"acc": ["x", "y", "z"]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_frozen_random_encoders_head_learns_with_the_papers_schedule(seed):
    # before the z-score, the random embeddings' common offset gave one class for every window
    # (seed 0: macro-F1 0.333, all "high"), and lr 1e-5 could not move the head away from there
    method = get_method("img2imu")
    params = method.parse_params(SMALL)
    assert (params.lr, params.warmup_start_lr, params.final_lr, params.epochs, params.batch_size) == (
        1e-5, 1e-8, 1e-6, 50, 4)
    unlabeled, val, test = tones(60, 0), tones(40, 1), tones(40, 2)
    ctx = MethodContext(seed=seed)
    model = method.finetune(method.pretrain(unlabeled.without_labels(), params, ctx), unlabeled[np.arange(20)], val,
                            params, ctx)
    predicted = method.predict(model, test, ctx).argmax(1)
    majority = macro_f1(test.y, np.zeros_like(test.y))  # 0.333 on balanced classes
    assert len(np.unique(predicted)) == 2
    assert macro_f1(test.y, predicted) > majority + 0.25


def test_the_statistics_are_fitted_on_the_unlabeled_windows_and_old_state_dicts_load_as_identity():
    method = get_method("img2imu")
    params = method.parse_params(SMALL)
    unlabeled, val = tones(60, 0), tones(40, 1)
    ctx = MethodContext(seed=0)
    state = method.pretrain(unlabeled.without_labels(), params, ctx)
    model = method.finetune(state, unlabeled[np.arange(4)], val, params, ctx)
    standardize = model.module.standardize
    embeddings = model.module.features(torch.from_numpy(unlabeled.modalities["acc"]).transpose(1, 2))
    torch.testing.assert_close(standardize.mean, embeddings.mean(0), atol=1e-5, rtol=1e-4)  # all 60, not the 4 labels
    std = embeddings.std(0, unbiased=False)
    assert (std < 1e-8).any()  # dead ReLU features of a random encoder: scaled by 1, as data.splits.Standardizer does
    torch.testing.assert_close(standardize.std, torch.where(std < 1e-8, 1.0, std), atol=1e-5, rtol=1e-4)
    assert {"standardize.mean", "standardize.std"} <= set(model.module.state_dict())
    assert not any(k.startswith("standardize") for k in model.module.encoder.state_dict())  # torchvision's keys

    old = {k: v for k, v in model.module.state_dict().items() if not k.startswith("standardize.")}
    rebuilt = Img2ImuClassifier(**model.build_kwargs)
    rebuilt.load_state_dict(old)  # saved before the z-score: the head read raw embeddings
    assert torch.equal(rebuilt.standardize.mean, torch.zeros(512)) and torch.equal(rebuilt.standardize.std, torch.ones(512))


def test_full_finetuning_keeps_the_identity_its_batchnorm_statistics_move():
    # a z-score fitted on the initial embeddings mis-scales the trained encoder's (Daphnet: macro-F1 0.12 vs 0.49)
    method = get_method("img2imu")
    params = method.parse_params({**SMALL, "finetune_mode": "full", "epochs": 1, "batch_size": 8})
    unlabeled, val = tones(60, 0), tones(40, 1)
    ctx = MethodContext(seed=0)
    model = method.finetune(method.pretrain(unlabeled.without_labels(), params, ctx), unlabeled[np.arange(20)], val,
                            params, ctx)
    assert torch.equal(model.module.standardize.mean, torch.zeros(512))
    assert torch.equal(model.module.standardize.std, torch.ones(512))


def test_checkpoint_load_model_and_export_give_the_trials_cached_embedding_logits(tmp_path):
    spec = ExperimentSpec(method="img2imu", dataset="synthetic", window=WindowOptions(window_s=2.0, rate_hz=25.0),
                          protocol=Protocol(labels_per_class=3, repeats=1), budget=0.1, device="cpu")
    data = prepare_data(spec)
    method = get_method("img2imu")
    params = method.parse_params(SMALL)
    ctx = MethodContext(seed=0, cache=StageCache(tmp_path / "cache"))
    state = method.pretrain(data.train.without_labels(), params, ctx)
    model = method.finetune(state, data.train[data.labeled_draw(spec.protocol, 0)], data.val, params, ctx)
    cached = method.predict(model, data.test, ctx)  # the trial's path: cached embeddings -> z-score -> fc
    assert model.frozen_encoder_key is not None and not torch.all(model.module.standardize.mean == 0)

    checkpoint = make_checkpoint(spec, dict(SMALL), model, 0, data)
    assert "standardize.mean" in checkpoint["state_dict"] and "standardize.std" in checkpoint["state_dict"]
    np.testing.assert_allclose(method.predict(load_model(checkpoint), data.test), cached, rtol=1e-4, atol=1e-4)

    write_bundle(tmp_path / "bundle", checkpoint, spec, {}, {})
    norm = checkpoint["normalization"]
    raw = {m: x * np.asarray(norm["stds"][m], np.float32) + np.asarray(norm["means"][m], np.float32)
           for m, x in data.test.modalities.items() if m in model.modalities}  # the bundle z-scores raw windows
    np.testing.assert_allclose(BundleModel(tmp_path / "bundle").logits(raw), cached, rtol=1e-3, atol=1e-3)

