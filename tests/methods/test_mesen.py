"""MESEN as a method: multimodal pre-training, a model that reads only its modality, the bad
inputs and their one-line errors, the mesen-utd protocol on real data, and a skeleton-only
search -> export -> predict round trip. The losses and encoders are tested in
``tests/methods/test_mesen_losses.py`` and ``tests/models/test_mesen_encoders.py``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from automl_har.data import WindowedData
from automl_har.data.loaders.synthetic import make_synthetic
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method

UTD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "utd_mhad"
needs_utd = pytest.mark.skipif(not (UTD_DIR / "Inertial").is_dir(), reason=f"UTD-MHAD not found at {UTD_DIR}")
MESEN = get_method("mesen")
TINY = MESEN.tiny_params


def utd_like(n: int = 48, n_classes: int = 3) -> WindowedData:
    """acc + gyro (50 Hz, 100 samples) and a 20-joint skeleton (30 Hz, 60 frames), like UTD-MHAD."""
    imu = make_synthetic(n_windows=n, n_classes=n_classes, n_subjects=3, rate_hz=50.0, window_s=2.0, seed=0)
    rng = np.random.default_rng(1)
    skeleton = (rng.normal(size=(n_classes, 60, 60))[imu.y] + rng.normal(0, 0.5, size=(n, 60, 60))).astype(np.float32)
    return WindowedData(modalities={**imu.modalities, "skeleton": skeleton}, y=imu.y, subject=imu.subject,
                        classes=imu.classes, rates_hz={**imu.rates_hz, "skeleton": 30.0})


def parse(**changes):
    return MESEN.parse_params({**TINY, **changes})


def fit(data: WindowedData, **changes):
    params = parse(**changes)
    logged: list[dict] = []
    tags: dict[str, str] = {}
    ctx = MethodContext(n_classes=data.n_classes, metric_logger=lambda m, step: logged.append(dict(m)),
                        tag_logger=tags.__setitem__)
    state = MESEN.pretrain(data.without_labels(), params, ctx)
    model = MESEN.finetune(state, data, data[np.zeros(0, dtype=np.int64)], params, ctx)  # no validation windows
    return state, model, logged, tags


def test_pretraining_logs_both_losses_delta_entropy_and_agreement_per_epoch():
    state, _, logged, tags = fit(utd_like(), pretrain_epochs=3)
    epochs = [m for m in logged if "l_cmf" in m]
    assert len(epochs) == 3
    for metrics in epochs:
        assert {"pretrain_loss", "l_cmf", "l_mpc", "delta", "pseudo_entropy", "pseudo_agreement"} <= set(metrics)
        # delta balances the two terms per batch: total = 2 L_CMF when both losses run
        assert metrics["pretrain_loss"] == pytest.approx(2 * metrics["l_cmf"], rel=1e-4)
        assert 0 <= metrics["pseudo_agreement"] <= 1 and 0 <= metrics["pseudo_entropy"] <= 2 * math.log(3) + 1e-5
    assert list(state["groups"]) == ["acc+gyro", "skeleton"] and state["kinds"] == {"acc+gyro": "inertial",
                                                                                    "skeleton": "skeleton"}
    assert tags["mesen.pseudo_classes"] == "3"  # N_cls = the number of classes


@pytest.mark.parametrize(("modality", "reads"), [("skeleton", ("skeleton",)), ("acc+gyro", ("acc", "gyro")),
                                                 ("gyro", ("acc", "gyro"))])  # a member names its group
def test_the_fine_tuned_model_reads_only_its_modality_group(modality, reads):
    data = utd_like()
    _, model, _, tags = fit(data, modality=modality)
    assert model.modalities == reads
    only = data.select_modalities(reads)
    logits = MESEN.predict(model, only)
    assert logits.shape == (len(data), data.n_classes) and np.isfinite(logits).all()
    np.testing.assert_allclose(logits, MESEN.predict(model, data), rtol=1e-5, atol=1e-6)  # other modalities unused
    assert tags["mesen.deployed_group"] in ("skeleton", "acc+gyro")


def test_a_skeleton_checkpoint_keeps_the_body_frame_and_hcn_head(tmp_path):
    import torch

    from automl_har.data.loaders.utd_mhad import JOINTS, skeleton_channels
    from automl_har.data.skeleton import BodyFrame
    from automl_har.objectives import load_model

    plain = utd_like()
    data = WindowedData(plain.modalities, plain.y, plain.subject, plain.classes, plain.rates_hz,
                        {**plain.channels, "skeleton": skeleton_channels(JOINTS)})
    state, model, _, _ = fit(data, modality="skeleton")
    frame = {"origin": [2], "scale": [1, 2]}  # spine of frame 0, shoulder_center - spine
    assert state["body_frames"] == {"acc+gyro": None, "skeleton": frame}
    assert model.build_kwargs["body_frame"] == frame and model.build_kwargs["hcn_head"] == "flatten"
    head = model.module.head  # HCN's fc7 (flattened 6 positions of 4w -> 512), ReLU, dropout, fc8
    assert [type(m).__name__ for m in head] == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert head[1].in_features == model.module.encoder.out_channels * 3 and head[3].p == 0.1  # hcn_dropout
    path = tmp_path / "checkpoint.pt"
    torch.save({"method": "mesen", "build_kwargs": model.build_kwargs, "modalities": list(model.modalities),
                "state_dict": model.module.state_dict()}, path)
    loaded = load_model(torch.load(path))
    assert loaded.module.encoder.body_frame == BodyFrame((2,), (1, 2))
    np.testing.assert_allclose(MESEN.predict(loaded, data), MESEN.predict(model, data), rtol=1e-5, atol=1e-6)
    mean_head = fit(data, modality="skeleton", hcn_head="mean")[1].module.head
    assert isinstance(mean_head, torch.nn.Linear)


def test_pre_trained_weights_reach_the_fine_tuned_encoder_and_l_fr_starts_at_the_head_norm():
    from automl_har.methods.mesen import encoder_sizes, fine_tuning_regularizer

    data = utd_like()
    params = parse(modality="skeleton", pretrain_epochs=2)
    ctx = MethodContext(n_classes=3)
    state = MESEN.pretrain(data.without_labels(), params, ctx)
    net = MESEN.build_model(members=["skeleton"], kind="skeleton", channels=60, length=60, encoder="paper",
                            encoder_sizes=encoder_sizes(params), n_classes=3)
    net.encoder.load_state_dict(state["encoders"]["skeleton"])
    head = sum(float(p.detach().pow(2).sum()) for p in net.head.parameters())
    assert float(fine_tuning_regularizer(net, params)().detach()) == pytest.approx(params.lambda_fr * head, rel=1e-5)
    assert fine_tuning_regularizer(net, parse(lambda_fr=0.0)) is None  # "w/o F_c3": no regularizer at all


def test_labeltrain_runs_no_pretraining_and_no_regularizer():
    state, model, logged, tags = fit(utd_like(), pretrain_losses="none", lambda_fr=0.0, modality="skeleton")
    assert tags["mesen.pretrain_epochs"] == "0" and not [m for m in logged if "l_cmf" in m]
    assert "train_reg" not in model.history  # lambda_fr = 0: the regularizer is off


def test_bad_inputs_get_one_line_errors_that_name_the_fix():
    single = make_synthetic(n_windows=24, n_classes=3, n_subjects=2, rate_hz=25.0, window_s=1.0, seed=0)
    single = single.select_modalities(("acc",))
    with pytest.raises(ConfigError, match="needs at least 2 modalities .* choose a multimodal dataset") as err:
        MESEN.check_data(single)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"modality='depth' is not among the modality groups \['acc\+gyro', 'skeleton'\]"):
        MESEN.pretrain(utd_like().without_labels(), parse(modality="depth"), MethodContext(n_classes=3))
    with pytest.raises(ConfigError, match=r"hyperparameter 'lambda_pr' of method 'mesen' must be <= 0, but got "
                                          r"lambda_pr=0.5; e.g. --param lambda_pr=-1.0"):
        parse(lambda_pr=0.5)
    with pytest.raises(ConfigError, match="hyperparameter 'pretrain_losses' of method 'mesen' must be one of both, "
                                          "cmf, mpc, none, but got pretrain_losses='all'"):
        parse(pretrain_losses="all")
    with pytest.raises(ConfigError, match="mesen needs at least 2 modality groups"):
        MESEN.pretrain(utd_like().without_labels(), parse(modality_groups="skeleton"), MethodContext(n_classes=3))


def test_search_space_defaults_variants_and_the_ablation_grid():
    from automl_har.search_spaces import get_space

    full = get_space("mesen")
    assert full.defaults["lambda_pr"] == -1.0 and full.defaults["delta_mode"] == "balance"
    assert "delta" not in full.defaults  # conditional: searched only with delta_mode=fixed
    assert not full.grid  # the full space's lambda_fr is log-scaled: no grid
    assert set(get_space("mesen", "finetune").defaults) == {"lambda_fr", "fr_gamma_last", "finetune_lr",
                                                            "finetune_batch_size"}
    ablation = get_space("mesen", "ablation")
    assert ablation.grid_size() == 8 and ablation.defaults == {"pretrain_losses": "both", "lambda_fr": 0.01}


@needs_utd
def test_mesen_utd_protocol_splits_the_real_data_as_the_paper():
    from automl_har.config import Layer, experiment_spec, resolve
    from automl_har.objectives import prepare_data

    spec = experiment_spec(resolve(Layer("options", {"method": "mesen", "preset": "mesen-utd", "data": {
        "data_dir": str(UTD_DIR)}, "protocol": {"repeats": 1}})), "cpu")
    data = prepare_data(spec)
    assert (len(data.train), len(data.val), len(data.test)) == (646, 107, 108)
    assert set(np.unique(data.train.subject)) == {1, 2, 3, 4, 5, 6}
    assert set(np.unique(data.val.subject)) == set(np.unique(data.test.subject)) == {7, 8}
    labeled = data.train[data.labeled_draw(spec.protocol, 0)]
    assert len(labeled) == 27 and len(set(labeled.y)) == 27  # 27 / 646 = the paper's 4.18%


@needs_utd
@pytest.mark.slow
def test_a_skeleton_model_exports_and_predicts_from_skeleton_columns_only(tmp_path):
    from automl_har.cli.main import app
    from automl_har.export import read_config

    workdir, out = tmp_path / "ws", tmp_path / "bundle"
    tiny = [arg for k, v in {**TINY, "pretrain_epochs": 1, "finetune_epochs": 1}.items()
            for arg in ("--param", f"{k}={v}")]
    result = CliRunner().invoke(app, ["search", "--method", "mesen", "--preset", "mesen-utd", "--param", "modality=skeleton",
                                      *tiny, "--data-dir", str(UTD_DIR), "--trials", "1", "--repeats", "1",
                                      "--study", "skel", "--quiet", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["export", "skel", "--workdir", str(workdir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = read_config(out)
    assert list(config["modalities"]) == ["skeleton"]
    channels, rate = config["modalities"]["skeleton"]["channels"], float(config["modalities"]["skeleton"]["rate_hz"])
    n = int(6 * rate)
    rng = np.random.default_rng(0)
    pd.DataFrame({"timestamp": np.arange(n) / rate, **{c: rng.standard_normal(n) for c in channels}}).to_csv(
        tmp_path / "skeleton.csv", index=False)
    result = CliRunner().invoke(app, ["predict", str(out), str(tmp_path / "skeleton.csv"), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "p.csv")
    assert len(rows) > 0 and set(rows["class"]) <= set(config["classes"])
