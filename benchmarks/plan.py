"""Sizes and repeat counts: one :class:`Plan` per kind of run (full, big, smoke)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["MB", "Plan"]

MB = 1_000_000  # decimal, like the GB/s figures derived from it


@dataclass(frozen=True)
class Plan:
    """What one run measures: payload sizes, how many samples, how long each lasts.

    Fast operations are timed as loops of calls lasting at least ``min_sample_time``
    seconds each (as ``timeit`` does), slow ones one call per sample; every figure is the
    median of its samples.
    """

    name: str
    repeats: int  # samples of operations that take microseconds
    big_repeats: int  # samples of operations on 100 MB payloads
    huge_repeats: int  # samples of operations on the 1 GB payload
    process_repeats: int  # samples of whole-process wall times
    min_sample_time: float
    worker_timeout: float  # seconds one worker process may take before it counts as hung
    array_small: int  # bytes
    array_large: int
    array_huge: int
    frame_argument_rows: int
    frame_result_rows: int
    entries_few: int
    entries_many: int

    @classmethod
    def full(cls) -> Plan:
        """Return the plan of ``make bench``: the sizes the issue's targets name."""
        return cls(
            name="full",
            repeats=31,
            big_repeats=9,
            huge_repeats=5,
            process_repeats=21,
            min_sample_time=0.02,
            worker_timeout=1800,
            array_small=1 * MB,
            array_large=100 * MB,
            array_huge=1000 * MB,
            frame_argument_rows=1_000_000,
            frame_result_rows=10_000_000,
            entries_few=10,
            entries_many=100_000,
        )

    @classmethod
    def smoke(cls) -> Plan:
        """Return a plan that only proves every case still runs (CI): tiny, few samples."""
        return cls(
            name="smoke",
            repeats=3,
            big_repeats=2,
            huge_repeats=2,
            process_repeats=2,
            min_sample_time=0.002,
            worker_timeout=120,
            array_small=10_000,
            array_large=200_000,
            array_huge=400_000,
            frame_argument_rows=1_000,
            frame_result_rows=2_000,
            entries_few=10,
            entries_many=200,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data, to send to a worker and record in results."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Rebuild a plan sent by :meth:`to_dict`."""
        return cls(**data)
