"""Draw the caches' entries as rows of widgets, reusing the rows that stay on screen.

:class:`EntryList` is the "Cache contents" part of :class:`ipython_ext.panel.CheckpointPanel`:
a title per cache, a column header, a heading with a "Clear function" button per function
and a row with a "Delete" button per entry. The panel decides when to redraw and what the
buttons do; the HTML of each row comes from :mod:`ipython_ext.panel.html`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, cast

from ipython_ext.panel.html import (
    BORDER,
    HEADER_CELLS,
    cache_title_html,
    entry_html,
    group_html,
    more_html,
    no_match_html,
    row_html,
)
from ipython_ext.panel.model import CacheListing, EntryRow, cache_key
from ipython_ext.panel.text import display_name


def _widgets() -> Any:
    """Return ipywidgets, imported when a panel is first drawn (never when the extension loads)."""
    import ipywidgets

    return ipywidgets


__all__ = ["EntryList", "close_widget"]

_BUTTON_WIDTH = 124


@dataclass
class _Row:
    """One drawn row of the listing: its box, the HTML whose text changes, all its widgets."""

    box: Any
    text: Any
    parts: list[Any]


def close_widget(widget: Any) -> None:
    """Close a widget and the layout and style models ipywidgets created for it."""
    for part in ("layout", "style"):
        sub = getattr(widget, part, None)
        if sub is not None:
            sub.close()
    widget.close()


class EntryList:
    """Show cache listings in :attr:`box`, one widget row per cache, function and entry.

    Only a page of each function's entries is drawn, and a page of functions per cache:
    a "Show more" row under each adds the next page, so every entry can be reached
    without drawing ten thousand rows of widgets (each one a message to the browser).
    :attr:`query` keeps the entries whose function name or argument summary contains
    it. The box scrolls on its own, so the panel keeps its height however much is shown.

    The buttons call ``on_clear(key, function)`` and ``on_delete(key, context_id)`` with
    the :func:`~ipython_ext.panel.model.cache_key` of their cache, not the cache itself:
    holding it would keep a dropped in-memory cache, which the session record only
    references weakly, alive for ever.
    """

    def __init__(
        self,
        on_clear: Callable[[Hashable, str], None],
        on_delete: Callable[[Hashable, Any], None],
        on_clear_outdated: Callable[[Hashable, str], None] | None = None,
        page: int = 20,
        group_page: int = 30,
    ) -> None:
        w = _widgets()
        self.box = w.VBox(layout=w.Layout(max_height="420px", overflow="auto"))
        self.box.add_class("checkpointing-entries")
        self.page = page
        self.group_page = group_page
        self.query = ""
        self._on_clear = on_clear
        self._on_delete = on_delete
        self._on_clear_outdated = on_clear_outdated
        self._rows: dict[Hashable, _Row] = {}
        self._listings: list[CacheListing] = []
        self._shown: dict[Hashable, int] = {}  # entries shown per (cache, function)
        self._groups_shown: dict[Hashable, int] = {}  # functions shown per cache

    def draw(self, listings: list[CacheListing] | None = None) -> None:
        """Draw ``listings`` (default: the last ones drawn), reusing rows, closing the rest.

        Rows are keyed by cache, function and entry, so a redraw after a hit changes one
        text instead of re-creating every widget.
        """
        if listings is not None:
            self._listings = listings
        previous, self._rows = self._rows, {}
        order: list[Any] = []

        def place(key: Hashable, text: str, build: Callable[..., _Row], *args: Any) -> _Row:
            row = previous.pop(key, None) or build(*args)
            if row.text.value != text:
                row.text.value = text
            self._rows[key] = row
            order.append(row.box)
            return row

        now = time.time()
        query = self.query.strip().lower()
        for listing in self._listings:
            key = cache_key(listing.cache)
            place(("cache", key), cache_title_html(listing), self._text_row)
            groups = [(f, _matching(f, rows, query)) for f, rows in listing.groups()]
            groups = [(f, rows) for f, rows in groups if rows]
            if not groups:
                if listing.rows and query:
                    place(("nomatch", key), no_match_html(self.query), self._text_row)
                continue
            largest = max(r.info.size for _, rows in groups for r in rows)
            place(("columns", key), row_html(HEADER_CELLS, header=True), self._columns_row)
            group_limit = self._groups_shown.get(key, self.group_page)
            for function, rows in groups[:group_limit]:
                group = place(
                    ("group", key, function),
                    group_html(function, rows),
                    self._group_row,
                    key,
                    function,
                )
                # The "Clear outdated" button shows only where there is something to clear.
                shown = "" if any(r.outdated for r in rows) else "none"
                if group.parts[1].layout.display != shown:
                    group.parts[1].layout.display = shown
                limit = self._shown.get((key, function), self.page)
                for row in rows[:limit]:
                    context_id = row.info.context_id
                    place(
                        ("entry", key, _hashable(context_id)),
                        entry_html(row, largest, now),
                        self._entry_row,
                        key,
                        context_id,
                    )
                if len(rows) > limit:
                    place(
                        ("more", key, function),
                        more_html(len(rows) - limit, "entry", "entries"),
                        self._more_row,
                        (key, function),
                        self._shown,
                        self.page,
                    )
            if len(groups) > group_limit:
                place(
                    ("more-groups", key),
                    more_html(len(groups) - group_limit, "function", "functions"),
                    self._more_row,
                    key,
                    self._groups_shown,
                    self.group_page,
                )
        if list(self.box.children) != order:
            self.box.children = order
        for gone in previous.values():
            for widget in gone.parts:
                close_widget(widget)

    def release(self) -> None:
        """Let go of the listings drawn (a dropped in-memory cache must be able to go)."""
        self._listings = []

    def filter(self, query: str) -> None:
        """Show only the entries whose function or arguments contain ``query``, and redraw."""
        self.query = query
        self.draw()

    def _more_row(self, slot: Hashable, counts: dict[Hashable, int], page: int) -> _Row:
        """Build a "Show more" row that adds a page to ``counts[slot]`` and redraws."""
        w = _widgets()
        text = w.HTML(layout=_fill())
        button = w.Button(
            description="Show more",
            tooltip="Show the next page of this list",
            layout=w.Layout(width=f"{_BUTTON_WIDTH}px", height="26px"),
        )

        def more(_: Any) -> None:
            counts[slot] = counts.get(slot, page) + max(page, 50)
            self.draw()

        button.on_click(more)
        box = w.HBox([text, button], layout=_indent())
        box.add_class("checkpointing-more")
        return _Row(box, text, [text, button, box])

    def close(self) -> None:
        """Close every row and the box; the list disappears."""
        for row in self._rows.values():
            for widget in row.parts:
                close_widget(widget)
        self._rows = {}
        close_widget(self.box)

    def _text_row(self) -> _Row:
        w = _widgets()
        text = w.HTML(layout=w.Layout(flex="0 0 auto"))
        return _Row(text, text, [text])

    def _columns_row(self) -> _Row:
        w = _widgets()
        text = w.HTML(layout=_fill())
        # The spacer stands where the rows have their buttons, so the columns line up.
        spacer = w.Box(layout=w.Layout(flex=f"0 0 {_BUTTON_WIDTH + 4}px"))
        box = w.HBox([text, spacer], layout=_indent())
        return _Row(box, text, [text, spacer, box])

    def _group_row(self, key: Hashable, function: str) -> _Row:
        """Build a function's heading row, its "Clear outdated" and "Clear function" buttons."""
        w = _widgets()
        text = w.HTML(layout=_fill())
        outdated = w.Button(
            description="Clear outdated",
            tooltip=f"Delete the entries of {display_name(function)} its current code cannot hit",
            layout=w.Layout(width=f"{_BUTTON_WIDTH}px", height="26px", display="none"),
        )
        if self._on_clear_outdated is not None:
            on_clear_outdated = self._on_clear_outdated
            outdated.on_click(lambda _: on_clear_outdated(key, function))
        button = w.Button(
            description="Clear function",
            tooltip=f"Delete every entry of {display_name(function)} in this cache",
            layout=w.Layout(width=f"{_BUTTON_WIDTH}px", height="26px"),
        )
        button.on_click(lambda _: self._on_clear(key, function))
        box = w.HBox(
            [text, outdated, button],
            layout=w.Layout(
                align_items="center",
                border_top=f"1px solid {BORDER}",
                margin="4px 0 0 0",
                flex="0 0 auto",
            ),
        )
        box.add_class("checkpointing-group")
        return _Row(box, text, [text, outdated, button, box])

    def _entry_row(self, key: Hashable, context_id: Any) -> _Row:
        """Build one entry's row and its "Delete" button."""
        w = _widgets()
        text = w.HTML(layout=_fill())
        button = w.Button(
            description="Delete",
            tooltip="Delete this entry",
            layout=w.Layout(width=f"{_BUTTON_WIDTH}px", height="26px"),
        )
        button.on_click(lambda _: self._on_delete(key, context_id))
        box = w.HBox([text, button], layout=_indent())
        box.add_class("checkpointing-entry")
        return _Row(box, text, [text, button, box])


def _fill() -> Any:
    """Let a widget take the free width of its row, and shrink below its content."""
    return _widgets().Layout(flex="1 1 auto", min_width="0")


def _indent() -> Any:
    """Lay out an entry row (or its header) indented under its function."""
    # flex 0 0 auto: in the scrolling column, rows keep their height instead of shrinking.
    return _widgets().Layout(align_items="center", padding="0 0 0 16px", flex="0 0 auto")


def _matching(function: str, rows: list[EntryRow], query: str) -> list[EntryRow]:
    """Return the rows a (lower-cased) filter keeps: all when the function name matches."""
    if not query or query in display_name(function).lower():
        return rows
    return [r for r in rows if query in r.info.arguments.lower()]


def _hashable(context_id: Any) -> Hashable:
    """Return ``context_id`` as a dictionary key; unhashable ids key by their repr."""
    try:
        hash(context_id)
    except TypeError:
        return ("repr", repr(context_id))
    return cast(Hashable, context_id)
