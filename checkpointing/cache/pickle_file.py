"""One file per entry in a local directory: the default cache.

``PickleFileCache`` is a :class:`~checkpointing.cache.StoreCache` over a
:class:`~checkpointing.store.DirectoryStore`: the directory store decides where bytes go
(and which files it may touch), the codec what the bytes are. See
:mod:`checkpointing.cache.codec` for the entry format and
:mod:`checkpointing.store.directory` for the directory layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from checkpointing.cache.codec import FORMAT_VERSION, MAGIC
from checkpointing.cache.store_cache import StoreCache
from checkpointing.config import defaults
from checkpointing.store.directory import DirectoryStore

__all__ = ["FORMAT_VERSION", "PickleFileCache"]


class PickleFileCache(StoreCache):
    """Store each result in its own file under ``directory``, pickled and checksummed.

    ``directory`` defaults to ``defaults["cache.filesystem.directory"]``; ``~`` is
    expanded and the path made absolute now, so a later ``os.chdir`` does not move the
    cache. It is created (with a ``CACHEDIR.TAG`` marker) on the first save; an existing
    directory holding files that are not entries is refused unless it has that marker.
    String ids that are lowercase file names are used as the file name stem (``"foo"`` is
    stored in ``foo.pickle``); other ids are hashed (``id-<xxh3>.pickle``). ``secret``
    signs entries (see :class:`StoreCache`); ``fsync=True`` flushes each entry to disk
    before publishing it, for durability across power loss.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        pickle_protocol: int | None = None,
        *,
        secret: str | bytes | None = None,
        fsync: bool = False,
    ) -> None:
        if directory is None:
            directory = defaults["cache.filesystem.directory"]
        store = DirectoryStore(directory, magic=MAGIC, fsync=fsync)
        super().__init__(store, pickle_protocol=pickle_protocol, secret=secret)
        self.directory = Path(store.directory)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.directory)!r}, "
            f"pickle_protocol={self.pickle_protocol})"
        )
