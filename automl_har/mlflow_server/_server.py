"""Start, probe and stop a local ``mlflow server`` over a workspace's sqlite store and artifacts.

The server is the real MLflow CLI run as a child process in its own session, so ``stop`` can end
the whole process group (the CLI spawns a uvicorn process). It binds to a loopback address only:
the MLflow server has no authentication.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from automl_har.errors import AutoharError, ConfigError, DependencyError
from automl_har.workspace import Workspace

LOG_NAME = "mlflow-server.log"
_LOOPBACK = ("127.", "localhost", "::1")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the OS picks it: bind to port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    # SO_REUSEADDR as uvicorn sets it: a port in TIME_WAIT is free, one with a listener is not.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ui_url(base_url: str, experiment_id: str | None = None, run_id: str | None = None) -> str:
    """The MLflow 3 UI page (a hash route) of an experiment's runs, or of one run of it:
    ``<base>/#/experiments/<id>/runs[/<run_id>]``; the UI's home without an experiment."""
    base = base_url.rstrip("/")
    if experiment_id is None:
        return f"{base}/"
    page = f"{base}/#/experiments/{experiment_id}/runs"
    return f"{page}/{run_id}" if run_id else page


def is_healthy(url: str, timeout: float = 2) -> bool:
    """True when ``GET <url>/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError):  # URLError, HTTPError, refused, timeout, malformed URL
        return False


@dataclass
class MlflowServer:
    """A running ``mlflow server``; use as a context manager or call :meth:`stop`."""

    host: str
    port: int
    process: subprocess.Popen = field(repr=False)
    url: str
    log_path: Path
    _log_offset: int = field(default=0, repr=False)

    def request_json(self, path: str, payload: dict | None = None, timeout: float = 10) -> dict:
        """GET (``payload`` None) or POST JSON to ``<url><path>``, e.g. ``/api/2.0/mlflow/runs/search``."""
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")

    def log_tail(self, lines: int = 5) -> str:
        """The last ``lines`` lines (error lines first) this server logged, joined with `` | ``."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return ""
        kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
        # Prefer the error lines of a traceback over its frames and source lines.
        errors = [ln for ln in kept if "error" in ln.lower() and not ln.startswith(('File "', "(Background"))]
        return " | ".join((errors or kept)[-lines:])

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the whole process group, wait up to ``timeout`` s, then SIGKILL what is left."""
        atexit.unregister(self.stop)
        pgid = self.process.pid  # start_new_session=True: the child leads its own group
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        while _group_alive(pgid) and time.monotonic() < deadline:  # uvicorn may outlive the CLI
            time.sleep(0.1)
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=5)

    def __enter__(self) -> "MlflowServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_server(workspace: Workspace, port: int | None = None, host: str = "127.0.0.1",
                 wait_s: float = 60) -> MlflowServer:
    """Run ``mlflow server`` over ``workspace`` and return once ``/health`` answers.

    ``port=None`` picks a free port. Raises :class:`AutoharError` (one line, with the last lines
    of the server log and the fix) if the port is taken, the server exits, or it is not healthy
    within ``wait_s`` seconds.
    """
    if not host.startswith(_LOOPBACK):
        raise ConfigError(f"the MLflow server has no authentication, so it binds to loopback only, "
                          f"but got {host=}; use 127.0.0.1")
    if importlib.util.find_spec("mlflow") is None:
        raise DependencyError("mlflow is not installed; run `pip install 'mlflow>=3,<4'`")
    if port is None:
        port = free_port(host)
    elif not 1 <= port <= 65535:
        raise ConfigError(f"port must be in 1-65535, but got {port=}; choose another --port")
    if _port_in_use(host, port):
        raise AutoharError(f"port {port} on {host} is already in use (another MLflow server or "
                           f"program?); choose another --port, e.g. {free_port(host)}")
    workspace.create()
    log_path = workspace.root / LOG_NAME
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", workspace.tracking_uri,
        # Experiments created through the server get the same file:// root that autohar's own
        # runs use, so sqlite-direct clients and the server read and write the same files.
        "--default-artifact-root", workspace.artifact_uri,
        # Proxied (mlflow-artifacts:/) uploads, if any, land in the workspace too, not ./mlartifacts.
        "--serve-artifacts", "--artifacts-destination", workspace.artifact_uri,
        "--host", host, "--port", str(port), "--workers", "1",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           # The GenAI job runner starts ~7 huey consumers (some in new sessions); the UI of HAR
           # runs needs none of them.
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with open(log_path, "ab") as log:
        offset = log.tell()
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=workspace.root, env=env, start_new_session=True)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    server = MlflowServer(host, port, process, url, log_path, offset)
    atexit.register(server.stop)  # never leave an orphan server behind; stop() is idempotent
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            server.stop(timeout=2)  # reap what the CLI may have left in its group
            hint = ("the port was taken meanwhile; choose another --port" if "address already in use"
                    in tail.lower() else f"see {log_path}")
            raise AutoharError(f"mlflow server exited early (code {process.returncode}): "
                               f"{tail or 'no output'}; {hint}")
        if is_healthy(url, timeout=1):
            return server
        time.sleep(0.2)
    server.stop()
    raise AutoharError(f"mlflow server on {url} was not healthy within {wait_s:g} s: "
                       f"{server.log_tail() or 'no output'}; see {log_path} or raise wait_s")
