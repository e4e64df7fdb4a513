"""``%%checkpoint --explain``: why a cell would re-run, in IPython's own shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checkpointing.explain import Explanation

COUNT = "_f = open('runs.txt', 'a'); _f.write('x'); _f.close(); del _f\n"
CELL = "%%checkpoint{options}\n" + COUNT + "z = y * 2\n"


def _runs(path: Path) -> int:
    counter = path / "runs.txt"
    return len(counter.read_text()) if counter.exists() else 0


def _explain(
    shell: Any, run_cell: Any, body: str = "z = y * 2\n", options: str = ""
) -> Explanation:
    value = run_cell(
        shell, CELL.format(options=" --explain" + options).replace("z = y * 2\n", body)
    )
    assert isinstance(value, Explanation)
    return value


def test_explain_says_nothing_changed_for_a_stored_cell(
    shell: Any, run_cell: Any, tmp_path: Path
) -> None:
    """A cell that would be replayed is reported as a hit; explaining runs nothing."""
    run_cell(shell, "y = 1")
    run_cell(shell, CELL.format(options=""))
    report = _explain(shell, run_cell)
    assert report.hit
    assert str(report).startswith("nothing changed")
    assert _runs(tmp_path) == 1


def test_explain_names_a_changed_input(shell: Any, run_cell: Any, tmp_path: Path) -> None:
    """A changed input variable is named; the cell does not run."""
    run_cell(shell, "y = 1")
    run_cell(shell, CELL.format(options=""))
    run_cell(shell, "y = 2")
    report = _explain(shell, run_cell)
    assert not report.hit
    assert [(c.kind, c.name) for c in report.changes] == [("global", "y")]
    assert "global 'y' changed" in str(report)
    assert _runs(tmp_path) == 1


def test_explain_shows_a_diff_of_the_edited_cell(shell: Any, run_cell: Any) -> None:
    """An edited cell body is reported as a code change with a diff."""
    run_cell(shell, "y = 1")
    run_cell(shell, CELL.format(options=""))
    report = _explain(shell, run_cell, body="z = y * 3\n")
    assert "code of cell changed" in str(report)
    assert "-z = y * 2" in str(report)
    assert "+z = y * 3" in str(report)


def test_explain_of_a_never_run_cell(shell: Any, run_cell: Any) -> None:
    """A cell with no stored run at all is "never called"."""
    run_cell(shell, "y = 1")
    report = _explain(shell, run_cell)
    assert not report.hit
    assert report.entries == 0
    assert str(report).startswith("never called")


def test_line_form_takes_explain_too(shell: Any, run_cell: Any) -> None:
    """``%checkpoint --explain stmt`` explains one statement without running it."""
    run_cell(shell, "y = 5")
    run_cell(shell, "%checkpoint w = y + 1")
    run_cell(shell, "y = 6")
    report = run_cell(shell, "%checkpoint --explain w = y + 1")
    assert isinstance(report, Explanation)
    assert "global 'y' changed" in str(report)
    assert run_cell(shell, "w") == 6
