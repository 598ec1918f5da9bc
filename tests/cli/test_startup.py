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
for args in (["--help"], ["methods"], ["datasets"]):
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
