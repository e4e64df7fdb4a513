"""A minimum run time: calls faster than it are not stored (decorator, setting, pickling)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checkpointing import PickleFileCache, checkpoint, defaults, events


def test_a_fast_call_is_not_stored_and_a_slow_one_is(tmp_path: Path) -> None:
    """With ``min_run_time=``, only calls that took at least that long are stored."""
    seen: list[str] = []

    @checkpoint(tmp_path, min_run_time=0.05)
    def wait(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    unsubscribe = events.subscribe(lambda e: seen.append(e.kind))
    try:
        wait(0), wait(0), wait(0.1), wait(0.1)
    finally:
        unsubscribe()
    assert seen == ["uncached", "uncached", "miss", "hit"]
    assert [info.arguments for info in PickleFileCache(tmp_path).entries()] == ["seconds=0.1"]


def test_the_setting_applies_to_functions_without_their_own(tmp_path: Path) -> None:
    """``defaults["checkpoint.min_run_time"]`` applies at each store, also to earlier functions."""
    seen: list[str] = []

    @checkpoint(tmp_path)
    def quick(x: int) -> int:
        return x

    unsubscribe = events.subscribe(lambda e: seen.append(e.kind))
    try:
        defaults["checkpoint.min_run_time"] = 10
        quick(1), quick(1)
        defaults["checkpoint.min_run_time"] = 0
        quick(1), quick(1)
    finally:
        unsubscribe()
        defaults.reset()
    assert seen == ["uncached", "uncached", "miss", "hit"]


def test_rerun_stores_however_fast(tmp_path: Path) -> None:
    """A forced re-run always replaces the entry, so no older result stays behind."""
    value = [1]

    @checkpoint(tmp_path)
    def current() -> int:
        return value[0]

    assert current() == 1
    value[0] = 2
    defaults["checkpoint.min_run_time"] = 10
    try:
        assert current.rerun() == 2
    finally:
        defaults.reset()
    assert current() == 2


@pytest.mark.parametrize("bad", [-1, "1s", True])
def test_a_bad_threshold_is_refused_with_its_name(tmp_path: Path, bad: object) -> None:
    """A negative or non-numeric threshold fails at decoration, naming the argument."""
    with pytest.raises((ValueError, TypeError), match="min_run_time"):
        checkpoint(tmp_path, min_run_time=bad)  # type: ignore[call-overload]
