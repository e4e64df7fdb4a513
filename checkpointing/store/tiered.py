"""A local store in front of a shared one, so a second hit costs a local read.

Reads look in the local store first; an entry found only in the shared store is copied
to the local one as it is read, and served from there from then on. Writes go to the
shared store (the one the team sees) and then to the local copy. Listing, deleting and
locking are the shared store's; a hit is recorded in both (each batches its writes), and
hit counts are read from the shared store.

Why a local copy can be trusted: keys are derived from the call context (code, argument
values, values read), so whatever is stored under a key is a result of that very
computation. After a colleague re-runs a key (``rerun``), other machines may keep
serving their earlier local copy of it, which was computed from the same inputs. Delete
the local directory (or the entry) to drop copies.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterable, Iterator, Sequence

from checkpointing.store.base import BytesReader, EntryReader, Store
from checkpointing.store.locks import StoreLock

__all__ = ["TieredStore"]


class TieredStore(Store):
    """Serve entries from ``local`` when it has them, else from ``shared`` (copying them)."""

    def __init__(self, local: Store, shared: Store) -> None:
        self.local = local
        self.shared = shared
        self.label = f"{shared.label} + local copy"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(local={self.local!r}, shared={self.shared!r})"

    @property
    def location(self) -> str:
        """Return the shared store's location (the local copy is a detail)."""
        return self.shared.location

    @property
    def identity(self) -> str:
        """Return the shared store's identity: the entries are the shared store's."""
        return self.shared.identity

    def get(self, key: str) -> EntryReader | None:
        """Return the local copy of ``key``, making one from the shared store if needed."""
        reader = self.local.get(key)
        if reader is not None:
            return reader
        remote = self.shared.get(key)
        if remote is None:
            return None
        with remote:
            data = bytearray(remote.size())
            remote.read_into(memoryview(data), 0)
        # The copy is an optimisation: a full or read-only local disk must not fail a hit.
        with contextlib.suppress(OSError):
            self.local.put(key, [memoryview(data)])
            copied = self.local.get(key)
            if copied is not None:
                return copied
        return BytesReader(data)

    def put(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Store the entry in the shared store, then keep a local copy."""
        self.shared.put(key, parts)
        with contextlib.suppress(OSError):
            self.local.put(key, parts)

    def delete(self, key: str) -> bool:
        """Delete the entry from the shared store and the local copy."""
        with contextlib.suppress(OSError):
            self.local.delete(key)
        return self.shared.delete(key)

    def list(self) -> Iterator[str]:
        """Yield the keys of the shared store."""
        return self.shared.list()

    def quarantine(self, key: str) -> None:
        """Set a damaged entry aside in both stores: the shared copy may be the damaged one."""
        with contextlib.suppress(OSError):
            self.local.quarantine(key)
        self.shared.quarantine(key)

    def quarantined(self) -> builtins.list[str]:
        """List the entries set aside, in the local copy and in the shared store."""
        return [*self.local.quarantined(), *self.shared.quarantined()]

    def clear_quarantine(self) -> int:
        """Remove the entries set aside in both stores; return how many."""
        return self.local.clear_quarantine() + self.shared.clear_quarantine()

    def touch(self, key: str) -> None:
        """Record a use in both stores (each batches its writes: a hit writes nothing)."""
        self.local.touch(key)
        self.shared.touch(key)

    def usage(self, key: str) -> tuple[int, float | None]:
        """Return the shared store's record (the team's uses), else the local copy's."""
        return self.usages([key]).get(key, (0, None))

    def usages(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        """Return each key's record in the shared store, else in the local copy."""
        keys = list(keys)
        found = self.shared.usages(keys)
        unknown = [key for key in keys if found.get(key, (0, None)) == (0, None)]
        if unknown:
            with contextlib.suppress(OSError):
                found.update(self.local.usages(unknown))
        return found

    def lock(self, key: str, ttl: float) -> StoreLock | None:
        """Return the shared store's lock: computations are shared, so are their locks."""
        return self.shared.lock(key, ttl)
