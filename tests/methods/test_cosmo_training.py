"""Cosmo's two stages end to end: stage-1 cache, quality weights, iterative fine-tuning, m2u, search."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automl_har.cache import StageCache
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method
from automl_har.methods._quality import quality_weights as cosmo_quality_weights
from automl_har.methods._training import FitSettings, fit_classifier
from automl_har.metrics import macro_f1
from automl_har.models import Conv1dClassifier

TINY = get_method("cosmo").tiny_params


def split(data):
    return data[np.arange(0, len(data), 2)], data[np.arange(1, len(data), 2)]


def params(**overrides):
    return get_method("cosmo").parse_params({**TINY, **overrides})


def test_fit_classifier_calls_on_epoch_start_after_train_mode(tiny_windows):
    """The hook Cosmo's iterative training uses: called every epoch, may freeze parameters."""
    train, val = split(tiny_windows)
    module = Conv1dClassifier(in_channels=6, n_classes=3, depth=1, width=4)
    frozen_before = {k: v.clone() for k, v in module.encoder.state_dict().items()}
    head_before = module.head.weight.detach().clone()
    calls = []

    def on_epoch_start(epoch):
        calls.append((epoch, module.training))
        module.encoder.requires_grad_(False)
        module.encoder.eval()  # BatchNorm statistics stay fixed too

    x = lambda d: torch.from_numpy(np.concatenate([d.modalities["acc"], d.modalities["gyro"]], -1)).transpose(1, 2)
    fit_classifier(module, x(train), train.y, x(val), val.y, FitSettings(epochs=3, lr=1e-2, patience=10),
                   MethodContext(), on_epoch_start=on_epoch_start)
    assert calls == [(0, True), (1, True), (2, True)]
    for k, v in module.encoder.state_dict().items():
        torch.testing.assert_close(v, frozen_before[k])
    assert not torch.equal(module.head.weight, head_before)


def test_stage1_is_cached_for_trials_that_change_only_stage2_params(tmp_path, tiny_windows):
    method, cache = get_method("cosmo"), StageCache(tmp_path)
    tags = []
    ctx = MethodContext(seed=1, cache=cache, tag_logger=lambda k, v: tags.append((k, v)), n_classes=3)
    first = method.pretrain(tiny_windows.without_labels(), params(), ctx)
    stage2_only = params(quality_weight=0.3, iterative_epochs=0, fusion="sum", finetune_lr=0.1, mode="m2u",
                         m2u_modality="acc", finetune_batch_size=4)
    second = method.pretrain(tiny_windows.without_labels(), stage2_only, ctx)
    method.pretrain(tiny_windows.without_labels(), params(temperature=0.2), ctx)
    other_seed = MethodContext(seed=2, cache=cache, tag_logger=lambda k, v: tags.append((k, v)), n_classes=3)
    method.pretrain(tiny_windows.without_labels(), params(), other_seed)
    assert [v for k, v in tags if k == "cache.cosmo_stage1"] == ["miss", "hit", "miss", "miss"]
    for key, value in first["encoders"].items():
        torch.testing.assert_close(second["encoders"][key], value)
    assert second["quality"] == first["quality"]


def test_quality_measured_on_the_data_is_one_cached_stage_for_every_stage1_configuration(tmp_path, tiny_windows,
                                                                                        monkeypatch):
    """beta_QoM of the data reads no stage-1 weight: a new stage-1 configuration, or a truncated
    pre-training (a staged search's rung), reuses the one measurement instead of its KMeans sweep."""
    import automl_har.methods.cosmo as cosmo

    measured = []
    monkeypatch.setattr(cosmo, "quality_weights", lambda features, *a, **k: measured.append(sorted(features))
                        or cosmo_quality_weights(features, *a, **k))
    method, cache, tags = get_method("cosmo"), StageCache(tmp_path), []
    context = lambda **kw: MethodContext(seed=1, cache=cache, tag_logger=lambda k, v: tags.append((k, v)),  # noqa: E731
                                         n_classes=3, **kw)
    first = method.pretrain(tiny_windows.without_labels(), params(), context())
    other = method.pretrain(tiny_windows.without_labels(), params(temperature=0.2, n_fusions=5), context())
    short = method.pretrain(tiny_windows.without_labels(), params(pretrain_epochs=3), context(pretrain_fraction=1 / 3))
    assert [v for k, v in tags if k == "cache.cosmo_stage1"] == ["miss", "miss", "miss"]
    assert [v for k, v in tags if k == "cache.cosmo_quality"] == ["miss", "hit", "hit"]
    assert len(measured) == 1 and first["quality"] == other["quality"] == short["quality"]
    by_features = method.pretrain(tiny_windows.without_labels(), params(quality_source="features"), context())
    assert len(measured) == 2 and by_features["quality"] != first["quality"]  # features: measured with stage 1


