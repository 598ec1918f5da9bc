"""The workspace's Optuna journal is a plain Optuna storage: Optuna's own CLI (and optuna-dashboard,
which reads it the same way, see the README) lists its studies and trials."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app
from automl_har.workspace import Workspace

OPTUNA_CLI = [sys.executable, "-c", "import sys; from optuna.cli import main; sys.exit(main())"]


@pytest.mark.slow
def test_the_optuna_cli_lists_the_study_and_its_trials_from_the_workspace_journal(tmp_path):
    result = CliRunner().invoke(app, ["search", "-m", "supervised", "-d", "synthetic", "--trials", "2", "--budget",
                                      "0.02", "--repeats", "1", "--workdir", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    journal = Workspace.resolve(tmp_path).journal_path
    storage = ["--storage", str(journal), "--storage-class", "JournalFileBackend"]
    listed = subprocess.run([*OPTUNA_CLI, "studies", *storage, "-f", "json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    (study,) = json.loads(listed.stdout)
    assert (study["name"], study["n_trials"]) == ("supervised-synthetic", 2)
    trials = subprocess.run([*OPTUNA_CLI, "trials", *storage, "--study-name", "supervised-synthetic", "-f", "json"],
                            capture_output=True, text=True)
    assert trials.returncode == 0, trials.stderr
    assert [t["state"] for t in json.loads(trials.stdout)] == ["COMPLETE", "COMPLETE"]
