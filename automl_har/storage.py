"""Where studies live: Optuna storages by URL, a study looked up by name, the list of studies.

SQLite (one process), a journal file (several processes on one machine), any RDB URL (several
machines; heartbeats close the trials of killed workers). A journal file is named by the
pseudo-URL ``journal:///abs/path/optuna-journal.log`` so that every storage can be passed
around (``--storage``, ``autohar worker``) as one string.

Engines (which write studies), export and the CLI (which read them) all use this module, so it
belongs to none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from automl_har.errors import ConfigError

if TYPE_CHECKING:
    import optuna

JOURNAL_SCHEME = "journal://"
HEARTBEAT_INTERVAL_S = 10
HEARTBEAT_GRACE_S = 30


def journal_url(path: str | Path) -> str:
    return f"{JOURNAL_SCHEME}{Path(path).absolute()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


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
    raise ConfigError(f"no study {name!r} in {' or '.join(storage_urls)}; existing studies: "
                      f"{', '.join(sorted(names)) or 'none'} (see `autohar studies`)")


def open_storage(url: str, on_stale_trial: Callable | None = None) -> optuna.storages.BaseStorage:
    """The storage behind ``url``; RDB storages get heartbeats, and a trial whose worker died
    is failed, passed to ``on_stale_trial`` and retried once."""
    import optuna

    if url.startswith(JOURNAL_SCHEME):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix(JOURNAL_SCHEME))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if is_sqlite(url):  # one process at a time: heartbeats would only add writes
        return optuna.storages.RDBStorage(url)
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)

    def stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if on_stale_trial is not None:
            on_stale_trial(study, trial)
        retry(study, trial)

    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=HEARTBEAT_INTERVAL_S,
        grace_period=HEARTBEAT_GRACE_S,
        heartbeat_stale_trial_callback=stale,
        engine_kwargs={"pool_pre_ping": True},
    )
