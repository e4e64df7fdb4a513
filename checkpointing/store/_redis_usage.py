"""Hit counts and last-used times of Redis entries, in two hashes under the store's prefix.

Layout::

    <prefix>:usage:hits   entry key -> number of hits
    <prefix>:usage:used   entry key -> last use (POSIX time, as text)

A hit only counts in memory (:class:`~checkpointing.store._usage.UsageBatcher`); the
background writer sends a batch at most once a second, and at exit, as one script call:
one round trip that adds the hits and keeps the latest use, for entries that still exist,
so a count arriving after its entry was deleted leaves no orphan field behind. Reading
the usage of any number of entries is one pipelined round trip (an ``HMGET`` per hash).
Deleting an entry deletes its fields in the same round trip as the entry.
"""

from __future__ import annotations

from typing import Any

from checkpointing.store._usage import Hits, UsageBatcher

__all__ = ["RedisUsage"]

# KEYS: the hits hash, the used hash, then one entry per batched key.
# ARGV: key, hits, last use, for each entry in the same order.
_RECORD = """
for i = 3, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
        local key = ARGV[3 * i - 8]
        redis.call('HINCRBY', KEYS[1], key, ARGV[3 * i - 7])
        local last = tonumber(redis.call('HGET', KEYS[2], key) or '0')
        if tonumber(ARGV[3 * i - 6]) > last then
            redis.call('HSET', KEYS[2], key, ARGV[3 * i - 6])
        end
    end
end
return 0
"""


class RedisUsage(UsageBatcher):
    """The usage records of the Redis store with key prefix ``prefix``."""

    background = True

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._record = client.register_script(_RECORD)
        self.hits_hash = f"{prefix}:usage:hits"
        self.used_hash = f"{prefix}:usage:used"
        self._entry_prefix = f"{prefix}:entry:"
        super().__init__()

    def write(self, hits: Hits, forgotten: dict[str, float]) -> None:
        """Add ``hits`` to the server's counts in one round trip."""
        if not hits:
            return
        keys = [self.hits_hash, self.used_hash]
        args: list[Any] = []
        for key, (count, last) in hits.items():
            keys.append(self._entry_prefix + key)
            args += [key, count, repr(last)]
        self._record(keys=keys, args=args)

    def read(self, keys: list[str]) -> dict[str, tuple[int, float | None]]:
        """Return ``(hits, last_used)`` of each key, after sending this process's counts."""
        if not keys:
            return {}
        self.flush()
        pipe = self._client.pipeline(transaction=False)
        pipe.hmget(self.hits_hash, keys)
        pipe.hmget(self.used_hash, keys)
        hits, used = pipe.execute()
        return {
            key: (int(count or 0), None if last is None else float(last))
            for key, count, last in zip(keys, hits, used, strict=True)
        }

    def delete_with(self, key: str, entry: str) -> bool:
        """Delete the Redis key ``entry`` and the usage of ``key`` in one round trip."""
        self.discard(key)
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(entry)
        pipe.hdel(self.hits_hash, key)
        pipe.hdel(self.used_hash, key)
        existed, _, _ = pipe.execute()
        return bool(existed)

    def drop_orphans(self) -> None:
        """Remove the fields of entries that no longer exist (evicted by the server)."""
        recorded = [_text(name) for name in self._client.hkeys(self.hits_hash)]
        if not recorded:
            return
        pipe = self._client.pipeline(transaction=False)
        for key in recorded:
            pipe.exists(self._entry_prefix + key)
        found = pipe.execute()
        gone = [key for key, exists in zip(recorded, found, strict=True) if not exists]
        if gone:
            pipe.hdel(self.hits_hash, *gone)
            pipe.hdel(self.used_hash, *gone)
            pipe.execute()


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)
