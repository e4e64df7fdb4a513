"""The contract every cache backend must honour, run against each of them.

To add a cache, add a factory to ``FACTORIES``; to add a store, add it to
``STORE_FACTORIES`` in ``tests/test_store_contract.py``: every test below then runs on it
too (as a ``StoreCache`` over that store), besides the store's own contract there.
Behaviour particular to one backend lives in its own test module, except the in-memory
cache's bound and threading, which are checked at the end of this file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.cache.memory import MemoryCache
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.cache.store_cache import StoreCache
from checkpointing.exceptions import CheckpointNotExist
from checkpointing.store.base import Store
from tests.test_store_contract import STORE_FACTORIES


def _over_store(make: Callable[[Path], Store]) -> Callable[[Path], CacheBase]:
    """Return a factory of a ``StoreCache`` over the store ``make`` builds."""
    return lambda tmp: StoreCache(make(tmp))


FACTORIES: dict[str, Callable[[Path], CacheBase]] = {
    "pickle_file": lambda tmp: PickleFileCache(tmp / "cache"),
    "pickle_file_signed": lambda tmp: PickleFileCache(tmp / "signed", secret="s3cret"),
    "memory": lambda tmp: MemoryCache(),
    **{f"store:{name}": _over_store(make) for name, make in STORE_FACTORIES.items()},
}


@pytest.fixture(params=sorted(FACTORIES))
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> CacheBase:
    """Return a fresh, empty cache of each backend in turn."""
    factory: Callable[[Path], CacheBase] = FACTORIES[request.param]
    return factory(tmp_path)


def info(function: str = "pkg.mod.f", run_time: float = 1.25, arguments: str = "a=1") -> EntryInfo:
    """Build the metadata the decorator would pass to ``save_entry``."""
    return EntryInfo(
        context_id=None,
        function=function,
        created=time.time(),
        size=0,
        run_time=run_time,
        arguments=arguments,
        format_version=0,
    )


PLAIN_VALUES: list[Any] = [
    None,
    0,
    -1.5,
    "text with ünïcode",
    b"\x00bytes\xff",
    [],
    {"list": [1, 2.5, "x"], "tuple": (None, True), "nested": {"set": {"a", "b"}}},
    frozenset({1, 2, 3}),
    bytearray(b"x" * 100_000),
]


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=lambda v: type(v).__name__)
def test_round_trip_plain_values(cache: CacheBase, value: Any) -> None:
    """A saved value comes back equal and of the same type."""
    cache.save("key", value)
    loaded = cache.retrieve("key")
    assert loaded == value
    assert type(loaded) is type(value)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(10, dtype=np.int32),
        np.linspace(0, 1, 300_000).reshape(600, 500),
        np.asfortranarray(np.arange(200_000, dtype=np.float32).reshape(400, 500)),
        np.array(["a", "bc"], dtype=object),
    ],
    ids=["small", "large", "fortran", "object"],
)
def test_round_trip_numpy_array(cache: CacheBase, array: np.ndarray[Any, Any]) -> None:
    """A numpy array comes back with equal content, dtype, shape and memory order."""
    cache.save("array", array)
    loaded = cache.retrieve("array")
    np.testing.assert_array_equal(loaded, array)
    assert loaded.dtype == array.dtype
    assert loaded.flags.f_contiguous == array.flags.f_contiguous


def test_round_trip_dataframe(cache: CacheBase) -> None:
    """A pandas DataFrame with mixed column types comes back equal."""
    frame = pd.DataFrame(
        {
            "x": np.arange(50_000, dtype=np.float64),
            "name": [f"row{i}" for i in range(50_000)],
            "when": pd.date_range("2024-01-01", periods=50_000, freq="min"),
        }
    )
    cache.save("frame", frame)
    pd.testing.assert_frame_equal(cache.retrieve("frame"), frame)


def test_miss_raises_checkpoint_not_exist(cache: CacheBase) -> None:
    """Retrieving an id never saved raises CheckpointNotExist, which is a LookupError."""
    with pytest.raises(CheckpointNotExist):
        cache.retrieve("never saved")
    with pytest.raises(LookupError):
        cache.retrieve_entry("never saved")


def test_save_overwrites(cache: CacheBase) -> None:
    """Saving again under the same id replaces the stored value."""
    cache.save("key", "old")
    cache.save("key", "new")
    assert cache.retrieve("key") == "new"
    assert len(cache.entries()) == 1


def test_retrieve_entry_returns_run_time(cache: CacheBase) -> None:
    """retrieve_entry returns the run time given to save_entry, and None after a plain save."""
    cache.save_entry("timed", [1, 2], info(run_time=3.5))
    cache.save("untimed", [3])
    assert cache.retrieve_entry("timed") == ([1, 2], 3.5)
    assert cache.retrieve_entry("untimed") == ([3], None)
    assert cache.retrieve("timed") == [1, 2]


def test_entries_report_metadata(cache: CacheBase) -> None:
    """entries() reports each entry's id, function, arguments, run time and creation time."""
    before = time.time()
    cache.save_entry(("tuple", 1), "r1", info("pkg.f", 0.5, "x=1"))
    cache.save("plain", "r2")
    after = time.time()
    found = {entry.context_id: entry for entry in cache.entries()}
    assert set(found) == {("tuple", 1), "plain"}
    first = found[("tuple", 1)]
    assert (first.function, first.arguments, first.run_time) == ("pkg.f", "x=1", 0.5)
    assert before <= first.created <= after
    plain = found["plain"]
    assert (plain.function, plain.arguments, plain.run_time) == ("", "", 0.0)
    assert before <= plain.created <= after
    assert all(entry.size >= 0 for entry in found.values())


