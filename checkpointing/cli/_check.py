"""Damaged entries that ``entries()`` cannot list, for ``checkpointing verify``.

A cache lists the entries whose metadata it can read; an entry damaged in its header is
left out of ``entries()``. Caches that set damaged entries aside report them through
``quarantined()`` and remove them with ``clear_quarantine()``; the directory cache's
entry files are also read one by one here, so a damaged header is found too.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

__all__ = ["damaged_unlisted", "remove_unlisted"]


def _bad_files(cache: Any) -> list[tuple[str, str]]:
    """Return ``(path, problem)`` of the directory cache's entry files with unreadable heads."""
    files = getattr(cache, "_entry_files", None)
    read = getattr(cache, "_read_info", None)
    if not (callable(files) and callable(read)):
        return []
    bad = []
    for entry in files():
        try:
            read(entry.path)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            bad.append((entry.path, str(exc) or type(exc).__name__))
    return bad


def damaged_unlisted(cache: Any) -> list[str]:
    """Describe each damaged entry that ``cache.entries()`` leaves out."""
    found = [f"{path}: {problem}" for path, problem in _bad_files(cache)]
    quarantined = getattr(cache, "quarantined", None)
    if callable(quarantined):
        found += [f"{name}: set aside as damaged" for name in quarantined()]
    return found


def remove_unlisted(cache: Any) -> int:
    """Remove the damaged entries ``damaged_unlisted`` reports; return how many."""
    removed = 0
    for path, _ in _bad_files(cache):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed += 1
    clear_quarantine = getattr(cache, "clear_quarantine", None)
    if callable(clear_quarantine):
        removed += int(clear_quarantine())
    return removed
