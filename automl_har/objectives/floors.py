"""Floors: what a few-label result must beat before it means anything.

For one (fold, label draw) unit and one evaluated part (validation or test) this module computes:

- the **majority floor**: the score of predicting the part's most frequent class for every window.
  It is the best any constant predictor scores (for accuracy and for macro-F1 alike), so a model
  at or below it has learned nothing that shows on that part;
- the **linear-probe floor**: a scikit-learn logistic regression fitted on the unit's labeled
  windows, on the same input the model reads (the modalities it reads, with the experiment's
  normalisation, a skeleton in its body frame exactly as the skeleton encoders see it), scored
  on the part. A deep model that loses to it on its own input is a finding to explain (often a
  bug), never a result to report silently;
- how many **classes the model predicts** on the part (1: a single-class, degenerate model).

A result is **degenerate** when its mean does not beat the majority floor or any unit predicts a
single class (:func:`degeneracy`). Floors are reported (trial metrics, ``reproduce``,
``verify``, ``autohar show``) and never optimised: nothing here reaches a sampler.

The probe is cached per process by content (fold data, labeled windows, evaluated windows,
modalities), so every trial of a study that draws the same labels reuses one fit.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from automl_har.data import WindowedData
from automl_har.metrics import accuracy, macro_f1

#: the metrics every floor is given in
FLOOR_METRICS = {"macro_f1": macro_f1, "accuracy": accuracy}
#: the floors of a part, as named in :class:`PartFloors`, metrics and reports
FLOOR_KINDS = ("majority", "linear_probe")
#: logistic-regression iterations: enough for the few hundred labeled windows of a few-label draw
PROBE_MAX_ITER = 1000
#: (fold, draw, part) floors kept per process (a search's folds x draws x 2 parts fit easily)
_CACHE_SIZE = 256
_cache: OrderedDict[str, "PartFloors"] = OrderedDict()


@dataclass(frozen=True)
class PartFloors:
    """The floors of one evaluated part of one unit; each maps a metric of :data:`FLOOR_METRICS`
    to its score (NaN for an empty part, and for the probe of a unit without labels)."""

    majority: dict[str, float]
    linear_probe: dict[str, float]


def classes_predicted(predictions: np.ndarray) -> int:
    """How many distinct classes ``predictions`` holds (0 for an empty part)."""
    return int(len(np.unique(np.asarray(predictions))))


def majority_floor(y: np.ndarray) -> dict[str, float]:
    """Every metric of predicting the most frequent class of ``y`` for every window."""
    y = np.asarray(y)
    if len(y) == 0:
        return {name: math.nan for name in FLOOR_METRICS}
    constant = np.full_like(y, np.bincount(y).argmax())
    return {name: metric(y, constant) for name, metric in FLOOR_METRICS.items()}


def probe_features(data: WindowedData, modalities: Sequence[str]) -> np.ndarray:
    """``(N, D)``: the windows of ``modalities`` flattened side by side, as the model reads them:
    already normalised by the experiment, a skeleton modality in its body frame (the skeleton
    encoders apply :func:`~automl_har.data.skeleton.body_relative` first thing)."""
    from automl_har.data.skeleton import body_frame_of, body_relative, is_skeleton

    parts = []
    for name in modalities:
        x = data.modalities[name]
        if is_skeleton(name, data.channels[name]):
            x = body_relative(x, body_frame_of(data.channels[name]))
        parts.append(np.asarray(x, dtype=np.float32).reshape(len(data), -1))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(data), 0), np.float32)


def linear_probe_predictions(labeled: WindowedData, parts: Sequence[WindowedData],
                             modalities: Sequence[str]) -> list[np.ndarray]:
    """A logistic regression fitted on ``labeled`` (its windows of ``modalities``), predicting each
    of ``parts``; a draw with one class predicts that class."""
    classes = np.unique(labeled.y)
    if len(classes) == 1:
        return [np.full(len(part), classes[0]) for part in parts]
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(max_iter=PROBE_MAX_ITER)
    with warnings.catch_warnings():  # a probe that stops early is still a floor; its warning is noise
        warnings.simplefilter("ignore", ConvergenceWarning)
        # 1 label per class has as many classes as samples, which scikit-learn warns may be a regression
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        probe.fit(probe_features(labeled, modalities), labeled.y)
    return [probe.predict(probe_features(part, modalities)) if len(part) else np.zeros(0, np.int64)
            for part in parts]


def unit_floors(labeled: WindowedData | None, parts: dict[str, WindowedData],
                modalities: Sequence[str]) -> dict[str, PartFloors]:
    """The floors of every evaluated part (``{"val": ..., "test": ...}``) of one unit whose labeled
    windows are ``labeled`` (None: a zero-shot unit, which has no probe); cached by content."""
    keys = {name: _key(labeled, part, modalities) for name, part in parts.items()}
    missing = [name for name, key in keys.items() if key not in _cache]
    if missing:
        if labeled is None or len(labeled) == 0:
            predictions = [None] * len(missing)
        else:
            predictions = linear_probe_predictions(labeled, [parts[name] for name in missing], modalities)
        for name, predicted in zip(missing, predictions):
            y = parts[name].y
            probe = ({metric: math.nan for metric in FLOOR_METRICS} if predicted is None or len(y) == 0 else
                     {metric: fn(y, predicted) for metric, fn in FLOOR_METRICS.items()})
            _remember(keys[name], PartFloors(majority_floor(y), probe))
    return {name: _cache[key] for name, key in keys.items()}


@dataclass(frozen=True)
class Degeneracy:
    """Whether a result is degenerate, and why in words (empty when it is not)."""

    degenerate: bool
    reason: str = ""


def degeneracy(mean: float, majority: float, predicted_classes: Sequence[int], unit: str = "repeat") -> Degeneracy:
    """A result (``mean`` of a metric over its units, the mean ``majority`` floor of the same metric,
    the classes predicted per unit) is degenerate when the mean does not beat the majority floor
    or any unit predicts a single class. ``unit`` names a unit in the reason (``repeat``, ``unit``)."""
    single = [i for i, n in enumerate(predicted_classes) if n <= 1]
    reasons = []
    if single:
        reasons.append(f"{unit}{'s' if len(single) > 1 else ''} {', '.join(map(str, single))} predict"
                       f"{'' if len(single) > 1 else 's'} a single class")
    if not math.isnan(majority) and not mean > majority:
        reasons.append(f"the mean {mean:.4f} does not beat the majority floor {majority:.4f}")
    return Degeneracy(bool(reasons), "; ".join(reasons))


def _key(labeled: WindowedData | None, part: WindowedData, modalities: Sequence[str]) -> str:
    h = hashlib.sha256(repr(tuple(modalities)).encode())
    for data in (labeled, part):
        h.update(b"none" if data is None else data.content_hash().encode())
    return h.hexdigest()


def _remember(key: str, floors: PartFloors) -> None:
    _cache[key] = floors
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
