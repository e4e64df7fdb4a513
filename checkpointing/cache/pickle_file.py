"""One file per entry in a local directory: the default cache.

Entry file format (version 1), little-endian, chosen so a hit never parses JSON and
large buffers are copied once, straight from the file into numpy-owned memory::

    header   4s magic b"CKPT", u16 format version, u16 flags, f64 created,
             f64 run_time, u32 meta_len, u64 pickle_len, u32 n_buffers
    lengths  n_buffers x u64, the byte length of each out-of-band buffer
    meta     meta_len bytes of UTF-8 JSON (function, arguments, context id, versions)
    pickle   pickle_len bytes, the result pickled with ``buffer_callback``
    buffers  each out-of-band buffer, zero-padded so it starts at a multiple of 64

The file size is fully determined by the header, which is how truncation is detected.
Writes go to a temporary file in the same directory, are fsync'ed and renamed onto the
entry, so readers see either the old entry or the new one, never a partial file.
"""

from __future__ import annotations

import base64
import contextlib
import copyreg
import io
import json
import os
import pickle
import re
import struct
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import xxhash

from checkpointing._version import __version__
from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.config import defaults
from checkpointing.exceptions import (
    CheckpointNotExist,
    CorruptEntryWarning,
    ResultNotPicklableError,
    StorageError,
)

__all__ = ["FORMAT_VERSION", "PickleFileCache"]

FORMAT_VERSION = 1

_MAGIC = b"CKPT"
_HEADER = struct.Struct("<4sHHddIQI")
_ALIGN = 64
_SUFFIX = ".pickle"
_TEMP_PREFIX = ".tmp-"
# Flag bit: the entry was written by save_entry, so its run time and metadata are real.
_FLAG_HAS_INFO = 1
# A hit reads this much in one system call; smaller files need no further read.
_FIRST_READ = 1 << 16
# Smaller buffers stay in the pickle stream: padding and a separate copy would cost more.
_OUT_OF_BAND_MIN = 1 << 14
# Linux caps one read/write at about 2 GiB; larger transfers are split.
_MAX_IO = 1 << 30

# A string id used as the file name stem. The look-ahead excludes the shape of hashed
# names, so such a string is hashed too and never lands on a non-string id's file.
_SAFE_NAME = re.compile(r"(?!id-[0-9a-f]{32}\Z)[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")
_O_BINARY: int = getattr(os, "O_BINARY", 0)
_READ_FLAGS = os.O_RDONLY | _O_BINARY
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
_PYTHON_VERSION = "{}.{}.{}".format(*sys.version_info[:3])


class _CorruptEntry(Exception):
    """An entry file does not hold a valid version-1 entry."""


