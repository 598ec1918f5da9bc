"""Backbones and heads shared by methods."""

from automl_har.models._cnn1d import Conv1dClassifier, Conv1dEncoder
from automl_har.models.cosmo_encoders import InertialEncoder, ProjectionHead, SkeletonEncoder
from automl_har.models.deepconvlstm import DeepConvLSTM
from automl_har.models.fcn import FCNClassifier, FCNEncoder
from automl_har.models.har_nets import ARCHITECTURES, build_har_net, check_har_input
from automl_har.models.hart import HART, MobileHART
from automl_har.models.ispl_inception import ISPLInception
from automl_har.models.maskcae_decoder import InformationFusionDecoder, MaskedConvAutoencoder
from automl_har.models.moco import MoCo
from automl_har.models.resnet import ResNet18, load_resnet18_weights
from automl_har.models.spectrogram import SpectrogramImage

__all__ = [
    "ARCHITECTURES",
    "Conv1dClassifier",
    "Conv1dEncoder",
    "DeepConvLSTM",
    "FCNClassifier",
    "FCNEncoder",
    "HART",
    "ISPLInception",
    "InertialEncoder",
    "InformationFusionDecoder",
    "MaskedConvAutoencoder",
    "MoCo",
    "MobileHART",
    "ProjectionHead",
    "ResNet18",
    "SkeletonEncoder",
    "SpectrogramImage",
    "build_har_net",
    "check_har_input",
    "load_resnet18_weights",
]
