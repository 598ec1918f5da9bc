"""``autohar --help``, ``methods`` and ``datasets`` answer without importing torch, mlflow or ray."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import COMMANDS, app

HEAVY = ("torch", "mlflow", "ray")

# run in a fresh interpreter: the other tests of this session have imported torch long ago
_RENDER_HELP_AND_LISTS = f"""
import sys
from typer.testing import CliRunner
from automl_har.cli.main import app
for args in (["--help"], ["-h"], ["--version"], ["methods"], ["datasets"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_help_and_the_lists_leave_torch_mlflow_and_ray_unimported():
    done = subprocess.run([sys.executable, "-c", _RENDER_HELP_AND_LISTS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported: {done.stdout.strip()}"


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_listed_summary_is_the_commands_own_help(command):
    real = command.load()
    assert real.name == command.name
    assert command.help == _first_paragraph(real.help or "")


def test_top_level_help_lists_every_command_and_a_typo_is_one_error_line():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert all(c.name in result.output for c in COMMANDS)
    typo = CliRunner().invoke(app, ["studys"])
    assert typo.exit_code == 2
    assert [line for line in typo.output.splitlines() if line.strip()] == [
        "error: No such command 'studys'. Did you mean 'studies'? (see 'autohar --help')"
    ]


def test_version_and_the_short_help_option_of_every_command():
    from automl_har import __version__

    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output == f"autohar {__version__}\n"
    assert CliRunner().invoke(app, ["-h"]).output == CliRunner().invoke(app, ["--help"]).output
    for command in ("search", "studies", "show", "reproduce"):
        short = CliRunner().invoke(app, [command, "-h"])
        assert short.exit_code == 0 and f"Usage: autohar {command}" in short.output, (command, short.output)


# `autohar studies` on a workspace's SQLite file: read with sqlite3, so not even Optuna is imported
_LIST_STUDIES = """
import sys
from typer.testing import CliRunner
from automl_har.cli.main import app
result = CliRunner().invoke(app, ["studies", "--workdir", sys.argv[1]])
assert result.exit_code == 0, result.output
print(result.output)
print("IMPORTED " + ",".join(m for m in ("torch", "mlflow", "ray", "optuna", "sqlalchemy") if m in sys.modules))
"""


def test_studies_reads_sqlite_without_torch_mlflow_or_optuna_and_prints_what_optuna_would(tmp_path, monkeypatch):
    import optuna

    from automl_har import storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="supervised-synthetic", storage=f"sqlite:///{tmp_path / 'optuna.db'}",
                                direction="maximize")
    study.set_user_attr("method", "supervised")
    study.set_user_attr("dataset", "synthetic")
    for value in (0.25, 0.75):
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=value))
    done = subprocess.run([sys.executable, "-c", _LIST_STUDIES, str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    table, _, imported = done.stdout.rpartition("IMPORTED ")
    assert imported.strip() == "", f"imported: {imported.strip()}"
    assert "supervised-synthetic" in table and "0.7500" in table
    monkeypatch.setattr(storage, "_list_sqlite_studies", lambda url: None)  # as before: through Optuna
    through_optuna = CliRunner().invoke(app, ["studies", "--workdir", str(tmp_path)])
    assert through_optuna.exit_code == 0 and through_optuna.output.strip() == table.strip()
