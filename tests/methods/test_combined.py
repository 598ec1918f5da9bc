"""Method ``combined`` (Presotto et al., SMARTCOMP'23; spec combined.md): supervised pre-training on
labeled sources, Rd / PF / PU transfer, zero-shot, the pre-training cache, ISPL-Inception's L2
term, where the pre-training curves go, and a whole trial over a pool of synthetic domains."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automl_har.cache import StageCache
from automl_har.data.loaders.synthetic import make_synthetic, write_synthetic_domains
from automl_har.data.registry import WindowOptions
from automl_har.errors import ConfigError, TrialSkipped
from automl_har.methods import MethodContext, get_method
from automl_har.objectives import ExperimentSpec, Protocol
from automl_har.objectives._trial import TrialHooks, run_trial

METHOD = get_method("combined")
SHAPE = {"n_subjects": 4, "rate_hz": 25.0, "window_s": 1.0}
#: ISPL-Inception small enough for a CPU test (one inception module, 8 features)
TINY_ISPL = {"architecture": "ispl_inception", "ispl_filters": 2, "ispl_depth": 1, "ispl_max_kernel": 8,
             "ispl_bottleneck": 2}


def params(**changes):
    return METHOD.parse_params({**METHOD.tiny_params, **changes})


@pytest.fixture(scope="module")
def sources():
    """Labeled sources with 4 classes (the target has 3: a head's width tells which it is)."""
    return (make_synthetic(n_windows=96, n_classes=4, seed=11, **SHAPE),
            make_synthetic(n_windows=24, n_classes=4, seed=12, **SHAPE))


@pytest.fixture(scope="module")
def target(tiny_windows):
    return tiny_windows[np.arange(0, len(tiny_windows), 2)], tiny_windows[np.arange(1, len(tiny_windows), 2)]


def _pretrain(sources, p, **ctx):
    return METHOD.pretrain_sources(*sources, p, MethodContext(seed=0, **ctx))


def _net_tensors(module_or_state):
    state = module_or_state if isinstance(module_or_state, dict) else module_or_state.state_dict()
    return {k: v.detach().cpu().clone() for k, v in state.items()}


# -------------------------------------------------------------------------------- strategies
@pytest.mark.parametrize("arch", [{}, TINY_ISPL], ids=["deepconvlstm", "ispl_inception"])
def test_pf_keeps_the_pretrained_extractor_bit_identical(arch, sources, target):
    pretrained = _pretrain(sources, params(**arch))
    p = params(**arch, strategy="PF", finetune_epochs=2)
    ctx = MethodContext(seed=0)
    model = METHOD.finetune(pretrained, *target, p, ctx)
    after = _net_tensors(model.module.net)
    assert set(after) == set(pretrained["net_state"])
    if arch:  # ISPL-Inception has BatchNorm: its running statistics are part of what must not move
        assert any("running_mean" in k for k in after)
    for name, value in pretrained["net_state"].items():
        assert torch.equal(after[name], value), f"PF changed {name}"
    assert not any(p.requires_grad for p in model.module.net.parameters())
    # ... while the new head did train: it is not where the seeded init put it
    torch.manual_seed(ctx.seed)
    fresh = METHOD.build_model(**model.build_kwargs)
    assert not torch.equal(fresh.head.weight, model.module.head.weight)
    assert model.module.head.out_features == target[0].n_classes


@pytest.mark.parametrize("arch", [{}, TINY_ISPL], ids=["deepconvlstm", "ispl_inception"])
def test_pu_trains_the_pretrained_extractor(arch, sources, target):
    pretrained = _pretrain(sources, params(**arch))
    p = params(**arch, strategy="PU", finetune_epochs=2)
    model = METHOD.finetune(pretrained, *target, p, MethodContext(seed=0))
    after = _net_tensors(model.module.net)
    changed = [k for k, v in pretrained["net_state"].items() if not torch.equal(after[k], v)]
    features = [k for k in changed if not k.startswith("head.")]
    assert features, "PU left the feature extractor untouched"
    if arch:
        assert any("running_mean" in k for k in changed)  # BatchNorm in train mode during PU


def test_pu_starts_from_the_pretrained_weights(sources, target):
    """Zero fine-tuning steps (lr 0): PU's extractor is exactly the pre-trained one, Rd's is not.
    (lr 0 is a probe, not a hyperparameter a user may give: ``finetune_lr`` is declared > 0, so it is
    set on the parsed Params.)"""
    pretrained = _pretrain(sources, params())
    pu_params, rd_params = (dataclasses.replace(params(strategy=s), finetune_lr=0.0) for s in ("PU", "Rd"))
    pu = METHOD.finetune(pretrained, *target, pu_params, MethodContext(seed=0))
    rd = METHOD.finetune(None, *target, rd_params, MethodContext(seed=0))
    for name, value in pretrained["net_state"].items():
        if not name.startswith("head."):
            assert torch.equal(pu.module.net.state_dict()[name], value), name
    assert any(not torch.equal(rd.module.net.state_dict()[k], v) for k, v in pretrained["net_state"].items())


def test_rd_needs_no_pretraining_and_pf_pu_do(sources, target):
    assert _pretrain(sources, params(strategy="Rd")) is None
    model = METHOD.finetune(None, *target, params(strategy="Rd"), MethodContext(seed=0))
    assert METHOD.predict(model, target[1]).shape == (len(target[1]), target[0].n_classes)
    assert model.module.net.head.out_features == target[0].n_classes  # no source head to size
    for strategy in ("PF", "PU"):
        with pytest.raises(ConfigError, match=f"strategy {strategy} needs pre-training on source datasets"):
            METHOD.finetune(None, *target, params(strategy=strategy), MethodContext(seed=0))


# --------------------------------------------------------------------------------- zero-shot
def test_zero_shot_predicts_with_the_pretraining_head(sources, target):
    pretrained = _pretrain(sources, params())
    assert pretrained["source_classes"] == 4 and pretrained["classes"] == sources[0].classes
    model = METHOD.zero_shot(pretrained, params(strategy="PU"), MethodContext(seed=0))
    logits = METHOD.predict(model, target[1])
    assert logits.shape == (len(target[1]), 4)  # the sources' classes, not the target's 3
    assert np.isfinite(logits).all() and not model.module.training
    # it is the pre-trained network itself: its own forward pass gives the same logits
    net = model.module.net
    with torch.no_grad():
        direct = net(METHOD.model_inputs(target[1])).numpy()
    np.testing.assert_allclose(logits, direct, rtol=1e-5, atol=1e-6)
    for name, value in pretrained["net_state"].items():
        assert torch.equal(net.state_dict()[name], value)


@pytest.mark.parametrize("strategy", ["Rd", "PF"])
def test_zero_shot_of_rd_and_pf_is_skipped(strategy, sources):
    pretrained = _pretrain(sources, params())
    with pytest.raises(TrialSkipped):
        METHOD.zero_shot(pretrained, params(strategy=strategy), MethodContext(seed=0))


def test_zero_shot_without_pretraining_is_an_error():
    with pytest.raises(ConfigError, match="zero-shot needs pre-training"):
        METHOD.zero_shot(None, params(strategy="PU"), MethodContext(seed=0))


# ------------------------------------------------------------------------------- stage cache
def test_pretraining_is_cached_across_finetuning_fields_and_not_across_pretraining_ones(sources, tmp_path):
    cache = StageCache(tmp_path)

    def tags_of(p, budget=1.0):
        tags = {}
        state = METHOD.pretrain_sources(*sources, p, MethodContext(seed=0, budget=budget, cache=cache,
                                                                   tag_logger=tags.__setitem__))
        return {k: v for k, v in tags.items() if k.startswith("cache.")}, state

    first, state = tags_of(params())
    assert first == {"cache.combined_pretrain": "miss"}
    # another architecture's shape fields do not change this one's pre-training
    other_nets = ({"hart_projection_dim": 96}, {"ispl_depth": 3})
    for finetune_change in ({"finetune_lr": 1e-3}, {"strategy": "PF"}, {"head": "mlp"}, {"dcl_dropout": 0.1}, *other_nets):
        tags, again = tags_of(params(**finetune_change))
        assert tags == {"cache.combined_pretrain": "hit"}, finetune_change
        for name, value in state["net_state"].items():
            assert torch.equal(again["net_state"][name], value)
    for pretrain_change in ({"pretrain_lr": 1e-3}, {"dcl_filters": 3}, {"pretrain_label_smoothing": 0.0}):
        assert tags_of(params(**pretrain_change))[0] == {"cache.combined_pretrain": "miss"}, pretrain_change
    assert tags_of(params(), budget=2.0)[0] == {"cache.combined_pretrain": "miss"}  # 2 epochs instead of 1
    other = (sources[0], make_synthetic(n_windows=24, n_classes=4, seed=13, **SHAPE))
    tags = {}
    METHOD.pretrain_sources(*other, params(), MethodContext(seed=0, cache=cache, tag_logger=tags.__setitem__))
    assert tags["cache.combined_pretrain"] == "miss"  # other source-validation windows


# --------------------------------------------------------------------------- ISPL-Inception L2
def test_ispl_inception_l2_is_part_of_both_training_losses(sources, target):
    pretrained = _pretrain(sources, params(**TINY_ISPL))
    assert min(pretrained["history"]["train_reg"]) > 0  # pre-training with the paper's 0.00593
    with_l2 = METHOD.finetune(pretrained, *target, params(**TINY_ISPL, ispl_l2=1.0), MethodContext(seed=0))
    without = METHOD.finetune(pretrained, *target, params(**TINY_ISPL, ispl_l2=0.0), MethodContext(seed=0))
    reg, loss = with_l2.history["train_reg"][0], with_l2.history["train_loss"][0]
    assert reg > 0 and loss > reg
    assert without.history["train_reg"] == [0.0]
    # the same seed and batches: the regularised loss is larger by about the penalty
    assert loss - without.history["train_loss"][0] == pytest.approx(reg, rel=0.2)
    # the penalty covers the new head's kernel (the release regularised its Dense)
    module = with_l2.module
    net_only = module.net.l2_penalty().item()
    assert module.regularizer().item() == pytest.approx(
        net_only + module.net.l2_rate * module.head.weight.square().sum().item(), rel=1e-5)


def test_deepconvlstm_has_no_regularizer(sources, target):
    model = METHOD.finetune(None, *target, params(strategy="Rd"), MethodContext(seed=0))
    assert model.module.regularizer() is None and "train_reg" not in model.history


# ---------------------------------------------------------------------- pre-training curves
def test_pretraining_curves_are_source_metrics_and_never_reach_the_pruner(sources, target):
    reports, logged = [], []
    ctx = MethodContext(seed=0, reporter=lambda step, value: reports.append(step),
                        metric_logger=lambda metrics, step: logged.append(dict(metrics)))
    state = METHOD.pretrain_sources(*sources, params(pretrain_epochs=2), ctx)
    assert reports == []
    assert len(logged) == 2 and all(name.startswith("source_") for m in logged for name in m)
    assert {"source_train_loss", "source_val_accuracy", "source_val_macro_f1"} <= set(logged[0])
    logged.clear()
    METHOD.finetune(state, *target, params(finetune_epochs=2), ctx)  # fine-tuning does report, unprefixed
    assert reports == [0, 1] and all(not name.startswith("source_") for m in logged for name in m)


# ------------------------------------------------------------------------------ whole trials
@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """Three synthetic domains sharing four classes: target domain0, sources domain1 and domain2.

    400 windows of 4 subjects x 4 classes: 25 per (subject, class), so the within-subject split's
    last two tenths (the test part) hold windows of every one (below 9 they would be empty)."""
    target_path, *source_paths = write_synthetic_domains(tmp_path_factory.mktemp("pool"), window_s=1.0,
                                                         n_windows=400)
    return ExperimentSpec(method="combined", dataset=str(target_path), sources=tuple(map(str, source_paths)),
                          window=WindowOptions(window_s=1.0, rate_hz=25.0), label_map="identity",
                          normalization="sensor", budget=0.01, device="cpu",
                          protocol=Protocol(label_ratio=0.1, repeats=2, split="within_subject", ratio_of="dataset",
                                            draw_by_subject=True))


def test_a_trial_over_a_pool_gives_a_finite_test_f1_per_draw(pool):
    logged = []
    hooks = TrialHooks(log_metrics=lambda metrics, step: logged.append(dict(metrics)))
    result = run_trial(dict(METHOD.tiny_params), pool, hooks)
    assert result.units == [(0, 0), (0, 1)]
    assert len(result.test_f1) == 2 and np.isfinite(result.test_f1).all() and np.isfinite(result.value)
    names = {name for m in logged for name in m}
    assert any(name.startswith("source_") and name.endswith("/pretrain") for name in names)
    assert {"val_macro_f1/draw_0", "val_macro_f1/draw_1"} <= names
    assert result.checkpoint["classes"] == ["class_0", "class_1", "class_2", "class_3"]
    assert result.checkpoint["experiment"]["normalization"] == "sensor"


def test_a_zero_shot_trial_is_one_unit(pool):
    spec = dataclasses.replace(pool, protocol=dataclasses.replace(pool.protocol, label_ratio=0.0))
    result = run_trial({**METHOD.tiny_params, "strategy": "PU"}, spec)
    assert result.units == [(0, 0)] and len(result.test_f1) == 1 and np.isfinite(result.test_f1[0])
    with pytest.raises(TrialSkipped):
        run_trial({**METHOD.tiny_params, "strategy": "Rd"}, spec)


def test_a_target_without_the_sources_sensors_is_a_clear_error(pool, tmp_path):
    """Regression: an acc-only target (WISDM-like) under acc+gyro sources failed inside torch
    (``size mismatch for lstm1.weight_ih_l0``) or, zero-shot, with "unknown modality 'gyro'"."""
    from automl_har.data.loaders.custom import save_npz

    acc_only = make_synthetic(n_windows=400, n_classes=4, n_subjects=4, rate_hz=25.0, window_s=1.0, seed=9,
                              class_seed=0, modalities=("acc",))
    spec = dataclasses.replace(pool, dataset=str(save_npz(acc_only, tmp_path / "acc_only.npz")),
                               protocol=dataclasses.replace(pool.protocol, repeats=1))
    message = r"acc_only.npz' and .*domain1.npz' have different sensors \(\['acc'\] vs \['acc', 'gyro'\]\); pass --mod"
    for ratio in (0.1, 0.0):
        with pytest.raises(ConfigError, match=message):
            run_trial(dict(METHOD.tiny_params), dataclasses.replace(spec, protocol=dataclasses.replace(
                spec.protocol, label_ratio=ratio)))
    result = run_trial(dict(METHOD.tiny_params), dataclasses.replace(spec, modalities=("acc",)))
    assert np.isfinite(result.test_f1).all()


def test_experiment_tags_name_the_sources_and_the_label_map(pool, tmp_path):
    tags = pool.as_tags()
    assert tags["sources"] == ",".join(pool.sources)
    assert tags["label_map"] == "identity" and tags["label_map_hash"] == "identity"
    assert tags["normalization"] == "sensor" and tags["protocol.label_ratio"] == "0.1"
    path = tmp_path / "map.yaml"
    path.write_text("classes: [a]\ndatasets: {}\n")
    first = dataclasses.replace(pool, label_map=str(path)).as_tags()
    assert first["label_map"] == str(path) and len(first["label_map_hash"]) == 12
    path.write_text("classes: [a, b]\ndatasets: {}\n")
    assert dataclasses.replace(pool, label_map=str(path)).as_tags()["label_map_hash"] != first["label_map_hash"]
    single = ExperimentSpec(method="supervised", dataset="synthetic").as_tags()
    assert not {"sources", "label_map", "label_map_hash"} & set(single)


def test_experiment_spec_rejects_bad_pools(pool, tmp_path):
    with pytest.raises(ConfigError, match="is also a source"):
        dataclasses.replace(pool, sources=(pool.dataset, *pool.sources))
    with pytest.raises(ConfigError, match="source datasets repeat"):
        dataclasses.replace(pool, sources=(pool.sources[0], pool.sources[0]))
    with pytest.raises(ConfigError, match="neither builtin, identity nor an existing YAML file"):
        dataclasses.replace(pool, label_map=str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="unknown normalization"):
        dataclasses.replace(pool, normalization="global")
    with pytest.raises(ConfigError, match="pre-trains on labeled source datasets, but the experiment has none"):
        run_trial(dict(METHOD.tiny_params), dataclasses.replace(pool, sources=()))
