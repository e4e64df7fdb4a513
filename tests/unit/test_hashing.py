"""Unit tests of value hashing: canonical, content-based, and never guessing."""

from __future__ import annotations

import dataclasses
import enum
import functools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from checkpointing._hashing import hash_values, hasher_factory

XXH = hasher_factory("xxh3_128")


def key(value: object) -> str:
    """Hash ``value`` the way the identifier does."""
    return hash_values(value, XXH, 5).hexdigest()


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a: int) -> None:
        self.a = a


class WithDescriptors:
    @property
    def v(self) -> int:
        return 1

    @staticmethod
    def s() -> int:
        return 2

    @classmethod
    def c(cls) -> int:
        return 3

    @functools.cached_property
    def cp(self) -> int:
        return 4


HASHABLE = {
    "none": None,
    "nested": {"k": [1, {2, 3}], "t": frozenset({"x", "y"}), "s": {"a", "b", "c"}},
    "dataclass": Point(1, 2.0),
    "enum": Color.RED,
    "slots": Slotted(3),
    "descriptors": WithDescriptors(),
    "ndarray": np.arange(10),
    "datetime-array": np.array(["2020-01-01"], dtype="M8[ns]"),
    "object-array": np.array([1, "a"], dtype=object),
    "dataframe": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
    "series": pd.Series([1.0, 2.0], name="s"),
    "categorical": pd.Series(["a", "b"], dtype="category"),
    "module": np,
    "builtin": len,
    "library-function": np.sum,
    "partial": functools.partial(int, base=2),
    "type": int,
}


@pytest.mark.parametrize("name", sorted(HASHABLE))
def test_common_values_hash(name: str) -> None:
    """Values data scientists pass around hash to a 32-hex-digit key, repeatably."""
    value = HASHABLE[name]
    assert len(key(value)) == 32
    assert key(value) == key(value)


def test_keys_do_not_depend_on_hash_seed_or_process(tmp_path: Path) -> None:
    """The same values hash identically in processes with different PYTHONHASHSEED."""
    script = tmp_path / "probe.py"
    script.write_text(
        "from checkpointing._hashing import hash_values, hasher_factory\n"
        "import numpy as np\n"
        "class Local:\n"
        "    def __init__(self): self.tags = {'alpha', 'beta', 'gamma'}\n"
        "    def total(self): return len(self.tags)\n"
        "values = [{'x', 'y', 'z'}, {'k1': {'a', 'b'}, 'k2': frozenset('xyz')},\n"
        "          Local(), np.arange(5), [Local, Local.total]]\n"
        "print(hash_values(values, hasher_factory('xxh3_128'), 5).hexdigest())\n"
    )
    outputs = set()
    for seed in ("1", "2", "12345"):
        run = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        outputs.add(run.stdout.strip())
    assert len(outputs) == 1


def test_equal_sets_built_in_different_orders_hash_equal() -> None:
    """Set iteration order does not reach the key."""
    a = set()
    for word in ["pear", "apple", "fig", "kiwi"]:
        a.add(word)
    b = {"kiwi", "fig", "apple", "pear"}
    assert key(a) == key(b)
    assert key(a) != key(b | {"plum"})


def test_array_layout_does_not_matter_but_content_and_dtype_do() -> None:
    """Arrays are compared by content: C/F order and copies agree; values and dtype differ."""
    a = np.arange(12).reshape(3, 4)
    assert key(a) == key(np.asfortranarray(a)) == key(a.copy()) == key(a[:, :].copy())
    assert key(a) != key(a.astype(np.int32))
    assert key(a) != key(a.reshape(4, 3))
    changed = a.copy()
    changed[2, 3] = -1
    assert key(a) != key(changed)


def test_immutable_array_is_hashed_once_and_other_arrays_every_time() -> None:
    """An array over immutable bytes keeps its digest; any array that can change is rehashed."""
    from checkpointing._array_tokens import _immutable_digests

    immutable = np.frombuffer(np.arange(1000).tobytes(), dtype=np.int64)
    first = key(immutable)
    assert any(ref() is immutable for ref, _ in _immutable_digests.values())
    assert key(immutable) == first

    writable = np.arange(1000)
    view = writable[:]
    view.flags.writeable = False  # read-only view of writable memory: can change
    before = key(view)
    writable[0] = 99
    assert key(view) != before


