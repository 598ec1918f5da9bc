"""MobiAct (v2, with v1-style raw files as a fallback), read from the publisher's files.

Vavoulas, Chatzaki, Malliotakis, Pediaditis, Tsiknakis, "The MobiAct Dataset: Recognition of
Activities of Daily Living using Smartphones", ICT4AWE 2016. A Samsung Galaxy S3 in a trouser
pocket (random orientation); v2 has 67 subjects, 12 ADLs, 4 falls and 5 scenarios. The release
is given out on request by the BMI lab (HMU).

Layouts, searched under ``MobiAct_Dataset_v2.0/`` (else the data folder itself):

* ``Annotated Data/<CODE>/<CODE>_<subject>_<trial>_annotated.csv`` (preferred), header
  ``timestamp,rel_time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,azimuth,pitch,roll,label``:
  ``rel_time`` s, m/s^2, rad/s, and an activity code per sample;
* only when there is no annotated file: ``<CODE>_{acc,gyro}_<subject>_<trial>.txt`` in any
  folder (v2 ``Raw Data/<CODE>/``, or a v1 release), ``timestamp(ns),x,y,z`` rows after a
  ``#`` comment header (and ``@DATA``); acc and gyro are aligned by timestamp on the acc's
  rate, and every sample gets the file's code.

Per file, the rate is measured (1/median step, rounded to 1 Hz), the signal is interpolated onto
that uniform grid, split at label changes and at gaps > 0.5 s, and resampled (polyphase) to
``rate_hz`` (default 50 Hz). Variants: ``adl`` (default: the ADL folders only) and ``all`` (also
falls and scenarios, spec §7.6). Classes = every known code (fixed, so class indices do not depend
on which folders are present; the label map picks the used ones, spec §1.5).
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from automl_har.data._types import IGNORED_LABEL, DatasetInfo, Recording, WindowedData
from automl_har.data.loaders._timeline import Stream, aligned_segments, at_rate, estimate_rate
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import windows_from_recordings
from automl_har.errors import DataFormatError, DatasetNotFoundError, first_line

RATE_HZ = 50.0  # windows come out at 50 Hz (spec §2) unless WindowOptions.rate_hz says otherwise
DEFAULT_WINDOW_S = 2.56  # 128 samples at 50 Hz
MAX_GAP_S = 0.5  # a longer step between two samples ends a segment (as for HHAR's phones)
ROOT = "MobiAct_Dataset_v2.0"
ADL_CODES = ("STD", "WAL", "JOG", "JUM", "STU", "STN", "SCH", "SIT", "CHU", "CSI", "CSO", "LYI")
FALL_CODES = ("FOL", "FKL", "BSC", "SDL")
SCENARIO_CODES = ("SLH", "SBW", "SLW", "SBE", "SRH")
CLASSES = ADL_CODES + FALL_CODES + SCENARIO_CODES
VARIANTS = ("adl", "all")
CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
ANNOTATED = re.compile(r"^([A-Z]{3})_(\d+)_(\d+)_annotated\.csv$")
RAW = re.compile(r"^([A-Z]{3})_(acc|gyro)_(\d+)_(\d+)\.txt$")
ANNOTATED_COLUMNS = ["rel_time", *CHANNELS["acc"], *CHANNELS["gyro"], "label"]
HEADER = "timestamp,rel_time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,azimuth,pitch,roll,label"


def release_root(folder: Path) -> Path:
    return folder / ROOT if (folder / ROOT).is_dir() else folder


def wanted(code: str, variant: str) -> bool:
    return code in (CLASSES if variant == "all" else ADL_CODES)


def _recordings(segments, from_hz: float, to_hz: float, subject: int, source: str) -> list[Recording]:
    recordings = []
    for k, seg in enumerate(segments):
        signals = at_rate(seg.signals, from_hz, to_hz)
        recordings.append(Recording(
            signals=signals, labels=np.full(len(signals["acc"]), seg.label, dtype=np.int64), rate_hz=to_hz,
            subject=subject, channels={m: list(c) for m, c in CHANNELS.items()}, source=f"{source} segment={k}",
        ))
    return recordings


def read_annotated(path: Path, subject: int, rate_hz: float = RATE_HZ) -> tuple[list[Recording], int]:
    """Recordings of one annotated CSV (split at label changes) and the number of samples with an unknown code."""
    try:
        table = pd.read_csv(path, usecols=ANNOTATED_COLUMNS,
                            dtype={c: np.float64 for c in ANNOTATED_COLUMNS[:-1]} | {"label": str})
    except Exception as exc:  # missing columns, text in a number column, truncated file
        raise DataFormatError(f"cannot read {path} ({first_line(exc)}); expected the header {HEADER}") from exc
    codes = {code: i for i, code in enumerate(CLASSES)}
    labels = np.array([codes.get(str(v).strip(), IGNORED_LABEL) for v in table["label"]], dtype=np.int64)
    t = table["rel_time"].to_numpy(np.float64)
    rate = estimate_rate(t)
    if not rate:
        raise DataFormatError(f"{path}: rel_time does not increase; expected seconds since the trial's start")
    streams = {m: Stream(t, table[list(c)].to_numpy(np.float64), labels) for m, c in CHANNELS.items()}
    segments = aligned_segments(streams, rate, MAX_GAP_S)  # one clock: the same spans for acc and gyro
    return _recordings(segments, rate, rate_hz, subject, path.name), int((labels == IGNORED_LABEL).sum())


def read_raw_txt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(t_ns int64, xyz (n, 3))`` of one raw ``.txt`` file (comment header skipped)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()[:1].isdigit()]
        table = pd.read_csv(io.StringIO("\n".join(lines)), header=None, sep=r"\s*,\s*", engine="python",
                            dtype=np.float64) if lines else None
    except Exception as exc:  # ragged rows, text in a number column
        raise DataFormatError(f"cannot parse {path} ({first_line(exc)}); expected 'timestamp,x,y,z' rows") from exc
    if table is None or table.shape[1] != 4:
        raise DataFormatError(f"{path} has no 'timestamp,x,y,z' rows after its header; re-copy the file")
    return table[0].to_numpy(np.float64).astype(np.int64), table[[1, 2, 3]].to_numpy(np.float64)


def read_raw(acc_path: Path, gyro_path: Path, code: str, subject: int, rate_hz: float = RATE_HZ) -> list[Recording]:
    """Recordings of one raw acc/gyro pair, aligned by timestamp on the acc's measured rate."""
    (t_acc, acc), (t_gyro, gyro) = read_raw_txt(acc_path), read_raw_txt(gyro_path)
    t0 = min(t_acc.min(), t_gyro.min())
    label = CLASSES.index(code)
    streams = {m: Stream((t - t0) * 1e-9, x, np.full(len(t), label)) for m, t, x in
               (("acc", t_acc, acc), ("gyro", t_gyro, gyro))}
    rate = estimate_rate(streams["acc"].t)
    if not rate:
        raise DataFormatError(f"{acc_path}: timestamps do not increase; expected nanoseconds")
    return _recordings(aligned_segments(streams, rate, MAX_GAP_S), rate, rate_hz, subject, acc_path.name)


