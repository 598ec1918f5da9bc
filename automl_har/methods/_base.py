"""The :class:`Method` ABC, the trial context it receives, and the tagged method registry.

A method never reads files and never touches MLflow or Optuna: the objective hands it data
and a :class:`MethodContext` (device, seed, epoch budget, pruning reports, metric logging,
stage cache).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, TypeVar

import numpy as np
import torch
from torch import nn

from automl_har.cache import StageCache, cache_key
from automl_har.data import UnlabeledWindows, WindowedData
from automl_har.errors import ConfigError, UnknownNameError
from automl_har.methods._inputs import LAYOUTS, Inputs, predict_logits, window_tensors
from automl_har.methods._stages import PRETRAIN, method_code_version, stage_values
from automl_har.ranges import declared_valid, invalid_value_message

T = TypeVar("T")


@dataclass
class MethodContext:
    """What a method may use from the outside world during one trial.

    Attributes:
        device: torch device to train on (never ``.cuda()`` inside a method).
        seed: seed of this fit; the objective sets it per label draw.
        budget: fraction of the paper's epochs to run (1.0 = the paper's epochs).
        reporter: ``(step, value)`` callback for pruning; it may raise ``optuna.TrialPruned``.
        metric_logger: ``(metrics, step)`` callback for per-epoch curves.
        cache: content-keyed :class:`~automl_har.cache.StageCache`, or None (no caching).
        tag_logger: ``(key, value)`` callback for run tags (e.g. cache hits).
        artifact_logger: ``(name, data)`` callback storing a small file (e.g. a PNG) with the
            trial's run; None when nothing records artifacts (then skip making them).
        n_classes: the number of activity classes; pre-training gets it here because its
            windows carry no labels (:class:`~automl_har.data.UnlabeledWindows`).
        pretrain_fraction: the fraction of the pre-training trajectory to run, in (0, 1]: the
            pre-training loop runs ``max(1, round(fraction * epochs))`` of its (budget-scaled)
            epochs, its learning-rate schedule still spanning all of them, so a shorter run is
            the start of a longer one (:mod:`~automl_har.methods._pretraining`). A fraction
            below 1 is part of every cache key (:meth:`cached`).
        checkpoint_fractions: the fractions, in (0, 1], at which the pre-training loop stores a
            resumable checkpoint in the cache (the run's own end is always one, unless it is the
            end of the whole pre-training); a later, longer run of the same stage continues from
            the longest stored one.
        stage_in_progress: ``(stage, key without the fraction)`` of the cached stage whose
            ``compute()`` is running (set by :meth:`cached`, None outside it); the pre-training
            loop stores and finds its checkpoints under it.
        epoch_monitor: called with the network after every epoch of
            :func:`~automl_har.methods._training.fit_classifier` (``autohar reproduce`` measures a
            paper's best-test-epoch reporting rule with it); it must not change the network, and
            nothing is selected on what it sees. None: no monitoring.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    budget: float = 1.0
    reporter: Callable[[int, float], None] | None = None
    metric_logger: Callable[[Mapping[str, float], int], None] | None = None
    cache: StageCache | None = None
    tag_logger: Callable[[str, str], None] | None = None
    artifact_logger: Callable[[str, bytes], None] | None = None
    n_classes: int | None = None
    pretrain_fraction: float = 1.0
    checkpoint_fractions: tuple[float, ...] = ()
    stage_in_progress: tuple[str, str] | None = None
    epoch_monitor: Callable[[nn.Module], None] | None = None

    def __post_init__(self) -> None:
        self.checkpoint_fractions = tuple(self.checkpoint_fractions)
        named = [("pretrain_fraction", self.pretrain_fraction)]
        named += [("checkpoint_fractions", f) for f in self.checkpoint_fractions]
        for name, value in named:
            if not 0 < value <= 1:  # also rejects NaN
                raise ConfigError(f"{name} must be in (0, 1], but got {value!r}; give a fraction of the "
                                  "pre-training such as 0.25 or 1.0 (the whole pre-training)")

    def report(self, step: int, value: float) -> None:
        """Report an intermediate validation value (pruners may stop the trial here)."""
        if self.reporter is not None:
            self.reporter(step, value)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if self.metric_logger is not None:
            self.metric_logger(metrics, step)

    def set_tag(self, key: str, value: str) -> None:
        if self.tag_logger is not None:
            self.tag_logger(key, value)

    def log_artifact(self, name: str, data: bytes) -> None:
        """Store ``data`` as the file ``name`` (e.g. ``img2imu/examples.png``) with the trial's run."""
        if self.artifact_logger is not None:
            self.artifact_logger(name, data)

    def cached(self, stage: str, key_parts: Mapping[str, Any], compute: Callable[[], T],
               reads_pretraining: bool = True) -> T:
        """``compute()`` once per distinct ``key_parts`` (data hash, stage params, seed ...);
        later calls load it from the cache. Sets the tags ``cache.<stage>`` (hit or miss) and
        ``cache_key.<stage>`` (the key used).

        Below ``pretrain_fraction`` 1 the key also holds ``"pretrain_fraction"`` (at 1 it is the
        key it always was), unless ``reads_pretraining`` is False: a stage that reads nothing the
        pre-training produced (a statistic of the raw windows) keeps one key at every fraction.
        While ``compute()`` runs, :attr:`stage_in_progress` holds the stage and its key without
        the fraction, restored afterwards (also when ``compute`` raises)."""
        if self.cache is None:
            return compute()
        whole = cache_key(stage, key_parts)
        key = whole if self.pretrain_fraction == 1.0 or not reads_pretraining else \
            cache_key(stage, {**key_parts, "pretrain_fraction": self.pretrain_fraction})
        outer, self.stage_in_progress = self.stage_in_progress, (stage, whole)
        try:
            value, hit = self.cache.get_or_compute(stage, key, compute)
        finally:
            self.stage_in_progress = outer
        self.set_tag(f"cache.{stage}", "hit" if hit else "miss")
        self.set_tag(f"cache_key.{stage}", key)
        return value

    def epochs(self, paper_epochs: int) -> int:
        """The paper's epoch count scaled by the budget, at least 1."""
        return max(1, int(round(paper_epochs * self.budget)))


@dataclass
class TrainedModel:
    """A fitted network plus everything needed to rebuild it from a state dict.

    Attributes:
        module: the network; ``module(inputs)`` returns logits.
        build_kwargs: ``Method.build_model(**build_kwargs)`` makes an untrained copy.
        modalities: the modalities the network reads, in input order (a Cosmo ``m2u`` model:
            one group's; IMG2IMU: its tri-axial modality). Prediction, checkpoints, the export
            bundle and ``autohar predict`` ask only for these.
        history: per-epoch curves of the fit (``{"val_macro_f1": [...], ...}``).
        frozen_encoder_key: for a model whose encoder stayed frozen (linear evaluation), the
            cache key of its encoder's features; ``predict`` with a context then reuses the
            cached features instead of running the encoder again. None: run the whole network.
    """

    module: nn.Module
    build_kwargs: dict[str, Any]
    modalities: tuple[str, ...]
    history: dict[str, list[float]] = field(default_factory=dict)
    frozen_encoder_key: dict[str, Any] | None = None


class Method(ABC):
    """A training method of one paper (or the supervised baseline).

    Subclasses set the class attributes, a ``Params`` dataclass whose fields are the typed
    hyperparameters with the paper's defaults, each declared with its stage
    (``pretraining(default)`` or ``finetuning(default)``, see :mod:`~automl_har.methods._stages`),
    and implement :meth:`finetune`,
    :meth:`build_model` and :meth:`model_inputs`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    #: how the network reads its windows: a name of :data:`~automl_har.methods._inputs.LAYOUTS`
    #: (``stacked_channels_first``: one ``(N, C, T)`` tensor ...); None: the method overrides
    #: :meth:`model_inputs` (its export then needs Python at prediction time)
    input_layout: ClassVar[str | None] = None
    #: capability tags, e.g. {"multimodal": False, "input": "raw"}; ``"multimodal": True``: the method
    #: needs two or more modalities (:meth:`check_data`); ``"needs_pretraining"`` is derived at
    #: registration from the ``Params`` fields declared as pre-training (:func:`register_method`);
    #: ``"reads": "inertial"``: with no ``--modalities``, experiments load only the dataset's
    #: inertial modalities (:func:`automl_har.objectives.protocol.default_modalities`);
    #: ``"pretraining_data"``: what pre-training learns from, ``"target_unlabeled"`` (the default:
    #: :meth:`pretrain`) or ``"labeled_sources"`` (:meth:`pretrain_sources`); ``"zero_shot": True``:
    #: the method predicts without labeled target windows (:meth:`zero_shot`); ``"default_window"``:
    #: the ``WindowOptions`` fields an experiment uses when the user gives none; ``"normalization"``:
    #: the :data:`~automl_har.data.splits.NORMALIZATION_MODES` entry used when the user gives none;
    #: ``"deploy_subset"``: for a multimodal method that can pre-train on every modality and deploy on
    #: some (``--deploy-modalities``), the params that say so, with ``{deployed}`` (the deployed group,
    #: members joined by ``+``) and ``{groups}`` (that group, then every other modality alone)
    #: filled in (:func:`automl_har.selection.method_spec`)
    tags: ClassVar[dict[str, Any]] = {}
    Params: ClassVar[type]
    #: hyperparameters small enough for one quick CPU fit; the shared method test suite uses them
    tiny_params: ClassVar[dict[str, Any]] = {}

    # ----------------------------------------------------------- hyperparameters
    def parse_params(self, params: Mapping[str, Any]) -> Any:
        """Typed ``Params`` from a plain dict. Unknown names, values of the wrong type (``lr=abc``, as
        typed with ``--param``) and values outside the field's declared range or choices
        (``dropout=1.5``) are a one-line error naming the parameter, what it accepts and the value."""
        fields = {f.name: f for f in dataclasses.fields(self.Params)}
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise ConfigError(
                f"method {self.name!r} has no hyperparameter {unknown[0]!r}; valid names: {', '.join(sorted(fields))}"
            )
        types = typing.get_type_hints(self.Params)
        typed = {name: _typed_value(self.name, name, value, types[name], fields[name].default)
                 for name, value in params.items()}
        for name, value in typed.items():  # each field's declared range or choices (automl_har.ranges)
            valid = declared_valid(fields[name])
            if valid is not None and value is not None and not valid.contains(value):
                raise ConfigError(invalid_value_message(self.name, name, value, valid, fields[name].default))
        return self.Params(**typed)

    # ------------------------------------------------------------------ stages
    def cached_stage(self, ctx: MethodContext, stage: str, key_parts: Mapping[str, Any], compute: Callable[[], T],
                     reads_pretraining: bool = True) -> T:
        """``ctx.cached`` with this method's code version in the key: an edited method never
        reuses what its old code cached (:func:`~automl_har.methods._stages.method_code_version`)."""
        return ctx.cached(stage, {**key_parts, "code": method_code_version(type(self).__module__)}, compute,
                          reads_pretraining)

    def pretraining_key(self, params: Any, data_hash: str, ctx: MethodContext) -> dict[str, Any]:
        """The cache-key parts of a pre-training: the fields declared ``pretraining``, the data
        (its content hash) and the seed; the method adds what else its result depends on."""
        return {"params": stage_values(params, PRETRAIN), "data": data_hash, "seed": ctx.seed}

    def pretrain(self, unlabeled: UnlabeledWindows, params: Any, ctx: MethodContext) -> Any:
        """Self-/multi-modal pre-training on unlabeled windows (their labels cannot be read; the
        class count is ``ctx.n_classes``); returns a state (default: none)."""
        return None

    def pretrain_sources(self, sources: WindowedData, sources_val: WindowedData, params: Any,
                         ctx: MethodContext) -> Any:
        """Supervised pre-training on labeled source datasets (``sources``: merged pre-training
        windows; ``sources_val``: what selects the checkpoint), for methods tagged
        ``pretraining_data="labeled_sources"``; returns the state :meth:`finetune` receives."""
        raise ConfigError(f"method {self.name!r} does not pre-train on labeled source datasets; drop --datasets/--target")

    def pretrain_checkpoint(self, source: Any, params: Any, ctx: MethodContext, epochs: int | None = None) -> dict:
        """A pre-training run on its own (``autohar pretrain``), for methods tagged ``image_pretraining``:
        ``source`` is an image folder or unlabeled windows; returns a checkpoint dict whose ``history``
        maps each logged curve to its values per epoch (``epochs``: None, the budget's share)."""
        raise ConfigError(f"method {self.name!r} has no stand-alone pre-training; `autohar pretrain` takes methods "
                          "tagged image_pretraining")

    def zero_shot(self, state: Any, params: Any, ctx: MethodContext) -> TrainedModel:
        """The model that predicts the target without any labeled target window (``--label-ratio 0``)."""
        raise ConfigError(f"method {self.name!r} needs labeled target windows; use --label-ratio > 0")

    @abstractmethod
    def finetune(
        self, state: Any, labeled: WindowedData, val: WindowedData, params: Any, ctx: MethodContext
    ) -> TrainedModel:
        """Train on the few labeled windows, selecting epochs on ``val``; return the model.

        ``val`` may hold no window (a train/test-only paper protocol): then nothing is selected
        and the fixed epochs run (:func:`~automl_har.methods._training.fit_classifier` does this)."""

    @abstractmethod
    def build_model(self, **build_kwargs: Any) -> nn.Module:
        """An untrained network from :attr:`TrainedModel.build_kwargs`."""

    def model_inputs(self, data: WindowedData) -> Inputs:
        """The tensor(s) the network takes for ``data``: its :attr:`input_layout` of the windows (a
        method without one overrides this, and its export runs this in Python at prediction time)."""
        if self.input_layout is None:
            raise NotImplementedError(f"method {self.name!r} declares no input_layout; override model_inputs")
        return LAYOUTS[self.input_layout](window_tensors(data))

    @torch.no_grad()
    def predict(self, model: TrainedModel, data: WindowedData, ctx: MethodContext | None = None,
                batch_size: int = 512) -> np.ndarray:
        """Logits ``(N, n_classes)`` for every window of ``data``; ``ctx`` (the trial's context) lets
        a method reuse what it cached while fitting, e.g. frozen-encoder features."""
        if len(data) == 0:
            return np.zeros((0, data.n_classes), np.float32)
        device = next(model.module.parameters()).device
        inputs = self.model_inputs(data.select_modalities(model.modalities))
        return predict_logits(model.module, inputs, device, batch_size).numpy()

    def check_data(self, data: WindowedData, params: Any = None) -> None:
        """Raise :class:`ConfigError` when ``data`` has too few modalities for this method (a method
        whose needs depend on its hyperparameters also checks ``params``, when given)."""
        if self.tags.get("multimodal") and len(data.modalities) < 2:
            raise ConfigError(
                f"method {self.name!r} is multimodal and needs at least 2 modalities but the "
                f"data has {data.modality_names}; choose a multimodal dataset or another method"
            )


def _typed_value(method: str, name: str, value: Any, annotation: Any, default: Any) -> Any:
    """``value`` checked against a ``Params`` annotation (bool, int, float, str, optionally None):
    ints are accepted for floats and integral floats for ints; anything else is a ConfigError."""
    allowed = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if value is None and type(None) in allowed:
        return None
    kind = next((t for t in allowed if t is not type(None)), annotation)
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if kind is bool and isinstance(value, (bool, np.bool_)):
        return bool(value)
    if kind is int and number and float(value).is_integer():
        return int(value)
    if kind is float and number:
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    if kind not in (bool, int, float, str):
        return value  # a richer annotation: the dataclass checks it
    example = f"; e.g. --param {name}={default}" if default is not dataclasses.MISSING else ""
    raise ConfigError(
        f"hyperparameter {name!r} of method {method!r} must be {'an integer' if kind is int else 'a ' + kind.__name__}, "
        f"but got {name}={value!r} ({type(value).__name__}){example}"
    )


_METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator adding a method to the registry under ``cls.name``, with its tag
    ``needs_pretraining`` derived from its ``Params`` (a pre-training field declared, or not)."""
    from automl_har.methods._stages import PRETRAIN, stage_names

    cls.tags = {**cls.tags, "needs_pretraining": bool(stage_names(cls.Params, PRETRAIN))}
    _METHODS[cls.name] = cls
    return cls


def _ensure_methods_imported() -> None:
    import automl_har.methods  # noqa: F401  (each method module registers itself)


def method_names() -> list[str]:
    _ensure_methods_imported()
    return sorted(_METHODS)


def get_method(name: str) -> Method:
    """A fresh instance of the registered method ``name``."""
    _ensure_methods_imported()
    if name not in _METHODS:
        raise UnknownNameError("method", name, _METHODS)
    return _METHODS[name]()


def methods_with_tag(tag: str, value: Any = True) -> list[str]:
    _ensure_methods_imported()
    return sorted(n for n, cls in _METHODS.items() if cls.tags.get(tag) == value)
