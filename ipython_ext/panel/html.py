"""Draw the cache panel's parts as HTML: headings, hit bars, cache titles and entry rows.

Plain strings, no widgets: :mod:`ipython_ext.panel` puts each into an ipywidgets
``HTML`` widget and changes its text when the counts or the entries change. Colours are
JupyterLab's theme variables, with fallbacks for other front ends, so the panel reads
well in light and dark themes alike.
"""

from __future__ import annotations

import html
import time

from ipython_ext.panel.model import CacheListing, EntryRow
from ipython_ext.panel.text import (
    display_name,
    format_duration,
    format_size,
    format_timestamp,
    plural,
)

__all__ = [
    "BAR_WIDTH",
    "BORDER",
    "ERROR",
    "HEADER_CELLS",
    "MONO_STYLE",
    "MUTED",
    "cache_title_html",
    "elastic_html",
    "entry_html",
    "full_location",
    "group_html",
    "heading_html",
    "legend_html",
    "more_html",
    "no_match_html",
    "ratio_bar_html",
    "row_html",
]

# Theme colours, with fallbacks for front ends other than JupyterLab.
_HIT = "var(--jp-success-color1, #2e7d32)"
_MISS = "var(--jp-warn-color1, #ef6c00)"
_SIZE = "var(--jp-brand-color1, #1976d2)"
_TRACK = "var(--jp-layout-color3, #e0e0e0)"
MUTED = "var(--jp-ui-font-color2, #616161)"
BORDER = "var(--jp-border-color2, #e0e0e0)"
ERROR = "var(--jp-error-color1, #d32f2f)"
_MONO = "var(--jp-code-font-family, monospace)"
MONO_STYLE = f"font-family:{_MONO}"

BAR_WIDTH = 120
_SIZE_BAR_WIDTH = 48
# Fixed column widths (px) of an entry row, so rows line up under their header.
_COLUMNS = (("size", 110), ("run time", 72), ("created", 100), ("last used", 100))


# --------------------------------------------------------------------------- headings


def heading_html(text: str, aside: str = "") -> str:
    """Head a section with ``text`` in bold, and ``aside`` (HTML) at its right end."""
    return (
        f'<div style="display:flex;justify-content:space-between;margin-top:8px;'
        f'padding-bottom:2px;border-bottom:1px solid {BORDER}">'
        f'<span style="font-weight:600">{html.escape(text)}</span>{aside}</div>'
    )


def legend_html() -> str:
    """Explain the colours of the hit bars once, beside the section heading."""
    swatch = (
        '<span style="display:inline-block;width:10px;height:10px;border-radius:2px;'
        'margin:0 4px 0 12px;background:{}"></span>'
    )
    return (
        f'<span style="color:{MUTED}">{swatch.format(_HIT)}hit (loaded)'
        f"{swatch.format(_MISS)}computed (miss, re-run)</span>"
    )


# --------------------------------------------------------------------------- session rows


def ratio_bar_html(hits: int, computed: int) -> str:
    """Draw hits (green) against computed calls (orange) as a small stacked bar."""
    total = hits + computed
    title = f"{plural(hits, 'hit')}, {computed} computed"
    if total == 0:
        segments = ""
    else:
        share = round(100 * hits / total, 1)
        segments = (
            f'<div style="width:{share}%;background:{_HIT}"></div>'
            f'<div style="width:{100 - share}%;background:{_MISS}"></div>'
        )
    return (
        f'<div title="{title}" style="display:flex;width:{BAR_WIDTH}px;height:10px;'
        f'margin-top:10px;border-radius:5px;overflow:hidden;background:{_TRACK}">'
        f"{segments}</div>"
    )


def elastic_html(text: str, title: str, style: str = "", lines: int = 1) -> str:
    """Return a span that fills the free width of its row and is cut with "…" when too long.

    Its zero width keeps the widget's own size small: the HTML widget never shrinks
    below its content, so a long text would otherwise push the row wider than the panel
    instead of being cut. With ``lines`` > 1 the text wraps onto that many lines first.
    """
    if lines > 1:
        fit = (
            f"display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:{lines};"
            "line-height:18px;overflow-wrap:anywhere;"
        )
    else:
        fit = "text-overflow:ellipsis;white-space:nowrap;"
    return (
        f'<span title="{title}" style="flex:1 1 0;width:0;min-width:0;overflow:hidden;'
        f'{fit}{style}">{text}</span>'
    )


# --------------------------------------------------------------------------- entry list

HEADER_CELLS = [
    ("arguments of the call", "arguments"),
    ("stored size", "size"),
    ("time the original call took", "run time"),
    ("when the entry was written", "created"),
    ("when a hit last returned it (recorded in the cache)", "last used"),
]


