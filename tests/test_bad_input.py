"""Bad input and failures of the caching machinery: clear errors, and the program keeps working.

``on_error`` governs failures of the caching machinery only: "warn" warns once and runs
the function uncached, "raise" raises ``CheckpointFailure`` chaining the cause, "ignore"
runs uncached silently. Exceptions raised by the user's function always propagate as they
are, and nothing is stored for them.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointing import (
    AutoFuncCallIdentifier,
    CheckpointFailure,
    CheckpointingWarning,
    CheckpointNotExist,
    CorruptEntryWarning,
    DecoratorCheckpoint,
    MemoryCache,
    checkpoint,
    defaults,
)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in a fresh working directory, so ``.checkpointing`` lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stored_files(workdir: Path) -> list[Path]:
    """Every file under the default cache directory."""
    cache = workdir / ".checkpointing"
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def single_warning(caught: list[warnings.WarningMessage], category: type[Warning]) -> str:
    """Assert that exactly one warning, of ``category``, was caught; return its message."""
    found = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert len(caught) == 1, found
    assert issubclass(caught[0].category, category), found
    return str(caught[0].message)


# --- Arguments validated eagerly --------------------------------------------------------


def test_checkpoint_refuses_unknown_on_error() -> None:
    """``checkpoint(on_error=...)`` with an unknown policy raises ValueError naming on_error."""
    with pytest.raises(ValueError, match="on_error"):
        checkpoint(on_error="loudly")


def test_decorator_checkpoint_refuses_unknown_on_error() -> None:
    """``DecoratorCheckpoint(..., on_error=...)`` with an unknown policy raises ValueError."""
    with pytest.raises(ValueError, match="on_error"):
        DecoratorCheckpoint(AutoFuncCallIdentifier(), MemoryCache(), on_error="loudly")


@pytest.mark.parametrize(
    ("identifier", "cache", "argument"),
    [
        pytest.param(object(), MemoryCache(), "identifier", id="identifier is object"),
        pytest.param(MemoryCache(), AutoFuncCallIdentifier(), "identifier", id="swapped"),
        pytest.param(AutoFuncCallIdentifier(), object(), "cache", id="cache is object"),
        pytest.param(AutoFuncCallIdentifier(), {}, "cache", id="cache is dict"),
        pytest.param(AutoFuncCallIdentifier, MemoryCache(), "identifier", id="class not instance"),
    ],
)
def test_decorator_checkpoint_refuses_wrong_types(
    identifier: Any, cache: Any, argument: str
) -> None:
    """A non-identifier or non-cache object raises TypeError naming the argument."""
    with pytest.raises(TypeError, match=rf"\b{argument}\b"):
        DecoratorCheckpoint(identifier, cache)


def test_generator_function_is_refused() -> None:
    """Decorating a generator function raises TypeError mentioning generators."""
    with pytest.raises(TypeError, match="generator"):

        @checkpoint()
        def numbers() -> Iterator[int]:
            yield 1


def test_async_generator_function_is_refused() -> None:
    """Decorating an async generator function raises TypeError mentioning generators."""
    with pytest.raises(TypeError, match="generator"):

        @checkpoint()
        async def numbers() -> AsyncIterator[int]:
            yield 1


# --- Arguments that cannot be hashed deterministically ----------------------------------

LOCK = threading.Lock()

UNHASHABLE = {
    "generator": (lambda: (i for i in range(3)), "generator"),
    # The same lock object each time: an address-based key would give a false hit.
    "lock": (lambda: LOCK, "lock"),
}


@pytest.mark.parametrize(("make", "kind"), UNHASHABLE.values(), ids=UNHASHABLE)
def test_unhashable_argument_warns_and_runs_uncached(
    workdir: Path, capsys: pytest.CaptureFixture[str], make: Callable[[], Any], kind: str
) -> None:
    """With on_error="warn", an unhashable argument warns once per call and is not cached."""

    @checkpoint(on_error="warn")
    def describe_value(value):
        print("Running")
        return type(value).__name__

    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert describe_value(make()) == kind
        assert "describe_value" in single_warning(caught, CheckpointingWarning)
    assert capsys.readouterr().out == "Running\nRunning\n"
    assert stored_files(workdir) == []


@pytest.mark.parametrize(("make", "kind"), UNHASHABLE.values(), ids=UNHASHABLE)
def test_unhashable_argument_raises_with_cause(make: Callable[[], Any], kind: str) -> None:
    """With on_error="raise", an unhashable argument raises CheckpointFailure with a cause."""

    @checkpoint(on_error="raise")
    def describe_value(value):
        return type(value).__name__

    with pytest.raises(CheckpointFailure, match="describe_value") as info:
        describe_value(make())
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(("make", "kind"), UNHASHABLE.values(), ids=UNHASHABLE)
def test_unhashable_argument_ignored_silently(
    workdir: Path, capsys: pytest.CaptureFixture[str], make: Callable[[], Any], kind: str
) -> None:
    """With on_error="ignore", an unhashable argument runs uncached without a warning."""

    @checkpoint(on_error="ignore")
    def describe_value(value):
        print("Running")
        return type(value).__name__

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert describe_value(make()) == kind
        assert describe_value(make()) == kind
    assert caught == []
    assert capsys.readouterr().out == "Running\nRunning\n"
    assert stored_files(workdir) == []


@pytest.mark.parametrize("on_error", ["raise", "ignore"])
def test_default_on_error_is_honoured(
    monkeypatch: pytest.MonkeyPatch, on_error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``defaults["checkpoint.on_error"]`` applies to ``checkpoint()`` and bare ``@checkpoint``."""
    monkeypatch.setitem(defaults, "checkpoint.on_error", on_error)

    @checkpoint()
    def called(value):
        print("Running")
        return 1

    @checkpoint
    def bare(value):
        print("Running")
        return 2

    for function in (called, bare):
        if on_error == "raise":
            with pytest.raises(CheckpointFailure):
                function(LOCK)
        else:
            # Any warning would fail the test: pytest runs with filterwarnings = error.
            assert function(LOCK) == function(LOCK)
    assert capsys.readouterr().out == ("" if on_error == "raise" else "Running\n" * 4)