def test_stage1_learns_and_measures_quality_of_every_group(tiny_windows):
    logged = []
    ctx = MethodContext(metric_logger=lambda m, s: logged.append(dict(m)), n_classes=3)
    state = get_method("cosmo").pretrain(tiny_windows, params(pretrain_epochs=4), ctx)
    assert state["groups"] == {"acc": ["acc"], "gyro": ["gyro"]}
    losses = state["contrastive_loss"]
    assert len(losses) == 4 and np.isfinite(losses).all() and losses[-1] < losses[0]
    weights = [q["weight"] for q in state["quality"].values()]
    assert sum(weights) == pytest.approx(1.0) and all(0 < w < 1 for w in weights)
    assert all(1 <= q["k_star"] <= 6 and 0 < q["hopkins"] <= 1 for q in state["quality"].values())
    assert any("quality_0_beta_qom" in m for m in logged)


def test_iterative_training_first_trains_the_encoders_with_the_classifier_frozen(tiny_windows):
    method = get_method("cosmo")
    train, val = split(tiny_windows)
    p = params(finetune_epochs=1, iterative_epochs=5)
    state = method.pretrain(train.without_labels(), p, MethodContext(seed=0, n_classes=train.n_classes))
    model = method.finetune(state, train, val, p, MethodContext(seed=7))
    torch.manual_seed(7)  # finetune seeds the classifier's initialisation with ctx.seed
    fresh = method.build_model(**model.build_kwargs)
    trained = model.module.state_dict()
    for key, value in fresh.state_dict().items():
        if key.startswith(("classifier.", "attention.")):
            torch.testing.assert_close(trained[key], value)  # weights and BatchNorm statistics untouched
    changed = [k for k, v in state["encoders"].items() if not torch.equal(v, trained[f"encoders.{k}"])]
    assert any(k.endswith("weight") for k in changed)  # the pre-trained encoders were fine-tuned
    assert all(p.requires_grad for p in model.module.parameters())  # nothing left frozen afterwards


def test_cosmo_learns_the_synthetic_classes(tiny_windows):
    method = get_method("cosmo")
    train, val = split(tiny_windows)
    p = params(pretrain_epochs=3, finetune_epochs=20, iterative_epochs=0, finetune_lr=0.05, finetune_batch_size=8)
    reports = []
    model = method.finetune(method.pretrain(train.without_labels(), p, MethodContext(n_classes=train.n_classes)), train, val, p,
                            MethodContext(reporter=lambda step, value: reports.append(step)))
    assert reports == list(range(20))  # per-epoch validation macro-F1 reaches the pruner
    f1 = macro_f1(val.y, method.predict(model, val).argmax(1))
    assert f1 > 0.6, f"chance is 0.33, got {f1:.3f}"


def test_stage2_trains_the_encoders_at_a_tenth_of_the_classifiers_rate_as_the_release_does(tiny_windows, monkeypatch):
    """Audit F7: the released code's stage 2 is SGD with encoders at 1e-4 and classifier at 1e-3."""
    from automl_har.methods import _training

    built = []

    def recording(module, *args, **kwargs):
        optimizer = make_optimizer(module, *args, **kwargs)
        names = {id(p): name for name, p in module.named_parameters()}
        built.append({round(g["lr"], 12): {names[id(p)].split(".")[0] for p in g["params"]} for g in optimizer.param_groups})
        return optimizer

    make_optimizer = _training.make_optimizer
    monkeypatch.setattr(_training, "make_optimizer", recording)
    method = get_method("cosmo")
    train, val = split(tiny_windows)
    p = params(finetune_epochs=1, finetune_lr=1e-3)
    assert p.encoder_lr_scale == 0.1  # the default
    method.finetune(method.pretrain(train.without_labels(), p, MethodContext(n_classes=train.n_classes)), train, val,
                    p, MethodContext())
    assert built[-1] == {1e-4: {"encoders"}, 1e-3: {"attention", "classifier"}}
    with pytest.raises(ConfigError, match="hyperparameter 'encoder_lr_scale' of method 'cosmo' must be > 0, but got "
                                          "encoder_lr_scale=0.0"):
        params(encoder_lr_scale=0)


