"""Protocol presets: lookup, overrides, valid ExperimentSpecs, and the cosmo-utd split on real data."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from automl_har.errors import UnknownNameError
from automl_har.methods import get_method
from automl_har.objectives import ExperimentSpec, prepare_data
from automl_har.objectives.presets import PRESETS, apply_preset, get_preset, preset_params, preset_spec

UTD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "utd_mhad"
needs_utd = pytest.mark.skipif(not (UTD_DIR / "Inertial").is_dir(), reason=f"UTD-MHAD not found at {UTD_DIR}")


def test_presets_are_listed_and_frozen():
    assert {"cosmo-utd", "cosmo-watch"} <= set(PRESETS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["cosmo-utd"].dataset = "watch"


def test_unknown_preset_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown preset 'cosmo-usc'; choose one of combined-lodo, cosmo-utd, cosmo-watch, mesen-utd"):
        get_preset("cosmo-usc")


def test_cosmo_utd_is_the_papers_protocol():
    overrides = apply_preset(get_preset("cosmo-utd"))
    assert overrides == {
        "dataset": "utd-mhad",
        "modalities": ("acc", "gyro", "skeleton"),
        "protocol": {"val_subjects": (6,), "test_subjects": (7, 8), "labels_per_class": 1, "split": "subjects"},
    }


#: the single-dataset presets; a pool preset (combined-lodo) is tested in tests/cli/test_pool_cli.py
SINGLE_DATASET = sorted(name for name, preset in PRESETS.items() if not preset.datasets)


@pytest.mark.parametrize("name", SINGLE_DATASET)
def test_every_preset_builds_a_valid_experiment_spec(name):
    preset = get_preset(name)
    spec = preset_spec(preset, "cosmo", protocol={"repeats": 2}, budget=0.1, data_dir="/tmp/x")
    assert isinstance(spec, ExperimentSpec)
    assert (spec.method, spec.dataset, spec.modalities, spec.budget) == ("cosmo", preset.dataset, preset.modalities, 0.1)
    assert spec.protocol.val_subjects == preset.val_subjects and spec.protocol.test_subjects == preset.test_subjects
    assert spec.protocol.labels_per_class == preset.labels_per_class and spec.protocol.repeats == 2
    # the keyword overrides feed ExperimentSpec / Protocol directly, as the CLI will
    overrides = apply_preset(preset)
    direct = ExperimentSpec(method="cosmo", dataset=overrides["dataset"], modalities=overrides["modalities"],
                            protocol=dataclasses.replace(spec.protocol, repeats=3, **overrides["protocol"]))
    assert direct.protocol.val_subjects == preset.val_subjects


def test_modality_groups_go_only_to_methods_that_have_them():
    preset = get_preset("cosmo-utd")
    assert preset_params(preset, "cosmo") == {"modality_groups": "acc+gyro,skeleton"}
    assert preset_params(preset, "supervised") == {}
    get_method("cosmo").parse_params(preset_params(preset, "cosmo"))


@needs_utd
def test_cosmo_utd_splits_the_real_data_as_the_paper():
    spec = preset_spec(get_preset("cosmo-utd"), "cosmo", data_dir=str(UTD_DIR), protocol={"repeats": 1})
    data = prepare_data(spec)
    assert set(np.unique(data.train.subject)) == {1, 2, 3, 4, 5}
    assert set(np.unique(data.val.subject)) == {6} and set(np.unique(data.test.subject)) == {7, 8}
    labeled = data.train[data.labeled_draw(spec.protocol, 0)]
    assert len(labeled) == 27 and len(set(labeled.y)) == 27  # one trial per class
    from automl_har.methods._cosmo_fusion import encoder_kind, resolve_groups

    groups = resolve_groups(data.train, get_preset("cosmo-utd").modality_groups)
    assert groups == resolve_groups(data.train, "auto") == {"acc+gyro": ["acc", "gyro"], "skeleton": ["skeleton"]}
    assert [encoder_kind(m, sum(data.train.modalities[x].shape[2] for x in m)) for m in groups.values()] == [
        "inertial", "skeleton"]


@pytest.mark.skipif(importlib.util.find_spec("seglearn") is None, reason="the watch dataset ships with seglearn")
def test_cosmo_watch_groups_acc_against_gyro():
    spec = preset_spec(get_preset("cosmo-watch"), "cosmo", protocol={"repeats": 1})
    data = prepare_data(spec)
    assert set(np.unique(data.test.subject)) == {9, 10} and set(np.unique(data.val.subject)) == {8}
    from automl_har.methods._cosmo_fusion import resolve_groups

    assert resolve_groups(data.train, get_preset("cosmo-watch").modality_groups) == {"acc": ["acc"], "gyro": ["gyro"]}
