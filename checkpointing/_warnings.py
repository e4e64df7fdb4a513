"""Warnings that point at the user's line, however deep inside the package they start.

A fixed ``stacklevel`` is right for one call depth only: a warning raised from the
cache, the engine or the hasher would blame a line of ours. :func:`warn_at_user`
counts the frames that belong to this package (and any extra prefixes, such as the
notebook extension's) and warns at the first frame outside them. Python 3.12 has
``warnings.warn(skip_file_prefixes=...)`` for this; counting frames works on 3.11 too.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["PACKAGE_PREFIX", "add_internal_prefix", "warn_at_user"]

# The directory of the package, with a trailing separator so "checkpointing_extra/" is
# not mistaken for it.
PACKAGE_PREFIX = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Code objects carry the path the module was imported by, which may be relative.
_internal: tuple[str, ...] = tuple({PACKAGE_PREFIX, os.path.dirname(__file__) + os.sep})


def add_internal_prefix(prefix: str) -> None:
    """Treat files under ``prefix`` (a directory path) as internal, like the package's own."""
    global _internal
    for form in (os.path.join(os.path.abspath(prefix), ""), os.path.join(prefix, "")):
        if form not in _internal:
            _internal = (*_internal, form)


def warn_at_user(message: str, category: type[Warning]) -> None:
    """Warn with ``message``, attributed to the innermost frame outside the package."""
    level = 1
    frame: FrameType | None = sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_internal):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
