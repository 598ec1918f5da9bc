"""Where studies live: Optuna storages by URL, a study looked up by name, the list of studies.

SQLite (one process), a journal file (several processes on one machine), any RDB URL (several
machines; heartbeats close the trials of killed workers). A journal file is named by the
pseudo-URL ``journal:///abs/path/optuna-journal.log`` so that every storage can be passed
around (``--storage``, ``autohar worker``) as one string.

Engines (which write studies), export and the CLI (which read them) all use this module, so it
belongs to none of them. Optuna is imported only when a storage is opened: ``autohar studies``
lists a workspace's SQLite file with :mod:`sqlite3` alone (see :func:`list_studies`).
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import math
import os
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from automl_har.errors import AutoharError, ConfigError, DependencyError, first_line

if TYPE_CHECKING:
    import optuna

JOURNAL_SCHEME = "journal://"
HEARTBEAT_INTERVAL_S = 10  # $AUTOHAR_HEARTBEAT_S overrides it
HEARTBEAT_GRACE_S = 30  # $AUTOHAR_HEARTBEAT_GRACE_S: a trial this long without a heartbeat is stale


def journal_url(path: str | Path) -> str:
    return f"{JOURNAL_SCHEME}{Path(path).absolute()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def uses_heartbeats(url: str) -> bool:
    """Whether :func:`open_storage` gives trials heartbeats (RDB servers; not the journal or SQLite)."""
    return not url.startswith(JOURNAL_SCHEME) and not is_sqlite(url)


def find_study(name: str, storage_urls: list[str], on_stale_trial: Callable | None = None) -> optuna.Study:
    """The study ``name`` from the first of ``storage_urls`` that has it (its storage opened with
    ``on_stale_trial``, see :func:`open_storage`); a one-line error listing the studies there
    when none does."""
    import optuna

    names: set[str] = set()
    for url in storage_urls:
        storage = open_storage(url, on_stale_trial)
        found = optuna.get_all_study_names(storage)
        if name in found:
            return optuna.load_study(study_name=name, storage=storage)
        names.update(found)
    raise ConfigError(f"no study {name!r} in {' or '.join(storage_urls)}; {_other_names(name, names)}")


def _other_names(name: str, names: set[str]) -> str:
    """The studies there, when they are few; else the names closest to ``name`` (a typo) and the
    command that lists them all, so that the error stays one short line."""
    if len(names) <= 5:
        return f"existing studies: {', '.join(sorted(names)) or 'none'} (see `autohar studies`)"
    close = sorted(difflib.get_close_matches(name, names, n=3))
    guess = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return f"{guess}`autohar studies` lists all {len(names)} studies"


def refuse_legacy_duplicate(name: str, workspace_sqlite_url: str) -> None:
    """A one-line error when the study ``name`` lives in the workspace's old SQLite file (earlier
    versions kept one-worker studies there): creating it again in the journal would split it in
    two, with two MLflow parent runs."""
    path = _sqlite_path(workspace_sqlite_url)
    if path is not None and path.is_file() and any(s.name == name for s in list_studies(workspace_sqlite_url)):
        raise ConfigError(f"study {name!r} is in this workspace's old SQLite storage {path}; resume it "
                          f"with --storage {workspace_sqlite_url}, or pick another --study name")


def open_storage(url: str, on_stale_trial: Callable | None = None) -> optuna.storages.BaseStorage:
    """The storage behind ``url``; RDB storages get heartbeats, and a trial whose worker died
    is failed, passed to ``on_stale_trial`` and retried once.

    Raises:
        ConfigError: ``url`` names no database SQLAlchemy knows, a SQLite file in a missing folder,
            or a database that cannot be reached or read (one line, with the fix).
        DependencyError: the database's driver (e.g. psycopg2) is not installed.
    """
    if url.startswith(JOURNAL_SCHEME):  # no SQLAlchemy: a worker asks for its first trial before loading it
        return _open_storage(url, on_stale_trial)
    import sqlalchemy.exc

    sqlite_file = _sqlite_path(url) if is_sqlite(url) else None
    if sqlite_file is not None and not sqlite_file.absolute().parent.is_dir():
        raise ConfigError(f"storage {url}: folder {sqlite_file.absolute().parent} does not exist; create it, or "
                          "point --storage at a file in an existing folder")
    try:
        with warnings.catch_warnings():
            return _open_storage(url, on_stale_trial)
    except AutoharError:
        raise
    except sqlalchemy.exc.NoSuchModuleError:
        kind = url.partition(":")[0].partition("+")[0]
        raise ConfigError(f"storage {_shown(url)}: unknown database kind {kind!r}; give a SQLAlchemy URL such as "
                          "sqlite:////abs/path/optuna.db or postgresql+psycopg2://user@host/db, or leave out "
                          "--storage to use the workspace's journal file") from None
    except ImportError as err:
        missing = getattr(err.__cause__, "name", None) or first_line(err.__cause__ or err)
        raise DependencyError(f"storage {_shown(url)} needs the database driver {missing!r}, which is not installed; "
                              "pip install it, or name an installed driver in the URL (e.g. postgresql+psycopg2:// "
                              "after pip install psycopg2-binary)") from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError, RuntimeError, ValueError, KeyError, IndexError) as err:
        # RuntimeError: a schema of another Optuna version; ValueError, KeyError, IndexError: a URL that is
        # no URL (a missing "://", braces that Optuna's {SCHEMA_VERSION} template fills)
        raise ConfigError(f"cannot open the Optuna storage {_shown(url)} ({first_line(err)}); check the URL, "
                          "that the database is reachable, or leave out --storage to use the workspace's "
                          "journal file") from None


def _open_storage(url: str, on_stale_trial: Callable | None) -> optuna.storages.BaseStorage:
    import optuna

    if url.startswith(JOURNAL_SCHEME):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix(JOURNAL_SCHEME))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if not uses_heartbeats(url):  # SQLite: one process at a time, heartbeats would only add writes
        return optuna.storages.RDBStorage(url)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are a choice, not news
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)

    def stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_stale_trial is not None:
            on_stale_trial(study, trial)
        retry(study, trial)

    interval, grace = heartbeat_seconds()
    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=interval,
        grace_period=grace,
        heartbeat_stale_trial_callback=stale,
        engine_kwargs={"pool_pre_ping": True},
    )


def _shown(url: str) -> str:
    """``url`` with its password, if any, hidden (error messages end up in logs)."""
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can parse: nothing in it to hide
        return url


def heartbeat_seconds() -> tuple[int, int]:
    """(interval, grace period) of RDB heartbeats: the defaults, or ``$AUTOHAR_HEARTBEAT_S`` and
    ``$AUTOHAR_HEARTBEAT_GRACE_S`` (whole seconds, grace longer than the interval)."""
    values = []
    for name, default in (("AUTOHAR_HEARTBEAT_S", HEARTBEAT_INTERVAL_S), ("AUTOHAR_HEARTBEAT_GRACE_S", HEARTBEAT_GRACE_S)):
        text = os.environ.get(name, str(default))
        if not text.strip().isdigit() or int(text) < 1:
            raise ConfigError(f"${name} must be a whole number of seconds >= 1, but got {text!r}; e.g. {name}={default}")
        values.append(int(text))
    if values[1] <= values[0]:
        raise ConfigError(f"$AUTOHAR_HEARTBEAT_GRACE_S ({values[1]}) must be longer than $AUTOHAR_HEARTBEAT_S "
                          f"({values[0]}), or every live trial would look stale")
    return values[0], values[1]


def rank_by_validation(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The COMPLETE ones of ``trials``, best first by the first objective (validation macro-F1).

    Among equal values the trial that finished first leads: it beat every stored value when it
    finished, so it kept its checkpoint, while a later equal one did not (``beats_stored_best`` in
    ``engines/_loop.py`` is strict). With several workers the order in which trials finish is not
    their numbers' order, so "the first of equal numbers", as Optuna's ``best_trial`` picks, can
    name a trial without a checkpoint. The best trial of ``show``, ``export`` and the study
    result is this ranking's first; ``verify`` re-evaluates its top K.
    """
    import datetime

    complete = [t for t in trials if t.state.name == "COMPLETE"]
    return sorted(complete, key=lambda t: (-t.values[0], t.datetime_complete or datetime.datetime.max, t.number))


