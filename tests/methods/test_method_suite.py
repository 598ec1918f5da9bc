"""The shared method suite: every registered method is checked the day it is registered.

Each method builds from its ``tiny_params``, trains one short CPU fit on synthetic data,
yields finite losses and logits, is deterministic under a seed, and survives a checkpoint
round trip.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from automl_har.errors import ConfigError
from automl_har.methods import Method, MethodContext, get_method, method_names
from automl_har.metrics import macro_f1
from automl_har.objectives import load_model
from automl_har.search_spaces import get_space

METHODS = method_names()


def _fit(name, data, pretrain, seed=0):
    method = get_method(name)
    params = method.parse_params(method.tiny_params)
    ctx = MethodContext(seed=seed, budget=1.0, n_classes=data.n_classes)
    train, val = data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]
    torch.manual_seed(seed)
    state = pretrain(method, train, params, ctx)  # pre-training never sees the target's labels
    model = method.finetune(state, train, val, params, ctx)
    return method, model, val


def test_registry_lists_supervised_baseline():
    assert "supervised" in METHODS
    assert get_method("supervised").tags["needs_pretraining"] is False  # derived: it declares no pre-training field
    assert all(get_method(name).tags["needs_pretraining"] for name in METHODS if name != "supervised")


@pytest.mark.parametrize("name", METHODS)
def test_method_declares_its_contract(name):
    method = get_method(name)
    assert method.name == name and method.description
    assert {"multimodal", "input"} <= set(method.tags)
    method.parse_params(method.tiny_params)  # tiny params are valid hyperparameters


@pytest.mark.parametrize("name", METHODS)
def test_defaults_of_the_space_are_valid_params(name):
    method = get_method(name)
    method.parse_params(get_space(name).defaults)


@pytest.mark.parametrize("name", METHODS)
def test_unknown_hyperparameter_is_a_config_error(name):
    with pytest.raises(ConfigError, match="no hyperparameter 'not_a_param'"):
        get_method(name).parse_params({"not_a_param": 1})


@pytest.mark.parametrize("name", METHODS)
def test_one_cpu_fit_gives_finite_loss_and_logits(name, tiny_windows, pretrain_like_a_trial):
    method, model, val = _fit(name, tiny_windows, pretrain_like_a_trial)
    losses = model.history["train_loss"]
    assert losses and np.isfinite(losses).all()
    assert len(model.history["val_macro_f1"]) == len(losses)
    logits = method.predict(model, val)
    assert logits.shape == (len(val), tiny_windows.n_classes)
    assert np.isfinite(logits).all()


@pytest.mark.parametrize("name", METHODS)
def test_fit_is_deterministic_under_a_seed(name, tiny_windows, pretrain_like_a_trial):
    method, first, val = _fit(name, tiny_windows, pretrain_like_a_trial, seed=3)
    _, second, _ = _fit(name, tiny_windows, pretrain_like_a_trial, seed=3)
    np.testing.assert_allclose(method.predict(first, val), method.predict(second, val), rtol=1e-5, atol=1e-6)
    assert first.history == second.history


@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_round_trip_gives_the_same_predictions(name, tiny_windows, pretrain_like_a_trial):
    method, model, val = _fit(name, tiny_windows, pretrain_like_a_trial)
    checkpoint = {
        "method": name,
        "build_kwargs": model.build_kwargs,
        "state_dict": model.module.state_dict(),
        "modalities": list(model.modalities),
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    restored = load_model(torch.load(buffer, weights_only=False))
    assert restored.modalities == model.modalities
    np.testing.assert_allclose(method.predict(model, val), method.predict(restored, val), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", METHODS)
def test_method_rejects_data_with_too_few_modalities(name, tiny_windows):
    method = get_method(name)
    single = tiny_windows.select_modalities(["acc"])
    if not method.tags["multimodal"]:
        method.check_data(single)  # unimodal methods accept one modality
    else:
        with pytest.raises(ConfigError, match="needs at least 2 modalities"):
            method.check_data(single)


@pytest.mark.parametrize("name", METHODS)
def test_without_validation_windows_the_fixed_epochs_run_and_nothing_is_selected(name, tiny_windows, pretrain_like_a_trial):
    """A train/test-only paper protocol (Cosmo: train 1-6, test 7-8) hands finetune an empty val."""
    method = get_method(name)
    params = method.parse_params(method.tiny_params)
    ctx = MethodContext(seed=0, budget=1.0, reporter=lambda step, value: pytest.fail("nothing to report"),
                        n_classes=tiny_windows.n_classes)
    train, empty = tiny_windows, tiny_windows[np.zeros(0, dtype=np.int64)]
    model = method.finetune(pretrain_like_a_trial(method, train, params, ctx), train, empty, params, ctx)
    assert len(model.history["train_loss"]) >= 1 and model.history.get("val_macro_f1", []) == []
    assert np.isfinite(method.predict(model, train)).all()


class _PeeksAtLabels(Method):
    """A method whose pre-training reads the labels: what the contract forbids."""

    name = "peeks-at-labels"
    tags = {"multimodal": False, "input": "raw"}
    Params = get_method("supervised").Params

    def pretrain(self, unlabeled, params, ctx):
        return np.bincount(unlabeled.y)  # supervised in disguise

    def finetune(self, state, labeled, val, params, ctx):
        return get_method("supervised").finetune(state, labeled, val, params, ctx)

    def build_model(self, **build_kwargs):
        return get_method("supervised").build_model(**build_kwargs)

    def model_inputs(self, data):
        return get_method("supervised").model_inputs(data)


def test_a_method_reading_labels_in_pretrain_fails(monkeypatch):
    from automl_har.data import LabelsHiddenError
    from automl_har.methods import _base
    from automl_har.objectives import ExperimentSpec, Protocol, run_trial

    monkeypatch.setitem(_base._METHODS, _PeeksAtLabels.name, _PeeksAtLabels)
    spec = ExperimentSpec(method=_PeeksAtLabels.name, dataset="synthetic", protocol=Protocol(labels_per_class=2, repeats=1))
    with pytest.raises(LabelsHiddenError, match="pre-training receives unlabeled windows, so 'y' cannot be read"):
        run_trial(get_method("supervised").tiny_params, spec)


def test_unlabeled_windows_hide_labels_but_keep_the_windows(tiny_windows):
    from automl_har.data import LabelsHiddenError

    view = tiny_windows.without_labels()
    for name in ("y", "classes", "n_classes"):
        with pytest.raises(LabelsHiddenError):
            getattr(view, name)
    assert len(view) == len(tiny_windows) and view.modality_names == tiny_windows.modality_names
    part = view[np.arange(5)]
    np.testing.assert_array_equal(part.modalities["acc"], tiny_windows.modalities["acc"][:5])
    assert view.content_hash() != tiny_windows.content_hash()
    relabeled = tiny_windows[np.arange(len(tiny_windows))]
    relabeled.y = (relabeled.y + 1) % relabeled.n_classes
    assert relabeled.without_labels().content_hash() == view.content_hash()  # labels are not part of it


@pytest.mark.parametrize("name", METHODS)
def test_mistyped_hyperparameters_are_config_errors_naming_type_and_value(name):
    import dataclasses

    method = get_method(name)
    for field in dataclasses.fields(method.Params):
        default = field.default
        if isinstance(default, bool) or not isinstance(default, (int, float, str)):
            continue
        wrong = 1.5 if isinstance(default, str) else "abc"
        with pytest.raises(ConfigError, match=rf"hyperparameter '{field.name}' of method '{name}' must be .*but got"):
            method.parse_params({field.name: wrong})


def _numeric_kind(annotation) -> type | None:
    """``int`` or ``float`` for a field typed ``int``, ``float`` or either ``| None``; else None."""
    import types
    import typing

    kinds = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    kind = next((k for k in kinds if k is not type(None)), None)
    return kind if kind in (int, float) else None


@pytest.mark.parametrize("name", METHODS)
def test_every_number_field_declares_its_valid_range_or_choices(name):
    """An int or float hyperparameter says what values the method runs with (``automl_har.ranges``);
    a switch (bool) or a free-form text (str) may declare nothing."""
    import dataclasses
    import typing

    from automl_har.ranges import OneOf, Range, declared_valid

    params_cls = get_method(name).Params
    hints = typing.get_type_hints(params_cls)
    undeclared = [f.name for f in dataclasses.fields(params_cls)
                  if _numeric_kind(hints[f.name]) is not None and declared_valid(f) is None]
    assert not undeclared, f"{name}: declare the valid values of {', '.join(undeclared)} (automl_har.ranges)"
    for field in dataclasses.fields(params_cls):
        assert declared_valid(field) is None or isinstance(declared_valid(field), (Range, OneOf))


@pytest.mark.parametrize("name", METHODS)
def test_the_paper_defaults_lie_inside_their_declarations(name):
    import dataclasses

    from automl_har.methods import paper_defaults
    from automl_har.ranges import declared_valid

    method = get_method(name)
    for field in dataclasses.fields(method.Params):
        valid = declared_valid(field)
        if valid is not None and field.default is not None:
            assert valid.contains(field.default), f"{name}.{field.name}={field.default!r} is not {valid}"
    method.parse_params(paper_defaults(method.Params))  # every default at once, as trial 0 passes them


def _space_variants(name: str) -> list[str]:
    """Every variant ``get_space(name, variant)`` accepts: ``full``, ``default``, the derived
    ``finetune`` (methods with pre-training fields) and the module's ``VARIANTS``."""
    import importlib

    from automl_har.methods import PRETRAIN, stage_names

    module = importlib.import_module(f"automl_har.search_spaces.{name.replace('-', '_')}")
    derived = ["finetune"] if stage_names(get_method(name).Params, PRETRAIN) else []
    return ["full", "default", *derived, *getattr(module, "VARIANTS", {})]


