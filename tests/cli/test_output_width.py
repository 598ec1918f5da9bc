"""Every table reads well in an 80-column terminal and when piped, and has a --json form: numbers
are never split across lines, piped output is plain (no box drawing, no escape codes), and suggested
commands stay whole on one line."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app

STUDY = "supervised-synthetic"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BOX = set("┏┓┗┛┃━┡┩│─╇┳┻╋┼")
TERMINAL_80 = {"TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"}


def run(args, env=None):
    result = CliRunner().invoke(app, [str(a) for a in args], env=env or {"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return ANSI.sub("", result.stdout if "--json" in args else result.output)  # JSON alone on stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A study of 3 trials, one of them verified (so `show` and `verify` have everything to print)."""
    path = tmp_path_factory.mktemp("ws")
    run(["search", "-m", "supervised", "-d", "synthetic", "--trials", 3, "--budget", 0.02, "--repeats", 1,
         "--labels-per-class", 4, "--workdir", path, "-q"])
    run(["verify", STUDY, "--top", 1, "--repeats", 2, "--workdir", path])
    return path


def commands(workdir):
    return {
        "studies": ["studies", "--workdir", workdir],
        "show": ["show", STUDY, "--workdir", workdir],
        "verify": ["verify", STUDY, "--top", 1, "--repeats", 2, "--workdir", workdir],  # the stored result
        "methods": ["methods"],
        "datasets": ["datasets"],
        "reproduce": ["reproduce", "--list"],
    }


def numbers_of(payload) -> list[str]:
    """Every float of the JSON form, as a table shows it (4 decimals, or 3 significant digits when small)."""
    from automl_har.cli._tables import format_value

    found = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, float):
            found.append(format_value(value))

    walk(payload)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", ["studies", "show", "verify", "methods", "datasets", "reproduce"])
def test_each_table_at_80_columns_and_piped_keeps_every_number_whole(workdir, name):
    args = commands(workdir)[name]
    data = json.loads(run([*args, "--json"]))
    if name == "verify":  # its cells are "mean ± std", each whole on one line too
        numbers = [f"{c[f'{m}_mean']:.4f} ± {c[f'{m}_std']:.4f}" for c in data["configs"].values()
                   for m in ("val_macro_f1", "val_accuracy", "test_macro_f1", "test_accuracy")]
    elif name == "datasets":  # rates read as 64 or 31.25
        numbers = [f"{rate:g}" for row in data["rows"] for rate in row["rates_hz"] or ()]
    else:
        numbers = numbers_of(data["rows"])
    assert numbers or name in ("datasets", "methods"), data
    for env in ({"COLUMNS": "80"}, TERMINAL_80):  # piped, then an 80-column terminal
        text = run(args, env)
        lines = text.splitlines()
        for number in numbers:  # on one line, never "0.4" / "225"
            assert any(number in line for line in lines), (number, text)
        if env is TERMINAL_80:
            assert not BOX & set(text)  # a table that fits is drawn with plain rules; one that does not, as blocks
    piped = run(args)
    assert not BOX & set(piped) and "\x1b" not in piped
    if name in ("studies", "show", "methods", "reproduce"):  # piped: the title, the header, then one line per row
        first = {"studies": "study", "show": "trial", "methods": "name", "reproduce": "name"}[name]
        lines = piped.splitlines()
        for index, row in enumerate(data["rows"]):
            assert lines[2 + index].split()[0].rstrip("*") == str(row[first]), piped


def test_the_json_forms_hold_raw_values(workdir):
    studies = json.loads(run(["studies", "--workdir", workdir, "--json"]))
    (row,) = studies["rows"]
    assert row["study"] == STUDY and row["trials"] == 3 and isinstance(row["best_val_macro_f1"], float)
    shown = json.loads(run(["show", STUDY, "--workdir", workdir, "--json"]))
    assert [r["trial"] for r in shown["rows"]] == [0, 1, 2] and shown["best"]["trial"] in (0, 1, 2)
    assert isinstance(shown["rows"][0]["params"]["lr"], float) and shown["verify"]["verdict"]
    methods = json.loads(run(["methods", "--json"]))
    assert {r["name"] for r in methods["rows"]} >= {"supervised", "mesen"}
    assert all(isinstance(r["tags"]["multimodal"], bool) for r in methods["rows"])
    targets = json.loads(run(["reproduce", "--list", "--json"]))
    assert {"cosmo-utd", "mesen-utd-imu"} <= {r["name"] for r in targets["rows"]}
    datasets = json.loads(run(["datasets", "--json"]))
    assert any(r["name"] == "watch" and r["found"] is True for r in datasets["rows"])
    verified = json.loads(run(["verify", STUDY, "--top", 1, "--repeats", 2, "--workdir", workdir, "--json"]))
    assert set(verified["configs"]) >= {"defaults"} and "verdict" in verified


def test_suggested_commands_stay_whole_at_80_columns(workdir):
    text = run(["search", "-m", "supervised", "-d", "synthetic", "--trials", 3, "--budget", 0.02, "--repeats", 1,
                "--labels-per-class", 4, "--workdir", workdir], TERMINAL_80)
    command = f"autohar verify {STUDY} --workdir {workdir}"
    assert any(line.strip() == command for line in text.splitlines()), text
    not_verified = run(["show", STUDY, "--workdir", workdir], TERMINAL_80)
    assert "last verify" in not_verified  # the module's study was verified: its verdict, not the suggestion
