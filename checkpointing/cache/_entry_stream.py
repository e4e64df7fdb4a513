"""Stream an entry to and from a local file, so large results are never held twice.

Writing: pickle writes straight into :class:`_FileSink`, which feeds the payload digest
(and the signature) as the bytes pass and writes them out in chunks of about 1 MB; the
fixed header, known only at the end, is written last over the placeholder at offset 0.
An entry that stays under one chunk without out-of-band buffers is written in a single
call, as before streaming existed, so small saves cost one write.

Reading: :func:`hash_range` checks a stream in a first chunked pass over the file, and
only once every digest (and the signature) matched does :func:`unpickle_range` read the
stream a second time, through a buffered reader, to unpickle it. The bytes are read twice
from the page cache, which costs far less than unpickling them; memory stays at a chunk.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from collections.abc import Callable
from typing import Any

from checkpointing.cache._format import (
    FLAG_SIGNED,
    HEADER,
    Digests,
    aligned,
    pack_header,
)
from checkpointing.cache._ids import IdCodec
from checkpointing.cache._pickling import pickle_into
from checkpointing.store.base import EntryReader

__all__ = ["CHUNK", "hash_range", "unpickle_range", "write_entry"]

# Bytes gathered before a write, and read per call when hashing: large enough that system
# calls cost nothing next to the copying, small enough not to count in memory.
CHUNK = 1 << 20
# Linux caps one write at about 2 GiB; larger writes are split.
_MAX_IO = 1 << 30


class _FileSink:
    """The file object pickle writes to: every payload byte is hashed, then written."""

    __slots__ = ("digests", "failed", "fd", "open_file", "pending", "size", "written")

    def __init__(self, open_file: Callable[[], int], digests: Digests, start: bytes) -> None:
        self.open_file = open_file
        self.fd = -1  # the file is created when the first bytes are written
        self.digests = digests
        self.pending = bytearray(start)  # the header placeholder and the metadata
        self.size = len(start)  # bytes of the entry so far
        self.written = 0  # of which already written to the file
        self.failed: Exception | None = None

    def write(self, data: Any) -> int:
        """Hash and write the next payload bytes (pickle calls this once per frame)."""
        self.digests.update(data)
        if type(data) is bytes and len(self.pending) + len(data) <= CHUNK:
            self.pending += data  # the usual case, kept short: small saves pass here once
            self.size += len(data)
            return len(data)
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        self.put(view)
        return len(view)

    def put(self, view: memoryview) -> None:
        """Write bytes without hashing them (padding), gathering small ones."""
        if len(self.pending) + len(view) > CHUNK:
            self.flush()
            if len(view) >= CHUNK:  # a large string or buffer goes out without a copy
                self._write(view)
                self.size += len(view)
                return
        self.pending += view
        self.size += len(view)

    def flush(self) -> None:
        """Write what is gathered."""
        if self.pending:
            self._write(memoryview(self.pending))
            self.pending = bytearray()

    def _write(self, view: memoryview) -> None:
        """Write all of ``view`` at the file position, keeping the error for the pickler."""
        try:
            if self.fd < 0:
                self.fd = self.open_file()
            while view:
                done = os.write(self.fd, view[:_MAX_IO])
                view = view[done:]
                self.written += done
        except Exception as exc:
            self.failed = exc  # pickle_into lets this one through: it is not the result's
            raise

    def finish(self, header: bytes) -> None:
        """Put the header in place: in the single write of a small entry, else at offset 0."""
        if not self.written:
            self.pending[: len(header)] = header
            self.flush()
            return
        self.flush()
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.pending = bytearray(header)
        self.flush()


def write_entry(
    open_file: Callable[[], int],
    ids: IdCodec,
    result: Any,
    *,
    protocol: int,
    meta: bytes,
    created: float,
    run_time: float,
    flags: int,
    secret: bytes | None,
) -> None:
    """Write the entry of ``result``, pickling as it goes, to the new file ``open_file()``.

    The file is created (``open_file`` called) only once the first chunk is ready, so a
    result that fails to pickle early touches no file at all.
    """
    if secret:
        flags |= FLAG_SIGNED
    digests = Digests(meta, secret)
    sink = _FileSink(open_file, digests, bytes(HEADER.size) + meta)
    buffers = pickle_into(sink, result, protocol)
    pickle_len = sink.size - HEADER.size - len(meta)
    if buffers:  # else the lengths table is empty
        sink.write(struct.pack(f"<{len(buffers)}Q", *(raw.nbytes for raw in buffers)))
    for raw in buffers:
        sink.put(memoryview(bytes(aligned(sink.size) - sink.size)))
        sink.write(raw)
    assert ids.digest is not None
    sink.finish(
        pack_header(
            flags=flags,
            created=created,
            run_time=run_time,
            meta=meta,
            pickle_len=pickle_len,
            n_buffers=len(buffers),
            id_digest=ids.digest,
            digests=digests,
        )
    )


def hash_range(reader: EntryReader, start: int, end: int, digests: Digests) -> None:
    """Feed bytes ``start..end`` of the entry to ``digests``, a chunk at a time."""
    chunk = memoryview(bytearray(min(CHUNK, end - start)))
    while start < end:
        part = chunk[: min(len(chunk), end - start)]
        reader.read_into(part, start)
        digests.update(part)
        start += len(part)


class _RangeStream(io.RawIOBase):
    """Bytes ``start..end`` of an entry as a raw binary file, read by offset."""

    def __init__(self, reader: EntryReader, start: int, end: int) -> None:
        super().__init__()
        self._reader = reader
        self._position = start
        self._end = end

    def readable(self) -> bool:
        """Tell that this stream can be read."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with the next bytes of the range; return how many (0 at its end)."""
        view = memoryview(buffer).cast("B")
        count = min(len(view), self._end - self._position)
        if count <= 0:
            return 0
        self._reader.read_into(view[:count], self._position)
        self._position += count
        return count


def unpickle_range(reader: EntryReader, start: int, end: int, buffers: list[Any]) -> Any:
    """Unpickle the (already verified) stream at bytes ``start..end`` of the entry."""
    # Large reads (a long string) bypass the buffer and go straight into the object.
    with io.BufferedReader(_RangeStream(reader, start, end), 1 << 16) as stream:
        return pickle.load(stream, buffers=buffers)
