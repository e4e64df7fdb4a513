"""Pick the cache a ``%%checkpoint`` cell goes to.

In order: ``--cache NAME`` (a notebook variable holding a cache, or a backend name or
URL, all resolved by :func:`checkpointing.backend.resolve_cache`, the one resolution
rule of the core), ``--dir DIR`` (a ``PickleFileCache`` there), else the
``cache.backend`` setting (``"file"``: the ``cache.filesystem.directory`` setting).
File caches are made once per directory and pickle protocol, so the panel sees one
cache per directory. A ``--cache`` that names nothing usable is a usage error (the
magic says so before running anything); a directory that cannot hold a cache is a
failure of the machinery (:class:`~checkpointing.StorageError`), which the caller
hands to the ``on_error`` policy.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from checkpointing.backend import resolve_cache
from checkpointing.cache.base import CacheBase
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.config import defaults
from checkpointing.exceptions import StorageError
from checkpointing.store.urls import default_cache_spec
from ipython_ext.cell.errors import CellUsageError
from ipython_ext.cell.plan import CellOptions

if TYPE_CHECKING:
    from ipython_ext.shell import ShellLike

__all__ = ["CellCaches"]


class CellCaches:
    """The caches of one shell's cells, made on first use and kept."""

    def __init__(self, shell: ShellLike) -> None:
        self.shell = shell
        self._files: dict[tuple[str, int], PickleFileCache] = {}

    def choose(self, options: CellOptions) -> CacheBase:
        """Return the cache for a cell run with ``options``.

        Raise :class:`CellUsageError` for a bad ``--cache`` and :class:`StorageError`
        for a directory that cannot hold a cache.
        """
        if options.cache is not None:
            if options.directory is not None:
                raise CellUsageError("give either --cache or --dir, not both")
            return self._named(options.cache)
        if options.directory is not None:
            return self._directory(options.directory)
        if defaults["cache.backend"] == "file" and default_cache_spec() is None:
            return self._directory(defaults["cache.filesystem.directory"])
        return resolve_cache(None)  # the setting, or the CHECKPOINTING_CACHE variable

    def _named(self, name: str) -> CacheBase:
        """Resolve ``--cache NAME``: a variable of the notebook first, then a name or URL."""
        label = f"--cache {name}"
        ns = self.shell.user_ns
        spec: object = ns.get(name, name)
        try:
            return resolve_cache(spec, label=label)
        except (TypeError, ValueError) as exc:
            hint = "" if name in ns else " (and no notebook variable has that name)"
            raise CellUsageError(f"{exc}{hint}") from None

    def _directory(self, directory: str | os.PathLike[str]) -> PickleFileCache:
        """Return the file cache of ``directory`` (resolved now), one instance per directory."""
        path = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        protocol = defaults["cache.pickle_protocol"]
        # A path under a file can be neither read nor created: say so before running.
        existing = path
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if existing == path and not os.path.isdir(path):
            raise StorageError(f"cache directory {path!r} is a file")
        if not os.path.isdir(existing):
            raise StorageError(f"cache directory {path!r} cannot be made: {existing!r} is a file")
        cache = self._files.get((path, protocol))
        if cache is None:
            cache = PickleFileCache(path, protocol)
            self._files[(path, protocol)] = cache
        return cache
