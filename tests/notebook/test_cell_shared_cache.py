"""``%%checkpoint`` on a shared cache: named by URL, or by the CHECKPOINTING_CACHE variable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checkpointing import open_cache


def test_cell_cached_in_redis_by_url(
    shell: Any, run_cell: Callable[[Any, str], Any], redis_cache_url: str, tmp_path: Any
) -> None:
    """``%%checkpoint --cache redis://...`` stores the cell there and replays it from there."""
    log = tmp_path / "runs"
    run_cell(shell, "base = 3")
    cell = (
        f"%%checkpoint --cache {redis_cache_url}\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write('ran\\n')\ndel f\n"
        "y = base * 10"
    )
    run_cell(shell, cell)
    run_cell(shell, "y = None")
    run_cell(shell, cell)
    assert log.read_text() == "ran\n"
    assert run_cell(shell, "y") == 30
    assert len(open_cache(redis_cache_url).entries()) == 1


def test_cell_uses_environment_cache(
    shell: Any,
    run_cell: Callable[[Any, str], Any],
    s3_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """With CHECKPOINTING_CACHE set, a cell naming no cache is stored in that cache."""
    monkeypatch.setenv("CHECKPOINTING_CACHE", s3_url)
    run_cell(shell, "%%checkpoint\nz = sum(range(10))")
    assert run_cell(shell, "z") == 45
    assert len(open_cache(s3_url).entries()) == 1
    assert not (tmp_path / ".checkpointing").exists()
