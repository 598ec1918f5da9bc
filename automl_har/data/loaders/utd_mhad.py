"""UTD Multimodal Human Action Dataset (UTD-MHAD), read from the publisher's ``.mat`` files.

Chen, Jafari, Kehtarnavaz, "UTD-MHAD: A Multimodal Dataset for Human Action Recognition
Utilizing a Depth Camera and a Wearable Inertial Sensor", ICIP 2015.

8 subjects x 27 actions x 4 trials (861 in the public release). Each trial is one sample: its
inertial signal (``Inertial/aA_sS_tT_inertial.mat``, ``d_iner`` (samples, 6): acc xyz in g,
gyro xyz in deg/s, 50 Hz) and Kinect v1 skeleton (``Skeleton/aA_sS_tT_skeleton.mat``,
``d_skel`` (20 joints, 3, frames), 30 Hz) are each resampled to ``window_s`` seconds.

Trials missing a modality: when the folder holds skeleton files, only trials that have both
files are loaded, so every modality is aligned on the same N (a warning counts the trials
skipped); when it holds no skeleton file at all, the inertial trials are loaded alone and the
``skeleton`` modality is omitted.

Variant ``utd-mhad:windows``: every trial's inertial signal is a recording cut into windows of
``window_s`` at the native 50 Hz (or ``rate_hz``) with ``overlap``, without the time warp of
resampling a whole trial to one window; trials shorter than one window are dropped (a warning
counts them). It reads the IMU only (the 30 Hz skeleton has no sample-aligned clock). This is how
the combined-datasets method (Presotto et al.) windows every dataset of a pool alike.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from automl_har.data._types import DatasetInfo, Recording, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.data.windows import resample_to_length, windows_from_recordings
from automl_har.errors import ConfigError, DataFormatError, DatasetNotFoundError

IMU_RATE_HZ = 50.0
SKELETON_RATE_HZ = 30.0
DEFAULT_WINDOW_S = 2.0  # 100 IMU samples, 60 skeleton frames; UTD-MHAD trials last 2-6 s
N_JOINTS = 20
CLASSES = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling", "front boxing",
    "baseball swing from right", "tennis right hand forehand swing", "arm curl", "tennis serve",
    "two hand push", "right hand knock on door", "right hand catch an object",
    "right hand pick up and throw", "jogging in place", "walking in place", "sit to stand",
    "stand to sit", "forward lunge (left foot forward)", "squat (two arms stretch out)",
)
#: Kinect v1 joint order as listed in the publisher's ``Skeleton/Skeleton_joint_order.txt``.
JOINTS = (
    "head", "shoulder_center", "spine", "hip_center", "left_shoulder", "left_elbow",
    "left_wrist", "left_hand", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "right_hip", "right_knee",
    "right_ankle", "right_foot",
)
IMU_CHANNELS = {"acc": ("acc_x", "acc_y", "acc_z"), "gyro": ("gyro_x", "gyro_y", "gyro_z")}
TRIAL_NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_(inertial|skeleton)\.mat$")
#: ``trials`` (one sample per trial, the default) or ``windows`` (sliding windows over each trial)
VARIANTS = ("trials", "windows")
JOINT_LINE = re.compile(r"^\s*(\d+)\.\s*([A-Za-z_ ]+?)\s*;?\s*$")


def skeleton_channels(joint_names) -> list[str]:
    """``skeleton_<joint>_<x|y|z>`` in joint-major order (j0x, j0y, j0z, j1x ...)."""
    return [f"skeleton_{joint}_{axis}" for joint in joint_names for axis in "xyz"]


def read_joint_names(folder: Path) -> list[str]:
    """Joint names from ``Skeleton/Skeleton_joint_order.txt``, else the publisher's documented
    order :data:`JOINTS` (so the skeleton encoders find their body frame either way)."""
    path = folder / "Skeleton" / "Skeleton_joint_order.txt"
    if path.is_file():
        lines = path.read_text(errors="replace").splitlines()
        found = [m for m in map(JOINT_LINE.match, lines) if m]
        names = {int(m.group(1)): m.group(2).strip().replace(" ", "_") for m in found}
        if sorted(names) == list(range(1, N_JOINTS + 1)):
            return [names[i] for i in range(1, N_JOINTS + 1)]
    return list(JOINTS)


def find_trials(folder: Path, kind: str) -> dict[tuple[int, int, int], Path]:
    """``(action, subject, trial) -> file`` for every ``a*_s*_t*_<kind>.mat`` in its subfolder."""
    subfolder = folder / ("Inertial" if kind == "inertial" else "Skeleton")
    trials = {}
    for path in subfolder.glob(f"a*_s*_t*_{kind}.mat"):
        match = TRIAL_NAME.match(path.name)
        if match is None:
            continue
        action, subject, trial = (int(g) for g in match.groups()[:3])
        if not 1 <= action <= len(CLASSES):
            raise DataFormatError(
                f"{path} names action {action}; UTD-MHAD actions are 1..{len(CLASSES)}, "
                "rename or remove the file"
            )
        trials[(action, subject, trial)] = path
    return trials


def read_mat(path: Path, variable: str, shape_text: str, shape_ok) -> np.ndarray:
    """One finite float array ``variable`` from a ``.mat`` file whose shape passes ``shape_ok``."""
    try:
        content = loadmat(path, variable_names=[variable])
    except Exception as exc:  # scipy raises ValueError, OSError, IndexError, MatReadError ...
        raise DataFormatError(f"cannot read {path} ({exc}); re-download this file") from exc
    if variable not in content:
        raise DataFormatError(
            f"{path} has no variable {variable!r}; expected the publisher's file with {variable} {shape_text}"
        )
    x = np.asarray(content[variable])
    if not np.issubdtype(x.dtype, np.number) or not shape_ok(x.shape):
        raise DataFormatError(f"{path}: {variable} has shape {x.shape} ({x.dtype}); expected {shape_text}")
    if not np.isfinite(x).all():
        raise DataFormatError(
            f"{path}: {variable} has {int((~np.isfinite(x)).sum())} NaN or infinite values; re-download this file"
        )
    return x.astype(np.float32)


def read_inertial(path: Path) -> np.ndarray:
    """``(samples, 6)`` acc xyz (g) + gyro xyz (deg/s)."""
    return read_mat(path, "d_iner", "(samples >= 2, 6)", lambda s: len(s) == 2 and s[0] >= 2 and s[1] == 6)


def read_skeleton(path: Path) -> np.ndarray:
    """``(frames, 60)`` joint positions, flattened joint-major (j0x, j0y, j0z, j1x ...)."""
    d_skel = read_mat(
        path, "d_skel", f"({N_JOINTS}, 3, frames >= 2)",
        lambda s: len(s) == 3 and s[:2] == (N_JOINTS, 3) and s[2] >= 2,
    )
    return d_skel.transpose(2, 0, 1).reshape(d_skel.shape[2], N_JOINTS * 3)


def load(folder: Path | None, window: WindowOptions, variant: str = VARIANTS[0]) -> WindowedData:
    """Load every trial of a UTD-MHAD folder as one fixed-length sample (variant ``windows``:
    :func:`load_inertial_windows`).

    Args:
        folder: folder with ``Inertial/`` (and usually ``Skeleton/``) as published.
        window: ``window_s`` is the length every trial is resampled to (default 2 s);
            ``rate_hz``, if given, is the rate of every modality (else 50 Hz IMU, 30 Hz skeleton);
            ``overlap`` does not apply (one sample per trial).

    Returns:
        Modalities ``acc`` and ``gyro`` (3 channels) and, when skeleton files exist, ``skeleton``
        (60 channels); y = action - 1 (27 classes); subject = s (1..8).
    """
    if folder is None:
        raise DatasetNotFoundError(f"dataset 'utd-mhad' needs a data folder with {INFO.expected_files}")
    if variant == "windows":
        return load_inertial_windows(folder, window)
    window_s = window.window_s or DEFAULT_WINDOW_S
    imu_rate = window.rate_hz or IMU_RATE_HZ
    skeleton_rate = window.rate_hz or SKELETON_RATE_HZ
    inertial = find_trials(folder, "inertial")
    skeleton = find_trials(folder, "skeleton")
    usable = inertial.keys() & skeleton.keys() if skeleton else inertial.keys()
    keys = sorted(usable, key=lambda k: (k[1], k[0], k[2]))  # subject, action, trial
    if not keys:
        raise DatasetNotFoundError(
            f"dataset 'utd-mhad': no trial in {folder} has an inertial file (and, when Skeleton/ "
            f"has files, a matching skeleton file); expected {INFO.expected_files}"
        )
    if len(keys) < len(inertial.keys() | skeleton.keys()):
        warnings.warn(
            f"utd-mhad: skipped {len(inertial.keys() | skeleton.keys()) - len(keys)} trials of {folder} "
            "that lack either the inertial or the skeleton file",
            stacklevel=2,
        )
    imu_length = int(round(window_s * imu_rate))
    skeleton_length = int(round(window_s * skeleton_rate))
    if min(imu_length, skeleton_length) < 2:
        raise ConfigError(f"window of {window_s} s has fewer than 2 samples per trial; use a longer --window-s")
    imu, skel = [], []
    for key in keys:
        imu.append(resample_to_length(read_inertial(inertial[key]), imu_length))
        if skeleton:
            skel.append(resample_to_length(read_skeleton(skeleton[key]), skeleton_length))
    imu_windows = np.stack(imu)  # (N, imu_length, 6)
    modalities = {"acc": imu_windows[..., :3], "gyro": imu_windows[..., 3:]}
    channels = {m: list(names) for m, names in IMU_CHANNELS.items()}
    rates = {"acc": imu_rate, "gyro": imu_rate}
    if skeleton:
        modalities["skeleton"] = np.stack(skel)  # (N, skeleton_length, 60)
        channels["skeleton"] = skeleton_channels(read_joint_names(folder))
        rates["skeleton"] = skeleton_rate
    return WindowedData(
        modalities=modalities,
        y=np.array([action - 1 for action, _, _ in keys]),
        subject=np.array([subject for _, subject, _ in keys], dtype=np.int64),
        classes=list(CLASSES),
        rates_hz=rates,
        channels=channels,
    )


def load_inertial_windows(folder: Path, window: WindowOptions) -> WindowedData:
    """Sliding windows over every inertial trial at its native rate (the ``windows`` variant)."""
    window_s = window.window_s or DEFAULT_WINDOW_S
    trials = find_trials(folder, "inertial")
    if not trials:
        raise DatasetNotFoundError(f"dataset 'utd-mhad': no inertial trial in {folder}; expected {INFO.expected_files}")
    recordings, too_short = [], 0
    rate = window.rate_hz or IMU_RATE_HZ
    for (action, subject, trial), path in sorted(trials.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        signal = read_inertial(path)
        if len(signal) * rate / IMU_RATE_HZ < round(window_s * rate):
            too_short += 1
            continue
        recordings.append(Recording(
            signals={"acc": signal[:, :3], "gyro": signal[:, 3:]},
            labels=np.full(len(signal), action - 1, dtype=np.int64),
            rate_hz=IMU_RATE_HZ, subject=subject,
            channels={m: list(names) for m, names in IMU_CHANNELS.items()}, source=path.name,
        ))
    if too_short:
        warnings.warn(f"utd-mhad:windows: dropped {too_short} of {len(trials)} trials shorter than one "
                      f"{window_s} s window", stacklevel=2)
    return windows_from_recordings(recordings, CLASSES, window_s=window_s, overlap=window.overlap,
                                   rate_hz=window.rate_hz)


INFO = DatasetInfo(
    name="utd-mhad",
    description="UTD-MHAD: 27 actions, 8 subjects, wrist/thigh IMU (50 Hz) + Kinect skeleton (30 Hz), one sample per trial",
    modalities={**IMU_CHANNELS, "skeleton": tuple(skeleton_channels(JOINTS))},
    rates_hz={"acc": IMU_RATE_HZ, "gyro": IMU_RATE_HZ, "skeleton": SKELETON_RATE_HZ},
    classes=CLASSES,
    n_subjects=8,
    expected_files=(
        "Inertial/aA_sS_tT_inertial.mat (variable d_iner) and Skeleton/aA_sS_tT_skeleton.mat "
        "(variable d_skel) as in the UTD-MHAD release"
    ),
    needs_data_dir=True,
    inertial=tuple(IMU_CHANNELS),  # the wrist IMU; the Kinect skeleton is not an inertial sensor
    citation=(
        "Chen, Jafari, Kehtarnavaz, UTD-MHAD: A Multimodal Dataset for Human Action Recognition "
        "Utilizing a Depth Camera and a Wearable Inertial Sensor, ICIP 2015"
    ),
)

ENTRY = register_dataset(
    DatasetEntry(
        info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S,
        required=("Inertial/a*_s*_t*_inertial.mat",), variants=VARIANTS,
    )
)
