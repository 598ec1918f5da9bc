"""search (tiny) -> export -> predict on raw recordings; TorchScript outside autohar; yaml round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.export import CONFIG_FILE, count_macs, count_parameters, read_config, write_config
from automl_har.export._bundle import experiment_from_config
from automl_har.export._study import load_study, select_trial, trial_checkpoint
from automl_har.methods import get_method
from automl_har.objectives import prepare_data
from automl_har.objectives._trial import load_model


@pytest.fixture(scope="module")
def bundle(searched, tmp_path_factory):
    spec, _ = searched
    out = tmp_path_factory.mktemp("bundle")
    result = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_bundle_has_its_files_and_the_yaml_round_trips(bundle, searched, tmp_path):
    spec, result = searched
    assert {p.name for p in bundle.iterdir()} == {"autohar.yaml", "model.pt", "MODEL.md"}
    config = read_config(bundle)
    assert config["provenance"]["trial"] == result.best_trial
    assert config["metrics"]["val_macro_f1_mean"] == pytest.approx(result.best_value)
    assert list(config["modalities"]) == ["acc", "gyro"]
    assert config["modalities"]["acc"] == {"channels": ["acc_x", "acc_y", "acc_z"], "rate_hz": 25.0, "window_length": 50}
    assert config["cost"]["n_params"] > 0 and config["cost"]["macs"] > 0 and config["cost"]["latency_ms"] > 0
    assert experiment_from_config(config) == spec.experiment
    write_config(tmp_path / CONFIG_FILE, config)
    assert read_config(tmp_path) == config == yaml.safe_load((bundle / CONFIG_FILE).read_text())
    card = (bundle / "MODEL.md").read_text()
    assert "Latency".lower() in card.lower() and f"{config['cost']['n_params']}" in card
    assert "- 2 s windows with 0.5 overlap; z-score per channel" in card and "2 seeded label draws;" in card


def test_the_model_card_reads_well_for_a_dataset_window_and_one_draw(bundle):
    from automl_har.export._card import render_card

    config = read_config(bundle)
    config["window"]["window_s"], config["experiment"]["protocol"]["repeats"] = None, 1
    card = render_card(config)
    assert "windows of the dataset's default length with 0.5 overlap" in card and "default s " not in card
    assert "1 seeded label draw;" in card


def _raw_held_out(spec, n: int):
    """The first ``n`` test windows, un-normalized, and the in-process model's classes for them."""
    data = prepare_data(spec.experiment)
    study, _ = load_study("tiny", [spec.storage_url])
    checkpoint, _, _ = trial_checkpoint(spec, select_trial(study))
    test = data.test[np.arange(n)]
    expected = get_method("supervised").predict(load_model(checkpoint), test).argmax(1)
    raw = {m: x * data.standardizer.stds[m] + data.standardizer.means[m] for m, x in test.modalities.items()}
    return raw, [test.classes[i] for i in expected]


def test_predict_on_a_csv_of_held_out_windows_matches_the_in_process_model(bundle, searched, tmp_path):
    spec, _ = searched
    raw, expected = _raw_held_out(spec, 6)
    columns = {f"{m}_{axis}": np.concatenate(list(x))[:, i] for m, x in raw.items() for i, axis in enumerate("xyz")}
    n = len(columns["acc_x"])
    pd.DataFrame({"timestamp": np.arange(n) / 25.0, **columns}).to_csv(tmp_path / "rec.csv", index=False)
    out = tmp_path / "pred.csv"
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "rec.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert list(rows.columns[:2]) == ["start_s", "class"]
    whole = rows[np.isclose(rows.start_s % 2.0, 0.0)]  # overlap 0.5: every other window is a test window
    assert whole.start_s.tolist() == [2.0 * i for i in range(6)]
    assert whole["class"].tolist() == expected
    probs = rows[[c for c in rows.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    # npz at twice the rate (given by --rate) is resampled to the bundle's 25 Hz
    np.savez(tmp_path / "rec.npz", **{k: np.repeat(v, 2) for k, v in columns.items()})
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "rec.npz"), "--rate", "50",
                                      "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "p.json").read_text())) == len(rows)


def test_predict_errors_name_missing_channels_and_short_input(bundle, tmp_path):
    table = pd.DataFrame({c: np.zeros(100) for c in ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y")})
    table.to_csv(tmp_path / "missing.csv", index=False)
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "missing.csv"), "--rate", "25"])
    assert result.exit_code != 0
    assert "lacks channels gyro_z" in result.output and "expects acc_x, acc_y, acc_z, gyro_x, gyro_y, gyro_z" in result.output
    table.assign(gyro_z=0.0).iloc[:10].to_csv(tmp_path / "short.csv", index=False)
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "short.csv"), "--rate", "25"])
    assert result.exit_code != 0 and "shorter than one window of 2 s" in result.output
    result = CliRunner().invoke(app, ["predict", str(bundle), str(tmp_path / "short.csv")])
    assert result.exit_code != 0 and "--rate" in result.output


def test_torchscript_runs_in_a_process_that_imports_only_torch(bundle):
    shapes = read_config(bundle)["model"]["input_shapes"]
    code = (
        "import sys, torch\n"
        f"m = torch.jit.load({str(bundle / 'model.pt')!r})\n"
        f"out = m(*[torch.randn(3, *s[1:]) for s in {shapes!r}])\n"
        "assert not any(k.startswith('automl_har') for k in sys.modules), 'autohar was imported'\n"
        "print(tuple(out.shape))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 4)"


def test_macs_and_parameters_are_counted_exactly():
    net = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 5), torch.nn.Flatten(), torch.nn.Linear(4 * 16, 2))
    x = torch.zeros(2, 3, 20)
    assert count_parameters(net) == 3 * 4 * 5 + 4 + 64 * 2 + 2
    assert count_macs(net, (x,)) == 4 * 16 * 3 * 5 + 64 * 2  # per window, whatever the batch


def test_onnx_without_the_package_is_one_line_error(searched, tmp_path):
    try:
        import onnx  # noqa: F401
    except ImportError:
        spec, _ = searched
        result = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out",
                                          str(tmp_path / "b"), "--format", "onnx"])
        assert result.exit_code != 0 and 'pip install -e ".[onnx]"' in result.output
        return
    pytest.skip("onnx is installed; see test_onnx_export")


def test_onnx_export(searched, tmp_path):
    pytest.importorskip("onnx")
    spec, _ = searched
    result = CliRunner().invoke(app, ["export", "tiny", "--workdir", str(spec.workspace.root), "--out",
                                      str(tmp_path / "b"), "--format", "both"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b" / "model.onnx").is_file() and (tmp_path / "b" / "model.pt").is_file()
