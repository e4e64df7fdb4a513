"""The entry format: a result and its metadata as bytes, checked on every load.

Format version 3, little-endian. An entry is written either as a few parts in memory by
:func:`encode` (for stores that send an entry whole), or streamed into a local file by
:func:`write_file` (the directory store: see :mod:`._entry_stream`); both give the same
bytes, and :func:`decode` reads them from any :class:`~checkpointing.store.EntryReader`::

    header   4s magic b"CKPT", u16 version, u16 flags, f64 created, f64 run_time,
             u32 meta_len, u64 pickle_len, u32 n_buffers, 16s id digest,
             16s payload digest, 32s mac, u64 head digest
    meta     meta_len bytes of UTF-8 JSON (function, arguments, context id, versions)
    pickle   pickle_len bytes, the result pickled with ``buffer_callback``
    lengths  n_buffers x u64, the byte length of each out-of-band buffer
    buffers  each out-of-band buffer, zero-padded so it starts at a multiple of 64

Everything after the header is in the order it is produced, so a writer can stream it to
a file and write the fixed-size header last, at offset 0.

Integrity: the *head digest* (xxh3-64) covers the header up to itself and the metadata;
the *payload digest* (xxh3-128) covers the pickle stream, the lengths and every buffer
(not the padding); the *id digest* is that of the context id the entry was saved under
(see :mod:`._ids`). All three are checked before anything is unpickled, so a damaged or
misplaced entry is never served. xxh3 catches accidents, not attackers: a cache given a
secret also signs each entry with HMAC-SHA256 and refuses entries that are unsigned or
signed with another key, which is what makes loading a shared cache safe. The signature
(``mac``, zeros when unsigned) covers, in this order, the metadata, the pickle stream,
the lengths, every buffer, and the header fields before ``mac``: the order in which a
streaming writer has them.

A hit reads the first 64 KB in one call (a small entry is then complete); a large entry
reads its buffers straight into numpy-owned memory, one copy from the storage. A large
pickle stream in a local file is verified in a first chunked pass and unpickled from the
file in a second one, so it is never held in memory whole.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import xxhash

from checkpointing._stdlib import stdlib_module
from checkpointing.cache._entry_stream import hash_range, unpickle_range
from checkpointing.cache._entry_stream import write_entry as write_file
from checkpointing.cache._format import (
    FIRST_READ,
    FLAG_HAS_INFO,
    FLAG_SIGNED,
    FORMAT_VERSION,
    HEADER,
    MAC_SIZE,
    MAC_START,
    MAGIC,
    UNDIGESTED,
    DamagedEntry,
    Digests,
    EntryError,
    ForeignEntry,
    OldEntry,
    UnloadableEntry,
    aligned,
    pack_header,
    same_digest,
)
from checkpointing.cache._ids import IdCodec
from checkpointing.cache._pickling import new_buffer, pickle_result
from checkpointing.store.base import BytesReader, EntryReader

# A project package called ``json`` must not replace the module checkpointing uses.
if TYPE_CHECKING:
    import json
else:
    json = stdlib_module("json")

__all__ = [
    "FIRST_READ",
    "FLAG_HAS_INFO",
    "FORMAT_VERSION",
    "MAGIC",
    "DamagedEntry",
    "EntryError",
    "EntryHead",
    "ForeignEntry",
    "OldEntry",
    "UnloadableEntry",
    "decode",
    "decode_bytes",
    "encode",
    "meta_bytes",
    "read_head",
    "write_file",
]


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What the head of an entry says, read without touching its payload."""

    flags: int
    created: float
    run_time: float
    size: int
    meta: dict[str, Any]


def meta_bytes(meta: dict[str, Any]) -> bytes:
    """Return the metadata as it is stored: UTF-8 JSON."""
    return json.dumps(meta, ensure_ascii=False).encode()


def encode(
    ids: IdCodec,
    result: Any,
    *,
    protocol: int,
    meta: bytes,
    created: float,
    run_time: float,
    flags: int,
    secret: bytes | None,
) -> list[bytes | memoryview]:
    """Return the parts of the entry of ``result``; their concatenation is the entry."""
    stream, buffers = pickle_result(result, protocol)
    if secret:
        flags |= FLAG_SIGNED
    digests = Digests(meta, secret)
    digests.update(stream)
    lengths = struct.pack(f"<{len(buffers)}Q", *(raw.nbytes for raw in buffers))
    digests.update(lengths)
    for raw in buffers:
        digests.update(raw)
    assert ids.digest is not None
    header = pack_header(
        flags=flags,
        created=created,
        run_time=run_time,
        meta=meta,
        pickle_len=len(stream),
        n_buffers=len(buffers),
        id_digest=ids.digest,
        digests=digests,
    )
    # Small entries go out in one write; a large stream is not copied to be joined.
    parts: list[bytes | memoryview] = (
        [header + meta + stream + lengths]
        if len(stream) <= FIRST_READ
        else [header + meta, stream, lengths]
    )
    offset = len(header) + len(meta) + len(stream) + len(lengths)
    for raw in buffers:
        start = aligned(offset)
        parts.append(bytes(start - offset))
        parts.append(raw)
        offset = start + raw.nbytes
    return parts


