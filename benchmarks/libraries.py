"""The two caches under test behind one interface: decorate, count entries, populate.

Only public API is used to cache and call. Populating a big cache is the exception: it
copies one real entry under many new names, because a cache of 100,000 entries built by
100,000 calls would take minutes (every checkpointing miss fsyncs its file) and the only
thing that matters for a later hit is how many entries the directory holds. The copies
are never read.
"""

from __future__ import annotations

import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = ["LIBRARIES", "Checkpointing", "Joblib", "Library"]


class Library(ABC):
    """One cache implementation, as the cases drive it."""

    name: str

    @abstractmethod
    def decorate(self, func: Callable[..., Any], directory: str) -> Callable[..., Any]:
        """Return ``func`` cached in ``directory``, a fresh directory of its own."""

    @abstractmethod
    def entry_files(self, directory: str) -> list[str]:
        """Return the file of each result stored in ``directory``."""

    def count_entries(self, directory: str) -> int:
        """Return how many results are stored: a hit case checks it stayed at one."""
        return len(self.entry_files(directory))

    @abstractmethod
    def populate(self, directory: str, count: int) -> None:
        """Grow the cache from its one entry to ``count`` entries by copying that entry."""


def _copy(source: str, target: str) -> None:
    with open(source, "rb") as file:
        data = file.read()
    with open(target, "xb") as file:
        file.write(data)


class Checkpointing(Library):
    """This project: one ``<context id>.pickle`` file per entry, in one directory."""

    name = "checkpointing"

    def decorate(self, func: Callable[..., Any], directory: str) -> Callable[..., Any]:
        """Decorate with ``on_error="raise"``: a failure must not pass for an uncached run."""
        from checkpointing import checkpoint

        return checkpoint(directory, on_error="raise")(func)

    def entry_files(self, directory: str) -> list[str]:
        """List the ``*.pickle`` files, leaving out temporary files of writers."""
        return [
            os.path.join(directory, name)
            for name in os.listdir(directory)
            if name.endswith(".pickle") and not name.startswith(".")
        ]

    def populate(self, directory: str, count: int) -> None:
        """Copy the one entry file under ``count - 1`` random ids of the same shape."""
        (source,) = self.entry_files(directory)
        for _ in range(count - 1):
            _copy(source, os.path.join(directory, f"{secrets.token_hex(16)}.pickle"))


class Joblib(Library):
    """joblib.Memory: one ``<args hash>/`` directory per entry, holding ``output.pkl``."""

    name = "joblib"

    def decorate(self, func: Callable[..., Any], directory: str) -> Callable[..., Any]:
        """Decorate with ``verbose=0``, joblib's quiet mode, so no time goes to printing."""
        import joblib  # type: ignore[import-untyped]  # joblib ships no type information

        cached: Callable[..., Any] = joblib.Memory(directory, verbose=0).cache(func)
        return cached

    def entry_files(self, directory: str) -> list[str]:
        """List every ``output.pkl`` under the cache directory."""
        return [
            os.path.join(root, "output.pkl")
            for root, _, names in os.walk(directory)
            if "output.pkl" in names
        ]

    def populate(self, directory: str, count: int) -> None:
        """Copy the one entry's directory under ``count - 1`` random hashes beside it."""
        (output,) = self.entry_files(directory)
        entry = os.path.dirname(output)
        names = os.listdir(entry)
        for _ in range(count - 1):
            copy = os.path.join(os.path.dirname(entry), secrets.token_hex(16))
            os.mkdir(copy)
            for name in names:
                _copy(os.path.join(entry, name), os.path.join(copy, name))


LIBRARIES: dict[str, Library] = {lib.name: lib for lib in (Checkpointing(), Joblib())}
