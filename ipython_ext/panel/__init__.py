"""The live ipywidgets panel: session counters and cache contents.

``model`` holds the data (no widgets), ``text`` says it in words, ``html`` renders rows
as strings, ``pruning`` deletes listed entries, ``header`` is the title, summary and
buttons, ``entries`` the cache-contents list, ``session_rows`` the per-function counters,
and ``widget`` composes them. ipywidgets is imported when a panel is first drawn, never
on import.
"""

from ipython_ext.panel.model import (
    CacheListing,
    EntryRow,
    FunctionStats,
    SessionRecord,
    SessionStats,
    cache_label,
    list_caches,
)
from ipython_ext.panel.text import (
    count_text,
    display_name,
    format_duration,
    format_size,
    format_timestamp,
    saved_text,
)
from ipython_ext.panel.widget import (
    CheckpointPanel,
    session_record,
    show_panel,
    start_session_recording,
    stop_session_recording,
)

__all__ = [
    "CacheListing",
    "CheckpointPanel",
    "EntryRow",
    "FunctionStats",
    "SessionRecord",
    "SessionStats",
    "cache_label",
    "count_text",
    "display_name",
    "format_duration",
    "format_size",
    "format_timestamp",
    "list_caches",
    "saved_text",
    "session_record",
    "show_panel",
    "start_session_recording",
    "stop_session_recording",
]
