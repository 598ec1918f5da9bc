"""Backbones and heads shared by methods."""

from automl_har.models._cnn1d import Conv1dClassifier, Conv1dEncoder

__all__ = ["Conv1dClassifier", "Conv1dEncoder"]
