"""Which process runs a trial, so that a resumed search closes only trials whose process is gone.

Each trial records its owner (host, pid and the process's start time) when it is asked for.
With an RDB storage, heartbeats decide instead (:func:`automl_har.storage.uses_heartbeats`).
The journal file and SQLite have none: there a RUNNING trial is closed on resume only when its
owner ran on this machine and that process no longer exists; a trial of another machine, or of
an earlier autohar that recorded no owner, is reported and left to ``autohar studies --close-stale``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def this_process() -> dict[str, Any]:
    """The owner record of a trial asked for by this process."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_ticks(os.getpid())}


def owner_is_gone(owner: dict[str, Any] | None) -> bool:
    """True only when ``owner`` ran on this host and that process (same pid *and* start time, so a
    reused pid does not count) no longer exists; False when it may still run (or ran elsewhere)."""
    if not owner or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    started = _start_ticks(pid)
    return started is not None and owner.get("started") is not None and started != owner["started"]


def owner_is_alive_here(owner: dict[str, Any] | None) -> bool:
    """``owner`` is a process on this host that still runs (e.g. ``autohar worker`` in another shell)."""
    return bool(owner) and owner.get("host") == socket.gethostname() and not owner_is_gone(owner)


def describe(owner: dict[str, Any] | None) -> str:
    return f"{owner.get('host')} pid {owner.get('pid')}" if owner else "an unknown process"


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc/PID/stat`` field 22); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None