class _Head:
    """The parsed, digest-checked head of an entry and the bytes read so far."""

    __slots__ = (
        "created",
        "data",
        "flags",
        "id_digest",
        "lengths",
        "payload_digest",
        "pickle_end",
        "pickle_start",
        "run_time",
        "size",
    )

    def __init__(self, reader: EntryReader) -> None:
        self.size = size = reader.size()
        first = bytearray(min(size, FIRST_READ))
        reader.read_into(memoryview(first), 0)
        if len(first) < HEADER.size:
            self._refuse_short(first, size)
        (magic, version, flags, created, run_time, meta_len, pickle_len, n_buffers,
         id_digest, payload_digest, _, head_digest) = HEADER.unpack_from(first)  # fmt: skip
        if magic != MAGIC:
            raise ForeignEntry(f"not a checkpointing entry (starts with {magic!r})")
        if version != FORMAT_VERSION:
            raise OldEntry(f"entry of format version {version}, not {FORMAT_VERSION}")
        self.pickle_start = pickle_start = HEADER.size + meta_len
        self.pickle_end = pickle_end = pickle_start + pickle_len
        lengths_end = pickle_end + 8 * n_buffers
        if lengths_end > size:
            raise DamagedEntry(f"entry is {size} bytes, its header says more (truncated?)")
        data = self._extend(first, reader, pickle_start)
        view = memoryview(data)
        digest = xxhash.xxh3_64(view[:UNDIGESTED])
        digest.update(view[HEADER.size : pickle_start])
        if digest.intdigest() != head_digest:
            raise DamagedEntry("header or metadata damaged (head digest does not match)")
        if lengths_end <= len(data):
            self.lengths = bytes(view[pickle_end:lengths_end])
        else:  # after a long pickle stream: one more small read
            table = bytearray(lengths_end - pickle_end)
            reader.read_into(memoryview(table), pickle_end)
            self.lengths = bytes(table)
        end = lengths_end
        for (length,) in struct.iter_unpack("<Q", self.lengths):
            end = aligned(end) + length
        if end != size:
            raise DamagedEntry(f"entry is {size} bytes, its header says {end} (truncated?)")
        self.data = data
        self.flags, self.created, self.run_time = flags, created, run_time
        self.id_digest, self.payload_digest = id_digest, payload_digest

    @staticmethod
    def _refuse_short(first: bytearray, size: int) -> None:
        """Raise the right error for an entry shorter than the fixed header."""
        if first[:4] != MAGIC:
            raise ForeignEntry(f"not a checkpointing entry (starts with {bytes(first[:4])!r})")
        if len(first) >= 6 and struct.unpack_from("<H", first, 4)[0] != FORMAT_VERSION:
            raise OldEntry(f"entry of format version {struct.unpack_from('<H', first, 4)[0]}")
        raise DamagedEntry(f"entry is {size} bytes, shorter than its header")

    @staticmethod
    def _extend(data: bytearray, reader: EntryReader, size: int) -> bytearray:
        """Return the first ``size`` bytes of the entry, of which ``data`` is the start."""
        if size <= len(data):
            return data
        longer = bytearray(size)
        longer[: len(data)] = data
        reader.read_into(memoryview(longer)[len(data) :], len(data))
        return longer

    def meta_view(self) -> memoryview:
        """Return the stored metadata bytes."""
        return memoryview(self.data)[HEADER.size : self.pickle_start]

    def meta(self) -> dict[str, Any]:
        """Parse the JSON metadata (never pickle: listing a cache runs no stored code)."""
        try:
            meta = json.loads(bytes(self.meta_view()).decode())
        except ValueError as exc:
            raise DamagedEntry(f"unreadable metadata: {exc}") from exc
        if not isinstance(meta, dict):
            raise DamagedEntry("metadata is not a JSON object")
        return meta


def read_head(reader: EntryReader) -> EntryHead:
    """Read and check an entry's header and metadata only; raise ``EntryError`` if bad."""
    try:
        head = _Head(reader)
    except EOFError as exc:
        raise DamagedEntry(f"entry ended early: {exc}") from exc
    return EntryHead(head.flags, head.created, head.run_time, head.size, head.meta())


