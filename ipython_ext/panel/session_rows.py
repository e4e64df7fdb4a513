"""Draw the panel's per-function session counters as widget rows, updated in place.

One row per function or cell seen in this session (name, hit ratio bar, counts, time
saved). Rows are created the first time a function shows up and only their text changes
afterwards, so a live panel does not rebuild its widgets on every call. Widgets are
imported by the caller (the panel), never when the extension loads.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from ipython_ext.panel.html import BAR_WIDTH, MONO_STYLE, elastic_html, ratio_bar_html
from ipython_ext.panel.model import FunctionStats
from ipython_ext.panel.text import count_text, display_name, saved_text

__all__ = ["SessionRows"]


class SessionRows:
    """The rows of ``box``; ``empty`` is shown until the first function appears.

    Every widget made is appended to ``made``, so the panel can close them all.
    """

    def __init__(self, widgets: Any, box: Any, empty: Any, made: list[Any]) -> None:
        self._w = widgets
        self.box = box
        self.empty = empty
        self._made = made
        self._rows: dict[str, tuple[Any, Any, Any, Any]] = {}

    def draw(self, functions: Iterable[FunctionStats]) -> None:
        """Update each function's row in place, adding rows for new functions."""
        any_function = False
        for stats in functions:
            any_function = True
            name, bar, counts, saved = self._row(stats.function)
            shown = html.escape(display_name(stats.function))
            title = html.escape(stats.function)
            name.value = f'<div style="display:flex">{elastic_html(shown, title, MONO_STYLE)}</div>'
            bar.value = ratio_bar_html(stats.hits, stats.computed)
            counts.value = count_text(stats)
            saved.value = saved_text(stats)
        if any_function and self.empty in self.box.children:
            self.box.children = [c for c in self.box.children if c is not self.empty]

    def _row(self, function: str) -> tuple[Any, Any, Any, Any]:
        """Return the widgets of ``function``'s row, making the row on first use."""
        row = self._rows.get(function)
        if row is not None:
            return row
        w = self._w
        name = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0"))
        bar = w.HTML(layout=w.Layout(flex=f"0 0 {BAR_WIDTH + 8}px"))
        # Sized by its text (never cut to "1 uncac"); the name column gives way instead.
        counts = w.Label(layout=w.Layout(flex="0 0 auto", min_width="170px"))
        saved = w.Label(layout=w.Layout(flex="0 0 120px"))
        counts.add_class("checkpointing-counts")
        saved.add_class("checkpointing-saved")
        box = w.HBox([name, bar, counts, saved])
        box.add_class("checkpointing-function")
        row = self._rows[function] = (name, bar, counts, saved)
        self._made.extend([name, bar, counts, saved, box])
        self.box.children = [*self.box.children, box]
        return row
