"""The static catalog (``automl_har/catalog.py``) says what the registries say."""

from __future__ import annotations

from automl_har import _catalog_data, catalog


def test_catalog_matches_the_method_space_and_dataset_registries():
    methods, datasets = catalog.entries_from_registries()
    hint = f"the catalog is out of date; run `{catalog.REFRESH_COMMAND}` and commit automl_har/_catalog_data.py"
    assert _catalog_data.METHODS == methods, hint
    assert _catalog_data.DATASETS == datasets, hint
    assert catalog.render_data_module(methods, datasets) == catalog.DATA_FILE.read_text(), hint


def test_dataset_folders_agree_with_the_registry_statuses(tmp_path):
    from automl_har.data.registry import dataset_statuses

    (tmp_path / "daphnet" / "dataset").mkdir(parents=True)
    (tmp_path / "daphnet" / "dataset" / "S01R01.txt").write_text("0 1 2 3 4 5 6 7 8 9 1\n")
    expected = [(s.entry.name, s.looks_in, s.found, s.detail) for s in dataset_statuses(tmp_path)]
    assert [(f.card.name, f.looks_in, f.found, f.detail) for f in catalog.dataset_folders(tmp_path)] == expected
    assert dict((name, found) for name, _, found, _ in expected)["daphnet"]


def test_method_choices_and_tags_come_from_the_catalog():
    from automl_har.cli._common import method_enum
    from automl_har.methods import method_names, methods_with_tag

    assert [m.value for m in method_enum()] == method_names() == catalog.method_names()
    assert catalog.methods_with_tag("image_pretraining") == methods_with_tag("image_pretraining")
