"""Datasets turned into :class:`WindowedData`; nothing here knows about methods."""

from automl_har.data._types import DatasetInfo, Recording, WindowedData

__all__ = ["DatasetInfo", "Recording", "WindowedData"]
