"""Tensors over the shared, read-only prepared windows (:meth:`WindowedData.read_only`)."""

from __future__ import annotations

import warnings

import numpy as np


def shared_tensor(array: np.ndarray):
    """``torch.from_numpy(array)`` without a copy, also for a read-only array (the windows every trial
    shares). torch warns there because writing through such a tensor would be undefined; no method
    writes into its inputs (each transposes, stacks or indexes them into new tensors first), so the
    warning is silenced here, for this call only."""
    import torch

    if array.flags.writeable:
        return torch.from_numpy(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)
