"""The issue's performance targets, judged against one run's figures.

A target compares two medians of the same run (ours and joblib's, ours and the floor,
one case and another), never an absolute time: absolute times drift between runs on a
shared machine, ratios much less. "Aims" are the issue's stretch goals, reported the
same way but not required.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.cases import size_label
from benchmarks.runner import Results

__all__ = ["Verdict", "evaluate", "format_seconds"]


@dataclass(frozen=True)
class Verdict:
    """One target: ``met`` is ``None`` when this run did not measure what it needs."""

    target: str
    met: bool | None
    figures: str
    aim: bool = False


def format_seconds(seconds: float) -> str:
    """Spell a duration with three significant digits and a fitting unit."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _ratio(
    target: str,
    ours: float | None,
    other: float | None,
    limit: float,
    names: tuple[str, str],
    aim: bool = False,
) -> Verdict:
    """Judge ``ours / other <= limit``."""
    if ours is None or other is None:
        return Verdict(target, None, "not measured in this run", aim)
    ratio = ours / other
    figures = f"{names[0]} {format_seconds(ours)}, {names[1]} {format_seconds(other)}: {ratio:.3g}x"
    return Verdict(target, ratio <= limit, figures, aim)


def evaluate(results: Results) -> list[Verdict]:
    """Judge every target of the issue from ``results``."""
    plan = results.plan

    def ours(case: str) -> float | None:
        return results.median(case, "checkpointing")

    def joblib(case: str) -> float | None:
        return results.median(case, "joblib")

    large = size_label(plan.array_large)
    verdicts = [
        _ratio(
            "small-argument hit: at most 0.25x joblib's time",
            ours("hit-2line"),
            joblib("hit-2line"),
            0.25,
            ("ours", "joblib"),
        ),
        _ratio(
            "small-argument hit: within 3x the raw small-file read",
            ours("hit-2line"),
            results.floor_median("small-read"),
            3.0,
            ("ours", "read"),
            aim=True,
        ),
        _ratio(
            "a 20-line function's hit costs what a 2-line one's does (within 1.2x)",
            ours("hit-20line"),
            ours("hit-2line"),
            1.2,
            ("20-line", "2-line"),
        ),
        _faster(
            f"{large} array argument: at least 10x faster than joblib",
            ours("hit-array-large"),
            joblib("hit-array-large"),
            10.0,
        ),
        _throughput(
            f"{large} array argument: hashed above 10 GB/s",
            ours("hit-array-large"),
            plan.array_large,
            10e9,
        ),
        _ratio(
            f"same read-only array not re-hashed: {large} hit within 2x of the "
            f"{size_label(plan.array_small)} hit",
            ours("hit-readonly-large"),
            ours("hit-readonly-small"),
            2.0,
            ("large", "small"),
        ),
        _ratio(
            f"store a {large} array result: no slower than joblib",
            ours("store-array"),
            joblib("store-array"),
            1.0,
            ("ours", "joblib"),
        ),
        _ratio(
            f"load a {large} array result: within 1.25x of joblib",
            ours("load-array"),
            joblib("load-array"),
            1.25,
            ("ours", "joblib"),
        ),
        _ratio(
            f"load a {large} array result: within 1.25x of np.load",
            ours("load-array"),
            results.floor_median("np-load-array"),
            1.25,
            ("ours", "np.load"),
        ),
        _ratio(
            f"{plan.entries_many:,} entries: hit within 1.2x of a {plan.entries_few}-entry cache",
            ours("entries-many"),
            ours("entries-few"),
            1.2,
            ("many", "few"),
        ),
        _ratio(
            "import checkpointing: at most 30 ms over a bare interpreter",
            ours("import-over-bare"),
            0.030,
            1.0,
            ("over bare", "limit"),
        ),
    ]
    return verdicts


def _faster(target: str, ours: float | None, joblib: float | None, factor: float) -> Verdict:
    """Judge ``joblib / ours >= factor``: ours is at least ``factor`` times faster."""
    if ours is None or joblib is None:
        return Verdict(target, None, "not measured in this run")
    speedup = joblib / ours
    figures = f"ours {format_seconds(ours)}, joblib {format_seconds(joblib)}: {speedup:.3g}x faster"
    return Verdict(target, speedup >= factor, figures)


def _throughput(target: str, seconds: float | None, size: int, limit: float) -> Verdict:
    """Judge ``size / seconds > limit`` (bytes per second)."""
    if seconds is None:
        return Verdict(target, None, "not measured in this run", aim=True)
    rate = size / seconds
    return Verdict(target, rate > limit, f"{rate / 1e9:.3g} GB/s", aim=True)