@dataclass(frozen=True)
class StudyListing:
    """One row of ``autohar studies``: what :func:`optuna.get_all_study_summaries` reports."""

    name: str
    user_attrs: dict[str, Any]
    n_trials: int  # every trial of the study, in any state
    best_value: float | None  # single-objective studies with a COMPLETE trial; else None
    best_trial: int | None


def list_studies(url: str) -> list[StudyListing]:
    """The studies in the storage behind ``url``.

    A SQLite file in the schema of the installed Optuna is read with :mod:`sqlite3` (importing
    Optuna and opening an RDB storage take about a second, most of ``autohar studies``); any
    other storage, or a file this reader does not recognise, goes through Optuna.
    """
    if is_sqlite(url):
        listed = _list_sqlite_studies(url)
        if listed is not None:
            return listed
    return _list_through_optuna(url)


def _list_through_optuna(url: str) -> list[StudyListing]:
    import optuna

    return [StudyListing(s.study_name, dict(s.user_attrs), s.n_trials,
                         s.best_trial.value if s.best_trial else None, s.best_trial.number if s.best_trial else None)
            for s in optuna.get_all_study_summaries(open_storage(url), include_best_trial=True)]


#: The Optuna RDB schema this reader knows: Optuna 5 writes ``version_info.schema_version`` 12 and
#: alembic revision ``v3.2.0.a``. Tables read (``optuna/storages/_rdb/models.py``):
#: ``studies(study_id, study_name)``, ``study_directions(study_id, objective, direction)`` with
#: MINIMIZE/MAXIMIZE, ``study_user_attributes(study_id, key, value_json)``,
#: ``trials(trial_id, study_id, number, state)`` with state names such as COMPLETE, and
#: ``trial_values(trial_id, objective, value, value_type)`` where value_type FINITE keeps the
#: number and INF_POS / INF_NEG stand for +/-inf (value NULL).
SQLITE_SCHEMA_VERSION = 12
SQLITE_ALEMBIC_REVISION = "v3.2.0.a"
_NON_FINITE = {"INF_POS": math.inf, "INF_NEG": -math.inf}


