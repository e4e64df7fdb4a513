"""What is measured for each library: one :class:`Case` per row of the table.

A case prepares a :class:`~benchmarks.timing.Probe` in a worker process of its own, with
a fresh cache directory, once per library and with the same code for both: only
``Library.decorate`` differs. Hit cases check at the end that the cache still holds one
entry, so a key that changes from call to call cannot pass for a fast hit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import subjects
from benchmarks.libraries import Library
from benchmarks.plan import MB, Plan
from benchmarks.timing import Probe, loop_probe, process_wall, single_probe

__all__ = ["CASES", "Case", "size_label"]

Prepare = Callable[[Library, Plan, str], Probe]


def _fast_repeats(plan: Plan) -> int:
    return plan.repeats


@dataclass(frozen=True)
class Case:
    """One measurement, taken for each library.

    ``floor`` names the :mod:`benchmarks.floor` measurement the case is compared with,
    ``also`` further floors worth showing beside it; ``payload`` gives the bytes it
    moves, for a throughput figure; ``big`` cases run only with ``--big`` (or when named
    with ``--only``).
    """

    name: str
    title: Callable[[Plan], str]
    prepare: Prepare
    repeats: Callable[[Plan], int] = _fast_repeats
    floor: str | None = None
    also: tuple[str, ...] = ()
    payload: Callable[[Plan], int] | None = None
    big: bool = False


def size_label(size: int) -> str:
    """Spell a byte count the way the table does: ``1 MB``, ``100 MB``, ``200 kB``."""
    if size >= 1000 * MB:
        return f"{size / (1000 * MB):g} GB"
    if size >= MB:
        return f"{size / MB:g} MB"
    return f"{size / 1000:g} kB"


def _fresh(workdir: str) -> str:
    return tempfile.mkdtemp(prefix="cache-", dir=workdir)


def _expect_entries(
    lib: Library, directory: str, expected: Callable[[], int]
) -> Callable[[], dict[str, float]]:
    """Return a finishing check that the cache holds ``expected()`` entries."""

    def check() -> dict[str, float]:
        found = lib.count_entries(directory)
        if found != expected():
            raise RuntimeError(
                f"{lib.name}: expected {expected()} cache entries, found {found}: "
                "calls that should share a key did not (or a store was lost)"
            )
        return {}

    return check


# -- hits and misses with small arguments ---------------------------------------------


def _hit(lib: Library, plan: Plan, workdir: str, func: Callable[..., Any], *args: Any) -> Probe:
    directory = _fresh(workdir)
    cached = lib.decorate(func, directory)
    cached(*args)  # the miss that stores the one entry every timed call hits
    probe = loop_probe(lambda: cached(*args), plan.min_sample_time)
    probe.on_finish = _expect_entries(lib, directory, lambda: 1)
    return probe


def _small_hit(func: Callable[..., Any]) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        return _hit(lib, plan, workdir, func, 1, 2)

    return prepare


def _small_miss(func: Callable[..., Any]) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        directory = _fresh(workdir)
        cached = lib.decorate(func, directory)
        cached(-1, 2)  # creates the directory (and joblib's func_code.py) untimed
        keys = iter(range(10**9))
        probe = loop_probe(lambda: cached(next(keys), 2), plan.min_sample_time)
        # The entry above, then one per call, calibration included.
        probe.on_finish = _expect_entries(lib, directory, lambda: 1 + probe.calls)
        return probe

    return prepare


# -- array and DataFrame arguments ------------------------------------------------------


def _array_hit(size: Callable[[Plan], int], read_only: bool) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        array = subjects.random_array(size(plan))
        if read_only:
            # Immutable memory (a bytes object): the only arrays whose digest is kept.
            array = subjects.immutable_copy(array)
        return _hit(lib, plan, workdir, subjects.first_value, array)

    return prepare


def _frame_hit(lib: Library, plan: Plan, workdir: str) -> Probe:
    frame = subjects.random_frame(plan.frame_argument_rows, with_strings=True)
    return _hit(lib, plan, workdir, subjects.frame_shape, frame)


# -- storing and loading big results ------------------------------------------------------


def _store(func: Callable[[int, int], Any], size: Callable[[Plan], int]) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        n = size(plan)
        func(n, 0)  # builds the result once, untimed: the timed misses only store it
        directory = _fresh(workdir)
        cached = lib.decorate(func, directory)
        cached(n, -1)  # a first store, untimed, as the warm-up
        # os.sync first, so no store pays for writing back an earlier one's pages.
        probe = single_probe(lambda i: cached(n, i), before=os.sync)
        probe.on_finish = _expect_entries(lib, directory, lambda: 1 + probe.calls)
        return probe

    return prepare


def _load(func: Callable[[int, int], Any], size: Callable[[Plan], int]) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        n = size(plan)
        directory = _fresh(workdir)
        cached = lib.decorate(func, directory)
        cached(n, 0)  # stores the entry; its pages stay in the page cache (warm)
        os.sync()  # written back now, not during the timed loads
        probe = loop_probe(lambda: cached(n, 0), plan.min_sample_time)
        probe.on_finish = _expect_entries(lib, directory, lambda: 1)
        return probe

    return prepare


# -- many entries ----------------------------------------------------------------------------


def _entries(count: Callable[[Plan], int]) -> Prepare:
    def prepare(lib: Library, plan: Plan, workdir: str) -> Probe:
        directory = _fresh(workdir)
        cached = lib.decorate(subjects.add, directory)
        cached(1, 2)
        n = count(plan)
        start = time.perf_counter()
        lib.populate(directory, n)
        populate_seconds = time.perf_counter() - start
        os.sync()
        probe = loop_probe(lambda: cached(1, 2), plan.min_sample_time)
        check = _expect_entries(lib, directory, lambda: n)
        probe.on_finish = lambda: {**check(), "populate_seconds": populate_seconds}
        return probe

    return prepare


# -- whole processes ------------------------------------------------------------------------

_SCRIPTS = {
    "checkpointing": """\
