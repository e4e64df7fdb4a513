"""The fixed parts of the entry format: constants, errors, the header and the digests.

Shared by both ways the codec emits an entry (a list of parts in memory, or streamed to a
file, see :mod:`._entry_stream`) and by the reader, so the bytes are defined in one place.
The layout itself is described in :mod:`checkpointing.cache.codec`.
"""

from __future__ import annotations

import struct
from typing import Any

import xxhash

__all__ = [
    "ALIGN",
    "FIRST_READ",
    "FLAG_HAS_INFO",
    "FLAG_SIGNED",
    "FORMAT_VERSION",
    "HEADER",
    "MAC_SIZE",
    "MAGIC",
    "DamagedEntry",
    "Digests",
    "EntryError",
    "ForeignEntry",
    "OldEntry",
    "UnloadableEntry",
    "aligned",
    "pack_header",
    "same_digest",
]

FORMAT_VERSION = 3
MAGIC = b"CKPT"
# magic, version, flags, created, run_time, meta_len, pickle_len, n_buffers, id digest,
# payload digest: the part of the header the signature covers.
SIGNED_FIELDS = struct.Struct("<4sHHddIQI16s16s")
MAC_SIZE = 32
# ... then the signature (zeros when unsigned) and the head digest.
HEADER = struct.Struct(SIGNED_FIELDS.format + f"{MAC_SIZE}sQ")
MAC_START = SIGNED_FIELDS.size
UNDIGESTED = HEADER.size - 8  # the head digest covers the header up to itself
FLAG_HAS_INFO = 1  # written by save_entry: run time and metadata are real
FLAG_SIGNED = 2  # carries an HMAC-SHA256
ALIGN = 64
# A hit reads this much in one call; smaller entries need no further read.
FIRST_READ = 1 << 16


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


def aligned(offset: int) -> int:
    """Round ``offset`` up to the buffer alignment."""
    return -(-offset // ALIGN) * ALIGN


class Digests:
    """The payload digest, and the signature when there is a secret, fed in file order.

    Both are fed the same bytes as they stream past: the pickle stream, the buffer
    lengths table and each buffer (never the padding). The signature starts with the
    metadata and ends with the signed header fields, which are known only at the end.
    """

    __slots__ = ("mac", "payload")

    def __init__(self, meta: bytes | memoryview, secret: bytes | None) -> None:
        self.payload = xxhash.xxh3_128()
        self.mac = _new_mac(secret, meta) if secret else None

    def update(self, data: Any) -> None:
        """Feed the next bytes of the payload."""
        self.payload.update(data)
        if self.mac is not None:
            self.mac.update(data)

    def signature(self, signed_fields: bytes | memoryview) -> bytes:
        """Finish the signature with the header fields it covers (zeros when unsigned)."""
        if self.mac is None:
            return bytes(MAC_SIZE)
        self.mac.update(signed_fields)
        digest: bytes = self.mac.digest()
        return digest


def pack_header(
    *,
    flags: int,
    created: float,
    run_time: float,
    meta: bytes,
    pickle_len: int,
    n_buffers: int,
    id_digest: bytes,
    digests: Digests,
) -> bytes:
    """Return the fixed header of a finished entry, signature and head digest included."""
    fields = SIGNED_FIELDS.pack(
        MAGIC,
        FORMAT_VERSION,
        flags,
        created,
        run_time,
        len(meta),
        pickle_len,
        n_buffers,
        id_digest,
        digests.payload.digest(),
    )
    head = fields + digests.signature(fields)
    digest = xxhash.xxh3_64(head)
    digest.update(meta)
    return head + struct.pack("<Q", digest.intdigest())


def _new_mac(secret: bytes, data: bytes | memoryview) -> Any:
    """Start the HMAC-SHA256 of an entry (hmac is imported only by caches with a secret)."""
    import hashlib
    import hmac

    return hmac.new(secret, data, hashlib.sha256)


def same_digest(a: bytes, b: bytes) -> bool:
    """Compare two signatures in constant time."""
    import hmac

    return hmac.compare_digest(a, b)
