"""Backbones and heads shared by methods."""

from automl_har.models._cnn1d import Conv1dClassifier, Conv1dEncoder
from automl_har.models.cosmo_encoders import InertialEncoder, ProjectionHead, SkeletonEncoder
from automl_har.models.fcn import FCNClassifier, FCNEncoder
from automl_har.models.maskcae_decoder import InformationFusionDecoder, MaskedConvAutoencoder
from automl_har.models.moco import MoCo
from automl_har.models.resnet import ResNet18, load_resnet18_weights
from automl_har.models.spectrogram import SpectrogramImage

__all__ = [
    "Conv1dClassifier",
    "Conv1dEncoder",
    "FCNClassifier",
    "FCNEncoder",
    "InertialEncoder",
    "InformationFusionDecoder",
    "MaskedConvAutoencoder",
    "MoCo",
    "ProjectionHead",
    "ResNet18",
    "SkeletonEncoder",
    "SpectrogramImage",
    "load_resnet18_weights",
]
