"""What every command shares: the cache it works on, and how it reports.

The cache is opened on first use (so ``--help`` never touches it), and its failures
become clear errors with the exit codes of :mod:`checkpointing.cli._open`. Output goes
through two rich consoles: results to standard output, progress bars and spinners to
standard error and only when it is a terminal, so piped output and ``--json`` stay
clean. The commands themselves are in :mod:`checkpointing.cli.commands`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from checkpointing.cache.base import EntryInfo
from checkpointing.cli import _humans as human
from checkpointing.cli._entries import saved
from checkpointing.cli._open import BadCache, Unreachable, open_cache

__all__ = ["State", "emit_json", "entry_json", "err", "out", "progress_bar"]

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


class State:
    """What the group's options give every command."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._cache: Any = None

    @property
    def cache(self) -> Any:
        """Open the cache on first use, so ``--help`` never touches it."""
        if self._cache is None:
            self._cache = open_cache(self.spec)
        return self._cache

    @contextlib.contextmanager
    def reaching(self) -> Iterator[None]:
        """Turn failures of the cache (network, permissions) into a clear error, exit code 3."""
        try:
            yield
        except click.ClickException:
            raise
        except NotImplementedError as exc:
            raise BadCache(f"cache {self.spec!r} does not support this: {exc}") from exc
        except Exception as exc:
            raise Unreachable(f"cannot use cache {self.spec!r}: {exc}") from exc

    def entries(self, what: str = "Reading the cache") -> list[EntryInfo]:
        """List every entry, with a spinner on long scans."""
        with self.reaching():
            cache = self.cache
            with err.status(f"{what}...") if err.is_terminal else contextlib.nullcontext():
                return list(cache.entries())


def progress_bar() -> Progress:
    """Return a progress bar on standard error, shown only when it is a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2))


def entry_json(entry: EntryInfo) -> dict[str, Any]:
    """Return what ``--json`` prints for one entry."""
    return {
        "function": entry.function,
        "arguments": entry.arguments,
        "context_id": entry.context_id
        if isinstance(entry.context_id, str)
        else repr(entry.context_id),
        "size": entry.size,
        "created": human.iso(entry.created),
        "last_used": human.iso(entry.last_used),
        "hits": entry.hits,
        "run_time": entry.run_time,
        "saved": saved(entry),
    }
