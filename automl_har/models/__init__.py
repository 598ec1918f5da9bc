"""Backbones and heads shared by methods."""

from automl_har.models._cnn1d import Conv1dClassifier, Conv1dEncoder
from automl_har.models.cosmo_encoders import InertialEncoder, ProjectionHead, SkeletonEncoder

__all__ = ["Conv1dClassifier", "Conv1dEncoder", "InertialEncoder", "ProjectionHead", "SkeletonEncoder"]