SPACE_VARIANTS = [(name, variant) for name in METHODS for variant in _space_variants(name)]


class _RecordingTrial:
    """An Optuna trial that records what each suggestion draws from: ``(name, (low, high))`` of a
    ``suggest_float``/``suggest_int``, ``(name, choices)`` of a ``suggest_categorical``."""

    def __init__(self, trial) -> None:
        self.trial, self.suggested = trial, []

    def suggest_float(self, name, low, high, **kwargs):
        self.suggested.append((name, (low, high)))
        return self.trial.suggest_float(name, low, high, **kwargs)

    def suggest_int(self, name, low, high, **kwargs):
        self.suggested.append((name, (low, high)))
        return self.trial.suggest_int(name, low, high, **kwargs)

    def suggest_categorical(self, name, choices):
        self.suggested.append((name, list(choices)))
        return self.trial.suggest_categorical(name, choices)

    def __getattr__(self, attr):
        return getattr(self.trial, attr)


@pytest.mark.parametrize(("name", "variant"), SPACE_VARIANTS)
def test_the_search_space_lies_inside_the_declared_ranges(name, variant):
    """In 30 random trials of every space variant, every branch they take included, each value
    drawn, each range and set of choices it is drawn from, and every point of the variant's grid
    satisfy the field's declaration (protocol values such as ``label_ratio`` are no hyperparameters)."""
    import dataclasses

    import optuna

    from automl_har.ranges import declared_valid
    from automl_har.search_spaces import PROTOCOL_PARAMS

    method = get_method(name)
    valid = {f.name: declared_valid(f) for f in dataclasses.fields(method.Params)}
    space = get_space(name, variant)
    outside = [f"grid {param}={v!r} (valid: {valid[param]})" for param, values in space.grid.items()
               if param not in PROTOCOL_PARAMS and valid[param] is not None
               for v in values if not valid[param].contains(v)]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = _RecordingTrial(study.ask())
        for param, value in space.params_of(trial).items():
            if param not in PROTOCOL_PARAMS and valid[param] is not None and value is not None \
                    and not valid[param].contains(value):
                outside.append(f"trial {trial.number}: {param}={value!r} (valid: {valid[param]})")
        for param, drawn in trial.suggested:
            if param in PROTOCOL_PARAMS or valid[param] is None:
                continue
            inside = valid[param].contains_interval(*drawn) if isinstance(drawn, tuple) else \
                all(valid[param].contains(choice) for choice in drawn if choice is not None)
            if not inside:
                outside.append(f"{param} suggested from {drawn} (valid: {valid[param]})")
        study.tell(trial.trial, 0.0)
    assert not outside, f"the {variant!r} space of {name!r} suggests outside the declarations: {sorted(set(outside))}"


