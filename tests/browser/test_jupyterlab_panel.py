"""The cache panel in a real JupyterLab, driven through Debian's chromium by Playwright.

The recipe is the one in the notebook spec: a JupyterLab started by the test on
127.0.0.1 with a free port and a token, every Jupyter and IPython folder in a temporary
directory, the news toast switched off, and chromium launched from ``/usr/bin/chromium``
(never ``playwright install``). In CI (``CI=true``) a missing browser fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / ".artifacts"
STARTUP_TIMEOUT = 90.0
UI_TIMEOUT = 60_000  # ms; the first widget render waits for the kernel and the widget manager

CELLS = [
    "%load_ext checkpointing",
    (
        "import time\n"
        "from checkpointing import checkpoint\n"
        "\n"
        "@checkpoint()\n"
        "def slow_square(x):\n"
        "    time.sleep(0.3)\n"
        "    return x * x"
    ),
    "print(slow_square(12), slow_square(12))",
    "from ipython_ext.panel import show_panel; show_panel()",
    "slow_square(12)",
]


def in_ci() -> bool:
    """Tell whether we run in CI, where the browser test must run rather than skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip for lack of a prerequisite on a developer machine; fail in CI."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI must run the browser test, but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port nobody listens on now (JupyterLab binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    """A running JupyterLab: where to reach it and what it serves."""

    url: str
    token: str
    root: Path
    log: Path


def write_notebook(path: Path) -> None:
    """Write the notebook the browser runs; its kernelspec avoids the kernel picker."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in CELLS],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.write(notebook, path)


