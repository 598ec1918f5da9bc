"""A paper's number under its protocol (:class:`PaperTarget`), and the experiments it runs.

The registry and the runner are :mod:`automl_har.objectives.papers`; the entries,
:mod:`automl_har.objectives.paper_entries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from automl_har.data.registry import WindowOptions
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives.protocol import ExperimentSpec, Protocol

METRICS = ("accuracy", "macro_f1")
#: how a paper's released code picks the number it reports, when that is not an honest protocol:
#: ``best_test_epoch``, the best test accuracy over its training epochs (selected on test).
#: ``autohar reproduce`` measures it in the same runs and prints it beside the result, never as one.
REPORTING_RULES = ("best_test_epoch",)
#: the band around the paper's number when the paper gives no std
DEFAULT_TOLERANCE = 0.03


@dataclass(frozen=True)
class PaperTarget:
    """A paper's number under its protocol.

    Attributes:
        name: registry name (``cosmo-utd``).
        paper: the paper, short (``Cosmo, MobiCom'22``).
        source: where the number is (``Table 2``).
        method: registered method name.
        dataset: registered dataset name; for a pool target, the pool's first dataset (the first
            fold's target, what :meth:`experiment` builds by default).
        metric: ``accuracy`` or ``macro_f1``, on the test part.
        value: the paper's number.
        std: the paper's std, if it gives one (else :data:`DEFAULT_TOLERANCE` is the band).
        params: hyperparameters the protocol fixes on top of the method's DEFAULTS.
        modalities: modalities to load (None: all of the dataset's).
        window: windowing (rate, window length, overlap).
        split, val_subjects, test_subjects, val_fraction, test_fraction: the protocol's split
            (``val_subjects=()``: no validation subject, nothing selected on validation).
        labels_per_class / label_ratio: labels per draw.
        repeats: seeded label draws (5 unless the paper says otherwise).
        notes: where this protocol departs from the paper's, in words (printed with the result).
        also: other metrics the paper reports for the same runs (metric -> value, e.g. MESEN's
            Table 2 gives accuracy and F1), measured on the same repeats and shown beside ``metric``.
        datasets: a leave-one-dataset-out pool (empty: a single-dataset target). Each dataset is
            the target of one experiment whose sources are the rest of the pool; the value per
            repeat is the mean of that repeat's test metric over the targets.
        label_map, normalization: with a pool, the common label set and the z-score
            (:class:`~automl_har.objectives.protocol.ExperimentSpec`).
        ratio_of, draw_by_subject: how ``label_ratio`` is drawn (:class:`~automl_har.objectives.protocol.Protocol`).
        per_dataset: with a pool, the paper's value per target (its table's rows), shown beside autohar's.
        reporting_rule: one of :data:`REPORTING_RULES` when the paper's number comes from a rule that
            selects on test ("": none known); measured beside the result, labelled as not a result.
    """

    name: str
    paper: str
    source: str
    method: str
    dataset: str
    metric: str
    value: float
    std: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    modalities: tuple[str, ...] | None = None
    window: WindowOptions = field(default_factory=WindowOptions)
    split: str = "subjects"
    val_subjects: tuple | None = None
    test_subjects: tuple | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    labels_per_class: int | None = 10
    label_ratio: float | None = None
    repeats: int = 5
    notes: str = ""
    also: dict[str, float] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    label_map: str = "builtin"
    normalization: str = "channel"
    ratio_of: str = "pool"
    draw_by_subject: bool = False
    per_dataset: dict[str, float] = field(default_factory=dict)
    reporting_rule: str = ""

    def __post_init__(self) -> None:
        if self.reporting_rule and self.reporting_rule not in REPORTING_RULES:
            raise UnknownNameError("reporting rule", self.reporting_rule, REPORTING_RULES)
        for metric in (self.metric, *self.also):
            if metric not in METRICS:
                raise UnknownNameError("metric", metric, METRICS)
        if self.datasets and (len(self.datasets) < 2 or self.dataset != self.datasets[0]):
            raise ConfigError(f"target {self.name}: a pool needs at least 2 datasets, the first being dataset="
                              f"{self.dataset!r}, but got {self.datasets}")
        if set(self.per_dataset) - set(self.datasets):
            raise ConfigError(f"target {self.name}: per_dataset names datasets outside the pool {self.datasets}")

    @property
    def pool(self) -> tuple[str, ...]:
        """The datasets that are a target in turn: the pool, or the one dataset."""
        return self.datasets or (self.dataset,)

    def folders(self, data_dir: str | None = None, data_dirs=()) -> dict[str, str | None]:
        """The folder of every dataset of :attr:`pool` (None: ``$AUTOHAR_DATA/<name>``), from a bare
        ``data_dir`` (single-dataset targets) and ``(name, path)`` pairs (``--data-dir NAME=PATH``)."""
        named = dict(data_dirs)
        if unknown := [name for name in named if name not in self.pool]:
            raise ConfigError(f"--data-dir {unknown[0]}=... names no dataset of {self.name} ({', '.join(self.pool)}); "
                              "fix the name")
        if data_dir is not None:
            if self.datasets:
                raise ConfigError(f"{self.name} runs over the datasets {', '.join(self.pool)}; give their folders as "
                                  "--data-dir NAME=PATH (repeatable), not a bare PATH")
            if self.dataset in named:
                raise ConfigError(f"--data-dir {data_dir} and --data-dir {self.dataset}=... both name the folder of "
                                  f"{self.dataset}; give it once")
            named[self.dataset] = data_dir
        return {name: named.get(name) for name in self.pool}

    @property
    def tolerance(self) -> float:
        return self.std if self.std is not None else DEFAULT_TOLERANCE

    def experiment(self, budget: float = 1.0, repeats: int | None = None, data_dir: str | None = None,
                   device: str = "cpu", *, data_dirs=(), target: str | None = None) -> ExperimentSpec:
        """The :class:`ExperimentSpec` of this protocol; for a pool target, the experiment whose
        target is ``target`` (default: :attr:`dataset`), the rest of the pool its sources."""
        folders = self.folders(data_dir, data_dirs)
        target = target or self.dataset
        if target not in folders:
            raise UnknownNameError(f"target dataset of {self.name}", target, self.pool)
        protocol = Protocol(labels_per_class=self.labels_per_class, label_ratio=self.label_ratio,
                            repeats=repeats or self.repeats, val_fraction=self.val_fraction,
                            test_fraction=self.test_fraction, val_subjects=self.val_subjects,
                            test_subjects=self.test_subjects, split=self.split, ratio_of=self.ratio_of,
                            draw_by_subject=self.draw_by_subject)
        pool = {"sources": tuple(name for name in self.datasets if name != target), "label_map": self.label_map,
                "data_dirs": tuple((name, path) for name, path in folders.items() if path is not None)}
        return ExperimentSpec(method=self.method, dataset=target, data_dir=None if self.datasets else folders[target],
                              window=self.window, modalities=self.modalities, protocol=protocol, budget=budget,
                              device=device, normalization=self.normalization, **(pool if self.datasets else {}))

    def experiments(self, budget: float = 1.0, repeats: int | None = None, data_dir: str | None = None,
                    device: str = "cpu", data_dirs=()) -> tuple[ExperimentSpec, ...]:
        """One :meth:`experiment` per dataset of :attr:`pool`, in pool order."""
        return tuple(self.experiment(budget, repeats, data_dir, device, data_dirs=data_dirs, target=name)
                     for name in self.pool)
