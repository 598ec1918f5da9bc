"""A paper's number under its protocol (:class:`PaperTarget`), and the experiments it runs.

The registry and the runner are :mod:`automl_har.papers`; the entries,
:mod:`automl_har.papers.entries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from automl_har.errors import ConfigError, UnknownNameError
from automl_har.objectives.protocol import ExperimentSpec

METRICS = ("accuracy", "macro_f1")
#: how a paper's released code picks the number it reports, when that is not an honest protocol:
#: ``best_test_epoch``, the best test accuracy over its training epochs (selected on test).
#: ``autohar reproduce`` measures it in the same runs and prints it beside the result, never as one.
REPORTING_RULES = ("best_test_epoch",)
#: the band around the paper's number when the paper gives no std
DEFAULT_TOLERANCE = 0.03


#: what a reproduction runs unless its paper says otherwise: 5 seeded label draws
DEFAULT_REPEATS = 5


@dataclass(frozen=True)
class PaperTarget:
    """A paper's number under its protocol: a preset (or a protocol of its own) plus the number.

    Attributes:
        name: registry name (``cosmo-utd``).
        paper: the paper, short (``Cosmo, MobiCom'22``).
        source: where the number is (``Table 2``).
        method: registered method name.
        metric: ``accuracy`` or ``macro_f1``, on the test part.
        value: the paper's number.
        preset: the named protocol it starts from (:mod:`~automl_har.config.presets`), if any.
        layer: what it sets on top of the preset, in the experiment schema's shape
            (:mod:`automl_har.config.schema`: ``{"data": {...}, "protocol": {...}}``);
            ``protocol.val_subjects: []`` is a train/test-only protocol (nothing selected on
            validation), ``data.datasets`` a leave-one-dataset-out pool: each dataset is the target
            of one experiment whose sources are the rest, and the value per repeat is the mean of
            that repeat's test metric over the targets. ``protocol.repeats`` is 5 unless set.
        std: the paper's std, if it gives one (else :data:`DEFAULT_TOLERANCE` is the band).
        params: hyperparameters the protocol fixes on top of the method's DEFAULTS.
        notes: where this protocol departs from the paper's, in words (printed with the result).
        also: other metrics the paper reports for the same runs (metric -> value, e.g. MESEN's
            Table 2 gives accuracy and F1), measured on the same repeats and shown beside ``metric``.
        per_dataset: with a pool, the paper's value per target (its table's rows), shown beside autohar's.
        reporting_rule: one of :data:`REPORTING_RULES` when the paper's number comes from a rule that
            selects on test ("": none known); measured beside the result, labelled as not a result.
    """

    name: str
    paper: str
    source: str
    method: str
    metric: str
    value: float
    preset: str | None = None
    layer: Mapping[str, Any] = field(default_factory=dict)
    std: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    also: dict[str, float] = field(default_factory=dict)
    per_dataset: dict[str, float] = field(default_factory=dict)
    reporting_rule: str = ""

    def __post_init__(self) -> None:
        if self.reporting_rule and self.reporting_rule not in REPORTING_RULES:
            raise UnknownNameError("reporting rule", self.reporting_rule, REPORTING_RULES)
        for metric in (self.metric, *self.also):
            if metric not in METRICS:
                raise UnknownNameError("metric", metric, METRICS)
        config = self.config()  # a protocol that does not validate fails at import, naming the target
        if config.data.datasets and len(config.data.datasets) < 2:
            raise ConfigError(f"target {self.name}: a pool needs at least 2 datasets, but got {config.data.datasets}")
        if set(self.per_dataset) - set(config.data.datasets):
            raise ConfigError(f"target {self.name}: per_dataset names datasets outside the pool {config.data.datasets}")
        if not config.data.dataset and not config.data.datasets:
            raise ConfigError(f"target {self.name}: its protocol names no dataset")

    def config(self, options: Mapping[str, Any] | None = None):
        """The resolved :class:`~automl_har.config.schema.ExperimentConfig` of this protocol: the
        method's tags, the preset, the target's layer, then ``options`` (budget, repeats, folders)."""
        from automl_har.config import Layer, resolve

        own = {"method": self.method, "preset": self.preset, **dict(self.layer)}
        protocol = dict(own.get("protocol") or {})
        protocol.setdefault("repeats", DEFAULT_REPEATS)
        own["protocol"] = protocol
        return resolve(Layer(f"target {self.name}", own), Layer("options", dict(options or {})))

    @property
    def datasets(self) -> tuple[str, ...]:
        """The leave-one-dataset-out pool (empty: a single-dataset target)."""
        return tuple(self.config().data.datasets)

    @property
    def dataset(self) -> str:
        """The dataset; for a pool, its first (the first fold's target, what :meth:`experiment` builds by default)."""
        return self.datasets[0] if self.datasets else self.config().data.dataset

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
        """The :class:`ExperimentSpec` of this protocol, built by the same layers as a search's; for a
        pool target, the experiment whose target is ``target`` (default: :attr:`dataset`), the rest of
        the pool its sources."""
        from automl_har.config import experiment_spec

        folders = self.folders(data_dir, data_dirs)
        target = target or self.dataset
        if target not in folders:
            raise UnknownNameError(f"target dataset of {self.name}", target, self.pool)
        data: dict[str, Any] = {"dataset": target}
        if self.datasets:
            data["data_dirs"] = {name: path for name, path in folders.items() if path is not None}
        else:
            data["data_dir"] = folders[target]
        return experiment_spec(self.config({"data": data, "protocol": {"repeats": repeats},
                                            "search": {"budget": budget}}), device)

    def experiments(self, budget: float = 1.0, repeats: int | None = None, data_dir: str | None = None,
                    device: str = "cpu", data_dirs=()) -> tuple[ExperimentSpec, ...]:
        """One :meth:`experiment` per dataset of :attr:`pool`, in pool order."""
        return tuple(self.experiment(budget, repeats, data_dir, device, data_dirs=data_dirs, target=name)
                     for name in self.pool)
