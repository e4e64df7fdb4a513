"""The benchmark suite still runs: every case and floor, at smoke sizes (no thresholds)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cases import CASES
from benchmarks.floor import FLOORS
from benchmarks.libraries import LIBRARIES

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    """Run ``python -m benchmarks --smoke --big`` once; return its table and its JSON."""
    path = tmp_path_factory.mktemp("bench") / "smoke.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--big", "--json", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout, json.loads(path.read_text())


@pytest.mark.slow
def test_the_table_has_a_row_with_figures_for_every_case_and_floor(smoke_run) -> None:
    """Each case's row shows a median for both libraries; each floor has a row."""
    table, _ = smoke_run
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        found = re.search(r"`([^`]+)`$", cells[0]) if cells else None
        if found:
            rows[found.group(1)] = cells
    for name in CASES:
        cells = rows[name]
        assert cells[1], f"{name}: no checkpointing median in {cells}"
        assert cells[2], f"{name}: no joblib median in {cells}"
        assert "failed" not in cells, cells
    for name in FLOORS:
        assert name in rows, f"floor {name} missing from the table"


@pytest.mark.slow
def test_the_json_holds_every_sample_of_every_case_and_the_targets(smoke_run) -> None:
    """The JSON records positive medians and their samples for each case and library."""
    _, document = smoke_run
    assert set(document["cases"]) == set(CASES)
    for name, case in document["cases"].items():
        assert set(case["results"]) == set(LIBRARIES), name
        for library, outcome in case["results"].items():
            assert "error" not in outcome, (name, library, outcome)
            assert outcome["median"] > 0, (name, library)
            assert len(outcome["values"]) >= 2, (name, library)
    assert set(document["floors"]) == set(FLOORS)
    assert document["meta"]["plan"] == "smoke"
    assert len(document["targets"]) >= 8
    assert all(t["met"] is not None for t in document["targets"])
