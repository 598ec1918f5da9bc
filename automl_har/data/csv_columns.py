"""Reading sample columns of a CSV recording: numbers with a clear error, and the rate from timestamps.

Shared by the custom CSV loader and ``autohar predict`` (both read the same recording format,
docs/custom-data.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automl_har.errors import DataFormatError, plain


#: the largest magnitude a sample may have: samples become float32, where larger values are infinite
LARGEST_SAMPLE = float(np.finfo(np.float32).max)


def numeric_column(file: Path, table, column: str) -> np.ndarray:
    """One column of a pandas table as float64; DataFormatError naming the file, column and first bad line."""
    import pandas as pd

    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(np.abs(values) <= LARGEST_SAMPLE))  # NaN, inf and beyond float32
    if len(bad):
        where = f"first on line {bad[0] + 2}: {plain(table[column].iloc[bad[0]])!r}"
        msg = f"has {len(bad)} missing, non-numeric or too large values ({where}); fill or drop those rows"
        raise DataFormatError(f"{file}: column {column!r} {msg}")
    return values


def rate_from_timestamps(file: Path, timestamps: np.ndarray) -> float:
    """``1 / median(diff(timestamps))`` rounded to 1 mHz (so float noise gives one rate per file)."""
    step = float(np.median(np.diff(timestamps))) if len(timestamps) > 1 else 0.0
    if not 0 < step <= 1:
        raise DataFormatError(
            f"{file}: timestamp column has a median step of {step}; timestamps must increase, in "
            "seconds (divide milliseconds by 1000), or drop the column and pass --rate"
        )
    return round(1.0 / step, 3)