def read_recordings(folder: Path, variant: str, rate_hz: float = RATE_HZ) -> list[Recording]:
    root = release_root(folder)
    annotated = sorted((int(m.group(2)), int(m.group(3)), m.group(1), p) for p in root.rglob("*_annotated.csv")
                       if (m := ANNOTATED.match(p.name)) and wanted(m.group(1), variant))
    recordings, unknown = [], 0
    if annotated:
        for subject, _, _, path in annotated:
            found, n_unknown = read_annotated(path, subject, rate_hz)
            recordings += found
            unknown += n_unknown
        if unknown:
            warnings.warn(f"mobiact: {unknown} samples have a label that is none of {', '.join(CLASSES)}; "
                          "they are ignored", stacklevel=3)
        return recordings
    raw = sorted((int(m.group(3)), int(m.group(4)), m.group(1), p) for p in root.rglob("*_acc_*_*.txt")
                 if (m := RAW.match(p.name)) and wanted(m.group(1), variant))
    lacking = []
    for subject, trial, code, path in raw:
        gyro = path.with_name(f"{code}_gyro_{subject}_{trial}.txt")
        if not gyro.is_file():
            lacking.append(path.name)
            continue
        recordings += read_raw(path, gyro, code, subject, rate_hz)
    if lacking:
        warnings.warn(f"mobiact: {len(lacking)} raw acc files have no gyro file ({', '.join(lacking[:3])}"
                      f"{' ...' if len(lacking) > 3 else ''}); skipped them", stacklevel=3)
    return recordings


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load MobiAct as acc+gyro windows with per-sample labels.

    Args:
        folder: the folder holding ``MobiAct_Dataset_v2.0/`` (or the raw txt files of a v1 release).
        window: window length (default 2.56 s), overlap, rate (default 50 Hz).
        variant: ``adl`` (default) or ``all`` (with falls and scenarios).

    Returns:
        Modalities ``acc`` (m/s^2, with gravity) and ``gyro`` (rad/s); classes = every MobiAct code;
        subjects = the numbers in the file names.
    """
    rate = window.rate_hz or RATE_HZ
    recordings = read_recordings(folder, variant, rate) if folder is not None and folder.is_dir() else []
    if not recordings:
        raise DatasetNotFoundError(f"dataset 'mobiact': no annotated CSV or raw acc/gyro txt of the {variant} "
                                   f"codes in {folder}; expected {INFO.expected_files}")
    return windows_from_recordings(recordings, CLASSES, window_s=window.window_s or DEFAULT_WINDOW_S,
                                   overlap=window.overlap, rate_hz=rate)


INFO = DatasetInfo(
    name="mobiact",
    description=(
        "MobiAct v2: 67 subjects, 12 ADLs (+ falls, scenarios), pocket smartphone acc+gyro (resampled to 50 Hz)"
    ),
    modalities=CHANNELS,
    rates_hz={"acc": RATE_HZ, "gyro": RATE_HZ},
    classes=CLASSES,
    n_subjects=67,
    expected_files=(
        f"'{ROOT}/Annotated Data/<CODE>/<CODE>_<subject>_<trial>_annotated.csv' (header {HEADER}) or "
        f"'{ROOT}/Raw Data/<CODE>/<CODE>_{{acc,gyro}}_<subject>_<trial>.txt', as in the MobiAct release"
    ),
    needs_data_dir=True,
    citation=(
        "Vavoulas et al., The MobiAct Dataset: Recognition of Activities of Daily Living using Smartphones, "
        "ICT4AWE 2016"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S, variants=VARIANTS,
        required=(f"{ROOT}/* Data/*/*_*_*_*.*",),
    )
)
