"""MaskCAE: masked convolutional autoencoder pre-training of an FCN, then fine-tuning.

Cheng, Zhang, Qin, Wang, Wu, Song, "MaskCAE: Masked Convolutional AutoEncoder via Sensor Data
Reconstruction for Self-Supervised Human Activity Recognition", IEEE JBHI 2024.

Pre-training (Sec. III-B): a random ``mask_ratio`` of the cells of the ``(T/16, S)`` grid is
hidden, the sparse FCN encoder sees only the visible cells, the information-fusion decoder
reconstructs the window and the loss is the (patch-normalized) MSE on the masked cells. LAMB,
lr ``2e-3 * batch / 256``, cosine annealing, 1000 epochs, batch 512 (Table II).
Fine-tuning (Sec. IV-A, V-C): the encoder weights go into a dense FCN + linear classifier; the
first ``4 - ft_layers`` blocks are frozen (0 = linear probing, 4 = full fine-tuning); AdamW,
cosine annealing, 100 epochs, batch 512, and a flat lr 1e-4 with weight decay 0 as in the authors'
release (the text's ``1e-4 * batch / 256`` starves few-label runs, see :func:`finetune_batch`).

Input: every modality it is given (resampled to a common window length, as the supervised
baseline does) is stacked as sensor columns: acc + gyro give ``(N, 1, T, S=6)``. The tag
``reads: inertial`` makes an experiment without ``--modalities`` load only a dataset's inertial
modalities (the paper's acc + gyro; UTD-MHAD's skeleton is left out); the model names the
modalities it read (:attr:`TrainedModel.modalities`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from automl_har.data import WindowedData
from automl_har.errors import ConfigError
from automl_har.methods._base import Method, MethodContext, TrainedModel, register_method
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop
from automl_har.methods._schedules import WarmupCosine
from automl_har.methods._stages import finetuning, pretraining
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.models.fcn import FCN_CHANNELS, FCNClassifier
from automl_har.models.maskcae_decoder import DECODER_KERNELS, MaskedConvAutoencoder
from automl_har.ranges import at_least, between, fraction, non_negative, one_of, positive

#: name of the stage-cache entry (and of the ``cache.<stage>`` tag) of the pre-trained encoder
PRETRAIN_STAGE = "maskcae_pretrain"


@dataclass
class MaskCAEParams:
    """Hyperparameters of MaskCAE; defaults are the paper's (Table II, Sec. IV-A).

    Attributes:
        mask_ratio: fraction of masked grid cells (Fig. 8: usable 0.1-0.7, best about 0.3).
        ft_layers: encoder blocks fine-tuned, 0 (linear probing) ... 4 (full, the default).
        decoder_kernel: square kernel of the decoder's fusion convolutions, 3, 5 or 7.
        decoder_width: channels of the deepest decoder level, halved per level (paper: not
            stated; the authors' release uses 256, 128 = the encoder's deepest width costs a
            quarter of the CPU time).
        norm_loss: normalize the reconstruction target per patch (Table VII "w/o norm loss").
        sparse_conv: encode only the visible cells with sparse convolutions (Table VII "w/o sparse
            conv": False, regular convolutions over the zeroed masked input).
        fusion_decoder: square ``k x k`` decoder kernels that fuse sensor axes (Table VII "w/ plain
            decoder": False, ``(k, 1)`` kernels along time only).
        feature_projection: project every encoder level into the decoder (Table VII "w/o
            FeatProj": False, the deepest level only).
        pretrain_lr: LAMB base lr, used as ``pretrain_lr * batch / 256``.
        pretrain_batch_size: pre-training batch (capped at the number of unlabeled windows).
        pretrain_epochs: the paper's pre-training epochs; the trial budget scales them; 0 skips
            pre-training (the paper's "FCN only" supervised baseline).
        pretrain_weight_decay: LAMB weight decay on conv weights (paper: not stated; 0.04 as in
            the authors' release and SparK, the sparse masked-modeling recipe it builds on).
        pretrain_warmup: fraction of pre-training steps in linear warm-up before the cosine
            annealing (the authors' release: 40 of 1000 epochs).
        finetune_lr: AdamW peak lr, used as it is whatever the batch (the authors' release:
            ``learning_rate 1e-4`` in ``configs/yaml/maskcaeConv4Net.yaml``; the text's
            ``1e-4 * batch / 256`` is not applied, see :func:`finetune_batch`).
        finetune_batch_size: the paper's fine-tuning batch; with few labels the batch used is
            smaller (:func:`finetune_batch`).
        finetune_epochs: the paper's fine-tuning epochs, scaled by the budget.
        finetune_weight_decay: AdamW weight decay (paper: not stated; 0 as in the release).
        finetune_warmup: fraction of fine-tuning steps in linear warm-up before the cosine
            annealing (paper: not stated; 0 as in the release, ``warm_up_epochs: 0``).
        patience: early stopping on validation macro-F1 while fine-tuning.
    """

    mask_ratio: float = pretraining(0.3, fraction)
    ft_layers: int = finetuning(4, between(0, len(FCN_CHANNELS)))  # 0: linear probing
    decoder_kernel: int = pretraining(5, one_of(*DECODER_KERNELS))
    decoder_width: int = pretraining(128, at_least(1))
    norm_loss: bool = pretraining(True)
    sparse_conv: bool = pretraining(True)
    fusion_decoder: bool = pretraining(True)
    feature_projection: bool = pretraining(True)
    pretrain_lr: float = pretraining(2e-3, positive)
    pretrain_batch_size: int = pretraining(512, at_least(1))
    pretrain_epochs: int = pretraining(1000, non_negative)  # 0: no pre-training ("FCN only")
    pretrain_weight_decay: float = pretraining(0.04, non_negative)
    pretrain_warmup: float = pretraining(0.04, fraction)
    finetune_lr: float = finetuning(1e-4, positive)
    finetune_batch_size: int = finetuning(512, at_least(1))
    finetune_epochs: int = finetuning(100, at_least(1))
    finetune_weight_decay: float = finetuning(0.0, non_negative)
    finetune_warmup: float = finetuning(0.0, fraction)
    patience: int = finetuning(20, non_negative)


def scaled_lr(base_lr: float, batch_size: int) -> float:
    """The paper's linear scaling rule ``lr = base_lr * batch / 256`` (with the batch actually used);
    pre-training only (fine-tuning uses a flat lr, see :func:`finetune_batch`)."""
    return base_lr * batch_size / 256


#: fewest optimizer steps per fine-tuning epoch (see :func:`finetune_batch`)
MIN_FINETUNE_STEPS = 8


def finetune_batch(batch_size: int, n_labeled: int) -> int:
    """The fine-tuning batch actually used: ``batch_size`` (the paper's 512) unless the labeled
    set then gives fewer than :data:`MIN_FINETUNE_STEPS` steps per epoch, else ``ceil(n / 8)``.

    Paper ambiguity: Table II's batch 512 and ``1e-4 * batch / 256`` were set for 28k-37k
    labeled windows (55-73 steps per epoch). With 10 labels per class the batch is capped at the
    labels, so each epoch is one step and the scaled lr falls to ~2e-5: 100 tiny steps that
    leave the network near its initialization. We keep the release's flat lr and give every
    epoch at least 8 steps (60 labels: batch 8; 270: batch 34); full-label runs keep 512.
    """
    steps_bound = -(-n_labeled // MIN_FINETUNE_STEPS)
    return max(1, min(batch_size, steps_bound))


def pretrain_maskcae(x: torch.Tensor, params: MaskCAEParams, epochs: int, ctx: MethodContext) -> dict[str, Any]:
    """Train the masked autoencoder on ``x`` ``(N, 1, T, S)``; return the encoder weights and loss curve."""
    batch_size = max(2, min(params.pretrain_batch_size, len(x)))  # full batches only: BatchNorm needs > 1 window
    settings = PretrainSettings(
        epochs=epochs, batch_size=batch_size, optimizer="lamb", lr=scaled_lr(params.pretrain_lr, batch_size),
        weight_decay=params.pretrain_weight_decay, decay_weights_only=True,  # conv weights only
        schedule=WarmupCosine(warmup=params.pretrain_warmup), loss_name="pretrain_loss",
    )

    def build() -> MaskedConvAutoencoder:
        return MaskedConvAutoencoder(params.mask_ratio, params.decoder_kernel, params.norm_loss,
                                     decoder_width=params.decoder_width, sparse_conv=params.sparse_conv,
                                     fusion_decoder=params.fusion_decoder,
                                     feature_projection=params.feature_projection)

    model, history = pretrain_loop(build, x, masked_reconstruction_step, settings, ctx)
    encoder = {k: v.detach().cpu() for k, v in model.encoder.state_dict().items()}
    return {"encoder": encoder, "n_sensors": x.shape[3], "window_length": x.shape[2],
            "pretrain_loss": history["pretrain_loss"]}


def masked_reconstruction_step(model: MaskedConvAutoencoder, batch: torch.Tensor,
                               generator: torch.Generator) -> torch.Tensor:
    """One batch: draw a random mask, reconstruct, MSE on the masked cells."""
    return model(batch, generator=generator)


@register_method
class MaskCAE(Method):
    """Masked convolutional autoencoder pre-training + FCN fine-tuning (Cheng et al., JBHI 2024)."""

    name = "maskcae"
    description = "MaskCAE: sparse masked reconstruction pre-training of an FCN, then (partial) fine-tuning"
    citation = (
        "Cheng, Zhang, Qin, Wang, Wu, Song, MaskCAE: Masked Convolutional AutoEncoder via Sensor Data "
        "Reconstruction for Self-Supervised Human Activity Recognition, IEEE JBHI 2024"
    )
    # the paper reads acc + gyro (Table II): on UTD-MHAD, not the 60 skeleton columns as well
    tags = {"multimodal": False, "input": "raw", "reads": "inertial"}
    input_layout = "stacked_image"  # (N, 1, T, S): every sensor axis of every modality is one column
    Params = MaskCAEParams
    tiny_params = {"pretrain_epochs": 1, "pretrain_batch_size": 16, "finetune_epochs": 2,
                   "finetune_batch_size": 16, "decoder_kernel": 3, "decoder_width": 32}

    def build_model(self, **build_kwargs: Any) -> FCNClassifier:
        return FCNClassifier(**build_kwargs)

    def pretrain(self, unlabeled: WindowedData, params: MaskCAEParams, ctx: MethodContext) -> dict[str, Any] | None:
        """Pre-train once per distinct (pre-training params, data, seed, epochs); cached."""
        if params.pretrain_epochs == 0:
            return None
        epochs = ctx.epochs(params.pretrain_epochs)
        key = {**self.pretraining_key(params, unlabeled.content_hash(), ctx), "scaled_epochs": epochs}
        return self.cached_stage(
            ctx, PRETRAIN_STAGE, key, lambda: pretrain_maskcae(self.model_inputs(unlabeled), params, epochs, ctx)
        )

    def finetune(
        self, state: dict[str, Any] | None, labeled: WindowedData, val: WindowedData, params: MaskCAEParams,
        ctx: MethodContext,
    ) -> TrainedModel:
        torch.manual_seed(ctx.seed)
        x_train, x_val = self.model_inputs(labeled), self.model_inputs(val)
        build_kwargs = dict(n_sensors=x_train.shape[3], window_length=x_train.shape[2], n_classes=labeled.n_classes)
        module = self.build_model(**build_kwargs)
        if state is not None:
            if (state["n_sensors"], state["window_length"]) != (x_train.shape[3], x_train.shape[2]):
                raise ConfigError(
                    f"the pre-trained encoder expects windows of {state['window_length']} samples x "
                    f"{state['n_sensors']} axes but the labeled data has {x_train.shape[2]} x {x_train.shape[3]}; "
                    "pre-train and fine-tune on the same windowing and modalities"
                )
            module.encoder.load_state_dict(state["encoder"])
            module.freeze_blocks(len(FCN_CHANNELS) - params.ft_layers)
        elif params.ft_layers != len(FCN_CHANNELS):
            raise ConfigError(
                f"ft_layers={params.ft_layers} freezes random weights when pretrain_epochs=0; use ft_layers=4"
            )
        settings = FitSettings(
            epochs=ctx.epochs(params.finetune_epochs),
            lr=params.finetune_lr,  # flat, as the release: no batch scaling (see finetune_batch)
            batch_size=finetune_batch(params.finetune_batch_size, len(labeled)),
            weight_decay=params.finetune_weight_decay,
            patience=params.patience,
            optimizer="adamw",
            schedule=WarmupCosine(warmup=params.finetune_warmup),
        )
        history = fit_classifier(module, x_train, labeled.y, x_val, val.y, settings, ctx)
        if state is not None:
            history["pretrain_loss"] = list(state["pretrain_loss"])
        return TrainedModel(module, build_kwargs, tuple(labeled.modalities), history)


__all__ = ["MaskCAE", "MaskCAEParams", "MIN_FINETUNE_STEPS", "PRETRAIN_STAGE", "finetune_batch", "pretrain_maskcae",
           "scaled_lr"]
