"""A seeded synthetic HAR dataset for fast tests and benchmarks (no files needed).

Each class has its own dominant frequency, phase and amplitude per channel (a sinusoid plus a
weaker higher component, like the periodic motions of walking or exercising), so spectra separate
the classes and a small CNN learns them in a few steps. Each subject adds its own per-channel
gain and offset (the between-user shift that subject-wise splits must survive), each window
a random time shift, a small frequency jitter and Gaussian noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from automl_har.data._types import DatasetInfo, WindowedData
from automl_har.data.registry import DatasetEntry, WindowOptions, register_dataset
from automl_har.errors import ConfigError

DEFAULT_RATE_HZ = 50.0
DEFAULT_WINDOW_S = 2.0
DEFAULT_CLASSES = 4
DEFAULT_SUBJECTS = 6
DEFAULT_MODALITIES = ("acc", "gyro")


def channel_names(modality: str, channels: int) -> list[str]:
    """``acc_x, acc_y, acc_z`` for 3 channels, else ``acc_0 ... acc_{C-1}``."""
    if channels == 3:
        return [f"{modality}_{axis}" for axis in "xyz"]
    return [f"{modality}_{i}" for i in range(channels)]


def class_frequencies(rng: np.random.Generator, n_classes: int, n_channels: int, rate_hz: float) -> np.ndarray:
    """``(n_classes, n_channels)`` dominant frequencies: distinct per channel while enough fit."""
    # 0.5 Hz .. min(rate/8, 12 Hz): human-motion-like, and the second component (up to 3x)
    # stays below Nyquist.
    grid = np.linspace(0.5, max(min(rate_hz / 8, 12.0), 2.0), max(n_classes, 12))
    return np.stack(
        [rng.permutation(grid)[:n_classes] for _ in range(n_channels)], axis=1
    )


def make_synthetic(
    n_windows: int = 600,
    n_classes: int = DEFAULT_CLASSES,
    n_subjects: int = DEFAULT_SUBJECTS,
    modalities: Sequence[str] = DEFAULT_MODALITIES,
    channels: int = 3,
    rate_hz: float = DEFAULT_RATE_HZ,
    window_s: float = DEFAULT_WINDOW_S,
    noise: float = 0.5,
    seed: int = 0,
    class_seed: int | None = None,
) -> WindowedData:
    """Generate balanced, class-separable windows; the same seed gives the same arrays.

    Args:
        n_windows: number of windows N; classes are balanced to within one window.
        n_classes: number of classes (``class_0`` ...).
        n_subjects: subjects ``1..n_subjects``; every subject gets every class.
        modalities: modality names, each with ``channels`` channels at ``rate_hz``.
        channels: channels per modality.
        rate_hz: sampling rate of every modality.
        window_s: window length in seconds (``T = round(window_s * rate_hz)``).
        noise: standard deviation of the additive Gaussian noise (signal amplitude is ~1).
        seed: seed of every random draw.
        class_seed: when given, the class spectra come from this seed and everything else
            (subjects' gains and offsets, shifts, noise) from ``seed``: datasets with different
            ``seed`` and one ``class_seed`` are "domains" sharing their classes (a LODO pool).

    Returns:
        :class:`WindowedData` with ``(n_windows, T, channels)`` float32 arrays per modality.
    """
    if n_classes < 2 or n_subjects < 1 or channels < 1 or not modalities:
        raise ConfigError(
            f"need n_classes >= 2, n_subjects >= 1, channels >= 1 and a modality, but got "
            f"{n_classes=}, {n_subjects=}, {channels=}, modalities={tuple(modalities)}"
        )
    if n_windows < n_classes:
        raise ConfigError(f"need at least one window per class, but got {n_windows=} for {n_classes=}")
    length = int(round(window_s * rate_hz))
    if length < 2:
        raise ConfigError(f"window of {window_s} s at {rate_hz} Hz has {length} samples; use a longer window")
    rng = np.random.default_rng(seed)
    class_rng = rng if class_seed is None else np.random.default_rng([class_seed, 7919])
    n_channels = len(modalities) * channels  # every channel of every modality, generated together
    frequency = class_frequencies(class_rng, n_classes, n_channels, rate_hz)  # (K, C)
    harmonic = class_rng.uniform(1.5, 3.0, size=(n_classes, n_channels))  # second component, x frequency
    phase = class_rng.uniform(0, 2 * np.pi, size=(2, n_classes, n_channels))
    amplitude = class_rng.uniform(0.5, 1.5, size=(2, n_classes, n_channels)) * [[[1.0]], [[0.5]]]
    subject_gain = rng.uniform(0.8, 1.2, size=(n_subjects, n_channels))
    subject_offset = rng.normal(0.0, 0.3, size=(n_subjects, n_channels))

    order = np.arange(n_windows)
    y = order % n_classes
    subject_index = (order // n_classes) % n_subjects  # each subject sees every class
    permutation = rng.permutation(n_windows)
    y, subject_index = y[permutation], subject_index[permutation]

    t = np.arange(length) / rate_hz  # (T,)
    shift = rng.uniform(0, 1.0, size=(n_windows, 1, 1))  # seconds, desynchronizes windows
    jitter = rng.uniform(0.95, 1.05, size=(n_windows, 1, n_channels))
    time = t[None, :, None] + shift  # (N, T, 1)
    f1 = frequency[y][:, None, :] * jitter  # (N, 1, C)
    signal = amplitude[0][y][:, None, :] * np.sin(2 * np.pi * f1 * time + phase[0][y][:, None, :])
    signal += amplitude[1][y][:, None, :] * np.sin(
        2 * np.pi * f1 * harmonic[y][:, None, :] * time + phase[1][y][:, None, :]
    )
    signal = signal * subject_gain[subject_index][:, None, :] + subject_offset[subject_index][:, None, :]
    signal += rng.normal(0.0, noise, size=signal.shape)  # (N, T, C)

    data = {
        name: signal[..., i * channels : (i + 1) * channels].astype(np.float32)
        for i, name in enumerate(modalities)
    }
    return WindowedData(
        modalities=data,
        y=y,
        subject=subject_index.astype(np.int64) + 1,
        classes=[f"class_{k}" for k in range(n_classes)],
        rates_hz={name: float(rate_hz) for name in modalities},
        channels={name: channel_names(name, channels) for name in modalities},
    )


def write_synthetic_domains(folder: Path, n_domains: int = 3, *, n_windows: int = 240, n_classes: int = 4,
                            n_subjects: int = 4, window_s: float = 2.56, rate_hz: float = 25.0,
                            noise: float = 0.5) -> list[Path]:
    """``domain0.npz ...`` in ``folder``: synthetic datasets that share their classes (one
    ``class_seed``) and differ in subjects, gains, offsets and noise (``seed = domain``), in the
    custom ``.npz`` format; a fast pool for leave-one-dataset-out tests and benchmarks."""
    from automl_har.data.loaders.custom import save_npz

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for domain in range(n_domains):
        data = make_synthetic(n_windows=n_windows, n_classes=n_classes, n_subjects=n_subjects, rate_hz=rate_hz,
                              window_s=window_s, noise=noise, seed=domain + 1, class_seed=0)
        paths.append(save_npz(data, folder / f"domain{domain}.npz"))
    return paths


def load(folder: Path | None, window: WindowOptions) -> WindowedData:
    """The registered ``synthetic`` dataset: :func:`make_synthetic` with its defaults.

    ``window.window_s`` and ``window.rate_hz`` set the window length and rate; ``overlap`` and
    ``folder`` do not apply.
    """
    return make_synthetic(
        rate_hz=window.rate_hz or DEFAULT_RATE_HZ,
        window_s=window.window_s or DEFAULT_WINDOW_S,
    )


INFO = DatasetInfo(
    name="synthetic",
    description="Seeded synthetic windows with class-specific spectra (4 classes, 6 subjects), for tests and benchmarks",
    modalities={name: tuple(channel_names(name, 3)) for name in DEFAULT_MODALITIES},
    rates_hz={name: DEFAULT_RATE_HZ for name in DEFAULT_MODALITIES},
    classes=tuple(f"class_{k}" for k in range(DEFAULT_CLASSES)),
    n_subjects=DEFAULT_SUBJECTS,
    expected_files="nothing: generated in memory (600 windows, seed 0)",
    needs_data_dir=False,
    citation="none: synthetic data generated by autohar",
)

ENTRY = register_dataset(DatasetEntry(info=INFO, load=load, default_window_s=DEFAULT_WINDOW_S))
