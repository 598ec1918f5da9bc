"""``automl_har.storage``: the SQLite study list read with sqlite3 equals what Optuna reports."""

from __future__ import annotations

import math
import sqlite3

import optuna
import pytest
from optuna.trial import TrialState

from automl_har import storage
from automl_har.errors import ConfigError
from automl_har.storage import StudyListing, journal_url, list_studies


@pytest.fixture()
def sqlite_url(tmp_path):
    """A SQLite storage with the cases the list must get right."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    up = optuna.create_study(study_name="up", storage=url, direction="maximize")
    up.set_user_attr("method", "supervised")
    up.set_user_attr("dataset", "synthetic")
    up.set_user_attr("nested", {"a": [1, 2]})
    for value in (0.5, 0.7, 0.7, float("-inf")):  # a tie: the first of equal values is the best
        up.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=value))
    up.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    up.enqueue_trial({})
    up.enqueue_trial({})
    up.ask()  # one RUNNING, one still WAITING: both count as trials
    down = optuna.create_study(study_name="down", storage=url, direction="minimize")
    for value in (3.0, float("inf"), 1.0, 2.0):
        down.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=value))
    both = optuna.create_study(study_name="pareto", storage=url, directions=["maximize", "minimize"])
    both.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[0.5, 3.0]))
    optuna.create_study(study_name="empty", storage=url)
    pruned = optuna.create_study(study_name="pruned", storage=url, direction="maximize")
    pruned.add_trial(optuna.trial.create_trial(state=TrialState.PRUNED))
    return url


def _by_name(listed: list[StudyListing]) -> dict[str, StudyListing]:
    return {s.name: s for s in listed}


def test_the_sqlite_reader_lists_what_optuna_reports(sqlite_url):
    read = storage._list_sqlite_studies(sqlite_url)
    assert read is not None, "the reader did not recognise a file written by the installed Optuna"
    assert _by_name(read) == _by_name(storage._list_through_optuna(sqlite_url))
    up, down = _by_name(read)["up"], _by_name(read)["down"]
    assert (up.n_trials, up.best_value, up.best_trial, up.user_attrs["nested"]) == (7, 0.7, 1, {"a": [1, 2]})
    assert (down.best_value, down.best_trial) == (1.0, 2)
    assert _by_name(read)["pareto"].best_trial is None and _by_name(read)["empty"].n_trials == 0
    assert _by_name(read)["pruned"].best_value is None


def test_infinite_values_come_back_as_infinities(tmp_path):
    url = f"sqlite:///{tmp_path / 'inf.db'}"
    study = optuna.create_study(study_name="inf", storage=url, direction="maximize")
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=float("inf")))
    assert math.isinf(list_studies(url)[0].best_value) and storage._list_sqlite_studies(url) is not None


def test_a_file_in_another_schema_goes_through_optuna(sqlite_url):
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE version_info SET schema_version = schema_version - 1")
    assert storage._list_sqlite_studies(sqlite_url) is None
    assert _by_name(list_studies(sqlite_url)) == _by_name(storage._list_through_optuna(sqlite_url))


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?timeout=3", "postgresql://h/db"])
def test_urls_only_sqlalchemy_should_read_are_not_parsed(url):
    assert storage._sqlite_path(url) is None


def test_a_missing_file_is_left_to_optuna(tmp_path):
    assert storage._list_sqlite_studies(f"sqlite:///{tmp_path / 'none.db'}") is None


def test_a_journal_is_listed_through_optuna(tmp_path):
    url = journal_url(tmp_path / "journal.log")
    study = optuna.create_study(study_name="j", storage=storage.open_storage(url), direction="maximize")
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.25))
    assert list_studies(url) == [StudyListing("j", {}, 1, 0.25, 0)]


def test_heartbeat_settings_come_from_the_environment_and_bad_ones_are_one_line_errors(monkeypatch):
    from automl_har.storage import HEARTBEAT_GRACE_S, HEARTBEAT_INTERVAL_S, heartbeat_seconds

    assert heartbeat_seconds() == (HEARTBEAT_INTERVAL_S, HEARTBEAT_GRACE_S)
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_S", "1")
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_GRACE_S", "4")
    assert heartbeat_seconds() == (1, 4)
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_GRACE_S", "1")
    with pytest.raises(ConfigError, match="must be longer than"):
        heartbeat_seconds()
    monkeypatch.setenv("AUTOHAR_HEARTBEAT_S", "ten")
    with pytest.raises(ConfigError, match=r"AUTOHAR_HEARTBEAT_S must be a whole number.*got 'ten'"):
        heartbeat_seconds()


def test_of_equal_validation_values_the_trial_that_finished_first_ranks_first():
    import datetime

    at = lambda s: datetime.datetime(2026, 1, 1, 0, 0, s)  # noqa: E731
    made = lambda v, s, state=TrialState.COMPLETE: optuna.trial.create_trial(  # noqa: E731
        state=state, value=v if state == TrialState.COMPLETE else None, params={}, distributions={})
    trials = [made(0.9, 0), made(0.5, 0), made(0.9, 0), made(None, 0, TrialState.PRUNED), made(0.95, 0)]
    for number, (trial, finished) in enumerate(zip(trials, [30, 5, 10, 1, 40])):
        trial.number, trial.datetime_start, trial.datetime_complete = number, at(0), at(finished)
    ranked = storage.rank_by_validation(trials)
    assert [t.number for t in ranked] == [4, 2, 0, 1]  # 0.95; then 0.9 finished at 10 s before 0.9 at 30 s
