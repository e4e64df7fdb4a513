"""Entries as objects on any fsspec file system: S3 (s3fs), GCS, Azure, memory...

Each entry is one object ``<root>/<key><ENTRY_SUFFIX>`` holding the bytes the entry codec
produced, so an object-storage cache has the same format as the local one. Lock objects
live under ``<root>/.locks/``, hit counts and last-use times under ``<root>/.usage/``
(batched: a hit writes nothing, see :mod:`checkpointing.store._object_usage`).

Publishing. On object stores (S3, GCS, Azure, memory) an object becomes visible only once
its upload completes, so writing the object is the publish step: a reader sees the old
entry or the whole new one. Other file systems (SFTP, HDFS...) get the entry written under
``<root>/.tmp/`` and then moved onto its name.

Reading. A hit costs one request when the entry is small: the lookup fetches the first
bytes with one ranged read, and a shorter answer is the whole entry. A reader must keep
the version it started with even if the entry is replaced meanwhile. On S3 the lookup
reads up to 1 MiB and the rest is read in ranged chunks, several at a time, each pinned
to the ETag first seen (``If-Match``), straight into the buffers the codec hands out: a
replaced entry then fails the read (a miss), never mixes versions. Other file systems
have no version to pin, so an entry larger than the first read is fetched whole.

Credentials come the standard way of each file system (for S3 the AWS variables and
files, including ``AWS_ENDPOINT_URL``) or from ``storage_options``; they are never part of
``location``, ``identity``, ``repr`` or error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from checkpointing.exceptions import StorageError
from checkpointing.store._object_usage import ObjectUsage
from checkpointing.store._remote import (
    HEAD_BYTES,
    BatchedUsage,
    PinnedRangeReader,
    is_unreachable,
)
from checkpointing.store.base import BytesReader, EntryReader, Store, check_key
from checkpointing.store.locks import LeaseFile, StoreLock
from checkpointing.store.secrets import Scrubber

__all__ = ["ENTRY_SUFFIX", "FsspecStore"]

ENTRY_SUFFIX = ".ckpt"
# One ranged read fetches this much; an entry shorter than this costs one request.
# S3 fetches this much with the lookup: entries up to this size are read in one request,
# and larger ones by ranges pinned to the ETag first seen.
_S3_HEAD_BYTES = 1 << 20
# Large reads go in chunks of this size, this many at a time.
_CHUNK = 8 << 20
_PARALLEL_CHUNKS = 4
# Entries up to this size are uploaded in one request.
_SINGLE_PUT = 16 << 20
# File systems on which a written object appears whole or not at all.
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "memory"})
_LABELS = {"s3": "S3", "s3a": "S3", "gs": "GCS", "gcs": "GCS", "az": "Azure",
           "abfs": "Azure", "abfss": "Azure", "memory": "memory"}  # fmt: skip
# Without these, an unreachable S3 endpoint makes every call hang for minutes.
_S3_DEFAULT_CONFIG = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}


class _ObjectLeases:
    """Lock objects on the file system: exclusive creation by a conditional write."""

    def __init__(self, fs: Any, directory: str) -> None:
        self._fs = fs
        self._directory = directory

    def _path(self, name: str) -> str:
        return f"{self._directory}/{name}"

    def create(self, name: str, data: bytes) -> bool:
        """Write the lock object unless one exists (S3 ``If-None-Match``, fsspec ``create``)."""
        try:
            self._fs.pipe_file(self._path(name), data, mode="create")
        except FileExistsError:
            return False
        except OSError as exc:
            # s3fs reports a failed precondition (the object exists) as a plain OSError.
            if "PreconditionFailed" in str(exc) or "412" in str(exc):
                return False
            raise
        return True

    def read(self, name: str) -> bytes | None:
        """Return the lock object's content, or ``None`` if there is none."""
        try:
            return bytes(self._fs.cat_file(self._path(name)))
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> None:
        """Delete the lock object if it exists."""
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._path(name))

    def overwrite(self, name: str, data: bytes) -> None:
        """Replace the lock object's content (an object write is atomic)."""
        self._fs.pipe_file(self._path(name), data)


