"""Several datasets in one experiment: harmonise each onto common sensors and labels, then
concatenate.

:func:`harmonise` turns one loaded dataset into the common layout: the sensors ``acc`` and
``gyro`` (which loader modality becomes which is the label map's ``inputs``), channel names
``acc_x .. gyro_z``, labels on the map's common classes, and a dataset id per window.
:func:`concat_windowed` joins harmonised parts that share that layout.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from automl_har.data._types import WindowedData
from automl_har.data.labels import LabelMap
from automl_har.errors import ConfigError

#: the common sensors of a combined experiment, in input order (HART splits channels 0:3 / 3:6)
COMMON_SENSORS = ("acc", "gyro")


def sensor_channels(sensor: str, count: int) -> list[str]:
    return [f"{sensor}_{axis}" for axis in "xyz"] if count == 3 else [f"{sensor}_{i}" for i in range(count)]


def _sensor_array(data: WindowedData, dataset: str, sensor: str, source: str) -> np.ndarray:
    """The loader modality (or ``m1+m2`` sum) that becomes ``sensor``."""
    names = [name.strip() for name in source.split("+")]
    missing = [name for name in names if name not in data.modalities]
    if missing:
        raise ConfigError(f"dataset {dataset!r} has no modality {missing[0]!r} to use as {sensor!r} (it has "
                          f"{', '.join(data.modalities)}); fix 'inputs' of the label map")
    arrays = [data.modalities[name] for name in names]
    if len({a.shape for a in arrays}) != 1:
        raise ConfigError(f"dataset {dataset!r}: {source!r} sums modalities of different shapes "
                          f"{[a.shape for a in arrays]}; sum modalities with the same channels")
    return np.sum(arrays, axis=0) if len(arrays) > 1 else arrays[0]


def harmonise(data: WindowedData, dataset: str, label_map: LabelMap, *, sensors: Sequence[str] | None = None,
              prefix_subjects: bool = False) -> WindowedData:
    """``data`` (as its loader returned it) in the common layout of a combined experiment.

    Args:
        data: the loaded dataset.
        dataset: its name (``watch:side0``), for the label map and the dataset ids.
        label_map: the common classes and the per-dataset mapping / sensor inputs.
        sensors: which common sensors to keep (default: every one of :data:`COMMON_SENSORS` the
            dataset has, through the map's ``inputs`` or a modality of that name).
        prefix_subjects: subject ids become ``"<dataset>:<id>"`` (sources: the same person in two
            datasets counts as two users); the target keeps its ids, so ``--val-subjects`` works.
    """
    inputs = {sensor: sensor for sensor in COMMON_SENSORS if sensor in data.modalities}
    inputs.update(label_map.inputs_of(dataset))
    wanted = tuple(sensors) if sensors else tuple(s for s in COMMON_SENSORS if s in inputs)
    absent = [s for s in wanted if s not in inputs]
    if not wanted or absent:
        raise ConfigError(f"dataset {dataset!r} has no {(absent or ['acc'])[0]!r} sensor (modalities: "
                          f"{', '.join(data.modalities)}); name the modality in 'inputs' of a --label-map file, "
                          "or choose --modalities it has")
    modalities = {s: _sensor_array(data, dataset, s, inputs[s]) for s in wanted}
    rates = {s: data.rates_hz[inputs[s].split("+")[0].strip()] for s in wanted}
    common = WindowedData(modalities=modalities, y=data.y, subject=data.subject, classes=list(data.classes),
                          rates_hz=rates, channels={s: sensor_channels(s, x.shape[-1]) for s, x in modalities.items()},
                          dataset=np.full(len(data), dataset))
    # the map first, then the prefix: ``exclude_subjects`` names the dataset's own ids (PAMAP2's 109),
    # which a prefixed source id ("pamap2:109") never matched, so a source kept its excluded subjects
    mapped = label_map.apply(common, dataset)
    if prefix_subjects:
        mapped.subject = np.char.add(f"{dataset}:", mapped.subject.astype(str))
    return mapped


def concat_windowed(parts: Sequence[WindowedData]) -> WindowedData:
    """Windows of several harmonised datasets as one; they must share modalities, channels,
    window lengths, rates and classes (the error names the first mismatch and the fix)."""
    if not parts:
        raise ConfigError("nothing to concatenate: give at least one dataset")
    first = parts[0]
    for part in parts[1:]:
        where = f"{_name(part)} and {_name(first)}"
        if list(part.modalities) != list(first.modalities):
            raise ConfigError(f"datasets {where} have different sensors ({list(part.modalities)} vs "
                              f"{list(first.modalities)}); pass --modalities with sensors every dataset has")
        for name, x in part.modalities.items():
            if x.shape[1:] != first.modalities[name].shape[1:]:
                raise ConfigError(f"datasets {where} have {name} windows of shape {x.shape[1:]} vs "
                                  f"{first.modalities[name].shape[1:]}; load every dataset with the same "
                                  "--window and --rate (e.g. --rate 50)")
            if part.rates_hz[name] != first.rates_hz[name]:
                raise ConfigError(f"datasets {where} have {name} at {part.rates_hz[name]} Hz vs "
                                  f"{first.rates_hz[name]} Hz; pass --rate 50 to resample every dataset")
        if list(part.classes) != list(first.classes):
            raise ConfigError(f"datasets {where} have different class lists; harmonise them with one label map")
    datasets = [p.dataset if p.dataset is not None else np.full(len(p), "") for p in parts]
    return WindowedData(
        modalities={k: np.concatenate([p.modalities[k] for p in parts]) for k in first.modalities},
        y=np.concatenate([p.y for p in parts]),
        subject=np.concatenate([p.subject.astype(str) for p in parts]),
        classes=list(first.classes),
        rates_hz=dict(first.rates_hz),
        channels={k: list(v) for k, v in first.channels.items()},
        dataset=np.concatenate(datasets),
    )


def _name(data: WindowedData) -> str:
    return repr(str(data.dataset[0])) if data.dataset is not None and len(data) else "(unnamed)"