def lab_environment(base: Path) -> dict[str, str]:
    """Point every Jupyter and IPython folder into ``base`` and silence the news toast."""
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        folder = base / name.lower()
        folder.mkdir()
        env[name] = str(folder)
    settings = base / "jupyter_config_dir" / "lab" / "user-settings" / "@jupyterlab"
    notification = settings / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # silences jupyter_core's migration notice
    # The kernel spec says "python": make it this virtual environment's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``/api/status`` until the server answers; fail early if it exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.25)
    pytest.fail(f"JupyterLab did not answer within {STARTUP_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def chromium() -> Path:
    """Return Debian's chromium, once Playwright is known to be there to drive it."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "the playwright package is missing (pip install playwright)")
    return CHROMIUM


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """Start JupyterLab on a free local port over a folder holding the notebook."""
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "panel.ipynb")
    env = lab_environment(tmp_path)
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(process, f"{url}/api/status?token={token}", log)
        yield Lab(url, token, root, log)
    finally:
        # SIGTERM by PID: the server shuts its kernels down with it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def save_artifact(source: Path) -> None:
    """Copy a screenshot to ``.artifacts/`` in the repository when that folder is writable."""
    with contextlib.suppress(OSError):
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(source, ARTIFACTS / source.name)


def wait_for_kernel(page: Any) -> None:
    """Wait until the notebook's kernel is connected and idle.

    The execution indicator alone is not enough: it reads ``idle`` while the status bar
    still says "No Kernel | Initializing", and a cell run then is silently not executed.
    """
    from playwright.sync_api import expect

    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=UI_TIMEOUT
    )
    status = page.get_by_role("button", name=re.compile(r"^(?!No Kernel).+ \| Idle$"))
    expect(status).to_be_visible(timeout=UI_TIMEOUT)


def run_cell(page: Any, index: int) -> None:
    """Run one cell with Shift+Enter, as a user does, and wait until it has finished.

    A press that JupyterLab ignored leaves the prompt at ``[ ]:`` (a queued cell shows
    ``[*]:`` at once), so pressing again cannot run a cell twice.
    """
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(3):
        cell.locator(".jp-InputArea-editor").click()
        expect(cell.locator(".cm-editor.cm-focused")).to_have_count(1)
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=5_000)
            break
        except AssertionError:
            continue
    expect(prompt).to_have_text(re.compile(r"\[\d+\]:"), timeout=UI_TIMEOUT)


def test_panel_counts_calls_and_clears_an_entry(chromium: Path, lab: Lab, tmp_path: Path) -> None:
    """In JupyterLab the panel shows 1 hit / 1 miss, updates live, and Delete empties the disk."""
    from playwright.sync_api import expect, sync_playwright

    cache_dir = lab.root / ".checkpointing"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(f"{lab.url}/lab/tree/panel.ipynb?token={lab.token}")
            wait_for_kernel(page)
            for index in range(4):
                run_cell(page, index)

            panel = page.locator(".checkpointing-panel")
            expect(panel).to_be_visible(timeout=UI_TIMEOUT)
            row = panel.locator(".checkpointing-function", has_text="slow_square")
            counts = row.locator(".checkpointing-counts")
            expect(counts).to_have_text("1 hit / 1 miss", timeout=UI_TIMEOUT)
            entries = panel.locator(".checkpointing-entry")
            expect(entries).to_have_count(1)
            expect(entries.first).to_contain_text("x=12")

            # A call after the panel is shown updates it live.
            run_cell(page, 4)
            expect(counts).to_have_text("2 hits / 1 miss", timeout=UI_TIMEOUT)
            expect(row.locator(".checkpointing-saved")).to_contain_text("saved")
            assert len(list(cache_dir.glob("*.pickle"))) == 1

            shot = tmp_path / "panel.png"
            panel.screenshot(path=str(shot))
            page.screenshot(path=str(tmp_path / "notebook.png"), full_page=True)
            save_artifact(shot)
            save_artifact(tmp_path / "notebook.png")

            entries.first.locator(".widget-button", has_text="Delete").click()
            expect(entries).to_have_count(0, timeout=UI_TIMEOUT)
            expect(panel).to_contain_text("Deleted 1 entry")
            assert list(cache_dir.glob("*.pickle")) == []
            panel.screenshot(path=str(tmp_path / "panel-after-delete.png"))
            save_artifact(tmp_path / "panel-after-delete.png")
        except BaseException:
            # What the page looked like is the first thing to see when this fails in CI.
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                save_artifact(tmp_path / "failure.png")
            raise
        finally:
            browser.close()


BIG_CELLS = [
    "%load_ext checkpointing",
    (
        "from checkpointing import checkpoint\n"
        "\n"
        "@checkpoint()\n"
        "def small(x):\n"
        "    return x\n"
        "\n"
        "@checkpoint()\n"
        "def model(x):\n"
        "    return [x]\n"
        "\n"
        "[small(i) for i in range(60)], model(1), model(2)"
    ),
    "@checkpoint()\ndef model(x):\n    return [x * 10]\n\nmodel(1)",
    "from ipython_ext.panel import show_panel; show_panel()",
]


def test_panel_scrolls_filters_and_marks_outdated_entries(
    chromium: Path, lab: Lab, tmp_path: Path
) -> None:
    """Many entries stay in a scroll area with Show more; the filter narrows; old code is marked."""
    from playwright.sync_api import expect, sync_playwright

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in BIG_CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(notebook, lab.root / "big.ipynb")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(f"{lab.url}/lab/tree/big.ipynb?token={lab.token}")
            wait_for_kernel(page)
            for index in range(len(BIG_CELLS)):
                run_cell(page, index)
            panel = page.locator(".checkpointing-panel")
            expect(panel).to_be_visible(timeout=UI_TIMEOUT)
            entries = panel.locator(".checkpointing-entry")
            expect(entries).to_have_count(23, timeout=UI_TIMEOUT)  # 20 of small, 3 of model
            expect(panel.locator(".checkpointing-more")).to_contain_text("40 more entries")
            expect(panel.locator(".checkpointing-outdated")).to_have_count(2)
            expect(panel.get_by_role("button", name="Clear 2 outdated")).to_have_count(1)

            area = panel.locator(".checkpointing-entries")
            box = area.bounding_box()
            assert box is not None
            assert box["height"] <= 430  # its own scroll area, not the page's
            sizes = area.evaluate("e => [e.scrollHeight, e.clientHeight]")
            assert sizes[0] > sizes[1], sizes
            shot = tmp_path / "panel-many-entries.png"
            panel.screenshot(path=str(shot))
            save_artifact(shot)

            panel.locator(".checkpointing-more .widget-button").click()
            expect(entries).to_have_count(63, timeout=UI_TIMEOUT)

            search = panel.locator(".checkpointing-filter input")
            search.fill("x=59")
            search.press("Enter")
            expect(entries).to_have_count(1, timeout=UI_TIMEOUT)
            expect(entries.first).to_contain_text("x=59")
            shot = tmp_path / "panel-filtered.png"
            panel.screenshot(path=str(shot))
            save_artifact(shot)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure-big.png"), full_page=True)
                save_artifact(tmp_path / "failure-big.png")
            raise
        finally:
            browser.close()
