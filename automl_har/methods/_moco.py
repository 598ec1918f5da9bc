"""MoCo pre-training of a ResNet-18 on images with sensor-aware augmentations (IMG2IMU, Sec. III-B).

The loop of Yoon et al.: two augmented views of every image, MoCo's InfoNCE loss, Adam
(paper: lr 1e-6, batch 256, 40 epochs, projection dim 64, queue 4096). Images come from a
folder (:class:`~automl_har.data.images.ImageFolder`) or are spectrogram images of sensor
windows; both are ``(3, H, W)`` uint8 tensors, scaled to [0, 1] and augmented per batch, then
normalized with ImageNet statistics.

The paper's optimisation (Adam 1e-6, batch 256) is for ImageNet's 1.28M images, ~200k steps.
On the few thousand windows of a HAR training split it is ~30-160 steps that leave the encoder
random, so in-domain MoCo on windows has its own defaults (:data:`SOURCE_DEFAULTS`). The queue
never holds more than half the pre-training set (:func:`capped_queue_size`).

The result is a MoCo checkpoint (``{"format", "state_dict": {"encoder_q.*": ...}, "history"}``)
that :func:`~automl_har.models.resnet.load_resnet18_weights` reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from automl_har.methods._base import MethodContext
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop
from automl_har.models.augment_images import AUGMENTATIONS, Hue, Jitter, PermuteX, SensorAwareAugment, TranslateX
from automl_har.models.moco import MoCo
from automl_har.models.resnet import ResNet18
from automl_har.models.spectrogram import SpectrogramImage, fit_log_power_range, imagenet_normalize

CHECKPOINT_FORMAT = "autohar-moco/1"
#: pre-training spectrograms cycle through the paper's nfft grid (noverlap = nfft - 4), so the
#: encoder is independent of the (nfft, noverlap) a trial fine-tunes with and is pre-trained once
PRETRAIN_NFFTS = (32, 64, 128, 256)
PRETRAIN_NOVERLAP_DELTA = 4
#: augmentation -> the field of its strength (of :class:`AugmentSettings` and ``Img2ImuParams``)
AUGMENTATION_STRENGTHS = {"TranslateX": "translate_max_fraction", "PermuteX": "permute_chunks",
                          "Hue": "hue_max_shift", "Jitter": "jitter_magnitude"}


@dataclass(frozen=True)
class MocoSettings:
    """MoCo pre-training hyperparameters (defaults: IMG2IMU Sec. IV-A4 and MoCo v1)."""

    dim: int = 64
    queue_size: int = 4096
    momentum: float = 0.999
    temperature: float = 0.07
    lr: float = 1e-6
    batch_size: int = 256
    epochs: int = 40


#: what MoCo pre-trains on -> its optimisation defaults ``(lr, batch_size, momentum)``, used where
#: ``Img2ImuParams`` leaves ``pretrain_lr`` / ``pretrain_batch_size`` / ``momentum`` unset (None)
SOURCE_DEFAULTS: dict[str, tuple[float, int, float]] = {
    # the paper (IV-A4): Adam 1e-6, batch 256 on ImageNet; momentum 0.999 from MoCo v1 (the paper gives none)
    "images": (1e-6, 256, 0.999),
    # in-domain MoCo on ~1k-10k sensor windows from random init (not in the paper; chosen here):
    # Adam 1e-3, the usual rate for a ResNet-18 trained from scratch with Adam; batch 64, so 1,088
    # Daphnet windows give 17 steps per epoch (680 in 40 epochs) instead of 4; key momentum 0.99
    # (MoCo's CIFAR setting), since at 0.999 the key encoder would still be half its random init
    # after 680 steps (0.999**680 = 0.51)
    "windows": (1e-3, 64, 0.99),
}


def capped_queue_size(queue_size: int, n_images: int, batch_size: int) -> int:
    """The queue actually used: ``queue_size``, capped at half the pre-training set rounded down to
    whole batches (but never below one batch).

    With a queue as large as the set, a query's own key from the previous epoch sits among its
    negatives half the time (K >= 2N: always, several times over), a false negative that pushes
    the query away from itself. A queue of N/2 keys holds the last (steps/2) batches, which contain
    the image's previous key for about 1 query in 8 (the gap between an image's two visits is
    triangular over 1 .. 2 x steps). The paper's K = 4096 against ImageNet's 1.28M images is 0.3%.
    MoCo enqueues whole batches, so the cap is a multiple of the batch size."""
    batch = max(1, min(batch_size, n_images))
    return min(queue_size, max(batch, batch * ((n_images // 2) // batch)))


@dataclass(frozen=True)
class AugmentSettings:
    """Which sensor-aware augmentations to use and how strong each is."""

    names: tuple[str, ...] = tuple(AUGMENTATIONS)
    translate_max_fraction: float = 0.45
    permute_chunks: int = 4
    hue_max_shift: float = 0.5
    jitter_magnitude: float = 0.1

    def build(self) -> SensorAwareAugment:
        made = {
            "TranslateX": lambda: TranslateX(self.translate_max_fraction),
            "PermuteX": lambda: PermuteX(self.permute_chunks),
            "Hue": lambda: Hue(self.hue_max_shift),
            "Jitter": lambda: Jitter(self.jitter_magnitude),
        }
        return SensorAwareAugment([made[name]() for name in self.names])

    def key(self) -> dict[str, Any]:
        """Cache-key part: the subset and the strengths of the augmentations in it only."""
        return {"names": list(self.names),
                **{AUGMENTATION_STRENGTHS[n]: getattr(self, AUGMENTATION_STRENGTHS[n]) for n in self.names}}


@torch.no_grad()
def spectrogram_images(windows: Tensor, fs: float, height: int, width: int, batch_size: int = 256) -> Tensor:
    """``(N, 3, T)`` windows -> ``(N, 3, height, width)`` uint8 images for pre-training; window
    ``i`` is drawn with ``nfft = PRETRAIN_NFFTS[i % 4]``, and the log-power range of each nfft is
    fitted on ``windows`` themselves (the unlabeled training windows: no labels are needed)."""
    images = torch.empty((len(windows), 3, height, width), dtype=torch.uint8)
    for j, nfft in enumerate(PRETRAIN_NFFTS):
        noverlap = nfft - PRETRAIN_NOVERLAP_DELTA
        log_power_range = fit_log_power_range(windows, fs, nfft, noverlap)
        to_image = SpectrogramImage(fs, nfft, noverlap, log_power_range, height, width, normalize=False)
        rows = torch.arange(j, len(windows), len(PRETRAIN_NFFTS))
        for start in range(0, len(rows), batch_size):
            part = rows[start : start + batch_size]
            images[part] = (to_image(windows[part]) * 255).round().to(torch.uint8)
    return images


def pretrain_moco(
    images: Dataset | Tensor, augment: AugmentSettings, settings: MocoSettings, ctx: MethodContext, epochs: int | None = None
) -> dict[str, Any]:
    """MoCo pre-training of a ResNet-18 on ``images`` (uint8 ``(3, H, W)`` items).

    Args:
        images: a tensor ``(N, 3, H, W)`` or a dataset of such items.
        augment: the sensor-aware augmentations that make the two views.
        settings: MoCo and optimisation hyperparameters.
        ctx: seed, device, per-epoch ``moco_loss`` logging.
        epochs: epochs to run (default ``ctx.epochs(settings.epochs)``).

    Returns:
        A MoCo checkpoint: ``state_dict`` holds the query encoder as ``encoder_q.*``.
    """
    epochs = ctx.epochs(settings.epochs) if epochs is None else epochs
    n_images = len(images)
    settings = replace(settings, queue_size=capped_queue_size(settings.queue_size, n_images, settings.batch_size))
    ctx.set_tag("img2imu.moco_queue_size", str(settings.queue_size))
    loop_settings = PretrainSettings(epochs=epochs, batch_size=settings.batch_size, optimizer="adam", lr=settings.lr,
                                     loss_name="moco_loss")  # full batches only, as in MoCo

    def build() -> MoCo:
        return MoCo(ResNet18(num_classes=settings.dim), settings.dim, settings.queue_size, settings.momentum,
                    settings.temperature)

    moco, history = pretrain_loop(build, images, contrastive_views_step(augment.build()), loop_settings, ctx)
    state = {f"encoder_q.{k}": v.detach().cpu() for k, v in moco.encoder_q.state_dict().items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": "resnet18",
        "state_dict": state,
        "history": history,
        # epochs_run: fewer than ``epochs`` when ctx.pretrain_fraction truncates the pre-training
        "settings": {**asdict(settings), "epochs_run": len(history["moco_loss"]), "augment": augment.key(),
                     "seed": ctx.seed, "n_images": n_images},  # queue_size: the one used (capped)
    }


def contrastive_views_step(views: SensorAwareAugment):
    """The MoCo step: two augmented views of every uint8 image, InfoNCE; also the top-1 rate at
    which the positive key outranks the queue's negatives."""

    def step(moco: MoCo, batch: Tensor, generator: torch.Generator):
        x = batch.float() / 255  # (B, 3, H, W) in [0, 1]
        im_q, im_k = imagenet_normalize(views(x, generator)), imagenet_normalize(views(x, generator))
        loss, logits = moco(im_q, im_k)
        return loss, {"moco_top1": (logits.argmax(1) == 0).float().mean()}  # positive key ranked first

    return step
