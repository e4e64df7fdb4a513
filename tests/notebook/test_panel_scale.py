"""The panel with many entries and many calls: bounded drawing, in an IPython shell.

Timings are not asserted (two shared cores make them flaky); what is asserted is what
keeps the panel fast: how many widget rows it draws and how often it redraws. The
figures for 10,000 entries come from ``benchmarks/panel_scale.py``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from checkpointing import PickleFileCache
from checkpointing.interfaces import CallRecord, entry_info
from ipython_ext.panel import CheckpointPanel, SessionRecord


def _fill(cache: PickleFileCache, count: int, functions: int) -> None:
    """Store ``count`` small entries spread over ``functions`` functions."""
    for n in range(count):
        key = f"k{n}"
        record = CallRecord(f"__main__.func{n % functions}", f"n={n}", 0.5, {})
        cache.save_entry(key, n, entry_info(key, record))


def _with_class(root: Any, name: str) -> list[Any]:
    """Return the widgets under ``root`` with the DOM class ``name``."""
    found = [root] if name in getattr(root, "_dom_classes", ()) else []
    for child in getattr(root, "children", ()):
        found.extend(_with_class(child, name))
    return found


def _text(row: Any) -> str:
    """Return the HTML text of an entry or "Show more" row."""
    return str(row.children[0].value)


def test_many_entries_draw_a_bounded_number_of_rows(
    shell: Any, run_cell: Any, tmp_path: Path
) -> None:
    """2,000 entries over 3 functions draw one page per function; a delete keeps the rest."""
    cache = PickleFileCache(tmp_path / "big")
    _fill(cache, 2000, 3)
    shell.user_ns["cache"] = cache
    shell.user_ns["record"] = SessionRecord()  # only this test's caches
    shown = run_cell(
        shell,
        "from ipython_ext.panel import CheckpointPanel\nCheckpointPanel([cache], record=record)",
    )
    try:
        ours = [r for r in _with_class(shown.widget, "checkpointing-entry") if "n=" in _text(r)]
        assert len(ours) == 3 * shown.max_rows
        more = [
            r for r in _with_class(shown.widget, "checkpointing-more") if "more entries" in _text(r)
        ]
        assert len(more) == 3
        assert "2000 entries" in shown.cache_box.children[0].value
        assert shown.entries.box.layout.overflow == "auto"  # its own scroll area
        first = shown.listings[0].rows[0].info.context_id
        shown.delete_entry(cache, first)
        assert len(cache.entries()) == 1999
        assert len(shown.listings[0].rows) == 1999
        assert "1999 entries" in shown.cache_box.children[0].value
    finally:
        shown.close()


def test_a_loop_of_cheap_misses_is_drawn_in_batches(
    shell: Any, run_cell: Any, tmp_path: Path
) -> None:
    """200 trivial misses in one cell redraw the counters a few times a second, not 200 times."""
    run_cell(shell, "from checkpointing import checkpoint\n@checkpoint()\ndef f(i):\n    return i")
    shown = CheckpointPanel(record=SessionRecord())
    draws: list[float] = []
    shown.summary.observe(lambda change: draws.append(time.monotonic()), names="value")
    try:
        start = time.monotonic()
        run_cell(shell, "for i in range(200):\n    f(i)")
        elapsed = time.monotonic() - start
        # A few draws a second while the cell runs, plus the one after it.
        assert len(draws) <= 4 * elapsed + 2, (len(draws), elapsed)
        assert shown.summary.value.count("200 misses") == 1  # the last draw has every call
    finally:
        shown.close()
