"""Choosing a cache: from an instance, a seed-style object, a backend name or a URL.

:func:`resolve_cache` is the one place that turns what a user wrote into a
:class:`~checkpointing.CacheBase`: ``checkpoint(cache=...)``, ``%%checkpoint --cache``
and the ``cache.backend`` setting all go through it.

* a ``CacheBase`` is used as it is;
* an object with only the seed's ``save``/``retrieve`` is wrapped once in
  :class:`SaveRetrieveCache`, so the engine always talks to a ``CacheBase``;
* ``"file"`` is a ``PickleFileCache`` in ``defaults["cache.filesystem.directory"]``,
  ``"memory"`` the process's shared ``MemoryCache``;
* a URL (``scheme://...``) names a shared store or a directory, a path (``./cache``,
  ``~/x``, ``/data/c``, an ``os.PathLike``) a directory: see
  :func:`checkpointing.open_cache`;
* with no spec and ``cache.backend`` left at ``"file"``, the ``CHECKPOINTING_CACHE``
  environment variable (a URL or path) names the cache, so a team sets it once.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.interfaces import SaveRetrieve

__all__ = ["BACKEND_NAMES", "SaveRetrieveCache", "check_backend_spec", "resolve_cache"]

BACKEND_NAMES = ("file", "memory")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*", re.DOTALL)
_shared: dict[str, CacheBase] = {}
_shared_lock = threading.Lock()


def _is_path(value: str) -> bool:
    """Tell whether ``value`` is written as a directory path (not a bare word)."""
    return value.startswith((".", "~")) or "/" in value or os.sep in value


def check_backend_spec(name: str, value: Any) -> str:
    """Return ``value`` if it names a backend (``file``, ``memory``), a URL or a path."""
    if isinstance(value, str) and (
        value in BACKEND_NAMES or _URL.fullmatch(value) or _is_path(value)
    ):
        return value
    names = ", ".join(repr(n) for n in BACKEND_NAMES)
    raise ValueError(
        f"{name} must be one of {names}, a cache URL (scheme://...) or a directory path "
        f"(write './{value}' for a directory of that name), got {value!r}"
    )


def resolve_cache(spec: object = None, *, label: str = "cache") -> CacheBase:
    """Return the ``CacheBase`` that ``spec`` stands for (``None``: the ``cache.backend`` setting).

    Raise ``TypeError`` (naming ``label``) for an object that is no cache, ``ValueError``
    for an unknown backend name or URL.
    """
    if spec is None:
        from checkpointing.config import defaults
        from checkpointing.store.urls import default_cache_spec

        spec = defaults["cache.backend"]
        if spec == "file":
            spec = default_cache_spec() or spec
    if isinstance(spec, CacheBase):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if isinstance(spec, type):
        raise TypeError(
            f"{label} must be an instance, got the class {spec.__name__}; "
            f"did you mean {spec.__name__}()?"
        )
    if isinstance(spec, str):
        check_backend_spec(label, spec)
        if spec == "file":
            from checkpointing.cache.pickle_file import PickleFileCache

            return PickleFileCache()
        if spec == "memory":
            return _shared_cache(spec)
        return _cache_from_url(spec)
    missing = [m for m in ("save", "retrieve") if not callable(getattr(spec, m, None))]
    if missing:
        raise TypeError(
            f"{label} must be a CacheBase instance, an object with save() and retrieve(), a "
            f"backend name or a URL; {spec!r} lacks {' and '.join(m + '()' for m in missing)}"
        )
    return SaveRetrieveCache(spec)  # type: ignore[arg-type]  # checked just above


def _shared_cache(name: str) -> CacheBase:
    """Return the process's one cache of kind ``name`` (so cells and functions share it)."""
    with _shared_lock:
        cache = _shared.get(name)
        if cache is None:
            from checkpointing.cache.memory import MemoryCache

            cache = _shared[name] = MemoryCache()
        return cache


def _cache_from_url(url: str) -> CacheBase:
    """Return the cache a URL or path names (see :func:`checkpointing.open_cache`)."""
    from checkpointing.store.urls import open_cache

    return open_cache(url)


class SaveRetrieveCache(CacheBase):
    """A ``CacheBase`` over an object that has only the seed's ``save``/``retrieve``.

    Such objects keep no metadata, so hits report no run time; listing, deleting and
    clearing raise ``NotImplementedError`` as for any cache that lacks them.
    """

    def __init__(self, inner: SaveRetrieve) -> None:
        self.inner = inner

    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` through the wrapped object's ``save``."""
        self.inner.save(context_id, result)

    def retrieve(self, context_id: Any) -> Any:
        """Return what the wrapped object's ``retrieve`` returns."""
        return self.inner.retrieve(context_id)

    def save_entry(self, context_id: Any, result: Any, info: EntryInfo) -> None:
        """Store ``result``; the metadata is dropped (the wrapped object cannot keep it)."""
        self.inner.save(context_id, result)

    def __repr__(self) -> str:
        return f"SaveRetrieveCache({self.inner!r})"
