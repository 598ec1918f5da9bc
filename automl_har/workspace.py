"""The workspace: one directory holding the Optuna storage, the MLflow backend and artifacts,
and the stage caches.

Default ``./autohar-runs``; ``--workdir`` or ``$AUTOHAR_HOME`` override it. Every path and URI
is absolute, because Ray (and some MLflow code paths) change the working directory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from automl_har.errors import ConfigError
from automl_har.storage import journal_url

DEFAULT_WORKDIR = "autohar-runs"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, workdir: str | Path | None = None) -> "Workspace":
        """``workdir``, else ``$AUTOHAR_HOME``, else ``./autohar-runs``; made absolute."""
        chosen = workdir or os.environ.get("AUTOHAR_HOME") or DEFAULT_WORKDIR
        return cls(Path(chosen).expanduser().absolute())

    def create(self) -> "Workspace":
        """Make the folders and check that the workspace takes writes, before anything is recorded:
        a workdir that is a file, or a read-only folder, is a one-line :class:`ConfigError`."""
        try:
            for path in (self.root, self.artifact_dir, self.cache_dir):
                path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except (FileExistsError, NotADirectoryError):
            inside = (self.artifact_dir, self.cache_dir, self.root, *self.root.parents)
            where = next((p for p in inside if p.exists() and not p.is_dir()), self.root)
            raise ConfigError(f"workdir {self.root} cannot be a workspace: {where} is a file, not a folder; pass a "
                              "folder with --workdir (or $AUTOHAR_HOME)") from None
        except OSError as err:
            raise ConfigError(f"workdir {self.root} is not writable ({err.strerror or err}); pass a folder you can "
                              "write to with --workdir (or $AUTOHAR_HOME)") from None
        return self

    @property
    def optuna_storage_url(self) -> str:
        """The workspace's one Optuna storage, for one worker or several: its journal file (as the
        ``journal://`` pseudo-URL of :func:`automl_har.storage.open_storage`). One storage per
        workspace means a study name is unique in it, and a study started with ``--workers 2``
        resumes without ``--workers`` (earlier versions kept one-worker studies in SQLite)."""
        return journal_url(self.journal_path)

    @property
    def journal_path(self) -> Path:
        return self.root / "optuna-journal.log"

    @property
    def legacy_sqlite_path(self) -> Path:
        """Where earlier versions kept one-worker studies (still listed, exported and verified)."""
        return self.root / "optuna.db"

    @property
    def legacy_sqlite_url(self) -> str:
        return f"sqlite:///{self.legacy_sqlite_path}"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    @property
    def artifact_dir(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def artifact_uri(self) -> str:
        return self.artifact_dir.as_uri()

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"
