"""IMG2IMU: spectrogram images of tri-axial IMU windows, a MoCo-pre-trained ResNet-18, linear eval.

Yoon, Cha, Nguyen, Gong, Lee, "IMG2IMU: Translating Knowledge from Large-Scale Images to IMU
Sensing Applications". Sec. III-A: x, y, z spectrograms become one RGB image (128x96, ImageNet
mean/std; one log-power range fitted on the training windows, so brightness is intensity and hue
each axis's share); III-B: MoCo with the sensor-aware augmentations TranslateX, PermuteX, Hue,
Jitter; III-C, IV-A4: linear evaluation (frozen encoder, new fc), 10 labels per class, 50 epochs,
batch 4, Adam, warm-up 1e-8 -> 1e-5 over 10 epochs then cosine to 1e-6.

Where the encoder comes from is the explicit ``pretrain_source``:

- ``images``: the paper's setting, MoCo on images (``autohar pretrain --images DIR``), read from
  ``encoder_weights``;
- ``weights``: any ResNet-18 weights file (``encoder_weights``: torchvision, e.g. ImageNet-supervised
  as in Table II, or a MoCo checkpoint);
- ``windows`` (the default, since image weights are usually absent): in-domain MoCo on spectrograms
  of the unlabeled training windows, with its own optimisation defaults (``_moco.SOURCE_DEFAULTS``),
  cached so a search reuses one encoder; the run says so (log, tag ``autohar.notice``, ``autohar show``);
- ``random``: the paper's "Randomly-init. (2D)" baseline.

A frozen encoder's 512-d embeddings are cached per (encoder, spectrogram, data). Its head reads
them z-scored with statistics of the unlabeled training windows' embeddings (the model's
``standardize``; not in the paper, which gives no input scale for its linear head): without it a
frozen random encoder's common offset made every label draw a one-class predictor.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from automl_har.attrs import NOTICE_TAG
from automl_har.data import WindowedData
from automl_har.data.images import ImageFolder
from automl_har.data.tensors import shared_tensor
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.methods._base import Method, MethodContext, TrainedModel, register_method
from automl_har.methods._moco import (
    AUGMENTATION_STRENGTHS,
    SOURCE_DEFAULTS,
    AugmentSettings,
    MocoSettings,
    pretrain_moco,
    spectrogram_images,
)
from automl_har.methods._schedules import WarmupCosine
from automl_har.methods._spectrogram_figure import examples_png
from automl_har.methods._stages import finetuning, pretraining
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.models.augment_images import parse_augmentations
from automl_har.models.img2imu_net import Img2ImuClassifier, one_thread, state_hash
from automl_har.models.resnet import ResNet18, backbone_state_dict, load_resnet18_weights
from automl_har.models.spectrogram import fit_log_power_range, subsample
from automl_har.ranges import at_least, between, fraction, non_negative, one_of, positive, unit_interval

log = logging.getLogger(__name__)


@functools.cache
def log_in_domain_notice() -> None:
    """The in-domain MoCo notice in the log once per process, not once per trial of a search."""
    log.warning("img2imu: %s", IN_DOMAIN_NOTICE)
FINETUNE_MODES = ("linear", "full")
PRETRAIN_SOURCES = ("images", "weights", "windows", "random")
#: said (log, MLflow tag, ``autohar show``) whenever the encoder is pre-trained on the windows
IN_DOMAIN_NOTICE = "image pre-training not available: in-domain MoCo on sensor spectrograms (not the paper's setting)"
#: what ``autohar pretrain`` records in its checkpoint as what MoCo saw
PRETRAINED_ON = "pretrained_on"


@dataclass
class Img2ImuParams:
    """Hyperparameters of IMG2IMU; defaults are the paper's (Sec. IV-A2, IV-A4) unless noted.

    ``nfft``/``noverlap_delta``: the paper grid-searches nfft in {32, 64, 128, 256} and
    noverlap = nfft - {2, 4, 8, 16}; the default (64, 4) is a point of that grid chosen here.
    ``modality``: the tri-axial modality to use ("" = the first with 3 channels).
    ``pretrain_source``: ``images`` | ``weights`` | ``windows`` | ``random`` (module docstring);
    the default is ``windows`` because the paper's image weights are rarely at hand, and it says so.
    ``pretrain_lr``/``pretrain_batch_size``/``momentum``: None = the default of what MoCo trains
    on (``_moco.SOURCE_DEFAULTS``: images = the paper's 1e-6 / 256 / 0.999; windows = 1e-3 / 64 / 0.99).
    ``warmup_fraction``: the share of the fine-tuning epochs spent warming up, the paper's 10 of 50,
    so a searched or budget-scaled ``epochs`` keeps the schedule's shape.
    Augmentation strengths and MoCo's temperature (0.07, MoCo v1) are not given in the paper.
    """

    modality: str = pretraining("")
    nfft: int = finetuning(64, at_least(2))
    noverlap_delta: int = finetuning(4, non_negative)  # and < nfft (__post_init__)
    image_height: int = pretraining(96, at_least(1))
    image_width: int = pretraining(128, at_least(1))
    pretrain_source: str = pretraining("windows", one_of(*PRETRAIN_SOURCES))
    encoder_weights: str = pretraining("")
    augmentations: str = pretraining("TranslateX+PermuteX+Hue+Jitter")
    translate_max_fraction: float = pretraining(0.45, unit_interval)
    permute_chunks: int = pretraining(4, at_least(1))
    hue_max_shift: float = pretraining(0.5, between(0, 0.5))  # of a turn
    jitter_magnitude: float = pretraining(0.1, non_negative)
    temperature: float = pretraining(0.07, positive)
    queue_size: int = pretraining(4096, at_least(1))
    moco_dim: int = pretraining(64, at_least(1))
    momentum: float | None = pretraining(None, fraction)
    pretrain_lr: float | None = pretraining(None, positive)
    pretrain_batch_size: int | None = pretraining(None, at_least(1))
    pretrain_epochs: int = pretraining(40, at_least(1))
    finetune_mode: str = finetuning("linear", one_of(*FINETUNE_MODES))
    lr: float = finetuning(1e-5, positive)
    warmup_start_lr: float = finetuning(1e-8, non_negative)
    final_lr: float = finetuning(1e-6, non_negative)
    warmup_fraction: float = finetuning(0.2, fraction)
    epochs: int = finetuning(50, at_least(1))
    batch_size: int = finetuning(4, at_least(1))
    patience: int = finetuning(50, non_negative)

    def __post_init__(self) -> None:
        if self.pretrain_source in ("images", "weights") and not self.encoder_weights:
            raise ConfigError(
                f"pretrain_source={self.pretrain_source!r} needs --images or encoder_weights: run `autohar pretrain "
                "--method img2imu --images DIR --out CKPT` and pass --param encoder_weights=CKPT (or a torchvision "
                "ResNet-18 .pth), or use --param pretrain_source=windows for in-domain MoCo")
        if self.encoder_weights and self.pretrain_source in ("windows", "random"):
            raise ConfigError(
                f"encoder_weights={self.encoder_weights!r} is read only with pretrain_source 'images' or 'weights', "
                f"but got pretrain_source={self.pretrain_source!r}; add --param pretrain_source=weights (or images)")
        if self.noverlap_delta >= self.nfft:  # its range (>= 0) is declared on the field
            raise ConfigError(f"noverlap_delta must be in [0, nfft), but got noverlap_delta={self.noverlap_delta} "
                              f"with nfft={self.nfft}; the paper uses 2, 4, 8 or 16")
        parse_augmentations(self.augmentations)

    @property
    def noverlap(self) -> int:
        return self.nfft - self.noverlap_delta

    def augment(self) -> AugmentSettings:
        return AugmentSettings(parse_augmentations(self.augmentations), self.translate_max_fraction,
                               self.permute_chunks, self.hue_max_shift, self.jitter_magnitude)

    def moco(self, trained_on: str) -> MocoSettings:
        """MoCo settings for pre-training on ``images`` or ``windows``: unset optimisation fields
        take that source's defaults (:data:`~automl_har.methods._moco.SOURCE_DEFAULTS`)."""
        lr, batch_size, momentum = SOURCE_DEFAULTS[trained_on]
        return MocoSettings(self.moco_dim, self.queue_size, momentum if self.momentum is None else self.momentum,
                            self.temperature, lr if self.pretrain_lr is None else self.pretrain_lr,
                            batch_size if self.pretrain_batch_size is None else self.pretrain_batch_size,
                            self.pretrain_epochs)


def triaxial_modality(data: WindowedData, requested: str = "") -> str:
    """``requested``, or the first modality with 3 channels; a clear error when there is none."""
    if requested:
        if requested not in data.modalities:
            raise UnknownNameError("modality", requested, data.modalities)
        name = requested
    else:
        name = next((m for m, x in data.modalities.items() if x.shape[2] == 3), "")
    if not name or data.modalities[name].shape[2] != 3:
        shapes = {m: x.shape[2] for m, x in data.modalities.items()}
        raise ConfigError(
            f"img2imu needs a tri-axial (3-channel) modality, but the data has channels {shapes}; "
            "pass --param modality=NAME of a 3-axis sensor"
        )
    return name


def finetune_settings(params: Img2ImuParams, epochs: int) -> FitSettings:
    """Adam, batch 4, lr warm-up ``warmup_start_lr -> lr`` then cosine to ``final_lr`` (Sec. IV-A4).

    The warm-up is the share ``warmup_fraction`` (the paper's 10 of 50 epochs) of the ``epochs``
    that run, whether the search chose ``epochs`` or the budget scaled them (at least one epoch
    is past the warm-up)."""
    warmup = min(params.warmup_fraction, (epochs - 1) / epochs)
    schedule = WarmupCosine(warmup=warmup, start=params.warmup_start_lr / params.lr, end=params.final_lr / params.lr)
    return FitSettings(epochs=epochs, lr=params.lr, batch_size=params.batch_size, patience=params.patience,
                       optimizer="adam", schedule=schedule)


def encoder_from_file(params: Img2ImuParams) -> dict[str, Tensor]:
    """The ResNet-18 backbone of ``encoder_weights``; with ``pretrain_source=images``, a checkpoint
    that ``autohar pretrain`` made from windows is refused (it is not image pre-training)."""
    encoder = load_resnet18_weights(params.encoder_weights).state_dict()
    if params.pretrain_source == "images":
        saved = torch.load(params.encoder_weights, map_location="cpu", weights_only=False)
        if isinstance(saved, dict) and saved.get(PRETRAINED_ON, "images") != "images":
            raise ConfigError(
                f"encoder_weights={params.encoder_weights!r} was pre-trained on {saved[PRETRAINED_ON]}, not on images; "
                "use --param pretrain_source=weights for it, or pre-train with `autohar pretrain --images DIR`")
    return encoder


def _windows(data: WindowedData, modality: str) -> Tensor:
    return shared_tensor(data.modalities[modality]).transpose(1, 2).contiguous()  # (N, 3, T)


@register_method
class Img2Imu(Method):
    """Spectrogram images + MoCo-pre-trained ResNet-18 + linear evaluation (Yoon et al.)."""

    name = "img2imu"
    description = "IMU spectrogram images, ResNet-18 pre-trained by MoCo with sensor-aware augmentations, linear eval"
    citation = "Yoon et al., IMG2IMU: Translating Knowledge from Large-Scale Images to IMU Sensing Applications"
    tags = {"multimodal": False, "input": "spectrogram", "image_pretraining": True}
    input_layout = "per_modality_channels_first"  # (N, 3, T) per modality; the network makes its spectrogram images
    Params = Img2ImuParams
    tiny_params = {"nfft": 16, "noverlap_delta": 4, "image_height": 24, "image_width": 32, "queue_size": 16,
                   "pretrain_batch_size": 32, "pretrain_epochs": 1, "pretrain_lr": 1e-4, "epochs": 3,
                   "lr": 1e-3, "batch_size": 8}

    def check_data(self, data: WindowedData, params: Any = None) -> None:
        super().check_data(data)
        triaxial_modality(data)

    def build_model(self, **build_kwargs: Any) -> Img2ImuClassifier:
        if "log_power_low" not in build_kwargs:
            raise ConfigError("this img2imu checkpoint predates the fitted log-power range (its images were scaled "
                              "per window and axis); train it again with this version of autohar")
        return Img2ImuClassifier(**build_kwargs)

    # ------------------------------------------------------------------ pre-training
    def pretrain(self, unlabeled: WindowedData, params: Img2ImuParams, ctx: MethodContext) -> dict[str, Any]:
        """The encoder of ``pretrain_source``, plus the unlabeled training windows (at most
        ``FIT_MAX_WINDOWS``) that fine-tuning fits the spectrogram's log-power range on."""
        modality = triaxial_modality(unlabeled, params.modality)
        ctx.set_tag("img2imu.modality", modality)
        ctx.set_tag("img2imu.noverlap", str(params.noverlap))
        ctx.set_tag("img2imu.pretrain_source", params.pretrain_source)
        torch.manual_seed(ctx.seed)
        if params.pretrain_source == "random":  # the paper's "Randomly-init. (2D)" baseline
            source, encoder = "random init", ResNet18(num_classes=0).state_dict()
        elif params.pretrain_source in ("images", "weights"):
            source, encoder = params.encoder_weights, encoder_from_file(params)
        else:
            source = "MoCo on spectrograms of the unlabeled training windows (no --images or encoder_weights)"
            log_in_domain_notice()
            ctx.set_tag(NOTICE_TAG, IN_DOMAIN_NOTICE)  # every trial's run carries it
            encoder = backbone_state_dict(self.pretrain_checkpoint(unlabeled, params, ctx))
        ctx.set_tag("img2imu.encoder", source[:250])
        encoder = {k: v for k, v in encoder.items() if not k.startswith("fc.")}
        return {"encoder": encoder, "encoder_key": state_hash(encoder), "source": source,
                "range_windows": subsample(_windows(unlabeled, modality)), "range_fs": float(unlabeled.rates_hz[modality])}

    def pretrain_checkpoint(self, source: WindowedData | ImageFolder, params: Img2ImuParams, ctx: MethodContext,
                            epochs: int | None = None) -> dict[str, Any]:
        """MoCo checkpoint of a pre-training on an image folder, or on spectrogram images of
        unlabeled windows; cached by content (images or data, augmentations, MoCo, epochs, seed)."""
        epochs = ctx.epochs(params.pretrain_epochs) if epochs is None else epochs
        if isinstance(source, ImageFolder):
            moco = params.moco("images")
            key = {**self.moco_key(params, f"images:{source.content_hash()}", ctx, moco), "epochs": epochs}
            return self.cached_stage(ctx, "img2imu_pretrain", key,
                                     lambda: pretrain_moco(source, params.augment(), moco, ctx, epochs))
        modality = triaxial_modality(source, params.modality)
        moco = params.moco("windows")
        key = {**self.moco_key(params, source.content_hash(), ctx, moco), "epochs": epochs, "modality": modality}

        def compute() -> dict:
            images = spectrogram_images(_windows(source, modality), source.rates_hz[modality],
                                        params.image_height, params.image_width)
            return pretrain_moco(images, params.augment(), moco, ctx, epochs)

        return self.cached_stage(ctx, "img2imu_pretrain", key, compute)

    def moco_key(self, params: Img2ImuParams, data_hash: str, ctx: MethodContext, moco: MocoSettings) -> dict[str, Any]:
        """The pre-training key, less what MoCo does not read: the strength of an augmentation that
        is not in the subset, and ``pretrain_source``/``encoder_weights`` (they decide whether MoCo
        runs); the MoCo settings as resolved (a source default or the same value given explicitly)."""
        key = self.pretraining_key(params, data_hash, ctx)
        unused = {name for augmentation, name in AUGMENTATION_STRENGTHS.items()
                  if augmentation not in parse_augmentations(params.augmentations)}
        unused |= {"pretrain_source", "encoder_weights", "momentum", "pretrain_lr", "pretrain_batch_size"}
        key["params"] = {k: v for k, v in key["params"].items() if k not in unused}
        return {**key, "moco": vars(moco)}

    # -------------------------------------------------------------------- fine-tuning
    def finetune(self, state: dict[str, Any], labeled: WindowedData, val: WindowedData,
                 params: Img2ImuParams, ctx: MethodContext) -> TrainedModel:
        modality = triaxial_modality(labeled, params.modality)
        # one range of log power for every image, fitted on the unlabeled training windows (Sec. III-A:
        # brightness is intensity); the paper gives no scale, see models/spectrogram.fit_log_power_range
        low, high = fit_log_power_range(state["range_windows"], state["range_fs"], params.nfft, params.noverlap)
        build_kwargs = dict(modality=modality, fs=float(labeled.rates_hz[modality]), nfft=params.nfft,
                            noverlap=params.noverlap, n_classes=labeled.n_classes, log_power_low=low,
                            log_power_high=high, image_height=params.image_height, image_width=params.image_width)
        if ctx.artifact_logger is not None:  # one example spectrogram per class of the labeled draw, as a PNG
            # (here, not in pretrain: pre-training windows carry no labels)
            ctx.log_artifact("img2imu/spectrogram_per_class.png", examples_png(
                labeled, modality, params.nfft, params.noverlap, (low, high), params.image_height, params.image_width))
        torch.manual_seed(ctx.seed)
        module = self.build_model(**build_kwargs)
        module.encoder.load_state_dict(state["encoder"], strict=False)  # fc: the new, random head
        settings = finetune_settings(params, ctx.epochs(params.epochs))
        if params.finetune_mode == "full":  # the embedding z-score stays the identity: see below
            x_train, x_val = self.model_inputs(labeled), self.model_inputs(val)
            history = fit_classifier(module, x_train, labeled.y, x_val, val.y, settings, ctx)
            return TrainedModel(module.eval(), build_kwargs, (modality,), history)
        for param in module.encoder.parameters():  # linear evaluation: frozen encoder
            param.requires_grad = False
        module.encoder.fc.requires_grad_(True)
        features_key = {"encoder": state["encoder_key"], **{k: v for k, v in build_kwargs.items() if k != "n_classes"}}
        # the head reads z-scored embeddings, with statistics of the unlabeled training windows' embeddings
        # (models/img2imu_net.EmbeddingStandardizer: why). Only for a frozen encoder: trained, its BatchNorm
        # statistics move, and a z-score fitted on the initial embeddings mis-scales them (Daphnet, full mode:
        # z-scored test embeddings at |mean| ~60 after 50 epochs, and macro-F1 0.12 instead of ~0.48)
        module.standardize.fit(self.embeddings(module, features_key, state["range_windows"], ctx))
        train_emb, val_emb = (self.embeddings(module, features_key, d, ctx) for d in (labeled, val))
        standardize = module.standardize.cpu()  # where the cached embeddings are
        train_emb, val_emb = standardize(train_emb), standardize(val_emb)
        with one_thread():
            history = fit_classifier(module.encoder.fc, train_emb, labeled.y, val_emb, val.y, settings, ctx)
        return TrainedModel(module.eval(), build_kwargs, (modality,), history, frozen_encoder_key=features_key)

    def embeddings(self, module: Img2ImuClassifier, features_key: dict[str, Any], data: WindowedData | Tensor,
                   ctx: MethodContext, batch_size: int = 64) -> Tensor:
        """``(N, 512)`` frozen-encoder features (before ``standardize``) of ``data`` (or of ``(N, 3, T)``
        windows of the model's modality) on the CPU, cached per (encoder, spectrogram, data)."""
        x = data if isinstance(data, Tensor) else _windows(data, module.modality)
        data_key = "windows-" + state_hash({"x": x}) if isinstance(data, Tensor) else data.content_hash()

        @torch.no_grad()
        def compute() -> Tensor:
            module.eval().to(ctx.device)
            parts = [module.features(x[i : i + batch_size].to(ctx.device)).cpu() for i in range(0, len(x), batch_size)]
            return torch.cat(parts) if parts else torch.zeros(0, 512)

        return self.cached_stage(ctx, "img2imu_embeddings", {**features_key, "data": data_key}, compute)

    @torch.no_grad()
    def predict(self, model: TrainedModel, data: WindowedData, ctx: MethodContext | None = None,
                batch_size: int = 64) -> np.ndarray:
        """Logits; a frozen encoder of this fit reads the cached embeddings instead of re-running."""
        if model.frozen_encoder_key is None or ctx is None or len(data) == 0:
            return super().predict(model, data, ctx, batch_size)
        embedding = self.embeddings(model.module, model.frozen_encoder_key, data, ctx)
        module = model.module.eval()
        device = next(module.encoder.fc.parameters()).device  # the features go to the head's device,
        module.standardize.to(device)  # wherever the encoder is
        with one_thread():
            return module.head(embedding.to(device)).cpu().numpy()
