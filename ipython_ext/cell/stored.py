"""The record one ``%%checkpoint`` run leaves behind, and the errors storing and restoring raise.

Storing (:mod:`ipython_ext.cell.storing`) builds a :class:`StoredCell` from a miss;
restoring (:mod:`ipython_ext.cell.restoring`) puts it back on a hit. Both need the record,
its two errors, the kinds of containers a hit pre-binds, and the normalized text of a
definition statement (stored with it, checked before it runs again), so those live here
and neither side imports the other.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ipython_ext.cell.recording import Event
from ipython_ext.cell.references import Path
from ipython_ext.cell.source import normalized_cell_code

__all__ = [
    "CONTAINERS",
    "NotStorable",
    "RestoreError",
    "StoredCell",
    "statement_text",
]

# Plain containers a hit binds empty while definitions run again (see ``StoredCell``).
CONTAINERS = {list: list, dict: dict, set: set}


@dataclass(frozen=True)
class StoredCell:
    """What one successful run left behind, stored under the cell's key.

    ``variables`` is the pickle (with ``buffers`` out of band) described in
    :mod:`ipython_ext.cell.storing`; ``references`` are the paths of objects that existed
    before the run, which it refers to; ``imports`` the modules the cell's import
    statements imported; ``rebind`` output names whose old object other names pointed to
    (see :mod:`ipython_ext.cell.references`). ``last_display`` replaces the last value
    when it could not be pickled; ``left_out`` says what the replay shows only as a snapshot.
    ``containers`` are variables that are plain lists, dicts or sets: a hit binds each to
    an empty one while the definitions run again, so decorators that fill a registry
    find it (the stored value replaces it after).
    """

    events: tuple[Event, ...]
    variables: bytes
    buffers: tuple[Any, ...]
    names: tuple[str, ...]
    deleted: tuple[str, ...]
    last_display: tuple[dict[str, Any], dict[str, Any]] | None
    references: tuple[Path, ...] = ()
    imports: tuple[str, ...] = ()
    rebind: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    containers: tuple[tuple[str, str], ...] = ()
    statements: tuple[tuple[int, str], ...] = ()  # (index, text) of each definition re-run
    stored_at: float = 0.0  # POSIX time the run was stored (0: unknown), for the replay note
    run_time: float = 0.0  # seconds the run took, for the replay note


class NotStorable(Exception):
    """The run's results cannot be stored faithfully; the message says why and what to do.

    With ``once`` the warning is shown once per cell and session (it would say the same
    thing on every run).
    """

    def __init__(self, message: str, once: bool = False) -> None:
        super().__init__(message)
        self.once = once


class RestoreError(Exception):
    """A stored entry could not be put back; the cell runs instead."""


def statement_text(statement: ast.stmt) -> str:
    """Return the statement as the key sees it (normalized), to check it did not move."""
    return normalized_cell_code(ast.unparse(statement))
