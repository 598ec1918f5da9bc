"""The data contracts every other part of autohar relies on.

* :class:`Recording`: one continuous multichannel recording with a label per sample.
* :class:`WindowedData`: N aligned windows, one array per modality, plus labels and subjects.
* :class:`DatasetInfo`: what a registered dataset is (modalities, rates, classes, files).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from automl_har.errors import DataFormatError, UnknownNameError

#: Label value of samples that belong to no class (e.g. Daphnet annotation 0); windows whose
#: majority label is this are dropped by the windowing layer.
IGNORED_LABEL = -1


@dataclass
class Recording:
    """One continuous recording; all modalities share one clock at ``rate_hz``.

    Attributes:
        signals: modality name -> ``(T, C_m)`` float array, same ``T`` for every modality.
        labels: ``(T,)`` int class index per sample, :data:`IGNORED_LABEL` for unlabelled samples.
        rate_hz: sampling rate of every signal.
        subject: subject (user, patient, vehicle) id.
        channels: modality name -> channel names, e.g. ``{"acc": ["acc_x", "acc_y", "acc_z"]}``.
        source: where it came from (file name), for error messages.
    """

    signals: dict[str, np.ndarray]
    labels: np.ndarray
    rate_hz: float
    subject: int | str
    channels: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        lengths = {name: len(x) for name, x in self.signals.items()}
        if len(set(lengths.values()) | {len(self.labels)}) != 1:
            raise DataFormatError(
                f"recording {self.source or self.subject!r} has signals of different lengths "
                f"{lengths} and {len(self.labels)} labels; every modality needs one row per label"
            )
        for name, x in self.signals.items():
            if x.ndim != 2:
                raise DataFormatError(
                    f"recording {self.source!r}: modality {name!r} has shape {x.shape}; expected (T, C)"
                )
            self.channels.setdefault(name, [f"{name}_{i}" for i in range(x.shape[1])])

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class WindowedData:
    """N windows aligned across modalities; slicing by an index array slices every field.

    Attributes:
        modalities: modality name -> ``(N, T_m, C_m)`` float32 (modalities may differ in T_m).
        y: ``(N,)`` int64 class index.
        subject: ``(N,)`` subject ids (int64 or str).
        classes: class names; ``y`` indexes this list.
        rates_hz: modality name -> sampling rate of that modality's windows.
        channels: modality name -> channel names (``C_m`` of them).
        dataset: ``(N,)`` name of the dataset every window comes from, when windows of several
            datasets are combined (:mod:`~automl_har.data.combine`); None for one dataset.
    """

    modalities: dict[str, np.ndarray]
    y: np.ndarray
    subject: np.ndarray
    classes: list[str]
    rates_hz: dict[str, float]
    channels: dict[str, list[str]] = field(default_factory=dict)
    dataset: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.modalities = {k: np.asarray(v, dtype=np.float32) for k, v in self.modalities.items()}
        self.y = np.asarray(self.y, dtype=np.int64)
        self.subject = np.asarray(self.subject)
        if self.dataset is not None:
            self.dataset = np.asarray(self.dataset).astype(str)
        for name, x in self.modalities.items():
            self.channels.setdefault(name, [f"{name}_{i}" for i in range(x.shape[-1])])
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`DataFormatError` on wrong shapes, label range or non-finite values."""
        n = len(self.y)
        if self.y.ndim != 1 or self.subject.shape != (n,):
            raise DataFormatError(
                f"y has shape {self.y.shape} and subject {self.subject.shape}; both must be (N,)"
            )
        if self.dataset is not None and self.dataset.shape != (n,):
            raise DataFormatError(f"dataset ids have shape {self.dataset.shape}; give one per window, shape ({n},)")
        if not self.modalities:
            raise DataFormatError("dataset has no modalities; give at least one (N, T, C) array")
        for name, x in self.modalities.items():
            if x.ndim != 3 or x.shape[0] != n:
                raise DataFormatError(
                    f"modality {name!r} has shape {x.shape}; expected (N={n}, T, C)"
                )
            if len(self.channels[name]) != x.shape[2]:
                raise DataFormatError(
                    f"modality {name!r} has {x.shape[2]} channels but {len(self.channels[name])} "
                    "channel names"
                )
            if name not in self.rates_hz:
                raise DataFormatError(f"modality {name!r} has no sampling rate in rates_hz")
            if not np.isfinite(x).all():
                bad = int((~np.isfinite(x)).any(axis=(1, 2)).sum())
                raise DataFormatError(
                    f"modality {name!r} has NaN or infinite values in {bad} of {n} windows; "
                    "interpolate or drop them before loading"
                )
        if n and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise DataFormatError(
                f"labels must be in 0..{len(self.classes) - 1} for {len(self.classes)} classes, "
                f"but got values {self.y.min()}..{self.y.max()}"
            )

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index) -> "WindowedData":
        index = np.asarray(index)
        return WindowedData(
            modalities={k: v[index] for k, v in self.modalities.items()},
            y=self.y[index],
            subject=self.subject[index],
            classes=list(self.classes),
            rates_hz=dict(self.rates_hz),
            channels={k: list(v) for k, v in self.channels.items()},
            dataset=None if self.dataset is None else self.dataset[index],
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def modality_names(self) -> list[str]:
        return list(self.modalities)

    def read_only(self) -> "WindowedData":
        """These windows, their arrays made read-only in place: what a process caches and every trial
        shares (:mod:`~automl_har.objectives.prepared`), so a trial that writes into them raises
        instead of changing what the next trial sees. Slices (``data[index]``) are new, writable arrays."""
        for array in (*self.modalities.values(), self.y, self.subject, *(() if self.dataset is None else (self.dataset,))):
            array.setflags(write=False)
        return self

    def select_modalities(self, names: Sequence[str]) -> "WindowedData":
        """The same windows with only ``names`` (in that order)."""
        missing = [n for n in names if n not in self.modalities]
        if missing:
            raise UnknownNameError("modality", missing[0], self.modalities)
        return WindowedData(
            modalities={n: self.modalities[n] for n in names},
            y=self.y,
            subject=self.subject,
            classes=list(self.classes),
            rates_hz={n: self.rates_hz[n] for n in names},
            channels={n: list(self.channels[n]) for n in names},
            dataset=self.dataset,
        )

    def with_modalities(self, modalities: dict[str, np.ndarray]) -> "WindowedData":
        """The same windows (labels, subjects, rates, channel names, dataset ids) with new arrays
        of the same shapes per modality (e.g. z-scored)."""
        return WindowedData(
            modalities=modalities, y=self.y.copy(), subject=self.subject.copy(), classes=list(self.classes),
            rates_hz={n: self.rates_hz[n] for n in modalities}, channels={n: list(self.channels[n]) for n in modalities},
            dataset=None if self.dataset is None else self.dataset.copy(),
        )

    def content_hash(self) -> str:
        """A short hash of every array and name: the data part of cache keys."""
        h = _hash_windows(self.modalities, self.rates_hz, self.channels, self.subject)
        h.update(self.y.tobytes())
        h.update(repr(self.classes).encode())
        if self.dataset is not None:  # None hashes as before, so existing cache keys stay valid
            h.update(self.dataset.astype(str).tobytes())
        return h.hexdigest()[:16]

    def without_labels(self) -> "UnlabeledWindows":
        """The same windows as pre-training sees them: labels and class names cannot be read."""
        return UnlabeledWindows(self.modalities, self.subject, self.rates_hz, self.channels)


class LabelsHiddenError(AttributeError):
    """Pre-training read the labels of unlabeled windows (a bug in the method, not bad input)."""


def _hash_windows(modalities, rates_hz, channels, subject):
    h = hashlib.sha256()
    for name in sorted(modalities):
        x = np.ascontiguousarray(modalities[name])
        h.update(name.encode())
        h.update(str(x.shape).encode())
        h.update(x.tobytes())
        h.update(repr((rates_hz[name], channels[name])).encode())
    h.update(np.asarray(subject).astype(str).tobytes())
    return h


@dataclass(frozen=True)
class UnlabeledWindows:
    """What ``Method.pretrain`` receives: the training windows with their labels out of reach.

    It has the modalities, subjects, rates and channel names of :class:`WindowedData`, but
    reading ``y``, ``classes`` or ``n_classes`` raises :class:`LabelsHiddenError`: a
    self-supervised stage that used labels would be supervised in disguise. A method that needs
    the class count (Cosmo's quality weights) gets it from ``MethodContext.n_classes``.
    """

    modalities: dict[str, np.ndarray]
    subject: np.ndarray
    rates_hz: dict[str, float]
    channels: dict[str, list[str]]

    def __getattr__(self, name: str):
        if name in ("y", "classes", "n_classes"):
            raise LabelsHiddenError(
                f"pre-training receives unlabeled windows, so {name!r} cannot be read; take the class count "
                "from ctx.n_classes, or tag the method pretraining_data='labeled_sources'"
            )
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.subject)

    def __getitem__(self, index) -> "UnlabeledWindows":
        index = np.asarray(index)
        return UnlabeledWindows({k: v[index] for k, v in self.modalities.items()}, self.subject[index],
                                dict(self.rates_hz), {k: list(v) for k, v in self.channels.items()})

    @property
    def modality_names(self) -> list[str]:
        return list(self.modalities)

    def select_modalities(self, names: Sequence[str]) -> "UnlabeledWindows":
        missing = [n for n in names if n not in self.modalities]
        if missing:
            raise UnknownNameError("modality", missing[0], self.modalities)
        return UnlabeledWindows({n: self.modalities[n] for n in names}, self.subject,
                                {n: self.rates_hz[n] for n in names}, {n: list(self.channels[n]) for n in names})

    def content_hash(self) -> str:
        """A short hash of the windows (no labels): the data part of pre-training cache keys."""
        return "unlabeled-" + _hash_windows(self.modalities, self.rates_hz, self.channels, self.subject).hexdigest()[:16]


@dataclass(frozen=True)
class DatasetInfo:
    """What a registered dataset is, before it is loaded.

    Attributes:
        name: registry name (``watch``, ``utd-mhad`` ...).
        description: one line for ``autohar datasets``.
        modalities: modality name -> channel names.
        rates_hz: modality name -> native sampling rate.
        classes: class names (empty when only known after loading, e.g. custom files).
        n_subjects: number of subjects in the full public release (0 if unknown).
        expected_files: what the data folder must contain, in words (for errors and the table).
        needs_data_dir: False for datasets shipped with a package or generated.
        citation: the publication to cite.
        inertial: the modalities recorded by inertial sensors (accelerometer, gyroscope ...) when
            the dataset has others too (UTD-MHAD: acc and gyro, not skeleton); None: every modality
            is inertial. An experiment whose method reads inertial sensors loads only these unless
            the user names modalities (``objectives.protocol.default_modalities``).
    """

    name: str
    description: str
    modalities: dict[str, tuple[str, ...]]
    rates_hz: dict[str, float]
    classes: tuple[str, ...] = ()
    n_subjects: int = 0
    expected_files: str = ""
    needs_data_dir: bool = True
    citation: str = ""
    inertial: tuple[str, ...] | None = None
