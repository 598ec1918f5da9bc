"""The experiment configuration: one schema validated in one place (errors name the field's path),
layers in one order, a YAML file that re-runs a study, and ``--dry-run``."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.config import Layer, load_config_file, resolve, search_spec
from automl_har.errors import ConfigError
from automl_har.storage import open_storage
from automl_har.workspace import Workspace

DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "experiment.yaml"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("method: supervised\nprotocol: {labels_per_class: 0}\n",
     "protocol.labels_per_class (--labels-per-class): must be >= 1, but got 0 (in exp.yaml)"),
    ("method: supervised\nprotocol: {repeats: true}\n", "protocol.repeats (--repeats): Input should be a valid integer"),
    ("method: supervised\nsearch: {budget: '0.5'}\n", "search.budget (--budget): Input should be a valid number"),
    ("method: supervised\nsearch: {trial: 3}\n", "search.trial: unknown field; the fields of search are study, trials,"),
    ("method: supervised\nprotcol: {}\n", "protcol: unknown field; the fields of the file are method, methods, preset, params"),
    ("method: supervised\nsearch: {sampler: annealing}\n", "search.sampler (--sampler): must be one of tpe, random"),
    ("method: supervised\ndata: {window: {overlap: 1}}\n", "data.window.overlap (--overlap): must be in [0, 1), but got 1"),
    ("method: supervised\nprotocol: {labels_per_class: 2, label_ratio: 0.1}\n",
     "protocol.labels_per_class and protocol.label_ratio are both set (exp.yaml); give either --labels-per-class or"),
    ("method: [supervised\n", "is not valid YAML at line"),
    ("- supervised\n", "holds a list, not a mapping of sections"),
    ("protocol: {repeats: 2}\n", "method: missing; give --method NAME"),
    ("method: nomethod\n", "unknown method 'nomethod'; choose one of"),
])
def test_a_bad_config_file_is_one_line_naming_the_field_and_records_nothing(tmp_path, text, message):
    result = run("search", "--config", write(tmp_path, text), "--dataset", "synthetic", "--workdir", tmp_path / "ws")
    assert message in one_line_error(result)
    assert not (tmp_path / "ws").exists()


def test_a_missing_config_file_says_how_to_make_one(tmp_path):
    assert "autohar show STUDY --config" in one_line_error(run("search", "--config", tmp_path / "none.yaml"))


def test_the_layers_apply_in_order_defaults_tags_preset_file_options(tmp_path):
    # the schema's defaults
    plain = resolve(Layer("options", {"method": "supervised", "data": {"dataset": "synthetic"}}))
    assert (plain.protocol.repeats, plain.search.trials, plain.data.normalization) == (3, 20, "channel")
    # the method's tags: combined normalizes per sensor and windows a pool at 2.56 s, 50 Hz
    tagged = resolve(Layer("options", {"method": "combined", "data": {"datasets": ["a", "b"], "dataset": "a"}}))
    assert (tagged.data.normalization, tagged.data.window.window_s, tagged.data.window.rate_hz) == ("sensor", 2.56, 50.0)
    # a preset over the tags (combined-lodo says sensor too), a file over the preset, options over the file
    file = load_config_file(write(tmp_path, "method: cosmo\npreset: cosmo-utd\nprotocol: {labels_per_class: 3, repeats: 4}\n"))
    layered = resolve(file)
    assert (layered.data.dataset, layered.protocol.labels_per_class, layered.protocol.repeats) == ("utd-mhad", 3, 4)
    assert layered.protocol.test_subjects == [7, 8]  # from the preset, untouched by the file
    typed = resolve(file, Layer("options", {"protocol": {"labels_per_class": 5}, "params": {"encoder_lr_scale": 0.5}}))
    assert (typed.protocol.labels_per_class, typed.protocol.repeats) == (5, 4)
    assert typed.params == {"modality_groups": "acc+gyro,skeleton", "encoder_lr_scale": 0.5}  # preset's + typed


def test_the_schema_checks_with_the_same_range_declarations_as_the_methods():
    from automl_har.config.schema import ProtocolSection
    from automl_har.ranges import Range

    metadata = ProtocolSection.model_fields["labels_per_class"].metadata
    assert any(getattr(m.func, "__closure__", None) and any(isinstance(c.cell_contents, Range) for c in m.func.__closure__)
               for m in metadata)
    with pytest.raises(ConfigError, match=r"protocol.val_fraction \(--val-fraction\): must be in \(0, 1\), but got 1.0"):
        resolve(Layer("f", {"method": "supervised", "protocol": {"val_fraction": 1.0}}))


def test_the_documented_example_is_a_valid_experiment():
    config = resolve(load_config_file(DOCS_EXAMPLE))
    spec = search_spec(config)
    assert (spec.experiment.method, spec.experiment.dataset, spec.n_trials, spec.fixed_params) == (
        "supervised", "watch", 20, {"epochs": 50})


def test_dry_run_prints_the_config_the_space_with_trial_0_and_the_parts_and_records_nothing(tmp_path):
    result = run("search", "-m", "supervised", "-d", "synthetic", "--param", "epochs=3", "--dry-run",
                 "--workdir", tmp_path / "ws")
    assert result.exit_code == 0, result.output
    config_text = result.output.split("\nsearch space")[0]
    printed = yaml.safe_load(config_text)
    assert printed["method"] == "supervised" and printed["params"] == {"epochs": 3}
    assert printed["search"]["study"] == "supervised-synthetic" and printed["protocol"]["labels_per_class"] == 10
    assert "lr            float [0.0001, 0.01] log; trial 0: 0.001" in result.output
    assert "fixed in every trial (params / --param): epochs=3" in result.output
    assert "fold 0: train " in result.output and "windows of subjects" in result.output
    assert not (tmp_path / "ws").exists()


@pytest.mark.slow
def test_the_yaml_of_show_config_resumes_the_same_study(tmp_path):
    ws = tmp_path / "ws"
    first = run("search", "-m", "supervised", "-d", "synthetic", "--trials", 1, "--budget", 0.02, "--repeats", 1,
                "--labels-per-class", 4, "--param", "width=16", "--workdir", ws, "-q")
    assert first.exit_code == 0, first.output
    shown = run("show", "supervised-synthetic", "--config", "--workdir", ws)
    assert shown.exit_code == 0 and shown.output.startswith("# autohar search --config FILE re-runs")
    path = tmp_path / "again.yaml"
    path.write_text(shown.output)
    again = run("search", "--config", path, "--trials", 2, "-q")
    assert again.exit_code == 0, again.output
    study = optuna.load_study(study_name="supervised-synthetic",
                              storage=open_storage(Workspace.resolve(ws).optuna_storage_url))
    assert len(study.trials) == 2 and all(t.user_attrs.get("fixed_params", {}).get("width", 16) == 16 for t in study.trials)
    # the same file with one measured field changed is another experiment: refused, in one line
    changed = run("search", "--config", path, "--labels-per-class", 5)
    assert "protocol.labels_per_class: 4 -> 5" in one_line_error(changed)