def test_read_only_array_with_an_earlier_writeable_view_is_never_stale() -> None:
    """A writeable view taken before an array was frozen can change it: the key follows."""
    owner = np.arange(1000)
    earlier_view = owner[:]
    owner.flags.writeable = False
    first = key(owner)
    earlier_view[0] = 99  # the frozen array's content changes through the old view
    assert key(owner) != first
    thawed = np.arange(1000)
    thawed.flags.writeable = False
    frozen_key = key(thawed)
    thawed.flags.writeable = True
    thawed[0] = 99
    thawed.flags.writeable = False
    assert key(thawed) != frozen_key


def test_strided_arrays_hash_like_their_contiguous_copies() -> None:
    """Chunked hashing of non-contiguous arrays equals hashing a contiguous copy."""
    big = np.arange(3_000_000, dtype=np.float64).reshape(1000, 3000)
    for strided in (big.T, big[:, ::3], big[::7], np.asfortranarray(big)[:, 5]):
        assert not strided.flags.c_contiguous or strided.base is not None
        assert key(strided) == key(np.ascontiguousarray(strided))
    assert key(big[:, ::3]) != key(big[:, 1::3])


def test_equal_dataframes_give_equal_keys_whatever_their_blocks() -> None:
    """A frame built from a 2-D array and one built column by column hash equal."""
    from_array = pd.DataFrame(np.arange(6).reshape(3, 2), columns=["a", "b"])
    from_columns = pd.DataFrame({"a": [0, 2, 4], "b": [1, 3, 5]})
    assert key(from_array) == key(from_columns)
    assert key(from_array) != key(from_columns.rename(columns={"b": "c"}))
    assert key(from_array) != key(from_columns.assign(b=[1, 3, 6]))
    assert key(from_array) != key(from_columns.set_axis([1, 2, 3]))


def test_numbers_of_different_types_are_different_keys() -> None:
    """1, 1.0 and True compare equal in Python but may behave differently: keys differ."""
    assert len({key(1), key(1.0), key(True)}) == 3


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), (i for i in range(3))],
    ids=["lock", "generator"],
)
def test_values_without_a_stable_serialisation_are_refused(value: object) -> None:
    """Locks and generators raise instead of falling back to an address-bearing repr."""
    with pytest.raises(TypeError):
        key(value)


def test_user_class_methods_are_part_of_an_instance_key() -> None:
    """Two classes with equal state but different method code give different keys."""

    def make(offset: int) -> object:
        if offset:

            class Thing:
                def value(self) -> int:
                    return 1 + 1

        else:

            class Thing:  # type: ignore[no-redef]
                def value(self) -> int:
                    return 1

        return Thing()

    assert key(make(0)) != key(make(1))


def test_unknown_algorithm_is_refused_by_name() -> None:
    """An unknown hash algorithm name raises ValueError naming it."""
    with pytest.raises(ValueError, match="no-such-hash"):
        hasher_factory("no-such-hash")


def test_hashlib_algorithms_are_accepted() -> None:
    """A hashlib algorithm such as sha256 can replace xxh3."""
    digest = hash_values({"a": 1}, hasher_factory("sha256"), 5).hexdigest()
    assert len(digest) == 64


def test_lru_cached_helpers_are_hashed_by_their_code() -> None:
    """An ``functools.lru_cache`` helper contributes its wrapped code, not just its name."""

    def make(step: int) -> object:
        if step:

            @functools.lru_cache
            def helper(x: int) -> int:
                return x + 2

        else:

            @functools.lru_cache
            def helper(x: int) -> int:
                return x + 1

        return helper

    assert key(make(0)) != key(make(1))
    assert key(make(0)) == key(make(0))


def test_reused_picklers_give_the_same_keys_across_threads() -> None:
    """Keys computed concurrently in threads equal those computed alone (pickler reuse)."""
    import concurrent.futures

    values = [{"a": i, "s": {f"x{i}", "y"}, "arr": np.arange(i + 1)} for i in range(50)]
    alone = [key(v) for v in values]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(key, values)) == alone


def test_an_idle_pickler_keeps_nothing_alive() -> None:
    """After hashing, the hashed object is not referenced by the library."""
    import gc
    import weakref

    class Payload:
        def __init__(self) -> None:
            self.data = list(range(10))

    payload = Payload()
    ref = weakref.ref(payload)
    key([payload, payload])
    del payload
    gc.collect()
    assert ref() is None
