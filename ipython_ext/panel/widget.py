"""Show the cache panel: ipywidgets around this session's counts and the caches' entries.

:class:`CheckpointPanel` follows ipywidgets' "Variable Inspector" pattern: a plain class
that composes widgets, hooks ``post_run_cell`` when a kernel is running, has ``close()``
and displays itself through ``_repr_mimebundle_``. What it counts and lists comes from
:mod:`ipython_ext.panel.model`, and the HTML of its rows from :mod:`ipython_ext.panel.html`;
this module decides which widgets exist and when they are redrawn (the header is
:mod:`ipython_ext.panel.header`, the session rows :mod:`ipython_ext.panel.session_rows`,
the entry list :mod:`ipython_ext.panel.entries`), and its buttons' deletions go through
:mod:`ipython_ext.panel.pruning`.

Counting starts with :func:`start_session_recording` (the extension calls it when
it loads) or with the first panel, whichever comes first, so a panel shown after some
calls still counts them. The process's :class:`SessionRecord` lives here, beside the
panel :func:`show_panel` made last: both are the state of panels shown by default.
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.events import CheckpointEvent
from ipython_ext.panel.entries import EntryList, close_widget
from ipython_ext.panel.header import PanelHeader
from ipython_ext.panel.html import BORDER, ERROR, MUTED, heading_html, legend_html
from ipython_ext.panel.model import CacheListing, SessionRecord, cache_key, list_caches
from ipython_ext.panel.pruning import call_pruning, delete_all, delete_outdated, without_entry
from ipython_ext.panel.reading import EntryMemo
from ipython_ext.panel.session_rows import SessionRows
from ipython_ext.panel.text import count_text, plural, saved_text


def _widgets() -> Any:
    """Return ipywidgets, imported when a panel is first drawn (never when the extension loads)."""
    import ipywidgets

    return ipywidgets


__all__ = [
    "CheckpointPanel",
    "session_record",
    "show_panel",
    "start_session_recording",
    "stop_session_recording",
]

_SESSION = SessionRecord()
_shown: CheckpointPanel | None = None


def session_record() -> SessionRecord:
    """Return the record of this process that panels show by default."""
    return _SESSION


def start_session_recording() -> None:
    """Count events for panels shown later; the extension calls this when it loads."""
    _SESSION.start()


def stop_session_recording() -> None:
    """Stop counting for future panels (open panels keep counting until closed)."""
    _SESSION.stop()


class CheckpointPanel:
    """Show this session's hits and misses per function, and the caches' entries.

    ``caches`` lists the caches to show besides those seen in events (default: the
    ``PickleFileCache()`` of the current default directory). Counters update on
    event, at most every ``live_interval`` seconds (so a loop of cheap calls is drawn
    in batches, not call by call); the entry listing is re-read at most every
    ``refresh_interval`` seconds, and after each cell. ``max_rows`` is how many entries
    of each function are drawn before a "Show more" row: thousands of rows of widgets
    would slow the browser. ``record`` is the session record to count into (default:
    the process's own).
    """

    def __init__(
        self,
        caches: Iterable[object] | None = None,
        *,
        record: SessionRecord | None = None,
        live_interval: float = 0.25,
        refresh_interval: float = 2.0,
        max_rows: int = 20,
    ) -> None:
        try:
            _widgets()
        except ImportError:
            raise ImportError(
                "the checkpointing panel needs ipywidgets: pip install 'checkpointing[notebook]'"
            ) from None
        if record is None:
            # Once a panel has been shown, later panels count from then on too.
            _SESSION.start()
            record = _SESSION
        self.record = record
        self.caches: list[object] = list(caches) if caches is not None else [PickleFileCache()]
        self.live_interval = live_interval
        self.refresh_interval = refresh_interval
        self.max_rows = max_rows
        self.listings: list[CacheListing] = []
        self.closed = False
        self._lock = threading.RLock()
        self._labels_due = False
        self._entries_due = False
        self._last_labels = 0.0
        self._last_entries = 0.0
        self._refresh_cost = 0.0
        self._memo = EntryMemo()
        self._build()
        self.refresh()
        self._unsubscribe: Callable[[], None] | None = record.watch(self._on_event)
        self._shell = self._hook_cells()

    # -- construction ------------------------------------------------------------------

    def _build(self) -> None:
        """Create the widgets that live as long as the panel."""
        w = _widgets()
        self.header = PanelHeader(
            w,
            on_refresh=self.refresh,
            on_clear_all=self._clear_all_clicked,
            on_clear_outdated=self.clear_outdated,
        )
        # The header's widgets stay reachable where callers and tests have always found them.
        self.title = self.header.title
        self.summary = self.header.summary
        self.refresh_button = self.header.refresh_button
        self.clear_all_button = self.header.clear_all_button
        self.clear_outdated_button = self.header.clear_outdated_button
        self.session_heading = w.HTML(heading_html("Calls in this session", legend_html()))
        self.session_empty = w.HTML(
            f'<span style="color:{MUTED}">No checkpointed call yet in this session.</span>'
        )
        self.session_box = w.VBox([self.session_empty])
        self.cache_heading = w.HTML(heading_html("Cache contents"))
        self.entries = EntryList(
            on_clear=lambda key, function: self._in_cache(key, self.clear_function, function),
            on_delete=lambda key, context_id: self._in_cache(key, self.delete_entry, context_id),
            on_clear_outdated=lambda key, function: self._in_cache(
                key, self.clear_outdated, function
            ),
            page=self.max_rows,
        )
        self.cache_box = self.entries.box
        self.filter_box = w.Text(
            placeholder="Filter entries by function or arguments",
            continuous_update=False,
            layout=w.Layout(width="320px"),
        )
        self.filter_box.add_class("checkpointing-filter")
        self.filter_box.observe(lambda change: self.entries.filter(change["new"]), names="value")
        self.status = w.HTML()
        self.widget = w.VBox(
            [
                self.header.box,
                self.session_heading,
                self.session_box,
                self.cache_heading,
                self.filter_box,
                self.cache_box,
                self.status,
            ],
            layout=w.Layout(
                border=f"1px solid {BORDER}",
                padding="8px 12px",
                max_width="980px",
            ),
        )
        self.widget.add_class("checkpointing-panel")
        self._permanent = [
            *self.header.widgets(),
            self.session_heading,
            self.session_empty,
            self.session_box,
            self.cache_heading,
            self.filter_box,
            self.status,
            self.widget,
        ]
        self._session_rows = SessionRows(w, self.session_box, self.session_empty, self._permanent)

    def _hook_cells(self) -> Any:
        """Flush pending updates after every cell, when running inside IPython."""
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
        if shell is not None:
            shell.events.register("post_run_cell", self._after_cell)
        return shell

    # -- live updates ------------------------------------------------------------------

    def _on_event(self, event: CheckpointEvent) -> None:
        """Redraw what the counted event changed, as often as the intervals allow."""
        with self._lock:
            if self.closed:
                return
            self._labels_due = True
            self._entries_due = True
            now = time.monotonic()
            if now - self._last_entries >= self._refresh_period():
                self.refresh()
            elif now - self._last_labels >= self.live_interval:
                self._draw_session()

    def _refresh_period(self) -> float:
        """Return how long to wait between two re-reads of the caches while calls run.

        Re-reading a big cache directory is slow: a positive ``refresh_interval`` is
        stretched so that re-reading never takes more than a tenth of the time.
        ``0`` re-reads on every event, whatever it costs.
        """
        if self.refresh_interval <= 0:
            return 0.0
        return max(self.refresh_interval, 10 * self._refresh_cost)

    def _after_cell(self, result: object = None) -> None:
        """Draw whatever the throttling held back while the cell ran."""
        with self._lock:
            if self.closed:
                return
            if self._entries_due:
                self.refresh()
            elif self._labels_due:
                self._draw_session()

    def _draw_session(self) -> None:
        """Update the per-function rows and the summary in place, adding new rows."""
        self._labels_due = False
        self._last_labels = time.monotonic()
        functions = self.record.stats.functions()
        self._session_rows.draw(functions)
        self.header.show_summary(functions, self.record.stats.total())

    # -- cache listing -------------------------------------------------------------------

    def all_caches(self) -> list[object]:
        """Return the caches shown: those given, then those seen in events."""
        return [*self.caches, *self.record.caches()]

    def refresh(self) -> None:
        """Re-read every cache and redraw the panel."""
        with self._lock:
            if self.closed:
                return
            start = time.monotonic()
            self._entries_due = False
            self.listings = []  # so a cache dropped since the last refresh can go
            self.entries.release()
            self.listings = list_caches(self.all_caches(), self.record, self._memo)
            self._draw_session()
            self._draw_caches()
            self._last_entries = time.monotonic()
            self._refresh_cost = self._last_entries - start

    def _draw_caches(self) -> None:
        """Draw the listing; "Clear all" is enabled when some cache holds entries."""
        self.entries.draw(self.listings)
        self.header.show_listings(self.listings)

    def _in_cache(self, key: Hashable, action: Callable[[object, Any], None], arg: Any) -> None:
        """Apply a button's action to the listed cache ``key`` names (see :class:`EntryList`)."""
        for listing in self.listings:
            if cache_key(listing.cache) == key:
                action(listing.cache, arg)
                return
        self.refresh()

    # -- actions -----------------------------------------------------------------------

    def delete_entry(self, cache: object, context_id: Any) -> None:
        """Delete one entry of ``cache`` and redraw without re-reading the caches."""
        with self._lock:
            try:
                deleted = bool(call_pruning(cache, "delete", context_id))
            except Exception as exc:  # noqa: BLE001 - a failed deletion is shown, not raised
                self._report(f"Could not delete: {exc}", ERROR)
                return
            # Only that entry changed: drop its row instead of listing every entry again.
            key = cache_key(cache)
            self.listings = [
                without_entry(listing, context_id) if cache_key(listing.cache) == key else listing
                for listing in self.listings
            ]
            self._draw_caches()
            self._report(f"Deleted {plural(int(deleted), 'entry', 'entries')}.", MUTED)

    def _report(self, message: str, colour: str) -> None:
        """Show one line in the status row."""
        self.status.value = f'<span style="color:{colour}">{html.escape(message)}</span>'

    def clear_function(self, cache: object, function: str) -> None:
        """Delete every entry of ``function`` in ``cache`` and redraw."""
        self._act(lambda: plural(call_pruning(cache, "clear", function), "entry", "entries"))

    def clear_outdated(self, cache: object | None = None, function: str | None = None) -> None:
        """Delete the entries current code cannot hit (of ``function`` in ``cache``, or all)."""
        self._act(
            lambda: plural(
                delete_outdated(self.listings, cache, function),
                "outdated entry",
                "outdated entries",
            )
        )

    def clear_all(self) -> None:
        """Delete every entry of every cache listed and redraw."""
        self._act(lambda: plural(delete_all(self.listings), "entry", "entries"))

    def _clear_all_clicked(self) -> None:
        """Ask for a second click before deleting everything."""
        if self.header.confirmed(sum(len(lst.rows) for lst in self.listings)):
            self.clear_all()

    def _act(self, action: Callable[[], str]) -> None:
        """Run a deletion, report what it did (or why it failed), then re-read the caches."""
        with self._lock:
            try:
                done = action()
            except Exception as exc:  # noqa: BLE001 - a failed deletion is shown, not raised
                message = html.escape(f"Could not delete: {exc}")
                self.status.value = f'<span style="color:{ERROR}">{message}</span>'
            else:
                self.status.value = f'<span style="color:{MUTED}">Deleted {done}.</span>'
            self.refresh()

    # -- lifetime and display -------------------------------------------------------------

    def close(self) -> None:
        """Stop listening and close every widget; the displayed panel disappears."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            if self._shell is not None:
                with contextlib.suppress(ValueError):
                    self._shell.events.unregister("post_run_cell", self._after_cell)
            self.entries.close()
            for widget in self._permanent:
                close_widget(widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the widget tree; a closed panel shows as text."""
        if self.closed:
            return {"text/plain": "<closed checkpointing panel>"}
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        # What a terminal shows instead of the widget's own repr, a page of nested boxes.
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        if self.closed:
            return "<closed checkpointing panel>"
        total = self.record.stats.total()
        return f"<checkpointing panel: {count_text(total)}, {saved_text(total)}>"


def show_panel(caches: object | Iterable[object] | None = None) -> CheckpointPanel:
    """Return a new panel for the caches given, closing the panel this function made before.

    ``caches`` is a cache, a cache directory, or a list of them (default: the default
    ``PickleFileCache()`` directory); caches seen in events are always added. The panel
    is shown when it is the value of a cell (or passed to ``display``). Only one
    panel made here stays live, so re-running the cell does not leave listeners behind.
    """
    global _shown
    if caches is None:
        chosen: list[object] | None = None
    elif isinstance(caches, str | os.PathLike):
        chosen = [PickleFileCache(caches)]
    elif isinstance(caches, Iterable) and not hasattr(caches, "entries"):
        chosen = [PickleFileCache(c) if isinstance(c, str | os.PathLike) else c for c in caches]
    else:
        chosen = [caches]
    if _shown is not None:
        _shown.close()
    _shown = CheckpointPanel(chosen)
    return _shown
