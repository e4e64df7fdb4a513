"""Hit counts and last-used times on object storage, written in batches and merged on read.

A hit must not write an object: it only counts in memory
(:class:`~checkpointing.store._usage.UsageBatcher`), and a background thread writes the
counts of the last second as one new small JSON object (and a last one at exit)::

    <root>/.usage/<millis>-<random>.json
        {"hits": {key: [hits, last use]}, "forgotten": {key: when}, "replaces": [names]}

Objects are never rewritten, so writers never race: each process adds its own. Reading
lists ``.usage/`` and fetches every object concurrently (one request each, independent of
the number of entries), then merges them: hits add up, the latest use wins, and a key
``forgotten`` at time T (its entry was deleted) keeps only uses later than T.

Compaction keeps the objects few. When there are more than ``COMPACT_ABOVE`` (found by a
reader, or by a writer that checks now and then), the process holding the compaction
lease (``.locks/.usage-compaction.lock``) writes one object with the merged counts that
lists the names it ``replaces``, then deletes those. Readers skip any object a present
object replaces, so the counts stay right while old objects are being deleted, and after
a compactor died midway. Compaction also drops the records of keys that have no entry any
more (deleted by hand, or by a bucket's expiry rule), and deletions older than an hour
(batches written before a deletion arrive within seconds).

Consistency: counts are hints. A batch lost with a killed process, an object deleted
under a reader, or clocks that differ between machines (a hit seen as older than a
delete) only make a count or a last-use time slightly off; they never change which result
a call gets.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import random
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from checkpointing.store._usage import USAGE_DIR, Hits, UsageBatcher
from checkpointing.store.locks import LeaseBackend, LeaseFile

__all__ = ["COMPACT_ABOVE", "ObjectUsage"]

# A reader or writer that finds more usage objects than this merges them into one.
COMPACT_ABOVE = 64
# A writer checks the number of objects after this fraction of its writes (one listing).
_CHECK_FRACTION = 1 / 16
_LEASE_NAME = ".usage-compaction.lock"
_LEASE_TTL = 120.0
# How long a compaction keeps the record that an entry was deleted, for late batches.
_FORGET_KEEP = 3600.0

# The merged view: key -> [hits, last use, forgotten at].
_Merged = dict[str, list[float]]


class ObjectUsage(UsageBatcher):
    """The usage records of an object-storage store rooted at ``root`` on file system ``fs``.

    ``leases`` holds the compaction lease; ``list_keys`` yields the keys of the entries
    that exist (compaction drops the records of the others).
    """

    background = True

    def __init__(
        self, fs: Any, root: str, leases: LeaseBackend, list_keys: Callable[[], Iterable[str]]
    ) -> None:
        self._fs = fs
        self.directory = f"{root}/{USAGE_DIR}"
        self._leases = leases
        self._list_keys = list_keys
        super().__init__()

    def write(self, hits: Hits, forgotten: dict[str, float]) -> None:
        """Write one batch as a new usage object; now and then, compact."""
        record = {"hits": {key: [count, last] for key, (count, last) in hits.items()}}
        if forgotten:
            record["forgotten"] = forgotten  # type: ignore[assignment]
        self._put(record)
        if random.random() < _CHECK_FRACTION and len(self._names()) > COMPACT_ABOVE:
            self.compact()

    def _put(self, record: dict[str, Any]) -> None:
        name = f"{time.time_ns() // 1_000_000:013d}-{uuid.uuid4().hex[:16]}.json"
        self._fs.pipe_file(f"{self.directory}/{name}", json.dumps(record).encode())

    def _names(self) -> list[str]:
        """Return the names of the usage objects (a fresh listing)."""
        try:
            self._fs.invalidate_cache(self.directory)
            listed = self._fs.ls(self.directory, detail=False)
        except FileNotFoundError:
            return []
        names = (posixpath.basename(str(path).rstrip("/")) for path in listed)
        return sorted(name for name in names if name.endswith(".json"))

    def _read(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Fetch and parse the usage objects ``names`` concurrently; skip unreadable ones."""
        if not names:
            return {}
        paths = [f"{self.directory}/{name}" for name in names]
        found = self._fs.cat(paths, on_error="omit")
        records = {}
        for path, data in found.items():
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                record = json.loads(data)
                if isinstance(record, dict):
                    records[posixpath.basename(str(path))] = record
        return records

    def _merge(self, records: dict[str, dict[str, Any]]) -> _Merged:
        """Combine the records that no other present record replaces."""
        replaced: set[str] = set()
        for record in records.values():
            replaced.update(str(name) for name in record.get("replaces", ()))
        deltas: dict[str, list[tuple[int, float]]] = {}
        forgot: dict[str, float] = {}
        for name, record in records.items():
            if name in replaced:
                continue
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                for key, when in dict(record.get("forgotten", {})).items():
                    forgot[key] = max(forgot.get(key, 0.0), float(when))
                for key, (count, last) in dict(record.get("hits", {})).items():
                    deltas.setdefault(key, []).append((int(count), float(last)))
        merged: _Merged = {key: [0, 0.0, when] for key, when in forgot.items()}
        for key, uses in deltas.items():
            slot = merged.setdefault(key, [0, 0.0, 0.0])
            for count, last in uses:
                if last > slot[2]:  # a use before the entry was deleted no longer counts
                    slot[0] += count
                    slot[1] = max(slot[1], last)
        return merged

    def read(self, keys: list[str]) -> dict[str, tuple[int, float | None]]:
        """Return ``(hits, last_used)`` of each key, after writing this process's counts."""
        self.flush()
        names = self._names()
        merged = self._merge(self._read(names))
        if len(names) > COMPACT_ABOVE:
            with contextlib.suppress(Exception):  # compaction is housekeeping
                self.compact()
        result: dict[str, tuple[int, float | None]] = {}
        for key in keys:
            count, last, _ = merged.get(key, (0, 0.0, 0.0))
            result[key] = (int(count), last or None) if count else (0, None)
        return result

    def compact(self) -> bool:
        """Merge all usage objects into one, under the compaction lease; return if done."""
        lease = LeaseFile(self._leases, _LEASE_NAME, _LEASE_TTL)
        if not lease.acquire():
            return False  # another process is compacting
        try:
            names = self._names()
            records = self._read(names)
            merged = self._merge(records)
            existing = set(self._list_keys())  # listed after reading: hit keys had entries
            hits = {k: [int(v[0]), v[1]] for k, v in merged.items() if v[0] and k in existing}
            # A deletion only needs to outlive the batches written before it (seconds).
            recent = time.time() - _FORGET_KEEP
            forgotten = {k: v[2] for k, v in merged.items() if v[2] > recent and k in existing}
            record: dict[str, Any] = {"hits": hits, "replaces": sorted(records)}
            if forgotten:
                record["forgotten"] = forgotten
            self._put(record)
            paths = [f"{self.directory}/{name}" for name in sorted(records)]
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm(paths)
        finally:
            lease.release()
        return True

    def forget(self, key: str) -> None:
        """Record (with the next batch) that ``key``'s entry is gone: its uses so far lapse."""
        self.forget_later(key)
