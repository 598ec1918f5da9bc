"""Irregularly time-stamped sensor streams -> uniformly sampled, aligned segments.

HHAR, RealWorld and MobiAct publish one row per sensor event with its own timestamp, and the
accelerometer and gyroscope of a device tick at different instants (and rates). Each stream is
cut into *runs* (one label, no gap longer than ``max_gap_s``); the runs of all streams are
intersected in time (same label), and every intersection is linearly interpolated onto one
uniform grid at ``rate_hz``. Nothing is interpolated across a gap or a label change, so a
window cut from a segment never spans either.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from automl_har.data._types import IGNORED_LABEL


@dataclass
class Stream:
    """One sensor's events: times ``t`` (s, any order), ``values`` ``(n, C)``, ``labels`` ``(n,)`` int."""

    t: np.ndarray
    values: np.ndarray
    labels: np.ndarray


@dataclass
class Segment:
    """Aligned, uniformly sampled signals over ``[start_s, start_s + len/rate)`` with one label."""

    start_s: float
    signals: dict[str, np.ndarray]
    label: int

    def __len__(self) -> int:
        return len(next(iter(self.signals.values())))


def _clean(stream: Stream) -> Stream:
    """Sorted by time, rows with a non-finite value or a repeated timestamp dropped."""
    t = np.asarray(stream.t, np.float64)
    values = np.asarray(stream.values, np.float64)
    keep = np.isfinite(t) & np.isfinite(values).all(axis=1)
    t, values, labels = t[keep], values[keep], np.asarray(stream.labels, np.int64)[keep]
    order = np.argsort(t, kind="stable")
    t, values, labels = t[order], values[order], labels[order]
    first = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.zeros(0, bool)
    return Stream(t[first], values[first], labels[first])


def runs(t: np.ndarray, labels: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """``[i0, i1)`` index ranges of sorted ``t`` with one label and no step longer than ``max_gap_s``."""
    if len(t) == 0:
        return []
    breaks = np.flatnonzero((np.diff(t) > max_gap_s) | (labels[1:] != labels[:-1])) + 1
    edges = np.concatenate([[0], breaks, [len(t)]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b - a >= 2]


def estimate_rate(t: np.ndarray) -> float:
    """Sampling rate from the median step of sorted times ``t`` (s), rounded to 1 Hz."""
    steps = np.diff(np.unique(np.asarray(t, np.float64)))
    if len(steps) == 0 or not np.median(steps) > 0:
        return 0.0
    return float(max(1.0, round(1.0 / np.median(steps))))


def aligned_segments(streams: dict[str, Stream], rate_hz: float, max_gap_s: float) -> list[Segment]:
    """The time spans every stream covers with the same label, each interpolated onto a grid at ``rate_hz``.

    Args:
        streams: name -> events; a segment has one array per name.
        rate_hz: rate of the uniform grid.
        max_gap_s: a longer step between two events of one stream ends a run (no interpolation across it).

    Returns:
        Segments in time order with at least 2 grid points; spans labelled :data:`IGNORED_LABEL` are left out.
    """
    cleaned = {name: _clean(s) for name, s in streams.items()}
    # spans: (t0, t1, label, {name: (i0, i1)}); intersect stream by stream with a two-pointer sweep
    spans: list[tuple[float, float, int, dict]] | None = None
    for name, s in cleaned.items():
        mine = [(s.t[a], s.t[b - 1], int(s.labels[a]), {name: (a, b)}) for a, b in runs(s.t, s.labels, max_gap_s)]
        if spans is None:
            spans = mine
            continue
        merged, i, j = [], 0, 0
        while i < len(spans) and j < len(mine):
            lo, hi = max(spans[i][0], mine[j][0]), min(spans[i][1], mine[j][1])
            if lo < hi and spans[i][2] == mine[j][2]:
                merged.append((lo, hi, spans[i][2], {**spans[i][3], **mine[j][3]}))
            if spans[i][1] < mine[j][1]:
                i += 1
            else:
                j += 1
        spans = merged
    segments = []
    for t0, t1, label, index in spans or []:
        n = int(np.floor((t1 - t0) * rate_hz + 1e-6)) + 1
        if label == IGNORED_LABEL or n < 2:
            continue
        grid = t0 + np.arange(n) / rate_hz
        signals = {}
        for name, (a, b) in index.items():
            s = cleaned[name]
            signals[name] = np.stack(
                [np.interp(grid, s.t[a:b], s.values[a:b, c]) for c in range(s.values.shape[1])], axis=1
            ).astype(np.float32)
        segments.append(Segment(float(t0), signals, label))
    return segments


def at_rate(signals: dict[str, np.ndarray], from_hz: float, to_hz: float) -> dict[str, np.ndarray]:
    """Every ``(T, C)`` signal resampled (polyphase, anti-aliased) from ``from_hz`` to ``to_hz``.

    ``padtype="line"`` filters the signal minus the line through its first and last samples: the
    zero padding that :func:`automl_har.data.windows.resample` uses would pull the ends of every
    short segment towards 0 (with gravity on an axis, 9.8 m/s^2 becomes about 6 at the edge).
    """
    if from_hz == to_hz:
        return {k: np.asarray(v, np.float32) for k, v in signals.items()}
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return {k: resample_poly(np.asarray(v, np.float64), ratio.numerator, ratio.denominator, axis=0,
                             padtype="line").astype(np.float32) for k, v in signals.items()}