def test_finetune_without_stage1_is_a_config_error(tiny_windows):
    with pytest.raises(ConfigError, match="pretrain"):
        get_method("cosmo").finetune(None, tiny_windows, tiny_windows, params(), MethodContext())


@pytest.mark.slow
def test_search_reuses_stage1_across_stage2_trials(tmp_path):
    from mlflow import MlflowClient
    from typer.testing import CliRunner

    from automl_har.cli.main import app
    from automl_har.tracking import EXPERIMENT
    from automl_har.workspace import Workspace

    tiny = [arg for k, v in TINY.items() if k not in ("finetune_lr",) for arg in ("--param", f"{k}={v}")]
    result = CliRunner().invoke(app, [
        "search", "--method", "cosmo", "--dataset", "synthetic", "--trials", "2", "--space", "finetune",
        "--budget", "1", "--repeats", "1", "--labels-per-class", "3", "--quiet", "--workdir", str(tmp_path), *tiny,
    ])
    assert result.exit_code == 0, result.output
    ws = Workspace.resolve(tmp_path)
    client = MlflowClient(tracking_uri=ws.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    trials = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: r.info.run_name)
    assert [r.data.tags.get("autohar.cache.cosmo_stage1") for r in trials] == ["miss", "hit"]
    assert all(r.data.tags["autohar.state"] == "COMPLETE" for r in trials)
    assert all(r.data.tags["autohar.cosmo.stage2_epochs"] == str(TINY["finetune_epochs"]) for r in trials)


def _stage1(data, **overrides):
    ctx = MethodContext(seed=4, n_classes=data.n_classes)
    return get_method("cosmo").pretrain(data.without_labels(), params(**overrides), ctx)


def test_pretrain_epochs_zero_switches_stage_one_off(tiny_windows):
    """The paper's "w/o C1" ablation (Fig. 15a): no contrastive epoch, encoders at their seeded init."""
    off, again, on = _stage1(tiny_windows, pretrain_epochs=0), _stage1(tiny_windows, pretrain_epochs=0), \
        _stage1(tiny_windows, pretrain_epochs=1)
    assert off["contrastive_loss"] == [] and len(on["contrastive_loss"]) == 1
    assert all(torch.equal(off["encoders"][k], again["encoders"][k]) for k in off["encoders"])
    assert any(not torch.equal(off["encoders"][k], on["encoders"][k]) for k in off["encoders"])


def test_quality_of_modality_is_measured_on_the_data_by_default(tiny_windows):
    """Sec. 5.2.1: H(x_j) of each modality's data; the stage-1 features are an option."""
    from automl_har.methods._quality import quality_weights

    train = tiny_windows
    by_data = _stage1(train)["quality"]
    direct = quality_weights({m: train.modalities[m].reshape(len(train), -1) for m in ("acc", "gyro")},
                             train.n_classes, seed=4)
    assert by_data == {g: dataclasses.asdict(q) for g, q in direct.items()}
    assert _stage1(train, pretrain_epochs=0)["quality"] == by_data  # the data do not depend on stage 1
    by_features = _stage1(train, quality_source="features")["quality"]
    assert by_features != by_data
    with pytest.raises(ConfigError, match="hyperparameter 'quality_source' of method 'cosmo' must be one of data, "
                                          "features, but got quality_source='labels'"):
        params(quality_source="labels")


def test_the_released_codes_encoder_sizes_and_a_two_layer_gru_are_a_param_away():
    from automl_har.methods.cosmo import encoder_sizes
    from automl_har.models.cosmo_encoders import make_encoder

    sizes = encoder_sizes(params(imu_width=64, skeleton_width=64, gru_layers=2, feature_dim=128))
    imu = make_encoder("inertial", 6, 100, **sizes["inertial"])
    skeleton = make_encoder("skeleton", 60, 60, **sizes["skeleton"])
    for encoder in (imu, skeleton):
        assert encoder.head.gru is not None and encoder.head.gru.num_layers == 2 and encoder.head.linear is None
        assert {m.out_channels for m in encoder.modules() if hasattr(m, "out_channels")} == {64}
    flat = make_encoder("inertial", 6, 100, **encoder_sizes(params(gru_layers=0))["inertial"])
    assert flat.head.gru is None and flat.head.linear is not None
