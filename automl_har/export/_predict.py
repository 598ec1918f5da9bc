"""Classify a raw recording with an exported bundle, exactly as in training: resample to the
bundle's rate, cut windows of its length and overlap, z-score with its statistics, run the model.

Input files: a CSV with ``<modality>_<axis>`` channel columns (the custom CSV format; ``label``
and ``subject`` columns are ignored) and an optional ``timestamp`` column in seconds, or an
``.npz`` with one ``(T,)`` array per channel (``acc_x``) or one ``(T, C)`` array per modality
(``acc``, channels in the bundle's order), optionally ``timestamp`` ``(T,)`` or ``rate_hz``
(its ``label`` and ``subject`` arrays are ignored too). Samples are finite numbers; anything else
is a one-line :class:`DataFormatError` naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from automl_har.data import WindowedData
from automl_har.data.csv_columns import LARGEST_SAMPLE, numeric_column, rate_from_timestamps
from automl_har.data.npz_file import read_npz
from automl_har.data.splits import Standardizer
from automl_har.data.windows import resample, window_starts
from automl_har.errors import ConfigError, DataFormatError, first_line, plain
from automl_har.export._bundle import TORCHSCRIPT_FILE, read_config


@dataclass
class RawRecording:
    """Channel name -> ``(T,)`` samples at ``rate_hz`` (None: not known from the file)."""

    channels: dict[str, np.ndarray]
    rate_hz: float | None
    start_s: float = 0.0


def read_recording(path: Path) -> RawRecording:
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"no recording file {path}; pass a .csv or .npz file")
    if path.suffix.lower() == ".npz":
        return _read_npz(path)
    return _read_csv(path)


def _read_csv(path: Path) -> RawRecording:
    import pandas as pd

    try:
        table = pd.read_csv(path, skipinitialspace=True, index_col=False)
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{path} is not a readable CSV file ({first_line(err)}); write a header line, then "
                              "one row per sample") from None
    table.columns = [str(c).strip() for c in table.columns]
    twice = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if twice:
        raise DataFormatError(f"{path} has the column {twice[0]!r} twice; give each column once")
    columns = [c for c in table.columns if c.lower() not in ("label", "subject", "timestamp")]
    channels = {c: numeric_column(path, table, c).astype(np.float32) for c in columns}
    rate, start = None, 0.0
    stamp = next((c for c in table.columns if c.lower() == "timestamp"), None)
    if stamp is not None and len(table) > 1:
        times = numeric_column(path, table, stamp)
        rate, start = rate_from_timestamps(path, times), float(times[0])
    return RawRecording(channels, rate, start)


def _read_npz(path: Path) -> RawRecording:
    arrays = {key: _numbers(path, key, value) for key, value in read_npz(path).items()
              if key.lower() not in ("label", "subject")}  # ignored, as in a CSV recording
    rate, start = None, 0.0
    if "timestamp" in arrays:
        times = arrays.pop("timestamp")
        if times.ndim != 1:
            raise DataFormatError(f"{path}: timestamp has shape {times.shape}; save one time per sample, shape (T,)")
        if len(times) > 1:
            rate, start = rate_from_timestamps(path, times.astype(float)), float(times[0])
    if "rate_hz" in arrays:
        value = arrays.pop("rate_hz")
        if value.size != 1 or not value.item() > 0:
            got = repr(plain(value)) if value.size == 1 else f"an array of shape {value.shape}"
            raise DataFormatError(f"{path}: rate_hz must be one positive number in Hz, but got {got}; save one "
                                  "number, e.g. np.savez(..., rate_hz=50.0)")
        rate = float(value.item())
    return RawRecording({k: v.astype(np.float32) for k, v in arrays.items()}, rate, start)


def _numbers(path: Path, key: str, value: np.ndarray) -> np.ndarray:
    """An npz array checked to hold finite numbers: the recording format has no text or gaps."""
    if value.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: array {key!r} has dtype {value.dtype}; save sensor samples, timestamps and "
                              "rate_hz as numbers")
    bad = int(np.size(value) - (np.abs(value.astype(float)) <= LARGEST_SAMPLE).sum())
    if bad:
        raise DataFormatError(f"{path}: array {key!r} has {bad} NaN, infinite or too large values; fill or drop "
                              "those samples")
    return value


def modality_signals(recording: RawRecording, config: Mapping[str, Any], source: str) -> dict[str, np.ndarray]:
    """Modality -> ``(T, C)`` in the bundle's channel order; one-line error on missing channels."""
    expected = [c for spec in config["modalities"].values() for c in spec["channels"]]
    signals, missing = {}, []
    for name, spec in config["modalities"].items():
        whole = recording.channels.get(name)
        if whole is not None and whole.ndim == 2 and whole.shape[1] == len(spec["channels"]):
            signals[name] = whole
            continue
        missing += [c for c in spec["channels"] if c not in recording.channels]
        if not missing:
            signals[name] = _stacked(recording, spec["channels"], source)
    if missing:
        found = ", ".join(recording.channels) or "none"
        raise DataFormatError(f"{source} lacks channels {', '.join(missing)}; the model expects "
                              f"{', '.join(expected)} but found {found}")
    lengths = {name: len(x) for name, x in signals.items()}
    if len(set(lengths.values())) > 1:
        raise DataFormatError(f"{source} has modalities of different lengths ({lengths}); give every channel one "
                              "value per sample")
    return signals


