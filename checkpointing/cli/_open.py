"""Open the cache a command works on, from a path or URL, with errors that name the problem.

Exit codes (stable, for scripts): 0 success; 1 the command found problems (``verify``
without ``--fix``) or the user declined; 2 bad input (unknown option, unparseable size,
a path that is not a cache); 3 the cache cannot be reached or read (an unreachable URL,
permissions, a storage error).
"""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["EXIT_FOUND_PROBLEMS", "EXIT_UNREACHABLE", "BadCache", "Unreachable", "open_cache"]

EXIT_FOUND_PROBLEMS = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


class BadCache(click.ClickException):
    """The path or URL given does not name a cache (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class Unreachable(click.ClickException):
    """The cache exists (or may) but cannot be reached or read (exit code 3)."""

    exit_code = EXIT_UNREACHABLE


# Files of a cache directory other than entries: markers, sidecars, temporary files.
_ENTRY_SUFFIX = ".pickle"
_MARKER = "CACHEDIR.TAG"


def _is_url(spec: str) -> bool:
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").isalnum()


def _check_directory(path: str, spec: str) -> None:
    """Refuse a path that is missing, a file, or a directory of something other than a cache."""
    if not os.path.exists(path):
        raise BadCache(
            f"no cache at {spec!r}: the directory does not exist (give the cache with "
            "--cache PATH_OR_URL or the CHECKPOINTING_CACHE environment variable)"
        )
    if not os.path.isdir(path):
        raise BadCache(f"{spec!r} is a file, not a cache directory")
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise Unreachable(f"cannot read cache directory {spec!r}: {exc.strerror}") from exc
    visible = [n for n in names if not n.startswith(".")]
    ours = [n for n in visible if n.endswith(_ENTRY_SUFFIX) or n == _MARKER]
    if visible and not ours:
        shown = ", ".join(sorted(visible)[:3])
        raise BadCache(
            f"{spec!r} is not a checkpointing cache: it holds other files ({shown}"
            f"{', ...' if len(visible) > 3 else ''}) and no cache entries"
        )


def open_cache(spec: str) -> Any:
    """Return the cache named by ``spec``: a directory path, ``file://`` or a store URL."""
    if not spec.strip():
        raise BadCache("the cache path is empty")
    from checkpointing.store.urls import local_directory
    from checkpointing.store.urls import open_cache as open_url

    try:
        directory = local_directory(spec)
    except ValueError as exc:
        raise BadCache(str(exc)) from None
    if directory is not None:
        _check_directory(directory, spec)
    try:
        return open_url(spec)
    except (ValueError, TypeError) as exc:
        raise BadCache(str(exc)) from None
    except Exception as exc:
        raise Unreachable(f"cannot open cache {spec!r}: {exc}") from exc
