"""Datasets turned into :class:`WindowedData`; nothing here knows about methods."""

from automl_har.data._types import DatasetInfo, LabelsHiddenError, Recording, UnlabeledWindows, WindowedData

__all__ = ["DatasetInfo", "LabelsHiddenError", "Recording", "UnlabeledWindows", "WindowedData"]
