"""The local MLflow server serves a workspace's runs and artifacts, and stops without leftovers."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request

import pytest
import typer
from typer.testing import CliRunner

from automl_har.cli import ui
from automl_har.errors import AutoharError
from automl_har.mlflow_server import free_port, is_healthy, start_server
from automl_har.workspace import Workspace


def _seed_runs(workspace: Workspace, tmp_path) -> tuple[str, str, list[str]]:
    """An experiment with a parent run and 2 nested runs, as autohar's tracking writes them."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=workspace.tracking_uri)
    exp_id = client.create_experiment("study-1", artifact_location=workspace.artifact_uri)
    parent = client.create_run(exp_id, run_name="study").info.run_id
    children = []
    for i in range(2):
        run = client.create_run(exp_id, run_name=f"trial-{i}", tags={"mlflow.parentRunId": parent})
        client.log_param(run.info.run_id, "lr", 10.0 ** -(i + 3))
        client.log_metric(run.info.run_id, "val_f1", 0.5 + 0.1 * i)
        client.set_terminated(run.info.run_id)
        children.append(run.info.run_id)
    note = tmp_path / "best_params.json"
    note.write_text('{"lr": 0.001}')
    client.log_artifact(children[0], str(note))
    client.log_metric(parent, "best_val_f1", 0.6)
    client.set_terminated(parent)
    return exp_id, parent, children


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_serves_nested_runs_and_artifacts_then_stops_cleanly(tmp_path):
    workspace = Workspace(tmp_path / "ws").create()
    exp_id, parent, children = _seed_runs(workspace, tmp_path)

    t0 = time.monotonic()
    server = start_server(workspace, port=free_port("127.0.0.1"))
    print(f"mlflow server healthy after {time.monotonic() - t0:.1f} s")
    with server:
        assert is_healthy(server.url)
        assert server.log_path.parent == workspace.root

        runs = server.request_json("/api/2.0/mlflow/runs/search",
                                   {"experiment_ids": [exp_id], "max_results": 100})["runs"]
        assert {r["info"]["run_id"] for r in runs} == {parent, *children}
        by_id = {r["info"]["run_id"]: r for r in runs}
        for child in children:
            tags = {t["key"]: t["value"] for t in by_id[child]["data"]["tags"]}
            assert tags["mlflow.parentRunId"] == parent
            assert {m["key"] for m in by_id[child]["data"]["metrics"]} == {"val_f1"}
        assert by_id[parent]["data"]["metrics"][0]["key"] == "best_val_f1"

        listing = server.request_json(f"/api/2.0/mlflow/artifacts/list?run_id={children[0]}")
        assert [f["path"] for f in listing["files"]] == ["best_params.json"]
        # What the UI fetches to show the file: served straight from the run's file:// root.
        url = f"{server.url}/get-artifact?path=best_params.json&run_uuid={children[0]}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert json.loads(resp.read()) == {"lr": 0.001}
        pgid = server.process.pid

    assert not _port_open(server.port)
    assert not _group_alive(pgid)
    assert not is_healthy(server.url)


def test_port_in_use_is_reported_before_starting(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(AutoharError, match=rf"port {port} .*already in use.*--port"):
            start_server(workspace, port=port)
    assert not (workspace.root / "mlflow-server.log").exists()  # nothing was launched


def test_server_that_exits_early_raises_with_the_log_tail(tmp_path):
    workspace = Workspace(tmp_path / "ws").create()
    workspace.mlflow_db.write_text("not a database")
    with pytest.raises(AutoharError, match=r"exited early.*file is not a database.*mlflow-server\.log"):
        start_server(workspace, wait_s=30)


def test_non_loopback_host_is_refused(tmp_path):
    with pytest.raises(AutoharError, match="loopback"):
        start_server(Workspace(tmp_path), host="0.0.0.0")


def _cli() -> typer.Typer:
    main = typer.Typer()

    @main.callback()
    def _root() -> None:
        """autohar (test mount)."""

    main.command("ui")(ui.ui)
    return main


def test_ui_on_empty_workdir_exits_2_with_one_line(tmp_path):
    result = CliRunner().invoke(_cli(), ["ui", "--workdir", str(tmp_path / "nothing-here")])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "autohar search" in message and "--workdir" in message


def test_ui_rejects_port_out_of_range(tmp_path):
    result = CliRunner().invoke(_cli(), ["ui", "--port", "70000", "--workdir", str(tmp_path)])
    assert result.exit_code == 2
    assert "1-65535" in result.output
