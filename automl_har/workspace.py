"""The workspace: one directory holding the Optuna storage, the MLflow backend and artifacts,
and the stage caches.

Default ``./autohar-runs``; ``--workdir`` or ``$AUTOHAR_HOME`` override it. Every path and URI
is absolute, because Ray (and some MLflow code paths) change the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
        for path in (self.root, self.artifact_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def optuna_storage_url(self) -> str:
        return f"sqlite:///{self.root / 'optuna.db'}"

    @property
    def journal_path(self) -> Path:
        """Optuna journal file used when several worker processes share a study."""
        return self.root / "optuna-journal.log"

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
