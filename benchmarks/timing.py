"""How a sample is taken: loops of fast calls, single slow calls, whole processes.

A case prepares a :class:`Probe` (cache decorated, entry stored, loop calibrated) and the
runner then asks it for one sample at a time, alternating between the libraries' worker
processes, so a slow spell of the machine lands on both libraries instead of on whichever
happened to be measured during it.
"""

from __future__ import annotations

import gc
import itertools
import math
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Probe", "Samples", "loop_probe", "process_wall", "single_probe"]

# A loop never runs more calls than this per sample, whatever the calibration says.
_MAX_NUMBER = 1_000_000


class Probe:
    """A prepared measurement: :meth:`take` returns one sample, in seconds per call.

    ``number`` is how many calls each sample times; ``calls`` counts every call made so
    far, calibration included (a miss case checks it against the entries stored);
    ``on_finish`` runs after the last sample, to check the cache ended as expected and
    to return extra figures.
    """

    def __init__(self, take: Callable[[], float], number: int = 1, calls: int = 0) -> None:
        self._take = take
        self.number = number
        self.calls = calls
        self.on_finish: Callable[[], dict[str, float]] = dict

    def take(self) -> float:
        """Take one sample."""
        self.calls += self.number
        return self._take()

    def finish(self) -> dict[str, float]:
        """Check the final state; return figures to record beside the samples."""
        return self.on_finish()


def _loop(call: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        call()
    return time.perf_counter() - start


def loop_probe(call: Callable[[], object], min_sample_time: float) -> Probe:
    """Time ``call`` in loops of at least ``min_sample_time`` seconds.

    The loop length is calibrated first, by growing loops until one lasts long enough
    (one slow first call must not decide it); those calls are the warm-up. The garbage
    collector is off while timing, as in ``timeit``: a collection triggered by one
    library's allocations would otherwise land on whichever call happens to run.
    """
    number, calls = 1, 0
    while True:
        elapsed = _loop(call, number)
        calls += number
        if elapsed >= min_sample_time or number >= _MAX_NUMBER:
            break
        grow = min_sample_time / elapsed if elapsed > min_sample_time / 10 else 10.0
        number = min(_MAX_NUMBER, math.ceil(number * grow))

    def take() -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return _loop(call, number) / number
        finally:
            if enabled:
                gc.enable()

    return Probe(take, number, calls)


def single_probe(
    call: Callable[[int], object], before: Callable[[], object] | None = None
) -> Probe:
    """Time one call ``call(i)`` per sample (``i`` counts from 0), ``before`` untimed.

    For operations that change state (each stores a new entry) or that take long enough
    to be a sample on their own.
    """
    counter = itertools.count()

    def take() -> float:
        i = next(counter)
        if before is not None:
            before()
        start = time.perf_counter()
        call(i)
        return time.perf_counter() - start

    return Probe(take)


def process_wall(argv: Sequence[str], cwd: str | None = None) -> float:
    """Return the wall time of running ``argv`` to completion; fail if it fails."""
    start = time.perf_counter()
    run = subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {run.returncode}: {run.stderr.decode()}")
    return elapsed


@dataclass
class Samples:
    """Seconds per call, one value per sample; ``number`` calls were timed per sample.

    ``extra`` carries figures a case records beside its samples (how long populating a
    cache took, say), for the JSON output.
    """

    values: list[float]
    number: int = 1
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def median(self) -> float:
        """The figure reported: robust to the odd slow sample a busy machine produces."""
        return statistics.median(self.values)

    def to_dict(self) -> dict[str, Any]:
        """Return the samples as JSON-ready data."""
        return {
            "median": self.median,
            "values": self.values,
            "number": self.number,
            "extra": self.extra,
        }
