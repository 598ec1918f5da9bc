"""Stages declared once on the Params fields: the stage cache keys and their code version (issue 11, item 5)."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

import automl_har.methods._base as base_module
from automl_har.cache import StageCache
from automl_har.errors import ConfigError
from automl_har.methods import PRETRAIN, MethodContext, finetuning, get_method, method_names, pretraining, stage_names
from automl_har.methods._stages import source_closure_digest, stage_of

#: per method with pre-training: one changed fine-tuning field (must hit) and one pre-training field (must miss)
CHANGES = {
    "maskcae": ({"finetune_lr": 1e-3}, {"mask_ratio": 0.5}),
    "cosmo": ({"finetune_lr": 0.01}, {"temperature": 0.2}),
    "img2imu": ({"lr": 1e-3}, {"temperature": 0.2}),
    "mesen": ({"lambda_fr": 0.1}, {"temperature": 0.2}),
    "combined": ({"finetune_lr": 1e-3}, {"pretrain_label_smoothing": 0.0}),
}
PRETRAINING_METHODS = [n for n in method_names() if stage_names(get_method(n).Params, PRETRAIN)]
#: cached stages that read no pre-training field (statistics of the raw windows): a changed
#: pre-training field reuses them, while every other stage misses
DATA_ONLY_STAGES = {"cosmo": {"cache.cosmo_quality"}}


def _pretrain_cache_tags(name, data, cache, pretrain, changes=None):
    method = get_method(name)
    params = method.parse_params({**method.tiny_params, **(changes or {})})
    tags = {}
    ctx = MethodContext(seed=0, n_classes=data.n_classes, cache=cache, tag_logger=tags.__setitem__)
    pretrain(method, data, params, ctx)
    return {key: value for key, value in tags.items() if key.startswith("cache.")}


def test_every_method_with_pretraining_fields_is_covered_here():
    assert set(PRETRAINING_METHODS) == set(CHANGES)


@pytest.mark.parametrize("name", PRETRAINING_METHODS)
def test_finetuning_fields_reuse_the_pretraining_and_pretraining_fields_do_not(name, tiny_windows, tmp_path,
                                                                              pretrain_like_a_trial):
    finetune_change, pretrain_change = CHANGES[name]
    params_cls = get_method(name).Params
    assert all(stage_of(params_cls, k) == "finetune" for k in finetune_change)
    assert all(stage_of(params_cls, k) == "pretrain" for k in pretrain_change)
    cache = StageCache(tmp_path)
    first = _pretrain_cache_tags(name, tiny_windows, cache, pretrain_like_a_trial)
    assert first and set(first.values()) == {"miss"}
    assert set(_pretrain_cache_tags(name, tiny_windows, cache, pretrain_like_a_trial, finetune_change).values()) == {"hit"}
    changed = _pretrain_cache_tags(name, tiny_windows, cache, pretrain_like_a_trial, pretrain_change)
    data_only = DATA_ONLY_STAGES.get(name, set())
    assert {stage: tag for stage, tag in changed.items() if stage not in data_only} == \
        {stage: "miss" for stage in first if stage not in data_only}
    assert {stage: changed[stage] for stage in data_only} == {stage: "hit" for stage in data_only}


@pytest.mark.parametrize("name", PRETRAINING_METHODS)
def test_changed_method_code_never_reuses_a_cached_stage(name, tiny_windows, tmp_path, monkeypatch,
                                                         pretrain_like_a_trial):
    cache = StageCache(tmp_path)
    _pretrain_cache_tags(name, tiny_windows, cache, pretrain_like_a_trial)
    monkeypatch.setattr(base_module, "method_code_version", lambda module: "edited-" + module)
    assert set(_pretrain_cache_tags(name, tiny_windows, cache, pretrain_like_a_trial).values()) == {"miss"}


def test_code_version_covers_the_modules_a_method_imports_transitively(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "method.py").write_text("from fakepkg import helper\nfrom .net import build\n")
    (package / "helper.py").write_text("import fakepkg.deep\n")
    (package / "net.py").write_text("def build():\n    return 1\n")
    (package / "deep.py").write_text("X = 1\n")
    (package / "unrelated.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = source_closure_digest("fakepkg.method", ("fakepkg",))
    (package / "unrelated.py").write_text("Y = 2\n")
    assert source_closure_digest("fakepkg.method", ("fakepkg",)) == before  # not imported: no new version
    for edited in ("deep.py", "net.py"):
        (package / edited).write_text((package / edited).read_text() + "# edited\n")
        after = source_closure_digest("fakepkg.method", ("fakepkg",))
        assert after != before, f"an edit of {edited} kept the code version"
        before = after
    sys.modules.pop("fakepkg", None)


def test_a_field_without_a_stage_is_a_clear_error():
    @dataclasses.dataclass
    class Params:
        a: int = pretraining(1)
        b: int = finetuning(2)
        c: int = 3

    assert (stage_of(Params, "a"), stage_of(Params, "b")) == ("pretrain", "finetune")
    for stage in ("pretrain", "finetune"):  # one undeclared field and no stage can be derived
        with pytest.raises(ConfigError, match=r"Params.c declares no stage; define it with pretraining\(default\)"):
            stage_names(Params, stage)


def test_stage_values_are_what_the_cache_key_holds(tiny_windows):
    method = get_method("maskcae")
    params = method.parse_params({"mask_ratio": 0.4, "finetune_lr": 0.5})
    key = method.pretraining_key(params, "hash", MethodContext(seed=3))
    assert key["params"]["mask_ratio"] == 0.4 and "finetune_lr" not in key["params"]
    assert key["data"] == "hash" and key["seed"] == 3
    assert np.isclose(params.finetune_lr, 0.5)
