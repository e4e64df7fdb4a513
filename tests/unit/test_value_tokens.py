"""Unit tests of value tokens: values, not object sharing; full state; the type registry."""

from __future__ import annotations

import collections
import pickle
import random
import threading
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from checkpointing import register_token
from checkpointing._hashing import hash_values, hasher_factory

XXH = hasher_factory("xxh3_128")


def key(value: object) -> str:
    """Hash ``value`` the way the identifier does."""
    return hash_values(value, XXH, 5).hexdigest()


# --- equal values, however they were built ------------------------------------------


def test_shared_and_distinct_equal_strings_give_equal_keys() -> None:
    """``['ab', 'ab']`` and ``'ab ab'.split()`` are equal values, so equal keys."""
    shared = "ab"
    built = "ab ab".split()  # noqa: SIM905 - two distinct string objects is the point
    assert built[0] is not built[1]
    assert key([shared, shared]) == key(built)
    assert key({"k": (shared, shared)}) == key({"k": tuple(built)})
    assert key(pd.Series([shared, shared])) == key(pd.Series(built))
    assert key(pd.Series([shared, shared], dtype=object)) == key(pd.Series(built, dtype=object))


class Model:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.weights = np.linspace(0, 1, len(names))

    def predict(self, name: str) -> float:
        return float(self.weights[self.index[name]])


def test_object_restored_from_a_pickle_hashes_like_the_live_one() -> None:
    """A model loaded back from its pickle (sharing rebuilt differently) keeps its key."""
    live = Model([f"feature_{i}" for i in range(5)])
    restored = pickle.loads(pickle.dumps(live))
    assert key(live) == key(restored)
    assert key(live) != key(Model([f"feature_{i}" for i in range(6)]))


def test_cyclic_values_still_hash_deterministically() -> None:
    """Values containing cycles are hashed (with pickle's memo) and stay content-based."""
    first: list[Any] = [1, "a"]
    first.append(first)
    second: list[Any] = [1, "a"]
    second.append(second)
    assert key(first) == key(second)
    node = Model(["a"])
    node.parent = node  # type: ignore[attr-defined]
    assert key(node) == key(node)


# --- full state of user objects --------------------------------------------------------


class DropsHelper:
    def __init__(self, scale: float, transform: Any) -> None:
        self.scale = scale
        self.transform = transform

    def __getstate__(self) -> dict[str, Any]:
        return {"scale": self.scale}  # the transform is "cheap to rebuild"


class ReducesToName:
    def __init__(self, label: str, payload: list[int]) -> None:
        self.label = label
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReducesToName, (self.label, []))


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: int) -> None:
        self.a = a
        self.b = b


class Bag(dict[str, int]):
    pass


def double(x: float) -> float:
    """Return twice ``x`` (one transform)."""
    return x * 2


def square(x: float) -> float:
    """Return ``x`` squared (another transform)."""
    return x * x


def test_attributes_dropped_by_getstate_or_reduce_are_in_the_key() -> None:
    """Objects are hashed by their full state, not by what their own pickling keeps."""
    assert key(DropsHelper(1.0, double)) != key(DropsHelper(1.0, square))
    assert key(ReducesToName("a", [1])) != key(ReducesToName("a", [2]))
    assert key(DropsHelper(1.0, double)) == key(DropsHelper(1.0, double))


def test_slots_and_builtin_bases_are_in_the_key() -> None:
    """Slot values and the content of a dict/list/tuple base are part of an object's key."""
    assert key(Slotted(1, 2)) != key(Slotted(1, 3))
    partial = Slotted(1, 2)
    del partial.b
    assert key(partial) != key(Slotted(1, 2))
    assert key(Bag(a=1)) != key(Bag(a=2))
    pair = collections.namedtuple("pair", "x y")
    assert key(pair(1, 2)) != key(pair(1, 3))


class Tagged(np.ndarray):
    unit: str


def tagged(values: list[float], unit: str) -> Tagged:
    """Return ``values`` as a Tagged array with ``unit``."""
    array = np.asarray(values).view(Tagged)
    array.unit = unit
    return array


def test_ndarray_subclass_attributes_and_masks_are_in_the_key() -> None:
    """An ndarray subclass's extra attributes and a masked array's mask change the key."""
    assert key(tagged([1.0, 2.0], "m")) != key(tagged([1.0, 2.0], "s"))
    assert key(tagged([1.0, 2.0], "m")) == key(tagged([1.0, 2.0], "m"))
    assert key(tagged([1.0, 2.0], "m")) != key(np.array([1.0, 2.0]))
    masked = np.ma.masked_array([1, 2, 3], mask=[False, True, False])
    assert key(masked) != key(np.ma.masked_array([1, 2, 3], mask=[False, False, True]))
    assert key(masked) == key(np.ma.masked_array(np.array([1, 2, 3]), mask=[False, True, False]))


# --- library objects ---------------------------------------------------------------------


def test_library_singletons_are_identified_by_reference() -> None:
    """A library object held by its module (random's hidden Random) keeps its key as it is used."""
    hidden = random._inst
    before = key(hidden)
    random.random()
    assert key(hidden) == before
    assert key(random.random) == key(random.random)


def test_library_objects_the_user_made_are_hashed_by_value() -> None:
    """A library object created by the user (a seeded Random) is hashed by its state."""
    assert key(random.Random(1)) != key(random.Random(2))
    assert key(random.Random(1)) == key(random.Random(1))


# --- pandas, by real types ---------------------------------------------------------------


