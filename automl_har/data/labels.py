"""Label maps: how the native classes of several datasets become one common label set.

A :class:`LabelMap` names the common classes (their order is the class index of every head) and,
per dataset, which common class each native class becomes (``None``: the windows are dropped).
Three kinds exist, chosen with ``--label-map``:

- ``builtin``: Presotto et al.'s mapping of HHAR, MobiAct, MotionSense, RealWorld, UCI-HAR and
  PAMAP2 onto 10 activities (SMARTCOMP'23 Sec. III-B; the table of spec combined.md §1.3), plus
  USC-HAD and WISDM for users who have them;
- ``identity``: every native class name (lower-cased) is a common class; equal names merge;
- a YAML file (format in docs/custom-data.md).

A native class the map does not mention is an error naming it and the file to edit: a silent
drop would quietly shrink a dataset.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from automl_har.data._types import WindowedData
from automl_har.errors import ConfigError, DataFormatError, DatasetNotFoundError, first_line

#: what ``--label-map`` accepts besides a YAML file
LABEL_MAP_KINDS = ("builtin", "identity")

#: the paper's common label set; the order is the code's ACTIVITY_LABEL (class index of every head)
PAPER_CLASSES = ("downstairs", "upstairs", "running", "sitting", "standing", "walking", "lying", "cycling",
                 "nordic_walking", "jumping")

_MOBIACT_DROPPED = ("SCH", "CHU", "CSI", "CSO", "LYI", "FOL", "FKL", "BSC", "SDL", "SLH", "SBW", "SLW", "SBE", "SRH")

#: native -> common per dataset (native names are matched after :func:`native_key`)
_BUILTIN: dict[str, dict[str, str | None]] = {
    "hhar": {"stairsdown": "downstairs", "stairsup": "upstairs", "sit": "sitting", "stand": "standing",
             "walk": "walking", "bike": "cycling"},
    # MobiAct v2 meanings: SIT is sitting on a chair; SCH is the stand-to-sit transition, dropped with the
    # other transitions, car steps, lying and falls (spec §1.5). A v1 release (where SCH is "sit chair")
    # maps SCH: sitting in a --label-map file.
    "mobiact": {"STN": "downstairs", "STU": "upstairs", "JOG": "running", "SIT": "sitting", "STD": "standing",
                "WAL": "walking", "JUM": "jumping", **{code: None for code in _MOBIACT_DROPPED}},
    "motionsense": {"downstairs": "downstairs", "upstairs": "upstairs", "jogging": "running", "sitting": "sitting",
                    "standing": "standing", "walking": "walking"},
    "realworld": {"climbingdown": "downstairs", "climbingup": "upstairs", "running": "running",
                  "sitting": "sitting", "standing": "standing", "walking": "walking", "lying": "lying",
                  "jumping": "jumping"},
    "uci-har": {"WALKING_DOWNSTAIRS": "downstairs", "WALKING_UPSTAIRS": "upstairs", "SITTING": "sitting",
                "STANDING": "standing", "WALKING": "walking", "LAYING": "lying"},
    # PAMAP2: vacuum cleaning and ironing (and the optional activities) are dropped, as the paper's
    # 10-activity union says; the authors' one-hot(-1) bug labeled them downstairs (spec A5)
    "pamap2": {"lying": "lying", "sitting": "sitting", "standing": "standing", "walking": "walking",
               "running": "running", "cycling": "cycling", "nordic walking": "nordic_walking",
               "ascending stairs": "upstairs", "descending stairs": "downstairs", "rope jumping": "jumping",
               "watching tv": None, "computer work": None, "car driving": None, "vacuum cleaning": None,
               "ironing": None, "folding laundry": None, "house cleaning": None, "playing soccer": None},
    # not in the paper: USC-HAD (hip) and WISDM (acc only), for users who have them
    "usc-had": {"walking forward": "walking", "walking left": "walking", "walking right": "walking",
                "walking upstairs": "upstairs", "walking downstairs": "downstairs", "running forward": "running",
                "jumping up": "jumping", "sitting": "sitting", "standing": "standing", "sleeping": "lying",
                "elevator up": None, "elevator down": None},
    "wisdm": {"Walking": "walking", "Jogging": "running", "Upstairs": "upstairs", "Downstairs": "downstairs",
              "Sitting": "sitting", "Standing": "standing"},
}
#: PAMAP2's subject 109 did only a few protocol activities; the authors' code leaves it out
_BUILTIN_EXCLUDED = {"pamap2": ("109",)}


def native_key(name: str) -> str:
    """How native class names are compared: case, ``_`` / ``-`` and repeated spaces do not matter."""
    return " ".join(str(name).lower().replace("_", " ").replace("-", " ").split())


def base_dataset(dataset: str) -> str:
    """``watch:side0`` -> ``watch``; a file path -> its stem (what a map's dataset keys name)."""
    if "/" in dataset or dataset.endswith((".npz", ".csv")):
        return Path(dataset).stem
    return dataset.split(":", 1)[0]


@dataclass(frozen=True)
class LabelMap:
    """Native classes of every dataset -> one common label set.

    Attributes:
        classes: the common classes; their order is the class index.
        datasets: dataset -> {native class: common class, or None to drop its windows}. Keys may be
            a dataset name (``watch``) or a ``name:variant`` (``watch:side0``, which wins).
        inputs: dataset -> {``acc`` / ``gyro``: the loader modality that becomes it, or ``m1+m2`` for
            an element-wise sum}; datasets not listed give their own ``acc`` and ``gyro``.
        exclude_subjects: dataset -> subject ids whose windows are left out.
        source: where the map came from (``builtin``, ``identity`` or a file), for error messages.
    """

    classes: tuple[str, ...]
    datasets: Mapping[str, Mapping[str, str | None]]
    inputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    exclude_subjects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "builtin"

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise ConfigError(f"label map {self.source}: 'classes' must be a non-empty list of distinct names, "
                              f"but got {list(self.classes)}; fix the file")
        for dataset, mapping in self.datasets.items():
            unknown = sorted({c for c in mapping.values() if c is not None} - set(self.classes))
            if unknown:
                raise ConfigError(f"label map {self.source}: dataset {dataset!r} maps to {unknown[0]!r}, which is "
                                  f"not in 'classes' ({', '.join(self.classes)}); add it to classes or fix the map")

    # ----------------------------------------------------------- constructors
    @classmethod
    def builtin(cls) -> "LabelMap":
        return cls(PAPER_CLASSES, _BUILTIN, {}, _BUILTIN_EXCLUDED, "builtin")

    @classmethod
    def identity(cls, native: Mapping[str, Sequence[str]]) -> "LabelMap":
        """Every native class (lower-cased, stripped) is a common class; equal names merge, in
        first-seen order over ``native`` (dataset -> its class names)."""
        classes: dict[str, None] = {}
        datasets = {}
        for dataset, names in native.items():
            datasets[dataset] = {name: name.strip().lower() for name in names}
            classes.update(dict.fromkeys(datasets[dataset].values()))
        return cls(tuple(classes), datasets, {}, {}, "identity")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "LabelMap":
        """A user map: ``classes``, ``datasets`` and optional ``inputs`` / ``exclude_subjects``."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise DatasetNotFoundError(f"label map file {path} does not exist; give an existing YAML file, "
                                       "or --label-map builtin|identity")
        try:
            raw = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as err:
            raise DataFormatError(f"label map {path} is not valid YAML ({first_line(err)}); fix the file") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("classes"), list) or not isinstance(
                raw.get("datasets"), dict):
            raise ConfigError(f"label map {path} needs a 'classes' list and a 'datasets' mapping "
                              "(format: docs/custom-data.md); fix the file")
        extra = sorted(set(map(str, raw)) - {"classes", "datasets", "inputs", "exclude_subjects"})
        if extra:
            raise ConfigError(f"label map {path} has unknown key {extra[0]!r}; use classes, datasets, inputs, "
                              "exclude_subjects")
        if not all(_is_name(c) for c in raw["classes"]):
            raise ConfigError(f"label map {path}: 'classes' must be a list of names, but got {raw['classes']!r}; "
                              "fix the file")
        for dataset, mapping in raw["datasets"].items():
            if not isinstance(mapping, dict) or not all(_is_name(v) or v is None for v in mapping.values()):
                raise ConfigError(f"label map {path}: dataset {dataset!r} must map native class -> common class "
                                  f"(or null), but got {mapping!r}; fix the file")
        inputs, excluded = raw.get("inputs") or {}, raw.get("exclude_subjects") or {}
        if not isinstance(inputs, dict) or not all(
                isinstance(m, dict) and all(_is_name(v) for v in m.values()) for m in inputs.values()):
            raise ConfigError(f"label map {path}: 'inputs' must map each dataset to {{acc: modality, gyro: "
                              f"modality}}, but got {inputs!r}; fix the file")
        if not isinstance(excluded, dict) or not all(
                isinstance(v, list) and all(_is_name(s) for s in v) for v in excluded.values()):
            raise ConfigError(f"label map {path}: 'exclude_subjects' must map each dataset to a list of subject "
                              f"ids, but got {excluded!r}; fix the file")
        return cls(
            classes=tuple(str(c) for c in raw["classes"]),
            datasets={str(d): {str(k): (None if v is None else str(v)) for k, v in m.items()}
                      for d, m in raw["datasets"].items()},
            inputs={str(d): {str(k): str(v) for k, v in m.items()} for d, m in inputs.items()},
            exclude_subjects={str(d): tuple(str(s) for s in v) for d, v in excluded.items()},
            source=str(path),
        )

    @classmethod
    def named(cls, kind: str, native: Mapping[str, Sequence[str]]) -> "LabelMap":
        """What ``--label-map kind`` means: ``builtin``, ``identity`` (over ``native``) or a YAML path."""
        if kind == "builtin":
            return cls.builtin()
        if kind == "identity":
            return cls.identity(native)
        return cls.from_yaml(kind)

    # ----------------------------------------------------------------- use
    def mapping_of(self, dataset: str) -> Mapping[str, str | None]:
        """The native -> common mapping of ``dataset`` (``name:variant`` first, then its name)."""
        for key in (dataset, base_dataset(dataset)):
            if key in self.datasets:
                return {native_key(k): v for k, v in self.datasets[key].items()}
        raise ConfigError(f"label map {self.source} has no entry for dataset {dataset!r}; use --label-map identity, "
                          "or a label-map file with that dataset (format: docs/custom-data.md)")

    def inputs_of(self, dataset: str) -> Mapping[str, str]:
        for key in (dataset, base_dataset(dataset)):
            if key in self.inputs:
                return self.inputs[key]
        return {}

    def apply(self, data: WindowedData, dataset: str) -> WindowedData:
        """``data`` with ``y`` re-indexed onto :attr:`classes`; windows of dropped classes and of
        excluded subjects removed."""
        mapping = self.mapping_of(dataset)
        unmapped = [name for name in data.classes if native_key(name) not in mapping]
        if unmapped:
            where = "a copy of the builtin map" if self.source in LABEL_MAP_KINDS else self.source
            raise ConfigError(f"label map {self.source} does not map class(es) {', '.join(map(repr, unmapped))} of "
                              f"dataset {dataset!r}; add them (or null to drop) under datasets: {base_dataset(dataset)} "
                              f"in {where} and pass it with --label-map FILE")
        common = {name: i for i, name in enumerate(self.classes)}
        new_label = np.array([-1 if mapping[native_key(c)] is None else common[mapping[native_key(c)]]
                              for c in data.classes], dtype=np.int64)
        keep = new_label[data.y] >= 0
        excluded = self.excluded_subjects(dataset)
        if excluded:
            keep &= ~np.isin(data.subject.astype(str), excluded)
        kept = data[np.flatnonzero(keep)]
        kept.y = new_label[data.y[keep]]
        kept.classes = list(self.classes)
        kept.validate()
        return kept

    def excluded_subjects(self, dataset: str) -> tuple[str, ...]:
        for key in (dataset, base_dataset(dataset)):
            if key in self.exclude_subjects:
                return tuple(self.exclude_subjects[key])
        return ()

    def to_dict(self) -> dict:
        return {"classes": list(self.classes),
                "datasets": {d: dict(m) for d, m in self.datasets.items()},
                "inputs": {d: dict(m) for d, m in self.inputs.items()},
                "exclude_subjects": {d: list(s) for d, s in self.exclude_subjects.items()}}

    def content_hash(self) -> str:
        """A short hash of what the map does (not where it came from): part of data hashes."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def _is_name(value) -> bool:
    """A YAML scalar that names a class, dataset, modality or subject (``yes``/``no`` are booleans)."""
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def native_classes(parts: Iterable[tuple[str, WindowedData]]) -> dict[str, list[str]]:
    """dataset -> its native class names, for :meth:`LabelMap.identity`."""
    return {name: list(data.classes) for name, data in parts}
