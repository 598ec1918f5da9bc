"""Protocol presets: named layers of the experiment schema; lookup, precedence, valid specs, and the
cosmo-utd split on real data."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from automl_har.config import Layer, experiment_spec, resolve
from automl_har.errors import UnknownNameError
from automl_har.objectives import ExperimentSpec, prepare_data
from automl_har.config.presets import PRESETS, get_preset

UTD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "utd_mhad"
needs_utd = pytest.mark.skipif(not (UTD_DIR / "Inertial").is_dir(), reason=f"UTD-MHAD not found at {UTD_DIR}")


def preset_experiment(name: str, method: str, **options) -> ExperimentSpec:
    """The experiment of ``--preset name`` with ``options`` typed on top, through the search's layers."""
    return experiment_spec(resolve(Layer("options", {"method": method, "preset": name, **options})), "cpu")


def test_presets_are_listed_and_read_only():
    assert {"cosmo-utd", "cosmo-watch", "mesen-utd", "combined-lodo"} <= set(PRESETS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["cosmo-utd"].name = "watch"
    with pytest.raises(TypeError):
        PRESETS["cosmo-utd"].section("protocol")["labels_per_class"] = 5


def test_unknown_preset_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown preset 'cosmo-usc'; choose one of combined-lodo, cosmo-utd, cosmo-watch, mesen-utd"):
        get_preset("cosmo-usc")


def test_cosmo_utd_is_the_papers_protocol_and_what_a_user_types_wins():
    spec = preset_experiment("cosmo-utd", "cosmo")
    p = spec.protocol
    assert (spec.dataset, spec.modalities) == ("utd-mhad", ("acc", "gyro", "skeleton"))
    assert (p.val_subjects, p.test_subjects, p.labels_per_class, p.split) == ((6,), (7, 8), 1, "subjects")
    typed = preset_experiment("cosmo-utd", "cosmo", protocol={"labels_per_class": 3, "repeats": 2})
    assert (typed.protocol.labels_per_class, typed.protocol.repeats, typed.protocol.test_subjects) == (3, 2, (7, 8))


def test_a_typed_label_ratio_replaces_a_presets_labels_per_class_and_the_reverse():
    ratio = preset_experiment("cosmo-utd", "cosmo", protocol={"label_ratio": 0.1})
    assert (ratio.protocol.label_ratio, ratio.protocol.labels_per_class) == (0.1, None)
    count = preset_experiment("combined-lodo", "combined", data={"dataset": "uci-har"}, protocol={"labels_per_class": 2})
    assert (count.protocol.label_ratio, count.protocol.labels_per_class) == (None, 2)


#: the single-dataset presets; a pool preset (combined-lodo) is tested in tests/cli/test_pool_cli.py
SINGLE_DATASET = sorted(name for name, preset in PRESETS.items() if not preset.section("data").get("datasets"))


@pytest.mark.parametrize("name", SINGLE_DATASET)
def test_every_preset_builds_a_valid_experiment_spec(name):
    preset = get_preset(name)
    spec = preset_experiment(name, "cosmo", protocol={"repeats": 2}, search={"budget": 0.1}, data={"data_dir": "/tmp/x"})
    data, protocol = preset.section("data"), preset.section("protocol")
    assert (spec.method, spec.dataset, spec.modalities, spec.budget) == ("cosmo", data["dataset"], data["modalities"], 0.1)
    assert spec.protocol.val_subjects == protocol["val_subjects"] and spec.protocol.test_subjects == protocol["test_subjects"]
    assert spec.protocol.labels_per_class == protocol["labels_per_class"] and spec.protocol.repeats == 2


def test_modality_groups_go_only_to_methods_that_have_them():
    assert resolve(Layer("options", {"method": "cosmo", "preset": "cosmo-utd"})).params == {
        "modality_groups": "acc+gyro,skeleton"}
    assert resolve(Layer("options", {"method": "supervised", "preset": "cosmo-utd"})).params == {}


@needs_utd
def test_cosmo_utd_splits_the_real_data_as_the_paper():
    spec = preset_experiment("cosmo-utd", "cosmo", data={"data_dir": str(UTD_DIR)}, protocol={"repeats": 1})
    data = prepare_data(spec)
    assert set(np.unique(data.train.subject)) == {1, 2, 3, 4, 5}
    assert set(np.unique(data.val.subject)) == {6} and set(np.unique(data.test.subject)) == {7, 8}
    labeled = data.train[data.labeled_draw(spec.protocol, 0)]
    assert len(labeled) == 27 and len(set(labeled.y)) == 27  # one trial per class
    from automl_har.methods._cosmo_fusion import encoder_kind, resolve_groups

    groups = resolve_groups(data.train, get_preset("cosmo-utd").section("params")["modality_groups"])
    assert groups == resolve_groups(data.train, "auto") == {"acc+gyro": ["acc", "gyro"], "skeleton": ["skeleton"]}
    assert [encoder_kind(m, sum(data.train.modalities[x].shape[2] for x in m)) for m in groups.values()] == [
        "inertial", "skeleton"]


@pytest.mark.skipif(importlib.util.find_spec("seglearn") is None, reason="the watch dataset ships with seglearn")
def test_cosmo_watch_groups_acc_against_gyro():
    spec = preset_experiment("cosmo-watch", "cosmo", protocol={"repeats": 1})
    data = prepare_data(spec)
    assert set(np.unique(data.test.subject)) == {9, 10} and set(np.unique(data.val.subject)) == {8}
    from automl_har.methods._cosmo_fusion import resolve_groups

    groups = get_preset("cosmo-watch").section("params")["modality_groups"]
    assert resolve_groups(data.train, groups) == {"acc": ["acc"], "gyro": ["gyro"]}
