"""A function defined in a notebook cell, mapped over a dask cluster, then hit in the notebook."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.notebook.conftest import NotebookRun


@pytest.mark.slow
def test_cell_function_on_cluster_then_hit_in_kernel(
    run_notebook: Callable[..., NotebookRun],
    dask_client: Any,
    redis_cache_url: str,
    tmp_path: Path,
) -> None:
    """Workers compute a cell-defined function's keys once; the kernel then loads them."""
    counter = tmp_path / "count"
    cells = [
        f"from distributed import Client\nclient = Client({dask_client.scheduler.address!r})",
        "from checkpointing import checkpoint\n"
        f"@checkpoint(cache={redis_cache_url!r})\n"
        "def feature(x):\n"
        f"    with open({str(counter)!r}, 'a') as log:\n"
        "        log.write(f'{x}\\n')\n"
        "    return x * 3",
        "print(sorted(client.gather(client.map(feature, [1, 2, 3, 1], pure=False))))",
        "print(feature(2), feature(4))",
        "print(client.gather(client.map(feature, [4, 4], pure=False)))",
        "client.close()",
    ]
    run = run_notebook(cells, tmp_path)
    assert run.outputs[2:5] == ["[3, 3, 6, 9]\n", "6 12\n", "[12, 12]\n"]
    assert sorted(counter.read_text().split()) == ["1", "2", "3", "4"]
