"""Draw the panel's header: its title, the session summary and the buttons that act on caches.

The header owns its widgets and their look (which buttons are enabled or hidden, what they
read), while what a click does is the panel's: :class:`PanelHeader` is given one callback
per button. "Clear all" needs two clicks: the panel asks :meth:`PanelHeader.confirmed`,
whose first answer only arms the button and says how many entries would go. Any redraw of
the listing disarms it, so a confirmation never applies to entries the user has not seen.
Widgets are imported by the caller (the panel), never when the extension loads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ipython_ext.panel.html import MUTED
from ipython_ext.panel.model import CacheListing, FunctionStats
from ipython_ext.panel.text import count_text, saved_text

__all__ = ["PanelHeader"]


class PanelHeader:
    """The title, the session summary and the Refresh / Clear outdated / Clear all buttons."""

    def __init__(
        self,
        w: Any,
        *,
        on_refresh: Callable[[], None],
        on_clear_all: Callable[[], None],
        on_clear_outdated: Callable[[], None],
    ) -> None:
        self.title = w.HTML(
            '<span style="font-size:var(--jp-content-font-size2, 1.2em);font-weight:600">'
            "checkpointing</span>"
        )
        self.summary = w.HTML(layout=w.Layout(flex="1 1 auto", margin="0 12px"))
        self.refresh_button = w.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Read the cache directories again (entries written elsewhere appear)",
            layout=w.Layout(width="auto"),
        )
        self.clear_all_button = w.Button(
            description="Clear all",
            icon="trash",
            tooltip="Delete every entry of every cache listed below (asks to confirm)",
            layout=w.Layout(width="auto"),
        )
        self.clear_outdated_button = w.Button(
            description="Clear outdated",
            tooltip="Delete every listed entry that the current code of its function cannot hit",
            layout=w.Layout(width="auto", display="none"),
        )
        self._armed = False
        self.refresh_button.on_click(lambda _: on_refresh())
        self.clear_all_button.on_click(lambda _: on_clear_all())
        self.clear_outdated_button.on_click(lambda _: on_clear_outdated())
        self.box = w.HBox(
            [
                self.title,
                self.summary,
                self.refresh_button,
                self.clear_outdated_button,
                self.clear_all_button,
            ],
            layout=w.Layout(align_items="center"),
        )

    def widgets(self) -> list[Any]:
        """Return every widget of the header, for the panel to close."""
        return [
            self.title,
            self.summary,
            self.refresh_button,
            self.clear_all_button,
            self.clear_outdated_button,
            self.box,
        ]

    def show_summary(self, functions: Sequence[FunctionStats], total: FunctionStats) -> None:
        """Show the session's total counts and time saved, or nothing before the first call."""
        if functions:
            self.summary.value = (
                f'<span style="color:{MUTED}">{count_text(total)} · {saved_text(total)}</span>'
            )
        else:
            self.summary.value = ""

    def show_listings(self, listings: Sequence[CacheListing]) -> None:
        """Enable "Clear all" when some cache holds entries; show "Clear N outdated" when N > 0."""
        self.clear_all_button.disabled = not any(lst.rows for lst in listings)
        outdated = sum(lst.outdated for lst in listings)
        self.clear_outdated_button.layout.display = "" if outdated else "none"
        self.clear_outdated_button.description = f"Clear {outdated} outdated"
        self.disarm()

    def confirmed(self, entries: int) -> bool:
        """Tell whether "Clear all" was already armed; if not, arm it, naming ``entries``."""
        if self._armed:
            return True
        self._armed = True
        self.clear_all_button.description = f"Confirm: delete {entries}"
        self.clear_all_button.button_style = "danger"
        return False

    def disarm(self) -> None:
        """Put "Clear all" back to needing two clicks."""
        self._armed = False
        self.clear_all_button.description = "Clear all"
        self.clear_all_button.button_style = ""
