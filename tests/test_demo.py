"""The demo that ``make demo`` runs works: computed once, then loaded in a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_demo_computes_once_then_loads_from_the_cache_in_new_processes() -> None:
    """The demo exits 0 (it checks every step itself) and reports the time saved."""
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "saved" in run.stdout.lower()
    assert run.stdout.count("computing slow_total for real") == 2  # first run, logic edit
