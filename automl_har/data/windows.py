"""Resample, segment and label windows.

Continuous :class:`Recording` objects become :class:`WindowedData`: every modality is
resampled with :func:`scipy.signal.resample_poly`, cut into windows of ``window_s`` seconds
with ``overlap``, and each window gets the majority label of its samples; windows whose
majority label is :data:`IGNORED_LABEL` are dropped.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np

from automl_har.data._types import IGNORED_LABEL, Recording, WindowedData
from automl_har.errors import DataFormatError

#: the largest factor :func:`resample` changes a rate by (``limit_denominator`` keeps ratios to 1/1000)
MAX_RESAMPLING = 1000


def resample(x: np.ndarray, from_hz: float, to_hz: float, axis: int = 0) -> np.ndarray:
    """Polyphase resampling of ``x`` along ``axis`` from ``from_hz`` to ``to_hz``; at most
    :data:`MAX_RESAMPLING` times up or down (more means a wrong rate, e.g. timestamps in ms)."""
    if from_hz == to_hz:
        return x
    if not 1 / MAX_RESAMPLING <= to_hz / from_hz <= MAX_RESAMPLING:
        raise DataFormatError(f"cannot resample from {from_hz:g} Hz to {to_hz:g} Hz (more than {MAX_RESAMPLING}x); "
                              "check the sampling rate (timestamps in seconds, --rate in Hz)")
    from scipy.signal import resample_poly  # seconds to import; datasets at their native rate never need it

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=axis).astype(np.float32)


def resample_to_length(x: np.ndarray, length: int, axis: int = 0) -> np.ndarray:
    """Resample ``x`` along ``axis`` to exactly ``length`` samples (trial-based datasets)."""
    n = x.shape[axis]
    if n == length:
        return x.astype(np.float32)
    if n < 2:
        raise DataFormatError(f"cannot resample a signal of {n} samples to {length}")
    from scipy.signal import resample_poly

    ratio = Fraction(length, n).limit_denominator(1000)
    y = resample_poly(x, ratio.numerator, ratio.denominator, axis=axis, padtype="line")
    # limit_denominator may be off by a sample or two: trim or edge-pad to the exact length.
    y = np.take(y, np.arange(min(y.shape[axis], length)), axis=axis)
    if y.shape[axis] < length:
        pad = [(0, 0)] * y.ndim
        pad[axis] = (0, length - y.shape[axis])
        y = np.pad(y, pad, mode="edge")
    return y.astype(np.float32)


def resample_labels(labels: np.ndarray, n_out: int) -> np.ndarray:
    """Nearest-sample labels for a resampled signal of ``n_out`` samples."""
    if len(labels) == n_out:
        return labels
    pos = np.minimum((np.arange(n_out) * len(labels) / n_out).astype(np.int64), len(labels) - 1)
    return labels[pos]


def window_starts(n_samples: int, window: int, overlap: float) -> np.ndarray:
    """Start indices of full windows of ``window`` samples with the given overlap fraction."""
    step = max(1, int(round(window * (1 - overlap))))
    if n_samples < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, step, dtype=np.int64)


def majority_labels(labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Most frequent label in each window (ties go to the smallest label value)."""
    out = np.empty(len(starts), dtype=np.int64)
    for i, s in enumerate(starts):
        values, counts = np.unique(labels[s : s + window], return_counts=True)
        out[i] = values[np.argmax(counts)]
    return out


def segment_recording(
    recording: Recording, window_s: float, overlap: float, rate_hz: float | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Windows of one recording.

    Returns:
        ``(modalities, y, rate)``: modality -> ``(n, window, C)`` arrays, ``(n,)`` labels with
        ignored windows already dropped, and the rate the windows are sampled at.
    """
    rate = rate_hz or recording.rate_hz
    signals = {k: resample(np.asarray(v, np.float32), recording.rate_hz, rate) for k, v in recording.signals.items()}
    n = min(len(v) for v in signals.values())
    labels = resample_labels(np.asarray(recording.labels, np.int64), n)
    window = int(round(window_s * rate))
    if window < 1:
        raise DataFormatError(f"window of {window_s} s at {rate} Hz has no samples; use a longer window")
    starts = window_starts(n, window, overlap)
    y = majority_labels(labels, starts, window)
    keep = y != IGNORED_LABEL
    starts, y = starts[keep], y[keep]
    idx = starts[:, None] + np.arange(window)[None, :]  # (n_windows, window)
    windows = {k: v[:n][idx] if len(idx) else np.zeros((0, window, v.shape[1]), np.float32) for k, v in signals.items()}
    return windows, y, rate


def windows_from_recordings(
    recordings: Iterable[Recording],
    classes: Sequence[str],
    window_s: float,
    overlap: float = 0.5,
    rate_hz: float | None = None,
) -> WindowedData:
    """Segment every recording and stack the windows into one :class:`WindowedData`."""
    parts: dict[str, list[np.ndarray]] = {}
    ys, subjects = [], []
    channels: dict[str, list[str]] = {}
    rates: set[float] = set()
    for rec in recordings:
        windows, y, rate = segment_recording(rec, window_s, overlap, rate_hz)
        rates.add(rate)
        for name, x in windows.items():
            parts.setdefault(name, []).append(x)
            channels.setdefault(name, list(rec.channels[name]))
        ys.append(y)
        subjects.append(np.full(len(y), rec.subject, dtype=object))
    if not ys or sum(len(y) for y in ys) == 0:
        raise DataFormatError(
            f"no labelled window of {window_s} s in the recordings; check the labels or use a shorter --window-s"
        )
    if len(rates) != 1:
        raise DataFormatError(
            f"recordings have different sampling rates {sorted(rates)}; pass a common --rate to resample them"
        )
    rate = rates.pop()
    subject = np.concatenate(subjects)
    if all(isinstance(s, (int, np.integer)) for s in subject):
        subject = subject.astype(np.int64)
    else:
        subject = subject.astype(str)
    return WindowedData(
        modalities={k: np.concatenate(v) for k, v in parts.items()},
        y=np.concatenate(ys),
        subject=subject,
        classes=list(classes),
        rates_hz={k: rate for k in parts},
        channels=channels,
    )