class FsspecStore(BatchedUsage, Store):
    """Store entries as objects under ``url`` (``s3://bucket/prefix``, ``gs://...``, ``memory://...``).

    ``storage_options`` go to the fsspec file system (for S3: ``endpoint_url``, ``key``,
    ``secret``, ``profile``...); by default credentials come from the environment the way
    the file system usually finds them. ``fs`` may be given instead, already configured.
    """

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        fs: Any = None,
    ) -> None:
        import fsspec

        given_fs = fs is not None
        options = dict(storage_options or {})
        protocol = urlsplit(url).scheme or "file"
        if protocol in {"s3", "s3a"}:
            config = {**_S3_DEFAULT_CONFIG, **options.get("config_kwargs", {})}
            options["config_kwargs"] = config
        self._scrub = Scrubber.of_options(options, url)
        try:
            if fs is None:
                fs, root = fsspec.core.url_to_fs(url, **options)
            else:
                root = fs._strip_protocol(url)
        except (ImportError, ValueError) as exc:
            raise ValueError(f"cannot open cache URL {self._scrub.url(url)!r}: {exc}") from exc
        self._arguments = (url, storage_options, fs if given_fs else None)
        self.fs = fs
        self.root = str(root).rstrip("/")
        self.protocol = protocol
        self._location = f"{protocol}://{self.root}"
        endpoint = options.get("endpoint_url") or options.get("client_kwargs", {}).get(
            "endpoint_url"
        )
        suffix = f"?endpoint={self._scrub.url(str(endpoint))}" if endpoint else ""
        self._identity = self._location + suffix
        self.label = _LABELS.get(protocol, protocol)
        self._atomic_objects = protocol in _OBJECT_STORES
        leases = _ObjectLeases(fs, f"{self.root}/.locks")
        self._usage: ObjectUsage = ObjectUsage(fs, self.root, leases, self.list)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @property
    def location(self) -> str:
        """Return ``protocol://root``, without credentials."""
        return self._location

    @property
    def identity(self) -> str:
        """Return the location plus the endpoint when one is set (another S3 service)."""
        return self._identity

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from what it was given (dask ships caches to workers); the pickle holds
        # the options, as the file system's own pickle would, and never goes into an entry.
        return (type(self), self._arguments)

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}{ENTRY_SUFFIX}"

    def _failure(self, action: str, key: str, exc: BaseException) -> StorageError:
        """Wrap a file-system error in a ``StorageError`` that names no secret."""
        return StorageError(f"{self.label} cache {self.location}: cannot {action} {key!r}: "
                            f"{self._scrub.text(f'{type(exc).__name__}: {exc}')}")  # fmt: skip

    def get(self, key: str) -> EntryReader | None:
        """Return a reader of the entry ``key`` (one request when it is small), or ``None``.

        An unreachable service is a miss here; the ``put`` that follows reports it.
        """
        path = self._path(key)
        try:
            if self.protocol in {"s3", "s3a"}:
                head, size, etag = self._s3_range(path, 0, _S3_HEAD_BYTES)
                return PinnedRangeReader(
                    self.where(key),
                    head,
                    size,
                    lambda starts, ends: self._s3_ranges(path, starts, ends, etag),
                    _CHUNK,
                    _PARALLEL_CHUNKS,
                )
            data = bytes(self.fs.cat_file(path, start=0, end=HEAD_BYTES))
            if len(data) >= HEAD_BYTES:
                # No version to pin on a generic file system: take the whole entry now,
                # so the reader keeps the version it started with.
                data = bytes(self.fs.cat_file(path))
        except FileNotFoundError:
            return None
        except Exception as exc:
            if is_unreachable(exc):
                return None
            raise self._failure("read", key, exc) from exc
        return BytesReader(data)

    def _s3_range(self, path: str, start: int, end: int, etag: str = "") -> tuple[bytes, int, str]:
        """Fetch bytes ``start:end`` of an S3 object; return them, its size and its ETag."""
        from fsspec.asyn import sync

        return sync(self.fs.loop, self._s3_get, path, start, end, etag)  # type: ignore[no-any-return]

    def _s3_ranges(
        self, path: str, starts: Sequence[int], ends: Sequence[int], etag: str
    ) -> list[bytes]:
        """Fetch several ranges of one version of an S3 object, in parallel."""
        from fsspec.asyn import sync

        async def fetch_all() -> list[tuple[bytes, int, str]]:
            calls = [self._s3_get(path, s, e, etag) for s, e in zip(starts, ends, strict=True)]
            return list(await asyncio.gather(*calls))

        try:
            results = sync(self.fs.loop, fetch_all)
        except FileNotFoundError as exc:
            raise StorageError(f"{path} was deleted while being read") from exc
        except Exception as exc:
            if "Precondition" in repr(exc) or "412" in str(exc):
                raise StorageError(f"{path} was replaced while being read") from exc
            raise self._failure("read", path, exc) from exc
        return [data for data, _, _ in results]

    async def _s3_get(self, path: str, start: int, end: int, etag: str) -> tuple[bytes, int, str]:
        """Ranged GET (``If-Match`` ``etag`` when given): data, total size, ETag."""
        bucket, key, _ = self.fs.split_path(path)
        request = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
        if etag:
            request["IfMatch"] = etag
        response = await self.fs._call_s3("get_object", **request)
        body = response["Body"]
        try:
            data = await body.read()
        finally:
            body.close()
        content_range = str(response.get("ContentRange") or "")
        total = int(content_range.rpartition("/")[2]) if "/" in content_range else len(data)
        return bytes(data), total, str(response.get("ETag") or "")

    def put(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Upload the entry; it becomes visible to readers only once complete."""
        path = self._path(key)
        target = path if self._atomic_objects else f"{self.root}/.tmp/{uuid.uuid4().hex}"
        total = sum(memoryview(part).nbytes for part in parts)
        try:
            if total <= _SINGLE_PUT:
                self.fs.pipe_file(target, b"".join(parts))
            else:
                with self.fs.open(target, "wb", block_size=_CHUNK * _PARALLEL_CHUNKS) as file:
                    for part in parts:
                        file.write(part)
            if target != path:
                self.fs.mv(target, path)
        except Exception as exc:
            if target != path:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(target)
            raise self._failure("write", key, exc) from exc

    def delete(self, key: str) -> bool:
        """Delete the entry ``key``; return whether it existed."""
        path = self._path(key)
        try:
            if not self.fs.exists(path):
                return False
            self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._failure("delete", key, exc) from exc
        self._usage.forget(key)
        return True

    def list(self) -> Iterator[str]:
        """Yield the key of every entry under the root (fresh listing, not a cached one)."""
        try:
            self.fs.invalidate_cache(self.root)
            names = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._failure("list", "entries", exc) from exc
        for name in names:
            base = posixpath.basename(str(name).rstrip("/"))
            if base.endswith(ENTRY_SUFFIX) and not base.startswith("."):
                yield base[: -len(ENTRY_SUFFIX)]

    def lock(self, key: str, ttl: float) -> StoreLock | None:
        """Return a lock object ``<root>/.locks/<key>.lock`` expiring ``ttl`` s after refresh."""
        return LeaseFile(_ObjectLeases(self.fs, f"{self.root}/.locks"), f"{key}.lock", ttl)
