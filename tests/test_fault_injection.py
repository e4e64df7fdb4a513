"""The fault-injection suite: zero wrong results under crashes, races, damage and planted files.

Each test runs one scenario of ``tests/faults.py`` with bounded counts, prints its figures
(trials, wrong results, misses, leftovers) and requires that no wrong result was ever
served and nothing was left behind. ``python -m tests.faults`` prints the same figures
for whatever version of the library is on the path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faults


def check(figures: faults.Figures) -> None:
    """Print the figures and require zero wrong results, errors and leftovers."""
    print(figures.line())
    assert figures.trials > 0, figures
    assert figures.wrong == 0, figures.line()
    assert figures.errors == 0, figures.line()
    assert figures.leftovers == 0, figures.line()


@pytest.mark.slow
def test_sigkill_during_saves_of_large_results(tmp_path: Path) -> None:
    """Writers killed mid-save never leave a partial entry, and their temp files are reclaimed."""
    check(faults.sigkill_during_saves(tmp_path / "cache", trials=6))


@pytest.mark.slow
def test_racing_processes(tmp_path: Path) -> None:
    """Processes reading and rewriting shared keys only ever read whole, right values."""
    check(faults.racing_processes(tmp_path / "cache", processes=4, rounds=40))


def test_single_bit_flips_in_every_part(tmp_path: Path) -> None:
    """A flipped bit anywhere in an entry (header, metadata, stream, buffers) is never served."""
    figures = faults.bit_flips(tmp_path / "cache", trials_per_value=60)
    check(figures)
    assert figures.misses >= figures.trials * 0.95  # detected, not just harmless


def test_zeroed_blocks(tmp_path: Path) -> None:
    """A zeroed 4 KB block anywhere in an entry is detected and never served."""
    figures = faults.zeroed_blocks(tmp_path / "cache", trials_per_value=20)
    check(figures)
    assert figures.misses == figures.trials


def test_swapped_entries(tmp_path: Path) -> None:
    """An entry copied over another id's file is a miss for that id, not its result."""
    figures = faults.swapped_entries(tmp_path / "cache")
    check(figures)
    assert figures.misses == figures.trials


def test_planted_pickles_run_nothing_when_listed_or_signed(tmp_path: Path) -> None:
    """Planted code never runs while listing or clearing, nor when a signed cache loads it."""
    figures = faults.planted_pickles(tmp_path / "cache", trials=3)
    check(figures)
    assert "code runs on load by a signed cache: 0" in figures.notes


def test_fifo_at_an_entry_name(tmp_path: Path) -> None:
    """A FIFO named like an entry blocks nothing and is left in place."""
    check(faults.fifo_at_entry_name(tmp_path / "cache", trials=1))


def test_foreign_files_are_never_touched(tmp_path: Path) -> None:
    """A folder of user files (a pickle, a symlink, a file starting like an entry) stays intact."""
    figures = faults.foreign_files(tmp_path / "cache")
    check(figures)


def test_full_file_system(tmp_path: Path) -> None:
    """On a full tmpfs, failed saves leave no partial entry or temp file; old entries hit."""
    figures = faults.full_file_system(tmp_path / "cache")
    if figures.trials == 0:
        pytest.skip("; ".join(figures.notes))  # mounting a tmpfs needs privileges
    check(figures)
    assert figures.misses > 0  # the file system did fill up
