"""Entries as Redis values (redis-py), for small and medium results shared by a team.

Layout under a key prefix (default ``checkpointing``)::

    <prefix>:entry:<key>   the entry's bytes, exactly as the codec produced them
    <prefix>:lock:<key>    a lock taken with ``SET NX PX`` (redis-py's ``Lock``)
    <prefix>:tmp:<random>  an entry being uploaded in pieces, renamed when complete
    <prefix>:read:<random> a snapshot of a large entry being read
    <prefix>:usage:hits    a hash: entry key -> number of hits
    <prefix>:usage:used    a hash: entry key -> last use (POSIX time)

Reading. Looking up a result is one plain ``GET`` (``fetch``): the cheapest round trip,
and it reads one version whole. Listing uses ``get``, which reads heads only: one script
returns the entry's first bytes and its size and, for a larger entry, makes a server-side
copy (``<prefix>:read:<random>``, expiring after 10 minutes) that the reader fetches when
it needs more and deletes when it closes, so a reader keeps the version it started with
even if the entry is replaced meanwhile.

Writing. A small entry is one ``SET``. A large one is sent in pieces (``SET``/``APPEND`` to
a temporary key that expires if the writer dies) and published by ``RENAME``, so readers
never see a partial value and the parts are never joined in memory. Values above
``max_entry_size`` (default 64 MiB) are refused with a ``StorageError`` that says to use
object storage for such results: Redis keeps everything in memory.

Usage. A hit only counts in memory; a background thread sends the counts at most once a
second, and at exit, in one round trip (see :mod:`checkpointing.store._redis_usage`).

Listing uses ``SCAN`` over the entry prefix, never ``KEYS *``. Credentials come from the
URL (``redis://user:password@host:6379/0``, ``rediss://`` for TLS) or redis-py options and
are never part of ``location``, ``identity``, ``repr`` or error messages.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from checkpointing.exceptions import StorageError
from checkpointing.store._redis_usage import RedisUsage
from checkpointing.store._remote import HEAD_BYTES, BatchedUsage, WholeValueReader, is_unreachable
from checkpointing.store.base import BytesReader, EntryReader, Store, check_key
from checkpointing.store.locks import StoreLock
from checkpointing.store.secrets import Scrubber, strip_userinfo

__all__ = ["DEFAULT_MAX_ENTRY_SIZE", "RedisStore"]

DEFAULT_MAX_ENTRY_SIZE = 64 << 20
_CHUNK = 8 << 20
# A temporary upload key lives this long if its writer dies before renaming it.
_UPLOAD_EXPIRY_S = 3600
# Without these, an unreachable server makes every call hang (redis-py waits forever).
_DEFAULT_TIMEOUTS = {"socket_connect_timeout": 5.0, "socket_timeout": 30.0}
_OWN_QUERY = ("prefix", "max_entry_size")


# One round trip for a lookup: the entry's first bytes and size and, when it is larger
# than that, a server-side copy that later reads come from, so a reader keeps its version
# even if the entry is replaced meanwhile. The copy expires if the reader never closes.
_LOOKUP = """
local size = redis.call('STRLEN', KEYS[1])
local head = redis.call('GETRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if size > tonumber(ARGV[1]) then
    redis.call('COPY', KEYS[1], KEYS[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return {head, size}
"""
_SNAPSHOT_MS = 600_000


class _SnapshotReader(WholeValueReader):
    """A large value read from its server-side snapshot, deleted when the reader closes."""

    def __init__(self, store: RedisStore, snapshot: str, head: bytes, size: int) -> None:
        fetch = lambda: store.call("read", snapshot, "get", snapshot)  # noqa: E731
        super().__init__(snapshot, head, size, fetch)
        self._store = store
        self._snapshot = snapshot

    def close(self) -> None:
        """Drop the value and delete the snapshot."""
        super().close()
        if self._snapshot:
            snapshot, self._snapshot = self._snapshot, ""
            with contextlib.suppress(Exception):
                self._store.client.delete(snapshot)


class _RedisLock:
    """A ``SET NX PX`` lock through redis-py's ``Lock``, released only by its holder."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self.held = False

    def acquire(self) -> bool:
        """Try once to take the lock."""
        self.held = bool(self._lock.acquire(blocking=False))
        return self.held

    def refresh(self) -> bool:
        """Reset the expiry to the full ttl; ``False`` if the lock expired and was lost."""
        from redis.exceptions import LockError

        try:
            self._lock.reacquire()
        except LockError:
            self.held = False
        return self.held

    def release(self) -> None:
        """Delete the lock if this caller still holds it."""
        from redis.exceptions import LockError

        if self.held:
            self.held = False
            with contextlib.suppress(LockError):
                self._lock.release()


class RedisStore(BatchedUsage, Store):
    """Store entries as values in the Redis database of ``url`` (``redis://host:port/db``).

    ``prefix`` namespaces the keys (several caches can share a database), and may also be
    given as ``?prefix=`` in the URL, like ``max_entry_size`` (bytes). ``options`` go to
    ``redis.Redis.from_url``; ``client`` may be given instead, already connected.
    """

    label = "Redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str | None = None,
        max_entry_size: int | None = None,
        client: Any = None,
        **options: Any,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"not a Redis URL (redis://, rediss://, unix://): {url!r}")
        query = dict(parse_qsl(parts.query))
        own = {name: query.pop(name) for name in _OWN_QUERY if name in query}
        prefix = prefix if prefix is not None else own.get("prefix", "checkpointing")
        if max_entry_size is None:
            max_entry_size = int(own.get("max_entry_size", DEFAULT_MAX_ENTRY_SIZE))
        if not prefix or any(c in prefix for c in "*?[]\\"):
            raise ValueError(f"Redis key prefix must be non-empty, without * ? [ ] \\: {prefix!r}")
        if max_entry_size <= 0:
            raise ValueError(f"max_entry_size must be a positive number of bytes: {max_entry_size}")
        self._scrub = Scrubber.of_options(options, url)
        connect_url = urlunsplit(parts._replace(query=urlencode(query)))
        self._arguments = (url, prefix, max_entry_size, options if client is None else None)
        if client is None:
            import redis

            settings = {**_DEFAULT_TIMEOUTS, **options}
            for name in list(settings):
                if name in query:
                    del settings[name]  # the URL's own setting wins
            client = redis.Redis.from_url(connect_url, **settings)
        self.client = client
        self._lookup = client.register_script(_LOOKUP)
        self._usage: RedisUsage = RedisUsage(client, prefix)
        self.prefix = prefix
        self.max_entry_size = max_entry_size
        public = strip_userinfo(urlunsplit(parts._replace(query="", fragment="")))
        self._location = f"{self._scrub.url(public)}?prefix={prefix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @property
    def location(self) -> str:
        """Return ``redis://host:port/db?prefix=...``, without credentials."""
        return self._location

    @property
    def identity(self) -> str:
        """Return the location: server, database and prefix say which entries these are."""
        return self._location

    def __reduce__(self) -> tuple[Any, ...]:
        # Reconnects from what it was given (dask ships caches to workers).
        url, prefix, max_entry_size, options = self._arguments
        return (_rebuild, (url, prefix, max_entry_size, options or {}))

    def _name(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{check_key(key)}"

    def call(self, action: str, key: str, command: str, *args: Any) -> Any:
        """Run one Redis command, turning failures into a ``StorageError`` without secrets."""
        try:
            return getattr(self.client, command)(*args)
        except Exception as exc:
            raise self._failure(action, key, exc) from exc

    def _failure(self, action: str, key: str, exc: BaseException) -> StorageError:
        detail = self._scrub.text(f"{type(exc).__name__}: {exc}")
        return StorageError(f"Redis cache {self.location}: cannot {action} {key!r}: {detail}")

    def get(self, key: str) -> EntryReader | None:
        """Return a reader of the entry ``key`` (one round trip when small), or ``None``.

        An unreachable server is a miss here; the ``put`` that follows reports it.
        """
        name = self._name("entry", key)
        snapshot = self._name("read", uuid.uuid4().hex)
        try:
            head, size = self._lookup(keys=[name, snapshot], args=[HEAD_BYTES, _SNAPSHOT_MS])
        except Exception as exc:
            if is_unreachable(exc):
                return None
            raise self._failure("read", key, exc) from exc
        if not size:
            return None
        if int(size) <= HEAD_BYTES:
            return BytesReader(bytes(head))
        return _SnapshotReader(self, snapshot, bytes(head), int(size))

    def fetch(self, key: str, limit: int) -> bytes | EntryReader | None:
        """Return the whole entry with one plain ``GET`` (a lookup needs all of it anyway).

        One ``GET`` is the cheapest round trip Redis has, and it reads one version whole.
        Entries over ``limit`` come back as a reader over the bytes already fetched.
        """
        name = self._name("entry", key)
        try:
            data = self.client.get(name)
        except Exception as exc:
            if is_unreachable(exc):
                return None
            raise self._failure("read", key, exc) from exc
        if data is None:
            return None
        return bytes(data) if len(data) <= limit else BytesReader(data)

    def put(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Store the entry; refuse it with advice when it exceeds ``max_entry_size``."""
        views = [memoryview(part).cast("B") for part in parts]
        total = sum(view.nbytes for view in views)
        if total > self.max_entry_size:
            raise StorageError(
                f"Redis cache {self.location}: the entry is {total / 2**20:.1f} MiB, over "
                f"max_entry_size ({self.max_entry_size / 2**20:.1f} MiB). Redis holds "
                "everything in memory: use an object-storage cache (s3://...) for results "
                "this large, or raise max_entry_size."
            )
        name = self._name("entry", key)
        try:
            if total <= _CHUNK:
                self.client.set(name, b"".join(views))
                return
            temp = self._name("tmp", uuid.uuid4().hex)
            pipe = self.client.pipeline(transaction=False)
            first = True
            for view in views:
                for start in range(0, view.nbytes, _CHUNK):
                    piece = view[start : start + _CHUNK]
                    if first:
                        pipe.set(temp, piece, ex=_UPLOAD_EXPIRY_S)
                        first = False
                    else:
                        pipe.append(temp, piece)
            pipe.persist(temp)
            pipe.rename(temp, name)
            pipe.execute()
        except Exception as exc:
            raise self._failure("write", key, exc) from exc

    def delete(self, key: str) -> bool:
        """Delete the entry ``key`` and its usage record; return whether it existed."""
        name = self._name("entry", key)
        try:
            return self._usage.delete_with(key, name)
        except Exception as exc:
            raise self._failure("delete", key, exc) from exc

    def list(self) -> Iterator[str]:
        """Yield the key of every entry, walking the prefix with ``SCAN``."""
        start = len(f"{self.prefix}:entry:")
        try:
            names = list(self.client.scan_iter(match=f"{self.prefix}:entry:*", count=1000))
        except Exception as exc:
            raise self._failure("list", "entries", exc) from exc
        for name in names:
            text = name.decode() if isinstance(name, bytes) else str(name)
            yield text[start:]

    def reclaim(self) -> int:
        """Drop the usage records of entries that are gone (evicted by the server)."""
        try:
            self._usage.drop_orphans()
        except Exception as exc:
            raise self._failure("clean up the usage of", "entries", exc) from exc
        return 0

    def lock(self, key: str, ttl: float) -> StoreLock | None:
        """Return a ``SET NX PX`` lock on ``key`` that expires ``ttl`` s after its last refresh."""
        name = self._name("lock", key)
        return _RedisLock(self.client.lock(name, timeout=ttl, blocking=False, thread_local=False))


def _rebuild(url: str, prefix: str, max_entry_size: int, options: Mapping[str, Any]) -> RedisStore:
    """Recreate a store in another process (used by ``RedisStore.__reduce__``)."""
    return RedisStore(url, prefix, max_entry_size, **options)
