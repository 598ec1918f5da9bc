"""The stage cache: content keys, atomic files, corrupt entries recomputed, hit/miss tags."""

from __future__ import annotations

import torch

from automl_har.cache import StageCache, cache_key
from automl_har.methods import MethodContext


def test_key_depends_on_content_not_dict_order():
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_get_or_compute_stores_once_then_hits(tmp_path):
    cache, calls = StageCache(tmp_path), []

    def compute():
        calls.append(1)
        return {"w": torch.ones(3)}

    first, hit1 = cache.get_or_compute("pretrain", "k1", compute)
    second, hit2 = cache.get_or_compute("pretrain", "k1", compute)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    assert torch.equal(first["w"], second["w"])
    assert list((tmp_path / "pretrain").glob("*.tmp")) == []  # no temp file left behind


def test_corrupt_entry_is_recomputed(tmp_path):
    cache = StageCache(tmp_path)
    cache.path("emb", "k").parent.mkdir(parents=True)
    cache.path("emb", "k").write_bytes(b"half a file")
    value, hit = cache.get_or_compute("emb", "k", lambda: 7)
    assert (value, hit) == (7, False)
    assert StageCache(tmp_path).get("emb", "k") == 7


def test_context_cached_tags_hit_and_miss(tmp_path):
    tags = {}
    ctx = MethodContext(cache=StageCache(tmp_path), tag_logger=tags.__setitem__)
    assert ctx.cached("pretrain", {"data": "abc", "lr": 1e-3}, lambda: 1) == 1
    key = cache_key("pretrain", {"data": "abc", "lr": 1e-3})
    assert tags == {"cache.pretrain": "miss", "cache_key.pretrain": key}
    assert ctx.cached("pretrain", {"lr": 1e-3, "data": "abc"}, lambda: 2) == 1
    assert tags == {"cache.pretrain": "hit", "cache_key.pretrain": key}
    assert MethodContext().cached("pretrain", {}, lambda: 3) == 3  # no cache: always computed
