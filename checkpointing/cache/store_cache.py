"""A cache made of any store plus the entry codec: format, checks, listing, clearing.

:class:`StoreCache` is where results meet bytes. It derives the store key and the id digest
from the context id, encodes results with :mod:`checkpointing.cache.codec`, and decodes
them on a hit after every check passed. What it promises, whatever the store:

* a damaged, misplaced or (with a secret) unsigned entry is a miss with one
  :class:`~checkpointing.exceptions.CorruptEntryWarning`, and is quarantined by the store;
* listing and clearing read JSON metadata only: nothing stored is ever unpickled to list;
* entries of other format versions are quiet misses, replaced by the next save;
* a hit is recorded with ``store.touch`` (hit counts and last use, for listings).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Mapping
from typing import Any

from checkpointing._version import __version__
from checkpointing.cache import codec
from checkpointing.cache._ids import IdCodec, ListedId, codec_of, decode_id, encode_id
from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.config import defaults, validate
from checkpointing.exceptions import CheckpointNotExist, CorruptEntryWarning, StorageError
from checkpointing.store.base import Store, StoreLock

__all__ = ["SECRET_ENVIRONMENT_VARIABLE", "StoreCache", "resolve_secret"]

SECRET_ENVIRONMENT_VARIABLE = "CHECKPOINTING_SECRET"
_PYTHON_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
_PACKAGE = os.path.dirname(os.path.dirname(__file__))
# Warnings are attributed to the first caller outside the package (the cache may be
# reached through the call engine, the decorator or the notebook extension's runner).
_OUR_FILES = (os.path.join(_PACKAGE, ""),)


def resolve_secret(secret: str | bytes | None) -> bytes | None:
    """Return the signing key: ``secret``, else the ``cache.secret`` setting, else the env."""
    if secret is None:
        secret = defaults.get("cache.secret") or os.environ.get(SECRET_ENVIRONMENT_VARIABLE)
    if secret is None or secret == "" or secret == b"":
        return None
    if isinstance(secret, str):
        return secret.encode()
    if isinstance(secret, bytes):
        return secret
    raise TypeError(f"secret must be str, bytes or None, got {type(secret).__name__}")


def _check_protocol(protocol: Any) -> int:
    """Return ``protocol`` if it is a usable pickle protocol, else raise ``ValueError``."""
    # The rule of the cache.pickle_protocol setting, so argument and setting agree.
    checked: int = validate("cache.pickle_protocol", protocol, "pickle_protocol")
    return checked


def _stacklevel() -> int:
    """Return the warnings stack level of the first frame outside the cache and store code."""
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_OUR_FILES):
        frame = frame.f_back
        level += 1
    return level


class StoreCache(CacheBase):
    """Keep results in ``store``, in the checked entry format of :mod:`.codec`.

    ``pickle_protocol`` defaults to ``defaults["cache.pickle_protocol"]``. ``secret``
    (str or bytes) signs every entry and refuses entries not signed with it; it defaults
    to ``defaults["cache.secret"]``, then to the ``CHECKPOINTING_SECRET`` environment
    variable. Without a secret, loading an entry runs whatever its pickle says: only use
    a cache that nobody else can write to.
    """

    def __init__(
        self,
        store: Store,
        *,
        pickle_protocol: int | None = None,
        secret: str | bytes | None = None,
    ) -> None:
        if pickle_protocol is None:
            pickle_protocol = defaults["cache.pickle_protocol"]
        self.store = store
        self.pickle_protocol: int = _check_protocol(pickle_protocol)
        self._secret = resolve_secret(secret)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.store!r})"

    @property
    def signed(self) -> bool:
        """Tell whether this cache signs its entries and refuses unsigned ones."""
        return self._secret is not None

    @property
    def location(self) -> str:
        """Return the store's location."""
        return self.store.location

    @property
    def identity(self) -> str:
        """Return the store's identity."""
        return self.store.identity

    @property
    def label(self) -> str:
        """Return the store's label."""
        return self.store.label

    # -- writing -------------------------------------------------------------------------

    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` under ``context_id`` without call metadata."""
        self._write(context_id, result, "", "", time.time(), 0.0, 0, {})

    def save_entry(self, context_id: Any, result: Any, info: EntryInfo) -> None:
        """Store ``result`` with the function name, argument summary and run time of ``info``."""
        created = info.created or time.time()
        self._write(
            context_id,
            result,
            info.function,
            info.arguments,
            created,
            info.run_time,
            codec.FLAG_HAS_INFO,
            info.extra,
        )

    def _write(
        self,
        context_id: Any,
        result: Any,
        function: str,
        arguments: str,
        created: float,
        run_time: float,
        flags: int,
        extra: Mapping[str, Any],
    ) -> None:
        """Encode the entry and hand it to the store, streamed to a file where it can be."""
        ids = codec_of(context_id)
        meta = {
            "context_id": context_id if type(context_id) is str else repr(context_id),
            "id": encode_id(context_id),
            "function": function,
            "arguments": arguments,
            "python": _PYTHON_VERSION,
            "checkpointing": __version__,
        }
        if extra:
            meta["extra"] = dict(extra)
        options: dict[str, Any] = {
            "protocol": self.pickle_protocol,
            "meta": codec.meta_bytes(meta),
            "created": created,
            "run_time": run_time,
            "flags": flags,
            "secret": self._secret,
        }
        assert ids.key is not None
        # A store of local files lets the codec stream the entry into the file it will
        # publish, so a large result is never held pickled in memory as well.
        put_file = getattr(self.store, "put_file", None)
        if put_file is not None:
            put_file(ids.key, lambda open_file: codec.write_file(open_file, ids, result, **options))
        else:
            self.store.put(ids.key, codec.encode(ids, result, **options))

    # -- reading -------------------------------------------------------------------------

    def retrieve(self, context_id: Any) -> Any:
        """Return the result stored under ``context_id``; a bad entry is a miss."""
        return self._read(context_id)[0]

    def retrieve_entry(self, context_id: Any) -> tuple[Any, float | None]:
        """Return ``(result, run_time)``; ``run_time`` is ``None`` if stored by ``save``."""
        result, flags, run_time = self._read(context_id)
        return result, (run_time if flags & codec.FLAG_HAS_INFO else None)

    def _read(self, context_id: Any) -> tuple[Any, int, float]:
        """Load and check an entry; warn once and miss if it cannot be served."""
        ids = codec_of(context_id)
        key = ids.key
        assert key is not None
        try:
            try:
                loaded = self._load(key, ids)
            except codec.EntryError as exc:
                if not exc.quarantine:
                    raise
                # A writer may have replaced the entry since it was read: look once more
                # before setting aside what may by now be a good entry.
                try:
                    loaded = self._load(key, ids)
                except codec.EntryError:
                    self._quarantine(key, exc)
                    raise CheckpointNotExist(f"damaged cache entry for {context_id!r}") from exc
        except codec.EntryError as exc:
            if exc.warn:
                self._warn(key, exc)
            raise CheckpointNotExist(f"unusable cache entry for {context_id!r}") from exc
        except OSError as exc:  # StorageError included
            self._warn(key, exc)
            raise CheckpointNotExist(f"unreadable cache entry for {context_id!r}") from exc
        if loaded is None:
            raise CheckpointNotExist(f"no cache entry for {context_id!r}")
        self.store.touch(key)
        return loaded

    def _load(self, key: str, ids: IdCodec) -> tuple[Any, int, float] | None:
        """Fetch and decode the entry ``key``; ``None`` if there is none."""
        found = self.store.fetch(key, codec.FIRST_READ)
        if found is None:
            return None
        if isinstance(found, bytes):
            return codec.decode_bytes(found, ids, self._secret)
        with found:
            return codec.decode(found, ids, self._secret)

    def check_entry(self, context_id: Any) -> str | None:
        """Read and check one entry completely, without counting a use; return the problem."""
        ids = codec_of(context_id)
        assert ids.key is not None
        try:
            if self._load(ids.key, ids) is None:
                return "the entry is gone"
        except (codec.EntryError, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None

    def _quarantine(self, key: str, cause: Exception) -> None:
        """Set a damaged entry aside and say so, once."""
        try:
            self.store.quarantine(key)
        except StorageError as exc:
            self._warn(key, f"{cause}; it could not be set aside either: {exc}")
            return
        self._warn(key, f"{cause}; it was moved to the quarantine")

    def _warn(self, key: str, cause: object) -> None:
        """Tell the user an entry is unusable and counts as a miss."""
        warnings.warn(
            f"cache entry {self.store.where(key)} is unusable and counts as a miss "
            f"(the next save replaces it): {cause}",
            CorruptEntryWarning,
            stacklevel=_stacklevel(),
        )

    # -- inspection and pruning ----------------------------------------------------------

    def _heads(self) -> list[tuple[str, codec.EntryHead]]:
        """Read the head of every entry of the current format; skip what is not one."""
        found = []
        for key in list(self.store.list()):
            try:
                reader = self.store.get(key)
                if reader is None:
                    continue
                with reader:
                    found.append((key, codec.read_head(reader)))
            except (codec.EntryError, OSError):
                continue
        return found

    def _info(self, key: str, head: codec.EntryHead, usage: tuple[int, float | None]) -> EntryInfo:
        """Build the ``EntryInfo`` of an entry from its head and its usage record."""
        meta = head.meta
        context_id: Any = ListedId(key, str(meta.get("context_id")))
        with contextlib.suppress(ValueError, TypeError):
            context_id = decode_id(meta.get("id"))
        hits, last_used = usage
        extra = meta.get("extra")
        return EntryInfo(
            context_id=context_id,
            function=str(meta.get("function", "")),
            created=head.created,
            size=head.size,
            run_time=head.run_time,
            arguments=str(meta.get("arguments", "")),
            format_version=codec.FORMAT_VERSION,
            last_used=last_used or 0.0,
            hits=hits,
            extra=extra if isinstance(extra, dict) else {},
        )

    def entries(self) -> list[EntryInfo]:
        """List the metadata of every readable entry (never unpickling anything)."""
        heads = self._heads()
        # One bulk read: a remote store answers for every entry in a few requests.
        try:
            usages = self.store.usages([key for key, _ in heads])
        except OSError:
            usages = {}  # usage is a hint: a listing without it is still a listing
        return [self._info(key, head, usages.get(key, (0, None))) for key, head in heads]

    def delete(self, context_id: Any) -> bool:
        """Remove the entry of ``context_id``; return whether there was one."""
        key = context_id.key if type(context_id) is ListedId else codec_of(context_id).key
        assert key is not None
        return self.store.delete(key)

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or only those of ``function``; return how many were removed.

        Clearing everything also removes this cache's entries that are damaged or of
        another format version; clearing one function only those whose metadata names
        it. Nothing that is not an entry is touched, and leftovers of dead writers go.
        """
        self.store.reclaim()
        removed = 0
        for key in list(self.store.list()):
            if function is not None:
                try:
                    reader = self.store.get(key)
                    if reader is None:
                        continue
                    with reader:
                        if codec.read_head(reader).meta.get("function") != function:
                            continue
                except (codec.EntryError, OSError):
                    continue
            if self.store.delete(key):
                removed += 1
        return removed

    def quarantined(self) -> list[str]:
        """List the entries set aside as damaged."""
        return self.store.quarantined()

    def clear_quarantine(self) -> int:
        """Remove every quarantined entry; return how many."""
        return self.store.clear_quarantine()

    def lock(self, context_id: Any, ttl: float) -> StoreLock | None:
        """Return the store's lock on the entry of ``context_id`` (``None``: cannot lock)."""
        key = codec_of(context_id).key
        assert key is not None
        return self.store.lock(key, ttl)
