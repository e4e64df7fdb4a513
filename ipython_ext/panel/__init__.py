"""The live ipywidgets panel: session counters and cache contents.

``model`` holds the data (no widgets), ``html`` renders rows as strings, ``entries`` is
the cache-contents list, ``session_rows`` the per-function counters, and ``widget``
composes them. ipywidgets is imported when a panel is first drawn, never on import.
"""

from ipython_ext.panel.model import (
    CacheListing,
    EntryRow,
    FunctionStats,
    SessionRecord,
    SessionStats,
    cache_label,
    count_text,
    display_name,
    format_duration,
    format_size,
    format_timestamp,
    list_caches,
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
