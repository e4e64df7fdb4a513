"""The contract every store (``checkpointing.store.Store``) must honour, run on each.

To add a store, add a factory to ``STORE_FACTORIES`` (it gets a fresh temporary directory
and returns an empty store): every test here runs on it, and so does the whole cache
contract of ``tests/test_cache_contract.py``, through a ``StoreCache`` over it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checkpointing.store.base import EntryReader, Store
from checkpointing.store.directory import DirectoryStore
from checkpointing.store.fsspec import FsspecStore
from checkpointing.store.redis import RedisStore
from checkpointing.store.tiered import TieredStore
from tests.servers import fresh_prefix, session_redis_url, session_s3_server

STORE_FACTORIES: dict[str, Callable[[Path], Store]] = {
    "directory": lambda tmp: DirectoryStore(tmp / "store"),
    # shared stores, on real servers started for the session (tests/servers.py)
    "redis": lambda tmp: RedisStore(f"{session_redis_url()}?prefix={fresh_prefix()}"),
    "s3": lambda tmp: FsspecStore(
        f"s3://{session_s3_server().bucket}/{fresh_prefix()}", session_s3_server().storage_options()
    ),
    "fsspec_memory": lambda tmp: FsspecStore(f"memory://{fresh_prefix()}"),
    "tiered": lambda tmp: TieredStore(
        DirectoryStore(tmp / "local"), FsspecStore(f"memory://{fresh_prefix()}")
    ),
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """Return a fresh, empty store of each kind in turn."""
    factory: Callable[[Path], Store] = STORE_FACTORIES[request.param]
    return factory(tmp_path)


def read_all(reader: EntryReader) -> bytes:
    """Read a whole entry through the reader interface."""
    with reader:
        data = bytearray(reader.size())
        reader.read_into(memoryview(data), 0)
    return bytes(data)


def test_put_then_get(store: Store) -> None:
    """What is put under a key is read back whole, parts concatenated in order."""
    store.put("k", [b"head", memoryview(b"-middle-"), b"", memoryview(bytearray(b"tail"))])
    reader = store.get("k")
    assert reader is not None
    assert read_all(reader) == b"head-middle-tail"


def test_get_absent_is_none(store: Store) -> None:
    """get() of a key never put returns None; delete() of it returns False."""
    assert store.get("absent") is None
    assert store.delete("absent") is False


def test_read_into_at_offsets(store: Store) -> None:
    """read_into fills a view from any offset and raises EOFError past the end."""
    store.put("k", [bytes(range(256)) * 4])
    reader = store.get("k")
    assert reader is not None
    with reader:
        assert reader.size() == 1024
        view = memoryview(bytearray(10))
        reader.read_into(view, 300)
        assert bytes(view) == bytes(range(44, 54))
        with pytest.raises(EOFError):
            reader.read_into(memoryview(bytearray(10)), 1020)


def test_put_replaces(store: Store) -> None:
    """Putting again under a key replaces the entry; list() yields each key once."""
    store.put("k", [b"old"])
    store.put("k", [b"new"])
    store.put("other", [b"x"])
    reader = store.get("k")
    assert reader is not None
    assert read_all(reader) == b"new"
    assert sorted(store.list()) == ["k", "other"]


def test_delete(store: Store) -> None:
    """delete() removes one entry and says whether it existed."""
    store.put("a", [b"1"])
    store.put("b", [b"2"])
    assert store.delete("a") is True
    assert store.get("a") is None
    assert list(store.list()) == ["b"]


def test_reader_keeps_its_version(store: Store) -> None:
    """A reader opened before a replacement keeps reading the old entry whole."""
    store.put("k", [b"a" * 100_000])
    reader = store.get("k")
    assert reader is not None
    store.put("k", [b"b" * 50])
    assert read_all(reader) == b"a" * 100_000


def test_quarantine_hides_the_entry(store: Store) -> None:
    """A quarantined entry is no longer served or listed."""
    store.put("bad", [b"x"])
    store.quarantine("bad")
    assert store.get("bad") is None
    assert list(store.list()) == []
    assert len(store.quarantined()) == store.clear_quarantine()


def test_descriptions_are_strings(store: Store) -> None:
    """A store reports its location, identity and label as non-empty strings."""
    for description in (store.location, store.identity, store.label):
        assert isinstance(description, str)
        assert description


def test_concurrent_puts_publish_whole_entries(store: Store) -> None:
    """Threads replacing one key never let a reader see a mixture or a prefix."""
    values = [bytes([n]) * 200_000 for n in range(1, 5)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(value: bytes) -> None:
        try:
            while not stop.is_set():
                store.put("k", [value[:1000], value[1000:]])
        except BaseException as exc:  # noqa: BLE001 - asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    try:
        seen = 0
        while seen < 50 and not errors:
            reader = store.get("k")
            if reader is None:
                continue
            assert read_all(reader) in values
            seen += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []


def test_fetch_returns_small_entries_whole(store: Store) -> None:
    """fetch() returns an entry within the limit as bytes, a larger one as a reader."""
    store.put("small", [b"x" * 100])
    store.put("large", [b"y" * 5000])
    assert store.fetch("small", 1000) == b"x" * 100
    large = store.fetch("large", 1000)
    assert isinstance(large, EntryReader)
    assert read_all(large) == b"y" * 5000
    assert store.fetch("absent", 1000) is None


def test_uses_are_recorded_and_deleted_with_the_entry(store: Store) -> None:
    """touch() counts hits and the last use; usages() reads many; delete() forgets them."""
    store.put("used", [b"x"])
    store.put("unused", [b"y"])
    before = time.time()
    for _ in range(3):
        store.touch("used")
    hits, last_used = store.usage("used")
    assert hits == 3
    assert last_used is not None
    assert before - 1 <= last_used <= time.time() + 1
    assert store.usages(["used", "unused"]) == {"used": (3, last_used), "unused": (0, None)}
    assert store.delete("used")
    assert store.usage("used") == (0, None)
    store.put("used", [b"x"])  # the same key again: a new entry starts with no uses
    assert store.usage("used") == (0, None)