# --- Results that cannot be stored ---------------------------------------------------------


def test_unpicklable_result_warns_and_stores_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unpicklable result (a lambda) warns, is returned, and leaves no file behind."""

    @checkpoint()
    def make_callback(x):
        print("Running")
        return lambda: x

    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            callback = make_callback(7)
        assert callback() == 7
        assert "make_callback" in single_warning(caught, CheckpointingWarning)
    assert capsys.readouterr().out == "Running\nRunning\n"
    assert stored_files(workdir) == []


def test_unpicklable_lock_result_warns_and_stores_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unpicklable result (a lock) warns, the same object is returned, no file is left."""
    created: list[Any] = []

    @checkpoint()
    def make_lock():
        import threading

        print("Running")
        return threading.Lock()

    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            created.append(make_lock())
        assert "make_lock" in single_warning(caught, CheckpointingWarning)
    assert all(hasattr(lock, "acquire") for lock in created)
    assert created[0] is not created[1]
    assert capsys.readouterr().out == "Running\nRunning\n"
    assert stored_files(workdir) == []


def test_unpicklable_result_raises_with_cause(workdir: Path) -> None:
    """With on_error="raise", an unpicklable result raises CheckpointFailure with a cause."""

    @checkpoint(on_error="raise")
    def make_callback(x):
        return lambda: x

    with pytest.raises(CheckpointFailure, match="make_callback") as info:
        make_callback(7)
    assert info.value.__cause__ is not None
    assert stored_files(workdir) == []


# --- The user's own exceptions ----------------------------------------------------------


class Boom(Exception):
    """An exception of the user's program."""


@pytest.mark.parametrize("on_error", ["warn", "raise", "ignore"])
@pytest.mark.parametrize("error_type", [Boom, KeyError, CheckpointNotExist])
def test_user_exception_propagates_unchanged(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    on_error: str,
    error_type: type[Exception],
) -> None:
    """The function's own exception propagates as the same object and nothing is stored."""
    error = error_type("from the user's code")

    @checkpoint(on_error=on_error)
    def fail(x):
        print("Running")
        raise error

    for _ in range(2):
        with pytest.raises(error_type) as info:
            fail(1)
        assert info.value is error
        assert type(info.value) is error_type
    assert capsys.readouterr().out == "Running\nRunning\n"
    assert [p for p in stored_files(workdir) if p.suffix == ".pickle"] == []


# --- A corrupt entry ----------------------------------------------------------------------


def fresh_double() -> Callable[[int], int]:
    """Decorate the same code anew, as a new process would."""

    @checkpoint()
    def double(x):
        print("Running")
        return 2 * x

    return double


def test_corrupt_entry_is_a_miss_with_one_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A truncated entry warns once (CorruptEntryWarning), re-runs, then hits again."""
    assert fresh_double()(21) == 42
    [entry] = [p for p in stored_files(workdir) if p.suffix == ".pickle"]
    content = entry.read_bytes()
    entry.write_bytes(content[: len(content) // 2])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fresh_double()(21) == 42
    single_warning(caught, CorruptEntryWarning)

    assert fresh_double()(21) == 42
    assert capsys.readouterr().out == "Running\nRunning\n"
