"""`autohar ui` seen in a real headless Chromium: the printed runs page shows the study's parent
run and, expanded, its two nested trial runs; the study's parent-run URL opens that run.

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
URL_LINE = re.compile(r"(MLflow UI|study \S+): (http://\S+)")


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
                self.urls["runs" if match.group(1) == "MLflow UI" else "parent"] = match.group(2)
            if len(self.urls) == 2:
                self.printed_both.set()
        self.printed_both.set()  # it exited: the test reports its output

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed; `apt-get install chromium` to run this test")
def test_ui_runs_page_in_a_browser_shows_the_parent_run_and_its_two_trial_runs(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the Playwright driver is missing: pip install -e '.[test]'")
    result = CliRunner().invoke(app, ["search", "--method", "supervised", "--dataset", "synthetic", "--trials", "2",
                                      "--budget", "0.03", "--repeats", "1", "--labels-per-class", "5", "--study", STUDY,
                                      "--quiet", "--workdir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ui = UiProcess(tmp_path, free_port())
    try:
        assert ui.printed_both.wait(timeout=PAGE_WAIT_MS / 1000) and len(ui.urls) == 2, "".join(ui.output)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(ui.urls["runs"])
            parent_row = page.locator('[role="row"]', has_text=STUDY)
            parent_row.first.wait_for(timeout=PAGE_WAIT_MS)
            # still the training runs (MLflow adds its filters to the URL), not redirected to the GenAI overview
            assert page.url.split("#")[1].split("?")[0] == ui.urls["runs"].split("#")[1]
            assert "trial-0" not in page.inner_text("body")  # nested under the parent until expanded
            parent_row.first.locator("button").first.click()  # the row's expander
            page.locator('[role="row"]', has_text="trial-1").first.wait_for(timeout=PAGE_WAIT_MS)
            rows = page.locator('[role="row"]').all_inner_texts()
            assert [name for name in (STUDY, "trial-0", "trial-1") if any(name in row for row in rows)] == \
                [STUDY, "trial-0", "trial-1"]

            page.goto(ui.urls["parent"])
            page.get_by_text(STUDY).first.wait_for(timeout=PAGE_WAIT_MS)
            page.get_by_text("Child runs").first.wait_for(timeout=PAGE_WAIT_MS)  # the parent run's page
            browser.close()
    finally:
        code = ui.stop()
    assert code == 0, "".join(ui.output)
