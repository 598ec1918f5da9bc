"""The arithmetic of ``benchmarks/method_selection.py`` (issue 34, item 4): what it reports as auto's time
and as the floor any selector has (the searches themselves are the benchmark's, not a unit test's)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from method_selection import first_within, perfect_selector_seconds  # noqa: E402 - a script, not a package


def _curve(*points: tuple[float, float]) -> list[dict]:
    return [{"seconds": seconds, "value": value} for seconds, value in points]


def test_auto_time_is_the_first_trial_within_the_tolerance_of_the_reference_best():
    curve = _curve((10, 0.5), (20, 0.695), (30, 0.8))
    assert first_within(curve, 0.70, 0.01) == 20
    assert first_within(curve, 0.85, 0.01) is None


def test_a_perfect_selector_runs_the_other_seeds_searches_of_the_best_method_one_after_the_other():
    first, second = _curve((50, 0.6), (190, 0.7)), _curve((40, 0.65), (90, 0.78))
    assert perfect_selector_seconds(0.70, [first, second], 0.01) == 190
    assert perfect_selector_seconds(0.78, [first, second], 0.01) == 190 + 90  # the first search's time is paid
    assert perfect_selector_seconds(0.90, [first, second], 0.01) is None