def row_html(cells: list[tuple[str, str]], *, header: bool = False) -> str:
    """Lay out one entry row: the argument summary takes the free width, the rest is fixed."""
    first_title, first = cells[0]
    colour = f"color:{MUTED};" if header else ""
    font = "" if header else f"font-family:{_MONO};"
    parts = [elastic_html(first, first_title, font + colour, lines=1 if header else 2)]
    for (_, width), (title, text) in zip(_COLUMNS, cells[1:], strict=True):
        parts.append(
            f'<span title="{title}" style="flex:0 0 {width}px;white-space:nowrap;'
            f'text-align:right;padding-left:8px;{colour}">{text}</span>'
        )
    return (
        f'<div style="display:flex;align-items:center;min-height:28px;line-height:28px">'
        f"{''.join(parts)}</div>"
    )


def _size_cell(size: int, largest: int) -> str:
    """Draw a size as a bar relative to the largest entry shown, followed by the figure."""
    width = 0 if largest <= 0 else max(1, round(_SIZE_BAR_WIDTH * size / largest))
    return (
        f'<span style="display:inline-block;width:{_SIZE_BAR_WIDTH}px;height:8px;'
        f'background:{_TRACK};border-radius:4px;overflow:hidden;vertical-align:middle">'
        f'<span style="display:block;width:{width}px;height:8px;background:{_SIZE}"></span>'
        f"</span>"
        f'<span style="display:inline-block;width:56px;text-align:right">{format_size(size)}</span>'
    )


def cache_title_html(listing: CacheListing) -> str:
    """Name a cache and say how much it holds, or why it cannot be listed."""
    count = len(listing.rows)
    if listing.error:
        detail = f'<span style="color:{ERROR}">{html.escape(listing.error)}</span>'
    elif count:
        detail = f"{plural(count, 'entry', 'entries')} · {format_size(listing.total_size)}"
    else:
        detail = "empty"
    location = html.escape(full_location(listing.cache))
    return (
        f'<div style="margin-top:6px"><code title="{location}">{html.escape(listing.label)}'
        f'</code> <span style="color:{MUTED}">— {detail}</span></div>'
    )


def group_html(function: str, rows: list[EntryRow]) -> str:
    """Head a function's entries with its name, their number and total size."""
    size = format_size(sum(r.info.size for r in rows))
    outdated = sum(r.outdated for r in rows)
    stale = f' · <span style="color:{_MISS}">{outdated} outdated</span>' if outdated else ""
    text = (
        f'<span style="font-weight:600;{MONO_STYLE}">{html.escape(display_name(function))}'
        f'</span> <span style="color:{MUTED}">{plural(len(rows), "entry", "entries")} · '
        f"{size}{stale}</span>"
    )
    return f'<div style="display:flex">{elastic_html(text, html.escape(function))}</div>'


def entry_html(row: EntryRow, largest: int, now: float) -> str:
    """Lay out one entry: arguments, size bar, run time, created, last used."""
    info = row.info
    arguments = html.escape(info.arguments or "(no arguments)")
    title, text = arguments, arguments
    if row.outdated:
        text = (
            f'<span class="checkpointing-outdated" style="color:{_MISS};font-family:inherit" '
            'title="stored by an older version of the code: the current code can never hit '
            f'it; delete it, or Clear outdated">outdated</span> <s>{text}</s>'
        )
    if row.reason:  # why this entry was computed rather than loaded
        reason = html.escape(row.reason)
        text += f' <span style="color:{MUTED}" title="computed because {reason}">· {reason}</span>'
    run_time = format_duration(info.run_time) if info.run_time > 0 else "—"
    return row_html(
        [
            (title, text),
            (f"{info.size} bytes", _size_cell(info.size, largest)),
            ("time the call took; each hit saves about this much", run_time),
            (_iso(info.created), format_timestamp(info.created, now)),
            (_iso(row.last_used), format_timestamp(row.last_used, now)),
        ]
    )


def more_html(hidden: int, word: str, words: str) -> str:
    """Say how many entries (or functions) are not drawn yet."""
    more = plural(hidden, "more " + word, "more " + words)
    return f'<span style="color:{MUTED}">… {more} not shown</span>'


def no_match_html(query: str) -> str:
    """Say that the filter left nothing of a cache."""
    return (
        f'<span style="color:{MUTED};padding-left:16px">No entry matches '
        f"“{html.escape(query)}”.</span>"
    )


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp > 0 else ""


def full_location(cache: object) -> str:
    """Return where ``cache`` keeps its entries, in full (shown on hover)."""
    return str(getattr(cache, "location", "") or repr(cache))
