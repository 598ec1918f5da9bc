"""The conventions a CLI user expects, checked on every command's --help: one example, no type
shown after a flag (``--quiet <bool>``), no stray " ." left by a default that rich markup swallowed,
each default stated once (typer's ``[default: …]``, not also in the sentence), and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import COMMANDS, app

HELPS = [[command.name] for command in COMMANDS] + [["studies", "delete"]]


def help_text(args) -> str:
    """The help as one line of words, without rich's panel borders (a default may wrap inside a panel)."""
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())


@pytest.mark.parametrize("args", HELPS, ids=[" ".join(a) for a in HELPS])
def test_every_command_help_has_an_example_no_bool_no_stray_dot_and_each_default_once(args):
    text = help_text(args)
    assert f"Example: autohar {' '.join(args)}" in text
    assert "<bool>" not in text and "BOOLEAN" not in text
    assert not re.search(r"\w \.(\s|$)", text), re.findall(r".{40}\w \.(?:\s|$)", text)
    sentences = re.sub(r"\[default: [^\]]*\]", "", text)
    assert not re.search(r"\(default|Default |default:", sentences), re.findall(r".{60}(?:\(default|Default |default:)", sentences)


@pytest.mark.parametrize("args", HELPS, ids=[" ".join(a) for a in HELPS])
def test_the_example_stays_on_one_line_at_80_columns(args):
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80"})
    (line,) = [line for line in result.output.splitlines() if "Example:" in line]
    assert line.strip().startswith(f"Example: autohar {' '.join(args)}")
    next_line = result.output.splitlines()[result.output.splitlines().index(line) + 1]
    assert not next_line.strip() or next_line.lstrip().startswith("╭")  # nothing of it wrapped onto the next line


def test_a_default_comes_from_the_schema_and_reads_whole():
    text = help_text(["search"])
    assert "[default: 20]" in text and "[default: 0.2]" in text and "[default: 3]" in text


def test_shell_completion_script_and_completions():
    as_installed = [sys.executable, "-c", "from automl_har.cli.main import app; app(prog_name='autohar')"]
    # the shell is detected from the parent processes, which a test runner may not have: name it, as
    # typer's own tests do
    named_shell = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run([*as_installed, "--show-completion", "bash"], env=named_shell, capture_output=True, text=True)
    assert shown.returncode == 0 and "_autohar_completion" in shown.stdout, shown.stdout + shown.stderr
    env = {**os.environ, "_AUTOHAR_COMPLETE": "complete_bash", "COMP_WORDS": "autohar sea", "COMP_CWORD": "1"}
    done = subprocess.run(as_installed, env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["search"], done.stdout + done.stderr
    env.update(COMP_WORDS="autohar search --meth", COMP_CWORD="2")  # a lazy command completes its own options
    done = subprocess.run(as_installed, env=env, capture_output=True, text=True)
    assert "--method" in done.stdout.split(), done.stdout + done.stderr
