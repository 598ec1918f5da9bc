"""The replay of ``benchmarks/method_selection_replay.py``: how many methods the halving keeps after rung 0,
replayed over recorded per-method searches (issue 34, item 4)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from method_selection_replay import method_stream, replay_seconds, trial_costs  # noqa: E402 - a script


def _curve(*points: tuple[float, float]) -> list[dict]:
    return [{"seconds": seconds, "value": value} for seconds, value in points]


def test_a_trial_costs_the_time_since_the_previous_completion():
    assert trial_costs(_curve((10, 0.3), (25, 0.5), (45, 0.4))) == [(10, 0.3), (15, 0.5), (20, 0.4)]
    assert trial_costs(_curve((10, 0.3), (25, 0.5)), skip_first=True) == [(15, 0.5)]


def test_a_methods_stream_is_its_other_seeds_searches_without_the_second_defaults_trial():
    by_seed = {"0": _curve((5, 0.1)), "1": _curve((10, 0.2), (30, 0.6)), "2": _curve((8, 0.3), (20, 0.7))}
    assert method_stream(by_seed, "0") == [(10, 0.2), (20, 0.6), (12, 0.7)]
    assert method_stream(by_seed, "2") == [(5, 0.1), (20, 0.6)]


def test_keeping_one_method_gives_the_leader_every_trial_after_rung_0():
    streams = {"good": [(10, 0.5), (10, 0.6), (10, 0.7), (10, 0.8)], "poor": [(10, 0.2), (10, 0.3), (10, 0.4)]}
    # rung 0: good, good, poor, poor (40 s); then good alone: 0.7 at 50 s, 0.8 at 60 s
    assert replay_seconds(streams, 0.8, keep=1) == 60
    # kept both, taking turns: good's 0.7 (50 s), poor's third trial (60 s), good's 0.8 (70 s)
    assert replay_seconds(streams, 0.8, keep=2) == 70
    assert replay_seconds(streams, 0.8, keep=1, time_s=55) is None
    assert replay_seconds(streams, 0.95, keep=1) is None