def _stacked(recording: RawRecording, names: list[str], source: str) -> np.ndarray:
    """The ``(T,)`` channels ``names`` of ``recording`` as one ``(T, C)`` signal."""
    columns = {c: recording.channels[c] for c in names}
    for name, values in columns.items():
        if values.ndim != 1:
            raise DataFormatError(f"{source}: channel {name} has shape {values.shape}; save one value per sample, "
                                  "shape (T,)")
    lengths = {c: len(v) for c, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataFormatError(f"{source} has channels of different lengths ({lengths}); give every channel one "
                              "value per sample")
    return np.stack(list(columns.values()), axis=1)


def recording_windows(recording: RawRecording, config: Mapping[str, Any], rate_hz: float | None = None,
                      source: str = "the recording") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Resampled, windowed (not yet normalized) ``modality -> (N, T_m, C_m)`` and window start times (s)."""
    signals = modality_signals(recording, config, source)  # wrong columns first: a --rate would not fix them
    rate = rate_hz or recording.rate_hz
    if not rate or rate <= 0:
        raise ConfigError(f"{source} has no timestamp column, so its sampling rate is unknown; pass --rate HZ")
    resampled = {m: resample(x.astype(np.float32), rate, float(config["modalities"][m]["rate_hz"]))
                 for m, x in signals.items()}
    first = next(iter(config["modalities"]))
    length, first_rate = int(config["modalities"][first]["window_length"]), float(config["modalities"][first]["rate_hz"])
    starts_s = window_starts(len(resampled[first]), length, float(config["window"]["overlap"])) / first_rate
    keep = np.ones(len(starts_s), bool)
    windows = {}
    for m, x in resampled.items():
        spec = config["modalities"][m]
        starts = np.round(starts_s * float(spec["rate_hz"])).astype(np.int64)
        keep &= starts + int(spec["window_length"]) <= len(x)
        windows[m] = (starts, x)
    if not keep.any():
        duration = min(len(x) for x in signals.values()) / rate
        window_s = length / first_rate
        raise DataFormatError(f"{source} lasts {duration:.3g} s, shorter than one window of {window_s:.3g} s; "
                              "record for longer")
    out = {}
    for m, (starts, x) in windows.items():
        idx = starts[keep][:, None] + np.arange(int(config["modalities"][m]["window_length"]))[None, :]
        out[m] = x[idx].astype(np.float32)
    return out, recording.start_s + starts_s[keep]


class BundleModel:
    """A loaded bundle: ``logits(windows)`` on raw (un-normalized) windows per modality."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        path = self.folder / TORCHSCRIPT_FILE
        if not path.is_file():
            raise ConfigError(f"{self.folder} has no {TORCHSCRIPT_FILE}; export with --format torchscript or both")
        self.module = torch.jit.load(str(path), map_location="cpu").eval()

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @torch.no_grad()
    def logits(self, windows: Mapping[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
        names = list(self.config["modalities"])
        if self.config["model"]["input"] == "windows":
            inputs = [torch.from_numpy(np.ascontiguousarray(windows[m])) for m in names]
        else:  # the method builds its inputs in Python (see export/_script.py)
            from automl_har.export._script import as_tuple
            from automl_har.methods import get_method

            data = self._windowed(windows)
            inputs = list(as_tuple(get_method(self.config["method"]).model_inputs(data)))
        n = len(inputs[0])
        out = [self.module(*(x[i:i + batch_size] for x in inputs)) for i in range(0, n, batch_size)]
        return torch.cat(out).numpy()

    def _windowed(self, windows: Mapping[str, np.ndarray]) -> WindowedData:
        n = len(next(iter(windows.values())))
        data = WindowedData({m: windows[m] for m in self.config["modalities"]}, np.zeros(n, np.int64),
                            np.zeros(n, np.int64), self.classes,
                            {m: float(s["rate_hz"]) for m, s in self.config["modalities"].items()},
                            {m: list(s["channels"]) for m, s in self.config["modalities"].items()})
        return Standardizer.from_dict(self.config["normalization"]).transform(data)

    def predict_file(self, path: Path, rate_hz: float | None = None) -> list[dict[str, Any]]:
        """One row per window: ``start_s``, ``class`` and ``p_<class>`` probabilities."""
        windows, starts = recording_windows(read_recording(path), self.config, rate_hz, str(path))
        probs = torch.softmax(torch.from_numpy(self.logits(windows)), dim=1).numpy()
        return [{"start_s": round(float(t), 6), "class": self.classes[int(p.argmax())],
                 **{f"p_{c}": round(float(v), 6) for c, v in zip(self.classes, p)}} for t, p in zip(starts, probs)]