def test_entries_of_an_empty_cache(cache: CacheBase) -> None:
    """A fresh cache lists no entries and clearing it removes nothing."""
    assert cache.entries() == []
    assert cache.clear() == 0
    assert cache.delete("nothing") is False


def test_delete_one(cache: CacheBase) -> None:
    """delete() removes only the given entry and reports whether it existed."""
    cache.save("a", 1)
    cache.save("b", 2)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    with pytest.raises(CheckpointNotExist):
        cache.retrieve("a")
    assert cache.retrieve("b") == 2


def test_clear_by_function(cache: CacheBase) -> None:
    """clear(function) removes that function's entries only and returns their number."""
    cache.save_entry("f1", 1, info("pkg.f"))
    cache.save_entry("f2", 2, info("pkg.f"))
    cache.save_entry("g1", 3, info("pkg.g"))
    assert cache.clear("pkg.f") == 2
    assert [entry.context_id for entry in cache.entries()] == ["g1"]
    assert cache.retrieve("g1") == 3
    assert cache.clear("pkg.unknown") == 0


def test_clear_all(cache: CacheBase) -> None:
    """clear() removes every entry and returns how many there were."""
    cache.save_entry("f1", 1, info("pkg.f"))
    cache.save("plain", 2)
    assert cache.clear() == 2
    assert cache.entries() == []
    with pytest.raises(CheckpointNotExist):
        cache.retrieve("plain")


UNSAFE_IDS: list[Any] = [
    ("tuple", 1, 2.5),
    "a/b",
    "../escape",
    "/absolute",
    "",
    ".hidden",
    "with space",
    "x" * 300,
    "id-" + "0" * 32,
    1,
    "1",
    ("1",),
    None,
]


def test_ids_that_are_not_file_names(cache: CacheBase) -> None:
    """Ids that are not file names (tuples, paths, empty, long) are stored apart from each other."""
    for index, context_id in enumerate(UNSAFE_IDS):
        cache.save(context_id, index)
    for index, context_id in enumerate(UNSAFE_IDS):
        assert cache.retrieve(context_id) == index
    assert sorted(map(repr, (e.context_id for e in cache.entries()))) == sorted(
        map(repr, UNSAFE_IDS)
    )
    assert cache.delete(("tuple", 1, 2.5)) is True
    with pytest.raises(CheckpointNotExist):
        cache.retrieve(("tuple", 1, 2.5))