@functools.cache
def _optuna_head_revision_is_known() -> bool:
    """Whether the installed Optuna's newest migration is :data:`SQLITE_ALEMBIC_REVISION` (a later
    one would make Optuna refuse, or upgrade, a file this reader would still list); read from its
    migration scripts without importing Optuna."""
    spec = importlib.util.find_spec("optuna")
    if spec is None or not spec.submodule_search_locations:
        return False
    versions = Path(next(iter(spec.submodule_search_locations))) / "storages" / "_rdb" / "alembic" / "versions"
    scripts = [p.read_text() for p in versions.glob("*.py")]
    newer = f'down_revision = "{SQLITE_ALEMBIC_REVISION}"'
    return any(f'revision = "{SQLITE_ALEMBIC_REVISION}"' in s for s in scripts) and not any(newer in s for s in scripts)


def _sqlite_path(url: str) -> Path | None:
    """The file of ``sqlite:///relative`` or ``sqlite:////absolute`` URLs; None for the others
    (in-memory, URL options) that only SQLAlchemy should interpret."""
    rest = url.removeprefix("sqlite:///")
    if rest == url or not rest or "?" in rest or rest.startswith(":memory:"):
        return None
    return Path(rest)


def _list_sqlite_studies(url: str) -> list[StudyListing] | None:
    """The studies of a SQLite storage file read with :mod:`sqlite3`, or None when the file is not
    there or not in the known schema (then Optuna opens it, creating or upgrading it as usual)."""
    path = _sqlite_path(url)
    if path is None or not path.is_file() or not _optuna_head_revision_is_known():
        return None
    try:
        with sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True) as db:
            (schema,), = db.execute("SELECT schema_version FROM version_info").fetchall()
            (revision,), = db.execute("SELECT version_num FROM alembic_version").fetchall()
            if schema != SQLITE_SCHEMA_VERSION or revision != SQLITE_ALEMBIC_REVISION:
                return None
            studies = db.execute("SELECT study_id, study_name FROM studies ORDER BY study_id").fetchall()
            directions: dict[int, list[str]] = {}
            for study_id, direction in db.execute(
                    "SELECT study_id, direction FROM study_directions ORDER BY study_id, objective"):
                directions.setdefault(study_id, []).append(direction)
            attrs: dict[int, dict[str, Any]] = {}
            for study_id, key, value in db.execute(
                    "SELECT study_id, key, value_json FROM study_user_attributes ORDER BY study_user_attribute_id"):
                attrs.setdefault(study_id, {})[key] = json.loads(value)
            trials = db.execute(
                "SELECT t.study_id, t.number, t.state, v.value, v.value_type FROM trials t "
                "LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0 ORDER BY t.trial_id").fetchall()
    except (sqlite3.Error, ValueError):  # locked, corrupt or another layout: Optuna says what is wrong
        return None
    counts: dict[int, int] = {}
    completed: dict[int, list[tuple[float, int]]] = {}
    for study_id, number, state, value, value_type in trials:
        counts[study_id] = counts.get(study_id, 0) + 1
        if state == "COMPLETE" and value_type is not None:
            completed.setdefault(study_id, []).append((_NON_FINITE.get(value_type, value), number))
    listed = []
    for study_id, name in studies:
        best = None
        if len(directions.get(study_id, [])) == 1 and completed.get(study_id):
            pick = max if directions[study_id][0] == "MAXIMIZE" else min  # the first of equal values, as Optuna
            best = pick(completed[study_id], key=lambda value_number: value_number[0])
        listed.append(StudyListing(name, attrs.get(study_id, {}), counts.get(study_id, 0),
                                   best[0] if best else None, best[1] if best else None))
    return listed
