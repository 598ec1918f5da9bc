"""`autohar ui` seen in a real headless Chromium: the URL it prints first opens on the study's trial
runs, one row per trial, best validation macro-F1 first, with a column for that metric, on first
load (no click); the parent run and an export run are not among the rows; the study's parent-run
URL opens that run. A screenshot of the first load is written to $AUTOHAR_UI_SCREENSHOT (or the
test's tmp folder).

Skips, saying why, when no Chromium is installed (`apt-get install chromium`, as CI does) or the
Playwright driver (a test dependency) is missing. The page is read as a user sees it (its text),
not through MLflow's REST API.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from automl_har.cli.main import app

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)
STUDY = "uistudy"
PAGE_WAIT_MS = 120_000  # a safety net for a loaded machine: every wait below returns as soon as the text is there
URL_LINE = re.compile(r"(MLflow UI|study \S+ trials|study \S+): (http://\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UiProcess:
    """`autohar ui` in its own process; ``urls`` fills in as it prints them."""

    def __init__(self, workdir, port: int) -> None:
        command = [sys.executable, "-m", "automl_har.cli.main", "ui", "--workdir", str(workdir), "--port", str(port),
                   "--study", STUDY]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "COLUMNS": "400"})
        self.urls: dict[str, str] = {}
        self.output: list[str] = []
        self.printed_both = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if match := URL_LINE.search(line):
                kind = {"MLflow UI": "runs"}.get(match.group(1), "trials" if match.group(1).endswith("trials") else "parent")
                self.urls[kind] = match.group(2)
            if len(self.urls) == 3:
                self.printed_both.set()
        self.printed_both.set()  # it exited: the test reports its output

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed; `apt-get install chromium` to run this test")
def test_ui_opens_on_the_studys_trials_sorted_with_their_metric_column(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the Playwright driver is missing: pip install -e '.[test]'")
    result = CliRunner().invoke(app, ["search", "--method", "supervised", "--dataset", "synthetic", "--trials", "3",
                                      "--budget", "0.03", "--repeats", "1", "--labels-per-class", "5", "--study", STUDY,
                                      "--quiet", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    exported = CliRunner().invoke(app, ["export", STUDY, "--out", str(tmp_path / "bundle"), "--workdir", str(tmp_path)])
    assert exported.exit_code == 0, exported.output  # an export run, which must not mix with the trials
    import optuna

    from automl_har.storage import open_storage
    from automl_har.workspace import Workspace

    study = optuna.load_study(study_name=STUDY, storage=open_storage(Workspace.resolve(tmp_path).optuna_storage_url))
    value_of = {f"trial-{t.number}": t.value for t in study.trials}
    best_first = sorted(value_of, key=lambda name: -value_of[name])
    ui = UiProcess(tmp_path, free_port())
    try:
        assert ui.printed_both.wait(timeout=PAGE_WAIT_MS / 1000) and len(ui.urls) == 3, "".join(ui.output)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(ui.urls["trials"])
            for name in best_first:  # every trial is a row on first load: nothing folded under the parent
                page.locator('[role="row"]', has_text=name).first.wait_for(timeout=PAGE_WAIT_MS)
            page.get_by_text("val_macro_f1_mean").first.wait_for(timeout=PAGE_WAIT_MS)  # the metric's column
            page.screenshot(path=os.environ.get("AUTOHAR_UI_SCREENSHOT") or str(tmp_path / "ui.png"))
            rows = [row for row in page.locator('[role="row"]').all_inner_texts() if "trial-" in row or STUDY in row]
            shown = [next(name for name in best_first if name in row) for row in rows if "trial-" in row]
            assert sorted(shown) == sorted(best_first)
            values = [value_of[name] for name in shown]
            assert values == sorted(values, reverse=True)  # sorted by the search value, best first (ties in any order)
            assert not any(row.strip().startswith(STUDY) or "export" in row for row in rows)  # no parent, no export

            page.goto(ui.urls["parent"])
            page.get_by_text(STUDY).first.wait_for(timeout=PAGE_WAIT_MS)
            page.get_by_text("Child runs").first.wait_for(timeout=PAGE_WAIT_MS)  # the parent run's page
            browser.close()
    finally:
        code = ui.stop()
    assert code == 0, "".join(ui.output)