class Labelled(pd.DataFrame):
    _metadata: ClassVar[list[str]] = ["label"]
    label: str

    @property
    def _constructor(self) -> type[Labelled]:
        return Labelled


def test_pandas_subclass_metadata_and_attrs_are_in_the_key() -> None:
    """A DataFrame subclass's ``_metadata`` attributes and a frame's ``attrs`` change the key."""
    first, second = Labelled({"a": [1]}), Labelled({"a": [1]})
    first.label, second.label = "x", "y"
    assert key(first) != key(second)
    plain = pd.DataFrame({"a": [1]})
    annotated = pd.DataFrame({"a": [1]})
    annotated.attrs["source"] = "survey"
    assert key(plain) != key(annotated)


def test_pandas_accessors_defined_by_the_user_are_in_the_key() -> None:
    """Editing (re-registering) a user accessor changes the key of frames and of pandas."""
    frame = pd.DataFrame({"a": [1.0, 2.0]})

    def register(factor: float) -> None:
        class Scaled:
            def __init__(self, df: pd.DataFrame) -> None:
                self._df = df

            def total(self) -> float:
                return float(self._df.sum().sum()) * factor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when a name is registered again
            pd.api.extensions.register_dataframe_accessor("scaled_test")(Scaled)

    try:
        register(2.0)
        before = (key(frame), key(pd))
        register(3.0)
        after = (key(frame), key(pd))
    finally:
        pd.DataFrame._accessors.discard("scaled_test")  # type: ignore[attr-defined]
        delattr(pd.DataFrame, "scaled_test")
    assert before[0] != after[0]
    assert before[1] != after[1]


# --- plugins -----------------------------------------------------------------------------


def test_subclasses_join_the_key_of_code_that_discovers_them() -> None:
    """A base class whose code calls ``__subclasses__`` depends on its subclasses' code."""

    class Plugin:
        @classmethod
        def names(cls) -> list[str]:
            return [sub.__name__ for sub in cls.__subclasses__()]

    class Plain:
        pass

    before, plain_before = key(Plugin), key(Plain)

    class Extra(Plugin):
        pass

    class Other(Plain):
        pass

    assert key(Plugin) != before
    assert key(Plain) == plain_before
    del Extra, Other


# --- the registry ------------------------------------------------------------------------


class Celsius:
    def __init__(self, degrees: float, cache: Any = None) -> None:
        self.degrees = degrees
        self.cache = cache  # irrelevant to results, and unhashable


class Kelvin:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees
        self.lookups = 0

    def __checkpointing_token__(self) -> float:
        return self.degrees


class Warmer(Kelvin):
    pass


def test_register_token_defines_what_identifies_a_type() -> None:
    """A registered token function replaces the object's state in the key."""
    register_token(Celsius, lambda c: c.degrees)
    assert key(Celsius(20.0, cache=iter([]))) == key(Celsius(20.0, cache=iter([1])))
    assert key(Celsius(20.0)) != key(Celsius(21.0))
    assert key(Celsius(20.0)) != key(20.0)


def test_checkpointing_token_method_is_used_and_inherited() -> None:
    """``__checkpointing_token__`` identifies instances; subclasses use it with their class."""
    counted = Kelvin(3.0)
    counted.lookups = 7
    assert key(counted) == key(Kelvin(3.0))
    assert key(Kelvin(3.0)) != key(Kelvin(4.0))
    assert key(Warmer(3.0)) != key(Kelvin(3.0))


def test_register_token_refuses_bad_input_and_self_containing_tokens() -> None:
    """Registering a non-class or a non-callable, or a token holding the object, is an error."""
    with pytest.raises(TypeError, match="needs a class"):
        register_token("Celsius", str)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        register_token(Celsius, 3)  # type: ignore[arg-type]

    class Loop:
        def __checkpointing_token__(self) -> list[Any]:
            return [self]

    with pytest.raises(TypeError, match="containing the object itself"):
        key(Loop())


def test_an_array_met_twice_in_one_value_hashes_like_two_equal_arrays() -> None:
    """The same array twice in a value (hashed once) gives the key of two equal copies."""
    array = np.arange(100_000, dtype=np.float64)
    assert key([array, array]) == key([array, array.copy()])
    frame = pd.DataFrame({"a": array, "b": array})
    assert key((frame, array)) == key((frame.copy(), array.copy()))
    changed = array.copy()
    changed[-1] = -1
    assert key([array, array]) != key([array, changed])


def test_pandas_subclass_public_attributes_are_in_the_key() -> None:
    """An attribute set on an instance of a DataFrame subclass changes its key."""
    first, second = Labelled({"a": [1]}), Labelled({"a": [1]})
    first.label = second.label = "same"
    object.__setattr__(first, "unit", "m")
    object.__setattr__(second, "unit", "km")
    assert key(first) != key(second)


class Connection:
    def __init__(self, rows: list[int]) -> None:
        self.rows = rows
        self.lock = threading.Lock()  # dropped by __getstate__: pickle cannot take it
        self.scale = double

    def __getstate__(self) -> dict[str, Any]:
        return {"rows": self.rows}


def test_unhashable_attributes_dropped_by_getstate_count_by_type() -> None:
    """A lock that ``__getstate__`` drops keeps the object cacheable; other drops count."""
    assert key(Connection([1, 2])) == key(Connection([1, 2]))
    assert key(Connection([1, 2])) != key(Connection([1, 3]))
    changed = Connection([1, 2])
    changed.scale = square
    assert key(changed) != key(Connection([1, 2]))