def _aligned(offset: int) -> int:
    """Round ``offset`` up to the buffer alignment."""
    return -(-offset // _ALIGN) * _ALIGN


class _Layout(NamedTuple):
    """Where the parts of one entry file lie, read from its header."""

    flags: int
    created: float
    run_time: float
    meta_start: int
    pickle_start: int
    pickle_end: int
    lengths: list[int]


def _read_into(fd: int, target: memoryview, offset: int) -> None:
    """Fill ``target`` from the file at ``offset``; a file that ends early is corrupt."""
    stream = io.FileIO(fd, closefd=False)
    stream.seek(offset)
    filled = 0
    total = len(target)
    while filled < total:
        n = stream.readinto(target[filled : filled + _MAX_IO])
        if not n:
            raise _CorruptEntry("file ended early")
        filled += n


def _extend(data: bytes | bytearray, fd: int, size: int) -> bytes | bytearray:
    """Return the first ``size`` bytes of the file, of which ``data`` is the start."""
    if size <= len(data):
        return data
    prefix = bytearray(size)
    prefix[: len(data)] = data
    _read_into(fd, memoryview(prefix)[len(data) :], len(data))
    return prefix


def _layout(data: bytes, fd: int, file_size: int) -> tuple[_Layout, bytes | bytearray]:
    """Parse and check the header of the file at ``fd``, of which ``data`` is the start.

    Return the layout and the start of the file extended past the header; raise
    ``_CorruptEntry`` when the header does not describe a file of ``file_size`` bytes.
    """
    if len(data) < _HEADER.size:
        raise _CorruptEntry(f"file is {file_size} bytes, shorter than the header")
    magic, version, flags, created, run_time, meta_len, pickle_len, n_buffers = _HEADER.unpack_from(
        data
    )
    if magic != _MAGIC:
        raise _CorruptEntry(f"not a checkpointing entry (magic {magic!r})")
    if version != FORMAT_VERSION:
        raise _CorruptEntry(f"unknown format version {version}")
    meta_start = _HEADER.size + 8 * n_buffers
    if meta_start > file_size:
        raise _CorruptEntry("header announces more buffers than the file holds")
    prefix = _extend(data, fd, meta_start)
    lengths = list(struct.unpack_from(f"<{n_buffers}Q", prefix, _HEADER.size))
    pickle_start = meta_start + meta_len
    pickle_end = pickle_start + pickle_len
    end = pickle_end
    for length in lengths:
        end = _aligned(end) + length
    if end != file_size:
        raise _CorruptEntry(f"file is {file_size} bytes, its header says {end} (truncated?)")
    layout = _Layout(flags, created, run_time, meta_start, pickle_start, pickle_end, lengths)
    return layout, prefix


def _reduce_array(array: Any) -> Any:
    """Pickle datetime64/timedelta64 arrays as int64 views, so their buffer goes out of band.

    numpy keeps these dtypes inside the pickle stream even with protocol 5, which costs
    two extra copies of a timestamp column on every load.
    """
    if array.dtype.kind in "mM" and type(array) is sys.modules["numpy"].ndarray:
        return _rebuild_datetimes, (array.view("i8"), array.dtype.str)
    return array.__reduce_ex__(5)


def _rebuild_datetimes(integers: Any, dtype: str) -> Any:
    """Reverse ``_reduce_array``: view the int64 array as its datetime dtype (no copy)."""
    return integers.view(dtype)


def _pickle_result(result: Any, protocol: int) -> tuple[bytes, list[memoryview]]:
    """Pickle ``result``, returning the stream and the large buffers kept out of band."""
    buffers: list[memoryview] = []

    def keep_in_band(buffer: pickle.PickleBuffer) -> bool:
        # Returning False moves the buffer out of band, to be written after the stream.
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: only pickle itself can serialise it
            return True
        if raw.nbytes < _OUT_OF_BAND_MIN:
            return True
        buffers.append(raw)
        return False

    try:
        if protocol >= 5:
            out = io.BytesIO()
            pickler = pickle.Pickler(out, protocol, buffer_callback=keep_in_band)
            numpy = sys.modules.get("numpy")
            if numpy is not None:
                # Only ndarray instances consult this table, so nothing else slows down.
                pickler.dispatch_table = {**copyreg.dispatch_table, numpy.ndarray: _reduce_array}
            pickler.dump(result)
            stream = out.getvalue()
        else:
            stream = pickle.dumps(result, protocol)
    except Exception as exc:
        kind = type(result)
        raise ResultNotPicklableError(
            f"cannot pickle a result of type {kind.__module__}.{kind.__qualname__}: {exc}"
        ) from exc
    return stream, buffers


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data``; ``os.write`` may write less than asked."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view[:_MAX_IO])
        view = view[written:]


def _new_buffer(size: int) -> Any:
    """Allocate a writable buffer, numpy-owned when numpy is loaded (huge pages, fast)."""
    np = sys.modules.get("numpy")
    if np is not None:
        return np.empty(size, np.uint8)
    return bytearray(size)


class PickleFileCache(CacheBase):
    """Store each result in its own file under ``directory``, pickled.

    ``directory`` defaults to ``defaults["cache.filesystem.directory"]`` and is made
    absolute now, so a later ``os.chdir`` does not move the cache; it is created on the
    first save. String ids that are safe file names are used as the file name stem
    (``"foo"`` is stored in ``foo.pickle``); other ids are hashed (``id-<xxh3>.pickle``).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        pickle_protocol: int | None = None,
    ) -> None:
        if directory is None:
            directory = defaults["cache.filesystem.directory"]
        if pickle_protocol is None:
            pickle_protocol = defaults["cache.pickle_protocol"]
        if (
            isinstance(pickle_protocol, bool)
            or not isinstance(pickle_protocol, int)
            or not 0 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL
        ):
            raise ValueError(
                f"pickle_protocol must be an int from 0 to {pickle.HIGHEST_PROTOCOL}, "
                f"got {pickle_protocol!r}"
            )
        self._dir = os.path.abspath(os.fspath(directory))
        if os.path.exists(self._dir) and not os.path.isdir(self._dir):
            raise StorageError(f"cache directory {self._dir!r} exists and is not a directory")
        self._prefix = os.path.join(self._dir, "")
        self.directory = Path(self._dir)
        self.pickle_protocol: int = pickle_protocol

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir!r}, pickle_protocol={self.pickle_protocol})"

    # -- paths -------------------------------------------------------------------------

    def _path(self, context_id: Any) -> str:
        """Return the entry file of ``context_id``."""
        if type(context_id) is str and _SAFE_NAME.fullmatch(context_id):
            return self._prefix + context_id + _SUFFIX
        try:
            pickled = pickle.dumps(context_id, protocol=5)
        except Exception as exc:
            raise TypeError(
                f"context id {context_id!r} of type {type(context_id).__qualname__} is not a "
                f"file-name-safe string and cannot be pickled to derive a file name: {exc}"
            ) from exc
        return f"{self._prefix}id-{xxhash.xxh3_128_hexdigest(pickled)}{_SUFFIX}"

    # -- writing -----------------------------------------------------------------------

    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` under ``context_id`` without call metadata."""
        self._write(context_id, result, "", "", time.time(), 0.0, 0, {})

    def save_entry(self, context_id: Any, result: Any, info: EntryInfo) -> None:
        """Store ``result`` with the function name, argument summary and run time of ``info``."""
        created = info.created or time.time()
        function, arguments, run_time = info.function, info.arguments, info.run_time
        self._write(
            context_id, result, function, arguments, created, run_time, _FLAG_HAS_INFO, info.extra
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
        """Serialise everything in memory, then write it atomically."""
        final = self._path(context_id)
        stream, buffers = _pickle_result(result, self.pickle_protocol)
        meta: dict[str, Any] = {
            "function": function,
            "arguments": arguments,
            "python": _PYTHON_VERSION,
            "checkpointing": __version__,
        }
        if type(context_id) is str:
            meta["context_id"] = context_id
        else:
            # The repr is for people reading the file; the pickle lets entries() return the id.
            meta["context_id"] = repr(context_id)
            meta["context_id_pickle"] = base64.b64encode(pickle.dumps(context_id, 5)).decode()
        if extra:
            meta["extra"] = dict(extra)
        meta_bytes = json.dumps(meta).encode()
        header = _HEADER.pack(
            _MAGIC,
            FORMAT_VERSION,
            flags,
            created,
            run_time,
            len(meta_bytes),
            len(stream),
            len(buffers),
        )
        lengths = struct.pack(f"<{len(buffers)}Q", *(raw.nbytes for raw in buffers))
        # Small entries go out in one write; a large stream is not copied to be joined.
        head = header + lengths + meta_bytes
        parts: list[bytes | memoryview] = (
            [head + stream] if len(stream) <= _FIRST_READ else [head, stream]
        )
        offset = len(head) + len(stream)
        for raw in buffers:
            start = _aligned(offset)
            parts.append(bytes(start - offset))
            parts.append(raw)
            offset = start + raw.nbytes
        self._write_atomically(final, parts)

    def _write_atomically(self, final: str, parts: list[bytes | memoryview]) -> None:
        """Write ``parts`` to a temporary file, fsync it and rename it onto ``final``."""
        temp, fd = self._create_temp()
        try:
            try:
                for part in parts:
                    if part:
                        _write_all(fd, part)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write cache entry {final!r}: {exc}") from exc
            raise

    def _create_temp(self) -> tuple[str, int]:
        """Create a uniquely named temporary file in the directory, creating it if needed."""
        # O_EXCL makes a clash of random names an error rather than two writers sharing a file.
        name = f"{_TEMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}"
        temp = self._prefix + name
        try:
            try:
                return temp, os.open(temp, _CREATE_FLAGS, 0o666)
            except FileNotFoundError:
                os.makedirs(self._dir, exist_ok=True)
                return temp, os.open(temp, _CREATE_FLAGS, 0o666)
        except OSError as exc:
            raise StorageError(
                f"cannot create a file in cache directory {self._dir!r}: {exc}"
            ) from exc

    # -- reading -----------------------------------------------------------------------

    def retrieve(self, context_id: Any) -> Any:
        """Return the result stored under ``context_id``; a corrupt entry is a miss."""
        return self._read(context_id)[0]

    def retrieve_entry(self, context_id: Any) -> tuple[Any, float | None]:
        """Return ``(result, run_time)``; ``run_time`` is ``None`` if stored by ``save``."""
        result, flags, run_time = self._read(context_id)
        return result, (run_time if flags & _FLAG_HAS_INFO else None)

    def _read(self, context_id: Any) -> tuple[Any, int, float]:
        """Load an entry as ``(result, flags, run_time)``, warning if it is unreadable."""
        path = self._path(context_id)
        try:
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            raise CheckpointNotExist(f"no cache entry for {context_id!r}") from None
        except OSError as exc:
            self._warn_corrupt(path, exc)
            raise CheckpointNotExist(f"unreadable cache entry for {context_id!r}") from exc
        try:
            return self._load(fd)
        except (OSError, _CorruptEntry) as exc:
            self._warn_corrupt(path, exc)
            raise CheckpointNotExist(f"unreadable cache entry for {context_id!r}") from exc
        except Exception as exc:
            self._warn_corrupt(path, f"cannot unpickle the result: {exc!r}")
            raise CheckpointNotExist(f"unreadable cache entry for {context_id!r}") from exc
        finally:
            os.close(fd)

    @staticmethod
    def _load(fd: int) -> tuple[Any, int, float]:
        """Read and unpickle the entry open at ``fd``; return ``(result, flags, run_time)``."""
        data = os.read(fd, _FIRST_READ)
        size = len(data)
        if _HEADER.size <= size < _FIRST_READ:
            # Fast path for the common hit: a small file, no out-of-band buffers.
            magic, version, flags, _, run_time, meta_len, pickle_len, n_buffers = (
                _HEADER.unpack_from(data)
            )
            start = _HEADER.size + meta_len
            if (
                not n_buffers
                and magic == _MAGIC
                and version == FORMAT_VERSION
                and start + pickle_len == size
            ):
                return pickle.loads(memoryview(data)[start:]), flags, run_time
        if size < _FIRST_READ:
            # The whole file is in memory: the common case of a small result.
            layout, _ = _layout(data, fd, len(data))
            view = memoryview(data)
            buffers: list[Any] = []
            offset = layout.pickle_end
            for length in layout.lengths:
                offset = _aligned(offset)
                buffers.append(bytearray(view[offset : offset + length]))
                offset += length
        else:
            layout, prefix = _layout(data, fd, os.fstat(fd).st_size)
            view = memoryview(_extend(prefix, fd, layout.pickle_end))
            offset = layout.pickle_end
            buffers = []
            for length in layout.lengths:
                offset = _aligned(offset)
                buffer = _new_buffer(length)
                _read_into(fd, memoryview(buffer).cast("B"), offset)
                buffers.append(buffer)
                offset += length
        stream = view[layout.pickle_start : layout.pickle_end]
        return pickle.loads(stream, buffers=buffers), layout.flags, layout.run_time

    @staticmethod
    def _warn_corrupt(path: str, cause: object) -> None:
        """Tell the user an entry is unreadable and will count as a miss."""
        # Attribute the warning to whoever called retrieve() or retrieve_entry().
        warnings.warn(
            f"cache entry {path!r} is unreadable and counts as a miss "
            f"(the next save replaces it): {cause}",
            CorruptEntryWarning,
            stacklevel=4,
        )

    # -- inspection and pruning ---------------------------------------------------------

    def _entry_files(self) -> list[os.DirEntry[str]]:
        """List the entry files, leaving out temporary files of writers in progress."""
        try:
            with os.scandir(self._dir) as scan:
                return [
                    e
                    for e in scan
                    if e.name.endswith(_SUFFIX)
                    and not e.name.startswith(_TEMP_PREFIX)
                    and e.is_file()
                ]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list cache directory {self._dir!r}: {exc}") from exc

    @staticmethod
    def _read_info(path: str) -> EntryInfo:
        """Read the header and metadata of one entry, not its payload."""
        fd = os.open(path, _READ_FLAGS)
        try:
            size = os.fstat(fd).st_size
            layout, data = _layout(os.read(fd, _FIRST_READ), fd, size)
            data = _extend(data, fd, layout.pickle_start)
        finally:
            os.close(fd)
        meta_bytes = bytes(data[layout.meta_start : layout.pickle_start])
        try:
            meta = json.loads(meta_bytes.decode())
        except ValueError as exc:
            raise _CorruptEntry(f"unreadable metadata: {exc}") from exc
        if not isinstance(meta, dict):
            raise _CorruptEntry("metadata is not a JSON object")
        context_id: Any = meta.get("context_id")
        if "context_id_pickle" in meta:
            # An id that no longer unpickles (its class is gone) is still shown by its repr.
            with contextlib.suppress(Exception):
                context_id = pickle.loads(base64.b64decode(meta["context_id_pickle"]))
        return EntryInfo(
            context_id=context_id,
            function=str(meta.get("function", "")),
            created=layout.created,
            size=size,
            run_time=layout.run_time,
            arguments=str(meta.get("arguments", "")),
            format_version=FORMAT_VERSION,
            extra=extra if isinstance(extra := meta.get("extra"), dict) else {},
        )

    def entries(self) -> list[EntryInfo]:
        """List the metadata of every readable entry; corrupt files are left out."""
        found = []
        for entry in self._entry_files():
            try:
                found.append(self._read_info(entry.path))
            except (OSError, _CorruptEntry):
                continue
        return found

    def delete(self, context_id: Any) -> bool:
        """Remove the entry of ``context_id``; return whether there was one."""
        path = self._path(context_id)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete cache entry {path!r}: {exc}") from exc
        return True

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or only those of ``function``; return how many were removed.

        Clearing everything also removes corrupt entry files; clearing one function only
        removes entries whose metadata names it.
        """
        removed = 0
        for entry in self._entry_files():
            if function is not None:
                try:
                    if self._read_info(entry.path).function != function:
                        continue
                except (OSError, _CorruptEntry):
                    continue
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot delete cache entry {entry.path!r}: {exc}") from exc
            removed += 1
        return removed
