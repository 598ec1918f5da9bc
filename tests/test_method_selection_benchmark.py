"""The arithmetic of ``benchmarks/method_selection.py`` (issue 34, item 4): what it reports as auto's time
and as the floor any selector has (the searches themselves are the benchmark's, not a unit test's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from method_selection import (  # noqa: E402 - a script, not a package
    earlier_references, first_within, last_line, perfect_selector_seconds,
)


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


def _report(tmp_path: Path, time_s: float = 600.0, budget: float = 0.02) -> Path:
    curves = {"supervised": _curve((3, 0.4)), "cosmo": _curve((20, 0.5), (45, 0.8))}
    report = {"time_s": time_s, "budget": budget, "datasets": {"watch": {"seeds": {"0": {"reference_curves": curves}}}}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def test_references_are_taken_from_an_earlier_report_of_the_same_time_and_budget(tmp_path):
    earlier = earlier_references(_report(tmp_path), 600.0, 0.02)
    assert earlier["watch"]["0"]["cosmo"] == _curve((20, 0.5), (45, 0.8))
    assert earlier_references(None, 600.0, 0.02) == {}


@pytest.mark.parametrize("time_s, budget", [(300.0, 0.02), (600.0, 0.05)])
def test_references_of_another_time_or_budget_are_refused(tmp_path, time_s, budget):
    with pytest.raises(SystemExit, match=r"^error: --references .* ran --time 600.0 --budget 0.02"):
        earlier_references(_report(tmp_path), time_s, budget)


def test_an_unreadable_references_file_is_one_error_line(tmp_path):
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(SystemExit, match=r"^error: cannot read --references"):
        earlier_references(tmp_path / "report.json", 600.0, 0.02)
    (tmp_path / "report.json").write_text("[1, 2]")
    with pytest.raises(SystemExit, match=r"^error: --references .* is not a report of this benchmark"):
        earlier_references(tmp_path / "report.json", 600.0, 0.02)


def test_a_failed_search_is_reported_as_autohars_own_error_line_else_what_failed():
    failed = subprocess.CompletedProcess([], 2, stdout="", stderr="progress\nerror: dataset 'utd-mhad': folder /x does not exist; pass --data-dir\n")
    assert last_line(failed, "the dry run") == "error: dataset 'utd-mhad': folder /x does not exist; pass --data-dir"
    crashed = subprocess.CompletedProcess([], -9, stdout="trial 3\n", stderr="")
    assert last_line(crashed, "the search of auto") == "error: the search of auto exited -9: trial 3"
