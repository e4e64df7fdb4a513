"""Open a cache from a URL: a local directory, object storage (fsspec) or Redis.

=====================================  ================================================
``/some/dir``, ``./cache``, ``~/x``    the local directory cache (``PickleFileCache``)
``file:///some/dir``                   the same
``s3://bucket/prefix``                 objects on S3 (s3fs), credentials the AWS way
``gs://``, ``az://``, ``memory://``..  any other fsspec file system
``redis://host:6379/0``                values in a Redis database (``rediss://``: TLS)
=====================================  ================================================

The environment variable ``CHECKPOINTING_CACHE`` holds such a URL for every decorator and
cell that names no cache, so a team sets it once. Object-storage and Redis caches are
the entry format of the local cache over another :class:`~checkpointing.store.base.Store`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from checkpointing.cache.base import CacheBase
from checkpointing.store.secrets import strip_userinfo

__all__ = ["ENVIRONMENT_VARIABLE", "is_cache_url", "open_cache", "open_store"]

ENVIRONMENT_VARIABLE = "CHECKPOINTING_CACHE"
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
# fsspec protocols and the package each needs, for a helpful error when it is missing.
_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
             "abfs": "adlfs", "abfss": "adlfs"}  # fmt: skip


def is_cache_url(spec: str) -> bool:
    """Return whether ``spec`` is written as a URL (``scheme://...``) rather than a path."""
    scheme, sep, _ = spec.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").isalnum()


def local_directory(spec: str | os.PathLike[str]) -> str | None:
    """Return the directory a path or ``file://`` URL names; ``None`` for other URLs."""
    if not isinstance(spec, str):
        return os.fspath(spec)
    if not is_cache_url(spec):
        return os.path.expanduser(spec)
    parts = urlsplit(spec)
    if parts.scheme.lower() != "file":
        return None
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file:// URL of another host is not a local directory: {spec!r}")
    # urllib.request.url2pathname would do this, but importing urllib.request loads http
    # and email, which a project package named like them must be free to shadow.
    return unquote(parts.path) if os.name != "nt" else unquote(parts.path).lstrip("/")


def open_store(url: str, *, storage_options: dict[str, Any] | None = None, **options: Any) -> Any:
    """Return the :class:`Store` of a remote URL (object storage or Redis)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in _REDIS_SCHEMES:
        if storage_options:
            raise ValueError("storage_options= is for fsspec URLs; pass Redis options by name")
        from checkpointing.store.redis import RedisStore

        return RedisStore(url, **options)
    if options:
        names = ", ".join(sorted(options))
        raise TypeError(f"unexpected options for a {scheme}:// cache: {names}")
    _check_protocol(scheme, url)
    from checkpointing.store.fsspec import FsspecStore

    return FsspecStore(url, storage_options)


def _check_protocol(scheme: str, url: str) -> None:
    """Raise ``ValueError`` naming the problem when fsspec cannot open ``scheme``."""
    try:
        import fsspec
    except ImportError:
        raise ValueError(
            f"cache URL {strip_userinfo(url)!r} needs fsspec: pip install 'checkpointing[share]'"
        ) from None
    try:
        fsspec.get_filesystem_class(scheme)
    except ValueError:
        raise ValueError(
            f"unknown cache URL scheme {scheme!r} in {strip_userinfo(url)!r}: use a path, "
            "file://, redis://, rediss:// or an fsspec protocol (s3://, gs://, memory://...)"
        ) from None
    except ImportError:
        package = _PACKAGES.get(scheme, f"the fsspec package for {scheme}://")
        raise ValueError(
            f"cache URL {strip_userinfo(url)!r} needs {package}: pip install {package}"
        ) from None


def open_cache(
    spec: str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
    local_copy: str | os.PathLike[str] | None = None,
    **options: Any,
) -> CacheBase:
    """Return the cache that a path or URL names (see the module docstring).

    ``storage_options`` go to fsspec (``endpoint_url``, ``key``, ``secret``...); other
    keyword options go to the Redis store (``prefix``, ``max_entry_size``, redis-py
    options). ``local_copy`` is a directory kept in front of a remote cache: entries read
    once are then read from there.
    """
    from checkpointing.cache import StoreCache

    if not isinstance(spec, str | os.PathLike):
        raise TypeError(f"a cache URL or path must be a str or os.PathLike, got {spec!r}")
    directory = local_directory(spec)
    if directory is not None:
        if storage_options or options or local_copy is not None:
            raise ValueError(f"a local directory cache takes no storage options: {spec!r}")
        from checkpointing.cache import PickleFileCache

        return PickleFileCache(directory)
    store = open_store(str(spec), storage_options=storage_options, **options)
    if local_copy is not None:
        from checkpointing.cache.codec import MAGIC
        from checkpointing.store.directory import DirectoryStore
        from checkpointing.store.tiered import TieredStore

        store = TieredStore(DirectoryStore(local_copy, magic=MAGIC), store)
    return StoreCache(store)


def default_cache_spec() -> str | None:
    """Return ``CHECKPOINTING_CACHE`` if set and non-empty, else ``None``."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return value or None