@pytest.mark.parametrize(("param", "value", "shown"), [
    ("dropout", "1.5", "1.5"), ("lr", "-1", "-1.0"), ("width", "0", "0"), ("depth", "-3", "-3"),
    ("batch_size", "0", "0"),
])
def test_a_param_outside_its_declared_range_is_a_one_line_error_naming_it(param, value, shown):
    import dataclasses
    import re

    from automl_har.cli._options import parse_fixed_params
    from automl_har.ranges import declared_valid

    method = get_method("supervised")
    field = {f.name: f for f in dataclasses.fields(method.Params)}[param]
    typed = parse_fixed_params([f"{param}={value}"])  # as `--param dropout=1.5` gives it
    expected = (rf"hyperparameter '{param}' of method 'supervised' must be {re.escape(str(declared_valid(field)))}, "
                rf"but got {param}={re.escape(shown)}; e.g. --param {param}={field.default} ")
    with pytest.raises(ConfigError, match=expected) as err:
        method.parse_params(typed)
    assert "\n" not in str(err.value)


#: the budget the defaults test runs at: a few epochs of every stage, enough to leave a single class
DEFAULTS_BUDGET = 0.05


@pytest.fixture(scope="session")
def separable_windows():
    """Easy windows: 3 classes of distinct sinusoids with little noise, 2 modalities of 3 axes,
    32 samples (HART, the combined method's default network, cuts windows into 16-sample patches)."""
    from automl_har.data.loaders.synthetic import make_synthetic

    return make_synthetic(n_windows=90, n_classes=3, n_subjects=3, rate_hz=32.0, window_s=1.0, noise=0.1, seed=5)


@pytest.mark.parametrize("name", METHODS)
def test_the_paper_defaults_do_not_predict_a_single_class_on_separable_data(name, separable_windows,
                                                                            pretrain_like_a_trial):
    """A method whose paper defaults collapse onto one class (IMG2IMU's frozen head did: issue 30)
    is a bug, whatever its search finds later; the majority floor is the least it must beat."""
    from automl_har.objectives.floors import classes_predicted, majority_floor

    method = get_method(name)
    params = method.parse_params(get_space(name).defaults)
    ctx = MethodContext(seed=0, budget=DEFAULTS_BUDGET, n_classes=separable_windows.n_classes)
    data = separable_windows
    train, val = data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]
    torch.manual_seed(0)
    model = method.finetune(pretrain_like_a_trial(method, train, params, ctx), train, val, params, ctx)
    predicted = method.predict(model, val).argmax(1)
    assert classes_predicted(predicted) > 1
    assert macro_f1(val.y, predicted) > majority_floor(val.y)["macro_f1"]
