"""What the stores held by a server share: readers of their entries, and hit counting.

Readers: the first bytes come with the lookup, the rest on demand.

A hit on a small entry must cost one request, so a remote store fetches the first
``HEAD_BYTES`` of an entry (and its size) when it is looked up; a smaller entry is then
entirely in memory. Reading further must still see the *same version* of the entry,
even if another process replaces it meanwhile (a ``rerun`` elsewhere). Two ways:

* :class:`WholeValueReader` fetches the rest as one whole value (one atomic ``GET``) the
  first time it is needed, and checks that it starts with the bytes already served;
* :class:`PinnedRangeReader` fetches ranges in parallel, each request conditional on the
  version seen first (S3's ``If-Match`` on the ETag).

Either way, a version that changed under the reader raises ``StorageError``: the cache
then counts a miss (with a warning) and never mixes two versions into one result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from checkpointing.exceptions import StorageError
from checkpointing.store.base import check_key

__all__ = ["HEAD_BYTES", "BatchedUsage", "PinnedRangeReader", "WholeValueReader"]

HEAD_BYTES = 1 << 16


class _HeadReader:
    """The parts common to remote readers: size, the head in memory, context manager."""

    def __init__(self, name: str, head: bytes, size: int) -> None:
        self.name = name
        self._head = head
        self._size = size

    def size(self) -> int:
        """Return the entry's total size in bytes."""
        return self._size

    def read_into(self, view: memoryview, offset: int) -> None:
        """Fill ``view`` from byte ``offset``; raise ``EOFError`` past the end of the entry."""
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        end = offset + len(view)
        if offset < 0 or end > self._size:
            raise EOFError(f"{self.name}: {self._size} bytes, asked for {offset}..{end}")
        if end <= len(self._head):
            view[:] = self._head[offset:end]
        else:
            self._fill(view, offset)

    def _fill(self, view: memoryview, offset: int) -> None:
        raise NotImplementedError

    def _changed(self) -> StorageError:
        return StorageError(f"{self.name} was replaced while being read; counted as a miss")

    def close(self) -> None:
        """Drop what the reader holds in memory."""
        self._head = b""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WholeValueReader(_HeadReader):
    """Read past the head by fetching the whole value once (``fetch_whole``), then slicing it."""

    def __init__(
        self, name: str, head: bytes, size: int, fetch_whole: Callable[[], bytes | None]
    ) -> None:
        super().__init__(name, head, size)
        self._fetch_whole = fetch_whole
        self._whole: bytes | None = None

    def _fill(self, view: memoryview, offset: int) -> None:
        if self._whole is None:
            whole = self._fetch_whole()
            head = self._head
            if whole is None or len(whole) != self._size or whole[: len(head)] != head:
                raise self._changed()
            self._whole = whole
        view[:] = memoryview(self._whole)[offset : offset + len(view)]

    def close(self) -> None:
        """Drop the head and the fetched value."""
        super().close()
        self._whole = None


class PinnedRangeReader(_HeadReader):
    """Read past the head by ranges, each pinned to the first version (``fetch_ranges``).

    ``fetch_ranges(starts, ends)`` returns the bytes of each range, or raises
    ``StorageError`` when the version changed.
    """

    def __init__(
        self,
        name: str,
        head: bytes,
        size: int,
        fetch_ranges: Callable[[Sequence[int], Sequence[int]], Sequence[bytes]],
        chunk: int,
        parallel: int,
    ) -> None:
        super().__init__(name, head, size)
        self._fetch_ranges = fetch_ranges
        self._chunk = chunk
        self._parallel = parallel

    def _fill(self, view: memoryview, offset: int) -> None:
        end = offset + len(view)
        starts = list(range(offset, end, self._chunk))
        for group in range(0, len(starts), self._parallel):
            batch = starts[group : group + self._parallel]
            ends = [min(start + self._chunk, end) for start in batch]
            for start, stop, chunk in zip(
                batch, ends, self._fetch_ranges(batch, ends), strict=True
            ):
                if len(chunk) != stop - start:
                    raise self._changed()
                view[start - offset : stop - offset] = chunk


def is_unreachable(exc: BaseException) -> bool:
    """Tell whether ``exc`` means the server could not be reached (refused, timed out...).

    Each client library has its own classes for this (redis-py, botocore, aiohttp), so
    they are recognised by name along the class hierarchy and the chain of causes.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        names = (cls.__name__ for cls in type(current).__mro__)
        if any("Connect" in name or "Timeout" in name for name in names):
            return True
        current = current.__cause__ or current.__context__
    return False


class BatchedUsage:
    """``touch``/``usage``/``usages`` of a store whose hits a usage batcher records.

    The store sets ``_usage`` (a ``UsageBatcher`` with ``read(keys)``: counts pending in
    this process included) and has ``_failure`` to turn a server error into a
    ``StorageError``. A hit only counts in memory; the batcher writes in the background.
    """

    _usage: Any
    _failure: Callable[[str, str, BaseException], StorageError]

    def touch(self, key: str) -> None:
        """Count a hit of ``key`` in memory (written in a batch in the background)."""
        self._usage.touch(key)

    def usage(self, key: str) -> tuple[int, float | None]:
        """Return the hits and last use of ``key``, this process's pending hits included."""
        return self.usages([key]).get(key, (0, None))

    def usages(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        """Return the hits and last use of each of ``keys`` (a few requests, not one each)."""
        checked = [check_key(key) for key in keys]
        try:
            found: dict[str, tuple[int, float | None]] = self._usage.read(checked)
        except Exception as exc:
            raise self._failure("read the usage of", "entries", exc) from exc
        return found
