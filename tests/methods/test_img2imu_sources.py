"""IMG2IMU's explicit pre-training source (issue 12, item 2): the four sources and their errors,
in-domain MoCo that trains, a queue capped by the pre-training set, and the notice a search shows."""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method
from automl_har.methods._moco import capped_queue_size
from automl_har.methods.img2imu import IN_DOMAIN_NOTICE, log_in_domain_notice
from automl_har.models.resnet import ResNet18

TINY = get_method("img2imu").tiny_params


def parse(**changes):
    return get_method("img2imu").parse_params({**TINY, **changes})


def test_sources_and_the_one_line_errors_that_name_the_fix():
    assert parse().pretrain_source == "windows"  # the default works without image weights
    with pytest.raises(ConfigError, match="hyperparameter 'pretrain_source' of method 'img2imu' must be one of images, "
                                          "weights, windows, random, but got pretrain_source='imagenet'"):
        parse(pretrain_source="imagenet")
    for source in ("images", "weights"):
        with pytest.raises(ConfigError, match="needs --images or encoder_weights") as err:
            parse(pretrain_source=source)
        assert "\n" not in str(err.value) and "autohar pretrain --method img2imu --images DIR" in str(err.value)
    with pytest.raises(ConfigError, match="add --param pretrain_source=weights"):
        parse(encoder_weights="resnet18.pth")  # weights given, but the source says windows
    with pytest.raises(ConfigError, match="no hyperparameter 'encoder_init'"):
        parse(encoder_init="random")  # superseded by pretrain_source


def test_images_source_refuses_a_checkpoint_pretrained_on_windows(tmp_path):
    train = make_synthetic(n_windows=16, n_classes=2, n_subjects=2, rate_hz=25.0, window_s=1.0, seed=0)
    backbone = ResNet18().state_dict()
    windows_ckpt, torchvision_file = tmp_path / "windows.pt", tmp_path / "resnet18.pth"
    torch.save({"state_dict": backbone, "pretrained_on": "windows"}, windows_ckpt)
    torch.save(backbone, torchvision_file)
    method = get_method("img2imu")
    with pytest.raises(ConfigError, match="was pre-trained on windows, not on images"):
        method.pretrain(train, parse(pretrain_source="images", encoder_weights=str(windows_ckpt)), MethodContext())
    tags: dict[str, str] = {}
    method.pretrain(train, parse(pretrain_source="weights", encoder_weights=str(windows_ckpt)),
                    MethodContext(tag_logger=tags.__setitem__))
    assert tags["img2imu.pretrain_source"] == "weights" and "notice" not in tags
    method.pretrain(train, parse(pretrain_source="images", encoder_weights=str(torchvision_file)), MethodContext())


def test_queue_never_holds_more_than_half_the_pretraining_set():
    assert capped_queue_size(4096, 1088, 64) == 512  # Daphnet's 1,088 training windows: 8 batches
    assert capped_queue_size(4096, 1_281_167, 256) == 4096  # ImageNet: the paper's queue
    assert capped_queue_size(1000, 1088, 64) == 512 and capped_queue_size(256, 1088, 64) == 256
    assert capped_queue_size(4096, 48, 32) == 32  # never below one batch
    assert capped_queue_size(16, 48, 32) == 16  # never above the requested queue


def test_in_domain_moco_loss_falls_with_the_windows_defaults():
    """The windows source's own lr / momentum (``SOURCE_DEFAULTS``) train: with the paper's ImageNet
    rate (1e-6) the loss stays at chance over these steps."""
    unlabeled = make_synthetic(n_windows=64, n_classes=3, n_subjects=4, rate_hz=25.0, window_s=1.0, seed=1).without_labels()
    params = parse(pretrain_epochs=10, pretrain_batch_size=16)
    for name in ("pretrain_lr", "momentum", "queue_size"):
        setattr(params, name, None if name != "queue_size" else 4096)  # the defaults, not the tiny overrides
    tags: dict[str, str] = {}
    checkpoint = get_method("img2imu").pretrain_checkpoint(unlabeled, params, MethodContext(tag_logger=tags.__setitem__))
    assert tags["img2imu.moco_queue_size"] == "32"  # half of 64 windows, in whole batches of 16
    loss = checkpoint["history"]["moco_loss"]
    # epoch 0 starts from a random queue (easy negatives); from epoch 1 the queue holds real keys.
    # The last epochs' mean, not the last epoch alone: single epochs wobble by ~0.15 on 4 batches
    # (one epoch in 6 rose above chance in a fresh environment, and 1e-6 gives 3.78-4.19 throughout)
    late = sum(loss[-3:]) / 3
    assert late < loss[1] - 0.4 and late < math.log(1 + 32) - 0.2, loss
    assert checkpoint["settings"]["lr"] == 1e-3 and checkpoint["settings"]["momentum"] == 0.99


@pytest.mark.slow
def test_a_search_without_image_weights_says_so_in_the_log_tags_and_show(tmp_path, caplog):
    from mlflow import MlflowClient

    from automl_har.cli.main import app
    from automl_har.data.registry import WindowOptions
    from automl_har.engines import SearchSpec
    from automl_har.engines.optuna import search
    from automl_har.objectives import ExperimentSpec, Protocol
    from automl_har.workspace import Workspace

    experiment = ExperimentSpec(method="img2imu", dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=25.0),
                                protocol=Protocol(labels_per_class=3, repeats=1), budget=1.0, device="cpu")
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(tmp_path / "ws"), study_name="notice",
                      n_trials=2, fixed_params=dict(TINY), pruner="none")
    log_in_domain_notice.cache_clear()  # as in a fresh process
    with caplog.at_level("WARNING"):
        result = search(spec)
    assert caplog.text.count(IN_DOMAIN_NOTICE) == 1  # once per process, not once per trial
    assert [trial.tags["notice"] for trial in result.trials] == [IN_DOMAIN_NOTICE] * 2
    from automl_har.tracking._runs import EXPERIMENT

    client = MlflowClient(spec.workspace.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert [r.data.tags["autohar.notice"] for r in runs if "autohar.notice" in r.data.tags] == [IN_DOMAIN_NOTICE] * 2
    shown = CliRunner().invoke(app, ["show", "notice", "--workdir", str(spec.workspace.root)])
    assert shown.exit_code == 0, shown.output
    assert f"notice (trials 0, 1): {IN_DOMAIN_NOTICE}" in " ".join(shown.output.split())
