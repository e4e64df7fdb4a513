"""The cache panel says why each entry was computed: what differed from an earlier one."""

from __future__ import annotations

from pathlib import Path

from checkpointing import PickleFileCache, checkpoint
from ipython_ext.panel import CheckpointPanel, SessionRecord, list_caches

SCALE = 2


def test_each_entry_row_says_why_it_was_computed(tmp_path: Path) -> None:
    """The first entry has no reason; later ones name the argument or global that differed."""
    global SCALE
    cache = PickleFileCache(tmp_path / "c")

    @checkpoint(cache=cache)
    def scaled(x: int) -> int:
        return x * SCALE

    scaled(1)
    scaled(2)
    SCALE = 3
    try:
        scaled(2)
    finally:
        SCALE = 2
    (listing,) = list_caches([cache], SessionRecord())
    reasons = sorted(row.reason for row in listing.rows)
    assert reasons == ["", "argument 'x' differs", "global 'SCALE' changed"]

    shown = CheckpointPanel([cache], record=SessionRecord(), live_interval=0, refresh_interval=0)
    try:
        html_text = str(shown.listings) + "".join(
            str(getattr(child, "value", "")) for child in _walk(shown.widget)
        )
        assert "global &#x27;SCALE&#x27; changed" in html_text
    finally:
        shown.close()


def _walk(widget: object) -> list[object]:
    """List a widget and everything below it."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += _walk(child)
    return found
