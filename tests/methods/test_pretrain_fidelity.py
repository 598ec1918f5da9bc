"""Pre-training epochs as a fidelity: truncated trajectories and resumable checkpoints (issue 16, item 2)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from automl_har.cache import StageCache, cache_key
from automl_har.errors import ConfigError
from automl_har.methods import MethodContext, get_method
from automl_har.methods._pretraining import PretrainSettings, pretrain_loop, truncated_epochs
from automl_har.methods._schedules import WarmupCosine

EPOCHS = 6  # fractions 1/3 and 2/3 stop after 2 and 4 epochs
SETTINGS = PretrainSettings(epochs=EPOCHS, batch_size=4, lr=0.05, schedule=WarmupCosine(warmup=0.3, start=0.1))
PARTS = {"data": "toy", "lr": 0.05}
STEPS_PER_EPOCH = 2  # 10 rows, batch 4, full batches only


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1))  # dropout: global RNG


def _data() -> torch.Tensor:
    return torch.randn(10, 4, generator=torch.Generator().manual_seed(3))


def _step(calls: list | None = None):
    def step(model, batch, generator):
        if calls is not None:
            calls.append(1)
        target = torch.rand(len(batch), 1, generator=generator)  # the step's own randomness
        return ((model(batch) - target) ** 2).mean()

    return step


def _ctx(cache: StageCache | None, fraction: float = 1.0, checkpoints: tuple[float, ...] = (), **kwargs) -> MethodContext:
    return MethodContext(seed=5, cache=cache, pretrain_fraction=fraction, checkpoint_fractions=checkpoints, **kwargs)


def _stage(ctx: MethodContext, calls: list | None = None) -> dict:
    def compute() -> dict:
        model, history = pretrain_loop(_net, _data(), _step(calls), SETTINGS, ctx)
        return {"state": model.state_dict(), "history": history}

    return ctx.cached("toy", PARTS, compute)


def _assert_identical(a: dict, b: dict) -> None:
    assert a["state"].keys() == b["state"].keys()
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    assert a["history"] == b["history"]


def _checkpoint_epochs(cache: StageCache) -> list[int]:
    return sorted(int(k.rsplit("-epoch", 1)[1]) for k in cache.keys("toy.checkpoints"))


def test_a_longer_run_continues_from_the_shorter_one_bit_identically(tmp_path):
    cache, tags = StageCache(tmp_path / "a"), {}
    short = _stage(_ctx(cache, 1 / 3, (1 / 3, 2 / 3)))
    assert len(short["history"]["pretrain_loss"]) == 2 and _checkpoint_epochs(cache) == [2]  # 2/3 not passed
    resumed = _stage(_ctx(cache, 1.0, (1 / 3, 2 / 3), tag_logger=tags.__setitem__))
    assert tags["pretrain.resumed_from_epoch"] == str(round(EPOCHS / 3))
    assert _checkpoint_epochs(cache) == [2, 4]  # the whole trajectory's end is no checkpoint: no run is longer
    fresh_tags: dict = {}
    fresh = _stage(_ctx(StageCache(tmp_path / "b"), tag_logger=fresh_tags.__setitem__))
    assert "pretrain.resumed_from_epoch" not in fresh_tags
    _assert_identical(resumed, fresh)
    assert fresh["history"]["pretrain_loss"][:2] == short["history"]["pretrain_loss"]


def test_the_resumed_run_trains_only_the_epochs_after_the_longest_checkpoint(tmp_path):
    cache = StageCache(tmp_path)
    _stage(_ctx(cache, 2 / 3, (1 / 3, 2 / 3)))  # stores epochs 2 and 4
    calls, logged = [], []
    ctx = _ctx(cache, 1.0, metric_logger=lambda metrics, step: logged.append(step))
    result = _stage(ctx, calls)
    assert len(calls) == (EPOCHS - 4) * STEPS_PER_EPOCH  # without continuation: 6 epochs of steps
    assert logged == [4, 5]  # resumed epochs are not logged again ...
    assert len(result["history"]["pretrain_loss"]) == EPOCHS  # ... but the history is complete


def test_without_a_cache_a_fraction_truncates_and_nothing_is_stored(tmp_path):
    calls: list = []
    _, history = pretrain_loop(_net, _data(), _step(calls), SETTINGS, _ctx(None, 0.5, (0.25, 0.5)))
    assert len(history["pretrain_loss"]) == 3 and len(calls) == 3 * STEPS_PER_EPOCH
    assert not any(tmp_path.iterdir())


def test_truncated_epochs_rounds_and_keeps_at_least_one():
    assert [truncated_epochs(f, 6) for f in (0.01, 1 / 3, 0.5, 2 / 3, 1.0)] == [1, 2, 3, 4, 6]
    assert truncated_epochs(0.5, 0) == 0  # no pre-training stays none


@pytest.mark.parametrize("kwargs", [{"pretrain_fraction": 0.0}, {"pretrain_fraction": 1.5},
                                    {"pretrain_fraction": float("nan")}, {"checkpoint_fractions": (0.5, -0.1)}])
def test_a_fraction_outside_0_1_is_a_one_line_error(kwargs):
    with pytest.raises(ConfigError, match=r"must be in \(0, 1\], but got .*; give a fraction") as error:
        MethodContext(**kwargs)
    assert "\n" not in str(error.value)


def test_the_key_holds_the_fraction_only_below_one_and_the_loop_sees_the_fraction_free_key(tmp_path):
    cache, tags, seen = StageCache(tmp_path), {}, []
    whole = cache_key("toy", PARTS)
    for fraction in (1.0, 0.5):
        ctx = _ctx(cache, fraction, tag_logger=tags.__setitem__)
        ctx.cached("toy", PARTS, lambda: seen.append(ctx.stage_in_progress) or 1)
        assert ctx.stage_in_progress is None
        expected = whole if fraction == 1.0 else cache_key("toy", {**PARTS, "pretrain_fraction": 0.5})
        assert tags["cache_key.toy"] == expected and tags["cache.toy"] == "miss"
    assert tags["cache_key.toy"] != whole  # fraction 0.5: its own entry
    assert seen == [("toy", whole)] * 2

    def fails():
        raise RuntimeError("boom")

    ctx = _ctx(cache, 0.5)
    with pytest.raises(RuntimeError):
        ctx.cached("other", PARTS, fails)
    assert ctx.stage_in_progress is None  # restored on error too


def test_the_schedule_spans_the_whole_trajectory(monkeypatch):
    import automl_har.methods._pretraining as loop_module

    made: list = []
    original = loop_module.make_optimizer
    monkeypatch.setattr(loop_module, "make_optimizer", lambda *a, **k: made.append(original(*a, **k)) or made[-1])

    def lrs(fraction: float) -> list[float]:
        seen: list[float] = []

        def probe(model, batch, generator):
            seen.append(made[-1].param_groups[0]["lr"])
            return model(batch).pow(2).mean()

        pretrain_loop(_net, _data(), probe, SETTINGS, _ctx(None, fraction))
        return seen + [made[-1].param_groups[0]["lr"]]  # and the lr the next step would use

    truncated, full = lrs(1 / 3), lrs(1.0)
    steps = 2 * STEPS_PER_EPOCH
    assert len(truncated) == steps + 1 and truncated == full[: steps + 1]
    assert full[steps] == pytest.approx(SETTINGS.lr * SETTINGS.schedule(steps / (EPOCHS * STEPS_PER_EPOCH)))


def test_maskcae_continues_a_half_pre_training_bit_identically(tiny_windows, tmp_path):
    method = get_method("maskcae")
    params = method.parse_params({**method.tiny_params, "pretrain_epochs": 4})
    train = tiny_windows[torch.arange(0, 60).numpy()]
    cache, tags = StageCache(tmp_path / "a"), {}
    half = method.pretrain(train, params, _ctx(cache, 0.5, (0.5,)))
    assert len(half["pretrain_loss"]) == 2
    resumed = method.pretrain(train, params, _ctx(cache, 1.0, (0.5,), tag_logger=tags.__setitem__))
    assert tags["pretrain.resumed_from_epoch"] == "2" and tags["cache.maskcae_pretrain"] == "miss"
    fresh = method.pretrain(train, params, _ctx(StageCache(tmp_path / "b")))
    assert resumed["pretrain_loss"] == fresh["pretrain_loss"] and len(fresh["pretrain_loss"]) == 4
    assert all(torch.equal(resumed["encoder"][k], fresh["encoder"][k]) for k in fresh["encoder"])


def test_trial_hooks_set_the_fraction_of_the_trials_pre_training_only(tmp_path, monkeypatch):
    from automl_har.data.registry import WindowOptions
    from automl_har.objectives import run_trial
    from automl_har.objectives._trial import TrialHooks
    from automl_har.objectives.protocol import ExperimentSpec, Protocol

    method = type(get_method("maskcae"))
    fractions: dict[str, float] = {}

    def recording(name: str):
        original = getattr(method, name)

        def wrapper(self, *args):
            fractions[name] = args[-1].pretrain_fraction  # the context is the last argument
            return original(self, *args)

        return wrapper

    for name in ("pretrain", "finetune"):
        monkeypatch.setattr(method, name, recording(name))
    spec = ExperimentSpec(method="maskcae", dataset="synthetic", window=WindowOptions(window_s=1.0, rate_hz=16.0),
                          protocol=Protocol(labels_per_class=5, repeats=1), budget=1.0)
    steps: list[int] = []
    hooks = TrialHooks(cache=StageCache(tmp_path), pretrain_fraction=0.5, checkpoint_fractions=(0.5,),
                       log_metrics=lambda metrics, step: "pretrain_loss/pretrain" in metrics and steps.append(step))
    run_trial({**method.tiny_params, "pretrain_epochs": 4, "pretrain_batch_size": 128}, spec, hooks)
    assert steps == [0, 1] and fractions == {"pretrain": 0.5, "finetune": 1.0}
    assert len(StageCache(tmp_path).keys("maskcae_pretrain.checkpoints")) == 1
