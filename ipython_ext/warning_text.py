"""Show checkpointing's warnings in a notebook as what they say, without a file and line.

Python prints a warning as ``<file>:<line>: Category: message`` followed by the source
line. For a ``%%checkpoint`` cell that read ``%%checkpoint:1: CheckpointingWarning: ...``
and, for a function defined in a cell, a kernel temp-file path such as
``/tmp/ipykernel_812/3861.py:4``: noise that says nothing to a notebook user. While the
extension is loaded, :func:`install` wraps :func:`warnings.formatwarning` so that a
``CheckpointingWarning`` (or a subclass) reads ``CheckpointingWarning: message``; every
other warning is formatted as before. Filters and ``-W error`` are untouched: only the
text changes.
"""

from __future__ import annotations

import warnings
from typing import Any

from checkpointing.exceptions import CheckpointingWarning

__all__ = ["install", "uninstall"]

_original: Any = None


def _format(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Format a checkpointing warning as its category and message only."""
    if issubclass(category, CheckpointingWarning):
        return f"{category.__name__}: {message}\n"
    original = _original or warnings.formatwarning
    return str(original(message, category, filename, lineno, line))


def install() -> None:
    """Format checkpointing's warnings without file and line (installing twice is harmless)."""
    global _original
    if _original is None:
        _original = warnings.formatwarning
        warnings.formatwarning = _format


def uninstall() -> None:
    """Put back the formatting found by :func:`install`, unless someone replaced it since."""
    global _original
    if _original is not None:
        if warnings.formatwarning is _format:
            warnings.formatwarning = _original
        _original = None