from checkpointing import checkpoint


@checkpoint({directory!r})
def add(a, b):
    return a + b


add(1, 2)
""",
    "joblib": """\
from joblib import Memory

memory = Memory({directory!r}, verbose=0)


@memory.cache
def add(a, b):
    return a + b


add(1, 2)
""",
}
_MODULES = {"checkpointing": "checkpointing", "joblib": "joblib"}
_BARE = [sys.executable, "-c", "pass"]


def _second_process(lib: Library, plan: Plan, workdir: str) -> Probe:
    directory = _fresh(workdir)
    script = os.path.join(workdir, "script.py")
    with open(script, "w") as file:
        file.write(_SCRIPTS[lib.name].format(directory=directory))
    process_wall([sys.executable, script], cwd=workdir)  # the first run stores the entry
    probe = Probe(lambda: process_wall([sys.executable, script], cwd=workdir))
    probe.on_finish = _expect_entries(lib, directory, lambda: 1)
    return probe


def _import(lib: Library, plan: Plan, workdir: str) -> Probe:
    argv = [sys.executable, "-c", f"import {_MODULES[lib.name]}"]
    process_wall(argv)  # warm the file system cache for the package's files
    return Probe(lambda: process_wall(argv))


def _import_over_bare(lib: Library, plan: Plan, workdir: str) -> Probe:
    """Time a bare and an importing process back to back; a sample is the difference.

    Back to back keeps a drift of the machine's speed out of the difference.
    """
    argv = [sys.executable, "-c", f"import {_MODULES[lib.name]}"]
    process_wall(argv)
    return Probe(lambda: process_wall(argv) - process_wall(_BARE))


def _import_time(lib: Library, plan: Plan, workdir: str) -> Probe:
    module = _MODULES[lib.name]

    def cumulative() -> float:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in run.stderr.splitlines():
            fields = line.split("|")
            # The package's own line is the one not indented under another import.
            if len(fields) == 3 and fields[2].strip() == module and fields[2][1] != " ":
                return int(fields[1]) / 1e6
        raise RuntimeError(f"-X importtime printed no line for {module}:\n{run.stderr}")

    cumulative()  # warm the file system cache for the package's files
    return Probe(cumulative)


# -- the registry -----------------------------------------------------------------------------


def _small(p: Plan) -> int:
    return p.array_small


def _large(p: Plan) -> int:
    return p.array_large


def _huge(p: Plan) -> int:
    return p.array_huge


def _big_repeats(p: Plan) -> int:
    return p.big_repeats


def _huge_repeats(p: Plan) -> int:
    return p.huge_repeats


def _process_repeats(p: Plan) -> int:
    return p.process_repeats


def _result_frame_bytes(p: Plan) -> int:
    return 33 * p.frame_result_rows  # see subjects.random_frame


CASES: dict[str, Case] = {
    case.name: case
    for case in [
        Case(
            "hit-2line",
            lambda p: "hit, `f(1, 2)`, 2-line function",
            _small_hit(subjects.add),
            floor="small-read",
        ),
        Case(
            "hit-20line",
            lambda p: "hit, `f(1, 2)`, 20-line function",
            _small_hit(subjects.describe),
            floor="small-read",
        ),
        Case(
            "miss-2line",
            lambda p: "miss + store, `f(i, 2)`, 2-line function",
            _small_miss(subjects.add),
            floor="small-write",
        ),
        Case(
            "miss-20line",
            lambda p: "miss + store, `f(i, 2)`, 20-line function",
            _small_miss(subjects.describe),
            floor="small-write",
        ),
        Case(
            "hit-array-small",
            lambda p: f"hit, {size_label(p.array_small)} array argument",
            _array_hit(_small, read_only=False),
            floor="xxh3-array-small",
            payload=_small,
        ),
        Case(
            "hit-array-large",
            lambda p: f"hit, {size_label(p.array_large)} array argument",
            _array_hit(_large, read_only=False),
            floor="xxh3-array-large",
            payload=_large,
            repeats=_big_repeats,
        ),
        Case(
            "hit-array-huge",
            lambda p: f"hit, {size_label(p.array_huge)} array argument",
            _array_hit(_huge, read_only=False),
            floor="xxh3-array-huge",
            payload=_huge,
            big=True,
            repeats=_huge_repeats,
        ),
        Case(
            "hit-readonly-small",
            lambda p: f"hit, same read-only {size_label(p.array_small)} array again",
            _array_hit(_small, read_only=True),
            floor="xxh3-array-small",
        ),
        Case(
            "hit-readonly-large",
            lambda p: f"hit, same read-only {size_label(p.array_large)} array again",
            _array_hit(_large, read_only=True),
            floor="xxh3-array-large",
            repeats=_big_repeats,
        ),
        Case(
            "hit-frame",
            lambda p: f"hit, DataFrame argument ({p.frame_argument_rows:,} rows, 6 columns)",
            _frame_hit,
            floor="xxh3-frame",
            repeats=_big_repeats,
        ),
        Case(
            "store-array",
            lambda p: f"store a {size_label(p.array_large)} array result",
            _store(subjects.array_result, _large),
            floor="np-save-array",
            also=("np-save-fsync-array",),
            payload=_large,
            repeats=_big_repeats,
        ),
        Case(
            "load-array",
            lambda p: f"load a {size_label(p.array_large)} array result (hit)",
            _load(subjects.array_result, _large),
            floor="np-load-array",
            payload=_large,
            repeats=_big_repeats,
        ),
        Case(
            "store-frame",
            lambda p: f"store a {p.frame_result_rows:,}-row DataFrame result",
            _store(subjects.frame_result, lambda p: p.frame_result_rows),
            floor="np-save-frame",
            payload=_result_frame_bytes,
            repeats=_big_repeats,
        ),
        Case(
            "load-frame",
            lambda p: f"load a {p.frame_result_rows:,}-row DataFrame result (hit)",
            _load(subjects.frame_result, lambda p: p.frame_result_rows),
            floor="np-load-frame",
            payload=_result_frame_bytes,
            repeats=_big_repeats,
        ),
        Case(
            "entries-few",
            lambda p: f"hit, cache of {p.entries_few:,} entries",
            _entries(lambda p: p.entries_few),
            floor="small-read",
        ),
        Case(
            "entries-many",
            lambda p: f"hit, cache of {p.entries_many:,} entries",
            _entries(lambda p: p.entries_many),
            floor="small-read",
        ),
        Case(
            "second-process",
            lambda p: "second process: import + decorate + hit (wall)",
            _second_process,
            floor="bare-python",
            repeats=_process_repeats,
        ),
        Case(
            "import",
            lambda p: "`import` the library (whole process, wall)",
            _import,
            floor="bare-python",
            repeats=_process_repeats,
        ),
        Case(
            "import-over-bare",
            lambda p: "`import` the library, over a bare interpreter",
            _import_over_bare,
            repeats=_process_repeats,
        ),
        Case(
            "import-importtime",
            lambda p: "`import` the library, `-X importtime` total",
            _import_time,
            repeats=_process_repeats,
        ),
    ]
}
