"""The per-code memo: one build per code object, bounded by the functions alive."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable
from types import FunctionType

from checkpointing._code_table import CodeTable
from checkpointing._profile import _profiles, profile_of

_GLOBALS: dict[str, object] = {}


def make_function(body: str, name: str = "f") -> FunctionType:
    """Return a new function (with a new code object) defined by ``body``.

    Made from its code object alone, so nothing refers back to it: it dies as soon as
    the last reference goes, without waiting for the garbage collector.
    """
    module = compile(f"def {name}(x):\n    return {body}\n", "<test>", "exec")
    code = next(c for c in module.co_consts if hasattr(c, "co_code"))
    return FunctionType(code, _GLOBALS, name)


def marker(func: FunctionType) -> object:
    """What the tables below compute: the constant the function returns."""
    return func.__code__.co_consts[-1]


def counting(builds: list[object]) -> Callable[[FunctionType], object]:
    """Return a build function that records each build in ``builds``."""

    def build(func: FunctionType) -> object:
        builds.append(func)
        return marker(func)

    return build


def test_closures_sharing_code_are_built_once() -> None:
    """Functions made from one code object (closures in a loop) share one build."""
    builds: list[object] = []
    table: CodeTable[object] = CodeTable(counting(builds))

    def outer(n: int) -> FunctionType:
        def inner() -> int:
            return n + 1000

        return inner  # type: ignore[return-value]

    closures = [outer(i) for i in range(50)]
    assert {table.get(c) for c in closures} == {1000}
    assert len(builds) == 1


def test_dead_functions_release_their_code_objects() -> None:
    """Code of functions that died is let go: the table stays bounded."""
    table: CodeTable[object] = CodeTable(marker, keep=8)
    for i in range(300):
        table.get(make_function(str(i)))
    keeper = make_function("'alive'")
    table.get(keeper)
    assert len(table) <= 8 + 1


def test_an_id_is_never_matched_to_another_code_object() -> None:
    """Short-lived functions whose memory is reused always get their own code's value."""
    table: CodeTable[object] = CodeTable(marker, keep=2)
    for i in range(500):
        func = make_function(str(i))
        assert table.get(func) == i
        del func


def test_a_function_made_again_from_released_code_is_not_rebuilt() -> None:
    """A closure made per call finds its code's entry among the recently released."""
    builds: list[object] = []
    table: CodeTable[object] = CodeTable(counting(builds))

    def outer() -> FunctionType:
        def inner() -> str:
            return "value"

        return inner  # type: ignore[return-value]

    for _ in range(20):
        assert table.get(outer()) == "value"
    assert len(builds) == 1


def test_a_failing_build_leaves_nothing_behind() -> None:
    """When building raises, the next get builds again (no half-made entry)."""
    attempts: list[int] = []

    def build(func: FunctionType) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first build fails")
        return marker(func)

    table: CodeTable[object] = CodeTable(build)
    func = make_function("7")
    with contextlib.suppress(RuntimeError):
        table.get(func)
    assert table.get(func) == 7
    assert len(attempts) == 2


def test_threads_share_one_table() -> None:
    """Concurrent gets from several threads all see their own code's value."""
    table: CodeTable[object] = CodeTable(marker, keep=4)
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(200):
            value = offset * 1000 + i
            if table.get(make_function(str(value))) != value:
                errors.append(f"wrong value for {value}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_profiles_of_redefined_functions_are_not_all_kept() -> None:
    """Re-defining a function many times (a re-run notebook cell) keeps the profiles bounded."""
    gc.collect()
    before = len(_profiles)
    for i in range(400):
        profile_of(make_function(f"x + {i}", name="cell_function"))
    gc.collect()
    profile_of(make_function("x"))  # a build processes the deaths
    assert len(_profiles) <= before + 130


def test_library_state_plans_of_redefined_functions_are_not_all_kept() -> None:
    """Which library states a code object uses is memoised per code object, bounded too."""
    from checkpointing._profile import _state_plans, ambient_inputs

    gc.collect()
    before = len(_state_plans)
    for i in range(400):
        func = make_function(f"x + {i}", name="cell_function")
        ambient_inputs(func, profile_of(func))
    gc.collect()
    last = make_function("x")
    ambient_inputs(last, profile_of(last))  # a build processes the deaths
    assert len(_state_plans) <= before + 130


def test_other_per_code_memos_of_redefined_functions_are_bounded() -> None:
    """The explain texts and the ``__subclasses__`` check do not keep every code object."""
    from checkpointing import _subclasses
    from checkpointing._components import _texts, readable_code

    gc.collect()
    before = len(_texts)
    for i in range(5000):
        func = make_function(f"x + {i}", name="cell_function")
        readable_code(func)
        _subclasses.subclass_dependencies(func, ())
    gc.collect()
    last = make_function("x")
    readable_code(last)  # a build processes the deaths
    assert len(_texts) <= before + 130
    assert len(_subclasses._reads_subclasses_memo) <= _subclasses._MEMO_LIMIT
