"""The MLflow client of every autohar run, whose failures to record are one-line errors.

A tracking server that does not answer (after MLflow's own retries, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``)
or a store that takes no more writes (a full disk) raises :class:`~automl_har.errors.RecordingError`
from any client call, with the reason in one line, instead of MLflow's multi-line exception text.
Other MLflow errors (a run that does not exist, a rejected value) pass through unchanged.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
from typing import Any

from automl_har.errors import DependencyError, RecordingError, first_line

#: OSError numbers of a disk that takes no more writes (full, over quota, read-only, I/O error)
CANNOT_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
#: what a search's one-line RecordingError ends with
RESUME_HINT = "fix that, then re-run the same command: the study resumes and MLflow gets what it missed"
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")


def tracking_client(tracking_uri: str) -> "RecordingClient":
    """An :class:`mlflow.MlflowClient` on ``tracking_uri`` (nothing is connected yet)."""
    # MLflow logs schema migrations of a new SQLite store at INFO: not news for a user.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        from mlflow import MlflowClient
    except ImportError as err:  # pragma: no cover - mlflow is a hard dependency
        raise DependencyError("MLflow is missing; run `pip install 'mlflow>=3'`") from err
    return RecordingClient(MlflowClient(tracking_uri=tracking_uri), tracking_uri)


class RecordingClient:
    """An :class:`mlflow.MlflowClient` whose calls raise :class:`RecordingError` when MLflow cannot
    record (see :func:`recording_error`); everything else is the client's own."""

    def __init__(self, client, tracking_uri: str) -> None:
        self._client, self.tracking_uri = client, tracking_uri

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except Exception as err:
                if (fault := recording_error(err, self.tracking_uri)) is None:
                    raise
                raise fault from err

        return call


def recording_error(err: BaseException, tracking_uri: str) -> RecordingError | None:
    """``err`` as a one-line :class:`RecordingError` when it means MLflow cannot record now; else None.

    The server did not answer: MLflow's ``API request to … failed with exception …`` (connection
    refused, timeout) or a network error; a database store that is full or locked:
    ``TEMPORARILY_UNAVAILABLE``; a file that cannot be written: see :func:`disk_error`.
    """
    import requests
    from mlflow.exceptions import MlflowException

    if isinstance(err, RecordingError):
        return err
    if isinstance(err, MlflowException):
        text = str(err.message if hasattr(err, "message") else err)
        if text.startswith("API request to"):
            found = _OS_REASON.search(text)
            reason = found.group(1).strip() if found else "timed out" if "timeout" in text else text[:200]
            return RecordingError(f"the MLflow tracking server {tracking_uri} did not answer ({reason})")
        if getattr(err, "error_code", None) == "TEMPORARILY_UNAVAILABLE":
            return RecordingError(f"the MLflow store {tracking_uri} took no writes ({first_line(err)[:200]})")
        return None
    if (full := disk_error(err)) is not None:
        return full
    if isinstance(err, requests.exceptions.RequestException):  # an artifact upload through the server
        return RecordingError(f"the MLflow tracking server {tracking_uri} did not answer ({first_line(err)[:200]})")
    return None


def disk_error(err: BaseException) -> RecordingError | None:
    """``err`` as a one-line :class:`RecordingError` when it is a write the disk refused (an OSError
    in :data:`CANNOT_WRITE_ERRNOS`, e.g. ``ENOSPC``: full); else None."""
    if isinstance(err, OSError) and err.errno in CANNOT_WRITE_ERRNOS:
        return RecordingError(f"the disk took no more writes ({err.strerror or first_line(err)})")
    return None
