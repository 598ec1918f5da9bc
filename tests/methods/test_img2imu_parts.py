"""IMG2IMU building blocks: the four sensor-aware augmentations, MoCo, the image folder, the schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from automl_har.data.images import ImageFolder
from automl_har.errors import ConfigError, DatasetNotFoundError, UnknownNameError
from automl_har.methods import get_method
from automl_har.methods.img2imu import Img2ImuParams, finetune_settings
from automl_har.models.augment_images import Hue, Jitter, PermuteX, TranslateX, apply_color_matrix, parse_augmentations
from automl_har.models.moco import MoCo


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def columns():
    """4 images whose column j has value j / 32 everywhere, so column moves are readable."""
    return (torch.arange(32).float() / 32).view(1, 1, 1, 32).expand(4, 3, 6, 32).clone()


# ------------------------------------------------------------------------ augmentations
def test_translate_x_shifts_columns_and_fills(columns):
    out = TranslateX(max_fraction=0.25, fill=0.5)(columns, gen())
    for image in out:
        row = image[0, 0]
        kept = (row != 0.5).nonzero().flatten()
        shift = int(round(row[kept[0]].item() * 32)) - int(kept[0])  # source column - target column
        assert abs(shift) <= 8  # at most 25% of 32 columns
        torch.testing.assert_close(row[kept], columns[0, 0, 0, kept + shift])
        assert (image == image[:, :1]).all()  # every row and channel moved alike
    assert not torch.equal(out, columns)
    torch.testing.assert_close(TranslateX(max_fraction=0.0)(columns, gen()), columns)


def test_permute_x_reorders_whole_chunks(columns):
    out = PermuteX(n_chunks=4)(columns, gen(1))
    for image in out:
        row = (image[0, 0] * 32).round().long()
        assert sorted(row.tolist()) == list(range(32))  # a permutation of the columns
        chunks = [row[i : i + 8].tolist() for i in range(0, 32, 8)]
        assert all(c == list(range(c[0], c[0] + 8)) and c[0] % 8 == 0 for c in chunks)  # contiguous chunks
    assert any(not torch.equal(image, columns[0]) for image in out)
    torch.testing.assert_close(PermuteX(n_chunks=1)(columns, gen()), columns)


def test_hue_keeps_brightness_and_a_third_turn_permutes_axes():
    images = 0.25 + 0.5 * torch.rand(8, 3, 5, 7, generator=gen())  # away from the clamp
    out = Hue(max_shift=0.5)(images, gen(2))
    torch.testing.assert_close(out.sum(1), images.sum(1), atol=1e-4, rtol=1e-4)  # R + G + B kept
    assert not torch.allclose(out, images)
    third = apply_color_matrix(images, Hue.rotation(torch.full((8,), 1 / 3)))
    torch.testing.assert_close(third, images[:, [2, 0, 1]], atol=1e-5, rtol=1e-5)  # R <- B, G <- R, B <- G
    torch.testing.assert_close(apply_color_matrix(images, Hue.rotation(torch.zeros(8))), images)


def test_jitter_is_bounded_zero_centred_noise():
    images = torch.full((4, 3, 40, 40), 0.5)
    out = Jitter(magnitude=0.1)(images, gen())
    assert (out - images).abs().max() <= 0.1 + 1e-6
    assert abs((out - images).mean().item()) < 0.005
    assert (out - images).std() > 0.05
    torch.testing.assert_close(Jitter(magnitude=0.0)(images, gen()), images)


def test_augmentations_are_reproducible_under_a_generator(columns):
    for augment in (TranslateX(), PermuteX(), Hue(), Jitter()):
        torch.testing.assert_close(augment(columns, gen(5)), augment(columns, gen(5)))


def test_augmentation_names_and_strength_checks():
    assert parse_augmentations("Jitter,TranslateX") == ("TranslateX", "Jitter")
    assert parse_augmentations("TranslateX+PermuteX+Hue+Jitter") == ("TranslateX", "PermuteX", "Hue", "Jitter")
    with pytest.raises(UnknownNameError, match="unknown augmentation 'Flip'"):
        parse_augmentations("Flip")
    with pytest.raises(ConfigError, match="empty"):
        parse_augmentations(" + ")
    with pytest.raises(ConfigError, match="max_shift must be in"):
        Hue(max_shift=0.7)
    with pytest.raises(ConfigError, match="n_chunks must be at least 1"):
        PermuteX(n_chunks=0)


# --------------------------------------------------------------------------------- MoCo
class Tiny(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.fc = nn.Linear(12, dim)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_moco_infonce_momentum_and_queue():
    torch.manual_seed(0)
    moco = MoCo(Tiny(), dim=8, queue_size=6, momentum=0.9, temperature=0.2)
    with torch.no_grad():
        moco.encoder_q.fc.weight.add_(1.0)  # query != key encoder before the step
    q_weight, k_weight = moco.encoder_q.fc.weight.clone(), moco.encoder_k.fc.weight.clone()
    queue = moco.queue.clone()
    im_q, im_k = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    loss, logits = moco(im_q, im_k)
    # key encoder: m * theta_k + (1 - m) * theta_q
    torch.testing.assert_close(moco.encoder_k.fc.weight, 0.9 * k_weight + 0.1 * q_weight)
    q = F.normalize(moco.encoder_q(im_q), dim=1)
    k = F.normalize(moco.encoder_k(im_k), dim=1)
    expected = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], 1) / 0.2
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(loss, F.cross_entropy(expected, torch.zeros(4, dtype=torch.long)))
    torch.testing.assert_close(moco.queue[:, :4], k.T.detach())  # the new keys replace the oldest
    torch.testing.assert_close(moco.queue[:, 4:], queue[:, 4:])
    assert int(moco.queue_ptr) == 4
    loss.backward()
    assert moco.encoder_q.fc.weight.grad is not None and moco.encoder_k.fc.weight.grad is None
    moco(im_q, im_k)  # 4 more keys wrap around the ring of 6
    assert int(moco.queue_ptr) == 2
    with pytest.raises(ConfigError, match="temperature > 0"):
        MoCo(Tiny(), temperature=0.0)


# ----------------------------------------------------------------------- image folder
def test_image_folder_reads_jpeg_and_png_recursively(tmp_path):
    from PIL import Image

    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(tmp_path / "a" / "x.PNG")
    Image.fromarray(np.zeros((50, 40), np.uint8)).save(tmp_path / "a" / "b" / "y.jpg")  # grey -> RGB
    (tmp_path / "notes.txt").write_text("not an image")
    folder = ImageFolder(tmp_path, height=12, width=16)
    assert len(folder) == 2
    assert [p.name for p in folder.files] == ["y.jpg", "x.PNG"]  # sorted by path: a/b/y.jpg, a/x.PNG
    grey, white = folder[0], folder[1]
    assert white.shape == (3, 12, 16) and white.dtype == torch.uint8 and int(white.float().mean()) == 200
    assert grey.shape == (3, 12, 16) and int(grey.max()) == 0
    before = folder.content_hash()
    Image.fromarray(np.full((20, 30, 3), 10, np.uint8)).save(tmp_path / "a" / "x.PNG")
    assert folder.content_hash() != before
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no .jpg/.jpeg/.png file"):
        ImageFolder(tmp_path / "empty")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")


# ----------------------------------------------------------------------------- schedule
def test_linear_eval_schedule_is_the_papers():
    params = Img2ImuParams()
    settings = finetune_settings(params, epochs=50)
    assert (settings.epochs, settings.batch_size, settings.optimizer) == (50, 4, "adam")
    lr = lambda progress: settings.lr * settings.schedule(progress)  # noqa: E731
    assert math.isclose(lr(0.0), 1e-8, rel_tol=1e-6)
    assert math.isclose(lr(10 / 50), 1e-5, rel_tol=1e-6)  # peak after 10 of 50 epochs
    assert math.isclose(lr(1.0), 1e-6, rel_tol=1e-6)
    assert 1e-6 < lr(0.6) < 1e-5
    short = finetune_settings(params, epochs=5)  # budget-scaled: warm-up keeps its 20% share
    assert math.isclose(short.schedule.warmup, 0.2)
    assert finetune_settings(params, epochs=1).schedule.warmup == 0.0


@pytest.mark.parametrize("searched", [10, 20, 100])
def test_searched_epochs_keep_the_papers_warmup_share(searched):
    """Issue 12, item 4: the search space varies ``epochs`` (10-100); the warm-up stays 10 of 50 = 20%
    of them (not 10 absolute epochs: 90% of a 10-epoch run), at any budget."""
    params = Img2ImuParams(epochs=searched)
    for budget in (1.0, 0.2):
        epochs = max(1, round(searched * budget))
        assert math.isclose(finetune_settings(params, epochs).schedule.warmup, 0.2 if epochs > 1 else 0.0)
    with pytest.raises(ConfigError, match=r"hyperparameter 'warmup_fraction' of method 'img2imu' must be in \[0, 1\), "
                                          r"but got warmup_fraction=1.0"):
        get_method("img2imu").parse_params({"warmup_fraction": 1.0})