def decode_bytes(data: bytes, ids: IdCodec, secret: bytes | None) -> tuple[Any, int, float]:
    """Load a whole entry held in ``data``, like :func:`decode` (the fast path of small hits)."""
    if len(data) < HEADER.size or secret:
        return decode(BytesReader(data), ids, secret)
    (magic, version, flags, _, run_time, meta_len, pickle_len, n_buffers, id_digest,
     payload_digest, _, head_digest) = HEADER.unpack_from(data)  # fmt: skip
    if n_buffers or magic != MAGIC or version != FORMAT_VERSION:
        return decode(BytesReader(data), ids, secret)
    pickle_start = HEADER.size + meta_len
    if pickle_start + pickle_len != len(data):
        raise DamagedEntry(f"entry is {len(data)} bytes, its header says otherwise (truncated?)")
    view = memoryview(data)
    digest = xxhash.xxh3_64(view[:UNDIGESTED])
    digest.update(view[HEADER.size : pickle_start])
    if digest.intdigest() != head_digest:
        raise DamagedEntry("header or metadata damaged (head digest does not match)")
    if id_digest != ids.digest:
        raise DamagedEntry("entry holds the result of another context id (moved or copied?)")
    stream = view[pickle_start:]
    if xxhash.xxh3_128_digest(stream) != payload_digest:
        raise DamagedEntry("payload damaged (payload digest does not match)")
    try:
        result: Any = pickle.loads(stream)
    except Exception as exc:
        raise UnloadableEntry(f"cannot unpickle the result: {exc!r}") from exc
    return result, flags, run_time


def decode(reader: EntryReader, ids: IdCodec, secret: bytes | None) -> tuple[Any, int, float]:
    """Load the entry as ``(result, flags, run_time)`` after checking all its digests.

    Raise ``DamagedEntry`` for any mismatch (and for an unsigned or wrongly signed entry
    when ``secret`` is given), before a single byte is unpickled.
    """
    try:
        head = _Head(reader)
        return _load(head, reader, ids, secret)
    except EOFError as exc:
        raise DamagedEntry(f"entry ended early: {exc}") from exc


def _streams(reader: EntryReader, secret: bytes | None) -> bool:
    """Tell whether to read a large pickle stream twice from the entry instead of holding it.

    Only readers of local files offer ``private()`` (re-reading them is cheap). Checking
    and then re-reading is safe when nobody else can rewrite the file's bytes in between:
    always true of an unsigned cache's promise (whoever can write can plant code anyway),
    and for a signed cache only when ``private()`` says no other user can write the file.
    """
    private = getattr(reader, "private", None)
    return private is not None and (not secret or bool(private()))


def _load(
    head: _Head, reader: EntryReader, ids: IdCodec, secret: bytes | None
) -> tuple[Any, int, float]:
    """Read the payload of a checked head, verify it, then unpickle it."""
    if head.id_digest != ids.digest:
        raise DamagedEntry("entry holds the result of another context id (moved or copied?)")
    if secret and not head.flags & FLAG_SIGNED:
        raise DamagedEntry("entry is not signed, and this cache requires signed entries")
    digests = Digests(head.meta_view(), secret)
    data = head.data
    stream: Any = None  # None: unpickled from the entry, after the checks
    if head.pickle_end <= len(data):
        stream = memoryview(data)[head.pickle_start : head.pickle_end]
        digests.update(stream)
    elif _streams(reader, secret):
        hash_range(reader, head.pickle_start, head.pickle_end, digests)
    else:
        stream = bytearray(head.pickle_end - head.pickle_start)
        have = max(0, len(data) - head.pickle_start)
        stream[:have] = memoryview(data)[head.pickle_start :]
        reader.read_into(memoryview(stream)[have:], head.pickle_start + have)
        digests.update(stream)
    digests.update(head.lengths)
    buffers: list[Any] = []
    offset = head.pickle_end + len(head.lengths)
    for (length,) in struct.iter_unpack("<Q", head.lengths):
        offset = aligned(offset)
        if offset + length <= len(data):
            buffer: Any = bytearray(memoryview(data)[offset : offset + length])
        else:
            buffer = new_buffer(length)
            reader.read_into(memoryview(buffer).cast("B"), offset)
        digests.update(buffer)
        buffers.append(buffer)
        offset += length
    if digests.payload.digest() != head.payload_digest:
        raise DamagedEntry("payload damaged (payload digest does not match)")
    if secret:
        signed = memoryview(data)[:MAC_START]
        stored = bytes(data[MAC_START : MAC_START + MAC_SIZE])
        if not same_digest(digests.signature(signed), stored):
            raise DamagedEntry("signature does not match this cache's secret")
    try:
        if stream is None:
            result: Any = unpickle_range(reader, head.pickle_start, head.pickle_end, buffers)
        else:
            result = pickle.loads(stream, buffers=buffers)
    except Exception as exc:
        raise UnloadableEntry(f"cannot unpickle the result: {exc!r}") from exc
    return result, head.flags, head.run_time
