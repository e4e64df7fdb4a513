"""The example notebooks run, and their saved outputs prove caching across a restart.

Each notebook runs once in a fresh directory (everything computed), then again in a new
kernel through pytest-notebook's ``nb_regression``, whose outputs must equal the saved
ones: results loaded from the cache and ``%%checkpoint`` cells replayed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# What changes between runs by design: widget model ids and the interpreter's version.
IGNORED = (
    "/metadata/language_info",
    "/metadata/widgets",
    "/cells/*/outputs/*/data/application/vnd.jupyter.widget-view+json",
)


# What a replay note says of one particular run: when it was stored, how long it took.
_NOTE_TIMES = (
    (r"stored \d{4}-\d\d-\d\d \d\d:\d\d", "stored DATE"),
    # "<1 ms" may be written "&lt;1 ms" in HTML: the "<" is part of the time.
    (r"the run took (?:<|&lt;)?[^,;<]+", "the run took TIME"),
    (r"loaded in (?:<|&lt;)?[^,;<]+", "loaded in TIME"),
)
REPLACED = tuple(
    (f"/cells/*/outputs/*/data/{kind}", pattern, replacement)
    for kind in ("text/plain", "text/html")
    for pattern, replacement in _NOTE_TIMES
)


def _ignored(name: str) -> tuple[str, ...]:
    """Add the plain-text form of the panel widget, whose contents are live data."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    panels = [
        f"/cells/{index}/outputs/*/data/text/plain"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.startswith("%checkpoint_panel")
    ]
    return IGNORED + tuple(panels)


def _texts(notebook: nbformat.NotebookNode) -> str:
    """Join every stream and plain-text output of ``notebook``."""
    parts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _first_run(name: str, cwd: Path) -> str:
    """Run notebook ``name`` in a new kernel in ``cwd``; return its output text."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    return _texts(notebook)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "computed"),
    [
        ("quickstart.ipynb", ["computing slow_square(12)"]),
        ("tour.ipynb", ["preparing ...", "miss: cell:totals", "miss: __main__.prepare"]),
    ],
)
def test_saved_outputs_are_those_of_a_run_after_a_restart(
    name: str, computed: list[str], nb_regression: Any, tmp_path: Path
) -> None:
    """First run computes; a second kernel in the same folder reproduces the saved hits."""
    first = _first_run(name, tmp_path)
    for text in computed:
        assert text in first
    assert "loaded from cache" not in first

    nb_regression.exec_cwd = str(tmp_path)
    nb_regression.diff_ignore = _ignored(name)
    nb_regression.diff_replace = REPLACED
    result = nb_regression.check(str(NOTEBOOKS / name))
    second = _texts(result.nb_final)
    assert second.count("computing slow_square(12)") == (name == "quickstart.ipynb")  # .rerun
    assert "preparing ..." not in second
    assert "miss:" not in second
