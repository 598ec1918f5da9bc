"""``autohar pretrain``: MoCo on an image folder or on a dataset's windows, cached, tracked, reusable."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from automl_har.cache import StageCache
from automl_har.cli.main import app
from automl_har.data.registry import WindowOptions
from automl_har.methods import MethodContext, get_method
from automl_har.models.resnet import load_resnet18_weights
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.objectives.prepared import prepare_data
from automl_har.tracking import EXPERIMENT
from automl_har.workspace import Workspace

TINY = ["--param", "image_height=24", "--param", "image_width=32", "--param", "queue_size=8",
        "--param", "pretrain_batch_size=8", "--quiet"]


def pretrain(*args):
    return CliRunner().invoke(app, ["pretrain", "--method", "img2imu", *args, *TINY])


def pretrain_runs(workdir):
    client = MlflowClient(tracking_uri=Workspace.resolve(workdir).tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], filter_string="tags.`autohar.kind` = 'pretrain'")


@pytest.fixture
def image_dir(tmp_path):
    from PIL import Image

    folder = tmp_path / "images" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (30 + i, 40, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return tmp_path / "images"


def test_images_to_a_moco_checkpoint_cached_and_tracked(tmp_path, image_dir):
    out = tmp_path / "ckpt" / "moco.pt"
    result = pretrain("--images", str(image_dir), "--out", str(out), "--epochs", "1", "--workdir", str(tmp_path / "w"))
    assert result.exit_code == 0, result.output
    encoder = load_resnet18_weights(out)  # a MoCo checkpoint: encoder_q.* keys, projection ignored
    assert encoder.conv1.weight.shape == (64, 3, 7, 7)
    runs = pretrain_runs(tmp_path / "w")
    assert len(runs) == 1
    tags = runs[0].data.tags
    assert "8 images under" in tags["autohar.pretrain_source"] and tags["autohar.cache.img2imu_pretrain"] == "miss"
    assert runs[0].data.params["queue_size"] == "8"
    assert len(MlflowClient(Workspace.resolve(tmp_path / "w").tracking_uri).get_metric_history(runs[0].info.run_id, "moco_loss")) == 1

    again = pretrain("--images", str(image_dir), "--out", str(tmp_path / "again.pt"), "--epochs", "1",
                     "--workdir", str(tmp_path / "w"))
    assert again.exit_code == 0, again.output
    assert pretrain_runs(tmp_path / "w")[0].data.tags["autohar.cache.img2imu_pretrain"] == "hit"


@pytest.mark.slow
def test_without_images_it_pretrains_on_the_dataset_windows_a_search_reuses(tmp_path):
    workdir = tmp_path / "w"
    args = ["--dataset", "synthetic", "--window-s", "1", "--rate", "25", "--param", "pretrain_epochs=1", "--budget", "1"]
    result = CliRunner().invoke(app, ["pretrain", "--method", "img2imu", *args, "--out", str(tmp_path / "c.pt"),
                                      "--workdir", str(workdir), *TINY[:-1], "--param", "pretrain_batch_size=512"])
    assert result.exit_code == 0, result.output
    assert "unlabeled training windows of synthetic (no --images)" in result.output
    assert "(no --images)" in pretrain_runs(workdir)[0].data.tags["autohar.pretrain_source"]
    # the search's pre-training stage (same data, seed, budget, params) finds the cached encoder
    spec = ExperimentSpec(method="img2imu", dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=25.0),
                          protocol=Protocol(seed=0), budget=1.0)
    method = get_method("img2imu")
    params = method.parse_params({"image_height": 24, "image_width": 32, "queue_size": 8, "pretrain_batch_size": 512,
                                  "pretrain_epochs": 1})
    tags = {}
    ctx = MethodContext(seed=0, budget=1.0, cache=StageCache(Workspace.resolve(workdir).cache_dir), tag_logger=tags.__setitem__)
    method.pretrain(prepare_data(spec).train.without_labels(), params, ctx)  # as run_trial calls it
    assert tags["cache.img2imu_pretrain"] == "hit"


def test_user_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["pretrain", "--method", "supervised", "--images", str(tmp_path), "--out", "x.pt"])
    assert result.exit_code == 2 and "has no stand-alone pre-training; choose one of img2imu" in result.output
    result = CliRunner().invoke(app, ["pretrain", "--method", "img2imu", "--out", "x.pt"])
    assert result.exit_code == 2 and "give --images DIR, or --dataset NAME" in result.output
    result = pretrain("--images", str(tmp_path / "none"), "--out", str(tmp_path / "x.pt"), "--workdir", str(tmp_path))
    assert result.exit_code == 1 and "does not exist" in result.output
    result = pretrain("--images", str(tmp_path), "--out", "x.pt", "--param", "augmentations=Flip")
    assert result.exit_code == 2 and "unknown augmentation 'Flip'" in result.output
