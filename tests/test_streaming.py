"""Large results stream to and from their file: little memory beyond the result, same checks.

The memory figures come from ``tests/memory_probe.py``, run in a fresh process each so that
nothing else allocates while tracemalloc watches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from checkpointing import PickleFileCache
from checkpointing.exceptions import (
    CheckpointNotExist,
    CorruptEntryWarning,
    ResultNotPicklableError,
)

ROOT = Path(__file__).resolve().parents[1]


def probe(case: str, directory: Path) -> dict[str, float]:
    """Run the memory probe for ``case``; return its figures as ratios of the pickled size."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "tests.memory_probe", case, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout)
    pickled = figures["pickled"]
    ratios = {name: value / pickled for name, value in figures.items() if name != "pickled"}
    print(f"{case}: pickled {pickled / 1e6:.1f} MB, " + ", ".join(
        f"{name} {value:.3f}x" for name, value in ratios.items()
    ))  # fmt: skip
    return ratios


@pytest.mark.parametrize("case", ["bytes-list", "big-bytes", "array"])
def test_store_and_load_cost_little_beyond_the_result(case: str, tmp_path: Path) -> None:
    """Storing and loading large byte strings, bytes or an array peak at most 1.1x beyond them."""
    ratios = probe(case, tmp_path / "cache")
    assert ratios["store_beyond"] <= 1.1
    assert ratios["load_beyond"] <= 1.1


def test_many_short_strings_load_within_their_pickled_size(tmp_path: Path) -> None:
    """A million short strings load within 1.1x their pickled size beyond the result."""
    # Storing them costs pickle's own memo of a million objects on top (reported, not bounded).
    ratios = probe("short-strings", tmp_path / "cache")
    assert ratios["load_beyond"] <= 1.1


class Planted:
    """An object whose unpickling creates a directory: a stand-in for arbitrary code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (self.marker,)


def long_result(marker: Path) -> list[Any]:
    """Return a result whose pickle stream is far longer than the first read of a hit."""
    return [Planted(str(marker)), *(f"word {i}" for i in range(100_000))]


@pytest.mark.parametrize("secret", [None, "team secret"])
def test_damaged_long_stream_runs_none_of_its_pickle(tmp_path: Path, secret: str | None) -> None:
    """A flipped byte at the end of a long pickle stream is caught before any of it is unpickled."""
    cache = PickleFileCache(tmp_path / "cache", secret=secret)
    marker = tmp_path / "ran"
    cache.save("long", long_result(marker))
    path = tmp_path / "cache" / "long.pickle"
    data = bytearray(path.read_bytes())
    position = data.rindex(b"word 99999") + 3
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    with (
        pytest.warns(CorruptEntryWarning, match="damaged") as record,
        pytest.raises(CheckpointNotExist),
    ):
        cache.retrieve("long")
    assert len(record) == 1
    assert not marker.exists()
    assert len(cache.quarantined()) == 1


@pytest.mark.parametrize("mode", [0o600, 0o666], ids=["private", "group-writable"])
def test_signed_long_stream_round_trips(tmp_path: Path, mode: int) -> None:
    """A signed cache loads its long entries, also from files other users could rewrite."""
    cache = PickleFileCache(tmp_path, secret="team secret")
    value = [f"word {i}" for i in range(100_000)]
    cache.save("long", value)
    os.chmod(tmp_path / "long.pickle", mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.retrieve("long") == value


def test_unpicklable_part_late_in_a_long_result(tmp_path: Path) -> None:
    """A result that fails to pickle after megabytes were streamed leaves the old entry alone."""
    cache = PickleFileCache(tmp_path)
    cache.save("keep", "previous")
    with pytest.raises(ResultNotPicklableError, match="lock"):
        cache.save("keep", {"text": "x" * 3_000_000, "lock": threading.Lock()})
    assert cache.retrieve("keep") == "previous"
    temps = tmp_path / ".tmp"
    assert not temps.exists() or os.listdir(temps) == []
    assert [p.name for p in tmp_path.glob("*.pickle")] == ["keep.pickle"]


def test_long_results_of_every_shape_round_trip(tmp_path: Path) -> None:
    """Long strings, long byte strings and many small objects come back equal."""
    cache = PickleFileCache(tmp_path)
    values = {
        "string": "é" * 3_000_000,
        "bytes": os.urandom(5_000_000),
        "bytearray": bytearray(os.urandom(2_000_000)),
        "objects": [{"n": i, "s": str(i)} for i in range(50_000)],
        "nested": [[b"x" * 100_000] * 30, ("t", 1.5)],
    }
    for name, value in values.items():
        cache.save(name, value)
    for name, value in values.items():
        assert cache.retrieve(name) == value, name
