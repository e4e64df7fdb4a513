"""The registry of ambient library states: reading, digesting, deciding who uses them."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from types import FunctionType, ModuleType
from typing import Any

import pytest

import checkpointing
from checkpointing import _ambient
from checkpointing._ambient import (
    ambient_states,
    digest_states,
    read_states,
    states_used_by,
    write_state,
)
from checkpointing._hashing import hash_values, hasher_factory
from checkpointing._profile import ambient_inputs, profile_of


def _digest(value: object) -> bytes:
    return hash_values(value, hasher_factory("xxh3_128"), 5).digest()


@pytest.fixture
def fake_library() -> Iterator[Any]:
    """A library module ``fakelib`` in sys.modules with one setting, registered as a state."""
    module: Any = ModuleType("fakelib")
    module.SETTINGS = {"mode": "a"}

    def compute(x: int) -> int:
        return x

    compute.__module__ = "fakelib"
    module.compute = compute
    sys.modules["fakelib"] = module

    def read(lib: Any) -> object:
        return dict(lib.SETTINGS)

    def write(lib: Any, value: Any) -> None:
        lib.SETTINGS.clear()
        lib.SETTINGS.update(value)

    checkpointing.register_ambient_state("fakelib", read, write)
    try:
        yield module
    finally:
        sys.modules.pop("fakelib", None)
        _ambient._registry.pop("fakelib", None)


def test_builtin_states_are_registered() -> None:
    """The global random states of numpy and random, rcParams and pandas options are known."""
    names = {state.name for state in ambient_states()}
    assert {"numpy.random", "random", "matplotlib.rcParams", "pandas.options"} <= names


def test_registered_state_is_read_and_written_back(fake_library: Any) -> None:
    """A user's state is read by name and set back through its writer."""
    before = read_states()["fakelib"]
    fake_library.SETTINGS["mode"] = "b"
    assert read_states()["fakelib"] == {"mode": "b"}
    assert write_state("fakelib", before)
    assert fake_library.SETTINGS == {"mode": "a"}


def test_state_of_a_library_not_imported_is_not_read() -> None:
    """Nothing is imported to read a state: a missing library gives no reading."""
    checkpointing.register_ambient_state("not_a_real_library_xyz", lambda lib: 1)
    try:
        assert "not_a_real_library_xyz" not in read_states()
        assert "not_a_real_library_xyz" not in sys.modules
        assert not write_state("not_a_real_library_xyz", 1)
    finally:
        _ambient._registry.pop("not_a_real_library_xyz", None)


def test_function_reaching_the_library_has_the_state_in_its_key(fake_library: Any) -> None:
    """A function reaching the library gets the state's digest; it changes with the state."""
    fakelib = fake_library

    def uses(x: int) -> int:
        return fakelib.compute(x)

    def ignores(x: int) -> int:
        return x

    assert isinstance(uses, FunctionType)
    assert isinstance(ignores, FunctionType)
    first = ambient_inputs(uses, profile_of(uses))
    assert first is not None
    assert first[0][0] == "fakelib"
    assert ambient_inputs(ignores, profile_of(ignores)) is None
    fakelib.SETTINGS["mode"] = "c"
    assert ambient_inputs(uses, profile_of(uses)) != first


def test_in_place_change_of_a_list_in_a_dict_state_is_seen() -> None:
    """A dict reading whose list value changes in place gets a new digest."""
    values: dict[str, Any] = {"size": [1, 2]}
    lib = ModuleType("fakelib_lists")
    sys.modules["fakelib_lists"] = lib
    checkpointing.register_ambient_state("fakelib_lists", lambda _: values)
    try:
        state = _ambient._registry["fakelib_lists"]
        first = digest_states((state,), _digest)
        values["size"][0] = 3
        assert digest_states((state,), _digest) != first
    finally:
        sys.modules.pop("fakelib_lists", None)
        _ambient._registry.pop("fakelib_lists", None)


def test_random_module_state_is_used_by_its_global_functions_only() -> None:
    """random.random uses the global state; a seeded random.Random instance does not."""
    state = _ambient._registry["random"]
    assert state in states_used_by([random.random])
    assert state not in states_used_by([random.Random(3).random, random.Random])
    assert state not in states_used_by([random.random, random.seed])  # seeds it itself


def test_numpy_legacy_state_is_used_by_legacy_functions_only() -> None:
    """np.random.rand uses the global state; default_rng and RandomState(seed) do not."""
    np = pytest.importorskip("numpy")
    state = _ambient._registry["numpy.random"]
    assert state in states_used_by([np.random.rand])
    assert state not in states_used_by([np.random.default_rng, np.random.RandomState(0).rand])
    assert state not in states_used_by([np.random.rand, np.random.seed])


def test_numpy_state_round_trips() -> None:
    """The numpy state read before draws, written back, gives the same draws again."""
    np = pytest.importorskip("numpy")
    saved = read_states([_ambient._registry["numpy.random"]])["numpy.random"]
    first = np.random.rand(3)
    assert write_state("numpy.random", saved)
    assert (np.random.rand(3) == first).all()


def test_bad_registration_is_refused() -> None:
    """A registration without a module name or a callable reader raises TypeError."""
    with pytest.raises(TypeError, match="library"):
        checkpointing.register_ambient_state("", lambda lib: 1)
    with pytest.raises(TypeError, match="read"):
        checkpointing.register_ambient_state("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="used_by"):
        checkpointing.register_ambient_state("x", lambda lib: 1, used_by=[""])


def test_a_failing_reader_does_not_break_calls(fake_library: Any) -> None:
    """A reader that raises gives a fixed 'unreadable' reading instead of an error."""

    def broken(lib: Any) -> object:
        raise RuntimeError("boom")

    checkpointing.register_ambient_state("fakelib", broken)
    assert read_states()["fakelib"] == ("unreadable", "RuntimeError")