def test_equal_ids_of_different_types_are_different_entries(cache: CacheBase) -> None:
    """1, 1.0 and True (and 0.0 and -0.0) are different context ids, kept apart."""
    ids: list[Any] = [1, 1.0, True, 0.0, -0.0, (1,), (1.0,), (True,)]
    for index, context_id in enumerate(ids):
        cache.save(context_id, index)
    for index, context_id in enumerate(ids):
        assert cache.retrieve(context_id) == index, context_id
    assert len(cache.entries()) == len(ids)


def test_cache_describes_itself(cache: CacheBase, tmp_path: Path) -> None:
    """Every cache reports a location, a stable identity and a short label as strings."""
    for description in (cache.location, cache.identity, cache.label):
        assert isinstance(description, str)
        assert description
    assert cache.identity == cache.identity
    assert "s3cret" not in cache.location + cache.identity + cache.label + repr(cache)


def test_hits_are_counted(cache: CacheBase) -> None:
    """entries() reports the number of hits and the time of the last one."""
    cache.save("used", 1)
    cache.save("unused", 2)
    before = time.time()
    for _ in range(3):
        cache.retrieve("used")
    found = {entry.context_id: entry for entry in cache.entries()}
    assert (found["unused"].hits, found["unused"].last_used) == (0, 0.0)
    assert found["used"].hits == 3
    assert found["used"].last_used >= before - 1


def test_seed_example_id_foo(cache: CacheBase) -> None:
    """The id a FuncNameIdentifier returns for ``foo`` round-trips."""
    cache.save("foo", 0)
    assert cache.retrieve("foo") == 0
    assert [entry.context_id for entry in cache.entries()] == ["foo"]


# -- MemoryCache specifics ------------------------------------------------------------


def test_memory_cache_keeps_the_object() -> None:
    """MemoryCache returns the very object saved, not a copy."""
    cache = MemoryCache()
    value = {"mutable": [1]}
    cache.save("k", value)
    assert cache.retrieve("k") is value


def test_memory_cache_evicts_least_recently_used() -> None:
    """With maxsize, the entry used least recently is evicted; a retrieve counts as a use."""
    cache = MemoryCache(maxsize=2)
    cache.save("a", 1)
    cache.save("b", 2)
    assert cache.retrieve("a") == 1
    cache.save("c", 3)
    with pytest.raises(CheckpointNotExist):
        cache.retrieve("b")
    assert (cache.retrieve("a"), cache.retrieve("c")) == (1, 3)
    assert len(cache.entries()) == 2


@pytest.mark.parametrize(
    ("maxsize", "error"), [(0, ValueError), (-3, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_memory_cache_rejects_bad_maxsize(maxsize: Any, error: type[Exception]) -> None:
    """MemoryCache refuses a maxsize that is not a positive int, naming the argument."""
    with pytest.raises(error, match="maxsize"):
        MemoryCache(maxsize=maxsize)


def test_memory_cache_rejects_unhashable_ids() -> None:
    """MemoryCache refuses an unhashable id with a TypeError naming its type."""
    cache = MemoryCache()
    with pytest.raises(TypeError, match="list"):
        cache.save(["unhashable"], 1)
    with pytest.raises(TypeError, match="dict"):
        cache.retrieve({})


@dataclasses.dataclass(frozen=True)
class SlowKey:
    """A context id whose hash and equality run Python code, where threads can switch."""

    number: int


def test_memory_cache_is_thread_safe() -> None:
    """Threads saving and retrieving shared ids concurrently keep the LRU bound and never fail."""
    cache = MemoryCache(maxsize=50)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(3_000):
                cache.save(SlowKey((i * worker) % 80), i)
                with contextlib.suppress(CheckpointNotExist):
                    cache.retrieve(SlowKey((i * 7) % 80))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so races would show
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(cache.entries()) == 50
