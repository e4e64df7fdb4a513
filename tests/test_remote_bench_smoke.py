"""The remote benchmark cases (``python -m benchmarks.remote``) run end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.scriptcase import REPO_ROOT


@pytest.mark.slow
def test_remote_benchmark_smoke() -> None:
    """Small and array hits on Redis and S3 are measured beside a bare GET of each engine."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.remote", "--smoke"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = [line.split("  ")[0] for line in done.stdout.splitlines()[1:]]
    assert names == ["Redis small hit", "Redis 1 MB array hit", "S3 small hit", "S3 1 MB array hit"]
    assert all(line.rstrip().endswith("x") for line in done.stdout.splitlines()[1:])
