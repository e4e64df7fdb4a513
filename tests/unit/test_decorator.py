"""Unit tests of the decorator API, in-process, with a real file cache in tmp_path."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import checkpointing
from checkpointing import (
    AutoFuncCallIdentifier,
    CheckpointFailure,
    CheckpointingWarning,
    DecoratorCheckpoint,
    FuncCallContext,
    FuncCallIdentifierBase,
    MemoryCache,
    PickleFileCache,
    checkpoint,
    defaults,
)
from checkpointing.events import CheckpointEvent, subscribe


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in its own working directory with pristine defaults."""
    monkeypatch.chdir(tmp_path)
    defaults.reset()
    yield
    defaults.reset()


def ran(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Return the words the function bodies printed since the last look.

    Bodies report runs by printing: a list they appended to would be a free name whose
    changing value (correctly) changes the key.
    """
    return capsys.readouterr().out.split()


def test_bare_and_called_decorator_share_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``@checkpoint`` and ``@checkpoint()`` give the same key for the same function."""

    def body(x: int) -> int:
        print("run", x)
        return x * 2

    bare = checkpoint(body)
    called = checkpoint()(body)
    assert bare(3) == 6
    assert called(3) == 6
    assert ran(capsys) == ["run", "3"]
    assert len(list((tmp_path / ".checkpointing").glob("*.pickle"))) == 1


def test_rerun_runs_and_overwrites(tmp_path: Path) -> None:
    """``.rerun`` runs the body even on a hit and its result is what later hits return.

    The function reads a file, which the key does not track: the case ``.rerun`` is for.
    """
    source = tmp_path / "value.txt"
    source.write_text("1")

    @checkpoint
    def read(name: str) -> str:
        return Path(name).read_text()

    assert read("value.txt") == "1"
    source.write_text("2")
    assert read("value.txt") == "1"  # stale by design: file contents are not tracked
    assert read.rerun("value.txt") == "2"
    assert read("value.txt") == "2"


def test_async_function_result_is_awaited_and_cached(capsys: pytest.CaptureFixture[str]) -> None:
    """An async function's awaited value is stored; a hit returns it without running."""

    @checkpoint
    async def fetch(x: int) -> int:
        print("run")
        await asyncio.sleep(0)
        return x + 1

    assert asyncio.run(fetch(1)) == 2
    assert asyncio.run(fetch(1)) == 2
    assert asyncio.run(fetch.rerun(1)) == 2
    assert ran(capsys) == ["run", "run"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_generator_functions_are_refused_at_decoration(kind: str) -> None:
    """Generator functions raise TypeError naming the function when decorated."""
    if kind == "sync":

        def gen() -> Any:
            yield 1

    else:

        async def gen() -> Any:
            yield 1

    with pytest.raises(TypeError, match=r"generator function .*gen"):
        checkpoint(gen)


def test_non_functions_are_refused() -> None:
    """Decorating a builtin or a class raises TypeError saying what was given."""
    with pytest.raises(TypeError, match="Python functions only"):
        checkpoint()(len)


def test_user_exception_propagates_unchanged_and_nothing_is_stored(tmp_path: Path) -> None:
    """The function's own exception reaches the caller as the same object; no entry."""
    error = KeyError("mine")
    calls: list[int] = []

    @checkpoint
    def fail(x: int) -> int:
        calls.append(x)
        raise error

    for _ in range(2):
        with pytest.raises(KeyError) as caught:
            fail(1)
        assert caught.value is error
    assert calls == [1, 1]
    assert not list((tmp_path / ".checkpointing").glob("*.pickle"))


def test_wrong_call_raises_the_functions_own_type_error() -> None:
    """A call with bad arguments raises Python's TypeError, not a checkpointing error."""

    @checkpoint
    def one(x: int) -> int:
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            one(y=1)  # type: ignore[call-arg]


def test_on_error_policies_for_an_unhashable_argument() -> None:
    """warn: one warning naming function and cause; raise: CheckpointFailure; ignore: silent."""
    import threading

    lock = threading.Lock()

    def body(lk: object) -> str:
        return "ran"

    warned = checkpoint(on_error="warn")(body)
    with pytest.warns(CheckpointingWarning, match=r"body.*argument 'lk'.*lock") as record:
        assert warned(lock) == "ran"
    assert len(record) == 1

    raising = checkpoint(on_error="raise")(body)
    with pytest.raises(CheckpointFailure) as failure:
        raising(lock)
    assert failure.value.__cause__ is not None

    quiet = checkpoint(on_error="ignore")(body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quiet(lock) == "ran"


def test_defaults_on_error_is_honoured_by_checkpoint() -> None:
    """``defaults["checkpoint.on_error"] = "raise"`` applies to ``checkpoint()``."""
    defaults["checkpoint.on_error"] = "raise"

    @checkpoint()
    def body(x: object) -> int:
        return 1

    with pytest.raises(CheckpointFailure, match="body"):
        body(x for x in [1, 2])


def test_bad_settings_are_refused_with_clear_messages() -> None:
    """Unknown on_error, unknown setting keys and non-identifier objects are named."""
    with pytest.raises(ValueError, match="on_error"):
        checkpoint(on_error="loud")
    with pytest.raises(KeyError, match=r"no\.such"):
        defaults["no.such"] = 1
    with pytest.raises(ValueError, match="on_error"):
        defaults["checkpoint.on_error"] = "sometimes"
    with pytest.raises(TypeError, match="identifier"):
        DecoratorCheckpoint(object(), MemoryCache())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cache"):
        DecoratorCheckpoint(AutoFuncCallIdentifier(), object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        checkpoint(directory="x", cache=MemoryCache())


def test_explicit_cache_argument_is_used() -> None:
    """``checkpoint(cache=...)`` stores results in the given cache."""
    cache = MemoryCache()

    @checkpoint(cache=cache)
    def double(x: int) -> int:
        return 2 * x

    assert double(4) == 8
    [entry] = cache.entries()
    assert entry.function.endswith("double")
    assert "x=4" in entry.arguments
    assert entry.run_time >= 0


def test_one_decorator_instance_keeps_each_functions_scope() -> None:
    """A shared DecoratorCheckpoint gives each function its own globals and key."""
    shared = DecoratorCheckpoint(AutoFuncCallIdentifier(), MemoryCache())

    def first() -> str:
        return "first"

    def second() -> str:
        return "second"

    assert shared(first)() == "first"
    assert shared(second)() == "second"


def test_closure_values_are_part_of_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    """A function decorated inside a function re-runs when its closure value changes."""
    cache = MemoryCache()

    def make(factor: int) -> Any:
        @checkpoint(cache=cache)
        def scale(x: int) -> int:
            print("run", factor)
            return x * factor

        return scale

    assert make(2)(5) == 10
    assert make(2)(5) == 10
    assert make(3)(5) == 15
    assert ran(capsys) == ["run", "2", "run", "3"]


def test_a_mutated_closure_value_is_a_different_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A list the function reads from its closure, changed in place, gives a re-run."""
    seen: list[int] = []

    @checkpoint(cache=MemoryCache())
    def count(x: int) -> int:
        print("run")
        return len(seen) + x

    assert count(1) == 1
    assert count(1) == 1
    seen.append(0)
    assert count(1) == 2
    assert ran(capsys) == ["run", "run"]


def test_events_report_hits_misses_and_reruns() -> None:
    """Listeners receive one event per call with kind, function and timing."""
    events: list[CheckpointEvent] = []
    unsubscribe = subscribe(events.append)
    try:

        @checkpoint(cache=MemoryCache())
        def square(x: int) -> int:
            return x * x

        square(2)
        square(2)
        square.rerun(2)
    finally:
        unsubscribe()
    square(2)
    assert [e.kind for e in events] == ["miss", "hit", "rerun"]
    assert all(e.function.endswith("square") for e in events)
    assert events[1].run_time is not None
    assert events[1].elapsed >= 0


class _ArgumentsIdentifier(FuncCallIdentifierBase):
    def __init__(self) -> None:
        self.seen: list[FuncCallContext] = []

    def identify(self, context: FuncCallContext) -> str:
        self.seen.append(context)
        return "fixed"


LIMIT = 10


def test_call_context_describes_the_call() -> None:
    """FuncCallContext exposes bound arguments, names, source and free-name lookup."""
    identifier = _ArgumentsIdentifier()

    @DecoratorCheckpoint(identifier, MemoryCache())
    def clip(value: int, *rest: int, scale: int = 2, **options: Any) -> int:
        return min(value * scale, LIMIT)

    clip(3, 4, 5, flag=True)
    [context] = identifier.seen
    assert context.arguments == {"value": 3, "rest": (4, 5), "scale": 2, "options": {"flag": True}}
    assert context.name == "clip"
    assert context.qualified_name.endswith("<locals>.clip")
    assert context.module == __name__
    assert context.full_name == f"{__name__}.{context.qualified_name}"
    assert context.code is not None
    assert "min(value * scale, LIMIT)" in context.code
    assert context.free_names == ("min", "LIMIT")
    assert context.lookup("LIMIT") == 10
    assert context.lookup("min") is min
    with pytest.raises(NameError):
        context.lookup("no_such_name")


def test_identifier_rejects_bad_settings() -> None:
    """AutoFuncCallIdentifier names a bad algorithm or pickle protocol."""
    with pytest.raises(ValueError, match="md55"):
        AutoFuncCallIdentifier(algorithm="md55")
    with pytest.raises(ValueError, match="pickle_protocol"):
        AutoFuncCallIdentifier(pickle_protocol=99)


def test_public_names_are_exported() -> None:
    """The names the seed documents import exist at the top level."""
    for name in ("PickleFileCache", "CacheBase", "CheckpointNotExist", "FuncCallContext"):
        assert name in checkpointing.__all__
    assert isinstance(PickleFileCache(), checkpointing.CacheBase)
