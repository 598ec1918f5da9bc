"""The shared method suite's deployment check: search -> export -> predict for every registered
method, each bundle fed a recording with only the modalities its model reads (issue 11, item 2)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.data import WindowedData
from automl_har.data.loaders.synthetic import write_synthetic_domains
from automl_har.data.registry import WindowOptions
from automl_har.data.splits import Standardizer
from automl_har.engines import SearchSpec
from automl_har.export import BundleModel, read_config, read_recording, recording_windows
from automl_har.export._study import load_study, select_trial, trial_checkpoint
from automl_har.methods import get_method, method_names
from automl_har.objectives import ExperimentSpec, Protocol, load_model
from automl_har.workspace import Workspace

#: (case, method, extra params, the modalities the model must read) on the synthetic acc + gyro data
# (img2imu reads its tri-axial sensor; mesen deploys one modality group: the first, acc, by default)
READS_FEWER = {"img2imu": ("acc",), "mesen": ("acc",)}
CASES = [(name, name, {}, READS_FEWER.get(name, ("acc", "gyro"))) for name in method_names()]
CASES.append(("cosmo-m2u", "cosmo", {"mode": "m2u", "m2u_modality": "gyro"}, ("gyro",)))  # skeleton-only in UTD
CASES.append(("cosmo-gru", "cosmo", {"gru_layers": 2}, ("acc", "gyro")))  # the default encoders' GRU traces too
CASES.append(("mesen-gyro", "mesen", {"modality": "gyro"}, ("gyro",)))  # pre-trained on both, deploys gyro alone
CASES.append(("mesen-cosmo-encoders", "mesen", {"encoder": "cosmo"}, ("acc",)))


def test_the_methods_that_read_fewer_modalities_are_registered_methods():
    # CASES has one case per registered method by construction; what can go stale is this table
    assert set(READS_FEWER) <= set(method_names())


@pytest.mark.parametrize(("case", "method", "extra", "reads"), CASES, ids=[c[0] for c in CASES])
def test_search_export_predict_with_only_the_models_modalities(case, method, extra, reads, tmp_path):
    from automl_har.engines.optuna import search

    experiment = ExperimentSpec(method=method, dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=25.0),
                                protocol=Protocol(labels_per_class=3, repeats=1), budget=1.0, device="cpu")
    if get_method(method).tags.get("pretraining_data") == "labeled_sources":  # combined: a pool of three domains
        target, *sources = (str(p) for p in write_synthetic_domains(tmp_path / "pool", window_s=1.0, n_windows=120))
        experiment = dataclasses.replace(experiment, dataset=target, sources=tuple(sources), label_map="identity")
    spec = SearchSpec(experiment=experiment, workspace=Workspace.resolve(tmp_path / "ws"), study_name=case,
                      n_trials=1, fixed_params={**get_method(method).tiny_params, **extra}, pruner="none")
    search(spec)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["export", case, "--workdir", str(spec.workspace.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = read_config(out)
    assert tuple(config["modalities"]) == reads
    assert set(config["normalization"]["means"]) == set(reads)

    # a recording with only the model's channels: 6 s at the bundle's rate
    rng = np.random.default_rng(0)
    channels = [c for m in reads for c in config["modalities"][m]["channels"]]
    n = 6 * 25
    table = pd.DataFrame({"timestamp": np.arange(n) / 25.0, **{c: rng.standard_normal(n) for c in channels}})
    table.to_csv(tmp_path / "rec.csv", index=False)
    predictions = tmp_path / "pred.csv"
    result = CliRunner().invoke(app, ["predict", str(out), str(tmp_path / "rec.csv"), "--out", str(predictions)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(predictions)
    assert len(rows) > 0 and set(rows["class"]) <= set(config["classes"])

    # the bundle gives the in-process model's logits on the same windows
    windows, _ = recording_windows(read_recording(tmp_path / "rec.csv"), config, source="rec.csv")
    study, _ = load_study(case, [spec.storage_url])
    checkpoint, _, _ = trial_checkpoint(spec, select_trial(study))
    model = load_model(checkpoint)
    assert model.modalities == reads
    k = len(next(iter(windows.values())))
    data = WindowedData(windows, np.zeros(k, np.int64), np.zeros(k, np.int64), list(config["classes"]),
                        {m: float(config["modalities"][m]["rate_hz"]) for m in reads},
                        {m: list(config["modalities"][m]["channels"]) for m in reads})
    expected = get_method(method).predict(model, Standardizer.from_dict(config["normalization"]).transform(data))
    np.testing.assert_allclose(BundleModel(out).logits(windows), expected, rtol=1e-3, atol=1e-4)

    # a channel of a modality the model reads is still required, with a one-line error naming it
    table.drop(columns=[channels[0]]).to_csv(tmp_path / "lacking.csv", index=False)
    result = CliRunner().invoke(app, ["predict", str(out), str(tmp_path / "lacking.csv")])
    assert result.exit_code != 0 and f"lacks channels {channels[0]}" in result.output
