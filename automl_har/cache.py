"""Content-keyed stage cache: pre-trained encoders, embeddings, quality weights.

A key is the hash of everything the stage's output depends on (data hash, preprocessing
params, stage params, seed). Values are written with :func:`torch.save` to
``<workspace>/cache/<stage>/<key>.pt`` atomically (temp file + rename), so concurrent trials
never read half a file. Deleting the folder is always safe: entries are recomputed.

torch is imported when an entry is read or written, not with this module: the engines hand a
cache to every trial, and a worker process asks for its first trial before it loads torch.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def cache_key(*parts: Any) -> str:
    """A stable 20-hex-digit hash of JSON-serialisable parts (dicts are key-sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class StageCache:
    """A folder of cached stage outputs; ``hits`` and ``misses`` count lookups of this object."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.pt"

    def keys(self, stage: str, prefix: str = "") -> list[str]:
        """The keys stored under ``stage`` that start with ``prefix`` (sorted); reads no entry."""
        folder = self.root / stage
        if not folder.is_dir():
            return []
        return sorted(path.stem for path in folder.glob(f"{glob.escape(prefix)}*.pt"))

    def get(self, stage: str, key: str) -> Any | None:
        path = self.path(stage, key)
        if not path.is_file():
            self.misses += 1
            return None
        import torch

        try:
            value = torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # noqa: BLE001 - a corrupt entry is recomputed, never fatal
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, stage: str, key: str, value: Any) -> Path:
        import torch

        path = self.path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(value, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def get_or_compute(self, stage: str, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """The cached value, or ``compute()`` stored under the key; returns ``(value, was_hit)``."""
        value = self.get(stage, key)
        if value is not None:
            return value, True
        value = compute()
        self.put(stage, key, value)
        return value, False
