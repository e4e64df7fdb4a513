"""The entry format: a result and its metadata as bytes, checked on every load.

Format version 2, little-endian, written by :func:`encode` as a few parts and read by
:func:`decode` from any :class:`~checkpointing.store.EntryReader`::

    header   4s magic b"CKPT", u16 version, u16 flags, f64 created, f64 run_time,
             u32 meta_len, u64 pickle_len, u32 n_buffers, u32 mac_len,
             16s id digest, 16s payload digest, u64 head digest
    lengths  n_buffers x u64, the byte length of each out-of-band buffer
    meta     meta_len bytes of UTF-8 JSON (function, arguments, context id, versions)
    mac      mac_len bytes: HMAC-SHA256 of everything else, when the entry is signed
    pickle   pickle_len bytes, the result pickled with ``buffer_callback``
    buffers  each out-of-band buffer, zero-padded so it starts at a multiple of 64

Integrity: the *head digest* (xxh3-64) covers the header, lengths and metadata; the
*payload digest* (xxh3-128) covers the pickle stream and every buffer; the *id digest*
is that of the context id the entry was saved under (see :mod:`._ids`). All three are
checked before anything is unpickled, so a damaged or misplaced entry is never served.
xxh3 catches accidents, not attackers: a cache given a secret also signs each entry with
HMAC-SHA256 over all its bytes and refuses entries that are unsigned or signed with
another key, which is what makes loading a shared cache safe.

A hit reads the first 64 KB in one call (a small entry is then complete); a large entry
reads its buffers straight into numpy-owned memory, one copy from the storage.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import xxhash

from checkpointing._stdlib import stdlib_module
from checkpointing.cache._ids import IdCodec
from checkpointing.cache._pickling import new_buffer, pickle_result
from checkpointing.store.base import BytesReader, EntryReader

# A project package called ``json`` must not replace the module checkpointing uses.
if TYPE_CHECKING:
    import json
else:
    json = stdlib_module("json")

__all__ = [
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
    "read_head",
]

FORMAT_VERSION = 2
MAGIC = b"CKPT"
HEADER = struct.Struct("<4sHHddIQII16s16sQ")
FLAG_HAS_INFO = 1  # written by save_entry: run time and metadata are real
FLAG_SIGNED = 2  # carries an HMAC-SHA256
MAC_SIZE = 32
ALIGN = 64
# A hit reads this much in one call; smaller entries need no further read.
FIRST_READ = 1 << 16
_UNDIGESTED = HEADER.size - 8  # the head digest covers the header up to itself


class EntryError(Exception):
    """An entry cannot be served; ``quarantine`` says whether to set it aside."""

    quarantine = False
    warn = True


class DamagedEntry(EntryError):
    """Checksums, size, context id or signature do not match: never serve it."""

    quarantine = True


class ForeignEntry(EntryError):
    """The bytes are not a checkpointing entry at all (another program's file)."""


class OldEntry(EntryError):
    """An entry of another format version: a quiet miss, replaced on the next save."""

    warn = False


class UnloadableEntry(EntryError):
    """An intact entry whose result cannot be unpickled here (a class is missing...)."""


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What the head of an entry says, read without touching its payload."""

    flags: int
    created: float
    run_time: float
    size: int
    meta: dict[str, Any]


def _aligned(offset: int) -> int:
    """Round ``offset`` up to the buffer alignment."""
    return -(-offset // ALIGN) * ALIGN


def encode(
    ids: IdCodec,
    result: Any,
    *,
    protocol: int,
    meta: dict[str, Any],
    created: float,
    run_time: float,
    flags: int,
    secret: bytes | None,
) -> list[bytes | memoryview]:
    """Return the parts of the entry of ``result``; their concatenation is the entry."""
    stream, buffers = pickle_result(result, protocol)
    payload = xxhash.xxh3_128(stream)
    for raw in buffers:
        payload.update(raw)
    meta_bytes = json.dumps(meta, ensure_ascii=False).encode()
    mac_len = MAC_SIZE if secret else 0
    if secret:
        flags |= FLAG_SIGNED
    header = HEADER.pack(
        MAGIC,
        FORMAT_VERSION,
        flags,
        created,
        run_time,
        len(meta_bytes),
        len(stream),
        len(buffers),
        mac_len,
        ids.digest,
        payload.digest(),
        0,
    )[:_UNDIGESTED]
    lengths = struct.pack(f"<{len(buffers)}Q", *(raw.nbytes for raw in buffers))
    digest = xxhash.xxh3_64(header)
    digest.update(lengths)
    digest.update(meta_bytes)
    head = header + struct.pack("<Q", digest.intdigest()) + lengths + meta_bytes
    if secret:
        mac = _new_mac(secret, head)
        mac.update(stream)
        for raw in buffers:
            mac.update(raw)
        head += mac.digest()
    # Small entries go out in one write; a large stream is not copied to be joined.
    parts: list[bytes | memoryview] = (
        [head + stream] if len(stream) <= FIRST_READ else [head, stream]
    )
    offset = len(head) + len(stream)
    for raw in buffers:
        start = _aligned(offset)
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
        "mac_len",
        "mac_start",
        "meta_start",
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
        (magic, version, flags, created, run_time, meta_len, pickle_len, n_buffers, mac_len,
         id_digest, payload_digest, head_digest) = HEADER.unpack_from(first)  # fmt: skip
        if magic != MAGIC:
            raise ForeignEntry(f"not a checkpointing entry (starts with {magic!r})")
        if version != FORMAT_VERSION:
            raise OldEntry(f"entry of format version {version}, not {FORMAT_VERSION}")
        self.meta_start = meta_start = HEADER.size + 8 * n_buffers
        self.mac_start = mac_start = meta_start + meta_len
        self.pickle_start = pickle_start = mac_start + mac_len
        if pickle_start > size:
            raise DamagedEntry(f"entry is {size} bytes, its header says more (truncated?)")
        data = self._extend(first, reader, pickle_start)
        view = memoryview(data)
        digest = xxhash.xxh3_64(view[:_UNDIGESTED])
        digest.update(view[HEADER.size : mac_start])
        if digest.intdigest() != head_digest:
            raise DamagedEntry("header or metadata damaged (head digest does not match)")
        self.pickle_end = end = pickle_start + pickle_len
        if n_buffers:
            self.lengths = list(struct.unpack_from(f"<{n_buffers}Q", data, HEADER.size))
            for length in self.lengths:
                end = _aligned(end) + length
        else:
            self.lengths = []
        if end != size:
            raise DamagedEntry(f"entry is {size} bytes, its header says {end} (truncated?)")
        self.data = data
        self.flags, self.created, self.run_time, self.mac_len = flags, created, run_time, mac_len
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

    def meta(self) -> dict[str, Any]:
        """Parse the JSON metadata (never pickle: listing a cache runs no stored code)."""
        try:
            meta = json.loads(bytes(self.data[self.meta_start : self.mac_start]).decode())
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
    (magic, version, flags, _, run_time, meta_len, pickle_len, n_buffers, mac_len, id_digest,
     payload_digest, head_digest) = HEADER.unpack_from(data)  # fmt: skip
    if n_buffers or mac_len or magic != MAGIC or version != FORMAT_VERSION:
        return decode(BytesReader(data), ids, secret)
    pickle_start = HEADER.size + meta_len
    if pickle_start + pickle_len != len(data):
        raise DamagedEntry(f"entry is {len(data)} bytes, its header says otherwise (truncated?)")
    view = memoryview(data)
    digest = xxhash.xxh3_64(view[:_UNDIGESTED])
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


def _load(
    head: _Head, reader: EntryReader, ids: IdCodec, secret: bytes | None
) -> tuple[Any, int, float]:
    """Read the payload of a checked head, verify it, then unpickle it."""
    if head.id_digest != ids.digest:
        raise DamagedEntry("entry holds the result of another context id (moved or copied?)")
    mac = None
    if secret:
        if not head.flags & FLAG_SIGNED or head.mac_len != MAC_SIZE:
            raise DamagedEntry("entry is not signed, and this cache requires signed entries")
        mac = _new_mac(secret, memoryview(head.data)[: head.mac_start])
    data = head.data
    if head.pickle_end <= len(data):
        stream: Any = memoryview(data)[head.pickle_start : head.pickle_end]
    else:
        stream = bytearray(head.pickle_end - head.pickle_start)
        have = max(0, len(data) - head.pickle_start)
        stream[:have] = memoryview(data)[head.pickle_start :]
        reader.read_into(memoryview(stream)[have:], head.pickle_start + have)
    payload = xxhash.xxh3_128(stream)
    if mac is not None:
        mac.update(stream)
    buffers: list[Any] = []
    offset = head.pickle_end
    for length in head.lengths:
        offset = _aligned(offset)
        if offset + length <= len(data):
            buffer: Any = bytearray(memoryview(data)[offset : offset + length])
        else:
            buffer = new_buffer(length)
            reader.read_into(memoryview(buffer).cast("B"), offset)
        payload.update(buffer)
        if mac is not None:
            mac.update(buffer)
        buffers.append(buffer)
        offset += length
    if payload.digest() != head.payload_digest:
        raise DamagedEntry("payload damaged (payload digest does not match)")
    if mac is not None:
        stored = bytes(data[head.mac_start : head.pickle_start])
        if not _same_digest(mac.digest(), stored):
            raise DamagedEntry("signature does not match this cache's secret")
    try:
        result: Any = pickle.loads(stream, buffers=buffers)
    except Exception as exc:
        raise UnloadableEntry(f"cannot unpickle the result: {exc!r}") from exc
    return result, head.flags, head.run_time


def _new_mac(secret: bytes, data: bytes | memoryview) -> Any:
    """Start the HMAC-SHA256 of an entry (hmac is imported only by caches with a secret)."""
    import hashlib
    import hmac

    return hmac.new(secret, data, hashlib.sha256)


def _same_digest(a: bytes, b: bytes) -> bool:
    """Compare two signatures in constant time."""
    import hmac

    return hmac.compare_digest(a, b)
