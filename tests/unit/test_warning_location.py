"""Warnings of the caching machinery point at the user's line, whatever failed inside."""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

import pytest

from checkpointing import CacheBase, CheckpointingWarning, CheckpointNotExist, checkpoint


class UnreadableCache(CacheBase):
    """A cache whose reads fail after the first store (a broken disk, say)."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}

    def save(self, context_id: Any, result: Any) -> None:
        self.data[context_id] = result

    def retrieve(self, context_id: Any) -> Any:
        if context_id in self.data:
            raise OSError("the disk is gone")
        raise CheckpointNotExist(context_id)


def caught(call: Any) -> tuple[str, int]:
    """Run ``call``, return the file and line of the one CheckpointingWarning it caused."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    mine = [w for w in record if issubclass(w.category, CheckpointingWarning)]
    assert len(mine) == 1, [str(w.message) for w in record]
    return mine[0].filename, mine[0].lineno


def line_of(marker: str) -> int:
    """Return the line of this file that contains ``marker``."""
    with open(__file__, encoding="utf-8") as file:
        for number, text in enumerate(file, start=1):
            if marker in text and "line_of(" not in text:
                return number
    raise AssertionError(marker)


def test_unhashable_argument_warns_at_the_call() -> None:
    """An argument that cannot be hashed: the warning names the caller's line."""

    @checkpoint(on_error="warn", cache=UnreadableCache())
    def f(x: Any) -> int:
        return 1

    filename, line = caught(lambda: f(threading.Lock()))  # CALL-UNHASHABLE
    assert (filename, line) == (__file__, line_of("# CALL-UNHASHABLE"))


def test_unpicklable_result_warns_at_the_call(tmp_path: Any) -> None:
    """A result that cannot be stored: the warning names the caller's line too."""

    @checkpoint(tmp_path, on_error="warn")
    def g() -> Any:
        return threading.Lock()

    filename, line = caught(lambda: g())  # CALL-UNPICKLABLE
    assert (filename, line) == (__file__, line_of("# CALL-UNPICKLABLE"))


def test_unreadable_cache_warns_at_the_call_through_a_helper() -> None:
    """A read failure, two user frames deep: the innermost user line is named."""

    @checkpoint(on_error="warn", cache=UnreadableCache())
    def h() -> int:
        return 2

    def helper() -> int:
        return h()  # CALL-HELPER

    h()
    filename, line = caught(helper)
    assert (filename, line) == (__file__, line_of("# CALL-HELPER"))


def test_rerun_and_async_calls_warn_at_the_call(tmp_path: Any) -> None:
    """``.rerun`` and awaited calls name the user's line as plain calls do."""

    @checkpoint(tmp_path, on_error="warn")
    def g() -> Any:
        return threading.Lock()

    @checkpoint(tmp_path, on_error="warn")
    async def a() -> Any:
        return threading.Lock()

    async def main() -> None:
        await a()  # CALL-ASYNC

    rerun_at = caught(lambda: g.rerun())  # CALL-RERUN
    assert rerun_at == (__file__, line_of("# CALL-RERUN"))
    assert caught(lambda: asyncio.run(main())) == (__file__, line_of("# CALL-ASYNC"))


@pytest.mark.parametrize("depth", [1, 3])
def test_nested_checkpointed_calls_warn_at_the_inner_user_line(tmp_path: Any, depth: int) -> None:
    """A checkpointed function calling another: the inner call's line is named."""

    @checkpoint(tmp_path, on_error="warn")
    def inner() -> Any:
        return threading.Lock()

    @checkpoint(tmp_path, on_error="ignore")
    def outer(n: int) -> int:
        if n > 1:
            return outer(n - 1)
        inner()  # CALL-INNER
        return 0

    assert caught(lambda: outer(depth)) == (__file__, line_of("# CALL-INNER"))


def test_corrupt_entry_warning_names_the_call(tmp_path: Any) -> None:
    """A damaged entry found during a decorated call: the warning names the caller's line."""

    @checkpoint(tmp_path)
    def k(x: int) -> int:
        return x * 3

    k(1)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.stat().st_size > 40 and "usage" not in str(path):
            data = bytearray(path.read_bytes())
            data[-5] ^= 0xFF  # flip bits in the payload: its digest no longer matches
            path.write_bytes(bytes(data))
    filename, line = caught(lambda: k(1))  # CALL-CORRUPT
    assert (filename, line) == (__file__, line_of("# CALL-CORRUPT"))
